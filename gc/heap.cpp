// heap.cpp: chunks, page and run allocation, release to the OS (heap.h, docs/design/heap.md).
#include "gc/heap.h"

#include <algorithm>
#include <bit>
#include <iterator>
#include <new>

#include <pthread.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#endif

#include "gc/barrier.h"
#include "gc/decay.h"
#include "gc/os_memory.h"
#include "gc/page_map.h"

namespace keel::gc {
namespace {

inline bool TestBit(const uint64_t* mask, size_t i) { return (mask[i >> 6] >> (i & 63)) & 1; }
inline void SetBit(uint64_t* mask, size_t i) { mask[i >> 6] |= uint64_t{1} << (i & 63); }
inline void ClearBit(uint64_t* mask, size_t i) { mask[i >> 6] &= ~(uint64_t{1} << (i & 63)); }

// Runs at most this many pages come from shared chunks; longer ones get a dedicated mapping,
// which munmap returns to the OS the moment the object dies (unless it was a spare, heap.md
// .sol.spares: then it goes back to the spares).
constexpr size_t kMaxSharedRunPages = Chunk::kChunkPages / 4;

// Chunk records are type-stable (docs/design/heap.md .sol.type-stable): a record, its
// descriptors and its masks are never freed, because another thread may be reading a descriptor
// it found through the page map just before the chunk went. An unmapped chunk's record goes to
// this process-wide pool and comes back for a later chunk of this or any other collector. Shared
// records all have room for a whole chunk; dedicated ones for a power-of-two number of pages,
// pooled by that power. The pool never holds more records than the process once had chunks
// mapped at the same time. Records are allocated without throwing: running out of memory here
// is an out-of-memory answer that the C API reports as such (NULL, the OOM function), never an
// exception across it.
void ZeroAndRelease(uint8_t* p, size_t bytes);

class ChunkRecords {
 public:
  static Chunk* Take(size_t pages, bool dedicated) {
    const size_t capacity = dedicated ? std::bit_ceil(pages) : Chunk::kChunkPages;
    Chunk* c = nullptr;
    {
      std::lock_guard<std::mutex> lock(mu_);
      std::vector<Chunk*>& pool = PoolFor(capacity, dedicated);
      if (!pool.empty()) {
        c = pool.back();
        pool.pop_back();
      }
    }
    if (c == nullptr) return New(capacity, dedicated);
    for (size_t i = 0; i < (dedicated ? 1 : capacity); ++i) c->descs[i].Recycle();
    return c;
  }

  // `c` is unmapped and no page map entry points at it any more.
  static void Give(Chunk* c) {
    c->owner.store(nullptr, std::memory_order_release);
    c->owner_label.store(0, std::memory_order_relaxed);
    c->base = 0;
    c->pages = 0;
    c->free_count = 0;
    c->loose = false;
    c->untracked = false;
    std::fill(std::begin(c->free_mask), std::end(c->free_mask), 0);
    std::fill(std::begin(c->committed_mask), std::end(c->committed_mask), 0);
    std::fill(std::begin(c->released_mask), std::end(c->released_mask), 0);
    std::fill(std::begin(c->idle_mask), std::end(c->idle_mask), 0);
    const size_t words = (c->capacity + 63) / 64;
    for (size_t w = 0; w < words; ++w) {
      __atomic_store_n(&c->protected_mask[w], 0, __ATOMIC_RELAXED);
      __atomic_store_n(&c->dirty_mask[w], 0, __ATOMIC_RELAXED);
    }
    ZeroAndRelease(c->heat_level, c->capacity);
    ZeroAndRelease(c->heat_lease, c->capacity);
    std::lock_guard<std::mutex> lock(mu_);
    try {
      PoolFor(c->capacity, c->dedicated).push_back(c);
    } catch (const std::bad_alloc&) {
      // Not kept for reuse: the record stays allocated (and valid for late readers) regardless.
    }
  }

  // fork(): no other thread is inside the pool while the child is made.
  static void Lock() { mu_.lock(); }
  static void Unlock() { mu_.unlock(); }

 private:
  static Chunk* New(size_t capacity, bool dedicated) {
    auto* c = new (std::nothrow) Chunk;
    if (c == nullptr) return nullptr;
    c->capacity = capacity;
    c->dedicated = dedicated;
    const size_t words = (capacity + 63) / 64;
    c->protected_mask = new (std::nothrow) uint64_t[words]();
    c->dirty_mask = new (std::nothrow) uint64_t[words]();
    c->heat_level = new (std::nothrow) uint8_t[capacity]();
    c->heat_lease = new (std::nothrow) uint8_t[capacity]();
    c->descs = new (std::nothrow) PageDesc[dedicated ? 1 : capacity];
    if (c->protected_mask == nullptr || c->dirty_mask == nullptr || c->heat_level == nullptr ||
        c->heat_lease == nullptr || c->descs == nullptr) {
      // Never seen by the page map: this one may be freed.
      delete[] c->protected_mask;
      delete[] c->dirty_mask;
      delete[] c->heat_level;
      delete[] c->heat_lease;
      delete[] c->descs;
      delete c;
      return nullptr;
    }
    for (size_t i = 0; i < (dedicated ? 1 : capacity); ++i) c->descs[i].chunk = c;
    return c;
  }

  // The lists live in a heap object that is never destroyed: collectors (and so records) may
  // still come and go while static destructors run at exit, and a leak checker that runs after
  // them still finds every pooled record through it.
  struct Lists {
    std::vector<Chunk*> shared;
    std::vector<Chunk*> dedicated[64];
  };
  static std::vector<Chunk*>& PoolFor(size_t capacity, bool dedicated) {
    static Lists* lists = new Lists;
    return dedicated ? lists->dedicated[std::countr_zero(capacity)] : lists->shared;
  }

  static inline std::mutex mu_;
};

// Zeroes [p, p + bytes); the whole OS pages inside go back to the OS (they read as zero), so a
// pooled record of a huge dedicated chunk keeps no resident memory for its per-page arrays.
void ZeroAndRelease(uint8_t* p, size_t bytes) {
  const auto lo = reinterpret_cast<uintptr_t>(p);
  const uintptr_t inner_lo = (lo + os::kOsPageSize - 1) & ~(os::kOsPageSize - 1);
  const uintptr_t inner_hi = (lo + bytes) & ~(os::kOsPageSize - 1);
  if (inner_hi <= inner_lo) {
    std::fill(p, p + bytes, 0);
    return;
  }
  std::fill(p, reinterpret_cast<uint8_t*>(inner_lo), 0);
  os::Decommit(reinterpret_cast<void*>(inner_lo), inner_hi - inner_lo);
  std::fill(reinterpret_cast<uint8_t*>(inner_hi), p + bytes, 0);
}

// The spares (docs/design/heap.md .sol.spares, places.md .sol.adopt): chunks with no owner,
// mapped and backed, their pages in the page map under ownerless descriptors, kept for the next
// heap or the next message's payload: loose runs, and the chunks of heaps that went. At most
// kSpareBytes are kept; a spare that stays unused a whole decay period is unmapped.
class Spares {
 public:
  static constexpr size_t kSpareBytes = size_t{64} << 20;

  // A spare of `pages` pages or up to a quarter more, else a fresh mapping.
  static Chunk* Take(size_t pages) {
    Chunk* c = TakeSpare(pages);
    return c != nullptr ? c : Map(pages);
  }

  // A spare of `pages` pages or up to a quarter more; nullptr when there is none.
  static Chunk* TakeSpare(size_t pages) {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<Spare>& spares = List();
    size_t best = spares.size();
    for (size_t i = 0; i < spares.size(); ++i) {
      const size_t p = spares[i].chunk->pages;
      if (spares[i].chunk->dedicated && p >= pages && p <= pages + pages / 4 &&
          (best == spares.size() || p < spares[best].chunk->pages)) {
        best = i;
      }
    }
    if (best == spares.size()) return nullptr;
    Chunk* c = spares[best].chunk;
    spares[best] = spares.back();
    spares.pop_back();
    spare_bytes_ -= c->pages << kPageShift;
    return c;
  }

  // A whole shared chunk that a heap let go of; nullptr when there is none.
  static Chunk* TakeShared() {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<Spare>& spares = List();
    for (size_t i = 0; i < spares.size(); ++i) {
      Chunk* c = spares[i].chunk;
      if (c->dedicated) continue;
      spares[i] = spares.back();
      spares.pop_back();
      spare_bytes_ -= c->pages << kPageShift;
      return c;
    }
    return nullptr;
  }

  // Whether `bytes` more would be kept (a heap that goes asks before it prepares a chunk).
  static bool HasRoom(size_t bytes) {
    std::lock_guard<std::mutex> lock(mu_);
    return spare_bytes_ + bytes <= kSpareBytes;
  }

  // `c` has no owner any more (never had one, or its heap let go of it).
  static void Give(Chunk* c) {
    bool kept = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      const size_t bytes = c->pages << kPageShift;
      if (spare_bytes_ + bytes <= kSpareBytes) {
        try {
          List().push_back(Spare{c, false});
          spare_bytes_ += bytes;
          kept = true;
        } catch (const std::bad_alloc&) {
        }
      }
    }
    if (kept) {
      DecayThread::Wake();
    } else {
      Unmap(c);
    }
  }

  static bool Decay() {
    Chunk* gone[16];
    size_t n = 0;
    bool left = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      std::vector<Spare>& spares = List();
      for (size_t i = 0; i < spares.size();) {
        if (spares[i].idle && n < std::size(gone)) {
          gone[n++] = spares[i].chunk;
          spare_bytes_ -= spares[i].chunk->pages << kPageShift;
          spares[i] = spares.back();
          spares.pop_back();
        } else {
          spares[i].idle = true;
          ++i;
        }
      }
      left = !spares.empty();
    }
    for (size_t i = 0; i < n; ++i) Unmap(gone[i]);
    return left;
  }

  static void ReleaseAll() {
    for (;;) {
      Chunk* c = nullptr;
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (List().empty()) return;
        c = List().back().chunk;
        List().pop_back();
        spare_bytes_ -= c->pages << kPageShift;
      }
      Unmap(c);
    }
  }

  static void Unmap(Chunk* c) {
    PageMap::Set(c->base, c->pages, nullptr);
    os::Unmap(reinterpret_cast<void*>(c->base), c->pages << kPageShift);
    ChunkRecords::Give(c);
  }

  static void Lock() { mu_.lock(); }
  static void Unlock() { mu_.unlock(); }

 private:
  struct Spare {
    Chunk* chunk;
    bool idle;  // unused since the previous decay tick
  };
  static Chunk* Map(size_t pages);
  // Never destroyed, as ChunkRecords' lists: places may still end while static destructors run.
  static std::vector<Spare>& List() {
    static auto* list = new std::vector<Spare>;
    return *list;
  }
  static inline std::mutex mu_;
  static inline size_t spare_bytes_ = 0;  // under mu_
};

pthread_once_t g_records_atfork_once = PTHREAD_ONCE_INIT;
void InstallRecordForkHandlers() {
  pthread_atfork([] { Spares::Lock(); ChunkRecords::Lock(); },
                 [] { ChunkRecords::Unlock(); Spares::Unlock(); },
                 [] { ChunkRecords::Unlock(); Spares::Unlock(); });
}

Chunk* Spares::Map(size_t pages) {
  const size_t bytes = pages << kPageShift;
  void* mem = os::MapAligned(bytes, kPageSize);
  if (mem == nullptr) return nullptr;
  pthread_once(&g_records_atfork_once, InstallRecordForkHandlers);
  Chunk* c = ChunkRecords::Take(pages, true);
  if (c == nullptr) {
    os::Unmap(mem, bytes);
    return nullptr;
  }
  c->base = reinterpret_cast<uintptr_t>(mem);
  c->pages = pages;
  c->loose = true;
  PageDesc& d = c->descs[0];
  d.start = c->base;
  d.run_pages = static_cast<uint32_t>(pages);
  if (!PageMap::Set(c->base, pages, &d)) {
    PageMap::Set(c->base, pages, nullptr);
    os::Unmap(mem, bytes);
    ChunkRecords::Give(c);
    return nullptr;
  }
  // The sender writes every page at once (heap.md .sol.thp).
  os::Populate(mem, bytes);
  return c;
}

Chunk* LooseChunkAt(void* start) {
  PageDesc* d = PageMap::Lookup(reinterpret_cast<uintptr_t>(start));
  return d != nullptr && d->chunk->loose && d->start == reinterpret_cast<uintptr_t>(start) ? d->chunk : nullptr;
}

// Room for one more chunk in the list, so the push_back that follows cannot throw.
bool ReserveSlot(std::vector<Chunk*>& chunks) {
  try {
    chunks.reserve(chunks.size() + 1);
    return true;
  } catch (const std::bad_alloc&) {
    return false;
  }
}

}  // namespace

// 16 KiB heap pages in 4 KiB OS pages, the unit of the page-table figures.
constexpr uint64_t kOsPagesPerPage = kPageSize / os::kOsPageSize;

Heap::Heap(Collector* owner) : owner_(owner) {}

void Heap::set_label(CollectorLabel label) {
  label_ = label;
  for (Chunk* c : chunks_) c->owner_label.store(label.bits, std::memory_order_relaxed);
}

Heap::~Heap() {
  // Off the decay thread's list first: a tick in progress finishes before anything goes.
  if (registered_) DecayThread::Leave(this);
  // Its chunks become spares, still backed, for the next place's heap or the next big message
  // (heap.md .sol.spares), as far as the spares' bound allows; the rest are unmapped.
  for (Chunk* c : chunks_) {
    if (c->dedicated) {
      Disown(c);
    } else {
      DisownShared(c);
    }
  }
}

// A shared chunk of a heap that goes: every page free again, each descriptor its page's own
// (a big run's tail pages pointed at its head), protection removed, the pages that are backed
// (in use, or free and committed) marked committed so that the next owner zeroes them before use,
// the released and never-touched ones kept as such.
void Heap::DisownShared(Chunk* c) {
  const size_t bytes = c->pages << kPageShift;
  if (c->pages != Chunk::kChunkPages || !Spares::HasRoom(bytes) ||
      (c->CountProtected() != 0 && (barrier_ == nullptr || !barrier_->Unprotect(c->base, bytes)))) {
    UnmapChunk(c);
    return;
  }
  c->owner.store(nullptr, std::memory_order_release);
  c->owner_label.store(0, std::memory_order_relaxed);
  for (size_t i = 0; i < c->pages; ++i) {
    PageDesc& d = c->descs[i];
    d.owner.store(nullptr, std::memory_order_release);
    d.Recycle();
    d.start = c->base + (i << kPageShift);
    PageMap::Set(d.start, 1, &d);
  }
  for (size_t w = 0; w < c->MaskWords(); ++w) {
    c->committed_mask[w] = ~c->released_mask[w] & (c->committed_mask[w] | ~c->free_mask[w]);
    c->free_mask[w] = ~uint64_t{0};
    c->idle_mask[w] = 0;
    __atomic_store_n(&c->protected_mask[w], 0, __ATOMIC_RELAXED);
    __atomic_store_n(&c->dirty_mask[w], 0, __ATOMIC_RELAXED);
  }
  c->free_count = static_cast<uint32_t>(c->pages);
  c->untracked = false;
  std::fill(c->heat_level, c->heat_level + c->pages, 0);
  std::fill(c->heat_lease, c->heat_lease + c->pages, 0);
#if defined(__SANITIZE_ADDRESS__)
  __lsan_unregister_root_region(reinterpret_cast<void*>(c->base), bytes);
#endif
  heap_bytes_ -= bytes;
  Spares::Give(c);
}

// Caller holds mu_ and has made room in chunks_ for c, a spare shared chunk.
void Heap::JoinShared(Chunk* c) {
  const size_t bytes = c->pages << kPageShift;
  c->owner_label.store(label_.bits, std::memory_order_relaxed);
  c->owner.store(owner_, std::memory_order_release);
  for (size_t i = 0; i < c->pages; ++i) c->descs[i].owner.store(owner_, std::memory_order_release);
  if (barrier_ != nullptr && !barrier_->AttachChunk(*c)) c->untracked = true;
#if defined(__SANITIZE_ADDRESS__)
  __lsan_register_root_region(reinterpret_cast<void*>(c->base), bytes);
#endif
  size_t committed = 0, released = 0;
  for (size_t w = 0; w < c->MaskWords(); ++w) {
    committed += static_cast<size_t>(std::popcount(c->committed_mask[w]));
    released += static_cast<size_t>(std::popcount(c->released_mask[w]));
  }
  Add(committed_free_pages_, static_cast<ptrdiff_t>(committed));
  Add(released_free_pages_, static_cast<ptrdiff_t>(released));
  free_pages_ += c->pages;
  heap_bytes_ += bytes;
  if (c->base < lo_) lo_ = c->base;
  if (c->base + bytes > hi_) hi_ = c->base + bytes;
  chunks_.push_back(c);
}

Chunk* Heap::MapChunk(size_t pages, bool dedicated) {
  size_t bytes = pages << kPageShift;
  if (pages == 0) return nullptr;
  if (max_heap_bytes_ != 0 && (bytes > max_heap_bytes_ || heap_bytes_ > max_heap_bytes_ - bytes)) return nullptr;
  // A whole shared chunk that a finished heap left (.sol.spares): the pages it had touched are
  // backed, so they cost a zeroing, not a first-touch fault.
  if (!dedicated && pages == Chunk::kChunkPages) {
    if (Chunk* c = Spares::TakeShared()) {
      if (!ReserveSlot(chunks_)) {
        Spares::Give(c);
        return nullptr;
      }
      JoinShared(c);
      return c;
    }
  }
  void* mem = os::MapAligned(bytes, dedicated ? kPageSize : Chunk::kChunkBytes);
  if (mem == nullptr) return nullptr;
  const size_t ndesc = dedicated ? 1 : pages;
  pthread_once(&g_records_atfork_once, InstallRecordForkHandlers);
  Chunk* c = ChunkRecords::Take(pages, dedicated);
  if (c != nullptr && !ReserveSlot(chunks_)) {
    ChunkRecords::Give(c);
    c = nullptr;
  }
  if (c == nullptr) {
    os::Unmap(mem, bytes);
    return nullptr;
  }
  c->base = reinterpret_cast<uintptr_t>(mem);
  c->pages = pages;
  c->owner_label.store(label_.bits, std::memory_order_relaxed);
  c->owner.store(owner_, std::memory_order_release);
  // Each descriptor is whole before the page map (release) points another thread at it.
  for (size_t i = 0; i < ndesc; ++i) {
    PageDesc& d = c->descs[i];
    d.start = c->base + (i << kPageShift);
    d.owner.store(owner_, std::memory_order_release);
  }
  bool mapped = dedicated ? PageMap::Set(c->base, pages, &c->descs[0]) : true;
  for (size_t i = 0; !dedicated && mapped && i < pages; ++i) {
    mapped = PageMap::Set(c->base + (i << kPageShift), 1, &c->descs[i]);
  }
  if (!mapped) {
    PageMap::Set(c->base, pages, nullptr);
    for (size_t i = 0; i < ndesc; ++i) c->descs[i].owner.store(nullptr, std::memory_order_release);
    os::Unmap(mem, bytes);
    ChunkRecords::Give(c);
    return nullptr;
  }
  if (barrier_ != nullptr && !barrier_->AttachChunk(*c)) c->untracked = true;
#if defined(__SANITIZE_ADDRESS__)
  // Heap objects hold pointers to malloc'd memory (a channel end, a C pointer's data): the leak
  // checker scans the chunk as it scans the stacks and globals.
  __lsan_register_root_region(mem, bytes);
#endif
  heap_bytes_ += bytes;
  if (c->base < lo_) lo_ = c->base;
  if (c->base + bytes > hi_) hi_ = c->base + bytes;
  if (!dedicated) {
    // Fresh pages read as zero and cost no memory until touched: free, not committed.
    for (size_t i = 0; i < pages; ++i) SetBit(c->free_mask, i);
    c->free_count = static_cast<uint32_t>(pages);
    free_pages_ += pages;
  }
  chunks_.push_back(c);
  return c;
}

// The page map lets go of the descriptors first, then they lose their owner, then the memory
// goes: a thread that found a descriptor a moment earlier reads a null or foreign owner and
// stops there (.sol.type-stable).
void Heap::UnmapChunk(Chunk* c) {
  PageMap::Set(c->base, c->pages, nullptr);
  const size_t ndesc = c->dedicated ? 1 : c->pages;
  for (size_t i = 0; i < ndesc; ++i) c->descs[i].owner.store(nullptr, std::memory_order_release);
#if defined(__SANITIZE_ADDRESS__)
  __lsan_unregister_root_region(reinterpret_cast<void*>(c->base), c->pages << kPageShift);
#endif
  os::Unmap(reinterpret_cast<void*>(c->base), c->pages << kPageShift);
  heap_bytes_ -= c->pages << kPageShift;
  ChunkRecords::Give(c);
}

void* Heap::TakeLooseRun(size_t bytes) {
  Chunk* c = Spares::Take((bytes + kPageSize - 1) >> kPageShift);
  return c != nullptr ? reinterpret_cast<void*>(c->base) : nullptr;
}

void Heap::DropLooseRun(void* start) {
  Chunk* c = LooseChunkAt(start);
  if (c != nullptr && c->Owner() == nullptr) Spares::Give(c);
}

size_t Heap::LooseRunBytes(void* start) {
  Chunk* c = LooseChunkAt(start);
  return c != nullptr ? c->pages << kPageShift : 0;
}

PageDesc* Heap::AdoptRun(void* start) {
  Chunk* c = LooseChunkAt(start);
  if (c == nullptr || c->Owner() != nullptr) return nullptr;
  std::lock_guard<std::mutex> lock(mu_);
  if (!ReserveSlot(chunks_)) return nullptr;
  // An adopted run holds one atomic object: no barrier ever protects it, so it is not attached.
  Join(c, false);
  PageDesc* d = &c->descs[0];
  d->needs_zeroing = false;
  return d;
}

// Caller holds mu_ and has made room in chunks_ for c, an ownerless dedicated chunk.
void Heap::Join(Chunk* c, bool attach) {
  const size_t bytes = c->pages << kPageShift;
  c->owner_label.store(label_.bits, std::memory_order_relaxed);
  c->owner.store(owner_, std::memory_order_release);
  c->descs[0].owner.store(owner_, std::memory_order_release);
  if (attach && barrier_ != nullptr && !barrier_->AttachChunk(*c)) c->untracked = true;
#if defined(__SANITIZE_ADDRESS__)
  __lsan_register_root_region(reinterpret_cast<void*>(c->base), bytes);
#endif
  heap_bytes_ += bytes;
  if (c->base < lo_) lo_ = c->base;
  if (c->base + bytes > hi_) hi_ = c->base + bytes;
  chunks_.push_back(c);
}

bool Heap::DecayLooseRuns() { return Spares::Decay(); }

void Heap::ReleaseLooseRuns() { Spares::ReleaseAll(); }

// Caller holds mu_; `c` is off the chunk list. The descriptor loses its owner while the page map
// still points at it, as in UnmapChunk (.sol.type-stable); the memory stays, for a later message.
void Heap::Disown(Chunk* c) {
  if (c->CountProtected() != 0) {  // never for an atomic object; unmapped if it ever were
    UnmapChunk(c);
    return;
  }
  PageDesc& d = c->descs[0];
  d.owner.store(nullptr, std::memory_order_release);
  c->owner.store(nullptr, std::memory_order_release);
  c->owner_label.store(0, std::memory_order_relaxed);
  c->loose = true;
  c->untracked = false;
  for (size_t w = 0; w < c->MaskWords(); ++w) __atomic_store_n(&c->dirty_mask[w], 0, __ATOMIC_RELAXED);
  std::fill(c->heat_level, c->heat_level + c->pages, 0);
  std::fill(c->heat_lease, c->heat_lease + c->pages, 0);
  d.ClearBits();
  d.state = PageState::kFree;
  d.objects = 0;
  d.run_pages = static_cast<uint32_t>(c->pages);
  d.next = d.prev = nullptr;
#if defined(__SANITIZE_ADDRESS__)
  __lsan_unregister_root_region(reinterpret_cast<void*>(c->base), c->pages << kPageShift);
#endif
  heap_bytes_ -= c->pages << kPageShift;
  Spares::Give(c);
}

// Caller holds mu_.
PageDesc* Heap::TakePages(Chunk* c, size_t first, size_t count) {
  bool dirty = false;
  for (size_t i = first; i < first + count; ++i) {
    if (TestBit(c->committed_mask, i)) {
      dirty = true;
      ClearBit(c->committed_mask, i);
      Add(committed_free_pages_, -1);
    } else if (TestBit(c->released_mask, i)) {
      counts_.refaulted += kOsPagesPerPage;
    } else {
      counts_.fresh += kOsPagesPerPage;
    }
    if (TestBit(c->released_mask, i)) {
      ClearBit(c->released_mask, i);
      Add(released_free_pages_, -1);
    }
    ClearBit(c->idle_mask, i);
    ClearBit(c->free_mask, i);
    // The heat was the previous occupant's (barrier.md .sol.hot).
    c->heat_level[i] = 0;
    c->heat_lease[i] = 0;
  }
  c->free_count -= static_cast<uint32_t>(count);
  free_pages_ -= count;
  PageDesc* d = &c->descs[first];
  d->needs_zeroing = dirty;
  return d;
}

PageDesc* Heap::AllocatePage() {
  std::lock_guard<std::mutex> lock(mu_);
  size_t n = chunks_.size();
  // Prefer a page still backed by memory: zeroing it is cheaper than faulting a fresh one in.
  for (int pass = 0; pass < 2; ++pass) {
    for (size_t k = 0; k < n; ++k) {
      size_t ci = (cursor_ + k) % n;
      Chunk* c = chunks_[ci];
      if (c->dedicated || c->free_count == 0) continue;
      for (size_t w = 0; w < Chunk::kMaskWords; ++w) {
        uint64_t candidates = pass == 0 ? c->committed_mask[w] : c->free_mask[w];
        if (candidates == 0) continue;
        cursor_ = ci;
        return TakePages(c, w * 64 + static_cast<size_t>(std::countr_zero(candidates)), 1);
      }
    }
  }
  Chunk* c = MapChunk(SharedChunkPages(1), false);
  if (c == nullptr) return nullptr;
  cursor_ = chunks_.size() - 1;
  return TakePages(c, 0, 1);
}

bool Heap::FindRun(Chunk* c, size_t pages, size_t* first) const {
  size_t run = 0;
  for (size_t i = 0; i < c->pages; ++i) {
    if (TestBit(c->free_mask, i)) {
      if (++run == pages) {
        *first = i + 1 - pages;
        return true;
      }
    } else {
      run = 0;
    }
  }
  return false;
}

PageDesc* Heap::AllocateRun(size_t pages) {
  std::lock_guard<std::mutex> lock(mu_);
  PageDesc* head = nullptr;
  if (pages > kMaxSharedRunPages) {
    // A spare run first (.sol.spares): its pages are backed already, but hold stale bytes.
    Chunk* c = Spares::TakeSpare(pages);
    if (c != nullptr && ((max_heap_bytes_ != 0 && heap_bytes_ + (c->pages << kPageShift) > max_heap_bytes_) ||
                         !ReserveSlot(chunks_))) {
      Spares::Give(c);
      c = nullptr;
    }
    if (c != nullptr) {
      Join(c, true);
      head = &c->descs[0];
      head->needs_zeroing = true;
    } else {
      c = MapChunk(pages, true);
      if (c == nullptr) return nullptr;
      head = &c->descs[0];
      head->needs_zeroing = false;
    }
  } else {
    for (Chunk* c : chunks_) {
      size_t first = 0;
      if (!c->dedicated && c->free_count >= pages && FindRun(c, pages, &first)) {
        head = TakePages(c, first, pages);
        break;
      }
    }
    if (head == nullptr) {
      Chunk* c = MapChunk(SharedChunkPages(pages), false);
      if (c == nullptr) return nullptr;
      head = TakePages(c, 0, pages);
    }
    Chunk* c = head->chunk;
    size_t first = c->IndexOf(head);
    for (size_t i = first + 1; i < first + pages; ++i) c->descs[i].state = PageState::kBigTail;
    if (pages > 1) PageMap::Set(head->start + kPageSize, pages - 1, head);
  }
  head->run_pages = static_cast<uint32_t>(pages);
  return head;
}

// Caller holds mu_.
void Heap::MarkFree(Chunk* c, size_t first, size_t count, bool committed) {
  for (size_t i = first; i < first + count; ++i) {
    SetBit(c->free_mask, i);
    if (committed) {
      SetBit(c->committed_mask, i);
      Add(committed_free_pages_, 1);
    }
  }
  c->free_count += static_cast<uint32_t>(count);
  free_pages_ += count;
}

void Heap::FreePage(PageDesc* d) {
  std::lock_guard<std::mutex> lock(mu_);
  d->ClearBits();
  d->state = PageState::kFree;
  d->objects = 0;
  d->next = d->prev = nullptr;
  MarkFree(d->chunk, d->chunk->IndexOf(d), 1, true);
}

void Heap::FreeRun(PageDesc* head) {
  std::lock_guard<std::mutex> lock(mu_);
  Chunk* c = head->chunk;
  if (c->dedicated) {
    for (size_t i = 0; i < chunks_.size(); ++i) {
      if (chunks_[i] == c) {
        chunks_[i] = chunks_.back();
        chunks_.pop_back();
        break;
      }
    }
    cursor_ = 0;
    if (c->loose) {
      Disown(c);
    } else {
      UnmapChunk(c);
    }
    return;
  }
  size_t first = c->IndexOf(head);
  size_t pages = head->run_pages;
  for (size_t i = first; i < first + pages; ++i) {
    PageDesc& d = c->descs[i];
    d.ClearBits();
    d.state = PageState::kFree;
    d.objects = 0;
    d.run_pages = 0;
    d.next = d.prev = nullptr;
    if (i > first) PageMap::Set(d.start, 1, &d);
  }
  MarkFree(c, first, pages, true);
}

template <class Want>
size_t Heap::DecommitWhere(Chunk* c, Want&& want) {
  size_t pages = 0;
  for (size_t w = 0; w < c->MaskWords(); ++w) {
    uint64_t bits = want(w) & c->committed_mask[w];
    while (bits != 0) {
      // One madvise per contiguous run of selected pages within the word.
      size_t lo = static_cast<size_t>(std::countr_zero(bits));
      size_t len = static_cast<size_t>(std::countr_one(bits >> lo));
      uint64_t run = (len == 64 ? ~uint64_t{0} : ((uint64_t{1} << len) - 1)) << lo;
      bits &= ~run;
      c->committed_mask[w] &= ~run;
      c->idle_mask[w] &= ~run;
      c->released_mask[w] |= run;
      size_t first = w * 64 + lo;
      os::Decommit(reinterpret_cast<void*>(c->base + (first << kPageShift)), len << kPageShift);
      pages += len;
    }
  }
  Add(committed_free_pages_, -static_cast<ptrdiff_t>(pages));
  Add(released_free_pages_, static_cast<ptrdiff_t>(pages));
  counts_.released += pages * kOsPagesPerPage;
  return pages;
}

size_t Heap::Release(size_t keep_bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  const size_t keep_pages = keep_bytes >> kPageShift;
  size_t released = 0;
  // Decommit committed free pages from the highest chunks down, the lowest pages of the last
  // chunk touched kept, until only keep_pages remain committed.
  for (size_t k = chunks_.size(); k-- > 0 && committed_free_pages_ > keep_pages;) {
    Chunk* c = chunks_[k];
    if (c->dedicated) continue;
    size_t excess = committed_free_pages_ - keep_pages;
    released += DecommitWhere(c, [&](size_t w) {
      // Whole words while the excess allows, then the lowest bits that fit.
      uint64_t bits = c->committed_mask[w];
      uint64_t take = 0;
      for (; bits != 0 && excess != 0; bits &= bits - 1, --excess) take |= bits & -bits;
      return take;
    });
  }
  // Unmap chunks that are wholly free and decommitted while enough free pages remain.
  for (size_t k = chunks_.size(); k-- > 0;) {
    Chunk* c = chunks_[k];
    if (c->dedicated || c->free_count != c->pages) continue;
    bool clean = true;
    for (uint64_t w : c->committed_mask) clean = clean && w == 0;
    if (!clean || free_pages_ - c->pages < keep_pages) continue;
    free_pages_ -= c->pages;
    size_t was_released = 0;
    for (size_t i = 0; i < c->pages; ++i) was_released += TestBit(c->released_mask, i) ? 1 : 0;
    Add(released_free_pages_, -static_cast<ptrdiff_t>(was_released));
    chunks_.erase(chunks_.begin() + static_cast<std::ptrdiff_t>(k));
    UnmapChunk(c);
  }
  cursor_ = 0;
  // What stays committed is the decay thread's to give back once it has stayed unused
  // (.sol.retain). Where the thread cannot be started, keep_bytes still bounds it.
  if (committed_free_pages_ != 0 && !registered_) {
    DecayThread::Join(this);
    registered_ = true;
  }
  if (committed_free_pages_ != 0) DecayThread::Wake();
  return released << kPageShift;
}

bool Heap::Decay() {
  bool retained = false;
  for (size_t k = 0;; ++k) {
    std::unique_lock<std::mutex> lock(mu_, std::try_to_lock);
    if (!lock.owns_lock()) return true;  // the owner is at work: next tick
    if (k >= chunks_.size()) break;
    Chunk* c = chunks_[k];
    if (c->dedicated) continue;
    DecommitWhere(c, [c](size_t w) { return c->idle_mask[w]; });
    bool any = false;
    for (size_t w = 0; w < c->MaskWords(); ++w) {
      c->idle_mask[w] = c->committed_mask[w];
      any = any || c->committed_mask[w] != 0;
    }
    retained = retained || any;
  }
  return retained;
}

PageCounts Heap::TakePageCounts() {
  std::lock_guard<std::mutex> lock(mu_);
  PageCounts out = counts_;
  counts_ = PageCounts{};
  return out;
}

size_t Heap::SharedChunkPages(size_t need) const {
  size_t pages = Chunk::kChunkPages;
  if (max_heap_bytes_ != 0) {
    size_t room = max_heap_bytes_ > heap_bytes_ ? (max_heap_bytes_ - heap_bytes_) >> kPageShift : 0;
    pages = std::min(pages, room);
  }
  return pages >= need ? pages : 0;
}

size_t Heap::largest_heap() const {
  size_t machine = os::BackableBytes();
  return max_heap_bytes_ != 0 && max_heap_bytes_ < machine ? max_heap_bytes_ : machine;
}

bool Heap::Expand(size_t bytes) {
  if (bytes > largest_heap()) return false;
  std::lock_guard<std::mutex> lock(mu_);
  while (heap_bytes_ < bytes) {
    if (MapChunk(SharedChunkPages(1), false) == nullptr) return false;
  }
  return true;
}

bool Heap::Grow(size_t more) {
  size_t limit = largest_heap();
  if (more > limit || heap_bytes_ > limit - more) return false;
  return Expand(heap_bytes_ + more);  // Expand locks
}

}  // namespace keel::gc
