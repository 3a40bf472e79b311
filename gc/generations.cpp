// generations.cpp: what sticky-mark generations need from the heap: finding and scanning dirty
// old pages for a minor collection, protecting old pointer pages afterwards, and opening pages
// up again before the collector reuses them (docs/design/barrier.md .sol.minor, .inv.masks).
#include <bit>
#include <cstring>

#include "gc/collector.h"
#include "gc/fatal.h"
#include "gc/marker.h"
#include "gc/page_map.h"

namespace keel::gc {
namespace {

// The descriptor that covers page i of c: its own, or its big run's head.
PageDesc* DescOfPage(const Chunk& c, size_t i) {
  if (c.dedicated) return &c.descs[0];
  PageDesc* d = &c.descs[i];
  if (d->state == PageState::kBigTail) d = PageMap::Lookup(d->start);
  return d;
}

}  // namespace

void Collector::FindDirtyPages() {
  for (Chunk* c : heap_.chunks()) {
    if (!c->untracked) barrier_->CollectWritten(*c);
  }
}

void Collector::ScanDirtyPages(Marker& m) {
  for (Chunk* c : heap_.chunks()) {
    for (size_t w = 0; w < c->MaskWords(); ++w) {
      // Taken word by word: a bit that another thread's fault sets meanwhile stays for the next
      // collection (.sol.foreign).
      uint64_t dirty = c->TakeDirtyWord(w);
      uint64_t bits = c->untracked ? ~uint64_t{0} : dirty;
      for (; bits != 0; bits &= bits - 1) {
        size_t i = w * 64 + static_cast<size_t>(std::countr_zero(bits));
        if (i < c->pages) ScanDirtyPage(m, *c, i);
      }
    }
  }
}

// Old objects on a written or remembered page may point at young ones: scan every old object
// on it (a big object only where it overlaps the page). Old means mark without alloc: young
// objects the roots marked already are queued, and young and aged objects are traced only if
// reached (.sol.minor, .sol.age).
void Collector::ScanDirtyPage(Marker& m, Chunk& c, size_t i) {
  PageDesc* d = DescOfPage(c, i);
  if (d == nullptr || !IsPointerful(d->kind) || IsUncollectable(d->kind)) return;
  const bool rule = m.heap_interior();
  if (d->state == PageState::kSmall) {
    size_t words = (d->objects + 63u) / 64u;
    for (size_t w = 0; w < words; ++w) {
      for (uint64_t bits = d->bits[w].mark & ~d->bits[w].alloc; bits != 0; bits &= bits - 1) {
        uint32_t idx = static_cast<uint32_t>(w * 64 + static_cast<size_t>(std::countr_zero(bits)));
        uintptr_t obj = d->ObjectStart(idx);
        m.ScanOldRange(obj, obj + d->obj_size, rule);
      }
    }
  } else if (d->state == PageState::kBigHead && ((d->bits[0].mark & ~d->bits[0].alloc) & 1) != 0) {
    uintptr_t page = c.base + (i << kPageShift);
    uintptr_t lo = std::max(d->start, page);
    uintptr_t hi = std::min(d->start + d->big_bytes, page + kPageSize);
    if (lo < hi) m.ScanOldRange(lo, hi, rule);
  }
}

bool Collector::PageHoldsOldPointers(const Chunk& c, size_t i) const {
  const PageDesc* d = DescOfPage(c, i);
  if (d == nullptr || !IsPointerful(d->kind) || IsUncollectable(d->kind)) return false;
  if (d->state == PageState::kSmall) return d->live_objects > 0;
  return d->state == PageState::kBigHead && (d->bits[0].mark & 1) != 0;
}

// After the sweep every old pointer page that is not protected yet gets protected, one call per
// run of contiguous pages (barrier.md .sol.batch). Returns the pages protected.
uint64_t Collector::ProtectOldPages() {
  if (barrier_->kind() == BarrierKind::kNone) return 0;
  uint64_t protected_pages = 0;
  for (Chunk* c : heap_.chunks()) {
    if (c->untracked) continue;
    size_t i = 0;
    while (i < c->pages) {
      if (c->IsProtected(i) || !PageHoldsOldPointers(*c, i)) {
        ++i;
        continue;
      }
      size_t j = i + 1;
      while (j < c->pages && !c->IsProtected(j) && PageHoldsOldPointers(*c, j)) ++j;
      // Bits first, protection second: a protected page always has its bit (.inv.masks).
      for (size_t k = i; k < j; ++k) c->SetProtected(k);
      if (barrier_->Protect(c->base + (i << kPageShift), (j - i) << kPageShift)) {
        protected_pages += j - i;
      } else {
        // The OS refused (for example the mapping-count limit), perhaps after protecting part of
        // the run: the bits stay set, and this chunk's old pages are scanned at every minor
        // collection instead (.sol.batch).
        Warn("write barrier: cannot protect %zu pages at %p; scanning that chunk at every collection",
             j - i, reinterpret_cast<void*>(c->base + (i << kPageShift)));
        c->untracked = true;
        break;
      }
      i = j;
    }
  }
  return protected_pages;
}

void Collector::MakeWritable(Chunk& c, size_t first, size_t count, bool mark_dirty) {
  const bool faults = barrier_->WritesFault();
  size_t i = first;
  while (i < first + count) {
    if (!c.IsProtected(i)) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < first + count && c.IsProtected(j)) ++j;
    // Protection first, bits second (.inv.masks). Where the OS refuses, the pages keep their
    // bits, a store into them takes the fault handler's path (.sol.maplimit), and the chunk is
    // scanned whole from now on because part of the run may have been opened.
    if (faults && !barrier_->Unprotect(c.base + (i << kPageShift), (j - i) << kPageShift)) {
      c.untracked = true;
      i = j;
      continue;
    }
    for (size_t k = i; k < j; ++k) {
      if (mark_dirty) c.SetDirty(k);
      c.ClearProtected(k);
    }
    i = j;
  }
}

void Collector::MakeWritable(PageDesc* d, bool mark_dirty) {
  Chunk& c = *d->chunk;
  MakeWritable(c, c.PageIndex(d->start), 1, mark_dirty);
}

void Collector::OpenAllPages() {
  for (Chunk* c : heap_.chunks()) MakeWritable(*c, 0, c->pages, true);
}

// After a fork the barrier's registrations belong to the parent (.sol.fork): attach every chunk
// again; the caller makes this collection a major one, which needs no record of writes.
void Collector::RenewBarrier() {
  barrier_->Renew();
  for (Chunk* c : heap_.chunks()) {
    std::memset(c->protected_mask, 0, c->MaskWords() * sizeof(uint64_t));
    std::memset(c->dirty_mask, 0, c->MaskWords() * sizeof(uint64_t));
    c->untracked = !barrier_->AttachChunk(*c);
  }
}

// Any thread may call this (GC_write_barrier), for memory of any collector (.sol.foreign).
void Collector::PreDirty(const void* p) {
  auto a = reinterpret_cast<uintptr_t>(p);
  PageDesc* d = PageMap::Lookup(a);
  if (d == nullptr) return;
  Chunk& c = *d->chunk;
  size_t i = c.PageIndex(a);
  Barrier& b = c.owner->barrier();
  if (!b.WritesFault() || !c.IsProtected(i)) {
    c.SetDirty(i);
  } else if (!b.OpenForWrite(c, i)) {
    Fatal("GC_write_barrier: the kernel refused to make heap page %p writable (vm.max_map_count reached?)",
          reinterpret_cast<void*>(c.base + (i << kPageShift)));
  }
}

}  // namespace keel::gc
