// variable_stack.h: GC_variable_stack, the calling thread's chain of registered local-variable
// frames in Racket's MZ_GC_REG layout, and CheckVariableStack, the audit of that chain.
// Design note: docs/design/roots.md .sol.frames, .sol.frame-audit.
#ifndef KEEL_GC_VARIABLE_STACK_H
#define KEEL_GC_VARIABLE_STACK_H

#include <cstddef>
#include <cstdint>

#include "gc/roots.h"
#include "schemegc2.h"

// Redeclared with the model of its definition (variable_stack.cpp): the runtime's inline frames
// (runtime/gc_frame.h) then reach it with one thread-pointer-relative access, not a
// __tls_get_addr call. Its first declaration, in schemegc2.h, stays plain for clients.
extern "C" KEEL_API __thread void** GC_variable_stack __attribute__((tls_model("initial-exec")));

namespace keel::gc {

class Collector;

// Walks the calling thread's GC_variable_stack chain and reports each problem with keel::Warn
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
