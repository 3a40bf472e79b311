// plan.h: the variant seam (DESIGN D3/D4). A plan says how roots and objects are traced and
// whether objects move; everything else in gc/ is shared. The variant is chosen here, once, by
// the library being built: libkeel_cgc defines KEEL_VARIANT_CGC, libkeel_3m KEEL_VARIANT_3M.
#ifndef KEEL_GC_PLAN_H
#define KEEL_GC_PLAN_H

#if defined(KEEL_VARIANT_CGC) && defined(KEEL_VARIANT_3M)
#error "define one of KEEL_VARIANT_CGC and KEEL_VARIANT_3M, not both"
#elif defined(KEEL_VARIANT_CGC)
#include "gc/cgc_plan.h"
namespace keel::gc {
using Plan = CgcPlan;
}
#elif defined(KEEL_VARIANT_3M)
#include "gc/precise_plan.h"
namespace keel::gc {
using Plan = PrecisePlan;
}
#else
#error "define KEEL_VARIANT_CGC (libkeel_cgc) or KEEL_VARIANT_3M (libkeel_3m)"
#endif

#endif  // KEEL_GC_PLAN_H
