// marker.h: the marking pass of one collection: conservative word tests against the page map,
// mark bits in the page descriptors, and the drain loop with a prefetch ring. Design note:
// docs/design/marking.md (.sol.word-test, .sol.interior, .sol.prefetch).
#ifndef KEEL_GC_MARKER_H
#define KEEL_GC_MARKER_H

#include <cstddef>
#include <cstdint>
#include <vector>

#include "gc/kind.h"
#include "gc/mark_stack.h"
#include "gc/master.h"
#include "gc/page.h"
#include "gc/page_map.h"
#include "gc/tracer.h"

namespace keel::gc {

class Collector;

// The conservative plan's marking pass. Lives for one collection, on the collecting thread.
// Roots and written pages reach it through its Tracer face (MarkerTracer below); the class
// itself is not polymorphic, so the sanitizer build's dynamic-type checks (UBSan's vptr) stay
// out of the per-word loops: with them every member access of the mark loop was a type check,
// and the GC-stress run of the API suite took 1.6x as long.
class Marker {
 public:
  using Holder = Tracer::Holder;
  // `ages`: this is a minor collection that keeps young survivors young for one more cycle
  // (docs/design/barrier.md .sol.age); otherwise every survivor is old afterwards.
  Marker(Collector& c, MarkStack& stack, uintptr_t heap_lo, uintptr_t heap_hi, bool heap_interior, bool ages);

  // A slot is marked by the heap's interior rule, like a word of a heap object; one in an old
  // object that keeps a young object young puts its page on the remembered list.
  void VisitSlot(void** slot, Holder holder);
  void VisitWords(uintptr_t lo, uintptr_t hi, bool interior, Holder holder);
  bool heap_interior() const { return heap_interior_; }

  // Scans queued objects until none is left.
  void Drain();
  // Reports every object marked from now on to w (nullptr: none).
  void Watch(MarkWatch* w) { watch_ = w; }

  uint64_t marked_objects() const { return marked_objects_; }
  // Minor collections only: heap pages of old objects that point at objects that stay young.
  const std::vector<uintptr_t>& remembered_pages() const { return remembered_; }

 private:
  // Tests every aligned word of [lo, hi) (a root).
  void ScanRange(uintptr_t lo, uintptr_t hi, bool interior);
  // The same for an object that is old after this minor collection (one on a dirty page): a
  // word that keeps a young object young puts its heap page on the remembered list, which is
  // dirty again for the next minor collection (docs/design/barrier.md .sol.age).
  void ScanOldRange(uintptr_t lo, uintptr_t hi, bool interior);

  // An object reached by marking is queued. An aged one that an aging minor collection reaches
  // becomes old, so it is queued with kOldEntry and its words are scanned by ScanOldRange's
  // rules; in any other collection nothing stays young and no entry carries the flag. Objects
  // are at least 8-aligned, so bit 0 of the start is free for it.
  static constexpr uintptr_t kOldEntry = 1;

  // What the marking loops change at every object, copied into a local for the length of a loop
  // so that it stays in registers (docs/design/marking.md .sol.stack); every function below
  // that marks takes it.
  struct Grey {
    MarkCursor stack;
    uint64_t marked;  // objects marked so far
  };
  Grey Take() const { return Grey{stack_.Take(), marked_objects_}; }
  void Put(const Grey& g) {
    stack_.Put(g.stack);
    marked_objects_ = g.marked;
  }

  // kRemember: the word lies in an object that is old after this collection. Returns, when
  // kRemember, whether the word keeps an object that stays young (alloc set, age clear).
  template <bool kRemember>
  bool MarkWordT(Grey& g, uintptr_t w, bool interior) {
    if (w - lo_ >= span_) {
      if (master_ != nullptr) [[unlikely]] master_->Visit(w);  // places.md .sol.master-marks
      return false;
    }
    bool young = false;
    if ((w & (kPageSize - 1)) == 0) [[unlikely]] young = MarkEndOfPreviousPage(g, w);
    PageDesc* d = PageMap::Lookup(w);
    if (d == nullptr) return young;
    if (d->Owner() != owner_) {
      if (master_ != nullptr) [[unlikely]] master_->Visit(w);
      return young;
    }
    if (d->state == PageState::kSmall) {
      uint32_t idx = d->IndexOf(w - d->start);
      uintptr_t obj = d->ObjectStart(idx);
      bool allows = AllowsInterior(d->kind);
      if (obj != w) {
        if (!interior && !allows) return young;
      } else if (allows && idx > 0) {
        young |= MarkSmall<kRemember>(g, d, idx - 1);  // one past the end of the previous object
      }
      if (idx < d->objects) young |= MarkSmall<kRemember>(g, d, idx);
    } else if (d->state == PageState::kBigHead) {
      if (w != d->start && !interior && !AllowsInterior(d->kind)) return young;
      young |= MarkBig(g, d);
    }
    return young;
  }

  // Marks and queues object idx if it is allocated and unmarked. Returns, when kRemember,
  // whether it stays young after this collection: young, not aged, and this collection ages.
  template <bool kRemember>
  bool MarkSmall(Grey& g, PageDesc* d, uint32_t idx) {
    if (IsUncollectable(d->kind)) return false;  // roots: traced with the roots (cgc_plan.cpp)
    SlotBits& b = d->bits[idx >> 6];
    const unsigned shift = idx & 63;
    const uint64_t bit = uint64_t{1} << shift;
    if (((b.alloc | b.mark) & bit) == 0) return false;  // free
    bool stays_young = kRemember && (b.alloc & ~b.age & ages_mask_ & bit) != 0;
    if ((b.mark & bit) != 0) return stays_young;  // old, or marked already
    b.mark |= bit;
    ++g.marked;
    if (watch_ != nullptr) [[unlikely]] watch_->Marked(d->ObjectStart(idx));
    if (IsPointerful(d->kind)) {
      uintptr_t obj = d->ObjectStart(idx);
      stack_.Push(g.stack, obj | ((b.age & ages_mask_) >> shift & kOldEntry), obj + d->obj_size);
    }
    return stays_young;
  }
  bool MarkBig(Grey& g, PageDesc* d) {
    if (IsUncollectable(d->kind)) return false;  // roots: traced with the roots (cgc_plan.cpp)
    SlotBits& b = d->bits[0];
    if (((b.alloc | b.mark) & 1) == 0) return false;
    bool stays_young = (b.alloc & ~b.age & ages_mask_ & 1) != 0;
    if ((b.mark & 1) != 0) return stays_young;
    b.mark |= 1;
    ++g.marked;
    if (watch_ != nullptr) [[unlikely]] watch_->Marked(d->start);
    if (IsPointerful(d->kind)) stack_.Push(g.stack, d->start | (b.age & ages_mask_ & kOldEntry), d->start + d->big_bytes);
    return stays_young;
  }
  // w is page-aligned: it may be one past the end of an allow-interior object that ends exactly
  // at the previous page's end (docs/design/marking.md .sol.interior).
  bool MarkEndOfPreviousPage(Grey& g, uintptr_t w) {
    if (w - 1 - lo_ >= span_) return false;
    PageDesc* d = PageMap::Lookup(w - 1);
    if (d == nullptr || d->Owner() != owner_ || !AllowsInterior(d->kind)) return false;
    if (d->state == PageState::kSmall) {
      if (d->objects > 0 && d->ObjectStart(d->objects) == w) return MarkSmall<true>(g, d, d->objects - 1u);
    } else if (d->state == PageState::kBigHead && d->start + d->big_bytes == w) {
      return MarkBig(g, d);
    }
    return false;
  }
  void Remember(uintptr_t slot) {
    uintptr_t page = slot & ~(kPageSize - 1);
    if (page != last_remembered_) {
      last_remembered_ = page;
      remembered_.push_back(page);
    }
  }
  // Heap objects only: aligned, initialized (the allocator zeroes pointerful memory).
  template <bool kOld>
  void ScanEntry(Grey& g, uintptr_t lo, uintptr_t hi, bool interior) {
    for (uintptr_t p = lo; p < hi; p += sizeof(uintptr_t)) {
      if (MarkWordT<kOld>(g, *reinterpret_cast<const uintptr_t*>(p), interior) && kOld) Remember(p);
    }
  }

  const Collector* owner_;
  MasterMarks* master_;  // during a place's part in a master collection; nullptr otherwise
  MarkStack& stack_;
  uintptr_t lo_;
  uintptr_t span_;
  bool heap_interior_;
  uint64_t ages_mask_;  // all ones when this collection ages young survivors, else zero
  MarkWatch* watch_ = nullptr;
  uint64_t marked_objects_ = 0;
  std::vector<uintptr_t> remembered_;
  uintptr_t last_remembered_ = 0;
};

// The Tracer face of a Marker (tracer.h, marking.md .sol.visitor).
class MarkerTracer final : public Tracer {
 public:
  explicit MarkerTracer(Marker& m) : m_(m) {}
  void VisitSlot(void** slot, Holder holder) override { m_.VisitSlot(slot, holder); }
  void VisitWords(uintptr_t lo, uintptr_t hi, bool interior, Holder holder) override {
    m_.VisitWords(lo, hi, interior, holder);
  }
  // The marker scans a whole object's words by the heap's interior rule.
  void VisitObject(uintptr_t start, uintptr_t end, Kind, Holder holder) override {
    m_.VisitWords(start, end, m_.heap_interior(), holder);
  }
  bool heap_interior() const override { return m_.heap_interior(); }
  void Drain() override { m_.Drain(); }
  void Watch(MarkWatch* w) override { m_.Watch(w); }

 private:
  Marker& m_;
};

}  // namespace keel::gc

#endif  // KEEL_GC_MARKER_H
