// collection.cpp: one stop-the-world collection, minor or major: the shared prologue (barrier,
// major or minor), the plan's phases (retire runs, prepare, trace, sweep) around the weak
// callbacks, and the shared epilogue (protect old
// pages, size the next cycle, give memory back, record, verify).
// Design notes: docs/design/heap.md (.sol.sweep, .sol.policy), docs/design/barrier.md.
#include <pthread.h>
#include <signal.h>

#include <cstdio>

#include "gc/collector.h"
#include "gc/fatal.h"
#include "gc/orphanage.h"
#include "gc/os_memory.h"
#include "gc/page_map.h"
#include "gc/plan.h"

namespace keel::gc {

// The explicit collections run the finalizers they made ready before they return
// (docs/design/weak.md .sol.running).
void Collector::Collect(keel_gc_reason reason) {
  if (!MayCollectNow()) return;
  CollectNow(reason, true);
  RunFinalizers();
}

void Collector::CollectMinor() {
  if (!MayCollectNow()) return;
  CollectNow(KEEL_GC_REASON_EXPLICIT, false);
  RunFinalizers();
}

void Collector::TraceOwnRoots(Tracer& t, bool major) {
  finalization_.TraceRoots(t, major);
  weak_arrays_.TraceRoots(*this, t);  // the replacement values (weak.md .sol.arrays)
  t.VisitSlot(&held_, Tracer::Holder::kRoot);
}

// DESIGN D6's order (docs/design/weak.md .sol.phases): the ephemeron fixpoint after every
// drain; will-like finalizers; ordinary weak boxes, weak arrays' slots, unready ephemerons and
// short disappearing links clear; the registered finalizers and added chains; bdwgc's
// finalizers in their orders (.sol.ordered); late weak boxes and long links clear; then
// ephemerons, weak arrays that a finalizer reached and finalizer records follow their objects.
// Nothing here allocates.
void Collector::RunWeakPhases(Tracer& t, bool major, bool ages) {
  const bool all_old = !ages;
  in_weak_callbacks_ = true;
  ephemerons_.Begin(*this, t, major);
  ephemerons_.Propagate(t);
  finalization_.ReadyUnreached(*this, t, 1, major);
  ephemerons_.Propagate(t);
  weak_boxes_.Clear(*this, false, major, all_old);
  weak_arrays_.Clear(*this);  // every array, minor or major (.sol.arrays)
  ephemerons_.ClearUnready();
  links_.Clear(*this, false, major, all_old);
  finalization_.ReadyUnreached(*this, t, 2, major);
  ephemerons_.Propagate(t);
  finalization_.ReadyOrdered(*this, t, major, [&] {
    t.Drain();
    ephemerons_.Propagate(t);
  });
  weak_boxes_.Clear(*this, true, major, all_old);
  links_.Clear(*this, true, major, all_old);
  ephemerons_.End(t, all_old);
  weak_boxes_.ClearResurrected(*this);
  links_.ClearResurrected(*this);
  weak_arrays_.ClearResurrected(*this);
  finalization_.Settle(*this, major, all_old);
  in_weak_callbacks_ = false;
}

// Every collection enters here. The mutator's callee-saved registers are spilled into this
// frame and the stack is scanned from just below them, so values the collector itself computes
// (page addresses, run bounds) in the deeper frames of CollectNowImpl are never mistaken for
// roots (docs/design/roots.md .sol.stacks).
__attribute__((noinline)) void Collector::CollectNow(keel_gc_reason reason, bool want_major) {
  master::CheckNotBlocking(*this, "a collection");  // the place's objects must stay put there
  CheckNotInCollectionHook("a collection");
  if (collection_hook_ != nullptr) RunCollectionHook(false);
  __builtin_unwind_init();
  volatile uintptr_t top_marker = 0;
  mutator_stack_top_ = reinterpret_cast<uintptr_t>(&top_marker);
  CollectNowImpl(reason, want_major);
  mutator_stack_top_ = 0;
  asm volatile("" : : "r"(&top_marker) : "memory");
  if (collection_hook_ != nullptr) RunCollectionHook(true);
}

// The GC callbacks (ffi.md .sol.gc-callbacks) run for a collector that serves a thread, on it.
void Collector::RunCollectionHook(bool after) {
  if (detached_ || orphan_) return;
  in_collection_hook_ = true;
  collection_hook_(*this, collection_hook_data_, after);
  in_collection_hook_ = false;
}

// ffi.md .sol.hook-misuse: a collection inside a collection's callbacks would corrupt it.
void Collector::CheckNotInCollectionHook(const char* what) const {
  if (in_collection_hook_) [[unlikely]] {
    Fatal("%s inside a GC callback (scheme_add_gc_callback): the functions a callback runs must not call Keel "
          "(allocate, collect)", what);
  }
}

__attribute__((noinline)) void Collector::CollectNowImpl(keel_gc_reason reason, bool want_major) {
  const uint64_t start = NowNs();
  // After a fork the barrier's records are the parent's (barrier.md .sol.fork); orphans and a
  // thread that blocks SIGSEGV under mprotect leave old pages unprotected (.sol.sigmask).
  const bool renewed = barrier_->Stale();
  if (renewed) generations_.Renew();
  // A stretch of full collections while generations do not pay (barrier.md .sol.payoff); the
  // last of them protects the old pages again so the next collection can be minor.
  const bool full_stretch = full_collections_left_ > 0;
  if (full_stretch) --full_collections_left_;
  const uint64_t protected_before = generations_.protected_pages();
  bool protect = !orphan_ && !detached_ && MayProtect() && full_collections_left_ == 0;
  bool major = want_major || renewed || !protect || pages_open_ || full_stretch ||
               barrier_->kind() == BarrierKind::kNone || bytes_.live > major_threshold_;
  in_collection_ = true;
  cycle_peak_in_use_ = std::max<uint64_t>(cycle_peak_in_use_, heap_.in_use_bytes());
  const uint64_t old_heap_limit = heap_limit_;
  // A master collection's prologue ran before the places marked (BeginExternalMajor).
  const bool prepared = external_prepared_;
  if (!prepared) plan_.RetireRuns();
  const uint64_t allocated = bytes_.since_gc;
  const uint64_t live_before = bytes_.live + bytes_.aged;
  const uint64_t aged_before = bytes_.aged;
  const uint64_t faults = barrier_->TakeFaults();
  uint64_t barrier_pause_ns = 0;  // finding and scanning written pages, changing protection
  bool spread = false;
  if (!major) {
    const uint64_t t0 = NowNs();
    generations_.FindWritten();
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
  if (major && !prepared) {
    generations_.ForgetWritten();
    plan_.PrepareMajor();
  }
  const bool ages = !major && Plan::kAgesSurvivors && policy_.AgeNextMinor();

  TraceTotals traced;
  const uint64_t mark_start = NowNs();
  plan_.Trace(major, ages, mark_stack_, traced);
  barrier_pause_ns += traced.barrier_ns;
  const uint64_t mark_ns = NowNs() - mark_start;
  // The cycle's real peak: a copying trace (3m) holds its survivors' new pages and the pages
  // they leave at once, until the sweep (heap.md .sol.retain).
  cycle_peak_in_use_ = std::max<uint64_t>(cycle_peak_in_use_, heap_.in_use_bytes());
  mark_stack_.Trim();

  // The plan's trace ran the weak phases (RunWeakPhases); the runtime's weak tables drop what
  // died. Nothing in them allocates.
  in_weak_callbacks_ = true;
  for (const WeakEntry& e : weak_callbacks_) e.fn(*this, e.data);
  in_weak_callbacks_ = false;
  MinorTotals minor;
  plan_.Sweep(major, ages, minor);
  if (major) {
    bytes_.aged = 0;
  } else {
    bytes_.aged = minor.aged;
    bytes_.live += minor.promoted;
    policy_.NoteMinor(aged_before, minor.aged_survivors, ages, bytes_.aged);
  }
  uint64_t protected_pages = 0;
  if (protect) {
    const uint64_t t0 = NowNs();
    protected_pages = generations_.ProtectOldPages();
    barrier_pause_ns += NowNs() - t0;
    pages_open_ = false;
  } else {
    generations_.OpenAll();
    pages_open_ = true;
  }

  total_allocated_ += allocated;
  bytes_.since_gc = 0;
  if (major) {
    major_threshold_ = policy_.MajorThreshold(bytes_.live, Plan::kOldGrowthShare);
    heap_limit_ = policy_.HeapLimit(bytes_.live);
  }
  budget_ = policy_.NextBudget(bytes_.live);
  uint64_t next_cycle = barrier_->kind() == BarrierKind::kNone ? budget_ : policy_.YoungLimit(bytes_.live);
  // Free pages stay committed for reuse (heap.md .sol.retain): the decay thread gives back what
  // stays unused; a major collection, which sets the heap's size for the next cycle, gives back
  // at once only when that size collapsed.
  size_t released = 0;
  if (major) {
    // The highest peak of recent cycles: peaks differ from cycle to cycle with where the major
    // collections fall. It comes down when the heap limit collapses (KeepCommitted).
    peak_in_use_ = std::max(cycle_peak_in_use_, peak_in_use_);
    const size_t keep =
        Policy::KeepCommitted(&peak_in_use_, old_heap_limit, heap_limit_, heap_.in_use_bytes(), next_cycle);
    // Release(SIZE_MAX) gives nothing back but hands what stays committed to the decay thread.
    released = heap_.Release(keep);
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
  const uint64_t live_after = bytes_.live + bytes_.aged;
  r.freed_bytes = live_before + allocated > live_after ? live_before + allocated - live_after : 0;
  r.promoted_bytes = minor.promoted;
  r.aged_bytes = bytes_.aged;
  r.remembered_pages = traced.remembered_pages;
  r.heap_bytes = heap_.heap_bytes();
  r.committed_bytes = heap_.committed_bytes();
  r.released_bytes = released;
  r.marked_objects = traced.marked_objects;
  r.copied_objects = traced.copied_objects;
  r.copied_bytes = traced.copied_bytes;
  r.compacted_objects = traced.compacted_objects;
  r.compacted_bytes = traced.compacted_bytes;
  r.evacuated_pages = traced.evacuated_pages;
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
  r.hot_pages = generations_.hot_pages();
  r.pause_ns = NowNs() - start;
  if (barrier_->kind() != BarrierKind::kNone && !orphan_ && !detached_) {
    // What the barrier cost the mutator since the previous collection, and this pause.
    const uint64_t mutator_ns = (r.barrier_faults + r.pages_written) * barrier_->event_cost_ns() +
                                generations_.mutator_calls() * barrier_->call_cost_ns();
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
  generations_.TakeMutatorCalls();

  if (verify_each_ != 0) {
    size_t problems = Verify(verify_each_ >= 2);
    if (problems != 0) Fatal("heap verification after collection %llu found %zu problems", static_cast<unsigned long long>(r.index), problems);
  }
  // Exited threads' memory that frees have changed is collected with a major collection
  // (heap.md .sol.orphans).
  if (major && !orphan_ && !detached_) Orphanage::CollectChanged();
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
