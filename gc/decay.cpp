// decay.cpp: the decay thread (decay.h, docs/design/heap.md .sol.retain).
//
// One thread per process, started when a heap first keeps free pages committed. Each period it
// calls Heap::Decay on every heap, and ticks the spare loose runs (heap.h); while nothing is
// retained it sleeps until woken. It never allocates from a collector, never blocks on a heap
// (Decay only tries its lock), and all signals are blocked in it, so it cannot run a program's
// handler.
#include "gc/decay.h"

#include <pthread.h>
#include <signal.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <vector>

#include "gc/env.h"
#include "gc/heap.h"
#include "gc/stats.h"

namespace keel::gc {
namespace {

// Never destroyed: the thread may still wait on them while the process exits.
struct State {
  pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
  pthread_cond_t cv;
  std::vector<Heap*> heaps;  // under mu
  std::atomic<bool> started{false};  // changed under mu
  // Under mu: when pthread_create last failed, Wake tries again only a period later (a failure
  // may be passing: too many threads or too little memory for a moment).
  uint64_t retry_after_ns = 0;
  // Wake() counts here; the thread sleeps only if no wake came after its last tick began. The
  // two flags are sequentially consistent so that either the waker sees `sleeping` or the
  // thread sees the new count (no lost wake-up).
  std::atomic<uint64_t> wakes{0};
  std::atomic<bool> sleeping{false};
};

// Timed waits run on the monotonic clock.
void InitCondition(pthread_cond_t* cv) {
  pthread_condattr_t attr;
  pthread_condattr_init(&attr);
  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  pthread_cond_init(cv, &attr);
  pthread_condattr_destroy(&attr);
}

State& S() {
  static State* s = [] {
    auto* st = new State;
    InitCondition(&st->cv);
    return st;
  }();
  return *s;
}

timespec After(uint64_t ms) {
  timespec t{};
  clock_gettime(CLOCK_MONOTONIC, &t);
  uint64_t ns = static_cast<uint64_t>(t.tv_nsec) + (ms % 1000) * 1'000'000;
  t.tv_sec += static_cast<time_t>(ms / 1000 + ns / 1'000'000'000);
  t.tv_nsec = static_cast<long>(ns % 1'000'000'000);
  return t;
}

bool Before(const timespec& a, const timespec& b) {
  return a.tv_sec < b.tv_sec || (a.tv_sec == b.tv_sec && a.tv_nsec < b.tv_nsec);
}

void* Loop(void*) {
  State& s = S();
  const uint64_t period = DecayThread::PeriodMs();
  pthread_mutex_lock(&s.mu);
  for (;;) {
    const uint64_t seen = s.wakes.load();
    // A whole period between ticks: wake-ups in between do not shorten it.
    const timespec tick = After(period);
    for (;;) {
      timespec now{};
      clock_gettime(CLOCK_MONOTONIC, &now);
      if (!Before(now, tick)) break;
      pthread_cond_timedwait(&s.cv, &s.mu, &tick);
    }
    bool retained = false;
    for (Heap* h : s.heaps) retained = h->Decay() || retained;
    retained = Heap::DecayLooseRuns() || retained;
    if (retained) continue;
    s.sleeping.store(true);
    while (s.wakes.load() == seen) pthread_cond_wait(&s.cv, &s.mu);
    s.sleeping.store(false);
  }
  return nullptr;
}

// Holding the mutex across fork() means no tick is under way in the child's copy of the heaps;
// the child has no decay thread until a heap wakes one.
void BeforeFork() { pthread_mutex_lock(&S().mu); }
void AfterForkInParent() { pthread_mutex_unlock(&S().mu); }
// The child's copy of the condition variable still counts the parent's thread as a waiter; a
// signal would wait for that waiter, which does not exist here, forever. It starts afresh.
void AfterForkInChild() {
  State& s = S();
  s.started.store(false);
  s.sleeping.store(false);
  InitCondition(&s.cv);
  pthread_mutex_unlock(&s.mu);
}

pthread_once_t g_atfork_once = PTHREAD_ONCE_INIT;
void InstallForkHandlers() { pthread_atfork(BeforeFork, AfterForkInParent, AfterForkInChild); }

}  // namespace

uint64_t DecayThread::PeriodMs() {
  // 1 ms to one hour.
  static const uint64_t period = EnvCount("KEEL_GC_DECAY_MS", kDefaultPeriodMs, 1, 3'600'000);
  return period;
}

void DecayThread::Join(Heap* heap) {
  State& s = S();
  pthread_once(&g_atfork_once, InstallForkHandlers);
  pthread_mutex_lock(&s.mu);
  s.heaps.push_back(heap);
  pthread_mutex_unlock(&s.mu);
}

void DecayThread::Leave(Heap* heap) {
  State& s = S();
  pthread_mutex_lock(&s.mu);
  s.heaps.erase(std::remove(s.heaps.begin(), s.heaps.end(), heap), s.heaps.end());
  pthread_mutex_unlock(&s.mu);
}

bool DecayThread::Wake() {
  State& s = S();
  s.wakes.fetch_add(1);
  if (s.sleeping.load()) {
    pthread_mutex_lock(&s.mu);
    pthread_cond_signal(&s.cv);
    pthread_mutex_unlock(&s.mu);
    return true;
  }
  // Running (waiting for its next tick, or ticking): it sees the new count and ticks again.
  if (s.started.load()) return true;
  pthread_mutex_lock(&s.mu);
  bool ok = s.started.load();
  const uint64_t now = NowNs();
  if (!ok && now >= s.retry_after_ns) {
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, size_t{256} << 10);
    pthread_t tid;
    ok = pthread_create(&tid, &attr, Loop, nullptr) == 0;
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    s.started.store(ok);
    if (!ok) s.retry_after_ns = now + DecayThread::PeriodMs() * 1'000'000;
  }
  pthread_mutex_unlock(&s.mu);
  return ok;
}

}  // namespace keel::gc
