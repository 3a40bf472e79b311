// gc_frame.h: GcFrame, the runtime's registration of C++ locals on GC_variable_stack, in
// Racket's MZ_GC_DECL_REG / MZ_GC_REG layout (docs/design/roots.md .sol.frames).
#ifndef KEEL_RUNTIME_GC_FRAME_H
#define KEEL_RUNTIME_GC_FRAME_H

#include <cstddef>
#include <cstdint>

#include "gc/variable_stack.h"

namespace keel::rt {

// Registers pointer variables that hold heap pointers across a call that may allocate (and so
// collect), so that a precise, moving collector finds and updates them; the conservative one
// ignores the chain. `GcFrame frame(car, cdr);` pushes a frame on the calling thread's
// GC_variable_stack with one store and pops it at scope exit:
//
//   [0] the previous GC_variable_stack   [1] N   [2..N+1] &var for each variable
//
// Rules (.sol.frames):
// - Runtime code only, on the thread that owns the collector (a place's thread), and only as a
//   local or as a member of an object that lives on the stack: frames nest strictly.
// - Each registered variable is declared before the frame, so it outlives it. A member frame
//   comes after the members it registers.
// - Register whole-object pointers (an object's start), never interior ones (SCHEME_SYM_VAL):
//   recompute those from a registered object after each call that may allocate.
// - An escape (scheme_signal_error, out of memory) longjmps over the destructor; keel_longjmp
//   restores GC_variable_stack from the handler's scheme_setjmp instead, dropping the frame.
template <size_t N>
class GcFrame {
 public:
  template <class... T>
  explicit GcFrame(T*&... vars)
      : slots_{GC_variable_stack, reinterpret_cast<void*>(static_cast<intptr_t>(N)),
               static_cast<void*>(&vars)...} {
    static_assert(sizeof...(T) == N && N > 0, "one slot per registered variable");
    GC_variable_stack = slots_;
  }
  ~GcFrame() { GC_variable_stack = static_cast<void**>(slots_[0]); }

  GcFrame(const GcFrame&) = delete;
  GcFrame& operator=(const GcFrame&) = delete;

 private:
  void* slots_[N + 2];
};

template <class... T>
GcFrame(T*&...) -> GcFrame<sizeof...(T)>;

// Registers `count` consecutive pointer variables from `first` (an array, MZ_GC_ARRAY_VAR_IN_REG's
// layout: 0, first, count), under the same rules as GcFrame; the array must not move or shrink
// while the frame lives.
class GcArrayFrame {
 public:
  GcArrayFrame(void** first, size_t count)
      : slots_{GC_variable_stack, reinterpret_cast<void*>(intptr_t{3}), nullptr, first,
               reinterpret_cast<void*>(static_cast<intptr_t>(count))} {
    GC_variable_stack = slots_;
  }
  ~GcArrayFrame() { GC_variable_stack = static_cast<void**>(slots_[0]); }
  GcArrayFrame(const GcArrayFrame&) = delete;
  GcArrayFrame& operator=(const GcArrayFrame&) = delete;

 private:
  void* slots_[5];
};

}  // namespace keel::rt

#endif  // KEEL_RUNTIME_GC_FRAME_H
