// cgc_plan.cpp: conservative root tracing (cgc_plan.h, docs/design/roots.md .sol.stacks,
// .sol.unknown-stack).
#include "gc/cgc_plan.h"

#include "gc/collector.h"
#include "gc/fatal.h"
#include "gc/marker.h"

namespace keel::gc {
namespace {

// The mutator's part of the stack: from where Collector::CollectNow spilled the registers up to
// the base of the stack it runs on. A stack pointer on no stack Keel knows stops the collection
// before it scans unmapped memory (roots.md .sol.unknown-stack).
void ScanCurrentStack(Collector& c, Marker& m) {
  uintptr_t top = c.mutator_stack_top();
  // An exited thread's collector has no stack; another thread runs its collections
  // (heap.md .sol.orphans).
  if (top == 0 || c.orphan()) return;
  Range live;
  if (!c.roots().LiveStack(top, &live)) {
    const Roots::StackBounds& b = c.roots().stack_bounds();
    Fatal("collection on a stack Keel does not know (a fiber or coroutine?): stack pointer %p is outside [%p, %p); "
          "call keel_gc_enter_stack before switching to another stack (or scheme_set_stack_bounds)",
          reinterpret_cast<void*>(top), reinterpret_cast<void*>(b.lo), reinterpret_cast<void*>(b.hi));
  }
  m.ScanRange(live.lo, live.hi, true);
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
