// precise_plan.cpp: the precise plan's allocation slow path, roots and trace (precise_plan.h,
// docs/design/precise.md .sol.plan, .sol.nursery, .sol.copy, .sol.major, .sol.checked).
#include "gc/precise_plan.h"

#include <algorithm>

#include "gc/collector.h"
#include "gc/copier.h"
#include "gc/env.h"
#include "gc/fatal.h"
#include "gc/page_map.h"
#include "gc/variable_stack.h"

namespace keel::gc {
namespace {

#ifdef KEEL_GC_CHECKED
constexpr bool kChecked = true;
#else
constexpr bool kChecked = false;
#endif

constexpr uint64_t kMinEvacuationBytes = uint64_t{4} << 20;

}  // namespace

PrecisePlan::PrecisePlan(Collector& owner, Heap& heap, Generations& generations, ByteCounts& bytes, bool bind_thread)
    : NonMovingPlan(owner, heap, generations, bytes), nursery_(heap, bind_thread), bytes_(bytes),
      nursery_bytes_(static_cast<size_t>(
          EnvBytes("KEEL_GC_NURSERY", kDefaultNurseryBytes, kMinNurseryBytes, kMaxNurseryBytes))) {}

// A nursery object when the nursery has room, after a collection empties it otherwise. While
// collections cannot run (disabled, or the nursery cannot be had) the object goes to the
// mark-sweep space, where it does not move and is collected like any young object.
void* PrecisePlan::AllocateSlow(size_t bytes, Kind kind, bool counted) {
  if (Moves(kind) && moves_ && bytes <= Nursery::kMaxObjectBytes) {
    if (nursery_.capacity() == 0 && !nursery_.Resize(nursery_bytes_)) {
      return AllocateNonMovingSlow(bytes, kind, counted);
    }
    if (void* p = nursery_.Allocate(bytes, kind, counted)) return p;
    if (owner_.CollectWhenFull()) {
      if (void* p = nursery_.Allocate(bytes, kind, counted)) return p;
    }
  }
  return AllocateNonMovingSlow(bytes, kind, counted);
}

bool PrecisePlan::FindMovingObject(const void* p, void** start, size_t* bytes, Kind* kind) const {
  if (!nursery_.Contains(p)) return false;
  const auto a = reinterpret_cast<uintptr_t>(p);
  bool found = false;
  nursery_.ForEachObject([&](void* obj, uintptr_t header) {
    const auto o = reinterpret_cast<uintptr_t>(obj);
    if (found || a < o || a >= o + Nursery::BytesOf(header)) return;
    found = true;
    *start = obj;
    *bytes = Nursery::BytesOf(header);
    *kind = Nursery::KindOf(header);
  });
  return found;
}

void* PrecisePlan::Forwarded(void* p) const {
  if (nursery_.MayHoldObject(p)) return Nursery::IsForwarded(Nursery::HeaderOf(p)) ? Nursery::ForwardedTo(p) : p;
  return small_.Relocated(&owner_, p);
}

// Each major collection evacuates at most kMinEvacuationBytes or 1/16 of the live bytes,
// whichever is more, so that compaction adds a bounded part to its pause; under KEEL_GC_STRESS
// every sparse page, so that the stress runs move old objects as often as they can
// (.sol.compact).
// An old object that scheme_dont_gc_ptr holds stays where it is: the program may keep its
// address in memory the collector does not see, and once the object is old it does not move
// (gc3m.md; a new one still leaves the nursery at its first collection, as in Racket).
void PrecisePlan::PrepareMajor() {
  NonMovingPlan::PrepareMajor();
  if (!moves_) return;
  evacuating_pages_ = small_.SelectEvacuation(&PrecisePlan::Moves, std::max(kMinEvacuationBytes, bytes_.live / 16),
                                              owner_.stressed());
  if (evacuating_pages_ == 0) return;
  owner_.roots().ForEachPin([this](void* p) {
    PageDesc* d = PageMap::Lookup(reinterpret_cast<uintptr_t>(p));
    if (d != nullptr && d->Owner() == &owner_ && d->state == PageState::kSmall && small_.KeepInPlace(d)) {
      --evacuating_pages_;
    }
  });
}

void PrecisePlan::StopMoving() {
  if (nursery_.used() != 0) Fatal("the master collector stops moving objects while its nursery holds some");
  moves_ = false;
  nursery_.StopInline();
}

// The nursery's objects were allocated since the last collection: they join the cycle's count
// here, as the runs' unused tails leave it.
void PrecisePlan::RetireRuns() {
  nursery_.StopInline();  // nothing is allocated into the nursery this collection empties
  small_.RetireRuns();
  non_moving_allocated_ = bytes_.since_gc;
  bytes_.since_gc += nursery_.used();
}

// Roots are the registered ones only (precise.md .req.roots): the thread's GC_variable_stack
// frames, registered ranges, boxes and pins, and uncollectable objects' contents. The copies'
// runs are retired before the sweep, so their unused tails read as free to it.
void PrecisePlan::Trace(bool major, bool, MarkStack& stack, TraceTotals& totals) {
  // A minor collection marks in place only where there is something young to mark: objects of
  // the non-moving spaces allocated since the last collection. Without them every slot that
  // does not point into the nursery is left alone at once.
  Copier copier(owner_, nursery_, small_, stack, heap_.lo(), heap_.hi(), major || non_moving_allocated_ != 0, kChecked);
  if (!major) evacuating_pages_ = 0;
  if (owner_.scans_thread()) TraceFrameChain(GC_variable_stack, copier);
  owner_.roots().Trace(copier);
  owner_.TraceOwnRoots(copier, major);
  TraceUncollectable(heap_, copier);
  if (!major) {
    const uint64_t t0 = NowNs();
    generations_.ScanWritten(copier);
    totals.barrier_ns += NowNs() - t0;
  }
  copier.Drain();
  owner_.RunWeakPhases(copier, major, false);
  const uint64_t since = bytes_.since_gc;
  small_.RetireRuns();
  bytes_.since_gc = since;  // the copies are not allocation by the program
  totals.marked_objects = copier.marked_objects();
  totals.copied_objects = copier.copied_objects();
  totals.copied_bytes = copier.copied_bytes();
  totals.compacted_objects = copier.compacted_objects();
  totals.compacted_bytes = copier.compacted_bytes();
  totals.evacuated_pages = evacuating_pages_;
}

// The nursery is emptied after the weak callbacks have read its forwarding addresses; the
// checked build poisons what it held (.sol.checked).
void PrecisePlan::Sweep(bool major, bool ages, MinorTotals& totals) {
  SweepNonMoving(major, ages, totals);
  nursery_.Reset(kChecked);
}

void PrecisePlan::Check(Problems& problems, CheckedBytes& counted, bool in_collection) const {
  CheckNonMoving(problems, counted, in_collection);
  nursery_.Check(problems);
}

}  // namespace keel::gc
