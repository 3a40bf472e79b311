// collector.cpp: instance life cycle, allocation slow paths and explicit frees (collector.h).
// Collection itself is in collection.cpp. Design note: docs/design/heap.md.
#include "gc/collector.h"

#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>

#include "gc/env.h"
#include "gc/fatal.h"
#include "gc/master.h"
#include "gc/orphanage.h"
#include "gc/os_memory.h"
#include "gc/page_map.h"

namespace keel::gc {

constinit thread_local Collector* Collector::t_current_ = nullptr;

namespace {

std::atomic<bool> g_default_all_interior{false};

// A thread that exits with a collector still attached retires it through this key's destructor
// (it does not run for the main thread, whose heap lives until the process ends).
pthread_key_t g_exit_key;
pthread_once_t g_exit_key_once = PTHREAD_ONCE_INIT;

void DestroyOnThreadExit(void*) { Collector::RetireCurrent(); }
void MakeExitKey() { pthread_key_create(&g_exit_key, DestroyOnThreadExit); }

// The place that scans the program's data and bss (docs/design/places.md .sol.statics): the
// first collector to become a place, until it is destroyed.
std::atomic<const Collector*> g_statics_place{nullptr};

bool IsMainThread() { return static_cast<pid_t>(syscall(SYS_gettid)) == getpid(); }

}  // namespace

Collector& Collector::AttachCurrentThread() {
  Collector* c = t_current_;
  if (c == nullptr) c = &CreateCurrent(true);
  if (c->role() == CollectorRole::kThread) c->SetRole(CollectorRole::kPlace);
  return *c;
}

Collector& Collector::AttachImplicitly(const char* who) {
  if (IsMainThread()) return AttachCurrentThread();
  Fatal("%s: this thread (tid %ld) is attached to no place. Keel's scheme_* functions run on a "
        "place's thread: the process's main thread (the initial place), a place started by "
        "keel_place_create, or a thread that called keel_thread_attach() first (keel_places.h). "
        "A callback arriving on another thread must hand its work to a place.",
        who, static_cast<long>(syscall(SYS_gettid)));
}

// Becoming a place: it joins the master's list of places first (.sol.master-cycle), the chunks'
// copies of the label follow (the fault handler reads them), and the first place takes over the
// program's statics (.sol.statics); the master scans them only while it serves the main thread.
void Collector::SetRole(CollectorRole role) {
  if (role == CollectorRole::kPlace) master::Join(*this);
  label_ = CollectorLabel::Make(role, label_.id());
  heap_.set_label(label_);
  if (role == CollectorRole::kPlace || (role == CollectorRole::kMaster && !detached_)) {
    const Collector* none = nullptr;
    const bool first = g_statics_place.compare_exchange_strong(none, this, std::memory_order_acq_rel);
    roots_.set_owns_program_statics(first || none == this);
  }
}

Collector& Collector::CreateMaster(bool on_this_thread) {
  if (!PageMap::Init()) Fatal("cannot map the page map (out of address space)");
  if (on_this_thread) {
    Collector& c = CreateCurrent();  // its objects may move until SwitchOutMaster
    c.SetRole(CollectorRole::kMaster);
    master::BecomeThreadBound(c);
    return c;
  }
  auto* c = new Collector(false);
  c->ServeNoThread();
  c->SetRole(CollectorRole::kMaster);
  return *c;
}

// The master's state once no thread runs it: no stack or frames scanned, nothing moved or
// protected, and only master collections collect it (master.cpp).
void Collector::ServeNoThread() {
  plan_.StopMoving();
  detached_ = true;
  roots_.ForgetStacks();
  generations_.OpenAll();
  pages_open_ = true;
  Disable();
}

// The frames and statics the thread holds now are the last roots the master takes from it.
void Collector::SwitchOutMaster() {
  if (t_current_ != this || role() != CollectorRole::kMaster || detached_) Fatal("scheme_basic_env: switching out a collector that is not the thread's master");
  Collect(KEEL_GC_REASON_EXPLICIT);  // 3m: the nursery is empty after it
  plan_.DetachThread();
  ServeNoThread();
  roots_.set_owns_program_statics(false);
  const Collector* self = this;
  g_statics_place.compare_exchange_strong(self, nullptr, std::memory_order_acq_rel);
  t_current_ = nullptr;
  pthread_setspecific(g_exit_key, nullptr);
  master::EndThreadBound();
}

void Collector::BeginExternalMajor() {
  in_collection_ = true;
  plan_.RetireRuns();
  generations_.ForgetWritten();
  plan_.PrepareMajor();
  external_prepared_ = true;
}

void Collector::FinishExternalMajor() {
  in_collection_ = false;
  CollectNow(KEEL_GC_REASON_MASTER, true);
  external_prepared_ = false;
}

// Marks the places set stay: the next master collection's BeginExternalMajor folds them into
// the alloc bits with the others (heap.md .inv.bits).
void Collector::AbandonExternalMajor() {
  external_prepared_ = false;
  in_collection_ = false;
}

bool Collector::CollectForMaster(MasterMarks& marks) {
  if (!MayCollectNow() || orphan_) return false;
  master_marks_ = &marks;
  CollectNow(KEEL_GC_REASON_MASTER, true);
  master_marks_ = nullptr;
  return true;
}

Collector& Collector::CreateCurrent(bool place) {
  if (!PageMap::Init()) Fatal("cannot map the page map (out of address space)");
  pthread_once(&g_exit_key_once, MakeExitKey);
  auto* c = new Collector(true, place);
  t_current_ = c;
  pthread_setspecific(g_exit_key, c);
  return *c;
}

void Collector::DestroyCurrent() {
  Collector* c = t_current_;
  if (c == nullptr) return;
  if (c->in_collection_) Fatal("keel_shutdown: called during a collection");
  delete c;  // leaves the master's places first (~Collector)
  t_current_ = nullptr;
  pthread_setspecific(g_exit_key, nullptr);
}

void Collector::RetireCurrent() {
  Collector* c = t_current_;
  if (c == nullptr) return;
  if (c->in_collection_ || c->in_allocator_) Fatal("a thread exited during a collection or an allocation of its collector");
  // The runtime layer is the thread's: its roots go with it.
  if (c->client_destroy_ != nullptr) c->client_destroy_(c->client_);
  c->client_ = nullptr;
  c->client_destroy_ = nullptr;
  if (c->blocking_) master::EndBlocking(*c, "thread exit");  // its thread ended inside a blocking section
  c->orphan_ = true;  // no stack: the thread's frames, and any fiber stacks it ran, are gone
  c->roots_.ForgetStacks();
  c->disabled_ = 0;
  c->Collect(KEEL_GC_REASON_EXPLICIT);
  master::Leave(*c);  // after the last finalizers this thread runs: they may use shared objects
  c->plan_.DetachThread();  // other threads may collect an orphan: no thread-local state stays
  t_current_ = nullptr;
  pthread_setspecific(g_exit_key, nullptr);
  if (!c->HoldsMemory()) {
    delete c;
    return;
  }
  c->ReleaseMemory();
  Orphanage::Adopt(c);
}

bool Collector::HasExplicitRoots() const {
  return bytes_.uncollectable != 0 || roots_.live_boxes() != 0 || roots_.pinned() != 0;
}

bool Collector::HoldsMemory() const { return live_bytes() != 0 || HasExplicitRoots(); }

void Collector::FreeAnywhere(void* p, const char* who) {
  if (p == nullptr) return;
  Collector& self = Current();
  PageDesc* d = PageMap::Lookup(reinterpret_cast<uintptr_t>(p));
  if (d != nullptr && d->Owner() != &self && Orphanage::Free(p, who)) return;
  self.Free(p, who);
}

void Collector::SetDefaultAllInteriorPointers(bool on) { g_default_all_interior.store(on, std::memory_order_relaxed); }
bool Collector::DefaultAllInteriorPointers() { return g_default_all_interior.load(std::memory_order_relaxed); }

Collector::Collector(bool bind_thread, bool place)
    : barrier_(MakeBarrier(*this, place)), heap_(this), generations_(heap_, *barrier_),
      plan_(*this, heap_, generations_, bytes_, bind_thread) {
  heap_.set_barrier(barrier_.get());
  all_interior_ = DefaultAllInteriorPointers();
  stress_every_ = EnvCount("KEEL_GC_STRESS", 0, 0, UINT64_MAX);
#ifdef KEEL_GC_CHECKED
  // Checked builds verify the heap's structure after every collection (DESIGN D12).
  constexpr uint64_t kDefaultVerify = 1;
#else
  constexpr uint64_t kDefaultVerify = 0;
#endif
  verify_each_ = static_cast<int>(EnvCount("KEEL_GC_VERIFY", kDefaultVerify, 0, 2));
  if (EnvFlag("PLTDISABLEGC")) disabled_ = 1;
  budget_ = policy_.NextBudget(0);
  major_threshold_ = policy_.MajorThreshold(0, Plan::kOldGrowthShare);
  heap_limit_ = policy_.HeapLimit(0);
  label_ = CollectorLabel::Make(CollectorRole::kThread, Registry::Add(this));
  heap_.set_label(label_);
}

Collector::~Collector() {
  master::Leave(*this);
  if (role() == CollectorRole::kMaster) master::Forget(this);
  Registry::Remove(this);
  const Collector* self = this;
  g_statics_place.compare_exchange_strong(self, nullptr, std::memory_order_acq_rel);
  if (client_destroy_ != nullptr) client_destroy_(client_);
  // The heap's destructor unmaps every chunk and clears their page-map entries.
}

bool Collector::Enable() {
  if (disabled_ == 0) return false;
  --disabled_;
  return true;
}

void Collector::AddWeakCallback(WeakCallback fn, void* data) { weak_callbacks_.push_back(WeakEntry{fn, data}); }

void Collector::RemoveWeakCallback(WeakCallback fn, void* data) {
  std::erase_if(weak_callbacks_, [fn, data](const WeakEntry& e) { return e.fn == fn && e.data == data; });
}

// --- allocation slow paths ----------------------------------------------------------------------

// The slow path runs with in_allocator_ set, so a signal handler that allocates while it (or a
// collection it started) is running is caught here instead of corrupting the heap. The fast
// path is a few instructions and is not guarded; docs/api.md forbids allocating in handlers.
void* Collector::AllocateSlow(size_t bytes, Kind kind) {
  if (in_weak_callbacks_) Fatal("allocation during a collection (a weak or collect callback allocated)");
  if (in_allocator_ || in_collection_) {
    Fatal("allocation from a signal handler (or other re-entrant call) while this thread's allocator "
          "or collector was running; allocating there is not allowed (docs/api.md, Threads, fork and signals)");
  }
  in_allocator_ = true;
  void* p = AllocateSlowImpl(bytes, kind);
  in_allocator_ = false;
  // Finalizers that a collection of this allocation made ready run before it returns; the new
  // object is a root meanwhile (and followed if it moves).
  if (p != nullptr && finalization_.waiting() != 0 && !running_finalizers_) {
    held_ = p;
    RunFinalizers();
    p = held_;
    held_ = nullptr;
  }
  return p;
}

namespace {
void RunFinalizersDirectly(Collector& c) {
  FinalizerCall call;
  while (c.TakeFinalizerCall(&call)) call.fn(call.object, call.data);
}
Collector::FinalizerRunner g_finalizer_runner = &RunFinalizersDirectly;
}  // namespace

void Collector::SetFinalizerRunner(FinalizerRunner runner) { g_finalizer_runner = runner; }

// On the owning thread only: an orphan's finalizers wait (other threads collect it), and so do
// finalizers while others run (.sol.running). With finalize-on-demand, bdwgc's wait for
// GC_invoke_finalizers, and the notifier hears of new ones.
void Collector::RunFinalizers() {
  if (running_finalizers_ || orphan_ || t_current_ != this || finalization_.waiting() == 0) return;
  if (finalize_on_demand_) {
    const size_t ordered = finalization_.ordered_waiting();
    if (ordered > notified_ && notifier_ != nullptr) {
      notified_ = ordered;
      notifier_();
    }
    if (finalization_.waiting() == finalization_.ordered_waiting()) return;
  }
  running_finalizers_ = true;
  g_finalizer_runner(*this);
  running_finalizers_ = false;
}

void Collector::FinalizeAtExit() {
  if (running_finalizers_) Fatal("keel_shutdown or scheme_main_setup's return: reached from inside a finalizer");
  if (in_collection_) Fatal("keel_shutdown: called during a collection");
  // Each round is one full collection (or, for everything still registered, one pass over the
  // records): a will-like finalizer needs a round per will, a finalizer that registers another
  // a round more.
  constexpr int kRounds = 64;
  const bool on_demand = finalize_on_demand_;
  const int disabled = disabled_;
  finalize_on_demand_ = false;
  disabled_ = 0;
  at_exit_ = true;
  for (int round = 0; round < kRounds && finalization_.records() + finalization_.waiting() != 0; ++round) {
    const uint64_t before = finalization_.calls_taken();
    CollectNow(KEEL_GC_REASON_EXPLICIT, true);
    RunFinalizers();
    if (finalization_.calls_taken() == before && finalization_.waiting() == 0) break;
  }
  for (int round = 0; finalize_all_on_exit_ && round < kRounds && finalization_.records() != 0; ++round) {
    finalization_.ReadyAll();
    RunFinalizers();
  }
  at_exit_ = false;
  disabled_ = disabled;
  finalize_on_demand_ = on_demand;
}

// Made directly: GC_invoke_finalizers is bdwgc's, and bdwgc's finalizers do not escape.
int Collector::InvokeOrderedFinalizers() {
  if (running_finalizers_ || t_current_ != this) return 0;
  int count = 0;
  running_finalizers_ = true;
  FinalizerCall call;
  while (finalization_.TakeOrderedCall(&call)) {
    ++count;
    call.fn(call.object, call.data);
  }
  running_finalizers_ = false;
  notified_ = 0;
  return count;
}

void* Collector::AllocateSlowImpl(size_t bytes, Kind kind) {
  master::CheckNotBlocking(*this, "an allocation");
  CheckNotInCollectionHook("an allocation");
  // An allocation is a safe point for master collections (places.md .sol.master-cycle).
  if (master::Requested() && label_.is_place()) [[unlikely]] master::SafePoint();
  if (stress_every_ != 0 && ++stress_count_ >= stress_every_) {
    stress_count_ = 0;
    if (MayCollectNow()) CollectNow(KEEL_GC_REASON_STRESS, false);
  }
  return plan_.AllocateSlow(bytes, kind, stress_every_ != 0);
}

// With a barrier, allocation triggers minor collections every young budget; without one, full
// collections every budget. The collection is a major one when the old, aged and young data
// with this allocation would take the heap past the bound a full collection keeps; it comes as
// soon as they would, not at the end of the young budget, so that the heap never passes that
// bound by up to a young generation (docs/design/barrier.md .sol.policy).
void Collector::CollectIfDue(size_t upcoming) {
  bool generational = barrier_->kind() != BarrierKind::kNone && full_collections_left_ == 0;
  // The bound holds for a full collection's budget too: after a minor collection that starts a
  // stretch of full ones (.sol.payoff) the budget counts promoted garbage as live.
  const uint64_t kept = bytes_.live + bytes_.aged;
  const uint64_t room = heap_limit_ > kept ? heap_limit_ - kept : 0;
  const uint64_t limit = std::min(generational ? policy_.YoungLimit(bytes_.live) : budget_, room);
  const uint64_t since_gc = bytes_since_gc();
  if (since_gc + upcoming > limit && MayCollectNow()) {
    bool over = kept + since_gc + upcoming > heap_limit_;
    CollectNow(KEEL_GC_REASON_ALLOCATION, over);
  }
}

bool Collector::CollectForHeapLimit() {
  if (!MayCollectNow()) return false;
  CollectNow(KEEL_GC_REASON_HEAP_LIMIT, true);
  return true;
}

bool Collector::CollectWhenFull() {
  if (!MayCollectNow()) return false;
  CollectNow(KEEL_GC_REASON_ALLOCATION, false);
  return true;
}

// --- explicit frees and queries -----------------------------------------------------------------

void Collector::Free(void* p, const char* who) {
  if (p == nullptr) return;
  if (in_collection_) Fatal("%s: called during a collection", who);
  auto a = reinterpret_cast<uintptr_t>(p);
  PageDesc* d = PageMap::Lookup(a);
  if (d == nullptr || d->Owner() != this) Fatal("%s: %p was not allocated by this collector", who, p);
  void* start = nullptr;
  size_t bytes = 0;
  Kind kind;
  if (plan_.FindMovingObject(p, &start, &bytes, &kind)) {
    // A nursery object's memory comes back when the next collection empties the nursery.
    if (start != p) Fatal("%s: %p points into the middle of an object", who, p);
    return;
  }
  if (d->state == PageState::kSmall) {
    uint32_t idx = d->IndexOf(a - d->start);
    if (d->ObjectStart(idx) != a || idx >= d->objects) Fatal("%s: %p points into the middle of an object", who, p);
    if (!d->IsAllocated(idx)) Fatal("%s: %p is not allocated (freed twice?)", who, p);
    plan_.FreeSmall(d, idx);
    return;
  }
  // The pages of a freed small page or shared big run are free pages of their chunk.
  if (d->state == PageState::kFree) Fatal("%s: %p is not allocated (freed twice?)", who, p);
  if (d->state != PageState::kBigHead || d->start != a) Fatal("%s: %p points into the middle of an object", who, p);
  plan_.FreeLarge(d);
}

void* Collector::BaseOf(const void* p) const {
  auto a = reinterpret_cast<uintptr_t>(p);
  PageDesc* d = PageMap::Lookup(a);
  if (d == nullptr || d->Owner() != this) return nullptr;
  void* start = nullptr;
  size_t bytes = 0;
  Kind kind;
  if (d->state == PageState::kNursery) return plan_.FindMovingObject(p, &start, &bytes, &kind) ? start : nullptr;
  if (d->state == PageState::kSmall) {
    uint32_t idx = d->IndexOf(a - d->start);
    if (idx >= d->objects || !d->IsAllocated(idx)) return nullptr;
    return reinterpret_cast<void*>(d->ObjectStart(idx));
  }
  if (d->state == PageState::kBigHead && d->IsAllocated(0) && a < d->start + d->big_bytes) {
    return reinterpret_cast<void*>(d->start);
  }
  return nullptr;
}

size_t Collector::SizeOf(const void* p) const {
  void* base = BaseOf(p);
  if (base == nullptr || base != p) return 0;
  PageDesc* d = PageMap::Lookup(reinterpret_cast<uintptr_t>(p));
  void* start = nullptr;
  size_t bytes = 0;
  Kind kind;
  if (d->state == PageState::kNursery) return plan_.FindMovingObject(p, &start, &bytes, &kind) ? bytes : 0;
  return d->state == PageState::kSmall ? d->obj_size : d->big_bytes;
}

bool Collector::IsEndOfInteriorObject(const void* p) const {
  const auto a = reinterpret_cast<uintptr_t>(p);
  const PageDesc* d = PageMap::Lookup(a);
  if (d != nullptr && d->Owner() == this && d->IsEndOfInteriorObject(a)) return true;
  if ((a & (kPageSize - 1)) != 0) return false;
  const PageDesc* prev = PageMap::Lookup(a - 1);
  return prev != nullptr && prev->Owner() == this && prev->IsEndOfInteriorObject(a);
}

bool Collector::KindOf(const void* p, Kind* kind) const {
  PageDesc* d = PageMap::Lookup(reinterpret_cast<uintptr_t>(p));
  if (d == nullptr || d->Owner() != this || d->state == PageState::kFree) return false;
  void* start = nullptr;
  size_t bytes = 0;
  if (d->state == PageState::kNursery) return plan_.FindMovingObject(p, &start, &bytes, kind);
  *kind = d->kind;
  return true;
}

bool Collector::IsHeapAddress(const void* p) const {
  PageDesc* d = PageMap::Lookup(reinterpret_cast<uintptr_t>(p));
  return d != nullptr && d->Owner() == this;
}

void Collector::StoreDuringCollection(void** slot, void* v) {
  if (*slot == v) return;
  const auto a = reinterpret_cast<uintptr_t>(slot);
  PageDesc* d = PageMap::Lookup(a);
  if (d != nullptr && d->Owner() == this && d->chunk != nullptr) {
    Chunk& c = *d->chunk;
    generations_.Open(c, c.PageIndex(a), 1, false, false);
  }
  *slot = v;
}

DisappearingLinks::Result Collector::RegisterLink(void** link, void* obj, bool long_link, const char* who) {
  if (link == nullptr || (reinterpret_cast<uintptr_t>(link) & (sizeof(void*) - 1)) != 0) {
    Fatal("%s: the link %p is NULL or not aligned to a pointer", who, static_cast<void*>(link));
  }
  if (in_collection_) Fatal("%s: called during a collection", who);
  if (!IsObjectStart(obj)) {
    Fatal("%s: %p is not the start of an object of this thread's collector", who, obj);
  }
  // A link inside an object that moves (3m's nursery and old objects) would change address
  // under its registration.
  {
    PageDesc* d = PageMap::Lookup(reinterpret_cast<uintptr_t>(link));
    if (Plan::kMovesObjects && d != nullptr && d->Owner() == this &&
        (d->state == PageState::kNursery || (d->state == PageState::kSmall && Plan::Moves(d->kind)))) {
      Fatal("%s: the link %p lies in an object that moves; keep links in memory that does not move (malloc'd, "
            "static, uncollectable or allow-interior memory)",
            who, static_cast<void*>(link));
    }
  }
  return links_.Register(link, obj, long_link);
}

bool Collector::ObjectExtent(const void* p, uintptr_t* end, Kind* kind) const {
  const auto a = reinterpret_cast<uintptr_t>(p);
  PageDesc* d = PageMap::Lookup(a);
  if (d == nullptr || d->Owner() != this) return false;
  size_t bytes = 0;
  if (d->state == PageState::kNursery) {
    if (!plan_.MovingObjectExtent(p, &bytes, kind)) return false;
  } else if (d->state == PageState::kSmall) {
    const uint32_t idx = d->IndexOf(a - d->start);
    if (idx >= d->objects || d->ObjectStart(idx) != a) return false;
    bytes = d->obj_size;
    *kind = d->kind;
  } else if (d->state == PageState::kBigHead && a == d->start) {
    bytes = d->big_bytes;
    *kind = d->kind;
  } else {
    return false;
  }
  *end = a + bytes;
  return true;
}

bool Collector::IsObjectStart(const void* p) const {
  PageDesc* d = PageMap::Lookup(reinterpret_cast<uintptr_t>(p));
  if (d == nullptr || d->Owner() != this) return false;
  if (d->state == PageState::kNursery) return plan_.IsMovingObjectStart(p);
  return BaseOf(p) == p;
}

bool Collector::IsMarked(const void* p) const {
  auto a = reinterpret_cast<uintptr_t>(p);
  PageDesc* d = PageMap::Lookup(a);
  if (d == nullptr || d->Owner() != this) {
    // A weak reference from a place to a master object survives its part in a master
    // collection, and so must the object: nothing may leave the reference dangling
    // (places.md .sol.master-marks).
    if (d != nullptr && master_marks_ != nullptr) master_marks_->Visit(a);
    return true;
  }
  if (d->state == PageState::kNursery) return plan_.MovingObjectSurvived(p);
  if (d->state == PageState::kSmall) {
    uint32_t idx = d->IndexOf(a - d->start);
    return idx < d->objects && (IsUncollectable(d->kind) ? d->IsAllocated(idx) : d->IsMarked(idx));
  }
  if (d->state == PageState::kBigHead) return IsUncollectable(d->kind) ? d->IsAllocated(0) : d->IsMarked(0);
  return false;
}

void Collector::FillStats(keel_gc_stats* out) const {
  *out = keel_gc_stats{};
  out->collections = stats_.collections();
  out->minor_collections = stats_.minor();
  out->major_collections = stats_.major();
  out->total_pause_ns = stats_.total_pause_ns();
  out->max_pause_ns = stats_.max_pause_ns();
  out->total_allocated_bytes = total_allocated_bytes();
  out->bytes_since_gc = bytes_since_gc();
  out->live_bytes = live_bytes();
  out->peak_live_bytes = stats_.peak_live();
  out->heap_bytes = heap_.heap_bytes();
  out->peak_heap_bytes = std::max<uint64_t>(stats_.peak_heap(), heap_.heap_bytes());
  out->committed_bytes = heap_.committed_bytes();
  out->free_committed_bytes = heap_.committed_free_bytes();
  out->next_collection_bytes = budget_ > bytes_since_gc() ? budget_ - bytes_since_gc() : 0;
}

void Collector::ReleaseMemory() {
  heap_.Release(0);
  Heap::ReleaseLooseRuns();
}

// Adopted bytes count as allocated, and collect when due as a big allocation does: a place that
// only receives big messages frees the dead ones (and their runs become spares for the senders).
void* Collector::AdoptLooseRun(void* start, size_t bytes) {
  const size_t run_bytes = Heap::LooseRunBytes(start);
  if (run_bytes == 0) return nullptr;
  CollectIfDue(run_bytes);
  PageDesc* d = heap_.AdoptRun(start);
  if (d == nullptr) return nullptr;
  void* p = plan_.AdoptLarge(d, bytes);
  stats_.NoteHeap(heap_.heap_bytes());
  return p;
}

}  // namespace keel::gc
