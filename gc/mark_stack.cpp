// mark_stack.cpp: growth and trimming of the mark stack (mark_stack.h).
#include "gc/mark_stack.h"

#include <sys/mman.h>

#include "gc/fatal.h"

namespace keel::gc {
namespace {
// 64K entries (1 MiB): a balanced tree of any size or a long list needs far less, since marking
// pushes children only as it goes.
constexpr size_t kInitialEntries = size_t{1} << 16;
}  // namespace

MarkStack::~MarkStack() {
  if (entries_ != nullptr) munmap(entries_, capacity_ * sizeof(MarkEntry));
}

MarkCursor MarkStack::Grow(MarkCursor c) {
  top_ = c.top;
  size_t new_capacity = capacity_ == 0 ? kInitialEntries : capacity_ * 2;
  void* p;
  if (entries_ == nullptr) {
    p = mmap(nullptr, new_capacity * sizeof(MarkEntry), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  } else {
    p = mremap(entries_, capacity_ * sizeof(MarkEntry), new_capacity * sizeof(MarkEntry), MREMAP_MAYMOVE);
  }
  if (p == MAP_FAILED) {
    Fatal("out of memory growing the mark stack to %zu entries", new_capacity);
  }
  entries_ = static_cast<MarkEntry*>(p);
  capacity_ = new_capacity;
  return Take();
}

void MarkStack::Trim() {
  if (capacity_ <= kInitialEntries) return;
  void* p = mremap(entries_, capacity_ * sizeof(MarkEntry), kInitialEntries * sizeof(MarkEntry), 0);
  if (p != MAP_FAILED) {
    entries_ = static_cast<MarkEntry*>(p);
    capacity_ = kInitialEntries;
    if (top_ > capacity_) top_ = capacity_;
  }
}

}  // namespace keel::gc
