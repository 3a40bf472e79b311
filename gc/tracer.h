// tracer.h: the one visitor that roots and written old pages are traced with: a precise slot
// visit, which a moving plan may answer by updating the slot, and a conservative word visit,
// which never changes memory and keeps what it reaches in place. Design note:
// docs/design/marking.md .sol.visitor.
#ifndef KEEL_GC_TRACER_H
#define KEEL_GC_TRACER_H

#include <cstdint>

#include "gc/kind.h"

namespace keel::gc {

// The first word-aligned address at or above lo: where the aligned words of [lo, hi) begin.
constexpr uintptr_t FirstAlignedWord(uintptr_t lo) { return (lo + sizeof(uintptr_t) - 1) & ~(sizeof(uintptr_t) - 1); }

// Told of each object a tracer marks or copies while it watches (the ephemeron fixpoint:
// docs/design/weak.md .sol.ephemerons). `object` is the address the object had when the
// collection began (a nursery object's, not its copy's). It must not visit or drain.
class MarkWatch {
 public:
  virtual void Marked(uintptr_t object) = 0;

 protected:
  ~MarkWatch() = default;
};

// Implemented by each plan's marker or copier; lives for one collection on the collecting
// thread. Callers say what holds the memory they hand over, so a generational tracer can
// remember old objects that keep young ones alive.
class Tracer {
 public:
  enum class Holder : uint8_t {
    kRoot,  // a root: a stack, registers, static data, a box, an uncollectable object
    kOld,   // an object that is old after this collection, on a page written since the last one
  };

  // A slot that holds a reference or something the collector ignores (NULL, a fixnum, memory
  // it does not own): the tracer reads it and may store the referent's new address back.
  virtual void VisitSlot(void** slot, Holder holder) = 0;
  // The aligned words of [lo, hi), any of which may or may not be a reference: never written;
  // an object they reach does not move. `interior`: a pointer into the middle of any object
  // counts (stacks and registers); otherwise only where the heap's interior rule allows it.
  virtual void VisitWords(uintptr_t lo, uintptr_t hi, bool interior, Holder holder) = 0;
  // A whole object [start, end) of `kind` that may hold references (an old object on a written
  // page, an uncollectable object's contents): a conservative tracer scans its words by the
  // heap's interior rule, a precise one visits its slots (by the tag's mark procedure for a
  // tagged object, every word of an untagged one).
  virtual void VisitObject(uintptr_t start, uintptr_t end, Kind kind, Holder holder) = 0;
  // The interior rule for words in the heap and in static data (GC_all_interior_pointers).
  virtual bool heap_interior() const = 0;
  // Whether this tracer may move objects: then the roots hand registered static ranges and pins
  // over as slots, which it updates, instead of as words (precise.md .req.roots).
  virtual bool moves_objects() const { return false; }
  // Where the object at p lives now (GC_resolve): p itself unless this tracer moved it.
  virtual void* Resolve(void* p) const { return p; }
  // Traces what the visits so far reached, until nothing is left to trace. A collection's weak
  // phases visit more slots after the first drain (resurrected objects: docs/design/weak.md
  // .sol.phases) and drain again.
  virtual void Drain() = 0;
  // From now on every object this tracer newly marks or copies is reported to w (nullptr: none).
  virtual void Watch(MarkWatch* w) = 0;

 protected:
  ~Tracer() = default;
};

}  // namespace keel::gc

#endif  // KEEL_GC_TRACER_H
