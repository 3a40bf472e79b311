// weak_arrays.h: a collector's weak arrays (GC_malloc_weak_array). A weak array is an atomic
// object (no tracer reads its slots) listed in the collector's table; after marking, every slot
// of every listed array that survives is updated to where its object lives now or, when
// nothing else kept the object, replaced by the array's replacement value. Design note:
// docs/design/weak.md (.sol.arrays, .sol.phases).
#ifndef KEEL_GC_WEAK_ARRAYS_H
#define KEEL_GC_WEAK_ARRAYS_H

#include <cstddef>
#include <cstdint>
#include <vector>

namespace keel::gc {

class Collector;
class Tracer;

// The layout of a weak array, shared with schemegc2.h's GC_Weak_Array (Racket's gc2 layout): a
// header word (the type tag and keyex), the slot count, the replacement value, a word Racket's
// collector links arrays through (unused here), then the slots, which must be the 5th word.
struct WeakArrayLayout {
  short tag;
  short keyex;
  intptr_t count;
  void* replace_val;
  void* next;
  void* data[1];  // really `count` slots
};
static_assert(offsetof(WeakArrayLayout, data) == 4 * sizeof(void*), "data is the 5th word, as in Racket");

// Owned by a collector; touched only on its thread and by its collections. Entries are the
// arrays' addresses. Unlike a weak box's value, a slot may be written at any time and the
// array is atomic, so no barrier reports the write: a young object may sit in an old array. So
// there is one list, and every collection, minor or major, looks at every slot of every listed
// array (.sol.arrays). Call order in a collection: TraceRoots with the other roots, Clear with
// the ordinary weak boxes, ClearResurrected at the end of the weak phases.
class WeakArrays {
 public:
  // `array` was just made: count, replacement value and slots set.
  void Add(void* array) { arrays_.push_back(array); }
  // With the collection's other roots: each listed array's replacement value is a root slot, so
  // it lives (and is followed when it moves) while its array does, and for one collection more.
  void TraceRoots(Collector& c, Tracer& t);
  // After marking, with the ordinary weak boxes (DESIGN D6's step 3): the slots of every listed
  // array that survives keep their objects' new addresses or get the replacement value; the
  // arrays not reached are put aside for ClearResurrected.
  void Clear(Collector& c);
  // At the end of the weak phases: an array put aside that a finalizer has reached since is
  // cleared now and stays listed; the others died and leave the table.
  void ClearResurrected(Collector& c);
  // Arrays being watched.
  size_t size() const { return arrays_.size() + unreached_.size(); }

 private:
  // Updates or replaces every slot of the surviving array at `array` (its new address).
  static void ClearSlots(Collector& c, WeakArrayLayout* array);

  std::vector<void*> arrays_;
  std::vector<void*> unreached_;  // during a collection: not marked when Clear ran
};

}  // namespace keel::gc

#endif  // KEEL_GC_WEAK_ARRAYS_H
