// orphanage.h: the memory of exited threads that must outlive them (uncollectable objects,
// immobile boxes, pins and what they reach), kept in retired collectors until it is freed.
// Design note: docs/design/heap.md .sol.orphans.
#ifndef KEEL_GC_ORPHANAGE_H
#define KEEL_GC_ORPHANAGE_H

#include <cstddef>

namespace keel::gc {

class Collector;

// A process-wide registry, the one place where threads share collectors: every member function
// takes its lock, so any thread may free into an orphan. An orphan is collected again when a
// free changed it (at once when the free removed its last explicit root, else at the next major
// collection of any thread) and destroyed when it holds nothing.
class Orphanage {
 public:
  // Takes ownership of an exited thread's collector that still holds memory.
  static void Adopt(Collector* c);
  // Frees p if an orphan owns it; false otherwise.
  static bool Free(void* p, const char* who);
  // Frees an immobile box if an orphan owns it; false otherwise.
  static bool FreeImmobileBox(void** box);
  // Unpins p if an orphan pinned it; false otherwise.
  static bool Unpin(void* p);
  // Collects the orphans changed since their last collection and destroys those left empty.
  static void CollectChanged();
  // Orphans alive now (tests).
  static size_t CountForTesting();

 private:
  // Collects c and destroys it when it holds nothing any more (true then). Lock held.
  static bool CollectOrDestroy(Collector* c);
  // After a free into the orphan at index i of the registry. Lock held.
  static void AfterFree(size_t i);
};

}  // namespace keel::gc

#endif  // KEEL_GC_ORPHANAGE_H
