// large_object_space.cpp: allocation, frees, sweeps and checks of big objects
// (large_object_space.h, docs/design/heap.md .sol.spaces).
#include "gc/large_object_space.h"

#include <algorithm>
#include <cstring>

#include "gc/os_memory.h"
#include "gc/page_map.h"

namespace keel::gc {

bool LargeObjectSpace::Refuses(size_t bytes) const {
  return bytes > (size_t{1} << 46) || bytes > heap_.largest_heap();
}

void* LargeObjectSpace::Allocate(size_t bytes, Kind kind, bool by_mutator) {
  const size_t pages = PagesFor(bytes);
  PageDesc* d = heap_.AllocateRun(pages);
  if (d == nullptr) return nullptr;
  // A big object on a mapping of its own has fresh pages that are all written soon (zeroed, or
  // filled by the program): backing them in one call costs a fraction of a fault per page
  // (heap.md .sol.thp). The nursery's run, which a short-lived place may barely use, is not.
  if (d->chunk->dedicated && !d->needs_zeroing) os::Populate(reinterpret_cast<void*>(d->start), pages << kPageShift);
  generations_.Open(*d->chunk, d->chunk->PageIndex(d->start), pages, false, by_mutator);
  if (IsPointerful(kind) && d->needs_zeroing) std::memset(reinterpret_cast<void*>(d->start), 0, pages << kPageShift);
  return Link(d, bytes, kind);
}

void* LargeObjectSpace::Adopt(PageDesc* d, size_t bytes) { return Link(d, bytes, Kind::kAtomic); }

void* LargeObjectSpace::Link(PageDesc* d, size_t bytes, Kind kind) {
  const uint64_t rounded = (bytes + 15) & ~uint64_t{15};
  d->state = PageState::kBigHead;
  d->kind = kind;
  d->objects = 1;
  d->obj_size = 0;
  d->big_bytes = rounded;
  d->bits[0].alloc = 1;
  d->prev = nullptr;
  d->next = objects_;
  if (objects_ != nullptr) objects_->prev = d;
  objects_ = d;
  young_.push_back(d);
  if (IsUncollectable(kind)) bytes_.uncollectable += rounded;
  bytes_.since_gc += size_t{d->run_pages} << kPageShift;
  return reinterpret_cast<void*>(d->start);
}

void LargeObjectSpace::Free(PageDesc* d) {
  if (IsUncollectable(d->kind)) {
    bytes_.uncollectable -= d->big_bytes;
  } else if (d->bits[0].mark & 1) {
    bytes_.live -= d->big_bytes;
  } else if (d->bits[0].age & 1) {
    bytes_.aged -= d->big_bytes;
  }
  std::erase(young_, d);
  Release(d);
}

void LargeObjectSpace::Release(PageDesc* d) {
  if (d->prev != nullptr) d->prev->next = d->next; else objects_ = d->next;
  if (d->next != nullptr) d->next->prev = d->prev;
  heap_.FreeRun(d);
}

void LargeObjectSpace::SweepMajor() {
  young_.clear();
  PageDesc* d = objects_;
  while (d != nullptr) {
    PageDesc* next = d->next;
    SlotBits& b = d->bits[0];
    if (IsUncollectable(d->kind)) {
      // roots, freed only by GC_free (counted apart)
    } else if ((b.mark & 1) == 0) {
      Release(d);
    } else {
      b.alloc = 0;
      bytes_.live += d->big_bytes;
    }
    d = next;
  }
}

// A young survivor ages (`ages`) or becomes old; an aged survivor becomes old; an aged object
// stays on the young list for the next minor sweep (barrier.md .sol.minor, .sol.age).
void LargeObjectSpace::SweepYoung(bool ages, MinorTotals& totals) {
  size_t kept = 0;
  for (PageDesc* d : young_) {
    SlotBits& b = d->bits[0];
    if (IsUncollectable(d->kind)) continue;
    if ((b.mark & 1) == 0) {
      Release(d);
    } else if ((b.age & 1) != 0 || !ages) {
      if ((b.age & 1) != 0) totals.aged_survivors += d->big_bytes;
      b = SlotBits{0, 1, 0};
      totals.promoted += d->big_bytes;
    } else {
      b = SlotBits{1, 0, 1};
      totals.aged += d->big_bytes;
      young_[kept++] = d;
    }
  }
  young_.resize(kept);
}

void LargeObjectSpace::Check(Problems& problems, CheckedBytes& counted, bool in_collection) const {
  size_t heads = 0;
  heap_.ForEachInUse([&](const PageDesc& d) {
    if (d.state != PageState::kBigHead) return;
    const void* page = reinterpret_cast<const void*>(d.start);
    ++heads;
    for (uint32_t p = 0; p < d.run_pages; ++p) {
      if (PageMap::Lookup(d.start + (uintptr_t{p} << kPageShift)) != &d) problems.Report("big run %p: page %u not mapped to its head", page, p);
    }
    if (d.big_bytes > (uint64_t{d.run_pages} << kPageShift)) problems.Report("big run %p: object larger than run", page);
    for (size_t w = 1; w < kBitmapWords; ++w) {
      if (d.bits[w].alloc != 0 || d.bits[w].mark != 0 || d.bits[w].age != 0) problems.Report("big run %p: stray bits", page);
    }
    if (!in_collection) CheckSlotBits(d, 1, problems);
    if (d.IsAged(0)) {
      counted.aged += d.big_bytes;
      if (std::find(young_.begin(), young_.end(), &d) == young_.end()) {
        problems.Report("big object %p is aged but not on the young list", page);
      }
    }
    if (IsUncollectable(d.kind)) {
      if (d.IsAllocated(0)) counted.uncollectable += d.big_bytes;
    } else if (d.IsMarked(0)) {
      counted.live += d.big_bytes;
    }
  });
  size_t listed = 0;
  for (const PageDesc* d = objects_; d != nullptr; d = d->next) {
    ++listed;
    if (d->state != PageState::kBigHead) problems.Report("big list holds %p in state %d", reinterpret_cast<void*>(d->start), int(d->state));
    if (d->next != nullptr && d->next->prev != d) problems.Report("big list back link broken at %p", reinterpret_cast<void*>(d->start));
    if (listed > heads) break;  // a cycle, or heads missing from the heap: reported below
  }
  if (listed != heads) problems.Report("big list has %zu objects, heap has %zu big runs", listed, heads);
}

}  // namespace keel::gc
