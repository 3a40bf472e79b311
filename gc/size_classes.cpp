// size_classes.cpp: compile-time checks of the class table (size_classes.h).
#include "gc/size_classes.h"

namespace keel::gc {
namespace {

constexpr bool MagicIsExact() {
  for (const SizeClass& c : kSizeClasses) {
    for (uint64_t off = 0; off < kPageSize; off += 8) {
      if (((off * c.magic) >> 32) != off / c.size) return false;
    }
  }
  return true;
}
static_assert(MagicIsExact(), "size-class reciprocal must divide exactly within a page");

constexpr bool ClassesFit() {
  for (size_t words = 2; words <= (kMaxSmallSize >> 3); ++words) {
    const SizeClass& c = kSizeClasses[kClassOfWords[words]];
    if (c.size < words * 8) return false;
    if (c.objects == 0 || c.objects > kMaxObjectsPerPage) return false;
  }
  return kSizeClasses[kSizeClassCount - 1].size == kMaxSmallSize;
}
static_assert(ClassesFit(), "every small request must map to a class that holds it");

}  // namespace
}  // namespace keel::gc
