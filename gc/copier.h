// copier.h: the precise plan's tracer: every nursery object that a slot reaches is copied into
// the old generation once and the slot gets the copy's address; every non-moving object it
// reaches (allow-interior, big, and, in a major collection, old objects) is marked in place,
// except old objects on pages a compacting major collection evacuates, which are copied too.
// Copies and newly marked objects are traced in turn, tagged ones through their registered mark
// procedures. Design note: docs/design/precise.md (.sol.copy, .sol.major, .sol.compact,
// .sol.header, .sol.traversers, .sol.checked).
#ifndef KEEL_GC_COPIER_H
#define KEEL_GC_COPIER_H

#include <cstddef>
#include <cstdint>

#include "gc/mark_stack.h"
#include "gc/mark_sweep_space.h"
#include "gc/master.h"
#include "gc/nursery.h"
#include "gc/page.h"
#include "gc/tracer.h"

namespace keel::gc {

class Collector;

// Lives for one collection, on the collecting thread. A copy is allocated with the old space's
// path that never collects, and marked there: the space's sweep then makes it old (heap.md
// .inv.bits). Which non-moving objects are candidates follows from the bits: in a minor
// collection old objects are marked already, in a major one (after PrepareMajor) nothing is.
// The nursery's objects stay readable until the plan resets it, so a slot visited late still
// finds the forwarding address.
class Copier final : public Tracer {
 public:
  // `mark_in_place`: objects outside the nursery may be candidates (a major collection, or a
  // minor one after non-moving objects were allocated); otherwise only nursery objects are
  // traced. `checked`: every slot is validated against precise.md .req.slots and a bad one
  // stops the collection with a report naming its holder (the checked build, .sol.checked).
  Copier(const Collector& owner, Nursery& nursery, MarkSweepSpace& old, MarkStack& stack, uintptr_t heap_lo,
         uintptr_t heap_hi, bool mark_in_place, bool checked);

  // A slot holding a nursery object's address gets its copy's; a non-moving object is marked;
  // NULL, fixnums and memory the collector does not own are left alone.
  void VisitSlot(void** slot, Holder holder) override;
  // Roots of the precise plan are slots. A conservative word that reaches a nursery object could
  // not be updated, so it stops the collection with a message naming it; other objects it
  // reaches are marked by the interior rule.
  void VisitWords(uintptr_t lo, uintptr_t hi, bool interior, Holder holder) override;
  // Traces the object's slots (precise.md .req.slots): every word of an untagged object, the
  // mark procedure's of a tagged one.
  void VisitObject(uintptr_t start, uintptr_t end, Kind kind, Holder holder) override;
  bool heap_interior() const override { return false; }
  bool moves_objects() const override { return true; }
  void* Resolve(void* p) const override;
  // Traces copies and marked objects until none is left to trace.
  void Drain() override;
  void Watch(MarkWatch* w) override { watch_ = w; }

  uint64_t copied_objects() const { return copied_objects_; }
  uint64_t copied_bytes() const { return copied_bytes_; }
  // Of those, old objects copied off evacuated pages (.sol.compact).
  uint64_t compacted_objects() const { return compacted_objects_; }
  uint64_t compacted_bytes() const { return compacted_bytes_; }
  uint64_t marked_objects() const { return marked_objects_; }

 private:
  // Whether p refers to a nursery object (a fixnum, odd, never does).
  bool InNursery(const void* p) const {
    return (reinterpret_cast<uintptr_t>(p) & 1) == 0 && nursery_.MayHoldObject(p);
  }
  void* Evacuate(void* p, const void* slot);
  // A copy of the `bytes`-byte object at p in the old space, marked there (its sweep keeps it as
  // old), counted, and queued if it may hold references; `what` names the move in the report
  // when memory runs out.
  uintptr_t CopyToOld(const void* p, size_t bytes, Kind kind, const char* what);
  // The common case of marking in place, inline: the start of an old object of a small page
  // that is not evacuated and whose kind takes no interior pointers, not on a page boundary.
  // False when a is anything else (MarkInPlace's cases).
  bool MarkOldSmall(uintptr_t a);
  // Marks the non-moving object holding a (interior pointers count: a slot that points into the
  // middle of an object keeps all of it) and queues it if it is newly marked and pointerful. An
  // object on an evacuated page is copied instead and `slot` (nullptr for a conservative word,
  // which cannot be updated: a fatal error) gets the copy's address.
  void MarkInPlace(uintptr_t a, void** slot);
  // The copy of old object a on evacuated page d, made at its first visit (.sol.compact).
  uintptr_t Relocate(PageDesc* d, uintptr_t a, void** slot);
  void MarkSmall(PageDesc* d, uint32_t idx);
  void MarkBig(PageDesc* d);
  // Queues a pointerful object for tracing.
  void Queue(uintptr_t start, uintptr_t end, Kind kind);
  void TraceObject(uintptr_t start, uintptr_t end, Kind kind);
  // The checked build's slot rule (precise.md .req.slots); aborts with a report on a bad slot.
  void CheckSlot(const void* slot, uintptr_t value) const;
  // Names what holds the slot being visited, for reports.
  void DescribeHolder(char* out, size_t size) const;

  const Collector* owner_;
  MasterMarks* master_;  // during a place's part in a master collection; nullptr otherwise
  Nursery& nursery_;
  MarkSweepSpace& old_;
  MarkStack& stack_;
  uintptr_t lo_;
  uintptr_t span_;
  bool mark_in_place_;
  bool checked_;
  uintptr_t tracing_ = 0;  // the object being traced (for reports), 0 while visiting roots
  // The mark stack's cursor, taken for the copier's whole life (marking.md .sol.stack): every
  // push and pop of a collection goes through this copier, so no other code touches the stack
  // meanwhile; put back by Drain.
  MarkCursor cursor_;
  uint64_t copied_objects_ = 0;
  uint64_t copied_bytes_ = 0;
  uint64_t compacted_objects_ = 0;
  uint64_t compacted_bytes_ = 0;
  uint64_t marked_objects_ = 0;
  MarkWatch* watch_ = nullptr;
  uintptr_t last_big_ = 0;  // the big tagged object VisitObject traced last
};

}  // namespace keel::gc

#endif  // KEEL_GC_COPIER_H
