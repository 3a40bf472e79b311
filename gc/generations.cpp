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
    if (c->untracked) {
      for (size_t i = 0; i < c->pages; ++i) ScanDirtyPage(m, *c, i);
    } else {
      for (size_t w = 0; w < c->MaskWords(); ++w) {
        for (uint64_t bits = c->dirty_mask[w]; bits != 0; bits &= bits - 1) {
          ScanDirtyPage(m, *c, w * 64 + static_cast<size_t>(std::countr_zero(bits)));
        }
      }
    }
    std::memset(c->dirty_mask, 0, c->MaskWords() * sizeof(uint64_t));
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
      if (barrier_->Protect(c->base + (i << kPageShift), (j - i) << kPageShift)) {
        for (size_t k = i; k < j; ++k) c->SetProtected(k);
        protected_pages += j - i;
      } else {
        // The OS refused (for example the mapping-count limit): this chunk's old pages are
        // scanned at every minor collection instead.
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
    while (j < first + count && c.IsProtected(j)) {
      c.ClearProtected(j);
      if (mark_dirty) c.SetDirty(j);
      ++j;
    }
    if (faults) barrier_->Unprotect(c.base + (i << kPageShift), (j - i) << kPageShift);
    i = j;
  }
}

void Collector::MakeWritable(PageDesc* d, bool mark_dirty) {
  Chunk& c = *d->chunk;
  MakeWritable(c, c.PageIndex(d->start), 1, mark_dirty);
}

void Collector::PreDirty(const void* p) {
  auto a = reinterpret_cast<uintptr_t>(p);
  PageDesc* d = PageMap::Lookup(a);
  if (d == nullptr || d->owner != this) return;
  Chunk& c = *d->chunk;
  size_t i = c.PageIndex(a);
  c.SetDirty(i);
  if (barrier_->WritesFault() && c.IsProtected(i)) MakeWritable(c, i, 1, true);
}

}  // namespace keel::gc
