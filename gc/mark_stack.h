// mark_stack.h: the grey set of a marking pass: object ranges still to scan. Grows by remapping
// (no recursion, no overflow rescans); its memory is kept between collections and trimmed when
// a collection needed far more than usual. Design note: docs/design/marking.md .sol.stack.
#ifndef KEEL_GC_MARK_STACK_H
#define KEEL_GC_MARK_STACK_H

#include <cstddef>
#include <cstdint>

namespace keel::gc {

struct MarkEntry {
  uintptr_t start;
  uintptr_t end;
};

class MarkStack {
 public:
  MarkStack() = default;
  ~MarkStack();
  MarkStack(const MarkStack&) = delete;
  MarkStack& operator=(const MarkStack&) = delete;

  void Push(uintptr_t start, uintptr_t end) {
    if (top_ == capacity_) [[unlikely]] Grow();
    entries_[top_++] = MarkEntry{start, end};
  }
  bool Pop(MarkEntry* e) {
    if (top_ == 0) return false;
    *e = entries_[--top_];
    return true;
  }
  bool empty() const { return top_ == 0; }
  size_t capacity() const { return capacity_; }
  // Gives back memory above the initial capacity once a collection is over.
  void Trim();

 private:
  void Grow();

  MarkEntry* entries_ = nullptr;
  size_t top_ = 0;
  size_t capacity_ = 0;
};

}  // namespace keel::gc

#endif  // KEEL_GC_MARK_STACK_H
