// generations.h: the old generation's write-protection state for sticky-mark generations: which
// old pages are protected, hot or dirty, finding and scanning the written ones for a minor
// collection, and opening pages before the allocator reuses them. Design note:
// docs/design/barrier.md (.sol.minor, .sol.hot, .sol.batch, .sol.alloc, .inv.masks).
#ifndef KEEL_GC_GENERATIONS_H
#define KEEL_GC_GENERATIONS_H

#include <cstddef>
#include <cstdint>

#include "gc/barrier.h"
#include "gc/heap.h"
#include "gc/os_memory.h"

namespace keel::gc {

class Tracer;

// One per collector, owned by it and touched only on its thread (other threads' faults change
// the chunks' masks atomically, .sol.foreign). The collection calls the phase functions in
// this order: FindWritten (minor) or ForgetWritten (major), ScanWritten (minor), then
// ProtectOldPages or OpenAll after the sweep. The spaces call Open when they hand out pages.
class Generations {
 public:
  Generations(Heap& heap, Barrier& barrier) : heap_(heap), barrier_(barrier) {}
  Generations(const Generations&) = delete;
  Generations& operator=(const Generations&) = delete;

  // Asks the barrier which protected pages were written since the last collection.
  void FindWritten();
  // A major collection traces every old object: what was written before it needs no scan.
  void ForgetWritten();
  // Scans the old objects of every dirty page (a minor collection's extra roots).
  void ScanWritten(Tracer& t);
  // After the sweep: protects old pointer pages that are not hot, opens every other protected
  // page. Returns the pages newly protected.
  uint64_t ProtectOldPages();
  // Opens every protected page and marks it dirty (orphans; SIGSEGV blocked under mprotect).
  void OpenAll();
  // After a fork: attaches every chunk to the barrier again (.sol.fork).
  void Renew();
  // Makes `count` pages from page `first` of c writable where they are protected, marking them
  // dirty when `mark_dirty`. `by_mutator`: the allocator asked, and the call is counted against
  // the barrier's payoff (.sol.payoff).
  void Open(Chunk& c, size_t first, size_t count, bool mark_dirty, bool by_mutator);

  // Whether the allocator should open `pages` protected heap pages with one call before it
  // writes them: always where writes fault (mprotect); under uffd, where the kernel resolves
  // the faults itself, only when the call costs less than the faults (four per page) at the
  // costs measured on this machine (.sol.alloc).
  bool OpeningPays(size_t pages) const {
    return barrier_.WritesFault() ||
           barrier_.event_cost_ns() * (kPageSize / os::kOsPageSize) * pages >= barrier_.call_cost_ns();
  }

  // GC_write_barrier: marks the page holding p dirty and, where the backend would fault,
  // writable. Any thread may call it, for any collector's memory (.sol.foreign).
  static void PreDirty(const void* p);

  // Left open at the last collection (.sol.hot).
  size_t hot_pages() const { return hot_pages_; }
  // Protected after the last collection (.sol.payoff); 0 after OpenAll.
  uint64_t protected_pages() const { return protected_pages_; }
  // Protection calls the allocator made since the last TakeMutatorCalls.
  uint64_t mutator_calls() const { return mutator_calls_; }
  uint64_t TakeMutatorCalls() {
    uint64_t n = mutator_calls_;
    mutator_calls_ = 0;
    return n;
  }

 private:
  enum class PageChange : uint8_t { kNone, kProtect, kOpen };
  void ScanPage(Tracer& t, Chunk& c, size_t i);
  PageChange Decide(Chunk& c, size_t i, size_t* hot);
  uint64_t ApplyProtection(Chunk& c, size_t first, size_t end, size_t changes);
  void ApplyOpening(Chunk& c, size_t first, size_t end, size_t changes);
  static bool HoldsOldPointers(const Chunk& c, size_t i);

  Heap& heap_;
  Barrier& barrier_;
  size_t hot_pages_ = 0;
  uint64_t protected_pages_ = 0;
  uint64_t mutator_calls_ = 0;
};

}  // namespace keel::gc

#endif  // KEEL_GC_GENERATIONS_H
