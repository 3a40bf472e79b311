/* ephemeron_chain.c: how long one full collection takes to resolve a chain of ephemerons, the
 * value of each holding the key of the next, with only the first key a root. Keel only (CGC and
 * 3m from this source; bdwgc has no ephemerons, and malloc nothing to resolve).
 * Usage: ephemeron_chain-<alloc> [links]   (default 100000).
 *
 * Shape, for a chain of n links: key i is a pair (i . ()), value i a pair (i + n . key i+1)
 * (the last one's cdr is ()), ephemeron i = scheme_make_ephemeron(key i, value i). A vector
 * (scheme_make_vector) holds the ephemerons in chain order, so all of them are reached at once;
 * only key 0 is held apart, in a static registered with scheme_register_static. Nothing else
 * holds a key or a value: key i+1 is reached only once ephemeron i is resolved.
 *
 * Two build orders. "reverse" makes ephemeron n-1 first and ephemeron 0 last, so a collector
 * that looks at its ephemerons in the order they were made meets the keys last-to-first: a
 * naive fixpoint that rescans the table until nothing changes resolves one link per pass, n
 * passes over n entries, quadratic. "forward" makes ephemeron 0 first (each value's cdr is set
 * once the next key exists), the worst order for a scan that goes newest first. A collector
 * that resolves ephemerons as their keys are marked takes time linear in n in both orders.
 *
 * For each order and for n / 10 and n links (so the ratio of the two shows how the time grows):
 * build the chain; time one scheme_collect_garbage (resolve), which must keep every value;
 * walk the chain from key 0 through the values, checking every link; drop key 0; time one more
 * (clear), after which every ephemeron must read key and value NULL; drop the vector and
 * collect (untimed) before the next chain. Before each collection the stack below is cleared
 * (bench_clean_stack), so a stale word cannot keep a key under CGC's conservative stack scan.
 * The timed figure is the whole collection seen by the program, everything else the heap holds
 * included (which is only the runtime's own data besides the chain).
 *
 * The program prints each chain's counts (the same lines under every variant; run_bench.py
 * checks that) and the collection times on stderr. The BENCH line adds links, small_links,
 * resolve_ms and resolve_small_ms (reverse order), forward_ms and forward_small_ms, clear_ms and
 * clear_small_ms (reverse order), and build_ms (the reverse chain of n links).
 *
 * Analytic peak live data: not computed (0); the table for this benchmark shows times only. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "bench.h"
#include "scheme.h"

#if !defined(BENCH_ALLOC_KEEL)
#error "ephemeron_chain is for Keel only: no other allocator here has ephemerons"
#endif

static Scheme_Object *g_first_key; /* the chain's only root: ephemeron 0's key */
static Scheme_Object *g_chain;     /* the vector of ephemerons, in chain order */

static uint64_t NowNs(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static Scheme_Object *Pair(intptr_t a, Scheme_Object *d) { return scheme_make_pair(scheme_make_integer(a), d); }

/* Ephemeron n-1 first, ephemeron 0 last. Out of line, like the rest: no frame of the caller
 * ever holds a key or a value. Every allocation is a statement of its own, so under 3m no
 * pointer read before it goes stale when it moves objects. */
static __attribute__((noinline)) void BuildReverse(long n) {
  Scheme_Object *key = NULL, *next_key = NULL, *value = NULL, *e = NULL, *chain = NULL;
  MZ_GC_DECL_REG(5);
  MZ_GC_VAR_IN_REG(0, key);
  MZ_GC_VAR_IN_REG(1, next_key);
  MZ_GC_VAR_IN_REG(2, value);
  MZ_GC_VAR_IN_REG(3, e);
  MZ_GC_VAR_IN_REG(4, chain);
  MZ_GC_REG();
  chain = scheme_make_vector(n, scheme_null);
  next_key = scheme_null;
  for (long i = n - 1; i >= 0; --i) {
    key = Pair(i, scheme_null);
    value = Pair(i + n, next_key);
    e = scheme_make_ephemeron(key, value);
    SCHEME_VEC_ELS(chain)[i] = e;
    next_key = key;
  }
  g_first_key = key;
  g_chain = chain;
  key = next_key = value = e = chain = NULL;
  MZ_GC_UNREG();
}

/* Ephemeron 0 first; value i's cdr is set to key i+1 once that key exists. */
static __attribute__((noinline)) void BuildForward(long n) {
  Scheme_Object *key = NULL, *value = NULL, *prev_value = NULL, *e = NULL, *chain = NULL;
  MZ_GC_DECL_REG(5);
  MZ_GC_VAR_IN_REG(0, key);
  MZ_GC_VAR_IN_REG(1, value);
  MZ_GC_VAR_IN_REG(2, prev_value);
  MZ_GC_VAR_IN_REG(3, e);
  MZ_GC_VAR_IN_REG(4, chain);
  MZ_GC_REG();
  chain = scheme_make_vector(n, scheme_null);
  for (long i = 0; i < n; ++i) {
    key = Pair(i, scheme_null);
    if (i == 0) g_first_key = key;
    if (prev_value != NULL) SCHEME_CDR(prev_value) = key;
    value = Pair(i + n, scheme_null);
    e = scheme_make_ephemeron(key, value);
    SCHEME_VEC_ELS(chain)[i] = e;
    prev_value = value;
  }
  g_chain = chain;
  key = value = prev_value = e = chain = NULL;
  MZ_GC_UNREG();
}

/* Walks from key 0 through the values: how many links in a row are intact (the ephemeron's
 * key is the key the previous value led to, its value is (i + n . next key)); n when all are,
 * and the last value ends the chain. Allocates nothing, so nothing moves while it reads. */
static __attribute__((noinline)) long ChainKept(long n) {
  Scheme_Object *k = g_first_key;
  long kept = 0;
  for (long i = 0; i < n; ++i) {
    Scheme_Object *e = SCHEME_VEC_ELS(g_chain)[i];
    Scheme_Object *v = scheme_ephemeron_value(e);
    if (k == NULL || scheme_ephemeron_key(e) != k || v == NULL || SCHEME_INTP(v) || !SCHEME_PAIRP(v) ||
        SCHEME_CAR(v) != scheme_make_integer(i + n)) {
      break;
    }
    ++kept;
    k = SCHEME_CDR(v);
  }
  if (kept == n && k != scheme_null) --kept; /* the last value must end the chain */
  return kept;
}

/* How many ephemerons read key and value NULL. */
static __attribute__((noinline)) long ChainCleared(long n) {
  long cleared = 0;
  for (long i = 0; i < n; ++i) {
    Scheme_Object *e = SCHEME_VEC_ELS(g_chain)[i];
    if (scheme_ephemeron_key(e) == NULL && scheme_ephemeron_value(e) == NULL) ++cleared;
  }
  return cleared;
}

static double CollectMs(void) {
  bench_clean_stack();
  uint64_t t0 = NowNs();
  scheme_collect_garbage();
  return (double)(NowNs() - t0) / 1e6;
}

typedef struct Result {
  double build_ms, resolve_ms, clear_ms;
} Result;

static Result Measure(long n, int reverse) {
  Result r;
  uint64_t t0 = NowNs();
  if (reverse) {
    BuildReverse(n);
  } else {
    BuildForward(n);
  }
  r.build_ms = (double)(NowNs() - t0) / 1e6;
  r.resolve_ms = CollectMs();
  long kept = ChainKept(n);
  g_first_key = NULL;
  r.clear_ms = CollectMs();
  long cleared = ChainCleared(n);
  g_chain = NULL;
  CollectMs();
  const char *order = reverse ? "reverse" : "forward";
  printf("%s chain of %ld links: %ld kept by the first collection, %ld cleared once key 0 was dropped\n", order, n,
         kept, cleared);
  fprintf(stderr, "ephemeron_chain: %s %ld links: build %.3f ms, resolving collection %.3f ms, "
          "clearing collection %.3f ms\n", order, n, r.build_ms, r.resolve_ms, r.clear_ms);
  return r;
}

static int Run(void *data) {
  long n = *(long *)data;
  long small = n / 10 > 0 ? n / 10 : 1;
  scheme_register_static(&g_first_key, sizeof g_first_key);
  scheme_register_static(&g_chain, sizeof g_chain);

  Result rs = Measure(small, 1);
  Result rn = Measure(n, 1);
  Result fs = Measure(small, 0);
  Result fn = Measure(n, 0);

  char args[32], fields[320];
  snprintf(args, sizeof args, "%ld", n);
  snprintf(fields, sizeof fields,
           ",\"links\":%ld,\"small_links\":%ld,\"resolve_ms\":%.3f,\"resolve_small_ms\":%.3f,\"forward_ms\":%.3f"
           ",\"forward_small_ms\":%.3f,\"clear_ms\":%.3f,\"clear_small_ms\":%.3f,\"build_ms\":%.3f",
           n, small, rn.resolve_ms, rs.resolve_ms, fn.resolve_ms, fs.resolve_ms, rn.clear_ms, rs.clear_ms,
           rn.build_ms);
  bench_end_with("ephemeron_chain", args, 0, fields);
  return 0;
}

int main(int argc, char **argv) {
  bench_begin();
  long n = argc > 1 ? atol(argv[1]) : 100000L;
  if (n < 1) n = 1;
  return scheme_main_stack_setup(1, Run, &n);
}
