// marker.cpp: range scanning, big objects and the drain loop (marker.h,
// docs/design/marking.md).
#include "gc/marker.h"

#include "gc/collector.h"

// Under valgrind's memcheck the root scan marks each word it reads as defined in its own copy:
// otherwise every uninitialised stack word is reported and the doubt spreads through the mark
// bits into the heap and the user's data. The scanned memory keeps its state (README "Valgrind").
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#define KEEL_UNDER_VALGRIND() (RUNNING_ON_VALGRIND != 0)
#define KEEL_MAKE_DEFINED(w) VALGRIND_MAKE_MEM_DEFINED(&(w), sizeof(w))
#else
#define KEEL_UNDER_VALGRIND() false
#define KEEL_MAKE_DEFINED(w) ((void)0)
#endif

namespace keel::gc {

Marker::Marker(Collector& c, MarkStack& stack, uintptr_t heap_lo, uintptr_t heap_hi, bool heap_interior, bool ages)
    : owner_(&c), stack_(stack), lo_(heap_lo), span_(heap_hi > heap_lo ? heap_hi - heap_lo : 0),
      heap_interior_(heap_interior), ages_mask_(ages ? ~uint64_t{0} : 0) {}

// Stacks, static data and registers hold words the compiler never promised were initialized or
// unpoisoned; reading them is the point (docs/design/roots.md .sol.sanitizers).
__attribute__((no_sanitize("address", "undefined"))) void Marker::ScanRange(uintptr_t lo, uintptr_t hi, bool interior) {
  lo = (lo + sizeof(uintptr_t) - 1) & ~(sizeof(uintptr_t) - 1);
  if (KEEL_UNDER_VALGRIND()) [[unlikely]] {
    for (uintptr_t p = lo; p + sizeof(uintptr_t) <= hi; p += sizeof(uintptr_t)) {
      uintptr_t w = *reinterpret_cast<const uintptr_t*>(p);
      KEEL_MAKE_DEFINED(w);
      MarkWord(w, interior);
    }
    return;
  }
  for (uintptr_t p = lo; p + sizeof(uintptr_t) <= hi; p += sizeof(uintptr_t)) {
    MarkWord(*reinterpret_cast<const uintptr_t*>(p), interior);
  }
}

void Marker::ScanOldRange(uintptr_t lo, uintptr_t hi, bool interior) { ScanEntry<true>(lo, hi, interior); }

// Heap objects only: aligned, initialized (the allocator zeroes pointerful memory).
template <bool kOld>
void Marker::ScanEntry(uintptr_t lo, uintptr_t hi, bool interior) {
  for (uintptr_t p = lo; p < hi; p += sizeof(uintptr_t)) {
    if (MarkWordT<kOld>(*reinterpret_cast<const uintptr_t*>(p), interior) && kOld) Remember(p);
  }
}

bool Marker::MarkBig(PageDesc* d) {
  if (IsUncollectable(d->kind)) return false;  // roots, scanned by ScanRootObject
  SlotBits& b = d->bits[0];
  if (((b.alloc | b.mark) & 1) == 0) return false;
  bool stays_young = (b.alloc & ~b.age & ages_mask_ & 1) != 0;
  if ((b.mark & 1) != 0) return stays_young;
  b.mark |= 1;
  ++marked_objects_;
  marked_bytes_ += d->big_bytes;
  if (IsPointerful(d->kind)) stack_.Push(d->start | (b.age & ages_mask_ & kOldEntry), d->start + d->big_bytes);
  return stays_young;
}

void Marker::ScanRootObject(PageDesc* d, uint32_t idx) {
  if (!IsPointerful(d->kind)) return;
  if (d->state == PageState::kBigHead) {
    stack_.Push(d->start, d->start + d->big_bytes);
  } else {
    uintptr_t obj = d->ObjectStart(idx);
    stack_.Push(obj, obj + d->obj_size);
  }
}

// w is page-aligned: it may be one past the end of an allow-interior object that ends exactly
// at the previous page's end (docs/design/marking.md .sol.interior).
bool Marker::MarkEndOfPreviousPage(uintptr_t w) {
  if (w - 1 - lo_ >= span_) return false;
  PageDesc* d = PageMap::Lookup(w - 1);
  if (d == nullptr || d->owner != owner_ || !AllowsInterior(d->kind)) return false;
  if (d->state == PageState::kSmall) {
    if (d->objects > 0 && d->ObjectStart(d->objects) == w) return MarkSmall<true>(d, d->objects - 1u);
  } else if (d->state == PageState::kBigHead && d->start + d->big_bytes == w) {
    return MarkBig(d);
  }
  return false;
}

// The drain loop pops into a ring and prefetches each object as it enters, so an object is
// scanned many pops after its cache line was requested (docs/design/marking.md .sol.prefetch).
void Marker::Drain() {
  // Objects in flight. binary-trees 20 marks at 12.2 / 10.9 / 9.3 / 8.7 / 8.8 ns per object
  // with 4 / 8 / 16 / 32 / 64 (docs/design/marking.md .sol.prefetch).
  constexpr unsigned kRing = 32;
  MarkEntry ring[kRing];
  unsigned head = 0;
  unsigned count = 0;
  const bool interior = heap_interior_;
  for (;;) {
    while (count < kRing) {
      MarkEntry e;
      if (!stack_.Pop(&e)) break;
      __builtin_prefetch(reinterpret_cast<const void*>(e.start & ~kOldEntry));
      ring[(head + count) % kRing] = e;
      ++count;
    }
    if (count == 0) return;
    MarkEntry e = ring[head];
    head = (head + 1) % kRing;
    --count;
    if ((e.start & kOldEntry) == 0) [[likely]] {
      ScanEntry<false>(e.start, e.end, interior);
    } else {
      ScanEntry<true>(e.start & ~kOldEntry, e.end, interior);
    }
  }
}

}  // namespace keel::gc
