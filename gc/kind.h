// kind.h: what an allocation is (pointerful or atomic, interior pointers allowed, collectable).
// Each kind has its own pages, so the page says everything the marker needs to know.
#ifndef KEEL_GC_KIND_H
#define KEEL_GC_KIND_H

#include <cstdint>

namespace keel::gc {

enum class Kind : uint8_t {
  kNormal = 0,          // scanned; only pointers to the start keep it alive (from the heap)
  kAtomic,              // never scanned
  kInterior,            // scanned; interior and one-past-the-end pointers keep it alive
  kAtomicInterior,      // never scanned; interior pointers keep it alive
  kUncollectable,       // scanned, a root, freed only explicitly
  kAtomicUncollectable,  // never scanned, freed only explicitly
  kTagged,               // scanned; a tagged object (its first short is a type tag): a precise
                         // plan traces it with the tag's registered traversers, CGC like kNormal
};
inline constexpr int kKindCount = 7;

constexpr bool IsPointerful(Kind k) {
  return k == Kind::kNormal || k == Kind::kInterior || k == Kind::kUncollectable || k == Kind::kTagged;
}
constexpr bool AllowsInterior(Kind k) { return k == Kind::kInterior || k == Kind::kAtomicInterior; }
constexpr bool IsUncollectable(Kind k) {
  return k == Kind::kUncollectable || k == Kind::kAtomicUncollectable;
}
const char* KindName(Kind k);

}  // namespace keel::gc

#endif  // KEEL_GC_KIND_H
