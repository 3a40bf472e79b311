// weak_arrays.cpp: the replacement values as roots, and clearing and updating the slots of weak
// arrays after marking (weak_arrays.h, docs/design/weak.md .sol.arrays).
#include "gc/weak_arrays.h"

#include "gc/collector.h"
#include "gc/tracer.h"

namespace keel::gc {

namespace {

WeakArrayLayout* Fields(Collector& c, void* array) { return static_cast<WeakArrayLayout*>(c.Forwarded(array)); }

}  // namespace

// Every listed array, dead or not: a minor collection cannot tell an old array that died since
// the last major collection from a live one, and the program may have stored a young value
// there. The array may have moved already (3m): its value is visited where it lives now, in a
// local stored back, so the page is written only when the value moved (precise.md
// .sol.own-writes). Under 3m, an array copied after this visit takes the new value with it.
void WeakArrays::TraceRoots(Collector& c, Tracer& t) {
  for (void* array : arrays_) {
    WeakArrayLayout* fields = Fields(c, array);
    void* v = fields->replace_val;
    t.VisitSlot(&v, Tracer::Holder::kRoot);
    c.StoreDuringCollection(&fields->replace_val, v);
  }
}

void WeakArrays::Clear(Collector& c) {
  unreached_.clear();
  size_t kept = 0;
  for (void* array : arrays_) {
    if (!c.IsMarked(array)) {
      unreached_.push_back(array);
      continue;
    }
    WeakArrayLayout* fields = Fields(c, array);
    ClearSlots(c, fields);
    arrays_[kept++] = fields;
  }
  arrays_.resize(kept);
}

void WeakArrays::ClearResurrected(Collector& c) {
  for (void* array : unreached_) {
    if (!c.IsMarked(array)) continue;  // the array itself is garbage
    WeakArrayLayout* fields = Fields(c, array);
    ClearSlots(c, fields);
    arrays_.push_back(fields);
  }
  unreached_.clear();
}

// A slot's value is judged as a weak box's is (.sol.boxes): NULL and fixnums stay; IsMarked
// finds the object holding an address (an interior pointer into an allow-interior object is
// judged by that object; memory the collector does not own always survives); Forwarded follows
// an object's start when it moved. Nursery values must be object starts, as in any slot
// (precise.md .req.slots).
void WeakArrays::ClearSlots(Collector& c, WeakArrayLayout* array) {
  void* const replace_val = array->replace_val;
  void** const data = array->data;
  const intptr_t count = array->count;
  for (intptr_t i = 0; i < count; ++i) {
    void* value = data[i];
    if (value == nullptr || (reinterpret_cast<uintptr_t>(value) & 1) != 0) continue;
    if (!c.IsMarked(value)) {
      c.StoreDuringCollection(&data[i], replace_val);
      continue;
    }
    void* to = c.Forwarded(value);
    if (to != value) c.StoreDuringCollection(&data[i], to);
  }
}

}  // namespace keel::gc
