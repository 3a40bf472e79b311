// copier.h: the precise plan's tracer for a minor collection: every nursery object that a slot
// reaches is copied into the old generation once, the slot gets the copy's address, and the
// copies are traced in turn, tagged ones through their registered mark procedures. Design note:
// docs/design/precise.md (.sol.copy, .sol.header, .sol.traversers).
#ifndef KEEL_GC_COPIER_H
#define KEEL_GC_COPIER_H

#include <cstddef>
#include <cstdint>

#include "gc/mark_stack.h"
#include "gc/mark_sweep_space.h"
#include "gc/nursery.h"
#include "gc/tracer.h"

namespace keel::gc {

// Lives for one collection, on the collecting thread. A copy is allocated with the old space's
// path that never collects, and marked there: the space's minor sweep then makes it old (heap.md
// .inv.bits). The nursery's objects stay readable until the plan resets it, so a slot visited
// late still finds the forwarding address.
class Copier final : public Tracer {
 public:
  Copier(Nursery& nursery, MarkSweepSpace& old, MarkStack& stack) : nursery_(nursery), old_(old), stack_(stack) {}

  // A slot holding a nursery object's address gets its copy's; anything else is left alone
  // (old and big objects do not move in a minor collection; NULL, fixnums and memory the
  // collector does not own are not references).
  void VisitSlot(void** slot, Holder holder) override;
  // Roots of the precise plan are slots. A conservative word that reaches a nursery object could
  // not be updated, so it stops the collection with a message naming it.
  void VisitWords(uintptr_t lo, uintptr_t hi, bool interior, Holder holder) override;
  // Traces the object's slots (precise.md .req.slots): every word of an untagged object, the
  // mark procedure's of a tagged one.
  void VisitObject(uintptr_t start, uintptr_t end, Kind kind, Holder holder) override;
  bool heap_interior() const override { return false; }
  bool moves_objects() const override { return true; }
  void* Resolve(void* p) const override;
  // Traces the copies until none is left to trace.
  void Drain();

  uint64_t copied_objects() const { return copied_objects_; }
  uint64_t copied_bytes() const { return copied_bytes_; }

 private:
  // Whether p refers to a nursery object (a fixnum, odd, never does).
  bool InNursery(const void* p) const {
    return (reinterpret_cast<uintptr_t>(p) & 1) == 0 && nursery_.Contains(p);
  }
  void* Evacuate(void* p);
  void TraceObject(uintptr_t start, uintptr_t end, Kind kind);

  Nursery& nursery_;
  MarkSweepSpace& old_;
  MarkStack& stack_;
  uint64_t copied_objects_ = 0;
  uint64_t copied_bytes_ = 0;
};

}  // namespace keel::gc

#endif  // KEEL_GC_COPIER_H
