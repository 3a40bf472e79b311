// heap.h: a collector's pages. OS memory arrives in 4 MiB chunks (batch mmap, one page-map
// update per chunk); pages are handed out one at a time for small objects or as contiguous
// runs for big ones. Free pages stay committed for reuse; a collection gives back what the
// policy forbids the heap to use, and the decay thread what stayed unused for a while.
// Design note: docs/design/heap.md (.sol.chunks, .sol.retain).
#ifndef KEEL_GC_HEAP_H
#define KEEL_GC_HEAP_H

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <vector>

#include "gc/page.h"
#include "gc/registry.h"

namespace keel::gc {

// A contiguous, aligned piece of OS memory and the descriptors of its pages. A shared chunk has
// kChunkPages pages, or fewer when the heap limit leaves less (docs/design/heap.md .sol.chunks);
// masks hold no bits beyond `pages`. A dedicated chunk holds exactly one big object's run.
struct Chunk {
  static constexpr size_t kChunkPages = 256;
  static constexpr size_t kChunkBytes = kChunkPages * kPageSize;  // 4 MiB
  static constexpr size_t kMaskWords = kChunkPages / 64;

  uintptr_t base = 0;
  size_t pages = 0;
  bool dedicated = false;
  // A dedicated chunk first mapped as a loose run (Heap::TakeLooseRun): when its object dies it
  // goes back to the spare runs, still backed, instead of being unmapped.
  bool loose = false;
  uint32_t free_count = 0;
  uint64_t free_mask[kMaskWords] = {};       // 1: the page is free
  uint64_t committed_mask[kMaskWords] = {};  // 1: free and still backed by memory
  uint64_t released_mask[kMaskWords] = {};   // 1: free, and its memory was given back to the OS
  // 1: committed and free already at the last decay tick (heap.md .sol.retain); a page taken
  // since has its bit cleared, so `idle & committed` is what stayed unused a whole period.
  uint64_t idle_mask[kMaskWords] = {};
  PageDesc* descs = nullptr;                 // `pages` descriptors (dedicated: 1)
  // The owning collector, nullptr while the record is in the pool of unused records (.sol.type-stable).
  std::atomic<Collector*> owner{nullptr};
  // The owner's role and number (registry.h), for the fault handler's reports: it names both
  // sides of a write into another place's memory without touching the other collector.
  std::atomic<uint64_t> owner_label{0};
  // Pages the record's masks and heat arrays (and, shared, its descriptors) have room for: a
  // record is reused for any chunk of at most this many pages.
  size_t capacity = 0;
  // Write barrier state, one bit per page (docs/design/barrier.md .inv.masks): the page may be
  // write-protected; the page was written since it was protected. The owner's collection and the
  // mprotect fault handler of any thread (.sol.foreign) update them, so every change is one
  // atomic read-modify-write of its word.
  uint64_t* protected_mask = nullptr;
  uint64_t* dirty_mask = nullptr;
  bool untracked = false;  // the barrier could not attach: every old page counts as dirty
  // Write heat, one byte each per page (docs/design/barrier.md .sol.hot), changed only on the
  // owner's thread, by its collections and by the heap when it hands the page out again: how
  // often the page was found written after being protected (the level), and for how many more
  // collections it stays unprotected and scanned as dirty.
  uint8_t* heat_level = nullptr;
  uint8_t* heat_lease = nullptr;

  Collector* Owner() const { return owner.load(std::memory_order_acquire); }
  size_t IndexOf(const PageDesc* d) const { return static_cast<size_t>(d - descs); }
  size_t MaskWords() const { return (pages + 63) / 64; }
  size_t PageIndex(uintptr_t addr) const { return (addr - base) >> kPageShift; }
  bool IsProtected(size_t i) const { return TestMaskBit(protected_mask, i); }
  size_t CountProtected() const {
    size_t n = 0;
    for (size_t w = 0; w < MaskWords(); ++w) n += PopCount(__atomic_load_n(&protected_mask[w], __ATOMIC_RELAXED));
    return n;
  }
  void SetProtected(size_t i) { __atomic_fetch_or(&protected_mask[i >> 6], MaskBit(i), __ATOMIC_RELAXED); }
  void ClearProtected(size_t i) { __atomic_fetch_and(&protected_mask[i >> 6], ~MaskBit(i), __ATOMIC_RELAXED); }
  bool IsDirty(size_t i) const { return TestMaskBit(dirty_mask, i); }
  void SetDirty(size_t i) { __atomic_fetch_or(&dirty_mask[i >> 6], MaskBit(i), __ATOMIC_RELAXED); }
  // Reads and clears one word of the dirty mask; a bit set meanwhile by another thread stays.
  uint64_t TakeDirtyWord(size_t w) { return __atomic_exchange_n(&dirty_mask[w], 0, __ATOMIC_RELAXED); }

 private:
  static uint64_t MaskBit(size_t i) { return uint64_t{1} << (i & 63); }
  static bool TestMaskBit(const uint64_t* mask, size_t i) {
    return (__atomic_load_n(&mask[i >> 6], __ATOMIC_RELAXED) >> (i & 63)) & 1;
  }
};

class Barrier;

// Page-table figures since they were last taken, in 4 KiB OS pages (keel_gc_record).
struct PageCounts {
  uint64_t released = 0;   // given back to the OS
  uint64_t refaulted = 0;  // handed out after being given back
  uint64_t fresh = 0;      // handed out never touched
};

// Owned by one collector and changed on its thread, except that the decay thread gives back
// free pages that stayed unused (Decay). Everything the two share (the chunk list, the
// committed, released and idle masks and their counts) changes under mu_ (.sol.retain).
class Heap {
 public:
  explicit Heap(Collector* owner);
  // The barrier that new chunks attach to (set once, before the first chunk is mapped).
  void set_barrier(Barrier* b) { barrier_ = b; }
  // The owner's label, copied into every chunk record (now and for chunks mapped later).
  void set_label(CollectorLabel label);
  ~Heap();
  Heap(const Heap&) = delete;
  Heap& operator=(const Heap&) = delete;

  // One free page, state still kFree; desc->needs_zeroing says whether it may hold stale bytes.
  // nullptr when the heap limit or the OS says no.
  PageDesc* AllocatePage();
  // A run of `pages` contiguous pages for one big object; the head descriptor is returned with
  // every page mapped to it. nullptr when memory cannot be had.
  PageDesc* AllocateRun(size_t pages);
  void FreePage(PageDesc* d);
  void FreeRun(PageDesc* head);

  // Loose runs carry a message's big payloads between places (docs/design/places.md
  // .sol.adopt): a mapping that belongs to no collector (the page map knows its pages, with no
  // owner, so no collector marks, sweeps or protects them), written by the sending place and
  // taken whole into the receiver's heap by AdoptRun. A run whose adopted object dies, or one
  // no heap adopted, goes back to a process-wide list of spare runs, still backed, for the next
  // message; the decay thread unmaps spares that stayed unused for a period.
  // The start of a loose run of at least `bytes` bytes (whole pages, stale contents when it is a
  // spare), with its pages backed; nullptr when memory cannot be had. Any thread.
  static void* TakeLooseRun(size_t bytes);
  // A loose run that no heap adopted (a message destroyed undelivered). Any thread.
  static void DropLooseRun(void* start);
  // The bytes of the loose run at `start`.
  static size_t LooseRunBytes(void* start);
  // Takes the loose run at `start` into this heap as one dedicated chunk: its head descriptor,
  // state still kFree, owned by this heap's collector. Never fails: the memory exists already.
  PageDesc* AdoptRun(void* start);
  // One decay tick over the spare runs: unmaps those already idle at the previous tick. Returns
  // whether spares remain.
  static bool DecayLooseRuns();
  // Unmaps every spare run (keel_gc_release_memory).
  static void ReleaseLooseRuns();

  // Decommits free pages beyond `keep_bytes` of committed free memory and unmaps chunks that
  // are wholly free and not needed; what stays committed is left to the decay thread (SIZE_MAX:
  // nothing goes back now). Returns the bytes given back.
  size_t Release(size_t keep_bytes);
  // One decay tick (the decay thread, .sol.retain): gives back the committed free pages that
  // were idle at the previous tick too, and marks the rest idle. Skips what it cannot lock at
  // once. Returns whether committed free pages remain, for a later tick.
  bool Decay();
  // The figures since the previous call (the collector's records).
  PageCounts TakePageCounts();

  size_t heap_bytes() const { return heap_bytes_; }
  size_t committed_free_bytes() const { return Load(committed_free_pages_) * kPageSize; }
  size_t free_bytes() const { return free_pages_ * kPageSize; }
  // Bytes of pages holding objects (small pages and big runs).
  size_t in_use_bytes() const { return heap_bytes_ - free_bytes(); }
  // Free pages whose memory Release gave back (bdwgc's "unmapped" bytes); fresh pages never
  // touched are neither committed nor released.
  size_t released_free_bytes() const { return Load(released_free_pages_) * kPageSize; }
  size_t unmapped_free_bytes() const { return (free_pages_ - Load(committed_free_pages_)) * kPageSize; }
  // Heap pages backed by memory: in use, or free and not yet given back.
  size_t committed_bytes() const { return heap_bytes_ - unmapped_free_bytes(); }
  void set_max_heap_bytes(size_t n) { max_heap_bytes_ = n; }
  size_t max_heap_bytes() const { return max_heap_bytes_; }
  // The largest heap (and so the largest request) that could ever be had: physical memory plus
  // swap, or the heap limit when that is smaller (docs/design/heap.md .sol.too-big).
  size_t largest_heap() const;
  // Reserves chunks so at least `bytes` of heap exist (GC_INITIAL_HEAP_SIZE). Returns false,
  // at once, when `bytes` is beyond largest_heap(), or when the OS refuses.
  bool Expand(size_t bytes);
  // Adds `more` bytes of free pages to the heap (GC_expand_hp); false as Expand.
  bool Grow(size_t more);

  // Bounds of every address the heap has ever mapped (a quick filter for the marker).
  uintptr_t lo() const { return lo_; }
  uintptr_t hi() const { return hi_; }
  const std::vector<Chunk*>& chunks() const { return chunks_; }
  // Calls f(PageDesc&) for every small page and every big run head.
  template <class F>
  void ForEachInUse(F&& f) const {
    // By index: f may allocate (a moving plan's copies) and a new chunk may grow the list.
    for (size_t k = 0; k < chunks_.size(); ++k) {
      Chunk* c = chunks_[k];
      size_t ndesc = c->dedicated ? 1 : c->pages;  // a dedicated chunk has one descriptor
      for (size_t i = 0; i < ndesc; ++i) {
        PageDesc& d = c->descs[i];
        if (d.state == PageState::kSmall || d.state == PageState::kBigHead) f(d);
      }
    }
  }

 private:
  static size_t Load(const size_t& n) { return __atomic_load_n(&n, __ATOMIC_RELAXED); }
  static void Add(size_t& n, ptrdiff_t d) { __atomic_store_n(&n, n + static_cast<size_t>(d), __ATOMIC_RELAXED); }
  Chunk* MapChunk(size_t pages, bool dedicated);
  // Pages for the next shared chunk: a whole chunk, or what the heap limit leaves when that is
  // less (a small heap); 0 when that is fewer than `need`.
  size_t SharedChunkPages(size_t need) const;
  void UnmapChunk(Chunk* c);
  // A dead object's loose chunk (FreeRun), or any dedicated chunk of a heap that goes: off this
  // heap, back to the spare runs (unmapped instead if a page of it is protected).
  void Disown(Chunk* c);
  // The same for a shared chunk of a heap that goes (~Heap), and its way back into a heap.
  void DisownShared(Chunk* c);
  void JoinShared(Chunk* c);
  // Takes the ownerless dedicated chunk c into this heap (caller holds mu_, room made in
  // chunks_); `attach`: to the write barrier.
  void Join(Chunk* c, bool attach);
  void MarkFree(Chunk* c, size_t first, size_t count, bool committed);
  PageDesc* TakePages(Chunk* c, size_t first, size_t count);
  bool FindRun(Chunk* c, size_t pages, size_t* first) const;
  // Decommits the committed free pages of `c` selected by `want` (one bit per page, a word at a
  // time through `want(w)`), one madvise per contiguous run; caller holds mu_. Returns pages.
  template <class Want>
  size_t DecommitWhere(Chunk* c, Want&& want);

  Collector* owner_;
  CollectorLabel label_;
  Barrier* barrier_ = nullptr;
  std::mutex mu_;
  std::vector<Chunk*> chunks_;
  size_t cursor_ = 0;  // chunk where the last single page came from
  size_t heap_bytes_ = 0;
  size_t free_pages_ = 0;
  // Read without mu_ by the owner's figures: changed under it, loaded and stored atomically.
  size_t committed_free_pages_ = 0;
  size_t released_free_pages_ = 0;
  PageCounts counts_;  // under mu_
  bool registered_ = false;  // with the decay thread
  size_t max_heap_bytes_ = 0;  // 0: no limit
  uintptr_t lo_ = UINTPTR_MAX;
  uintptr_t hi_ = 0;
};

}  // namespace keel::gc

#endif  // KEEL_GC_HEAP_H
