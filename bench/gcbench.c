/* gcbench.c: GCBench (after Ellis, Kovac and Boehm): binary trees built top-down and
 * bottom-up at growing depths while a long-lived tree and a long-lived array of doubles stay
 * reachable. Written from the algorithm as a Racket-API client (scheme.h), like
 * binary_trees.c. Usage: gcbench-<alloc> (no arguments; the sizes are the classic ones). */
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"
#include "scheme.h"

enum {
  kStretchTreeDepth = 18,   /* about 12 MiB of nodes: stretches the heap first */
  kLongLivedTreeDepth = 16, /* about 3 MiB, reachable to the end */
  kArraySize = 500000,      /* doubles, atomic, reachable to the end */
  kMinTreeDepth = 4,
  kMaxTreeDepth = 16
};

/* 24 bytes on LP64: two pointers and two ints, allocated with scheme_malloc (zeroed). */
typedef struct Node {
  struct Node *left;
  struct Node *right;
  int i, j;
} Node;

static Node *NewNode(Node *left, Node *right) {
  Node *n;
  MZ_GC_DECL_REG(2);
  MZ_GC_VAR_IN_REG(0, left);
  MZ_GC_VAR_IN_REG(1, right);
  MZ_GC_REG();
  n = (Node *)scheme_malloc(sizeof(Node));
  MZ_GC_UNREG();
  n->left = left;
  n->right = right;
  return n;
}

/* Nodes in a complete tree of the given depth. */
static long TreeSize(int depth) { return (1L << (depth + 1)) - 1; }

/* Trees built per phase at a depth: twice the stretch tree's nodes in all. */
static long NumIters(int depth) { return 2 * TreeSize(kStretchTreeDepth) / TreeSize(depth); }

/* Top down: gives `node` two fresh children, then fills each below. */
static void Populate(int depth, Node *node) {
  Node *child = NULL;
  MZ_GC_DECL_REG(2);
  if (depth <= 0) return;
  MZ_GC_VAR_IN_REG(0, node);
  MZ_GC_VAR_IN_REG(1, child);
  MZ_GC_REG();
  --depth;
  child = NewNode(NULL, NULL);
  node->left = child;
  child = NewNode(NULL, NULL);
  node->right = child;
  Populate(depth, node->left);
  Populate(depth, node->right);
  MZ_GC_UNREG();
}

/* Bottom up: both subtrees first, then their parent. */
static Node *MakeTree(int depth) {
  Node *left = NULL, *right = NULL;
  MZ_GC_DECL_REG(1);
  if (depth <= 0) return NewNode(NULL, NULL);
  MZ_GC_VAR_IN_REG(0, left);
  MZ_GC_REG();
  left = MakeTree(depth - 1);
  right = MakeTree(depth - 1);
  MZ_GC_UNREG();
  return NewNode(left, right);
}

static long CountNodes(const Node *t) {
  return t == NULL ? 0 : 1 + CountNodes(t->left) + CountNodes(t->right);
}

static void FreeTree(Node *t) {
  if (t == NULL) return;
  FreeTree(t->left);
  FreeTree(t->right);
  bench_free(t);
}

/* Dropping a tree: nothing for a collector, a recursive free for malloc and mimalloc. */
#define BENCH_FREE_TREE(t)                \
  do {                                    \
    if (BENCH_EXPLICIT_FREE) FreeTree(t); \
  } while (0)

/* Builds NumIters(depth) trees each way; counts the nodes of the last of each (a check that
 * costs one traversal per phase, not per tree). */
static void TimeConstruction(int depth) {
  long iters = NumIters(depth);
  long top_down = 0, bottom_up = 0;
  Node *tree = NULL;
  MZ_GC_DECL_REG(1);
  MZ_GC_VAR_IN_REG(0, tree);
  MZ_GC_REG();
  for (long i = 0; i < iters; ++i) {
    tree = NewNode(NULL, NULL);
    Populate(depth, tree);
    if (i == iters - 1) top_down = CountNodes(tree);
    BENCH_FREE_TREE(tree);
    tree = NULL;
  }
  for (long i = 0; i < iters; ++i) {
    tree = MakeTree(depth);
    if (i == iters - 1) bottom_up = CountNodes(tree);
    BENCH_FREE_TREE(tree);
    tree = NULL;
  }
  MZ_GC_UNREG();
  printf("Creating %ld trees of depth %d: top down %ld nodes, bottom up %ld nodes\n", iters,
         depth, top_down, bottom_up);
}

/* Peak reachable data: the stretch tree alone, or the long-lived tree and array plus one
 * temporary tree of the largest depth, whichever is larger:
 * max(T(18), T(16) + T(16)) * 24 + (0 or 500000 * 8) with T(d) = 2^(d+1) - 1;
 * 12,582,888 bytes (the stretch tree) against 10,291,408. */
static uint64_t AnalyticPeakLive(void) {
  uint64_t stretch = (uint64_t)TreeSize(kStretchTreeDepth) * sizeof(Node);
  uint64_t steady = (uint64_t)(TreeSize(kLongLivedTreeDepth) + TreeSize(kMaxTreeDepth)) *
                        sizeof(Node) +
                    (uint64_t)kArraySize * sizeof(double);
  return stretch > steady ? stretch : steady;
}

static int Run(void *data) {
  (void)data;
  Node *temp = NULL, *long_lived = NULL;
  double *array = NULL;
  MZ_GC_DECL_REG(3);
  MZ_GC_VAR_IN_REG(0, temp);
  MZ_GC_VAR_IN_REG(1, long_lived);
  MZ_GC_VAR_IN_REG(2, array);
  MZ_GC_REG();

  printf("Garbage Collector Test\n");
  printf(" Stretching memory with a binary tree of depth %d\n", kStretchTreeDepth);
  temp = MakeTree(kStretchTreeDepth);
  BENCH_FREE_TREE(temp);
  temp = NULL;

  printf(" Creating a long-lived binary tree of depth %d\n", kLongLivedTreeDepth);
  long_lived = NewNode(NULL, NULL);
  Populate(kLongLivedTreeDepth, long_lived);

  printf(" Creating a long-lived array of %d doubles\n", kArraySize);
  array = (double *)scheme_malloc_atomic(sizeof(double) * kArraySize);
  for (int i = 0; i < kArraySize / 2; ++i) array[i] = 1.0 / i; /* array[0] is inf, as in the original */

  for (int d = kMinTreeDepth; d <= kMaxTreeDepth; d += 2) TimeConstruction(d);

  int ok = long_lived != NULL && array[1000] == 1.0 / 1000;
  long nodes = CountNodes(long_lived);
  printf("Long-lived tree: %ld nodes; array[1000] %s\n", nodes, ok ? "ok" : "WRONG");
  BENCH_FREE_TREE(long_lived);
  bench_free(array);
  MZ_GC_UNREG();

  bench_end("gcbench", "", AnalyticPeakLive());
  return ok && nodes == TreeSize(kLongLivedTreeDepth) ? 0 : 1;
}

int main(void) {
  bench_begin();
  return scheme_main_stack_setup(1, Run, NULL);
}
