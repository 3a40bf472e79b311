// cgc_plan.h: the conservative plan (DESIGN D4): a mark-sweep space for small objects and a
// large-object space, neither of which moves anything; stacks, registers, statics and object
// contents are all scanned word by word. Design notes: docs/design/heap.md .sol.spaces,
// docs/design/roots.md.
#ifndef KEEL_GC_CGC_PLAN_H
#define KEEL_GC_CGC_PLAN_H

#include <cstddef>
#include <cstdint>

#include "gc/generations.h"
#include "gc/heap.h"
#include "gc/kind.h"
#include "gc/large_object_space.h"
#include "gc/mark_sweep_space.h"
#include "gc/size_classes.h"
#include "gc/space.h"

namespace keel::gc {

class Collector;
class Tracer;

// Owned by its collector, which it calls back to collect from the allocation slow path; touched
// only on the collector's thread. The collector runs the shared prologue and epilogue of every
// collection (barrier, records, verification, protection, release) and the plan's phases in
// between, in this order:
//
//   RetireRuns()            the allocation runs' unused tails read as free again
//   PrepareMajor()          a major collection only: old marks fold into the alloc bits
//                           (heap.md .inv.bits)
//   TraceRoots(tracer)      the stack and registers, registered roots, uncollectable objects
//   (collector)             a minor collection scans written old pages; the marker drains;
//                           weak callbacks run
//   Sweep(major, ages, t)   frees what is unmarked; a minor one ages or promotes the young
class CgcPlan {
 public:
  static constexpr bool kMovesObjects = false;
  static constexpr const char* kName = "cgc";

  CgcPlan(Collector& owner, Heap& heap, Generations& generations, ByteCounts& bytes)
      : owner_(owner), heap_(heap), generations_(generations), small_(heap, generations, bytes),
        large_(heap, generations, bytes) {}
  CgcPlan(const CgcPlan&) = delete;
  CgcPlan& operator=(const CgcPlan&) = delete;

  // The inline fast path; nullptr sends the caller to its slow path.
  void* AllocateInline(size_t bytes, Kind kind) {
    if (bytes <= kMaxSmallSize) [[likely]] return small_.AllocateInline(kind, SizeClassFor(bytes));
    return nullptr;
  }
  // The slow path: refills the run, or allocates a big object, collecting when the policy says
  // so or the heap is full. `counted`: every allocation takes this path (stress mode). nullptr
  // when memory cannot be had.
  void* AllocateSlow(size_t bytes, Kind kind, bool counted);
  // Objects a collection allocates (none here: nothing moves); never collects.
  void* AllocateWithoutCollecting(size_t bytes, Kind kind) {
    if (bytes <= kMaxSmallSize) return small_.AllocateWithoutCollecting(bytes, kind);
    return large_.Refuses(bytes) ? nullptr : large_.Allocate(bytes, kind, false);
  }
  // GC_free of a live object, already validated by the collector.
  void FreeSmall(PageDesc* d, uint32_t idx) { small_.Free(d, idx); }
  void FreeLarge(PageDesc* d) { large_.Free(d); }

  void RetireRuns() { small_.RetireRuns(); }
  void PrepareMajor();
  void TraceRoots(Tracer& t);
  void Sweep(bool major, bool ages, MinorTotals& totals);

  // Every space's invariants (the verifier's part per space).
  void Check(Problems& problems, CheckedBytes& counted, bool in_collection) const {
    small_.Check(problems, counted, in_collection);
    large_.Check(problems, counted, in_collection);
  }

 private:
  enum class Refilled : uint8_t { kFailed, kPartialPage, kNewPage };
  Refilled Refill(Kind kind, int cls);
  void* AllocateLarge(size_t bytes, Kind kind);

  Collector& owner_;
  Heap& heap_;
  Generations& generations_;
  MarkSweepSpace small_;
  LargeObjectSpace large_;
};

}  // namespace keel::gc

#endif  // KEEL_GC_CGC_PLAN_H
