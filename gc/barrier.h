// barrier.h: the per-collector write barrier (DESIGN D5). Old pages that can hold pointers are
// write-protected after a collection; the first write to one marks it dirty for the next minor
// collection. Plain C stores (SCHEME_CAR(p) = x) are seen without instrumentation. Two backends
// behind one interface, chosen at start-up; KEEL_GC_BARRIER=uffd|mprotect|none forces one.
// Design note: docs/design/barrier.md.
#ifndef KEEL_GC_BARRIER_H
#define KEEL_GC_BARRIER_H

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "gc/heap.h"

namespace keel::gc {

class Collector;

enum class BarrierKind : uint8_t {
  kNone,      // no protection: every collection is a major one (valgrind- and gdb-friendly)
  kMprotect,  // mprotect + SIGSEGV handler on an alternate signal stack (portable)
  kUffd,      // userfaultfd asynchronous write-protect + PAGEMAP_SCAN (Linux 6.7+): no signal
};
const char* BarrierName(BarrierKind kind);

// Counts the fork()s this process descends from (a pthread_atfork child handler increments it).
uint64_t ForkGeneration();

// Owned by one collector. Protection state lives in the chunks' masks (heap.h); a backend only
// changes page protection and reports which protected pages were written. The masks keep one
// invariant whatever thread changes them (docs/design/barrier.md .inv.masks): a page that is
// write-protected has its protected bit set, so protection is applied after the bit is set and
// removed before it is cleared.
class Barrier {
 public:
  virtual ~Barrier() = default;
  BarrierKind kind() const { return kind_; }

  // A chunk was mapped; a backend may need to register it. False: the chunk cannot be tracked
  // (the collector then treats its pages as always dirty).
  virtual bool AttachChunk(Chunk& chunk) = 0;
  // Write-protects [start, start + bytes) (whole heap pages). False when the OS refused.
  virtual bool Protect(uintptr_t start, size_t bytes) = 0;
  // Makes the pages writable again before the collector reuses them. False when the OS refused
  // (the pages may then be partly writable: the caller stops trusting the chunk's masks).
  virtual bool Unprotect(uintptr_t start, size_t bytes) = 0;
  // Marks dirty every protected page of `chunk` written since it was protected, clearing its
  // protected bit (uffd re-arms it in the same call); mprotect's handler did this already.
  virtual void CollectWritten(Chunk& chunk) = 0;
  // Whether a protected page stays write-protected for the collector's own stores (mprotect).
  virtual bool WritesFault() const = 0;
  // Makes page i of `chunk` writable for a store that is about to happen, from any thread, and
  // marks it dirty (GC_write_barrier, the mprotect fault handler). False when the kernel refuses
  // even the fallback of .sol.maplimit.
  virtual bool OpenForWrite(Chunk& chunk, size_t i) {
    chunk.SetDirty(i);
    return true;
  }

  // Whether the process forked since this barrier last attached its chunks, leaving it state
  // that belongs to the parent (.sol.fork). The collector then calls Renew, attaches every chunk
  // again and makes its next collection a major one.
  // Only uffd's registrations and descriptors are per process; mprotect's protections and
  // handler carry over into the child as they are.
  bool Stale() const { return RenewsAfterFork() && fork_generation_ != ForkGeneration(); }
  virtual void Renew();

  // Figures since the last collection: faults taken (mprotect) and written pages found (uffd).
  // Faults are counted by whichever thread takes them.
  uint64_t TakeFaults() { return faults_.exchange(0, std::memory_order_relaxed); }
  uint64_t written_pages() const { return written_pages_; }
  uint64_t TakeWrittenPages() {
    uint64_t n = written_pages_;
    written_pages_ = 0;
    return n;
  }
  void CountFault() { faults_.fetch_add(1, std::memory_order_relaxed); }
  // Page-table changes since the last collection (.sol.figures): protect and unprotect calls,
  // and heap pages whose protection was removed. Counted by whichever thread makes them. Scans
  // for written pages (uffd) change nothing and are counted apart.
  void CountCalls(uint64_t n) { calls_.fetch_add(n, std::memory_order_relaxed); }
  void CountOpened(uint64_t pages) { opened_.fetch_add(pages, std::memory_order_relaxed); }
  uint64_t TakeCalls() { return calls_.exchange(0, std::memory_order_relaxed); }
  uint64_t TakeOpened() { return opened_.exchange(0, std::memory_order_relaxed); }
  uint64_t TakeScans() {
    uint64_t n = scans_;
    scans_ = 0;
    return n;
  }
  // What the barrier costs the mutator on this machine, measured once per process when the
  // backend starts (.sol.payoff): one write fault (mprotect) or one written 4 KiB page (uffd),
  // and one protection call.
  uint64_t event_cost_ns() const { return event_cost_ns_; }
  uint64_t call_cost_ns() const { return call_cost_ns_; }

 protected:
  explicit Barrier(BarrierKind kind);
  virtual bool RenewsAfterFork() const { return false; }
  uint64_t written_pages_ = 0;
  uint64_t scans_ = 0;  // the owner's collections only
  uint64_t event_cost_ns_ = 0;
  uint64_t call_cost_ns_ = 0;

 private:
  BarrierKind kind_;
  std::atomic<uint64_t> faults_{0};
  std::atomic<uint64_t> calls_{0};
  std::atomic<uint64_t> opened_{0};
  uint64_t fork_generation_;  // ForkGeneration() when the chunks were last attached
};

// The backend named by KEEL_GC_BARRIER, or the best one the kernel offers (uffd, else mprotect).
// `place`: the collector is made for a place. The checked build then prefers mprotect, whose
// fault handler sees which place writes into another's memory (uffd's tracking does not):
// docs/design/places.md .sol.foreign-writes.
std::unique_ptr<Barrier> MakeBarrier(Collector& owner, bool place);

// How many start-up probes of the kernel (uffd: the feature check on a scratch mapping; both
// backends: the cost measurement) this process has run. Each runs once per process, however many
// collectors (places, threads) are created (docs/design/places.md .sol.registry), and once more
// in a forked child that needs it.
uint64_t BarrierProbeRuns();
void CountBarrierProbe();

// Backend factories; nullptr when the kernel refuses.
std::unique_ptr<Barrier> MakeUffdBarrier();
std::unique_ptr<Barrier> MakeMprotectBarrier();
std::unique_ptr<Barrier> MakeNoBarrier();

// The uffd backend's process-wide descriptors around fork() (.sol.fork): held still while the
// process forks, closed in the child, which opens its own when a collector next needs them.
void UffdBeforeFork();
void UffdAfterForkInParent();
void UffdAfterForkInChild();

}  // namespace keel::gc

#endif  // KEEL_GC_BARRIER_H
