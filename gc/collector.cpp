// collector.cpp: instance life cycle, allocation slow paths and explicit frees (collector.h).
// Collection itself is in collection.cpp. Design note: docs/design/heap.md.
#include "gc/collector.h"

#include <pthread.h>

#include <atomic>
#include <cstdlib>
#include <cstring>

#include "gc/env.h"
#include "gc/fatal.h"
#include "gc/orphanage.h"
#include "gc/os_memory.h"
#include "gc/page_map.h"

namespace keel::gc {

constinit thread_local Collector* Collector::t_current_ = nullptr;

namespace {

std::atomic<bool> g_default_all_interior{false};

// A thread that exits with a collector still attached retires it through this key's destructor
// (it does not run for the main thread, whose heap lives until the process ends).
pthread_key_t g_exit_key;
pthread_once_t g_exit_key_once = PTHREAD_ONCE_INIT;

void DestroyOnThreadExit(void*) { Collector::RetireCurrent(); }
void MakeExitKey() { pthread_key_create(&g_exit_key, DestroyOnThreadExit); }

// Zeroes the stack just below the caller. The allocation slow path calls it after its helpers
// returned, so the page and run addresses they computed do not linger in dead frames, where a
// later conservative scan of frames that grow over them would take them for pointers (bdwgc
// clears its stack for the same reason). 1 KiB covers the slow path's deepest helper chain.
// One memset, which the compiler makes a few wide stores, not 128 volatile ones; the empty asm
// that reads the array keeps the stores. Only slow paths that went deep call it (a collection, a
// new page, a protection call): where free slots are scattered the slow path runs at nearly
// every allocation, only to claim the next run of a partly free page, and clearing then was
// 39% of the mutation benchmark's time. Such a path leaves at most the bounds of the run being
// allocated, in frames that the next slow path overwrites.
__attribute__((noinline)) void ClearDeadFrames() {
  uintptr_t area[128];
  __builtin_memset(area, 0, sizeof area);
  asm volatile("" : : "r"(area) : "memory");
}

}  // namespace

Collector& Collector::CreateCurrent() {
  if (!PageMap::Init()) Fatal("cannot map the page map (out of address space)");
  pthread_once(&g_exit_key_once, MakeExitKey);
  auto* c = new Collector();
  t_current_ = c;
  pthread_setspecific(g_exit_key, c);
  return *c;
}

void Collector::DestroyCurrent() {
  Collector* c = t_current_;
  if (c == nullptr) return;
  if (c->in_collection_) Fatal("keel_shutdown: called during a collection");
  delete c;
  t_current_ = nullptr;
  pthread_setspecific(g_exit_key, nullptr);
}

void Collector::RetireCurrent() {
  Collector* c = t_current_;
  if (c == nullptr) return;
  if (c->in_collection_ || c->in_allocator_) Fatal("a thread exited during a collection or an allocation of its collector");
  // The runtime layer is the thread's: its roots go with it.
  if (c->client_destroy_ != nullptr) c->client_destroy_(c->client_);
  c->client_ = nullptr;
  c->client_destroy_ = nullptr;
  c->orphan_ = true;  // no stack: the thread's frames, and any fiber stacks it ran, are gone
  c->roots_.ForgetStacks();
  c->disabled_ = 0;
  c->Collect(KEEL_GC_REASON_EXPLICIT);
  t_current_ = nullptr;
  pthread_setspecific(g_exit_key, nullptr);
  if (!c->HoldsMemory()) {
    delete c;
    return;
  }
  c->ReleaseMemory();
  Orphanage::Adopt(c);
}

bool Collector::HasExplicitRoots() const {
  return uncollectable_bytes_ != 0 || roots_.live_boxes() != 0 || roots_.pinned() != 0;
}

bool Collector::HoldsMemory() const { return live_bytes() != 0 || HasExplicitRoots(); }

void Collector::FreeAnywhere(void* p, const char* who) {
  if (p == nullptr) return;
  Collector& self = Current();
  PageDesc* d = PageMap::Lookup(reinterpret_cast<uintptr_t>(p));
  if (d != nullptr && d->owner != &self && Orphanage::Free(p, who)) return;
  self.Free(p, who);
}

void Collector::SetDefaultAllInteriorPointers(bool on) { g_default_all_interior.store(on, std::memory_order_relaxed); }
bool Collector::DefaultAllInteriorPointers() { return g_default_all_interior.load(std::memory_order_relaxed); }

Collector::Collector() : barrier_(MakeBarrier(*this)), heap_(this) {
  heap_.set_barrier(barrier_.get());
  all_interior_ = DefaultAllInteriorPointers();
  stress_every_ = EnvCount("KEEL_GC_STRESS", 0, 0, UINT64_MAX);
#ifdef KEEL_GC_CHECKED
  // Checked builds verify the heap's structure after every collection (DESIGN D12).
  constexpr uint64_t kDefaultVerify = 1;
#else
  constexpr uint64_t kDefaultVerify = 0;
#endif
  verify_each_ = static_cast<int>(EnvCount("KEEL_GC_VERIFY", kDefaultVerify, 0, 2));
  if (EnvFlag("PLTDISABLEGC")) disabled_ = 1;
  budget_ = policy_.NextBudget(0);
  major_threshold_ = policy_.MajorThreshold(0);
  heap_limit_ = policy_.HeapLimit(0);
}

Collector::~Collector() {
  if (client_destroy_ != nullptr) client_destroy_(client_);
  // The heap's destructor unmaps every chunk and clears their page-map entries.
}

bool Collector::Enable() {
  if (disabled_ == 0) return false;
  --disabled_;
  return true;
}

void Collector::AddWeakCallback(WeakCallback fn, void* data) { weak_callbacks_.push_back(WeakEntry{fn, data}); }

void Collector::RemoveWeakCallback(WeakCallback fn, void* data) {
  std::erase_if(weak_callbacks_, [fn, data](const WeakEntry& e) { return e.fn == fn && e.data == data; });
}

// --- allocation slow paths ----------------------------------------------------------------------

// The slow path runs with in_allocator_ set, so a signal handler that allocates while it (or a
// collection it started) is running is caught here instead of corrupting the heap. The fast
// path is a few instructions and is not guarded; docs/api.md forbids allocating in handlers.
void* Collector::AllocateSlow(size_t bytes, Kind kind) {
  if (in_weak_callbacks_) Fatal("allocation during a collection (a weak or collect callback allocated)");
  if (in_allocator_ || in_collection_) {
    Fatal("allocation from a signal handler (or other re-entrant call) while this thread's allocator "
          "or collector was running; allocating there is not allowed (docs/api.md, Threads, fork and signals)");
  }
  in_allocator_ = true;
  void* p = AllocateSlowImpl(bytes, kind);
  in_allocator_ = false;
  return p;
}

void* Collector::AllocateSlowImpl(size_t bytes, Kind kind) {
  if (stress_every_ != 0 && ++stress_count_ >= stress_every_) {
    stress_count_ = 0;
    if (MayCollectNow()) CollectNow(KEEL_GC_REASON_STRESS, false);
  }
  if (bytes > kMaxSmallSize) {
    void* big = AllocateBig(bytes, kind);
    ClearDeadFrames();
    return big;
  }
  int cls = SizeClassFor(bytes);
  AllocRun& r = runs_[static_cast<int>(kind)][cls];
  uint32_t size = kSizeClasses[cls].size;
  if (r.cur + size > r.end) {
    const uint64_t collections = stats_.collections();
    const uint64_t calls = mutator_open_calls_;
    const Refilled refilled = Refill(kind, cls);
    if (refilled != Refilled::kPartialPage || collections != stats_.collections() || calls != mutator_open_calls_) {
      ClearDeadFrames();
    }
    if (refilled == Refilled::kFailed) return nullptr;
  }
  uintptr_t p = r.cur;
  r.cur = p + size;
  // Uncollectable objects are counted one by one, so they always take this path.
  bool counted = IsUncollectable(kind);
  if (counted) uncollectable_bytes_ += size;
  r.limit = stress_every_ != 0 || counted ? r.cur : r.end;
  return reinterpret_cast<void*>(p);
}

// With a barrier, allocation triggers minor collections every young budget; without one, full
// collections every budget. The collection is a major one when the old, aged and young data
// with this allocation would take the heap past the bound a full collection keeps; it comes as
// soon as they would, not at the end of the young budget, so that the heap never passes that
// bound by up to a young generation (docs/design/barrier.md .sol.policy).
void Collector::MaybeCollectForAllocation(size_t upcoming) {
  bool generational = barrier_->kind() != BarrierKind::kNone && full_collections_left_ == 0;
  // The bound holds for a full collection's budget too: after a minor collection that starts a
  // stretch of full ones (.sol.payoff) the budget counts promoted garbage as live.
  const uint64_t kept = live_bytes_ + aged_bytes_;
  const uint64_t room = heap_limit_ > kept ? heap_limit_ - kept : 0;
  const uint64_t limit = std::min(generational ? policy_.YoungLimit(live_bytes_) : budget_, room);
  if (bytes_since_gc_ + upcoming > limit && MayCollectNow()) {
    bool over = live_bytes_ + aged_bytes_ + bytes_since_gc_ + upcoming > heap_limit_;
    CollectNow(KEEL_GC_REASON_ALLOCATION, over);
  }
}

void Collector::ClaimRun(AllocRun& r, PageDesc* page, uint32_t from, uint32_t to) {
  // Old objects share this page: the allocator's own stores would fault, so the page is opened
  // with one call and counted dirty, and with it the partly free pages the allocator takes
  // next, where they follow it in memory (barrier.md .sol.alloc). Under uffd the kernel
  // resolves the faults itself and the next scan finds the pages written: the call is made
  // only where it costs less than the faults it saves (four per page), at the costs measured
  // on this machine.
  Chunk& c = *page->chunk;
  const size_t first = c.PageIndex(page->start);
  if (page->live_objects > 0) page->refilled = true;  // barrier.md .sol.refill
  if (c.IsProtected(first)) {
    size_t count = 1;
    for (const PageDesc* n = page->next; n != nullptr && count < kOpenAhead; n = n->next, ++count) {
      if (n->chunk != &c || n->start != page->start + (count << kPageShift) || !c.IsProtected(first + count)) break;
    }
    const bool let_fault = !barrier_->WritesFault() &&
                           barrier_->event_cost_ns() * (kPageSize / os::kOsPageSize) * count < barrier_->call_cost_ns();
    if (!let_fault) MakeWritable(c, first, count, true);
  }
  NoteYoungPage(page);
  page->SetAllocRange(from, to);
  page->scan_cursor = static_cast<uint16_t>(to);
  uintptr_t start = page->ObjectStart(from);
  uintptr_t end = page->ObjectStart(to);
  if (IsPointerful(page->kind) && page->needs_zeroing) std::memset(reinterpret_cast<void*>(start), 0, end - start);
  r.cur = start;
  r.end = end;
  r.limit = IsUncollectable(page->kind) ? start : end;
  r.page = page;
  bytes_since_gc_ += end - start;
}

PageDesc* Collector::NewSmallPage(Kind kind, int cls) {
  PageDesc* d = heap_.AllocatePage();
  if (d == nullptr && MayCollectNow()) {
    CollectNow(KEEL_GC_REASON_HEAP_LIMIT, true);
    d = heap_.AllocatePage();
  }
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
  MakeWritable(c, first, count, false);
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
  stats_.NoteHeap(heap_.heap_bytes());
  return d;
}

void Collector::FreeBig(PageDesc* d) {
  if (d->prev != nullptr) d->prev->next = d->next; else big_objects_ = d->next;
  if (d->next != nullptr) d->next->prev = d->prev;
  heap_.FreeRun(d);
}

// No collection frees uncollectable objects, so GC_free offers a freed slot to the allocator at
// once and gives an emptied page back to its chunk (docs/design/heap.md .inv.uncollectable).
void Collector::ReuseUncollectableSlot(PageDesc* d, uint32_t idx) {
  if (d->CountAllocated() == 0) {
    // An empty page holds no unused run tail (.inv.runs): a run still pointing at it is used up.
    AllocRun& r = runs_[static_cast<int>(d->kind)][d->size_class];
    if (r.page == d) r = AllocRun{};
    if (d->on_partial) PartialRemove(d);
    if (d->young_listed) {
      std::erase(young_pages_, d);
      d->young_listed = false;
    }
    heap_.FreePage(d);
    return;
  }
  if (idx < d->scan_cursor) d->scan_cursor = static_cast<uint16_t>(idx);
  if (!d->on_partial) PartialAppend(d);
}

void Collector::PartialAppend(PageDesc* d) {
  int k = static_cast<int>(d->kind);
  PageDesc*& tail = partial_tail_[k][d->size_class];
  d->next = nullptr;
  d->prev = tail;
  if (tail != nullptr) tail->next = d; else partial_[k][d->size_class] = d;
  tail = d;
  d->on_partial = true;
}

void Collector::PartialRemove(PageDesc* d) {
  int k = static_cast<int>(d->kind);
  if (d->prev != nullptr) d->prev->next = d->next; else partial_[k][d->size_class] = d->next;
  if (d->next != nullptr) d->next->prev = d->prev; else partial_tail_[k][d->size_class] = d->prev;
  d->next = d->prev = nullptr;
  d->on_partial = false;
}

Collector::Refilled Collector::Refill(Kind kind, int cls) {
  const int k = static_cast<int>(kind);
  AllocRun& r = runs_[k][cls];
  r = AllocRun{};
  MaybeCollectForAllocation(kSizeClasses[cls].size);
  // Reuse free slots of partly live pages first, in address order.
  while (PageDesc* page = partial_[k][cls]) {
    uint32_t from = 0, to = 0;
    if (page->NextFreeRun(page->scan_cursor, &from, &to)) {
      ClaimRun(r, page, from, to);
      return Refilled::kPartialPage;
    }
    PartialRemove(page);
  }
  PageDesc* page = NewSmallPage(kind, cls);
  if (page == nullptr) return Refilled::kFailed;
  ClaimRun(r, page, 0, page->objects);
  return Refilled::kNewPage;
}

void* Collector::AllocateBig(size_t bytes, Kind kind) {
  // Anything near the size of the address space is refused before rounding can wrap, and
  // anything the machine (or the heap limit) could never back is refused before a collection,
  // a mapping or page-map entries are spent on it (docs/design/heap.md .sol.too-big).
  if (bytes > (size_t{1} << 46) || bytes > heap_.largest_heap()) return nullptr;
  uint64_t rounded = (bytes + 15) & ~uint64_t{15};
  size_t pages = (rounded + kPageSize - 1) >> kPageShift;
  MaybeCollectForAllocation(pages << kPageShift);
  PageDesc* d = heap_.AllocateRun(pages);
  if (d == nullptr && MayCollectNow()) {
    CollectNow(KEEL_GC_REASON_HEAP_LIMIT, true);
    d = heap_.AllocateRun(pages);
  }
  if (d == nullptr) return nullptr;
  MakeWritable(*d->chunk, d->chunk->PageIndex(d->start), pages, false);
  d->state = PageState::kBigHead;
  d->kind = kind;
  d->objects = 1;
  d->obj_size = 0;
  d->big_bytes = rounded;
  d->bits[0].alloc = 1;
  if (IsPointerful(kind) && d->needs_zeroing) std::memset(reinterpret_cast<void*>(d->start), 0, pages << kPageShift);
  d->prev = nullptr;
  d->next = big_objects_;
  if (big_objects_ != nullptr) big_objects_->prev = d;
  big_objects_ = d;
  young_big_.push_back(d);
  if (IsUncollectable(kind)) uncollectable_bytes_ += rounded;
  bytes_since_gc_ += pages << kPageShift;
  stats_.NoteHeap(heap_.heap_bytes());
  return reinterpret_cast<void*>(d->start);
}

// --- explicit frees and queries -----------------------------------------------------------------

void Collector::Free(void* p, const char* who) {
  if (p == nullptr) return;
  if (in_collection_) Fatal("%s: called during a collection", who);
  auto a = reinterpret_cast<uintptr_t>(p);
  PageDesc* d = PageMap::Lookup(a);
  if (d == nullptr || d->owner != this) Fatal("%s: %p was not allocated by this collector", who, p);
  if (d->state == PageState::kSmall) {
    uint32_t idx = d->IndexOf(a - d->start);
    if (d->ObjectStart(idx) != a || idx >= d->objects) Fatal("%s: %p points into the middle of an object", who, p);
    if (!d->IsAllocated(idx)) Fatal("%s: %p is not allocated (freed twice?)", who, p);
    SlotBits& b = d->bits[idx >> 6];
    uint64_t bit = uint64_t{1} << (idx & 63);
    if (IsUncollectable(d->kind)) {
      uncollectable_bytes_ -= d->obj_size;
    } else if (b.mark & bit) {
      live_bytes_ -= d->obj_size;
      --d->live_objects;
    } else if (b.age & bit) {
      aged_bytes_ -= d->obj_size;
    }
    b.alloc &= ~bit;
    b.mark &= ~bit;
    b.age &= ~bit;
    if (IsPointerful(d->kind)) std::memset(p, 0, d->obj_size);
    if (IsUncollectable(d->kind)) ReuseUncollectableSlot(d, idx);
    return;
  }
  // The pages of a freed small page or shared big run are free pages of their chunk.
  if (d->state == PageState::kFree) Fatal("%s: %p is not allocated (freed twice?)", who, p);
  if (d->state != PageState::kBigHead || d->start != a) Fatal("%s: %p points into the middle of an object", who, p);
  if (IsUncollectable(d->kind)) {
    uncollectable_bytes_ -= d->big_bytes;
  } else if (d->bits[0].mark & 1) {
    live_bytes_ -= d->big_bytes;
  } else if (d->bits[0].age & 1) {
    aged_bytes_ -= d->big_bytes;
  }
  std::erase(young_big_, d);
  FreeBig(d);
}

void* Collector::BaseOf(const void* p) const {
  auto a = reinterpret_cast<uintptr_t>(p);
  PageDesc* d = PageMap::Lookup(a);
  if (d == nullptr || d->owner != this) return nullptr;
  if (d->state == PageState::kSmall) {
    uint32_t idx = d->IndexOf(a - d->start);
    if (idx >= d->objects || !d->IsAllocated(idx)) return nullptr;
    return reinterpret_cast<void*>(d->ObjectStart(idx));
  }
  if (d->state == PageState::kBigHead && d->IsAllocated(0) && a < d->start + d->big_bytes) {
    return reinterpret_cast<void*>(d->start);
  }
  return nullptr;
}

size_t Collector::SizeOf(const void* p) const {
  void* base = BaseOf(p);
  if (base == nullptr || base != p) return 0;
  PageDesc* d = PageMap::Lookup(reinterpret_cast<uintptr_t>(p));
  return d->state == PageState::kSmall ? d->obj_size : d->big_bytes;
}

bool Collector::KindOf(const void* p, Kind* kind) const {
  PageDesc* d = PageMap::Lookup(reinterpret_cast<uintptr_t>(p));
  if (d == nullptr || d->owner != this || d->state == PageState::kFree) return false;
  *kind = d->kind;
  return true;
}

bool Collector::IsHeapAddress(const void* p) const {
  PageDesc* d = PageMap::Lookup(reinterpret_cast<uintptr_t>(p));
  return d != nullptr && d->owner == this;
}

bool Collector::IsMarked(const void* p) const {
  auto a = reinterpret_cast<uintptr_t>(p);
  PageDesc* d = PageMap::Lookup(a);
  if (d == nullptr || d->owner != this) return true;
  if (d->state == PageState::kSmall) {
    uint32_t idx = d->IndexOf(a - d->start);
    return idx < d->objects && (IsUncollectable(d->kind) ? d->IsAllocated(idx) : d->IsMarked(idx));
  }
  if (d->state == PageState::kBigHead) return IsUncollectable(d->kind) ? d->IsAllocated(0) : d->IsMarked(0);
  return false;
}

void Collector::FillStats(keel_gc_stats* out) const {
  *out = keel_gc_stats{};
  out->collections = stats_.collections();
  out->minor_collections = stats_.minor();
  out->major_collections = stats_.major();
  out->total_pause_ns = stats_.total_pause_ns();
  out->max_pause_ns = stats_.max_pause_ns();
  out->total_allocated_bytes = total_allocated_bytes();
  out->bytes_since_gc = bytes_since_gc_;
  out->live_bytes = live_bytes();
  out->peak_live_bytes = stats_.peak_live();
  out->heap_bytes = heap_.heap_bytes();
  out->peak_heap_bytes = std::max<uint64_t>(stats_.peak_heap(), heap_.heap_bytes());
  out->committed_bytes = heap_.committed_bytes();
  out->free_committed_bytes = heap_.committed_free_bytes();
  out->next_collection_bytes = budget_ > bytes_since_gc_ ? budget_ - bytes_since_gc_ : 0;
}

void Collector::ReleaseMemory() { heap_.Release(0); }

}  // namespace keel::gc
