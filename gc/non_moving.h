// non_moving.h: what both plans do with the spaces that never move objects (the mark-sweep and
// large-object spaces): the allocation slow path (run refills from partly free pages and new
// pages, big objects, and the collections the policy or a full heap calls for), the major
// collection's preparation of the mark bits, and the sweeps.
// Design notes: docs/design/heap.md .sol.spaces, docs/design/barrier.md .sol.refill.
#ifndef KEEL_GC_NON_MOVING_H
#define KEEL_GC_NON_MOVING_H

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

// The base of both plans: the spaces that never move objects and what every plan does with
// them. Owned (as part of its plan) by a collector; touched only on the collector's thread.
class NonMovingPlan {
 public:
  NonMovingPlan(Collector& owner, Heap& heap, Generations& generations, ByteCounts& bytes)
      : owner_(owner), heap_(heap), generations_(generations), small_(heap, generations, bytes),
        large_(heap, generations, bytes) {}
  NonMovingPlan(const NonMovingPlan&) = delete;
  NonMovingPlan& operator=(const NonMovingPlan&) = delete;

  // Objects a collection allocates (a moving plan's copies); never collects. nullptr when the
  // heap cannot have the memory.
  void* AllocateWithoutCollecting(size_t bytes, Kind kind) {
    if (bytes <= kMaxSmallSize) return small_.AllocateWithoutCollecting(bytes, kind);
    return large_.Refuses(bytes) ? nullptr : large_.Allocate(bytes, kind, false);
  }
  // An atomic object of `bytes` bytes in the run the heap has just adopted (Heap::AdoptRun).
  void* AdoptLarge(PageDesc* d, size_t bytes) { return large_.Adopt(d, bytes); }
  // GC_free of a live object, already validated by the collector.
  void FreeSmall(PageDesc* d, uint32_t idx) { small_.Free(d, idx); }
  void FreeLarge(PageDesc* d) { large_.Free(d); }

  // A major collection starts from "everything allocated is a candidate": old marks fold into
  // the alloc bits and are cleared, and ages are forgotten: every survivor of a major collection
  // is old (heap.md .inv.bits). Uncollectable pages keep their state.
  void PrepareMajor();

 protected:
  ~NonMovingPlan() = default;

  // An object of `bytes` bytes of `kind` from the run of its size class (refilled first when
  // used up) or, when bigger than a size class, from the large-object space; collects when the
  // policy says so or the heap is full. `counted`: every allocation of the run takes the slow
  // path (stress mode). nullptr when memory cannot be had.
  void* AllocateNonMovingSlow(size_t bytes, Kind kind, bool counted);
  // Frees what the trace left unmarked: every object after a major collection, the young ones
  // after a minor one (which ages or promotes the survivors, barrier.md .sol.minor). The
  // large-object space adds its survivors to the live bytes the mark-sweep space counted.
  void SweepNonMoving(bool major, bool ages, MinorTotals& totals);
  // Both spaces' invariants (the verifier's part per space).
  void CheckNonMoving(Problems& problems, CheckedBytes& counted, bool in_collection) const {
    small_.Check(problems, counted, in_collection);
    large_.Check(problems, counted, in_collection);
  }

  Collector& owner_;
  Heap& heap_;
  Generations& generations_;
  MarkSweepSpace small_;
  LargeObjectSpace large_;

 private:
  enum class Refilled : uint8_t { kFailed, kPartialPage, kNewPage };
  Refilled Refill(Kind kind, int cls);
  void* AllocateLarge(size_t bytes, Kind kind);
};

}  // namespace keel::gc

#endif  // KEEL_GC_NON_MOVING_H
