// cgc_plan.cpp: the conservative plan's phases and root tracing (cgc_plan.h,
// docs/design/heap.md .sol.spaces, docs/design/roots.md .sol.stacks, .sol.unknown-stack).
#include "gc/cgc_plan.h"

#include "gc/collector.h"
#include "gc/fatal.h"
#include "gc/marker.h"
#include "gc/non_moving.h"
#include "gc/page_map.h"
#include "gc/tracer.h"

namespace keel::gc {
namespace {

// The mutator's part of the stack: from where Collector::CollectNow spilled the registers up to
// the base of the stack it runs on. A stack pointer on no stack Keel knows stops the collection
// before it scans unmapped memory (roots.md .sol.unknown-stack).
void ScanCurrentStack(Collector& c, Tracer& t) {
  uintptr_t top = c.mutator_stack_top();
  // An exited thread's collector has no stack, nor has the master once it serves no thread;
  // other threads run their collections (heap.md .sol.orphans, places.md .sol.master).
  if (top == 0 || !c.scans_thread()) return;
  Range live;
  if (!c.roots().LiveStack(top, &live)) {
    const Roots::StackBounds& b = c.roots().stack_bounds();
    Fatal("collection on a stack Keel does not know (a fiber or coroutine?): stack pointer %p is outside [%p, %p); "
          "call keel_gc_enter_stack before switching to another stack (or scheme_set_stack_bounds)",
          reinterpret_cast<void*>(top), reinterpret_cast<void*>(b.lo), reinterpret_cast<void*>(b.hi));
  }
  t.VisitWords(live.lo, live.hi, true, Tracer::Holder::kRoot);
}

// Old pages whose objects point at objects that stay young are dirty again for the next minor
// collection, which must trace from them (barrier.md .sol.age). Whatever protection they have
// stays: uffd keeps tracking them and an mprotect fault only sets the bit again.
void RememberPages(const Collector& owner, const std::vector<uintptr_t>& pages) {
  for (uintptr_t page : pages) {
    PageDesc* d = PageMap::Lookup(page);
    if (d == nullptr || d->Owner() != &owner) continue;
    Chunk& c = *d->chunk;
    c.SetDirty(c.PageIndex(page));
  }
}

}  // namespace

// Roots, then (minor) the old objects of written pages, then the marker's drain.
void CgcPlan::Trace(bool major, bool ages, MarkStack& stack, TraceTotals& totals) {
  Marker marker(owner_, stack, heap_.lo(), heap_.hi(), owner_.all_interior_pointers(), ages);
  MarkerTracer tracer(marker);
  ScanCurrentStack(owner_, tracer);
  owner_.roots().Trace(tracer);
  owner_.TraceOwnRoots(tracer, major);
  TraceUncollectable(heap_, tracer);
  if (!major) {
    const uint64_t t0 = NowNs();
    generations_.ScanWritten(tracer);
    totals.barrier_ns += NowNs() - t0;
  }
  marker.Drain();
  owner_.RunWeakPhases(tracer, major, ages);
  if (!major) {
    RememberPages(owner_, marker.remembered_pages());
    totals.remembered_pages = marker.remembered_pages().size();
  }
  totals.marked_objects = marker.marked_objects();
}

}  // namespace keel::gc
