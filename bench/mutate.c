/* mutate.c: a mutation-heavy workload: random stores of young pointers into an old graph, the
 * case a generational collector's write barrier pays for. Written as a Racket-API client
 * (scheme.h), like binary_trees.c; bench/CMakeLists.txt builds it against Keel, bdwgc, glibc
 * malloc and mimalloc. Usage: mutate-<alloc> [steps]   (default 5000000).
 *
 * Shape. 32-byte nodes {child[2], value, stamp} (scheme_malloc, scanned, zeroed); value and
 * stamp are fixnum-shaped words ((x << 1) | 1), never heap addresses. One root array of
 * kSlots = 2^17 slots (scheme_malloc, 1 MiB) holds kSlots interior nodes; each interior node's
 * two children are leaves (children NULL). Nothing is shared: an interior node belongs to its
 * slot and a leaf to one field of one interior node, so the malloc variants free exactly the
 * node a store replaces and no pointer ever dangles. The graph is built first, so by the time
 * the steps start it is old (a generational collector has promoted it).
 *
 * Each step draws one xorshift64 number (fixed seed) that picks a slot, a field and what else
 * the step does, then:
 *   - allocates a fresh (young) leaf;
 *   - one step in 8: replaces the slot's interior node by a fresh one that takes over its two
 *     leaves (a young pointer stored into the old root array; the old interior node is garbage);
 *   - stores the leaf into the chosen field of the slot's interior node (a young pointer stored
 *     into an old node, at a random place in the graph; the leaf it replaces is garbage);
 *   - one step in 4: allocates a short-lived temporary node, kept in a ring of kTempRing slots
 *     on the stack until its slot comes round again (then read into a sum and dropped).
 * The graph keeps exactly 3 * kSlots nodes reachable throughout; about 1.4 allocations (44
 * bytes) per step. At the end a checksum over the graph (each interior node with its two
 * leaves) and the sum of the temporaries' values are printed; both depend only on the steps, so
 * every allocator prints the same lines (bench/run_bench.py checks that).
 *
 * Analytic peak live data: the root array, the graph, the temporaries' ring and, inside one
 * step, the fresh leaf and the fresh interior node while the nodes they replace are still
 * reachable: kSlots * 8 + (3 * kSlots + kTempRing + 2) * 32
 * = 1,048,576 + 12,585,024 = 13,633,600 bytes (13.0 MiB). */
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"
#include "scheme.h"

enum {
  kSlotsLog2 = 17,
  kSlots = 1 << kSlotsLog2, /* interior nodes, one per root-array slot */
  kTempRing = 64            /* short-lived temporaries kept at once */
};

/* 32 bytes on LP64. Leaves have both children NULL. */
typedef struct Node {
  struct Node *child[2];
  uintptr_t value; /* fixnum-shaped */
  uintptr_t stamp; /* fixnum-shaped: the step that made the node */
} Node;

static Node *NewNode(Node *left, Node *right, uintptr_t value, uintptr_t stamp) {
  Node *n;
  MZ_GC_DECL_REG(2);
  MZ_GC_VAR_IN_REG(0, left);
  MZ_GC_VAR_IN_REG(1, right);
  MZ_GC_REG();
  n = (Node *)scheme_malloc(sizeof(Node));
  MZ_GC_UNREG();
  n->child[0] = left;
  n->child[1] = right;
  n->value = value;
  n->stamp = stamp;
  return n;
}

static uint64_t AnalyticPeakLive(void) {
  return (uint64_t)kSlots * sizeof(Node *) + (uint64_t)(3 * kSlots + kTempRing + 2) * sizeof(Node);
}

static int Run(void *data) {
  long steps = *(long *)data;
  Node **roots = NULL;
  Node *leaf = NULL, *node = NULL, *old = NULL;
  Node *temps[kTempRing] = {0};
  uint64_t rng = 0x2545F4914F6CDD1Du; /* fixed seed: every allocator does the same steps */
  uint64_t temp_sum = 0, checksum = 0;
  long temp_count = 0;
  MZ_GC_DECL_REG(7);
  MZ_GC_VAR_IN_REG(0, roots);
  MZ_GC_VAR_IN_REG(1, leaf);
  MZ_GC_VAR_IN_REG(2, node);
  MZ_GC_VAR_IN_REG(3, old);
  MZ_GC_ARRAY_VAR_IN_REG(4, temps, kTempRing);
  MZ_GC_REG();

  /* The old graph: kSlots interior nodes, two leaves each. */
  roots = (Node **)scheme_malloc(kSlots * sizeof(Node *));
  for (long i = 0; i < kSlots; ++i) {
    leaf = NewNode(NULL, NULL, bench_fixnum(bench_xorshift64(&rng) >> 8), bench_fixnum(0));
    node = NewNode(NULL, NULL, bench_fixnum(bench_xorshift64(&rng) >> 8), bench_fixnum(0));
    node->child[0] = leaf;
    leaf = NewNode(NULL, NULL, bench_fixnum(bench_xorshift64(&rng) >> 8), bench_fixnum(0));
    node->child[1] = leaf;
    roots[i] = node;
  }
  leaf = node = NULL;

  for (long s = 0; s < steps; ++s) {
    uint64_t x = bench_xorshift64(&rng);
    size_t slot = (size_t)(x >> (64 - kSlotsLog2));
    int field = (int)(x >> 40) & 1;
    leaf = NewNode(NULL, NULL, bench_fixnum(x & 0xffffffffu), bench_fixnum((uint64_t)s));
    if ((x & 7) == 0) {
      /* A fresh interior node takes over the old one's leaves; the old one is dropped. */
      old = roots[slot];
      node = NewNode(old->child[0], old->child[1], bench_fixnum((x >> 8) & 0xffffu), bench_fixnum((uint64_t)s));
      roots[slot] = node;
      if (BENCH_EXPLICIT_FREE) bench_free(old);
      old = node = NULL;
    }
    /* The young leaf replaces one of the interior node's leaves, which is dropped. */
    node = roots[slot];
    old = node->child[field];
    node->child[field] = leaf;
    if (BENCH_EXPLICIT_FREE) bench_free(old);
    old = node = leaf = NULL;
    if ((x & 3) == 1) {
      /* Short-lived garbage: lives until its ring slot comes round again. */
      size_t t = (size_t)temp_count++ & (kTempRing - 1);
      old = temps[t];
      if (old != NULL) {
        temp_sum += old->value;
        if (BENCH_EXPLICIT_FREE) bench_free(old);
      }
      temps[t] = NewNode(NULL, NULL, bench_fixnum(x >> 16), bench_fixnum((uint64_t)s));
      old = NULL;
    }
  }

  /* The checksum over the graph, then (malloc variants) every node freed. */
  for (long i = 0; i < kSlots; ++i) {
    Node *n = roots[i];
    checksum += n->value + 7 * n->stamp + 3 * n->child[0]->value + 5 * n->child[1]->value;
    checksum = checksum * 31 + (uint64_t)i;
    if (BENCH_EXPLICIT_FREE) {
      bench_free(n->child[0]);
      bench_free(n->child[1]);
      bench_free(n);
    }
  }
  for (int t = 0; t < kTempRing; ++t) {
    if (temps[t] == NULL) continue;
    temp_sum += temps[t]->value;
    if (BENCH_EXPLICIT_FREE) bench_free(temps[t]);
    temps[t] = NULL;
  }
  if (BENCH_EXPLICIT_FREE) bench_free(roots);
  roots = NULL;
  MZ_GC_UNREG();

  printf("graph of %d interior nodes and %d leaves, %ld steps, %ld temporaries\n", kSlots,
         2 * kSlots, steps, temp_count);
  printf("checksum %llu, temporaries %llu\n", (unsigned long long)checksum,
         (unsigned long long)temp_sum);

  char args[32];
  snprintf(args, sizeof args, "%ld", steps);
  bench_end("mutate", args, AnalyticPeakLive());
  return 0;
}

int main(int argc, char **argv) {
  bench_begin();
  long steps = argc > 1 ? atol(argv[1]) : 5000000L;
  return scheme_main_stack_setup(1, Run, &steps);
}
