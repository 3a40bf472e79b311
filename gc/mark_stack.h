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

// The working state of the stack while a marking loop runs: the loop keeps it in a local, which
// the compiler holds in registers. Through the stack object every push and pop would store and
// reload `top` in memory, a chain of store-to-load delays through the whole drain
// (docs/design/marking.md .sol.stack). Nothing but the loop that took it touches the stack
// until it is put back.
struct MarkCursor {
  MarkEntry* entries;
  size_t top;
  size_t capacity;
};

class MarkStack {
 public:
  MarkStack() = default;
  ~MarkStack();
  MarkStack(const MarkStack&) = delete;
  MarkStack& operator=(const MarkStack&) = delete;

  MarkCursor Take() const { return MarkCursor{entries_, top_, capacity_}; }
  void Put(MarkCursor c) { top_ = c.top; }

  // By value in and out, so that the cursor's address never escapes the loop.
  void Push(MarkCursor& c, uintptr_t start, uintptr_t end) {
    if (c.top == c.capacity) [[unlikely]] c = Grow(c);
    c.entries[c.top++] = MarkEntry{start, end};
  }
  static bool Pop(MarkCursor& c, MarkEntry* e) {
    if (c.top == 0) return false;
    *e = c.entries[--c.top];
    return true;
  }
  size_t capacity() const { return capacity_; }
  // Gives back memory above the initial capacity once a collection is over.
  void Trim();

 private:
  MarkCursor Grow(MarkCursor c);

  MarkEntry* entries_ = nullptr;
  size_t top_ = 0;
  size_t capacity_ = 0;
};

}  // namespace keel::gc

#endif  // KEEL_GC_MARK_STACK_H
