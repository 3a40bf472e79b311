// traversers.h: the process-wide table of tagged objects' traversers (GC_register_traversers),
// and the per-thread hook through which a mark or fixup procedure's gcMARK / gcFIXUP reach the
// collection that called it (docs/design/precise.md .sol.traversers).
#ifndef KEEL_GC_TRAVERSERS_H
#define KEEL_GC_TRAVERSERS_H

#include <cstddef>
#include <cstdint>

#include "gc/tracer.h"
#include "schemegc2.h"

namespace keel::gc {

// What a tag's registration says. Immutable once published: a new registration of the tag
// publishes a new record (old records are kept, since another thread may be reading one).
struct Traversers {
  Size_Proc size;
  Mark_Proc mark;
  Fixup_Proc fixup;
  bool constant_size;  // size returns the same for every object of the tag
  bool atomic;         // the objects hold no references: mark and fixup are never called
};

// Registered from any thread at any time, before or after collectors exist; read by every
// collector (DESIGN D1: traversers apply to every collector).
class TraverserTable {
 public:
  // Tags are Racket's `short` type tags; Racket documents 512 as its maximum and uses nearly
  // 300, so 4096 leaves room for extensions while the table stays 32 KiB of pointers.
  static constexpr int kMaxTags = 4096;

  // Registers (or replaces) the traversers of `tag`. Aborts with a message naming the problem
  // on a tag outside [0, kMaxTags) or a missing procedure.
  static void Register(int tag, const Traversers& t);
  // The traversers of `tag`, or nullptr when none were registered.
  static const Traversers* Find(int tag);
};

// The slot visits of the collection running on this thread, while it runs a traverser: gcMARK
// and gcFIXUP forward to it. Set and cleared by the plan's tracer around each call
// (TraversalScope); nullptr outside.
class TraversalScope {
 public:
  TraversalScope(Tracer& tracer, Tracer::Holder holder);
  ~TraversalScope();
  TraversalScope(const TraversalScope&) = delete;
  TraversalScope& operator=(const TraversalScope&) = delete;

  // The slot visit of GC_mark / GC_fixup; aborts with a message when no traversal runs.
  static void VisitSlot(void** slot, const char* who);
  // GC_resolve: where the object at p lives now; p outside a traversal.
  static void* Resolve(void* p);

 private:
  Tracer* saved_tracer_;
  Tracer::Holder saved_holder_;
};

}  // namespace keel::gc

#endif  // KEEL_GC_TRAVERSERS_H
