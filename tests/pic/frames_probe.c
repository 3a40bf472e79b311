/* frames_probe.c: a position-independent extension's registering function, built as a shared
 * module against keel_3m. The test `keel_pic_frames_initial_exec` reads its relocations: the
 * MZ_GC_REG / MZ_GC_UNREG pair must reach GC_variable_stack relative to the thread pointer
 * (initial-exec), never through a __tls_get_addr call (general- or local-dynamic TLS). */
#include "scheme.h"

void *keel_pic_probe_cons(void *car, void *cdr) {
  void *pair = NULL;
  MZ_GC_DECL_REG(3);
  MZ_GC_VAR_IN_REG(0, car);
  MZ_GC_VAR_IN_REG(1, cdr);
  MZ_GC_VAR_IN_REG(2, pair);
  MZ_GC_REG();
  pair = scheme_malloc(2 * sizeof(void *));
  ((void **)pair)[0] = car;
  ((void **)pair)[1] = cdr;
  MZ_GC_UNREG();
  return pair;
}
