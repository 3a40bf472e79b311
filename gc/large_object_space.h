// large_object_space.h: objects larger than the biggest size class, each in its own run of
// pages; never moved, marked in its head descriptor's bit 0, swept by walking one list.
// Design note: docs/design/heap.md (.sol.spaces, .sol.too-big).
#ifndef KEEL_GC_LARGE_OBJECT_SPACE_H
#define KEEL_GC_LARGE_OBJECT_SPACE_H

#include <cstddef>
#include <cstdint>
#include <vector>

#include "gc/generations.h"
#include "gc/heap.h"
#include "gc/kind.h"
#include "gc/space.h"

namespace keel::gc {

// Owned by the plan; touched only on the collector's thread. Invariants (checked by Check):
// every big run head of the heap is on the object list exactly once; an aged object is on the
// young list; the list's back links match.
class LargeObjectSpace {
 public:
  LargeObjectSpace(Heap& heap, Generations& generations, ByteCounts& bytes)
      : heap_(heap), generations_(generations), bytes_(bytes) {}
  LargeObjectSpace(const LargeObjectSpace&) = delete;
  LargeObjectSpace& operator=(const LargeObjectSpace&) = delete;

  // Whether `bytes` is beyond what the machine (or the heap limit) could ever back: refused
  // before a collection, a mapping or page-map entries are spent on it (heap.md .sol.too-big).
  bool Refuses(size_t bytes) const;
  // The bytes of heap an object of `bytes` bytes takes (whole pages).
  static size_t FootprintOf(size_t bytes) { return PagesFor(bytes) << kPageShift; }
  // A new object of `bytes` bytes (zeroed unless atomic); never collects. nullptr when the heap
  // cannot have the pages.
  void* Allocate(size_t bytes, Kind kind, bool by_mutator);
  // The object of `bytes` bytes (atomic) already written in the run headed by d, which the heap
  // has just adopted (Heap::AdoptRun, places.md .sol.adopt): from now on it is this space's like
  // any object it allocated, young, and counted as allocated.
  void* Adopt(PageDesc* d, size_t bytes);
  // GC_free of the object headed by d: its accounting and its pages.
  void Free(PageDesc* d);

  // Sweeps every object after a major collection's marking; adds the survivors to bytes.live.
  void SweepMajor();
  // Sweeps the objects allocated or aged since the last collection (barrier.md .sol.minor).
  void SweepYoung(bool ages, MinorTotals& totals);
  // Forgets which objects are young (a major sweep makes every survivor old).
  void ForgetYoung() { young_.clear(); }

  void Check(Problems& problems, CheckedBytes& counted, bool in_collection) const;

 private:
  static size_t PagesFor(size_t bytes) { return (((bytes + 15) & ~size_t{15}) + kPageSize - 1) >> kPageShift; }
  // Puts the object of the run headed by d on the lists and counts it.
  void* Link(PageDesc* d, size_t bytes, Kind kind);
  // Takes d off the object list and gives its pages back to the heap.
  void Release(PageDesc* d);

  Heap& heap_;
  Generations& generations_;
  ByteCounts& bytes_;
  PageDesc* objects_ = nullptr;  // doubly linked through PageDesc::next/prev
  std::vector<PageDesc*> young_;  // allocated since the last collection, or aged by it
};

}  // namespace keel::gc

#endif  // KEEL_GC_LARGE_OBJECT_SPACE_H
