// weak_boxes.h: a collector's weak boxes, ordinary and late. A weak box is an atomic object (its
// value is never traced) that the collector keeps in a table of its own; after marking, the
// value of every box in the table that survives is either updated to where the value lives now
// or, when nothing else kept the value, cleared. Design note: docs/design/weak.md (.sol.boxes,
// .sol.phases).
#ifndef KEEL_GC_WEAK_BOXES_H
#define KEEL_GC_WEAK_BOXES_H

#include <cstddef>
#include <cstdint>
#include <vector>

namespace keel::gc {

class Collector;

// The layout of a weak box, shared with scheme.h's Scheme_Small_Object: a header word (the type
// tag and keyex) and the value. Racket's GC_Weak_Box begins the same way.
struct WeakBoxLayout {
  short tag;
  short keyex;
  void* value;
};

// Owned by a collector; touched only on its thread, and by its collections. Entries are the
// boxes' addresses. A box enters the young list when it is made; a collection after which every
// survivor is old (a major one, or a minor one that ages nothing) moves the entries it keeps to
// the old list, which only a major collection looks at again: an old box's value is old too, and
// a minor collection neither frees nor moves old objects (.sol.boxes).
class WeakBoxes {
 public:
  // `box` was just made, its value set. `late`: cleared after the level-2 finalizers rather than
  // before them (.sol.phases).
  void Add(void* box, bool late);
  // During a collection, after marking: clears or updates the values of the boxes of one kind
  // (late or not) that this collection may have changed. `major`: every box is looked at.
  // `all_old`: every survivor of this collection is old afterwards.
  void Clear(Collector& c, bool late, bool major, bool all_old);
  // At the end of the weak phases: the ordinary boxes that Clear found unreached and a
  // finalizer has reached since are cleared or updated now and stay listed (.sol.boxes).
  void ClearResurrected(Collector& c);
  // Boxes being watched (those dropped: dead, cleared, or holding something that never dies).
  size_t size() const;

 private:
  // Keeps the entries of `list` whose boxes survive with a value that may still die, moving them
  // to `old` when it is given.
  // `unreached`: where boxes that are not marked go (else they are dropped).
  static void Sweep(Collector& c, std::vector<void*>& list, std::vector<void*>* old, std::vector<void*>* unreached);

  std::vector<void*> young_[2];  // [ordinary, late]
  std::vector<void*> old_[2];
  std::vector<void*> unreached_;  // during a collection: ordinary boxes not marked when cleared
};

}  // namespace keel::gc

#endif  // KEEL_GC_WEAK_BOXES_H
