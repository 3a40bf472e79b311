// barrier_mprotect.cpp: the portable backend (docs/design/barrier.md .sol.mprotect): old
// pointer pages are made read-only; the first write faults into a SIGSEGV handler that runs on
// an alternate signal stack, makes the page writable and marks it dirty. A fault that is not a
// barrier fault is reported (address, and whose page it is) and then crashes as it would have.
#include <signal.h>
#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>

#include "gc/barrier.h"
#include "gc/collector.h"
#include "gc/heap.h"
#include "gc/page_map.h"
#include "gc/stats.h"

namespace keel::gc {
namespace {

struct sigaction g_previous;
std::once_flag g_install_once;
std::atomic<bool> g_installed{false};
// The scratch mapping of the start-up measurement (Calibrate): its faults are the handler's
// own, answered by opening the page.
std::atomic<uintptr_t> g_probe_lo{0};
std::atomic<uintptr_t> g_probe_hi{0};
uint64_t g_fault_ns = 0;  // measured once, then read only
uint64_t g_call_ns = 0;

// Async-signal-safe report: formats into a stack buffer and write(2)s it.
void Report(const char* what, uintptr_t addr, uintptr_t page) {
  char buf[512];
  int n = std::snprintf(buf, sizeof buf, "keel: segmentation fault at %p: %s (heap page %p)\n",
                        reinterpret_cast<void*>(addr), what, reinterpret_cast<void*>(page));
  if (n > 0) {
    ssize_t ignored = write(STDERR_FILENO, buf, static_cast<size_t>(n));
    (void)ignored;
  }
}

// Hands a fault that is not ours to whoever handled SIGSEGV before Keel, or to the default
// action: returning re-executes the faulting instruction under that action. The report is
// written only when the fault will crash the program: a program that handles its own faults
// hears nothing from Keel about them.
void PassOn(int sig, siginfo_t* info, void* context, const char* what, uintptr_t addr, uintptr_t page) {
  if ((g_previous.sa_flags & SA_SIGINFO) != 0 && g_previous.sa_sigaction != nullptr) {
    g_previous.sa_sigaction(sig, info, context);
    return;
  }
  if (g_previous.sa_handler != SIG_DFL && g_previous.sa_handler != SIG_IGN && g_previous.sa_handler != nullptr) {
    g_previous.sa_handler(sig);
    return;
  }
  Report(what, addr, page);
  signal(SIGSEGV, SIG_DFL);
}

// The chunk holding heap page `page` if its protected bit is set, else nullptr.
Chunk* ProtectedChunkOf(uintptr_t page) {
  PageDesc* d = PageMap::Lookup(page);
  if (d == nullptr) return nullptr;
  Chunk* c = d->chunk;
  return c->IsProtected(c->PageIndex(page)) ? c : nullptr;
}

// Opens [lo, hi) (whole protected heap pages) for writing: protection goes first, then the
// bits, so a protected page always has its bit set (.inv.masks). The calls are counted into
// `b`, the faulting thread's barrier, or nowhere when the thread has no collector.
bool OpenRange(Barrier* b, uintptr_t lo, uintptr_t hi) {
  if (b != nullptr) b->CountCalls(1);
  if (mprotect(reinterpret_cast<void*>(lo), hi - lo, PROT_READ | PROT_WRITE) != 0) return false;
  if (b != nullptr) b->CountOpened((hi - lo) >> kPageShift);
  for (uintptr_t p = lo; p < hi; p += kPageSize) {
    Chunk* c = PageMap::Lookup(p)->chunk;
    size_t i = c->PageIndex(p);
    c->SetDirty(i);
    c->ClearProtected(i);
  }
  return true;
}

// One page first. Where the kernel cannot split the page's mapping off (ENOMEM at
// vm.max_map_count), the whole run of protected pages around it is opened: its ends are
// writable pages or the ends of heap mappings, so the change merges mappings and needs no new
// one (.sol.maplimit). Every page opened is dirty, so nothing written later is missed.
bool OpenForWriteCounted(Barrier* b, Chunk& c, size_t i) {
  uintptr_t page = c.base + (i << kPageShift);
  if (OpenRange(b, page, page + kPageSize)) return true;
  if (errno != ENOMEM) return false;
  uintptr_t lo = page;
  uintptr_t hi = page + kPageSize;
  while (lo > kPageSize && ProtectedChunkOf(lo - kPageSize) != nullptr) lo -= kPageSize;
  while (ProtectedChunkOf(hi) != nullptr) hi += kPageSize;
  return OpenRange(b, lo, hi);
}

// A write into a page of another collector. A thread with no collector, and a gc.h thread
// writing into another gc.h thread's objects, may (docs/api.md, "Other threads"; barrier.md
// .sol.foreign). A place writing into another place's memory, or a gc.h thread into a place's,
// breaks the places rule (pointer-holding memory is written only by its own place): the program
// stops with both named (places.md .sol.foreign-writes). Only the chunk record's copy of the
// owner's label is read, never the owner itself, which may be going away on its own thread.
void CheckForeignWrite(const Collector* self, const Chunk* c, uintptr_t addr, uintptr_t page) {
  if (self == nullptr) return;
  const CollectorLabel theirs{c->owner_label.load(std::memory_order_relaxed)};
  const CollectorLabel mine = self->label();
  if (!theirs.is_place() && !mine.is_place()) return;
  char writer[96];
  char owner[96];
  char buf[320];
  std::snprintf(buf, sizeof buf, "a write by %s into memory of %s: memory that holds pointers is written only by the "
                "place that allocated it (docs/api.md, Places)",
                mine.Describe(writer, sizeof writer), theirs.Describe(owner, sizeof owner));
  Report(buf, addr, page);
  abort();
}

// A fault on a page whose bit is already clear is retried once: another thread may have opened
// the page between this thread's fault and its handler (.sol.foreign).
thread_local uintptr_t t_retry_page __attribute__((tls_model("initial-exec"))) = 0;

void OnFault(int sig, siginfo_t* info, void* context) {
  const int saved_errno = errno;
  auto addr = reinterpret_cast<uintptr_t>(info->si_addr);
  if (addr >= g_probe_lo.load(std::memory_order_acquire) && addr < g_probe_hi.load(std::memory_order_acquire)) {
    mprotect(reinterpret_cast<void*>(addr & ~uintptr_t{4095}), 4096, PROT_READ | PROT_WRITE);
    errno = saved_errno;
    return;
  }
  PageDesc* d = PageMap::Lookup(addr);
  if (d == nullptr) {
    PassOn(sig, info, context, "not a heap address, so not a write-barrier fault", addr, 0);
    errno = saved_errno;
    return;
  }
  // The owner first (docs/design/places.md .sol.foreign-writes): a page whose chunk is going has
  // none, and nothing else of another collector's is read unless the write may go ahead.
  Collector* owner = d->Owner();
  if (owner == nullptr) {
    PassOn(sig, info, context, "the heap page was being unmapped (a write into freed memory?)", addr, 0);
    errno = saved_errno;
    return;
  }
  Chunk* c = d->chunk;
  size_t i = c->PageIndex(addr);
  uintptr_t page = c->base + (i << kPageShift);
  Collector* self = Collector::CurrentOrNull();
  if (owner != self) CheckForeignWrite(self, c, addr, page);
  if (!c->IsProtected(i)) {
    if (t_retry_page != page) {
      t_retry_page = page;
    } else {
      t_retry_page = 0;
      PassOn(sig, info, context, "the heap page is not write-protected by the barrier (stray pointer?)", addr, page);
    }
    errno = saved_errno;
    return;
  }
  t_retry_page = 0;
  if (!c->dedicated && c->descs[i].state == PageState::kFree) {
    Report("a write into freed heap memory", addr, page);
    abort();
  }
  Barrier* mine = self != nullptr ? &self->barrier() : nullptr;
  if (!OpenForWriteCounted(mine, *c, i)) {
    Report("the kernel refused to make the page writable even with its neighbours "
           "(vm.max_map_count reached? see docs/api.md, Threads, fork and signals)", addr, page);
    abort();
  }
  if (mine != nullptr) mine->CountFault();
  errno = saved_errno;
}

// Measures a write fault and a protection call on this machine (.sol.payoff): 16 of each on
// every other page of a scratch mapping (so each call splits the mapping, as in a heap), the
// medians kept. About a millisecond, once per process.
void Calibrate() {
  CountBarrierProbe();
  constexpr size_t kProbes = 16;
  const size_t len = 2 * kProbes * 4096;
  void* mem = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) return;
  auto base = reinterpret_cast<uintptr_t>(mem);
  uint64_t calls[kProbes], faults[kProbes];
  for (size_t k = 0; k < kProbes; ++k) static_cast<volatile char*>(mem)[2 * k * 4096] = 1;  // resident
  g_probe_lo.store(base, std::memory_order_release);
  g_probe_hi.store(base + len, std::memory_order_release);
  for (size_t k = 0; k < kProbes; ++k) {
    auto* page = reinterpret_cast<volatile char*>(base + 2 * k * 4096);
    uint64_t t0 = NowNs();
    mprotect(const_cast<char*>(page), 4096, PROT_READ);
    uint64_t t1 = NowNs();
    *page = 2;  // faults into OnFault, which opens the page
    uint64_t t2 = NowNs();
    calls[k] = t1 - t0;
    faults[k] = t2 - t1;
  }
  g_probe_hi.store(0, std::memory_order_release);
  g_probe_lo.store(0, std::memory_order_release);
  munmap(mem, len);
  std::sort(calls, calls + kProbes);
  std::sort(faults, faults + kProbes);
  g_call_ns = calls[kProbes / 2];
  g_fault_ns = faults[kProbes / 2];
}

bool InstallHandler() {
  std::call_once(g_install_once, [] {
    struct sigaction sa;
    std::memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = OnFault;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    g_installed.store(sigaction(SIGSEGV, &sa, &g_previous) == 0);
    // A thread that blocks SIGSEGV cannot take the measuring faults (.sol.sigmask).
    sigset_t mask;
    if (g_installed.load() && pthread_sigmask(SIG_BLOCK, nullptr, &mask) == 0 && sigismember(&mask, SIGSEGV) == 0) {
      Calibrate();
    }
  });
  return g_installed.load();
}

class MprotectBarrier final : public Barrier {
 public:
  MprotectBarrier() : Barrier(BarrierKind::kMprotect) {
    EnsureAltStack();
    event_cost_ns_ = g_fault_ns;
    call_cost_ns_ = g_call_ns;
  }
  ~MprotectBarrier() override {
    if (alt_stack_ != nullptr) {
      stack_t none{};
      none.ss_flags = SS_DISABLE;
      sigaltstack(&none, nullptr);
      munmap(alt_stack_, kAltStackBytes);
    }
  }

  bool AttachChunk(Chunk&) override { return true; }
  bool Protect(uintptr_t start, size_t bytes) override {
    return mprotect(reinterpret_cast<void*>(start), bytes, PROT_READ) == 0;
  }
  bool Unprotect(uintptr_t start, size_t bytes) override {
    return mprotect(reinterpret_cast<void*>(start), bytes, PROT_READ | PROT_WRITE) == 0;
  }
  // .sol.maplimit: OpenForWriteCounted.
  bool OpenForWrite(Chunk& c, size_t i) override { return OpenForWriteCounted(this, c, i); }
  void CollectWritten(Chunk&) override {}  // the fault handler marked the pages already
  bool WritesFault() const override { return true; }

 private:
  // A fault taken near the end of the thread's stack must not need more of it.
  static constexpr size_t kAltStackBytes = size_t{64} << 10;

  void EnsureAltStack() {
    stack_t current{};
    if (sigaltstack(nullptr, &current) == 0 && (current.ss_flags & SS_DISABLE) == 0) return;  // the program has one
    void* mem = mmap(nullptr, kAltStackBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) return;
    stack_t ss{};
    ss.ss_sp = mem;
    ss.ss_size = kAltStackBytes;
    if (sigaltstack(&ss, nullptr) == 0) {
      alt_stack_ = mem;
    } else {
      munmap(mem, kAltStackBytes);
    }
  }

  void* alt_stack_ = nullptr;
};

}  // namespace

std::unique_ptr<Barrier> MakeMprotectBarrier() {
  if (!InstallHandler()) return nullptr;
  return std::make_unique<MprotectBarrier>();
}

}  // namespace keel::gc
