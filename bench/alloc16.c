/* alloc16.c: the cost of one small allocation: `count` 16-byte scheme_malloc objects, each
 * kept in a ring of kRing live slots until its slot comes round again (then freed, for the
 * malloc allocators), and read back into a checksum so no compiler can elide it.
 * Usage: alloc16-<alloc> [count]   (default 200000000). */
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"
#include "scheme.h"

enum { kRing = 1024 }; /* 16 KiB live: small enough that nothing but allocation is measured */

static int Run(void *data) {
  long count = *(long *)data;
  void *ring[kRing] = {0};
  uintptr_t sum = 0;
  MZ_GC_DECL_REG(3);
  MZ_GC_ARRAY_VAR_IN_REG(0, ring, kRing);
  MZ_GC_REG();

  for (long i = 0; i < count; ++i) {
    uintptr_t *p = (uintptr_t *)scheme_malloc(16);
    p[0] = ((uintptr_t)i << 1) | 1; /* a fixnum-shaped word: never a heap pointer */
    size_t slot = (size_t)i & (kRing - 1);
    uintptr_t *old = (uintptr_t *)ring[slot];
    if (old != NULL) {
      sum += old[0] + old[1];
      if (BENCH_EXPLICIT_FREE) bench_free(old);
    }
    ring[slot] = p;
  }
  for (int i = 0; i < kRing; ++i) {
    uintptr_t *old = (uintptr_t *)ring[i];
    if (old == NULL) continue;
    sum += old[0] + old[1];
    if (BENCH_EXPLICIT_FREE) bench_free(old);
  }
  MZ_GC_UNREG();
  printf("allocations %ld checksum %lu\n", count, (unsigned long)sum);

  char args[32];
  snprintf(args, sizeof args, "%ld", count);
  /* Peak reachable data: the ring's objects, kRing * 16 bytes (the ring itself is on the stack). */
  bench_end("alloc16", args, (uint64_t)kRing * 16);
  return 0;
}

int main(int argc, char **argv) {
  bench_begin();
  long count = argc > 1 ? atol(argv[1]) : 200000000L;
  return scheme_main_stack_setup(1, Run, &count);
}
