// plan.h: the variant seam (DESIGN D3/D4). A plan says how roots and objects are traced and
// whether objects move; everything else in gc/ is shared. The variant is chosen here, once.
#ifndef KEEL_GC_PLAN_H
#define KEEL_GC_PLAN_H

#if defined(KEEL_VARIANT_CGC)
#include "gc/cgc_plan.h"
namespace keel::gc {
using Plan = CgcPlan;
}
#else
#error "define KEEL_VARIANT_CGC (the only variant built so far)"
#endif

#endif  // KEEL_GC_PLAN_H
