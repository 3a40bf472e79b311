// master.cpp: the master collector's allocation, its collection rendezvous and the marks the
// places set in it (master.h; docs/design/places.md .sol.master, .sol.master-cycle,
// .sol.master-marks).
#include "gc/master.h"

#include <pthread.h>

#include <algorithm>
#include <new>
#include <unordered_map>

#include "gc/collector.h"
#include "gc/fatal.h"
#include "gc/page_map.h"

namespace keel::gc {

void MasterRefs::Fold() {
  std::sort(words_.begin(), words_.end());
  words_.erase(std::unique(words_.begin(), words_.end()), words_.end());
  fold_at_ = std::max(kFirstFold, 2 * words_.size());
}

MasterMarks::MasterMarks(const Collector& master, MasterRefs* reached)
    : master_(&master), reached_(reached), lo_(master.heap().lo()),
      span_(master.heap().hi() > master.heap().lo() ? master.heap().hi() - master.heap().lo() : 0) {}

// Places mark concurrently: a mark bit is claimed with an atomic or, and only the place that
// sets it visits the object's words. The alloc bits and descriptors do not change while places
// mark: nothing allocates in the master heap until the collection ends (.sol.master-cycle).
void MasterMarks::Mark(uintptr_t first) {
  uintptr_t w = first;
  for (bool entry = true;; entry = false) {
    PageDesc* d = PageMap::Lookup(w);
    if (d != nullptr && d->Owner() == master_ && !IsUncollectable(d->kind)) {
      SlotBits* b = nullptr;
      uint64_t bit = 0;
      uintptr_t start = 0, end = 0;
      if (d->state == PageState::kSmall) {
        const uint32_t idx = d->IndexOf(w - d->start);
        if (idx < d->objects) {
          b = &d->bits[idx >> 6];
          bit = uint64_t{1} << (idx & 63);
          start = d->ObjectStart(idx);
          end = start + d->obj_size;
        }
      } else if (d->state == PageState::kBigHead) {
        b = &d->bits[0];
        bit = 1;
        start = d->start;
        end = start + d->big_bytes;
      }
      if (b != nullptr && ((__atomic_load_n(&b->alloc, __ATOMIC_RELAXED) | __atomic_load_n(&b->mark, __ATOMIC_RELAXED)) & bit) != 0) {
        if (entry && reached_ != nullptr) reached_->Add(start);
        if ((__atomic_fetch_or(&b->mark, bit, __ATOMIC_RELAXED) & bit) == 0) {
          ++marked_;
          if (IsPointerful(d->kind)) grey_.emplace_back(start, end);
        }
      }
    }
    // The next word of a grey object that points into the master heap.
    for (w = 0; w == 0;) {
      if (grey_.empty()) return;
      auto& [lo, hi] = grey_.back();
      while (lo + sizeof(uintptr_t) <= hi) {
        const uintptr_t v = *reinterpret_cast<const uintptr_t*>(lo);
        lo += sizeof(uintptr_t);
        if (v - lo_ < span_) {
          w = v;
          break;
        }
      }
      if (w == 0) grey_.pop_back();
    }
  }
}

namespace master {

std::atomic<bool> g_requested{false};

namespace {

// The first master collection comes after this many bytes of shared objects; later ones after
// as many as were live after the previous one, and never fewer than this (Racket BC waits for
// 40 MB).
constexpr uint64_t kMinBudget = uint64_t{32} << 20;

enum class Phase : uint8_t {
  kIdle,       // no master collection
  kGathering,  // requested: places arrive at safe points and wait for the others
  kMarking,    // every place arrived: each marks what it reaches
  kSweeping,   // the last place to finish marking sweeps the master heap
};

struct State {
  std::mutex mu;
  std::condition_variable cv;
  Collector* master = nullptr;  // under mu; Get reads it without (set once per master)
  std::atomic<Collector*> published{nullptr};
  bool thread_bound = false;
  Phase phase = Phase::kIdle;
  std::vector<Collector*> places;   // every place's collector
  std::vector<Collector*> arrived;  // the places that reached a safe point in this collection
  std::vector<Collector*> blocking; // the places in a blocking section (.sol.blocking)
  std::vector<Collector*> proxied;  // those the collection marking now counted as parked
  size_t marking = 0;               // places still marking
  bool abandon = false;             // a place could not mark: this collection frees nothing
  uint64_t cycles = 0;              // master collections finished
  uint64_t allocated = 0;           // bytes of shared objects since the last one
  uint64_t budget = kMinBudget;

  std::mutex in_flight_mu;  // below mu
  std::unordered_map<const void*, size_t> in_flight;

  std::mutex sleep_mu;  // below mu; above every sleeper's own mutex
  std::vector<std::pair<std::mutex*, std::condition_variable*>> sleepers;
};

// Never destroyed: places may end while static destructors run at exit.
State& S() {
  static auto* s = new State;
  return *s;
}

bool Contains(const std::vector<Collector*>& v, const Collector* c) { return std::find(v.begin(), v.end(), c) != v.end(); }

void InstallForkHandlers() {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, [] { pthread_atfork(BeforeFork, AfterForkInParent, [] { AfterForkInChild(Collector::CurrentOrNull()); }); });
}

void WakeSleepersLocked(State& s) {
  std::lock_guard<std::mutex> lock(s.sleep_mu);
  for (auto& [mu, cv] : s.sleepers) {
    std::lock_guard<std::mutex> sleeper(*mu);
    cv->notify_all();
  }
}

// Under s.mu, while no master collection runs: the master's runs retire and its marks fold
// into the alloc bits, so that the places' marks start from nothing (heap.md .inv.bits).
void StartLocked(State& s) {
  s.phase = Phase::kGathering;
  s.arrived.clear();
  s.abandon = false;
  s.master->BeginExternalMajor();
  g_requested.store(true, std::memory_order_seq_cst);
  WakeSleepersLocked(s);
}

// Under s.mu: every place arrived (or left), so marking starts.
void MaybeGoLocked(State& s) {
  if (s.phase != Phase::kGathering || s.arrived.empty() || s.arrived.size() + s.blocking.size() != s.places.size()) return;
  s.proxied = s.blocking;
  s.phase = Phase::kMarking;
  s.marking = s.arrived.size();
  s.cv.notify_all();
}

// The last place to finish marking: the in-flight messages' objects and those the places in a
// blocking section hold are marked, then the master collects with the places' marks and its
// own roots (no stack: it serves no thread). The proxied places' lists do not change meanwhile:
// EndBlocking waits for this collection to end.
void Sweep(State& s) {
  Collector& m = *s.master;
  {
    MasterMarks roots(m);
    for (const Collector* c : s.proxied) {
      for (uintptr_t w : c->master_refs().words()) roots.Visit(w);
    }
    std::lock_guard<std::mutex> lock(s.in_flight_mu);
    for (const auto& [p, count] : s.in_flight) roots.Visit(reinterpret_cast<uintptr_t>(p));
  }
  if (s.abandon) {
    m.AbandonExternalMajor();
  } else {
    m.FinishExternalMajor();
  }
}

// Under `lock` (s.mu), with a master collection requested: the calling place takes part and
// returns once the collection has ended.
void TakePartLocked(State& s, std::unique_lock<std::mutex>& lock, Collector& self) {
  if (s.phase == Phase::kIdle) return;
  const uint64_t cycle = s.cycles;
  if (!Contains(s.places, &self) || Contains(s.arrived, &self)) {
    s.cv.wait(lock, [&] { return s.cycles != cycle; });
    return;
  }
  // Every place arrives or is parked before marking starts (MaybeGoLocked), and none joins
  // meanwhile (Join waits); a place that gets here during marking broke that.
  if (s.phase != Phase::kGathering) Fatal("master collection: %p arrived after marking had started", static_cast<void*>(&self));
  s.arrived.push_back(&self);
  MaybeGoLocked(s);
  s.cv.wait(lock, [&] { return s.phase != Phase::kGathering; });
  lock.unlock();
  // What the trace reaches becomes the place's MasterRefs: it is all the place refers to now.
  bool marked = false;
  {
    MasterRefs reached;
    MasterMarks marks(*s.master, &reached);
    marked = self.CollectForMaster(marks);
    if (marked) {
      reached.Fold();
      self.master_refs().Swap(reached);
    }
  }
  lock.lock();
  if (!marked) s.abandon = true;
  if (--s.marking != 0) {
    s.cv.wait(lock, [&] { return s.cycles != cycle; });
    return;
  }
  s.phase = Phase::kSweeping;
  lock.unlock();
  Sweep(s);
  lock.lock();
  s.phase = Phase::kIdle;
  s.arrived.clear();
  s.proxied.clear();
  s.allocated = 0;
  s.budget = std::max<uint64_t>(kMinBudget, s.master->live_bytes());
  ++s.cycles;
  g_requested.store(false, std::memory_order_seq_cst);
  s.cv.notify_all();
}

// Under `lock` (s.mu): takes c out of the blocking sections (if it is in one), once no
// collection counts it as parked. One collection may end and the next start (counting the place
// again, its list being read by that sweep) before the place gets the lock back, hence the loop.
void UnblockLocked(State& s, std::unique_lock<std::mutex>& lock, Collector& c) {
  while (Contains(s.proxied, &c)) {
    const uint64_t cycle = s.cycles;
    s.cv.wait(lock, [&] { return s.cycles != cycle; });
  }
  s.blocking.erase(std::remove(s.blocking.begin(), s.blocking.end(), &c), s.blocking.end());
  c.set_blocking(false);
}

Collector& MasterLocked(State& s) {
  if (s.master == nullptr) {
    InstallForkHandlers();
    s.master = &Collector::CreateMaster(false);
    s.published.store(s.master, std::memory_order_release);
  }
  return *s.master;
}

}  // namespace

Collector* Get() { return S().published.load(std::memory_order_acquire); }

Collector& GetOrCreate() {
  State& s = S();
  std::lock_guard<std::mutex> lock(s.mu);
  return MasterLocked(s);
}

bool ThreadBound() {
  State& s = S();
  std::lock_guard<std::mutex> lock(s.mu);
  return s.thread_bound;
}

bool Holds(const void* p) {
  const Collector* m = Get();
  if (m == nullptr) return false;
  const PageDesc* d = PageMap::Lookup(reinterpret_cast<uintptr_t>(p));
  return d != nullptr && d->Owner() == m;
}

void BecomeThreadBound(Collector& c) {
  State& s = S();
  std::lock_guard<std::mutex> lock(s.mu);
  if (s.master != nullptr) Fatal("a second master collector (the process has one already)");
  InstallForkHandlers();
  s.master = &c;
  s.thread_bound = true;
  s.published.store(&c, std::memory_order_release);
}

void EndThreadBound() {
  State& s = S();
  std::lock_guard<std::mutex> lock(s.mu);
  s.thread_bound = false;
}

void* Allocate(size_t bytes, Kind kind, const char* who) {
  Collector* self = Collector::CurrentOrNull();
  if (self != nullptr) CheckNotBlocking(*self, who);
  State& s = S();
  std::unique_lock<std::mutex> lock(s.mu);
  Collector& m = MasterLocked(s);
  if (s.thread_bound) Fatal("%s: shared memory before scheme_basic_env has returned", who);
  // An allocation is a safe point: a collection requested by others, or the one this
  // allocation's budget calls for, runs before the object exists, so no trace needs to find it
  // in a local variable.
  for (;;) {
    if (s.phase == Phase::kIdle && s.allocated + bytes > s.budget && self != nullptr && Contains(s.places, self)) {
      StartLocked(s);
    }
    if (s.phase == Phase::kIdle) break;
    if (self == nullptr || !Contains(s.places, self)) {
      s.cv.wait(lock, [&] { return s.phase == Phase::kIdle; });
    } else {
      TakePartLocked(s, lock, *self);
    }
  }
  void* p = m.Allocate(bytes, kind);
  if (p != nullptr) {
    s.allocated += bytes;
    if (self != nullptr) self->master_refs().Add(reinterpret_cast<uintptr_t>(p));
  }
  return p;
}

void HoldInFlight(const void* p) {
  State& s = S();
  std::lock_guard<std::mutex> lock(s.in_flight_mu);
  ++s.in_flight[p];
}

void ReleaseInFlight(const void* p) {
  State& s = S();
  std::lock_guard<std::mutex> lock(s.in_flight_mu);
  auto it = s.in_flight.find(p);
  if (it == s.in_flight.end()) Fatal("master collector: a message released a shared object it did not hold (%p)", p);
  if (--it->second == 0) s.in_flight.erase(it);
}

void SafePoint() {
  Collector* self = Collector::CurrentOrNull();
  if (self == nullptr) return;
  CheckNotBlocking(*self, "a safe point");
  State& s = S();
  std::unique_lock<std::mutex> lock(s.mu);
  TakePartLocked(s, lock, *self);
}

void Collect(const char* who) {
  State& s = S();
  std::unique_lock<std::mutex> lock(s.mu);
  MasterLocked(s);
  if (s.thread_bound) Fatal("%s: a master collection before scheme_basic_env has returned", who);
  Collector* self = Collector::CurrentOrNull();
  if (self == nullptr || !Contains(s.places, self)) Fatal("%s: the calling thread is not a place's", who);
  if (s.phase == Phase::kIdle) StartLocked(s);
  TakePartLocked(s, lock, *self);
}

void Join(Collector& c) {
  State& s = S();
  std::unique_lock<std::mutex> lock(s.mu);
  InstallForkHandlers();
  s.cv.wait(lock, [&] { return s.phase == Phase::kIdle; });
  if (!Contains(s.places, &c)) s.places.push_back(&c);
}

// A place that leaves from a blocking section (its thread ended inside one, keel_shutdown) first
// waits for a collection that counted it as parked: the sweep reads its MasterRefs.
void Leave(Collector& c) {
  State& s = S();
  std::unique_lock<std::mutex> lock(s.mu);
  auto it = std::find(s.places.begin(), s.places.end(), &c);
  if (it == s.places.end()) return;
  if (Contains(s.arrived, &c)) Fatal("a place left during a master collection it had arrived at");
  UnblockLocked(s, lock, c);
  s.places.erase(std::find(s.places.begin(), s.places.end(), &c));
  MaybeGoLocked(s);
}

void BeginBlocking(Collector& c, const char* who) {
  State& s = S();
  std::lock_guard<std::mutex> lock(s.mu);
  if (c.blocking()) Fatal("%s: the calling place is in a blocking section already (sections do not nest)", who);
  if (!Contains(s.places, &c)) Fatal("%s: the calling thread is not a place's", who);
  c.set_blocking(true);
  s.blocking.push_back(&c);
  MaybeGoLocked(s);  // the collection that waited only for this place goes on
}

void EndBlocking(Collector& c, const char* who) {
  State& s = S();
  std::unique_lock<std::mutex> lock(s.mu);
  if (!c.blocking()) Fatal("%s: the calling place is not in a blocking section (keel_place_blocking_begin first)", who);
  UnblockLocked(s, lock, c);
  TakePartLocked(s, lock, c);  // one still gathering waits for this place now
}

void CheckNotBlocking(const Collector& c, const char* what) {
  if (c.blocking()) [[unlikely]] {
    char name[64];
    Fatal("%s in a blocking section of %s: between keel_place_blocking_begin and keel_place_blocking_end a place must not "
          "call Keel",
          what, c.label().Describe(name, sizeof name));
  }
}

void NoteHeld(const void* p) {
  if (Collector* c = Collector::CurrentOrNull()) c->master_refs().Add(reinterpret_cast<uintptr_t>(p));
}

SleepScope::SleepScope(std::mutex& mu, std::condition_variable& cv) : mu_(&mu), cv_(&cv) {
  State& s = S();
  std::lock_guard<std::mutex> lock(s.sleep_mu);
  s.sleepers.emplace_back(mu_, cv_);
}

SleepScope::~SleepScope() {
  State& s = S();
  std::lock_guard<std::mutex> lock(s.sleep_mu);
  auto it = std::find(s.sleepers.begin(), s.sleepers.end(), std::make_pair(mu_, cv_));
  if (it != s.sleepers.end()) s.sleepers.erase(it);
}

void FillStats(keel_gc_stats* out) {
  State& s = S();
  std::lock_guard<std::mutex> lock(s.mu);
  *out = keel_gc_stats{};
  if (s.master != nullptr) s.master->FillStats(out);
}

uint64_t Collections() {
  State& s = S();
  std::lock_guard<std::mutex> lock(s.mu);
  return s.cycles;
}

// A master collection that is marking or sweeping ends without the forking thread (it is not
// taking part), so the fork waits for it; one still gathering cannot go on without the forking
// thread, and in the child it is abandoned.
void BeforeFork() {
  State& s = S();
  std::unique_lock<std::mutex> lock(s.mu);
  s.cv.wait(lock, [&] { return s.phase == Phase::kIdle || s.phase == Phase::kGathering; });
  lock.release();
  s.in_flight_mu.lock();
  s.sleep_mu.lock();
}

void AfterForkInParent() {
  State& s = S();
  s.sleep_mu.unlock();
  s.in_flight_mu.unlock();
  s.mu.unlock();
}

// Only the forking thread runs in the child. It was not inside a master collection (it held
// the lock), so none is in progress for it; the other places are gone.
void AfterForkInChild(Collector* survivor) {
  State& s = S();
  s.sleepers.clear();
  const bool was_place = Contains(s.places, survivor);
  s.places.clear();
  if (was_place) s.places.push_back(survivor);
  s.arrived.clear();
  s.proxied.clear();
  const bool was_blocking = Contains(s.blocking, survivor);
  s.blocking.clear();
  if (was_blocking) s.blocking.push_back(survivor);
  if (s.phase != Phase::kIdle && s.master != nullptr) s.master->AbandonExternalMajor();
  s.phase = Phase::kIdle;
  s.marking = 0;
  g_requested.store(false, std::memory_order_relaxed);
  s.sleep_mu.unlock();
  s.in_flight_mu.unlock();
  s.mu.unlock();
}

void Forget(const Collector* c) {
  State& s = S();
  std::lock_guard<std::mutex> lock(s.mu);
  if (s.master != c) return;
  s.master = nullptr;
  s.thread_bound = false;
  s.published.store(nullptr, std::memory_order_release);
}

}  // namespace master

}  // namespace keel::gc
