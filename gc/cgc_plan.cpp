// cgc_plan.cpp: the conservative plan's allocation slow path, phases and root tracing
// (cgc_plan.h, docs/design/heap.md .sol.spaces, docs/design/roots.md .sol.stacks,
// .sol.unknown-stack).
#include "gc/cgc_plan.h"

#include "gc/collector.h"
#include "gc/fatal.h"
#include "gc/tracer.h"

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

// The mutator's part of the stack: from where Collector::CollectNow spilled the registers up to
// the base of the stack it runs on. A stack pointer on no stack Keel knows stops the collection
// before it scans unmapped memory (roots.md .sol.unknown-stack).
void ScanCurrentStack(Collector& c, Tracer& t) {
  uintptr_t top = c.mutator_stack_top();
  // An exited thread's collector has no stack; another thread runs its collections
  // (heap.md .sol.orphans).
  if (top == 0 || c.orphan()) return;
  Range live;
  if (!c.roots().LiveStack(top, &live)) {
    const Roots::StackBounds& b = c.roots().stack_bounds();
    Fatal("collection on a stack Keel does not know (a fiber or coroutine?): stack pointer %p is outside [%p, %p); "
          "call keel_gc_enter_stack before switching to another stack (or scheme_set_stack_bounds)",
          reinterpret_cast<void*>(top), reinterpret_cast<void*>(b.lo), reinterpret_cast<void*>(b.hi));
  }
  t.VisitWords(live.lo, live.hi, true, Tracer::Holder::kRoot);
}

// An uncollectable object carries no mark bit: its contents are roots.
void TraceUncollectable(const Heap& heap, Tracer& t) {
  heap.ForEachInUse([&t](PageDesc& d) {
    if (!IsUncollectable(d.kind) || !IsPointerful(d.kind)) return;
    if (d.state == PageState::kBigHead) {
      if (d.IsAllocated(0)) t.VisitObject(d.start, d.start + d.big_bytes, d.kind, Tracer::Holder::kRoot);
      return;
    }
    for (uint32_t i = 0; i < d.objects; ++i) {
      const uintptr_t obj = d.ObjectStart(i);
      if (d.IsAllocated(i)) t.VisitObject(obj, obj + d.obj_size, d.kind, Tracer::Holder::kRoot);
    }
  });
}

}  // namespace

void* CgcPlan::AllocateSlow(size_t bytes, Kind kind, bool counted) {
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
    if (refilled != Refilled::kPartialPage || collections != owner_.collections() || calls != generations_.mutator_calls()) {
      ClearDeadFrames();
    }
    if (refilled == Refilled::kFailed) return nullptr;
  }
  return small_.TakeSlot(kind, cls, counted);
}

// Free slots of partly live pages first, in address order; then a new page, after a collection
// if the heap has none to give.
CgcPlan::Refilled CgcPlan::Refill(Kind kind, int cls) {
  small_.DropRun(kind, cls);
  owner_.CollectIfDue(kSizeClasses[cls].size);
  if (small_.ClaimPartial(kind, cls, true)) return Refilled::kPartialPage;
  PageDesc* page = small_.ClaimNewPage(kind, cls, true);
  if (page == nullptr && owner_.CollectForHeapLimit()) page = small_.ClaimNewPage(kind, cls, true);
  if (page == nullptr) return Refilled::kFailed;
  owner_.stats().NoteHeap(heap_.heap_bytes());
  return Refilled::kNewPage;
}

void* CgcPlan::AllocateLarge(size_t bytes, Kind kind) {
  if (large_.Refuses(bytes)) return nullptr;
  owner_.CollectIfDue(LargeObjectSpace::FootprintOf(bytes));
  void* p = large_.Allocate(bytes, kind, true);
  if (p == nullptr && owner_.CollectForHeapLimit()) p = large_.Allocate(bytes, kind, true);
  if (p == nullptr) return nullptr;
  owner_.stats().NoteHeap(heap_.heap_bytes());
  return p;
}

// A major collection starts from "everything allocated is a candidate": old marks fold into the
// alloc bits and are cleared, and ages are forgotten: every survivor of a major collection is
// old (heap.md .inv.bits). Uncollectable pages keep their state.
void CgcPlan::PrepareMajor() {
  heap_.ForEachInUse([](PageDesc& d) {
    size_t words = d.state == PageState::kSmall ? (d.objects + 63u) / 64u : 1u;
    for (size_t w = 0; w < words; ++w) {
      d.bits[w].alloc |= d.bits[w].mark;
      d.bits[w].mark = 0;
      d.bits[w].age = 0;
    }
  });
}

void CgcPlan::TraceRoots(Tracer& t) {
  ScanCurrentStack(owner_, t);
  owner_.roots().Trace(t);
  TraceUncollectable(heap_, t);
}

// The large-object space adds its survivors to the live bytes the mark-sweep space counted.
void CgcPlan::Sweep(bool major, bool ages, MinorTotals& totals) {
  if (major) {
    small_.SweepMajor();
    large_.SweepMajor();
    return;
  }
  small_.SweepYoung(ages, totals);
  large_.SweepYoung(ages, totals);
}

}  // namespace keel::gc
