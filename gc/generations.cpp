// generations.cpp: what sticky-mark generations need from the heap: finding and scanning dirty
// old pages for a minor collection, protecting old pointer pages afterwards, and opening pages
// up again before the collector reuses them (docs/design/barrier.md .sol.minor, .inv.masks).
#include <algorithm>
#include <bit>
#include <cstring>

#include "gc/generations.h"

#include "gc/collector.h"
#include "gc/fatal.h"
#include "gc/tracer.h"
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

void Generations::FindWritten() {
  for (Chunk* c : heap_.chunks()) {
    if (!c->untracked) barrier_.CollectWritten(*c);
  }
}

// A major collection traces every old object: what was written before it needs no scan after
// it (.sol.hot). Bits set by other threads' faults during the collection stay.
void Generations::ForgetWritten() {
  for (Chunk* c : heap_.chunks()) {
    for (size_t w = 0; w < c->MaskWords(); ++w) c->TakeDirtyWord(w);
  }
}

void Generations::ScanWritten(Tracer& t) {
  // By index: a moving tracer allocates while it scans (3m's copies), and a new chunk may grow
  // the heap's list; the new chunk has no written pages.
  for (size_t k = 0; k < heap_.chunks().size(); ++k) {
    Chunk* c = heap_.chunks()[k];
    for (size_t w = 0; w < c->MaskWords(); ++w) {
      // Taken word by word: a bit that another thread's fault sets meanwhile stays for the next
      // collection (.sol.foreign).
      uint64_t dirty = c->TakeDirtyWord(w);
      uint64_t bits = c->untracked ? ~uint64_t{0} : dirty;
      for (; bits != 0; bits &= bits - 1) {
        size_t i = w * 64 + static_cast<size_t>(std::countr_zero(bits));
        if (i >= c->pages) continue;
        // Written after it was protected (a hot page is dirty by choice, and one the allocator
        // filled this cycle was written by the allocator: .sol.refill): warmer (.sol.hot).
        if (!c->untracked && c->heat_lease[i] == 0 && !DescOfPage(*c, i)->young_listed) {
          uint8_t level = std::min<uint8_t>(c->heat_level[i] + 1, Policy::kMaxHeatLevel);
          c->heat_level[i] = level;
          c->heat_lease[i] = static_cast<uint8_t>(1u << level);
        }
        ScanPage(t, *c, i);
      }
    }
  }
}

// Old objects on a written or remembered page may point at young ones: scan every old object
// on it (a big object only where it overlaps the page). Old means mark without alloc: young
// objects the roots marked already are queued, and young and aged objects are traced only if
// reached (.sol.minor, .sol.age).
void Generations::ScanPage(Tracer& t, Chunk& c, size_t i) {
  PageDesc* d = DescOfPage(c, i);
  if (d == nullptr || !IsPointerful(d->kind) || IsUncollectable(d->kind)) return;
  if (d->state == PageState::kSmall) {
    size_t words = (d->objects + 63u) / 64u;
    for (size_t w = 0; w < words; ++w) {
      for (uint64_t bits = d->bits[w].mark & ~d->bits[w].alloc; bits != 0; bits &= bits - 1) {
        uint32_t idx = static_cast<uint32_t>(w * 64 + static_cast<size_t>(std::countr_zero(bits)));
        uintptr_t obj = d->ObjectStart(idx);
        t.VisitObject(obj, obj + d->obj_size, d->kind, Tracer::Holder::kOld);
      }
    }
  } else if (d->state == PageState::kBigHead && ((d->bits[0].mark & ~d->bits[0].alloc) & 1) != 0) {
    uintptr_t page = c.base + (i << kPageShift);
    uintptr_t lo = std::max(d->start, page);
    uintptr_t hi = std::min(d->start + d->big_bytes, page + kPageSize);
    if (lo < hi) t.VisitObject(lo, hi, d->kind, Tracer::Holder::kOld);
  }
}

bool Generations::HoldsOldPointers(const Chunk& c, size_t i) {
  const PageDesc* d = DescOfPage(c, i);
  if (d == nullptr || !IsPointerful(d->kind) || IsUncollectable(d->kind)) return false;
  if (d->state == PageState::kSmall) return d->live_objects > 0;
  return d->state == PageState::kBigHead && (d->bits[0].mark & 1) != 0;
}

// After the sweep each page's protection is brought to what the next cycle wants (barrier.md
// .sol.batch, .sol.hot): an old pointer page is protected unless it is hot (then it stays open
// and is scanned as dirty at the next minor collection); any other protected page is opened
// (under mprotect, not a freed one). Every call flushes the TLB, which costs a hypercall on the
// virtual machines Keel is measured on, so calls are few: a run of pages to protect goes on
// through pages that are protected already, and a run to open through pages already open,
// since changing those again changes nothing. Returns the pages protected.
uint64_t Generations::ProtectOldPages() {
  if (barrier_.kind() == BarrierKind::kNone) return 0;
  uint64_t protected_pages = 0;
  size_t hot = 0;
  protected_pages_ = 0;
  for (Chunk* c : heap_.chunks()) {
    if (c->untracked) continue;
    PageChange run = PageChange::kNone;
    size_t run_start = 0;
    size_t run_end = 0;  // just past the run's last page that changes
    size_t changes = 0;
    auto flush = [&] {
      if (run == PageChange::kProtect) protected_pages += ApplyProtection(*c, run_start, run_end, changes);
      if (run == PageChange::kOpen) ApplyOpening(*c, run_start, run_end, changes);
      run = PageChange::kNone;
    };
    for (size_t i = 0; i < c->pages && !c->untracked; ++i) {
      const bool was_protected = c->IsProtected(i);
      const PageChange change = Decide(*c, i, &hot);
      if (change != PageChange::kNone) {
        if (change != run) {
          flush();
          run = change;
          run_start = i;
          changes = 0;
        }
        run_end = i + 1;
        ++changes;
      } else if (run != PageChange::kNone && was_protected != (run == PageChange::kProtect)) {
        flush();  // a page that stays as it is, but not the way this run leaves pages
      }
    }
    if (!c->untracked) {
      flush();
      protected_pages_ += c->CountProtected();
    }
  }
  hot_pages_ = hot;
  return protected_pages;
}

// What page i needs after this collection. Called once per page and collection: it also
// spends one collection of a hot page's lease, and cools a page that stayed protected and
// unwritten through the cycle (.sol.hot).
Generations::PageChange Generations::Decide(Chunk& c, size_t i, size_t* hot) {
  const bool is_protected = c.IsProtected(i);
  bool want = HoldsOldPointers(c, i);
  // An old page whose free slots the allocator refilled this cycle and that has free slots
  // again: the allocator comes back to it next cycle, so it stays open (.sol.refill).
  PageDesc* own = c.dedicated ? nullptr : &c.descs[i];
  if (own != nullptr && own->refilled) {
    own->refilled = false;
    if (want && own->on_partial && *hot < Policy::kMaxHotPages) {
      ++*hot;
      c.SetDirty(i);
      return is_protected ? PageChange::kOpen : PageChange::kNone;
    }
  }
  if (want && c.heat_lease[i] > 0) {
    // The lease's last collection protects the page: left open and dirty once more, it would
    // read at the next scan as written after protection and warm up again, hot for good.
    if (--c.heat_lease[i] > 0 && *hot < Policy::kMaxHotPages) {
      ++*hot;
      c.SetDirty(i);  // open: the next minor collection scans it
      want = false;
    } else {
      c.heat_lease[i] = 0;
    }
  } else if (want && is_protected && c.heat_level[i] > 0) {
    --c.heat_level[i];
  }
  if (want && !is_protected) return PageChange::kProtect;
  // A freed page stays protected under mprotect, where a stray write into it is then caught
  // (.sol.mprotect) and the allocator opens it with one call when it takes it; under uffd its
  // first writes would be faults, so it is opened now, in runs.
  const bool freed = !c.dedicated && c.descs[i].state == PageState::kFree;
  if (!want && is_protected && !(freed && barrier_.WritesFault())) return PageChange::kOpen;
  return PageChange::kNone;
}

// Protects [first, end), of which `changes` pages were not protected yet.
uint64_t Generations::ApplyProtection(Chunk& c, size_t first, size_t end, size_t changes) {
  // Bits first, protection second: a protected page always has its bit (.inv.masks).
  for (size_t k = first; k < end; ++k) c.SetProtected(k);
  barrier_.CountCalls(1);
  if (barrier_.Protect(c.base + (first << kPageShift), (end - first) << kPageShift)) return changes;
  // The OS refused (for example the mapping-count limit), perhaps after protecting part of the
  // run: the bits stay set, and this chunk's old pages are scanned at every minor collection
  // instead (.sol.batch).
  Warn("write barrier: cannot protect %zu pages at %p; scanning that chunk at every collection", end - first,
       reinterpret_cast<void*>(c.base + (first << kPageShift)));
  c.untracked = true;
  return 0;
}

// Opens [first, end), of which `changes` pages were protected.
void Generations::ApplyOpening(Chunk& c, size_t first, size_t end, size_t changes) {
  // Protection first, bits second (.inv.masks). A hot page was marked dirty already.
  barrier_.CountCalls(1);
  if (!barrier_.Unprotect(c.base + (first << kPageShift), (end - first) << kPageShift)) {
    c.untracked = true;  // part of the run may be open: the masks are not trusted any more
    return;
  }
  for (size_t k = first; k < end; ++k) c.ClearProtected(k);
  barrier_.CountOpened(changes);
}

void Generations::Open(Chunk& c, size_t first, size_t count, bool mark_dirty, bool by_mutator) {
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
    // scanned whole from now on because part of the run may have been opened. Under uffd too:
    // the stores would be tracked, but each first one would be a fault (.sol.alloc).
    barrier_.CountCalls(1);
    if (by_mutator) ++mutator_calls_;
    if (!barrier_.Unprotect(c.base + (i << kPageShift), (j - i) << kPageShift)) {
      c.untracked = true;
      i = j;
      continue;
    }
    barrier_.CountOpened(j - i);
    for (size_t k = i; k < j; ++k) {
      if (mark_dirty) c.SetDirty(k);
      c.ClearProtected(k);
    }
    i = j;
  }
}

void Generations::OpenAll() {
  for (Chunk* c : heap_.chunks()) Open(*c, 0, c->pages, true, false);
  protected_pages_ = 0;
  hot_pages_ = 0;
}

// After a fork the barrier's registrations belong to the parent (.sol.fork): attach every chunk
// again; the caller makes this collection a major one, which needs no record of writes.
void Generations::Renew() {
  barrier_.Renew();
  for (Chunk* c : heap_.chunks()) {
    std::memset(c->protected_mask, 0, c->MaskWords() * sizeof(uint64_t));
    std::memset(c->dirty_mask, 0, c->MaskWords() * sizeof(uint64_t));
    c->untracked = !barrier_.AttachChunk(*c);
  }
}

// Any thread may call this (GC_write_barrier), for memory of any collector (.sol.foreign).
void Generations::PreDirty(const void* p) {
  auto a = reinterpret_cast<uintptr_t>(p);
  PageDesc* d = PageMap::Lookup(a);
  if (d == nullptr) return;
  Chunk& c = *d->chunk;
  size_t i = c.PageIndex(a);
  Barrier& b = c.Owner()->barrier();
  if (!b.WritesFault() || !c.IsProtected(i)) {
    c.SetDirty(i);
  } else if (!b.OpenForWrite(c, i)) {
    Fatal("GC_write_barrier: the kernel refused to make heap page %p writable (vm.max_map_count reached?)",
          reinterpret_cast<void*>(c.base + (i << kPageShift)));
  }
}

}  // namespace keel::gc
