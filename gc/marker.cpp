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
    : owner_(&c), master_(c.master_marks()), stack_(stack), lo_(heap_lo), span_(heap_hi > heap_lo ? heap_hi - heap_lo : 0),
      heap_interior_(heap_interior), ages_mask_(ages ? ~uint64_t{0} : 0) {}

// Stacks, static data and registers hold words the compiler never promised were initialized or
// unpoisoned; reading them is the point (docs/design/roots.md .sol.sanitizers).
__attribute__((no_sanitize("address", "undefined", "thread"))) void Marker::ScanRange(uintptr_t lo, uintptr_t hi, bool interior) {
  lo = FirstAlignedWord(lo);
  Grey g = Take();
  if (KEEL_UNDER_VALGRIND()) [[unlikely]] {
    for (uintptr_t p = lo; p + sizeof(uintptr_t) <= hi; p += sizeof(uintptr_t)) {
      uintptr_t w = *reinterpret_cast<const uintptr_t*>(p);
      KEEL_MAKE_DEFINED(w);
      MarkWordT<false>(g, w, interior);
    }
  } else {
    for (uintptr_t p = lo; p + sizeof(uintptr_t) <= hi; p += sizeof(uintptr_t)) {
      MarkWordT<false>(g, *reinterpret_cast<const uintptr_t*>(p), interior);
    }
  }
  Put(g);
}

void Marker::ScanOldRange(uintptr_t lo, uintptr_t hi, bool interior) {
  Grey g = Take();
  ScanEntry<true>(g, lo, hi, interior);
  Put(g);
}

void Marker::VisitSlot(void** slot, Holder holder) {
  Grey g = Take();
  const auto w = reinterpret_cast<uintptr_t>(*slot);
  if (holder == Holder::kOld) {
    if (MarkWordT<true>(g, w, heap_interior_)) Remember(reinterpret_cast<uintptr_t>(slot));
  } else {
    MarkWordT<false>(g, w, heap_interior_);
  }
  Put(g);
}

void Marker::VisitWords(uintptr_t lo, uintptr_t hi, bool interior, Holder holder) {
  if (holder == Holder::kOld) {
    ScanOldRange(lo, hi, interior);
  } else {
    ScanRange(lo, hi, interior);
  }
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
  Grey g = Take();
  for (;;) {
    while (count < kRing) {
      MarkEntry e;
      if (!MarkStack::Pop(g.stack, &e)) break;
      __builtin_prefetch(reinterpret_cast<const void*>(e.start & ~kOldEntry));
      ring[(head + count) % kRing] = e;
      ++count;
    }
    if (count == 0) break;
    MarkEntry e = ring[head];
    head = (head + 1) % kRing;
    --count;
    if ((e.start & kOldEntry) == 0) [[likely]] {
      ScanEntry<false>(g, e.start, e.end, interior);
    } else {
      ScanEntry<true>(g, e.start & ~kOldEntry, e.end, interior);
    }
  }
  Put(g);
}

}  // namespace keel::gc
