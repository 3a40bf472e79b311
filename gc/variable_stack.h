// variable_stack.h: GC_variable_stack, the calling thread's chain of registered local-variable
// frames in Racket's MZ_GC_REG layout, and CheckVariableStack, the audit of that chain.
// Design note: docs/design/roots.md .sol.frames, .sol.frame-audit.
#ifndef KEEL_GC_VARIABLE_STACK_H
#define KEEL_GC_VARIABLE_STACK_H

#include <cstddef>
#include <cstdint>

#include "gc/roots.h"
#include "schemegc2.h"

// Redeclared with the model of its definition (variable_stack.cpp), as schemegc2.h declares it
// for clients: the runtime's inline frames (runtime/gc_frame.h) and a PIC extension's MZ_GC_REG
// reach it with one thread-pointer-relative access, not a __tls_get_addr call.
extern "C" KEEL_API __thread void** GC_variable_stack __attribute__((tls_model("initial-exec")));

namespace keel::gc {

class Collector;
class Tracer;

// No variable lies below this address (Linux keeps the first 64 KiB unmapped: the default
// vm.mmap_min_addr), and no array entry is this long, so the third slot of `0, &array, length`
// tells an array entry from an empty slot followed by variables (.sol.frame-audit).
inline constexpr uintptr_t kMinVariableAddress = uintptr_t{1} << 16;
// A frame with more slots is corrupt: a frame holds one function's locals, a few hundred at most.
inline constexpr intptr_t kMaxFrameSlots = intptr_t{1} << 16;

// One entry of a frame in Racket's layout (.sol.frames): a variable, or an array entry.
struct FrameEntry {
  intptr_t slot;   // the entry's first slot in the frame
  void** first;    // the variable's address, or the array's first element
  intptr_t length; // 1 for a variable, the array's length for an array entry
  bool array;
};

// Calls f(const FrameEntry&) for each entry of `frame`, whose slot count `count` lies in
// [0, kMaxFrameSlots]; reads nothing past the frame. A 0 starts an array entry only when three
// slots remain and the third is a length: non-zero and below kMinVariableAddress. Otherwise it
// is an empty slot (MZ_GC_NO_VAR_IN_REG): `0, &v, 0` is an empty slot, a variable and another
// empty slot, never an empty array that would hide v. Racket BC's walker always reads an array
// there, past the frame's end if need be. Addresses are not checked here.
template <class F>
void ForEachFrameEntry(void** frame, intptr_t count, F&& f) {
  void** slots = frame + 2;
  for (intptr_t i = 0; i < count;) {
    if (slots[i] != nullptr) {
      f(FrameEntry{i, static_cast<void**>(slots[i]), 1, false});
      ++i;
    } else if (count - i >= 3 && slots[i + 2] != nullptr &&
               reinterpret_cast<uintptr_t>(slots[i + 2]) < kMinVariableAddress) {
      f(FrameEntry{i, static_cast<void**>(slots[i + 1]), reinterpret_cast<intptr_t>(slots[i + 2]), true});
      i += 3;
    } else {
      ++i;
    }
  }
}

// The precise plan's roots on a chain of frames (the thread's GC_variable_stack, or a suspended
// stack's, roots.md .sol.fiber-frames): every registered variable and array element is visited
// as a slot (precise.md .req.roots). The walk stops at a frame whose count is corrupt and skips
// an entry whose address is not a variable's; the audit reports both.
void TraceFrameChain(void** head, Tracer& t);

// Walks the calling thread's GC_variable_stack chain, then the chains of its suspended stacks,
// and reports each problem with keel::Warn
// (the first 50 in full); returns their count (.sol.frame-audit). A frame's slot count bounds
// every read of it. Problems: a frame that lies on the thread's stack below live_stack_lo, the
// lowest live address of that stack (registered by a function that returned without
// MZ_GC_UNREG; the walk stops there); a registered variable that holds a pointer into c's heap
// that is not inside an allocated object; a slot that is no variable's address; a corrupt count
// or chain (the walk stops). Stale frames are looked for only when live_stack_lo lies on the
// stack c knows for this thread (not on a fiber's). Uses only c's queries; touches nothing.
size_t CheckVariableStack(const Collector& c, uintptr_t live_stack_lo);

}  // namespace keel::gc

#endif  // KEEL_GC_VARIABLE_STACK_H
