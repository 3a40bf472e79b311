// heap.h: a collector's pages. OS memory arrives in 4 MiB chunks (batch mmap, one page-map
// update per chunk); pages are handed out one at a time for small objects or as contiguous
// runs for big ones, and free pages beyond what the next cycle needs go back to the OS.
// Design note: docs/design/heap.md (.sol.chunks, .sol.release).
#ifndef KEEL_GC_HEAP_H
#define KEEL_GC_HEAP_H

#include <cstddef>
#include <cstdint>
#include <vector>

#include "gc/page.h"

namespace keel::gc {

// A contiguous, aligned piece of OS memory and the descriptors of its pages. A normal chunk has
// kChunkPages pages; a dedicated chunk holds exactly one big object's run.
struct Chunk {
  static constexpr size_t kChunkPages = 256;
  static constexpr size_t kChunkBytes = kChunkPages * kPageSize;  // 4 MiB
  static constexpr size_t kMaskWords = kChunkPages / 64;

  uintptr_t base = 0;
  size_t pages = 0;
  bool dedicated = false;
  uint32_t free_count = 0;
  uint64_t free_mask[kMaskWords] = {};       // 1: the page is free
  uint64_t committed_mask[kMaskWords] = {};  // 1: free and still backed by memory
  uint64_t released_mask[kMaskWords] = {};   // 1: free, and its memory was given back to the OS
  PageDesc* descs = nullptr;                 // `pages` descriptors (dedicated: 1)
  Collector* owner = nullptr;
  // Write barrier state, one bit per page (docs/design/barrier.md .inv.masks): the page may be
  // write-protected; the page was written since it was protected. The SIGSEGV handler of the
  // mprotect backend updates both on the owner's thread.
  uint64_t* protected_mask = nullptr;
  uint64_t* dirty_mask = nullptr;
  bool untracked = false;  // the barrier could not attach: every old page counts as dirty

  size_t IndexOf(const PageDesc* d) const { return static_cast<size_t>(d - descs); }
  size_t MaskWords() const { return (pages + 63) / 64; }
  size_t PageIndex(uintptr_t addr) const { return (addr - base) >> kPageShift; }
  bool IsProtected(size_t i) const { return (protected_mask[i >> 6] >> (i & 63)) & 1; }
  void SetProtected(size_t i) { protected_mask[i >> 6] |= uint64_t{1} << (i & 63); }
  void ClearProtected(size_t i) { protected_mask[i >> 6] &= ~(uint64_t{1} << (i & 63)); }
  bool IsDirty(size_t i) const { return (dirty_mask[i >> 6] >> (i & 63)) & 1; }
  void SetDirty(size_t i) { dirty_mask[i >> 6] |= uint64_t{1} << (i & 63); }
};

class Barrier;

// Owned by one collector; touched only on its thread.
class Heap {
 public:
  explicit Heap(Collector* owner);
  // The barrier that new chunks attach to (set once, before the first chunk is mapped).
  void set_barrier(Barrier* b) { barrier_ = b; }
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

  // Decommits free pages beyond `keep_bytes` of committed free memory and unmaps chunks that
  // are wholly free and not needed. Returns the bytes given back.
  size_t Release(size_t keep_bytes);

  size_t heap_bytes() const { return heap_bytes_; }
  size_t committed_free_bytes() const { return committed_free_pages_ * kPageSize; }
  size_t free_bytes() const { return free_pages_ * kPageSize; }
  // Free pages whose memory Release gave back (bdwgc's "unmapped" bytes); fresh pages never
  // touched are neither committed nor released.
  size_t released_free_bytes() const { return released_free_pages_ * kPageSize; }
  size_t unmapped_free_bytes() const { return (free_pages_ - committed_free_pages_) * kPageSize; }
  // Heap pages backed by memory: in use, or free and not yet given back.
  size_t committed_bytes() const { return heap_bytes_ - unmapped_free_bytes(); }
  void set_max_heap_bytes(size_t n) { max_heap_bytes_ = n; }
  size_t max_heap_bytes() const { return max_heap_bytes_; }
  // Reserves chunks so at least `bytes` of heap exist (GC_expand_hp). Returns false on failure.
  bool Expand(size_t bytes);

  // Bounds of every address the heap has ever mapped (a quick filter for the marker).
  uintptr_t lo() const { return lo_; }
  uintptr_t hi() const { return hi_; }
  const std::vector<Chunk*>& chunks() const { return chunks_; }
  // Calls f(PageDesc&) for every small page and every big run head.
  template <class F>
  void ForEachInUse(F&& f) const {
    for (Chunk* c : chunks_) {
      size_t ndesc = c->dedicated ? 1 : c->pages;  // a dedicated chunk has one descriptor
      for (size_t i = 0; i < ndesc; ++i) {
        PageDesc& d = c->descs[i];
        if (d.state == PageState::kSmall || d.state == PageState::kBigHead) f(d);
      }
    }
  }

 private:
  Chunk* MapChunk(size_t pages, bool dedicated);
  void UnmapChunk(Chunk* c);
  void MarkFree(Chunk* c, size_t first, size_t count, bool committed);
  PageDesc* TakePages(Chunk* c, size_t first, size_t count);
  bool FindRun(Chunk* c, size_t pages, size_t* first) const;

  Collector* owner_;
  Barrier* barrier_ = nullptr;
  std::vector<Chunk*> chunks_;
  size_t cursor_ = 0;  // chunk where the last single page came from
  size_t heap_bytes_ = 0;
  size_t free_pages_ = 0;
  size_t committed_free_pages_ = 0;
  size_t released_free_pages_ = 0;
  size_t max_heap_bytes_ = 0;  // 0: no limit
  uintptr_t lo_ = UINTPTR_MAX;
  uintptr_t hi_ = 0;
};

}  // namespace keel::gc

#endif  // KEEL_GC_HEAP_H
