// cgc_plan.cpp: conservative root tracing (cgc_plan.h, docs/design/roots.md .sol.stacks).
#include "gc/cgc_plan.h"

#include "gc/collector.h"
#include "gc/marker.h"

namespace keel::gc {
namespace {

// The mutator's part of the stack: from where Collector::CollectNow spilled the registers up to
// the stack base.
void ScanCurrentStack(Collector& c, Marker& m) {
  uintptr_t top = c.mutator_stack_top();
  uintptr_t base = c.roots().stack_base();
  if (top != 0 && base > top) m.ScanRange(top, base, true);
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
