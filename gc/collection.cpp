// collection.cpp: one stop-the-world collection, minor or major: retire allocation runs, mark
// from the plan's roots (and, for a minor one, from dirty old pages), run weak callbacks,
// sweep bitmaps, protect old pages, size the next cycle, give memory back, record it.
// Design notes: docs/design/heap.md (.sol.sweep, .sol.policy), docs/design/barrier.md.
#include <pthread.h>
#include <signal.h>

#include <cstdio>

#include "gc/collector.h"
#include "gc/fatal.h"
#include "gc/marker.h"
#include "gc/orphanage.h"
#include "gc/os_memory.h"
#include "gc/page_map.h"
#include "gc/plan.h"

namespace keel::gc {

void Collector::Collect(keel_gc_reason reason) {
  if (!MayCollectNow()) return;
  CollectNow(reason, true);
}

void Collector::CollectMinor() {
  if (!MayCollectNow()) return;
  CollectNow(KEEL_GC_REASON_EXPLICIT, false);
}

// Gives back the unused tail of every bump region: its slots were marked allocated when the run
// was claimed (heap.md .inv.runs) and must read as free while marking.
void Collector::RetireRuns() {
  for (auto& per_kind : runs_) {
    for (AllocRun& r : per_kind) {
      if (r.page != nullptr && r.cur < r.end) {
        PageDesc* d = r.page;
        uint32_t from = d->IndexOf(r.cur - d->start);
        uint32_t to = d->IndexOf(r.end - d->start);
        d->ClearAllocRange(from, to);
        bytes_since_gc_ -= r.end - r.cur;
      }
      r = AllocRun{};
    }
  }
}

// A major collection starts from "everything allocated is a candidate": old marks fold into the
// alloc bits and are cleared, and ages are forgotten: every survivor of a major collection is
// old (heap.md .inv.bits). Uncollectable pages keep their state.
void Collector::PrepareMajor() {
  heap_.ForEachInUse([](PageDesc& d) {
    size_t words = d.state == PageState::kSmall ? (d.objects + 63u) / 64u : 1u;
    for (size_t w = 0; w < words; ++w) {
      d.bits[w].alloc |= d.bits[w].mark;
      d.bits[w].mark = 0;
      d.bits[w].age = 0;
    }
  });
}

void Collector::ResetYoungLists() {
  for (PageDesc* d : young_pages_) d->young_listed = false;
  young_pages_.clear();
  young_big_.clear();
}

void Collector::Sweep() {
  for (auto& per_kind : partial_) {
    for (PageDesc*& head : per_kind) head = nullptr;
  }
  for (auto& per_kind : partial_tail_) {
    for (PageDesc*& tail : per_kind) tail = nullptr;
  }
  ResetYoungLists();
  uint64_t live = 0;
  for (Chunk* c : heap_.chunks()) {
    if (c->dedicated) continue;
    for (size_t i = 0; i < c->pages; ++i) {
      PageDesc& d = c->descs[i];
      if (d.state != PageState::kSmall) continue;
      size_t words = (d.objects + 63u) / 64u;
      d.on_partial = false;
      d.next = d.prev = nullptr;
      if (IsUncollectable(d.kind)) {  // roots, freed only by GC_free (counted apart)
        SweepUncollectable(&d);
        continue;
      }
      size_t marked = d.CountMarked();
      if (marked == 0) {
        heap_.FreePage(&d);
        continue;
      }
      for (size_t w = 0; w < words; ++w) d.bits[w].alloc = 0;
      d.live_objects = static_cast<uint16_t>(marked);
      d.needs_zeroing = true;
      d.scan_cursor = 0;
      live += marked * d.obj_size;
      if (marked < d.objects) PartialAppend(&d);
    }
  }
  live_bytes_ = live;
  SweepBig();
}

// Retiring the run may have left free slots, or nothing, on the page (heap.md
// .inv.uncollectable).
void Collector::SweepUncollectable(PageDesc* d) {
  size_t used = d->CountAllocated();
  if (used == 0) {
    if (d->on_partial) PartialRemove(d);
    heap_.FreePage(d);
    return;
  }
  d->needs_zeroing = true;
  d->scan_cursor = 0;
  if (used < d->objects && !d->on_partial) PartialAppend(d);
}

void Collector::SweepBig() {
  PageDesc* d = big_objects_;
  while (d != nullptr) {
    PageDesc* next = d->next;
    SlotBits& b = d->bits[0];
    if (IsUncollectable(d->kind)) {
      // roots, freed only by GC_free (counted apart)
    } else if ((b.mark & 1) == 0) {
      FreeBig(d);
    } else {
      b.alloc = 0;
      live_bytes_ += d->big_bytes;
    }
    d = next;
  }
}

// A minor sweep touches only what was allocated or aged since the last collection: old objects
// keep their marks, young survivors age (`ages`) or become old, aged survivors become old, dead
// slots become free (barrier.md .sol.minor, .sol.age). Pages and big objects that hold aged
// objects stay on the young lists for the next minor sweep. Returns the bytes that became old;
// *aged_survivors gets the bytes of them that had been aged.
uint64_t Collector::SweepYoung(bool ages, uint64_t* aged_survivors) {
  uint64_t promoted = 0;
  uint64_t survivors = 0;
  uint64_t aged = 0;
  size_t kept = 0;
  for (PageDesc* d : young_pages_) {
    d->young_listed = false;
    if (IsUncollectable(d->kind)) {  // allocated objects stay allocated
      SweepUncollectable(d);
      continue;
    }
    PageDesc::MinorCounts n = d->SweepMinor(ages);
    promoted += uint64_t{n.promoted} * d->obj_size;
    survivors += uint64_t{n.aged_survivors} * d->obj_size;
    aged += uint64_t{n.aged} * d->obj_size;
    d->live_objects = static_cast<uint16_t>(n.old);
    d->needs_zeroing = true;
    d->scan_cursor = 0;
    const uint32_t used = n.old + n.aged;
    if (used == 0) {
      if (d->on_partial) PartialRemove(d);
      heap_.FreePage(d);
      continue;
    }
    if (used < d->objects && !d->on_partial) PartialAppend(d);
    if (n.aged > 0) {
      d->young_listed = true;
      young_pages_[kept++] = d;
    }
  }
  young_pages_.resize(kept);
  kept = 0;
  for (PageDesc* d : young_big_) {
    SlotBits& b = d->bits[0];
    if (IsUncollectable(d->kind)) continue;
    if ((b.mark & 1) == 0) {
      FreeBig(d);
    } else if ((b.age & 1) != 0 || !ages) {
      if ((b.age & 1) != 0) survivors += d->big_bytes;
      b = SlotBits{0, 1, 0};
      promoted += d->big_bytes;
    } else {
      b = SlotBits{1, 0, 1};
      aged += d->big_bytes;
      young_big_[kept++] = d;
    }
  }
  young_big_.resize(kept);
  aged_bytes_ = aged;
  *aged_survivors = survivors;
  return promoted;
}

// Old pages whose objects point at objects that stay young are dirty again for the next minor
// collection, which must trace from them (barrier.md .sol.age). Whatever protection they have
// stays: uffd keeps tracking them and an mprotect fault only sets the bit again.
void Collector::RememberPages(const std::vector<uintptr_t>& pages) {
  for (uintptr_t page : pages) {
    PageDesc* d = PageMap::Lookup(page);
    if (d == nullptr || d->owner != this) continue;
    Chunk& c = *d->chunk;
    c.SetDirty(c.PageIndex(page));
  }
}

// Every collection enters here. The mutator's callee-saved registers are spilled into this
// frame and the stack is scanned from just below them, so values the collector itself computes
// (page addresses, run bounds) in the deeper frames of CollectNowImpl are never mistaken for
// roots (docs/design/roots.md .sol.stacks).
__attribute__((noinline)) void Collector::CollectNow(keel_gc_reason reason, bool want_major) {
  __builtin_unwind_init();
  volatile uintptr_t top_marker = 0;
  mutator_stack_top_ = reinterpret_cast<uintptr_t>(&top_marker);
  CollectNowImpl(reason, want_major);
  mutator_stack_top_ = 0;
  asm volatile("" : : "r"(&top_marker) : "memory");
}

__attribute__((noinline)) void Collector::CollectNowImpl(keel_gc_reason reason, bool want_major) {
  const uint64_t start = NowNs();
  // After a fork the barrier's records are the parent's (barrier.md .sol.fork); orphans and a
  // thread that blocks SIGSEGV under mprotect leave old pages unprotected (.sol.sigmask).
  const bool renewed = barrier_->Stale();
  if (renewed) RenewBarrier();
  // A stretch of full collections while generations do not pay (barrier.md .sol.payoff); the
  // last of them protects the old pages again so the next collection can be minor.
  const bool full_stretch = full_collections_left_ > 0;
  if (full_stretch) --full_collections_left_;
  const uint64_t protected_before = protected_pages_;
  bool protect = !orphan_ && MayProtect() && full_collections_left_ == 0;
  bool major = want_major || renewed || !protect || pages_open_ || full_stretch ||
               barrier_->kind() == BarrierKind::kNone || live_bytes_ > major_threshold_;
  in_collection_ = true;
  cycle_peak_in_use_ = std::max<uint64_t>(cycle_peak_in_use_, heap_.in_use_bytes());
  const uint64_t old_heap_limit = heap_limit_;
  RetireRuns();
  const uint64_t allocated = bytes_since_gc_;
  const uint64_t live_before = live_bytes_ + aged_bytes_;
  const uint64_t aged_before = aged_bytes_;
  const uint64_t faults = barrier_->TakeFaults();
  uint64_t barrier_pause_ns = 0;  // finding and scanning written pages, changing protection
  bool spread = false;
  if (!major) {
    const uint64_t t0 = NowNs();
    FindDirtyPages();
    barrier_pause_ns += NowNs() - t0;
    // Most of what was protected was written since the last collection: protection does not
    // pay, and scanning all those pages would cost this minor collection as much as a major
    // one. This collection becomes the first of a stretch of full ones (barrier.md .sol.payoff).
    const uint64_t written = barrier_->written_pages() / (kPageSize / os::kOsPageSize) + faults;
    if (reason == KEEL_GC_REASON_ALLOCATION && Policy::WritesSpread(written, protected_before)) {
      spread = true;
      major = true;
      protect = false;
    }
  }
  if (major) {
    ForgetDirtyPages();
    PrepareMajor();
  }
  const bool ages = !major && policy_.AgeNextMinor();

  Marker marker(*this, mark_stack_, heap_.lo(), heap_.hi(), all_interior_, ages);
  const uint64_t mark_start = NowNs();
  Plan::TraceRoots(*this, marker);
  if (!major) {
    const uint64_t t0 = NowNs();
    ScanDirtyPages(marker);
    barrier_pause_ns += NowNs() - t0;
  }
  marker.Drain();
  if (!major) RememberPages(marker.remembered_pages());
  const uint64_t mark_ns = NowNs() - mark_start;
  mark_stack_.Trim();

  in_weak_callbacks_ = true;
  for (const WeakEntry& e : weak_callbacks_) e.fn(*this, e.data);
  in_weak_callbacks_ = false;
  uint64_t promoted = 0;
  if (major) {
    Sweep();
    aged_bytes_ = 0;
  } else {
    uint64_t aged_survivors = 0;
    promoted = SweepYoung(ages, &aged_survivors);
    live_bytes_ += promoted;
    policy_.NoteMinor(aged_before, aged_survivors, ages, aged_bytes_);
  }
  uint64_t protected_pages = 0;
  hot_pages_ = 0;
  if (protect) {
    const uint64_t t0 = NowNs();
    protected_pages = ProtectOldPages();
    barrier_pause_ns += NowNs() - t0;
    pages_open_ = false;
  } else {
    OpenAllPages();
    pages_open_ = true;
    protected_pages_ = 0;
  }

  total_allocated_ += allocated;
  bytes_since_gc_ = 0;
  if (major) {
    major_threshold_ = policy_.MajorThreshold(live_bytes_);
    heap_limit_ = policy_.HeapLimit(live_bytes_);
  }
  budget_ = policy_.NextBudget(live_bytes_);
  uint64_t next_cycle = barrier_->kind() == BarrierKind::kNone ? budget_ : policy_.YoungLimit(live_bytes_);
  // Free pages stay committed for reuse (heap.md .sol.retain): only a major collection, which
  // sets the heap's size for the next cycle, gives back what that size leaves unused.
  size_t released = 0;
  if (major) {
    // The highest peak of recent cycles: peaks differ from cycle to cycle with where the major
    // collections fall. It comes down when the heap limit collapses (KeepCommitted) and the
    // decay thread takes back what stays unused.
    peak_in_use_ = std::max(cycle_peak_in_use_, peak_in_use_);
    released = heap_.Release(
        Policy::KeepCommitted(&peak_in_use_, old_heap_limit, heap_limit_, heap_.in_use_bytes(), next_cycle));
    cycle_peak_in_use_ = heap_.in_use_bytes();
  }
  in_collection_ = false;

  keel_gc_record r{};
  r.index = stats_.collections() + 1;
  r.kind = major ? KEEL_GC_MAJOR : KEEL_GC_MINOR;
  r.reason = reason;
  r.start_ns = start;
  r.mark_ns = mark_ns;
  r.allocated_bytes = allocated;
  r.live_bytes = live_bytes();
  const uint64_t live_after = live_bytes_ + aged_bytes_;
  r.freed_bytes = live_before + allocated > live_after ? live_before + allocated - live_after : 0;
  r.promoted_bytes = promoted;
  r.aged_bytes = aged_bytes_;
  r.remembered_pages = major ? 0 : marker.remembered_pages().size();
  r.heap_bytes = heap_.heap_bytes();
  r.committed_bytes = heap_.committed_bytes();
  r.released_bytes = released;
  r.marked_objects = marker.marked_objects();
  r.pages_protected = protected_pages;
  r.barrier_faults = faults + barrier_->TakeFaults();
  r.pages_written = barrier_->TakeWrittenPages();
  const PageCounts pages = heap_.TakePageCounts();
  r.pages_released = pages.released;
  r.pages_refaulted = pages.refaulted;
  r.pages_fresh = pages.fresh;
  r.pages_opened = barrier_->TakeOpened();
  r.protect_calls = barrier_->TakeCalls();
  r.scan_calls = barrier_->TakeScans();
  r.hot_pages = hot_pages_;
  r.pause_ns = NowNs() - start;
  if (barrier_->kind() != BarrierKind::kNone && !orphan_) {
    // What the barrier cost the mutator since the previous collection, and this pause.
    const uint64_t mutator_ns = (r.barrier_faults + r.pages_written) * barrier_->event_cost_ns() +
                                mutator_open_calls_ * barrier_->call_cost_ns();
    if (major) {
      full_collections_left_ =
          std::max(full_collections_left_, policy_.NoteMajorCost(r.pause_ns, r.pause_ns + mutator_ns,
                                                                 barrier_pause_ns + mutator_ns, allocated, budget_,
                                                                 !full_stretch && protect &&
                                                                     reason == KEEL_GC_REASON_ALLOCATION));
    } else {
      policy_.NoteMinorCost(r.pause_ns + mutator_ns, barrier_pause_ns + mutator_ns, allocated);
    }
    if (spread) full_collections_left_ = std::max(full_collections_left_, policy_.NoteSpreadWrites());
  }
  r.full_stretch = full_collections_left_;
  last_was_major_ = major;
  stats_.Add(r);
  if (!major) policy_.AdaptYoungBudget(r.pause_ns);
  mutator_open_calls_ = 0;

  if (verify_each_ != 0) {
    size_t problems = Verify(verify_each_ >= 2);
    if (problems != 0) Fatal("heap verification after collection %llu found %zu problems", static_cast<unsigned long long>(r.index), problems);
  }
  // Exited threads' memory that frees have changed is collected with a major collection
  // (heap.md .sol.orphans).
  if (major && !orphan_) Orphanage::CollectChanged();
}

bool Collector::MayProtect() {
  if (!barrier_->WritesFault()) return true;
  sigset_t mask;
  if (pthread_sigmask(SIG_BLOCK, nullptr, &mask) != 0 || sigismember(&mask, SIGSEGV) != 1) return true;
  if (!warned_sigsegv_) {
    warned_sigsegv_ = true;
    Warn("write barrier (mprotect): SIGSEGV is blocked on this thread, where a write into a protected "
         "page would kill the process; collections stay major and protect nothing while it is "
         "blocked (docs/api.md, Threads, fork and signals)");
  }
  return false;
}

}  // namespace keel::gc
