// ephemerons.h: a collector's ephemerons. An ephemeron is an atomic object (no tracer reads its
// key or value) listed in the collector's table; a collection keeps its value only once the
// ephemeron and its key are both reached by other paths, and clears key and value when the key
// is not. Ready ephemerons are found without rescanning the table: after the first drain the
// waiting ones are indexed by the objects they wait for, and the tracer reports each object it
// marks from then on (MarkWatch). Design note: docs/design/weak.md (.sol.ephemerons).
#ifndef KEEL_GC_EPHEMERONS_H
#define KEEL_GC_EPHEMERONS_H

#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "gc/tracer.h"

namespace keel::gc {

class Collector;

// The layout of an ephemeron: a header word (the type tag and keyex), the key, the value, as
// Racket's GC_Ephemeron begins.
struct EphemeronLayout {
  short tag;
  short keyex;
  void* key;
  void* value;
};

// Owned by a collector; touched only on its thread and by its collections. Young and old lists
// as for weak boxes (weak.md .sol.boxes); during a collection the entries it looks at (young,
// and old too in a major one) go through Begin, any number of Propagate calls (one after each
// drain), ClearUnready and End.
class Ephemerons final : public MarkWatch {
 public:
  // `e` was just made, key and value set.
  void Add(void* e);
  size_t size() const { return young_.size() + old_.size(); }

  // After the first drain: the ephemerons whose object and key are both marked are ready; the
  // others wait, indexed by the objects they wait for, and t reports its marks to this table.
  void Begin(Collector& c, Tracer& t, bool major);
  // Keeps the values of ready ephemerons (visits each value slot) and drains t, until no
  // ephemeron becomes ready: the fixpoint, linear in the ephemerons and what they keep.
  void Propagate(Tracer& t);
  // The ordinary weak boxes' phase: an ephemeron that is marked but still waits for its key
  // loses key and value now.
  void ClearUnready();
  // After the last drain: t stops reporting; ephemerons that died leave the table, those that
  // survive without having been ready are cleared, the others follow their keys and values
  // (3m), and move to the old list when `all_old`.
  void End(Tracer& t, bool all_old);

  void Marked(uintptr_t object) override;

 private:
  enum class State : uint8_t { kWaiting, kReady, kKept, kCleared };
  struct Entry {
    void* e;
    State state;
  };
  // The address an object is reported by (an interior key's object start).
  uintptr_t ObjectOf(const void* p) const;
  void CheckReady(size_t i);

  Collector* c_ = nullptr;  // during a collection
  std::vector<void*> young_;
  std::vector<void*> old_;
  std::vector<Entry> looked_;   // this collection's entries
  std::vector<size_t> ready_;   // indexes into looked_ whose values are to be kept
  std::unordered_multimap<uintptr_t, size_t> waiting_;  // object waited for -> entry
};

}  // namespace keel::gc

#endif  // KEEL_GC_EPHEMERONS_H
