// barrier.h: the per-collector write barrier (DESIGN D5). Old pages that can hold pointers are
// write-protected after a collection; the first write to one marks it dirty for the next minor
// collection. Plain C stores (SCHEME_CAR(p) = x) are seen without instrumentation. Two backends
// behind one interface, chosen at start-up; KEEL_GC_BARRIER=uffd|mprotect|none forces one.
// Design note: docs/design/barrier.md.
#ifndef KEEL_GC_BARRIER_H
#define KEEL_GC_BARRIER_H

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace keel::gc {

class Collector;
struct Chunk;

enum class BarrierKind : uint8_t {
  kNone,      // no protection: every collection is a major one (valgrind- and gdb-friendly)
  kMprotect,  // mprotect + SIGSEGV handler on an alternate signal stack (portable)
  kUffd,      // userfaultfd asynchronous write-protect + PAGEMAP_SCAN (Linux 6.7+): no signal
};
const char* BarrierName(BarrierKind kind);

// Owned by one collector. Protection state lives in the chunks' masks (heap.h); a backend only
// changes page protection and reports which protected pages were written.
class Barrier {
 public:
  virtual ~Barrier() = default;
  BarrierKind kind() const { return kind_; }

  // A chunk was mapped; a backend may need to register it. False: the chunk cannot be tracked
  // (the collector then treats its pages as always dirty).
  virtual bool AttachChunk(Chunk& chunk) = 0;
  // Write-protects [start, start + bytes) (whole heap pages). False when the OS refused.
  virtual bool Protect(uintptr_t start, size_t bytes) = 0;
  // Makes the pages writable again before the collector reuses them.
  virtual void Unprotect(uintptr_t start, size_t bytes) = 0;
  // Marks dirty every protected page of `chunk` written since it was protected, clearing its
  // protected bit (uffd re-arms it in the same call); mprotect's handler did this already.
  virtual void CollectWritten(Chunk& chunk) = 0;
  // Whether a protected page stays write-protected for the collector's own stores (mprotect).
  virtual bool WritesFault() const = 0;

  // Figures since the last collection: faults taken (mprotect) and written pages found (uffd).
  uint64_t TakeFaults() {
    uint64_t n = faults_;
    faults_ = 0;
    return n;
  }
  uint64_t TakeWrittenPages() {
    uint64_t n = written_pages_;
    written_pages_ = 0;
    return n;
  }
  void CountFault() { ++faults_; }

 protected:
  explicit Barrier(BarrierKind kind) : kind_(kind) {}
  uint64_t written_pages_ = 0;

 private:
  BarrierKind kind_;
  uint64_t faults_ = 0;
};

// The backend named by KEEL_GC_BARRIER, or the best one the kernel offers (uffd, else mprotect).
std::unique_ptr<Barrier> MakeBarrier(Collector& owner);

// Backend factories; nullptr when the kernel refuses.
std::unique_ptr<Barrier> MakeUffdBarrier();
std::unique_ptr<Barrier> MakeMprotectBarrier();
std::unique_ptr<Barrier> MakeNoBarrier();

}  // namespace keel::gc

#endif  // KEEL_GC_BARRIER_H
