// mark_sweep_space.cpp: runs, refills, frees and sweeps of small objects (mark_sweep_space.h,
// docs/design/heap.md .sol.spaces, .sol.sweep; barrier.md .sol.alloc, .sol.refill).
#include "gc/mark_sweep_space.h"

#include <algorithm>
#include <cstring>

#include "gc/page_map.h"

namespace keel::gc {

void* MarkSweepSpace::TakeSlot(Kind kind, int cls, bool counted) {
  AllocRun& r = runs_[static_cast<int>(kind)][cls];
  const uint32_t size = kSizeClasses[cls].size;
  uintptr_t p = r.cur;
  r.cur = p + size;
  // Uncollectable objects are counted one by one, so they always take the slow path.
  const bool uncollectable = IsUncollectable(kind);
  if (uncollectable) bytes_.uncollectable += size;
  r.limit = counted || uncollectable ? r.cur : r.end;
  return reinterpret_cast<void*>(p);
}

bool MarkSweepSpace::ClaimPartial(Kind kind, int cls, bool by_mutator) {
  const int k = static_cast<int>(kind);
  while (PageDesc* page = partial_[k][cls]) {
    uint32_t from = 0, to = 0;
    if (page->NextFreeRun(page->scan_cursor, &from, &to)) {
      ClaimRun(runs_[k][cls], page, from, to, by_mutator);
      return true;
    }
    PartialRemove(page);
  }
  return false;
}

PageDesc* MarkSweepSpace::ClaimNewPage(Kind kind, int cls, bool by_mutator) {
  PageDesc* d = heap_.AllocatePage();
  if (d == nullptr) return nullptr;
  // A free page still protected (mprotect keeps freed pages protected, .sol.mprotect) is opened
  // with the free pages after it, which the allocator takes next (barrier.md .sol.alloc).
  Chunk& c = *d->chunk;
  const size_t first = c.PageIndex(d->start);
  size_t count = 1;
  while (count < kOpenAhead && first + count < c.pages && c.IsProtected(first + count) &&
         c.descs[first + count].state == PageState::kFree) {
    ++count;
  }
  generations_.Open(c, first, count, false, by_mutator);
  const SizeClass& sc = kSizeClasses[cls];
  d->state = PageState::kSmall;
  d->kind = kind;
  d->size_class = static_cast<uint8_t>(cls);
  d->obj_size = sc.size;
  d->magic = sc.magic;
  d->objects = sc.objects;
  d->scan_cursor = 0;
  d->live_objects = 0;
  d->on_partial = false;
  d->next = d->prev = nullptr;
  ClaimRun(runs_[static_cast<int>(kind)][cls], d, 0, d->objects, by_mutator);
  return d;
}

void* MarkSweepSpace::AllocateWithoutCollecting(size_t bytes, Kind kind) {
  const int cls = SizeClassFor(bytes);
  if (!RunHasRoom(kind, cls) && !RefillWithoutCollecting(kind, cls)) return nullptr;
  return TakeSlot(kind, cls, false);
}

bool MarkSweepSpace::RefillWithoutCollecting(Kind kind, int cls) {
  DropRun(kind, cls);
  return ClaimPartial(kind, cls, false) || ClaimNewPage(kind, cls, false) != nullptr;
}

void MarkSweepSpace::ClaimRun(AllocRun& r, PageDesc* page, uint32_t from, uint32_t to, bool by_mutator) {
  // Old objects share this page: the allocator's own stores would fault, so the page is opened
  // with one call and counted dirty, and with it the partly free pages the allocator takes
  // next, where they follow it in memory (barrier.md .sol.alloc).
  Chunk& c = *page->chunk;
  const size_t first = c.PageIndex(page->start);
  // The allocator comes back to a refilled page next cycle (barrier.md .sol.refill); a
  // collection's own copies (3m's promotion) do not make it one.
  if (page->live_objects > 0 && by_mutator) page->refilled = true;
  if (c.IsProtected(first)) {
    size_t count = 1;
    for (const PageDesc* n = page->next; n != nullptr && count < kOpenAhead; n = n->next, ++count) {
      if (n->chunk != &c || n->start != page->start + (count << kPageShift) || !c.IsProtected(first + count)) break;
    }
    // A collection's own copies open the pages whatever the barrier (precise.md
    // .sol.own-writes): written while protected under uffd, or marked dirty, they would read as
    // the program's writes at the next minor collection and warm up (barrier.md .sol.hot).
    // ProtectOldPages decides their protection afresh after the sweep.
    if (!by_mutator) {
      generations_.Open(c, first, count, false, false);
    } else if (generations_.OpeningPays(count)) {
      generations_.Open(c, first, count, true, true);
    }
  }
  NoteYoung(page);
  page->SetAllocRange(from, to);
  page->scan_cursor = static_cast<uint16_t>(to);
  uintptr_t start = page->ObjectStart(from);
  uintptr_t end = page->ObjectStart(to);
  if (IsPointerful(page->kind) && page->needs_zeroing) std::memset(reinterpret_cast<void*>(start), 0, end - start);
  r.cur = start;
  r.end = end;
  r.limit = IsUncollectable(page->kind) ? start : end;
  r.page = page;
  bytes_.since_gc += end - start;
}

void MarkSweepSpace::Free(PageDesc* d, uint32_t idx) {
  SlotBits& b = d->bits[idx >> 6];
  const uint64_t bit = uint64_t{1} << (idx & 63);
  if (IsUncollectable(d->kind)) {
    bytes_.uncollectable -= d->obj_size;
  } else if (b.mark & bit) {
    bytes_.live -= d->obj_size;
    --d->live_objects;
  } else if (b.age & bit) {
    bytes_.aged -= d->obj_size;
  }
  b.alloc &= ~bit;
  b.mark &= ~bit;
  b.age &= ~bit;
  if (IsPointerful(d->kind)) std::memset(reinterpret_cast<void*>(d->ObjectStart(idx)), 0, d->obj_size);
  if (IsUncollectable(d->kind)) ReuseUncollectableSlot(d, idx);
}

// No collection frees uncollectable objects, so GC_free offers a freed slot to the allocator at
// once and gives an emptied page back to its chunk (docs/design/heap.md .inv.uncollectable).
void MarkSweepSpace::ReuseUncollectableSlot(PageDesc* d, uint32_t idx) {
  if (d->CountAllocated() == 0) {
    // An empty page holds no unused run tail (.inv.runs): a run still pointing at it is used up.
    AllocRun& r = runs_[static_cast<int>(d->kind)][d->size_class];
    if (r.page == d) r = AllocRun{};
    if (d->on_partial) PartialRemove(d);
    if (d->young_listed) {
      std::erase(young_, d);
      d->young_listed = false;
    }
    heap_.FreePage(d);
    return;
  }
  if (idx < d->scan_cursor) d->scan_cursor = static_cast<uint16_t>(idx);
  if (!d->on_partial) PartialAppend(d);
}

void MarkSweepSpace::PartialAppend(PageDesc* d) {
  int k = static_cast<int>(d->kind);
  PageDesc*& tail = partial_tail_[k][d->size_class];
  d->next = nullptr;
  d->prev = tail;
  if (tail != nullptr) tail->next = d; else partial_[k][d->size_class] = d;
  tail = d;
  d->on_partial = true;
}

void MarkSweepSpace::PartialRemove(PageDesc* d) {
  int k = static_cast<int>(d->kind);
  if (d->prev != nullptr) d->prev->next = d->next; else partial_[k][d->size_class] = d->next;
  if (d->next != nullptr) d->next->prev = d->prev; else partial_tail_[k][d->size_class] = d->prev;
  d->next = d->prev = nullptr;
  d->on_partial = false;
}

// The unused tail of a run was marked allocated when the run was claimed (heap.md .inv.runs) and
// must read as free while marking.
void MarkSweepSpace::RetireRuns() {
  for (auto& per_kind : runs_) {
    for (AllocRun& r : per_kind) {
      if (r.page != nullptr && r.cur < r.end) {
        PageDesc* d = r.page;
        uint32_t from = d->IndexOf(r.cur - d->start);
        uint32_t to = d->IndexOf(r.end - d->start);
        d->ClearAllocRange(from, to);
        bytes_.since_gc -= r.end - r.cur;
      }
      r = AllocRun{};
    }
  }
}

void MarkSweepSpace::SweepMajor() {
  for (auto& per_kind : partial_) std::fill(std::begin(per_kind), std::end(per_kind), nullptr);
  for (auto& per_kind : partial_tail_) std::fill(std::begin(per_kind), std::end(per_kind), nullptr);
  for (PageDesc* d : young_) d->young_listed = false;
  young_.clear();
  uint64_t live = 0;
  for (Chunk* c : heap_.chunks()) {
    if (c->dedicated) continue;
    for (size_t i = 0; i < c->pages; ++i) {
      PageDesc& d = c->descs[i];
      if (d.state != PageState::kSmall) continue;
      size_t words = (d.objects + 63u) / 64u;
      d.on_partial = false;
      d.next = d.prev = nullptr;
      if (IsUncollectable(d.kind)) {  // roots, freed only by GC_free (counted apart)
        SweepUncollectable(&d);
        continue;
      }
      if (d.forward != nullptr) {  // evacuated: its marks are forwarded objects (.sol.compact)
        DropForwarding(&d);
        heap_.FreePage(&d);
        continue;
      }
      size_t marked = d.CountMarked();
      if (marked == 0) {
        heap_.FreePage(&d);
        continue;
      }
      for (size_t w = 0; w < words; ++w) d.bits[w].alloc = 0;
      d.live_objects = static_cast<uint16_t>(marked);
      d.needs_zeroing = true;
      d.scan_cursor = 0;
      live += marked * d.obj_size;
      if (marked < d.objects) PartialAppend(&d);
    }
  }
  bytes_.live = live;
}

// Evacuation pays where the free slots of sparse pages are a large part of the pages that may
// move: a quarter of their bytes, and at least kMinSparsePages pages (precise.md .sol.compact).
// A page is sparse when the objects the last sweeps counted on it fill at most half of it.
namespace {
constexpr size_t kMinSparsePages = 16;
}  // namespace

size_t MarkSweepSpace::SelectEvacuation(bool (*movable)(Kind), uint64_t max_live_bytes, bool eager) {
  struct Sparse {
    PageDesc* page;
    uint64_t live;
  };
  std::vector<Sparse> sparse;
  uint64_t movable_bytes = 0;
  uint64_t sparse_free = 0;
  for (Chunk* c : heap_.chunks()) {
    if (c->dedicated) continue;
    for (size_t i = 0; i < c->pages; ++i) {
      PageDesc& d = c->descs[i];
      if (d.state != PageState::kSmall || !movable(d.kind)) continue;
      const uint64_t capacity = uint64_t{d.objects} * d.obj_size;
      const uint64_t live = uint64_t{d.live_objects} * d.obj_size;
      movable_bytes += kPageSize;
      if (live * 2 > capacity) continue;
      // The page's first address may be one past the end of an allow-interior object before
      // it, which is that object's pointer: such a slot must keep its value, so the object at
      // the start of this page could not move (marking.md .sol.interior).
      const PageDesc* before = PageMap::Lookup(d.start - 1);
      if (before != nullptr && AllowsInterior(before->kind) && before->state != PageState::kFree) continue;
      sparse.push_back(Sparse{&d, live});
      sparse_free += capacity - live;
    }
  }
  if (eager) max_live_bytes = UINT64_MAX;
  if (!eager && (sparse.size() < kMinSparsePages || sparse_free * 4 < movable_bytes)) return 0;
  // The sparsest first: the most pages freed for the bytes copied.
  std::sort(sparse.begin(), sparse.end(), [](const Sparse& a, const Sparse& b) { return a.live < b.live; });
  uint64_t chosen_live = 0;
  for (const Sparse& s : sparse) {
    if (chosen_live + s.live > max_live_bytes) break;
    chosen_live += s.live;
    PageDesc* d = s.page;
    d->forward = new uintptr_t[d->objects]();
    if (d->on_partial) PartialRemove(d);
    ++evacuating_;
  }
  return evacuating_;
}

bool MarkSweepSpace::KeepInPlace(PageDesc* d) {
  if (d->forward == nullptr) return false;
  DropForwarding(d);
  return true;
}

void MarkSweepSpace::DropForwarding(PageDesc* d) {
  delete[] d->forward;
  d->forward = nullptr;
  --evacuating_;
}

void* MarkSweepSpace::Relocated(const Collector* owner, void* p) const {
  if (evacuating_ == 0) return p;
  const auto a = reinterpret_cast<uintptr_t>(p);
  const PageDesc* d = PageMap::Lookup(a);
  if (d == nullptr || d->Owner() != owner || d->state != PageState::kSmall || d->forward == nullptr) return p;
  const uint32_t idx = d->IndexOf(a - d->start);
  const uintptr_t to = idx < d->objects && d->ObjectStart(idx) == a ? d->forward[idx] : 0;
  return to != 0 ? reinterpret_cast<void*>(to) : p;
}

// Retiring the run may have left free slots, or nothing, on the page (heap.md
// .inv.uncollectable).
void MarkSweepSpace::SweepUncollectable(PageDesc* d) {
  size_t used = d->CountAllocated();
  if (used == 0) {
    if (d->on_partial) PartialRemove(d);
    heap_.FreePage(d);
    return;
  }
  d->needs_zeroing = true;
  d->scan_cursor = 0;
  if (used < d->objects && !d->on_partial) PartialAppend(d);
}

// Old objects keep their marks, young survivors age (`ages`) or become old, aged survivors
// become old, dead slots become free (barrier.md .sol.minor, .sol.age). Pages that hold aged
// objects stay on the young list for the next minor sweep.
void MarkSweepSpace::SweepYoung(bool ages, MinorTotals& totals) {
  size_t kept = 0;
  for (PageDesc* d : young_) {
    d->young_listed = false;
    if (IsUncollectable(d->kind)) {  // allocated objects stay allocated
      SweepUncollectable(d);
      continue;
    }
    PageDesc::MinorCounts n = d->SweepMinor(ages);
    totals.promoted += uint64_t{n.promoted} * d->obj_size;
    totals.aged_survivors += uint64_t{n.aged_survivors} * d->obj_size;
    totals.aged += uint64_t{n.aged} * d->obj_size;
    d->live_objects = static_cast<uint16_t>(n.old);
    d->needs_zeroing = true;
    d->scan_cursor = 0;
    const uint32_t used = n.old + n.aged;
    if (used == 0) {
      if (d->on_partial) PartialRemove(d);
      heap_.FreePage(d);
      continue;
    }
    if (used < d->objects && !d->on_partial) PartialAppend(d);
    if (n.aged > 0) {
      d->young_listed = true;
      young_[kept++] = d;
    }
  }
  young_.resize(kept);
}

void MarkSweepSpace::Check(Problems& problems, CheckedBytes& counted, bool in_collection) const {
  size_t flagged_partial = 0;
  heap_.ForEachInUse([&](const PageDesc& d) {
    if (d.state == PageState::kSmall) CheckPage(d, problems, counted, in_collection, &flagged_partial);
  });
  size_t listed = 0;
  for (int k = 0; k < kKindCount; ++k) {
    for (int cls = 0; cls < kSizeClassCount; ++cls) CheckPartialList(k, cls, problems, &listed);
  }
  if (listed != flagged_partial) {
    problems.Report("partial lists hold %zu pages, %zu pages are flagged as listed", listed, flagged_partial);
  }
  for (const PageDesc* d : young_) {
    if (!d->young_listed || d->state != PageState::kSmall) {
      problems.Report("young list holds page %p that is not a listed small page", reinterpret_cast<void*>(d->start));
    }
  }
}

void MarkSweepSpace::CheckPage(const PageDesc& d, Problems& problems, CheckedBytes& counted, bool in_collection,
                               size_t* flagged_partial) const {
  const void* page = reinterpret_cast<const void*>(d.start);
  const SizeClass& sc = kSizeClasses[d.size_class];
  if (d.obj_size != sc.size || d.magic != sc.magic || d.objects != sc.objects) problems.Report("page %p: class fields disagree with class %u", page, d.size_class);
  if (PageMap::Lookup(d.start) != &d) problems.Report("page map entry of page %p is wrong", page);
  for (uint32_t i = d.objects; i < kMaxObjectsPerPage; ++i) {
    if (d.IsAllocated(i)) {
      problems.Report("page %p: bit set for slot %u beyond its %u objects", page, i, d.objects);
      break;
    }
  }
  if (IsUncollectable(d.kind)) {
    const size_t used = d.CountAllocated();
    counted.uncollectable += used * d.obj_size;
    // Between collections an uncollectable page is never empty, and one with a free slot is
    // on its partial list, where the allocator finds the slot (heap.md .inv.uncollectable).
    if (!in_collection && used == 0) problems.Report("uncollectable page %p is empty but not freed", page);
    if (!in_collection && used < d.objects && !d.on_partial) {
      problems.Report("uncollectable page %p has free slots but is not on its partial list", page);
    }
  } else if (d.forward == nullptr) {  // an evacuated page's marks are its copies' (.sol.compact)
    counted.live += d.CountMarked() * d.obj_size;
  }
  if (d.on_partial) ++*flagged_partial;
  // A forwarding table lives from the selection to the sweep of one major collection.
  if (!in_collection && d.forward != nullptr) problems.Report("page %p keeps a forwarding table outside a collection", page);
  const size_t aged = d.CountAged();
  counted.aged += aged * d.obj_size;
  if (!in_collection) CheckSlotBits(d, (d.objects + 63u) / 64u, problems);
  if (aged != 0 && !d.young_listed) problems.Report("page %p holds %zu aged objects but is not on the young list", page, aged);
}

void MarkSweepSpace::CheckPartialList(int k, int cls, Problems& problems, size_t* listed) const {
  size_t n = 0;
  for (const PageDesc* d = partial_[k][cls]; d != nullptr; d = d->next) {
    if (d->state != PageState::kSmall || int(d->kind) != k || d->size_class != cls) {
      problems.Report("partial list (kind %d, class %d) holds a page of another kind or class", k, cls);
      return;
    }
    if (!d->on_partial) problems.Report("partial list (kind %d, class %d) holds page %p not flagged as listed", k, cls, reinterpret_cast<void*>(d->start));
    ++*listed;
    if (++n > heap_.heap_bytes() / kPageSize) {
      problems.Report("partial list (kind %d, class %d) has a cycle", k, cls);
      return;
    }
  }
}

}  // namespace keel::gc
