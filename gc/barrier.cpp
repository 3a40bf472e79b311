// barrier.cpp: choosing the write-barrier backend (barrier.h, docs/design/barrier.md
// .sol.choice), and the "none" backend.
#include "gc/barrier.h"

#include <pthread.h>

#include <cstdlib>
#include <cstring>

#include "gc/env.h"
#include "gc/fatal.h"

namespace keel::gc {

namespace {

std::atomic<uint64_t> g_fork_generation{0};
pthread_once_t g_atfork_once = PTHREAD_ONCE_INIT;

void BeforeFork() { UffdBeforeFork(); }
void AfterForkInParent() { UffdAfterForkInParent(); }
// Only the forking thread exists in the child; nothing else can race with this.
void AfterForkInChild() {
  g_fork_generation.fetch_add(1, std::memory_order_relaxed);
  UffdAfterForkInChild();
}
void InstallForkHandlers() { pthread_atfork(BeforeFork, AfterForkInParent, AfterForkInChild); }

}  // namespace

namespace {
std::atomic<uint64_t> g_probe_runs{0};
}  // namespace

uint64_t BarrierProbeRuns() { return g_probe_runs.load(std::memory_order_relaxed); }
void CountBarrierProbe() { g_probe_runs.fetch_add(1, std::memory_order_relaxed); }

uint64_t ForkGeneration() { return g_fork_generation.load(std::memory_order_relaxed); }

Barrier::Barrier(BarrierKind kind) : kind_(kind), fork_generation_(ForkGeneration()) {
  pthread_once(&g_atfork_once, InstallForkHandlers);
}

void Barrier::Renew() { fork_generation_ = ForkGeneration(); }

const char* BarrierName(BarrierKind kind) {
  switch (kind) {
    case BarrierKind::kNone: return "none";
    case BarrierKind::kMprotect: return "mprotect";
    case BarrierKind::kUffd: return "uffd";
  }
  return "unknown";
}

namespace {

// Protects nothing: the collector then runs only major collections.
class NoBarrier final : public Barrier {
 public:
  NoBarrier() : Barrier(BarrierKind::kNone) {}
  bool AttachChunk(Chunk&) override { return true; }
  bool Protect(uintptr_t, size_t) override { return false; }
  bool Unprotect(uintptr_t, size_t) override { return true; }
  void CollectWritten(Chunk&) override {}
  bool WritesFault() const override { return false; }
};

}  // namespace

std::unique_ptr<Barrier> MakeNoBarrier() { return std::make_unique<NoBarrier>(); }

std::unique_ptr<Barrier> MakeBarrier(Collector&, [[maybe_unused]] bool place) {
  // Unset, or not one of the choices (env.h reports that): choose automatically.
  const int want = EnvChoice("KEEL_GC_BARRIER", -1, {"uffd", "mprotect", "none"});
  if (want >= 0) {
    if (want == 2) return MakeNoBarrier();
    if (want == 1) {
      if (auto b = MakeMprotectBarrier()) return b;
      Warn("KEEL_GC_BARRIER=mprotect: cannot install the fault handler; collecting without a barrier");
      return MakeNoBarrier();
    }
    if (auto b = MakeUffdBarrier()) return b;
    Warn("KEEL_GC_BARRIER=uffd: this kernel offers no asynchronous userfaultfd write-protect; using mprotect");
  }
#ifdef KEEL_GC_CHECKED
  if (place) {
    if (auto b = MakeMprotectBarrier()) return b;
  }
#endif
  if (auto b = MakeUffdBarrier()) return b;
  if (auto b = MakeMprotectBarrier()) return b;
  return MakeNoBarrier();
}

}  // namespace keel::gc
