// non_moving.cpp: the non-moving spaces' slow path, mark-bit preparation and sweeps (non_moving.h,
// docs/design/heap.md .sol.spaces, docs/design/roots.md .sol.stacks).
#include "gc/non_moving.h"

#include "gc/collector.h"

namespace keel::gc {
namespace {

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

// Free slots of partly live pages first, in address order; then a new page, after a collection
// if the heap has none to give.
NonMovingPlan::Refilled NonMovingPlan::Refill(Kind kind, int cls) {
  small_.DropRun(kind, cls);
  owner_.CollectIfDue(kSizeClasses[cls].size);
  if (small_.ClaimPartial(kind, cls, true)) return Refilled::kPartialPage;
  PageDesc* page = small_.ClaimNewPage(kind, cls, true);
  if (page == nullptr && owner_.CollectForHeapLimit()) page = small_.ClaimNewPage(kind, cls, true);
  if (page == nullptr) return Refilled::kFailed;
  owner_.stats().NoteHeap(heap_.heap_bytes());
  return Refilled::kNewPage;
}

void* NonMovingPlan::AllocateLarge(size_t bytes, Kind kind) {
  if (large_.Refuses(bytes)) return nullptr;
  owner_.CollectIfDue(LargeObjectSpace::FootprintOf(bytes));
  void* p = large_.Allocate(bytes, kind, true);
  if (p == nullptr && owner_.CollectForHeapLimit()) p = large_.Allocate(bytes, kind, true);
  if (p == nullptr) return nullptr;
  owner_.stats().NoteHeap(heap_.heap_bytes());
  return p;
}

void* NonMovingPlan::AllocateNonMovingSlow(size_t bytes, Kind kind, bool counted) {
  if (bytes > kMaxSmallSize) {
    void* big = AllocateLarge(bytes, kind);
    ClearDeadFrames();
    return big;
  }
  const int cls = SizeClassFor(bytes);
  if (!small_.RunHasRoom(kind, cls)) {
    const uint64_t collections = owner_.collections();
    const uint64_t calls = generations_.mutator_calls();
    const Refilled refilled = Refill(kind, cls);
    if (refilled != Refilled::kPartialPage || collections != owner_.collections() ||
        calls != generations_.mutator_calls()) {
      ClearDeadFrames();
    }
    if (refilled == Refilled::kFailed) return nullptr;
  }
  return small_.TakeSlot(kind, cls, counted);
}

void NonMovingPlan::PrepareMajor() {
  heap_.ForEachInUse([](PageDesc& d) {
    size_t words = d.state == PageState::kSmall ? (d.objects + 63u) / 64u : 1u;
    for (size_t w = 0; w < words; ++w) {
      d.bits[w].alloc |= d.bits[w].mark;
      d.bits[w].mark = 0;
      d.bits[w].age = 0;
    }
  });
}

void NonMovingPlan::SweepNonMoving(bool major, bool ages, MinorTotals& totals) {
  if (major) {
    small_.SweepMajor();
    large_.SweepMajor();
    return;
  }
  small_.SweepYoung(ages, totals);
  large_.SweepYoung(ages, totals);
}

}  // namespace keel::gc
