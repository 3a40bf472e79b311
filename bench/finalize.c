/* finalize.c: what finalization costs per object, through bdwgc's gc.h: `count` 32-byte
 * GC_MALLOC objects, each given a finalizer with GC_register_finalizer_no_order and dropped at
 * once; then GC_gcollect and GC_invoke_finalizers until every finalizer has run.
 * bench/CMakeLists.txt builds it against Keel CGC and 3m (whose include/gc.h has the same calls)
 * and bdwgc; glibc malloc and mimalloc have no finalizers.
 * Usage: finalize-<alloc> [count]   (default 1000000).
 *
 * Shape. Each object is {index, index ^ kMix, kMark, kMark}, fixnum-shaped words, never
 * addresses, and its finalizer's client data is the same fixnum-shaped index. Nothing keeps an
 * object: the loop holds each one only until its finalizer is registered (in a registered local,
 * for 3m). The finalizer checks the object is intact and its data is its own, and counts the
 * index in a malloc'd array (a byte per object, never scanned). Collections that happen inside
 * the loop run finalizers too: they are part of the cost being measured.
 *
 * Phases, each timed with CLOCK_MONOTONIC:
 *   plain     the same loop and collections without finalizers: the allocation and collection
 *             cost the finalization figure contains (alloc_ns per object). It runs first, so it
 *             also grows the heap the finalization phase then reuses.
 *   finalize  the loop with GC_register_finalizer_no_order (register_ns per object, collections
 *             inside the loop included), then up to kMaxCollections rounds of GC_gcollect and
 *             GC_invoke_finalizers until all `count` finalizers ran (collect_ns per object).
 *             ns_per_object is their sum: the figure of the target (bench/README.md).
 * Before each explicit collection the stack below is cleared (bench_clean_stack): a stale word
 * would keep an object, and its finalizer, to a later collection under a conservative scan.
 *
 * The program prints how many finalizers ran, how many ran more than once or never, and a sum
 * over the indexes they saw; every allocator must print the same lines (bench/run_bench.py
 * checks that). The BENCH line adds objects, ns_per_object, register_ns, collect_ns, alloc_ns
 * and explicit_collections (how many GC_gcollect calls it took; 1 when a single collection
 * found every object).
 *
 * Analytic peak live data: the one object the loop holds, 32 bytes. The objects waiting for
 * their finalizers are not reachable; how many wait at once depends on when the collector
 * collects (all `count` if it never does before the explicit collection), so the table shows
 * RSS without a ratio. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "bench.h"
#include "scheme.h"
#if defined(BENCH_ALLOC_KEEL)
#include "gc.h" /* Keel's bdwgc-compatible interface; the shim includes bdwgc's own */
#endif

enum { kMaxCollections = 8 }; /* more than one means something kept objects: a finding */

static const uintptr_t kMix = 0x5DEECE66Cu;
static const uintptr_t kMark = ((uintptr_t)0x0B1EC7 << 1) | 1;

/* 32 bytes on LP64. */
typedef struct Obj {
  uintptr_t index; /* fixnum-shaped */
  uintptr_t check; /* fixnum-shaped: index ^ kMix */
  uintptr_t mark[2];
} Obj;

static unsigned char *g_runs; /* finalizer calls per object, saturating at 255 */
static uint64_t g_calls;      /* finalizer calls */
static uint64_t g_sum;        /* sum of the indexes the finalizers saw */
static uint64_t g_bad;        /* calls on an object not intact, or with another's data */
static long g_count;

static uint64_t NowNs(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void Finalize(void *obj, void *data) {
  const Obj *o = (const Obj *)obj;
  uintptr_t index = (uintptr_t)data;
  ++g_calls;
  if (o->index != index || o->check != (index ^ kMix) || o->mark[0] != kMark || o->mark[1] != kMark) {
    ++g_bad;
    return;
  }
  long i = (long)(index >> 1);
  if (i < 0 || i >= g_count) {
    ++g_bad;
    return;
  }
  if (g_runs[i] < 255) ++g_runs[i];
  g_sum += (uint64_t)i;
}

static Obj *NewObj(long i) {
  Obj *o = (Obj *)GC_MALLOC(sizeof(Obj));
  uintptr_t index = bench_fixnum((uint64_t)i);
  o->index = index;
  o->check = index ^ kMix; /* kMix is even: still fixnum-shaped */
  o->mark[0] = kMark;
  o->mark[1] = kMark;
  return o;
}

/* Out of line, so that no frame of the caller ever holds an object: the collection after it
 * returns finds them all unreachable. `sink` keeps the plain loop's stores. */
static __attribute__((noinline)) uintptr_t AllocateAll(long count, int finalizable) {
  Obj *o = NULL;
  uintptr_t sink = 0;
  MZ_GC_DECL_REG(1);
  MZ_GC_VAR_IN_REG(0, o);
  MZ_GC_REG();
  for (long i = 0; i < count; ++i) {
    o = NewObj(i);
    if (finalizable) {
      GC_register_finalizer_no_order(o, Finalize, (void *)o->index, NULL, NULL);
    } else {
      sink += o->check;
    }
  }
  o = NULL;
  MZ_GC_UNREG();
  return sink;
}

/* Collects until every finalizer ran (or kMaxCollections); returns the collections made. */
static int CollectUntilFinalized(long count) {
  int n = 0;
  do {
    bench_clean_stack();
    GC_gcollect();
    while (GC_invoke_finalizers() > 0) {
    }
    ++n;
  } while (g_calls < (uint64_t)count && n < kMaxCollections);
  return n;
}

static int Run(void *data) {
  long count = *(long *)data;
  g_count = count;
  g_runs = (unsigned char *)calloc((size_t)count, 1);
  if (g_runs == NULL) {
    fprintf(stderr, "finalize: out of memory for %ld counters\n", count);
    return 1;
  }

  uint64_t t0 = NowNs();
  uintptr_t sink = AllocateAll(count, 0);
  bench_clean_stack();
  GC_gcollect();
  uint64_t t1 = NowNs();
  AllocateAll(count, 1);
  uint64_t t2 = NowNs();
  int collections = CollectUntilFinalized(count);
  uint64_t t3 = NowNs();

  long once = 0, more = 0, never = 0;
  for (long i = 0; i < count; ++i) {
    if (g_runs[i] == 1) {
      ++once;
    } else if (g_runs[i] == 0) {
      ++never;
    } else {
      ++more;
    }
  }
  free(g_runs);
  printf("objects %ld, finalized once %ld, more than once %ld, never %ld, bad calls %llu\n", count, once, more,
         never, (unsigned long long)g_bad);
  printf("index sum %llu (expected %llu), plain loop sum %llu\n", (unsigned long long)g_sum,
         (unsigned long long)((uint64_t)count * (uint64_t)(count - 1) / 2), (unsigned long long)sink);

  char args[32], fields[256];
  snprintf(args, sizeof args, "%ld", count);
  double per = count > 0 ? 1.0 / (double)count : 0.0;
  snprintf(fields, sizeof fields,
           ",\"objects\":%ld,\"ns_per_object\":%.2f,\"register_ns\":%.2f,\"collect_ns\":%.2f,\"alloc_ns\":%.2f"
           ",\"explicit_collections\":%d",
           count, (double)(t3 - t1) * per, (double)(t2 - t1) * per, (double)(t3 - t2) * per,
           (double)(t1 - t0) * per, collections);
  bench_end_with("finalize", args, sizeof(Obj), fields);
  return once == count ? 0 : 1;
}

int main(int argc, char **argv) {
  bench_begin();
  long count = argc > 1 ? atol(argv[1]) : 1000000L;
  if (count < 1) count = 1;
  return scheme_main_stack_setup(1, Run, &count);
}
