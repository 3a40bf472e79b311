// precise_plan.h: the precise, moving, generational plan of libkeel_3m (DESIGN D3): a copying
// nursery for the objects that may move, the mark-sweep space as the old generation and home of
// the objects that never move, and the large-object space. Roots are only what the program
// registered; no stack is scanned. Design note: docs/design/precise.md.
#ifndef KEEL_GC_PRECISE_PLAN_H
#define KEEL_GC_PRECISE_PLAN_H

#include <cstddef>
#include <cstdint>

#include "gc/generations.h"
#include "gc/heap.h"
#include "gc/kind.h"
#include "gc/large_object_space.h"
#include "gc/mark_stack.h"
#include "gc/mark_sweep_space.h"
#include "gc/non_moving.h"
#include "gc/nursery.h"
#include "gc/policy.h"
#include "gc/size_classes.h"
#include "gc/space.h"

namespace keel::gc {

class Collector;

// Owned by its collector, which it calls back to collect from the allocation slow path; touched
// only on the collector's thread. The collector runs the plan's phases in the order CgcPlan
// lists; here they mean (precise.md .sol.plan, .sol.copy, .sol.major):
//
//   RetireRuns()            the runs' unused tails read as free; the nursery's objects count as
//                           allocated since the last collection
//   PrepareMajor()          a major collection only: every old object is a candidate again,
//                           and sparse pages are chosen for evacuation (.sol.compact)
//   Trace(...)              roots, written old pages (minor), then the copier's drain: nursery
//                           survivors are copied into the mark-sweep space, non-moving objects
//                           marked in place
//   (collector)             weak callbacks, while the nursery still holds forwarding addresses
//   Sweep(major, ages, t)   the non-moving spaces as in CGC; the nursery is emptied
class PrecisePlan : public NonMovingPlan {
 public:
  static constexpr bool kMovesObjects = true;
  static constexpr const char* kName = "3m";
  // Every survivor of a collection is old: the copier keeps no remembered set, so an object
  // that stayed young could be reached only through old objects no minor collection scans.
  static constexpr bool kAgesSurvivors = false;
  // The old generation's share of the heap's growth before a major collection (Policy): all of
  // it, the only young data being the nursery, whose fixed size comes on top.
  static constexpr double kOldGrowthShare = Policy::kNurseryOldGrowthShare;
  // The nursery's size (precise.md .sol.nursery); KEEL_GC_NURSERY sets another, within
  // [kMinNurseryBytes, kMaxNurseryBytes].
  static constexpr size_t kDefaultNurseryBytes = size_t{4} << 20;
  static constexpr size_t kMinNurseryBytes = size_t{256} << 10;
  static constexpr size_t kMaxNurseryBytes = size_t{1} << 30;

  // `bind_thread`: the nursery's cursor lives in the constructing thread's keel_nursery (the
  // inline allocation of scheme.h); otherwise in the plan until a thread adopts it.
  PrecisePlan(Collector& owner, Heap& heap, Generations& generations, ByteCounts& bytes, bool bind_thread);

  // Whether objects of `kind` start in the nursery: the kinds that may move. Allow-interior
  // and uncollectable objects never move (precise.md .req.never-move).
  static constexpr bool Moves(Kind kind) {
    return kind == Kind::kNormal || kind == Kind::kAtomic || kind == Kind::kTagged;
  }

  // The inline fast path; nullptr sends the caller to its slow path.
  void* AllocateInline(size_t bytes, Kind kind) {
    if (Moves(kind)) [[likely]] return nursery_.AllocateInline(bytes, kind);
    if (bytes <= kMaxSmallSize) return small_.AllocateInline(kind, SizeClassFor(bytes));
    return nullptr;
  }
  // The slow path: a nursery object after a minor collection when the nursery is full (or in
  // the mark-sweep space, not moving, while collections are disabled); big and non-moving
  // objects as CGC allocates them. `counted`: every allocation takes this path (stress mode).
  void* AllocateSlow(size_t bytes, Kind kind, bool counted);

  // Bytes allocated in the nursery since the last collection (not yet in ByteCounts).
  uint64_t pending_bytes() const { return nursery_.used(); }
  // A nursery object holding p: its start, size and kind. False when p is not in the nursery or
  // lies in no object (the nursery is walked: for queries, not for hot paths).
  bool FindMovingObject(const void* p, void** start, size_t* bytes, Kind* kind) const;
  // The size and kind of the nursery object starting at p, from its header.
  bool MovingObjectExtent(const void* p, size_t* bytes, Kind* kind) const {
    if (!IsMovingObjectStart(p)) return false;
    const uintptr_t header = Nursery::HeaderOf(const_cast<void*>(p));
    *bytes = Nursery::BytesOf(header);
    *kind = Nursery::KindOf(header);
    return true;
  }
  // Whether p is a nursery object's start, by its header (Nursery::IsObjectHeader: no walk).
  bool IsMovingObjectStart(const void* p) const {
    return nursery_.MayHoldObject(p) && nursery_.IsObjectHeader(p, Nursery::HeaderOf(const_cast<void*>(p)));
  }
  // During the weak callbacks: whether the nursery object at p survived (was copied).
  bool MovingObjectSurvived(const void* p) const {
    return nursery_.MayHoldObject(p) && Nursery::IsForwarded(Nursery::HeaderOf(const_cast<void*>(p)));
  }
  // During the weak callbacks: where the object at p lives now.
  void* Forwarded(void* p) const;

  void RetireRuns();
  // The collector's thread is exiting: the nursery stops using its thread-local cursor.
  void DetachThread() { nursery_.DetachThread(); }
  // The master collector's objects never move once it serves no thread (places.md .sol.master):
  // from now on every object is allocated in the non-moving spaces and no major collection
  // evacuates pages. The nursery must be empty (after a major collection).
  void StopMoving();
  // NonMovingPlan's, then the choice of the pages this major collection evacuates.
  void PrepareMajor();
  void Trace(bool major, bool ages, MarkStack& stack, TraceTotals& totals);
  void Sweep(bool major, bool ages, MinorTotals& totals);
  void Check(Problems& problems, CheckedBytes& counted, bool in_collection) const;

  const Nursery& nursery() const { return nursery_; }

 private:
  Nursery nursery_;
  ByteCounts& bytes_;
  size_t nursery_bytes_;  // what the nursery is sized to when first used
  uint64_t non_moving_allocated_ = 0;  // bytes of the non-moving spaces allocated this cycle
  size_t evacuating_pages_ = 0;        // chosen by this collection's PrepareMajor
  bool moves_ = true;                  // StopMoving
};

}  // namespace keel::gc

#endif  // KEEL_GC_PRECISE_PLAN_H
