// mark_sweep_space.h: small objects in size-class pages, allocated by bumping through runs of
// free slots, marked in the page descriptors' bitmaps and swept in place; never moved.
// Design note: docs/design/heap.md (.sol.spaces, .sol.sweep, .inv.runs, .inv.uncollectable).
#ifndef KEEL_GC_MARK_SWEEP_SPACE_H
#define KEEL_GC_MARK_SWEEP_SPACE_H

#include <cstddef>
#include <cstdint>
#include <vector>

#include "gc/generations.h"
#include "gc/heap.h"
#include "gc/kind.h"
#include "gc/size_classes.h"
#include "gc/space.h"

namespace keel::gc {

// The bump region of one (kind, size class): objects are carved from [cur, end). limit is end,
// or cur where every allocation must take the slow path (stress mode, uncollectable kinds,
// which are counted one by one).
struct AllocRun {
  uintptr_t cur = 0;
  uintptr_t limit = 0;
  uintptr_t end = 0;
  PageDesc* page = nullptr;
};

// Owned by the plan; touched only on the collector's thread. Invariants (checked by Check):
// a page is on its (kind, class) partial list exactly when its on_partial flag is set, and the
// lists are in the order pages were appended; a page with aged objects is on the young list; an
// uncollectable page is never empty between collections, and is listed when it has free slots.
class MarkSweepSpace {
 public:
  MarkSweepSpace(Heap& heap, Generations& generations, ByteCounts& bytes)
      : heap_(heap), generations_(generations), bytes_(bytes) {}
  MarkSweepSpace(const MarkSweepSpace&) = delete;
  MarkSweepSpace& operator=(const MarkSweepSpace&) = delete;

  // The inline fast path: a slot of class `cls` from the run of (kind, cls), or nullptr when
  // the run is used up (or every allocation of it is counted).
  void* AllocateInline(Kind kind, int cls) {
    AllocRun& r = runs_[static_cast<int>(kind)][cls];
    uintptr_t p = r.cur;
    uintptr_t next = p + kSizeClasses[cls].size;
    if (next <= r.limit) [[likely]] {
      r.cur = next;
      return reinterpret_cast<void*>(p);
    }
    return nullptr;
  }
  // Whether the run of (kind, cls) has a slot left (the slow path's test).
  bool RunHasRoom(Kind kind, int cls) const {
    const AllocRun& r = runs_[static_cast<int>(kind)][cls];
    return r.cur + kSizeClasses[cls].size <= r.end;
  }
  // Takes the next slot of a run that has room; `counted`: every allocation of the run takes
  // the slow path from now on (stress mode).
  void* TakeSlot(Kind kind, int cls, bool counted);
  // Drops the run of (kind, cls) before a refill (a collection may come in between, which
  // retires every run anyway).
  void DropRun(Kind kind, int cls) { runs_[static_cast<int>(kind)][cls] = AllocRun{}; }
  // Claims the next run of free slots of a partly live page of (kind, cls), in address order.
  // False when no listed page has one.
  bool ClaimPartial(Kind kind, int cls, bool by_mutator);
  // A fresh page for (kind, cls) with its whole area claimed as the run; never collects.
  // nullptr when the heap cannot have a page. `by_mutator`: see Generations::Open.
  PageDesc* ClaimNewPage(Kind kind, int cls, bool by_mutator);
  // A slot from the run, a partly live page or a new page, without ever collecting: the path
  // for objects that a collection itself allocates (a moving plan's promotion). nullptr when
  // the heap cannot have a page.
  void* AllocateWithoutCollecting(size_t bytes, Kind kind);

  // A slot for an object that a collection copies here, marked already so that the sweep keeps
  // it (heap.md .inv.bits); never collects. nullptr when the heap cannot have a page. The copy
  // runs are the collection's own: the plan retires them before the sweep.
  void* AllocateMarked(size_t bytes, Kind kind) {
    const int cls = SizeClassFor(bytes);
    AllocRun& r = runs_[static_cast<int>(kind)][cls];
    uintptr_t p = r.cur;
    if (p + kSizeClasses[cls].size > r.end) [[unlikely]] {
      if (!RefillWithoutCollecting(kind, cls)) return nullptr;
      p = r.cur;
    }
    r.cur = p + kSizeClasses[cls].size;
    PageDesc* d = r.page;
    const uint32_t idx = d->IndexOf(p - d->start);
    d->bits[idx >> 6].mark |= uint64_t{1} << (idx & 63);
    return reinterpret_cast<void*>(p);
  }

  // GC_free of slot idx of small page d (a live allocated object's start).
  void Free(PageDesc* d, uint32_t idx);

  // --- compaction (docs/design/precise.md .sol.compact) -----------------------------------------
  // Before a major collection's trace, after RetireRuns and PrepareMajor: when the pages of the
  // kinds `movable` accepts hold enough free space on sparse pages, picks the sparsest of them
  // as evacuation candidates, up to `max_live_bytes` of objects the last sweeps left on them.
  // Each gets a forwarding table and leaves its partial list, so no copy lands on it; the
  // tracer copies every object on it that a slot reaches (Copier), and SweepMajor frees it.
  // Returns the pages chosen (0: the space is not fragmented enough to pay). `eager` (stress
  // mode): every sparse page is chosen, however few, and the budget is ignored.
  size_t SelectEvacuation(bool (*movable)(Kind), uint64_t max_live_bytes, bool eager);
  bool evacuating() const { return evacuating_ != 0; }
  // Where the old object at p of `owner`'s heap lives now: its copy when this collection
  // evacuated it already, else p (GC_resolve and the weak callbacks ask).
  void* Relocated(const Collector* owner, void* p) const;
  // Takes page d (chosen by SelectEvacuation) back out of this collection's evacuation: its
  // objects stay and are marked in place. False when d was not chosen.
  bool KeepInPlace(PageDesc* d);

  // Gives back the unused tail of every run before marking (heap.md .inv.runs).
  void RetireRuns();
  // Sweeps every page after a major collection's marking; sets bytes.live to the survivors.
  void SweepMajor();
  // Sweeps the pages allocated into or aged since the last collection (barrier.md .sol.minor).
  void SweepYoung(bool ages, MinorTotals& totals);

  void Check(Problems& problems, CheckedBytes& counted, bool in_collection) const;

 private:
  // Protected pages the allocator opens with one call when it takes the first of them: the
  // page and those after it in memory that it takes next (barrier.md .sol.alloc).
  static constexpr size_t kOpenAhead = 8;
  void ClaimRun(AllocRun& r, PageDesc* page, uint32_t from, uint32_t to, bool by_mutator);
  // A new run for (kind, cls) from a partly free page or a new one; false when the heap has none.
  bool RefillWithoutCollecting(Kind kind, int cls);
  void NoteYoung(PageDesc* d) {
    if (!d->young_listed) {
      d->young_listed = true;
      young_.push_back(d);
    }
  }
  void PartialAppend(PageDesc* d);
  // Frees page d's forwarding table: it leaves this collection's evacuation.
  void DropForwarding(PageDesc* d);
  void PartialRemove(PageDesc* d);
  void ReuseUncollectableSlot(PageDesc* d, uint32_t idx);
  void SweepUncollectable(PageDesc* d);
  void CheckPage(const PageDesc& d, Problems& problems, CheckedBytes& counted, bool in_collection,
                 size_t* flagged_partial) const;
  void CheckPartialList(int k, int cls, Problems& problems, size_t* listed) const;

  Heap& heap_;
  Generations& generations_;
  ByteCounts& bytes_;
  AllocRun runs_[kKindCount][kSizeClassCount];
  PageDesc* partial_[kKindCount][kSizeClassCount] = {};  // pages with free slots, append order
  PageDesc* partial_tail_[kKindCount][kSizeClassCount] = {};
  std::vector<PageDesc*> young_;  // pages allocated into since the last collection, or aged
  size_t evacuating_ = 0;         // pages with a forwarding table until the sweep frees them
};

}  // namespace keel::gc

#endif  // KEEL_GC_MARK_SWEEP_SPACE_H
