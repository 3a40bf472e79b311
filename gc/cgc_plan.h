// cgc_plan.h: the conservative plan (DESIGN D4): stacks, registers, statics and object contents
// are all scanned word by word; nothing moves. Design note: docs/design/roots.md.
#ifndef KEEL_GC_CGC_PLAN_H
#define KEEL_GC_CGC_PLAN_H

namespace keel::gc {

class Collector;
class Marker;

struct CgcPlan {
  static constexpr bool kMovesObjects = false;
  static constexpr const char* kName = "cgc";
  // Marks from every root: the calling thread's stack and registers, the registered roots and
  // data segments, and the contents of uncollectable objects.
  static void TraceRoots(Collector& c, Marker& m);
};

}  // namespace keel::gc

#endif  // KEEL_GC_CGC_PLAN_H
