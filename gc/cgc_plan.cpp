// cgc_plan.cpp: conservative root tracing (cgc_plan.h, docs/design/roots.md .sol.stacks).
#include "gc/cgc_plan.h"

#include <csetjmp>

#include "gc/collector.h"
#include "gc/marker.h"

namespace keel::gc {
namespace {

// Scans from this frame to the stack base. Kept out of line and called after the registers are
// spilled, so every callee-saved register the mutator was using sits in a frame above `here`.
__attribute__((noinline, no_sanitize("address"))) void ScanStackFromHere(Marker& m, uintptr_t base) {
  volatile uintptr_t here_slot = 0;
  auto here = reinterpret_cast<uintptr_t>(&here_slot);
  if (base > here) m.ScanRange(here, base, true);
}

__attribute__((noinline)) void ScanCurrentStack(Collector& c, Marker& m) {
  jmp_buf registers;
  __builtin_unwind_init();
  if (setjmp(registers) == 0) {
    // setjmp stored the callee-saved registers in `registers`, which lives in this frame.
    ScanStackFromHere(m, c.roots().stack_base());
  }
  asm volatile("" : : "r"(&registers) : "memory");
}

void TraceUncollectable(Collector& c, Marker& m) {
  c.heap().ForEachInUse([&m](PageDesc& d) {
    if (!IsUncollectable(d.kind) || !IsPointerful(d.kind)) return;
    for (uint32_t i = 0; i < d.objects; ++i) {
      if (d.IsAllocated(i)) m.ScanRootObject(&d, i);
    }
  });
}

}  // namespace

void CgcPlan::TraceRoots(Collector& c, Marker& m) {
  ScanCurrentStack(c, m);
  c.roots().Trace(m);
  TraceUncollectable(c, m);
}

}  // namespace keel::gc
