// master.h: the master collector (DESIGN D1, spec §5.1.5): the one heap whose objects every
// place may reference. Master objects never move and their pages are never protected. A master
// collection is a rendezvous: every place reaches a safe point, marks the master objects it
// reaches during a major collection of its own, and the last place to finish sweeps the master
// heap. Design note: docs/design/places.md (.sol.master, .sol.master-cycle, .sol.master-marks).
#ifndef KEEL_GC_MASTER_H
#define KEEL_GC_MASTER_H

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <utility>
#include <vector>

#include "gc/kind.h"
#include "keel_gc.h"

namespace keel::gc {

class Collector;

// The shared objects one place refers to, kept for the master collections it sits out in a
// blocking section (places.md .sol.blocking): the objects its last part in a master collection
// reached, and those it allocated or received since. Object starts; duplicates are folded
// whenever the list has doubled since the last fold.
class MasterRefs {
 public:
  void Add(uintptr_t start) {
    words_.push_back(start);
    if (words_.size() >= fold_at_) [[unlikely]] Fold();
  }
  void Fold();
  void Swap(MasterRefs& other) noexcept {
    words_.swap(other.words_);
    std::swap(fold_at_, other.fold_at_);
  }
  const std::vector<uintptr_t>& words() const { return words_; }

 private:
  static constexpr size_t kFirstFold = 256;
  std::vector<uintptr_t> words_;
  size_t fold_at_ = kFirstFold;
};

// The master objects one place's trace reaches (.sol.master-marks). Lives for one participation
// in a master collection, on the place's thread; the mark bits it sets are shared with the other
// places, so it sets them atomically. Master objects are marked wherever a pointer lands in them
// (interior pointers included): a place's reference is never a reason to free one.
class MasterMarks {
 public:
  // `reached`, when given, collects the start of every master object a visited word lands in
  // (not those reached only through other master objects: marking from these finds them again).
  explicit MasterMarks(const Collector& master, MasterRefs* reached = nullptr);
  MasterMarks(const MasterMarks&) = delete;
  MasterMarks& operator=(const MasterMarks&) = delete;

  // w is a word a place's trace found outside its own heap. When it lies in an allocated master
  // object the object is marked and, if it may hold pointers, its words are visited in turn.
  void Visit(uintptr_t w) {
    if (w - lo_ < span_) [[unlikely]] Mark(w);
  }
  uint64_t marked() const { return marked_; }

 private:
  void Mark(uintptr_t w);

  const Collector* master_;
  MasterRefs* reached_;
  uintptr_t lo_;
  uintptr_t span_;
  std::vector<std::pair<uintptr_t, uintptr_t>> grey_;  // master objects whose words are still to visit
  uint64_t marked_ = 0;
};

namespace master {

// The master collector, or nullptr while none exists.
Collector* Get();
// The master collector, created first (as a collector of no thread) when none exists yet.
Collector& GetOrCreate();
// Whether the master collector serves as a thread's collector still: between
// scheme_main_stack_setup and the return of scheme_basic_env (.sol.master).
bool ThreadBound();
// Whether p lies in the master heap.
bool Holds(const void* p);
// scheme_main_stack_setup on a thread without a collector: c, the thread's new collector, is
// the master until scheme_basic_env switches it out (EndThreadBound).
void BecomeThreadBound(Collector& c);
void EndThreadBound();

// A shared object of `bytes` bytes and `kind` in the master heap, for the calling place; nullptr
// when memory cannot be had. The calling thread must be a place's; the master must serve no
// thread any more (`who` names the caller in the error otherwise). May first take part in a
// master collection (an allocation is a safe point), and starts one when the master's budget
// is spent.
void* Allocate(size_t bytes, Kind kind, const char* who);

// In-flight messages keep the shared objects they carry (.sol.master-cycle): each Hold is a
// root of every master collection until its Release.
void HoldInFlight(const void* p);
void ReleaseInFlight(const void* p);

// Safe points (.sol.master-cycle). Requested is a relaxed load, cheap enough for allocation's
// slow path; SafePoint lets the calling place take part in the requested collection.
extern std::atomic<bool> g_requested;
inline bool Requested() { return g_requested.load(std::memory_order_relaxed); }
void SafePoint();
// keel_place_collect_master: a master collection now, the calling place taking part.
void Collect(const char* who);

// Membership: a thread's collector that becomes a place joins (waiting for a master collection
// in progress to end first); a place that ends leaves (taking part first if one is requested).
void Join(Collector& c);
void Leave(Collector& c);

// A place blocked inside Keel (a channel operation, keel_place_wait) sleeps on a condition
// variable; while it sleeps, a requested master collection wakes it so that it takes part
// (.sol.master-cycle). The sleeper checks Requested() under `mu` before each wait.
class SleepScope {
 public:
  SleepScope(std::mutex& mu, std::condition_variable& cv);
  ~SleepScope();
  SleepScope(const SleepScope&) = delete;
  SleepScope& operator=(const SleepScope&) = delete;

 private:
  std::mutex* mu_;
  std::condition_variable* cv_;
};

// Blocking sections (keel_place_blocking_begin/end, places.md .sol.blocking). While a place is in
// one it counts as parked: master collections go on without it, marking from its MasterRefs
// instead of its trace. EndBlocking waits for a collection that counted the place so, then is a
// safe point. `who` names the caller in the errors (not a place, unbalanced calls).
void BeginBlocking(Collector& c, const char* who);
void EndBlocking(Collector& c, const char* who);
// Stops the program when c is in a blocking section: `what` (an allocation, a channel operation)
// must not happen there.
void CheckNotBlocking(const Collector& c, const char* what);
// A shared object the calling place allocated or received: one of its MasterRefs from now on.
void NoteHeld(const void* p);

// Records of the master collections so far (keel_place_master_stats).
void FillStats(keel_gc_stats* out);
uint64_t Collections();

// fork(): the master's locks are held across it; the child keeps the master and forgets every
// place but the calling thread's.
void BeforeFork();
void AfterForkInParent();
void AfterForkInChild(Collector* survivor);

// Called by the master collector's destructor (keel_shutdown on the master's thread).
void Forget(const Collector* c);

}  // namespace master

}  // namespace keel::gc

#endif  // KEEL_GC_MASTER_H
