/* weak_reference_3m.c: Racket's weak references do not exist in 3m, as the spec says. Compiled
 * with -DMZ_PRECISE_GC, this file must fail to compile with scheme.h's message that says why
 * (tests/CMakeLists.txt, keel_precise_no_weak_references); without it, it compiles. */
#include "scheme.h"

void *keep_weakly(void **p) {
  scheme_weak_reference(p);
  return *p;
}
