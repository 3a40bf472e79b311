/* binary_trees.c: the Benchmarks Game binary-trees, written once as a Racket-API client
 * (scheme.h); bench/CMakeLists.txt builds it against Keel, bdwgc, glibc malloc and mimalloc.
 * Usage: binary_trees-<alloc> [depth]   (default 21). The output lines are the Benchmarks
 * Game's; bench/run_bench.py checks them. */
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"
#include "scheme.h"

/* 16 bytes: two pointers, allocated with scheme_malloc (scanned, zeroed). */
typedef struct Node {
  struct Node *left;
  struct Node *right;
} Node;

static Node *MakeNode(Node *left, Node *right) {
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

static Node *BottomUpTree(int depth) {
  Node *left = NULL, *right = NULL;
  MZ_GC_DECL_REG(1);
  if (depth <= 0) return MakeNode(NULL, NULL);
  MZ_GC_VAR_IN_REG(0, left);
  MZ_GC_REG();
  left = BottomUpTree(depth - 1);
  right = BottomUpTree(depth - 1);
  MZ_GC_UNREG();
  return MakeNode(left, right);
}

static long ItemCheck(const Node *t) {
  if (t->left == NULL) return 1;
  return 1 + ItemCheck(t->left) + ItemCheck(t->right);
}

static void FreeTree(Node *t) {
  if (t->left != NULL) {
    FreeTree(t->left);
    FreeTree(t->right);
  }
  bench_free(t);
}

/* Dropping a tree: nothing for a collector, a recursive free for malloc and mimalloc. */
#define BENCH_FREE_TREE(t)            \
  do {                                \
    if (BENCH_EXPLICIT_FREE) FreeTree(t); \
  } while (0)

enum { kMinDepth = 4 };

/* Peak reachable data: the stretch tree alone (2^(max+2) - 1 nodes) or the long-lived tree
 * plus one iteration tree (2 * (2^(max+1) - 1) nodes), whichever is larger; the former, by one
 * node. At depth 21 that is 8,388,607 nodes * 16 bytes = 128 MiB. */
static uint64_t AnalyticPeakLive(int max_depth) {
  uint64_t stretch = (UINT64_C(1) << (max_depth + 2)) - 1;
  uint64_t steady = 2 * ((UINT64_C(1) << (max_depth + 1)) - 1);
  return (stretch > steady ? stretch : steady) * sizeof(Node);
}

static int Run(void *data) {
  int n = *(int *)data;
  int max_depth = n < kMinDepth + 2 ? kMinDepth + 2 : n;
  int stretch_depth = max_depth + 1;
  Node *stretch = NULL, *long_lived = NULL, *tree = NULL;
  MZ_GC_DECL_REG(3);
  MZ_GC_VAR_IN_REG(0, stretch);
  MZ_GC_VAR_IN_REG(1, long_lived);
  MZ_GC_VAR_IN_REG(2, tree);
  MZ_GC_REG();

  stretch = BottomUpTree(stretch_depth);
  printf("stretch tree of depth %d\t check: %ld\n", stretch_depth, ItemCheck(stretch));
  BENCH_FREE_TREE(stretch);
  stretch = NULL;

  long_lived = BottomUpTree(max_depth);
  for (int d = kMinDepth; d <= max_depth; d += 2) {
    long iterations = 1L << (max_depth - d + kMinDepth);
    long check = 0;
    for (long i = 0; i < iterations; ++i) {
      tree = BottomUpTree(d);
      check += ItemCheck(tree);
      BENCH_FREE_TREE(tree);
      tree = NULL;
    }
    printf("%ld\t trees of depth %d\t check: %ld\n", iterations, d, check);
  }
  printf("long lived tree of depth %d\t check: %ld\n", max_depth, ItemCheck(long_lived));

  BENCH_FREE_TREE(long_lived);
  MZ_GC_UNREG();

  char args[32];
  snprintf(args, sizeof args, "%d", n);
  bench_end("binary-trees", args, AnalyticPeakLive(max_depth));
  return 0;
}

int main(int argc, char **argv) {
  bench_begin();
  int depth = argc > 1 ? atoi(argv[1]) : 21;
  return scheme_main_stack_setup(1, Run, &depth);
}
