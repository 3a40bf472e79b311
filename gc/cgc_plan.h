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
#include "gc/mark_stack.h"
#include "gc/mark_sweep_space.h"
#include "gc/non_moving.h"
#include "gc/policy.h"
#include "gc/size_classes.h"
#include "gc/space.h"

namespace keel::gc {

class Collector;

// Owned by its collector, which it calls back to collect from the allocation slow path; touched
// only on the collector's thread. The collector runs the shared prologue and epilogue of every
// collection (barrier, records, verification, protection, release) and the plan's phases in
// between, in this order:
//
//   RetireRuns()            the allocation runs' unused tails read as free again
//   PrepareMajor()          a major collection only: old marks fold into the alloc bits
//                           (heap.md .inv.bits)
//   Trace(...)              the stack and registers, registered roots, uncollectable objects,
//                           (minor) the old objects of written pages; the marker drains
//   (collector)             weak callbacks run
//   Sweep(major, ages, t)   frees what is unmarked; a minor one ages or promotes the young
class CgcPlan : public NonMovingPlan {
 public:
  static constexpr bool kMovesObjects = false;
  static constexpr bool Moves(Kind) { return false; }
  static constexpr const char* kName = "cgc";
  // Young survivors of a minor collection may stay young for one more (barrier.md .sol.age).
  static constexpr bool kAgesSurvivors = true;
  // The old generation's share of the heap's growth before a major collection (Policy): aged
  // data and a young generation sized from the old one come on top.
  static constexpr double kOldGrowthShare = Policy::kAgingOldGrowthShare;

  // `bind_thread` is the moving plan's; this plan keeps no thread-local state.
  CgcPlan(Collector& owner, Heap& heap, Generations& generations, ByteCounts& bytes, bool /*bind_thread*/)
      : NonMovingPlan(owner, heap, generations, bytes) {}

  // The inline fast path; nullptr sends the caller to its slow path.
  void* AllocateInline(size_t bytes, Kind kind) {
    if (bytes <= kMaxSmallSize) [[likely]] return small_.AllocateInline(kind, SizeClassFor(bytes));
    return nullptr;
  }
  // The slow path: refills the run, or allocates a big object, collecting when the policy says
  // so or the heap is full. `counted`: every allocation takes this path (stress mode). nullptr
  // when memory cannot be had.
  void* AllocateSlow(size_t bytes, Kind kind, bool counted) { return AllocateNonMovingSlow(bytes, kind, counted); }

  // Nothing is allocated outside the spaces' counts, and nothing moves.
  uint64_t pending_bytes() const { return 0; }
  bool FindMovingObject(const void*, void**, size_t*, Kind*) const { return false; }
  bool MovingObjectSurvived(const void*) const { return false; }
  bool IsMovingObjectStart(const void*) const { return false; }
  bool MovingObjectExtent(const void*, size_t*, Kind*) const { return false; }
  void* Forwarded(void* p) const { return p; }

  void RetireRuns() { small_.RetireRuns(); }
  // No thread-local allocation state to let go of when the collector's thread exits.
  void DetachThread() {}
  // The master's objects never move (places.md .sol.master): nothing here does.
  void StopMoving() {}
  void Trace(bool major, bool ages, MarkStack& stack, TraceTotals& totals);
  void Sweep(bool major, bool ages, MinorTotals& totals) { SweepNonMoving(major, ages, totals); }
  // Every space's invariants (the verifier's part per space).
  void Check(Problems& problems, CheckedBytes& counted, bool in_collection) const {
    CheckNonMoving(problems, counted, in_collection);
  }
};

}  // namespace keel::gc

#endif  // KEEL_GC_CGC_PLAN_H
