// api_precise.cpp: the precise collector's entry points of schemegc2.h (GC_register_traversers,
// GC_mark, GC_fixup, GC_resolve, GC_fixup_self), over the traverser table and the traversal
// hook (traversers.h, docs/design/precise.md .sol.traversers). Defined in every variant, so a
// table registered by code built for either serves the collector that runs.
#include "gc/traversers.h"
#include "schemegc2.h"

using keel::gc::TraversalScope;

extern "C" {

KEEL_API void GC_register_traversers(short tag, Size_Proc size, Mark_Proc mark, Fixup_Proc fixup,
                                     int is_constant_size, int is_atomic) {
  keel::gc::TraverserTable::Register(tag, keel::gc::Traversers{size, mark, fixup, is_constant_size != 0, is_atomic != 0});
}

KEEL_API void GC_mark(void** p) { TraversalScope::VisitSlot(p, "GC_mark"); }
KEEL_API void GC_fixup(void** p) { TraversalScope::VisitSlot(p, "GC_fixup"); }
KEEL_API void* GC_resolve(void* p) { return TraversalScope::Resolve(p); }
KEEL_API void* GC_fixup_self(void* p) { return TraversalScope::Resolve(p); }

}  // extern "C"
