// marker.h: the marking pass of one collection: conservative word tests against the page map,
// mark bits in the page descriptors, and the drain loop with a prefetch ring. Design note:
// docs/design/marking.md (.sol.word-test, .sol.interior, .sol.prefetch).
#ifndef KEEL_GC_MARKER_H
#define KEEL_GC_MARKER_H

#include <cstddef>
#include <cstdint>

#include "gc/kind.h"
#include "gc/mark_stack.h"
#include "gc/page.h"
#include "gc/page_map.h"

namespace keel::gc {

class Collector;

// Lives for one collection, on the collecting thread.
class Marker {
 public:
  Marker(Collector& c, MarkStack& stack, uintptr_t heap_lo, uintptr_t heap_hi, bool heap_interior);

  // Tests one word that may be a pointer. `interior`: the word comes from a stack or registers,
  // so a pointer into the middle of any object counts (docs/design/marking.md .sol.interior).
  void MarkWord(uintptr_t w, bool interior) {
    if (w - lo_ >= span_) return;
    if ((w & (kPageSize - 1)) == 0) [[unlikely]] MarkEndOfPreviousPage(w);
    PageDesc* d = PageMap::Lookup(w);
    if (d == nullptr || d->owner != owner_) return;
    if (d->state == PageState::kSmall) {
      uint32_t idx = d->IndexOf(w - d->start);
      uintptr_t obj = d->ObjectStart(idx);
      bool allows = AllowsInterior(d->kind);
      if (obj != w) {
        if (!interior && !allows) return;
      } else if (allows && idx > 0) {
        MarkSmall(d, idx - 1);  // one past the end of the previous object
      }
      if (idx < d->objects) MarkSmall(d, idx);
    } else if (d->state == PageState::kBigHead) {
      if (w != d->start && !interior && !AllowsInterior(d->kind)) return;
      MarkBig(d);
    }
  }

  // Tests every aligned word of [lo, hi).
  void ScanRange(uintptr_t lo, uintptr_t hi, bool interior);
  // Queues the contents of an uncollectable object (a root: it carries no mark bit).
  void ScanRootObject(PageDesc* d, uint32_t idx);
  // Scans queued objects until none is left.
  void Drain();

  bool heap_interior() const { return heap_interior_; }
  uint64_t marked_bytes() const { return marked_bytes_; }
  uint64_t marked_objects() const { return marked_objects_; }

 private:
  void MarkSmall(PageDesc* d, uint32_t idx) {
    if (IsUncollectable(d->kind)) return;  // roots, scanned by ScanRootObject
    BitPair& b = d->bits[idx >> 6];
    uint64_t bit = uint64_t{1} << (idx & 63);
    if (((b.alloc | b.mark) & bit) == 0 || (b.mark & bit) != 0) return;  // free, or already marked
    b.mark |= bit;
    ++marked_objects_;
    marked_bytes_ += d->obj_size;
    if (IsPointerful(d->kind)) {
      uintptr_t obj = d->ObjectStart(idx);
      stack_.Push(obj, obj + d->obj_size);
    }
  }
  void MarkBig(PageDesc* d);
  void MarkEndOfPreviousPage(uintptr_t w);

  const Collector* owner_;
  MarkStack& stack_;
  uintptr_t lo_;
  uintptr_t span_;
  bool heap_interior_;
  uint64_t marked_bytes_ = 0;
  uint64_t marked_objects_ = 0;
};

}  // namespace keel::gc

#endif  // KEEL_GC_MARKER_H
