/* trees.h: the work each place or thread does in the weak-scaling measurements, binary-trees of
 * one depth (a stretch tree, a long-lived tree, then 2^(depth - d + 4) trees of each even depth
 * d from 4), written once for places.c (Keel's places) and trees_threads.c (the same work in
 * plain threads over bdwgc, glibc malloc and mimalloc). The malloc allocators free each tree
 * when it is dropped (bench.h's BENCH_EXPLICIT_FREE); the collectors just drop it. */
#ifndef KEEL_BENCH_TREES_H
#define KEEL_BENCH_TREES_H

#include <stdio.h>

#include "bench.h"
#include "scheme.h"

typedef struct TreeNode {
  struct TreeNode *left, *right;
} TreeNode;

static TreeNode *trees_bottom_up(int depth) {
  TreeNode *n = NULL, *l = NULL, *r = NULL;
  MZ_GC_DECL_REG(2);
  if (depth <= 0) return (TreeNode *)scheme_malloc(sizeof(TreeNode));
  MZ_GC_VAR_IN_REG(0, l);
  MZ_GC_VAR_IN_REG(1, r);
  MZ_GC_REG();
  l = trees_bottom_up(depth - 1);
  r = trees_bottom_up(depth - 1);
  n = (TreeNode *)scheme_malloc(sizeof(TreeNode));
  n->left = l;
  n->right = r;
  MZ_GC_UNREG();
  return n;
}

static long trees_check(const TreeNode *n) { return n->left == NULL ? 1 : 1 + trees_check(n->left) + trees_check(n->right); }

static void trees_drop(TreeNode *t) {
  if (!BENCH_EXPLICIT_FREE) return;
  if (t->left != NULL) {
    trees_drop(t->left);
    trees_drop(t->right);
  }
  bench_free(t);
}

/* The checks' total: the same for every place or thread given the same depth. */
static long trees_run(int depth) {
  TreeNode *long_lived = NULL, *t = NULL;
  long total = 0;
  int d;
  MZ_GC_DECL_REG(2);
  MZ_GC_VAR_IN_REG(0, long_lived);
  MZ_GC_VAR_IN_REG(1, t);
  MZ_GC_REG();
  t = trees_bottom_up(depth + 1);
  total += trees_check(t);
  trees_drop(t);
  long_lived = trees_bottom_up(depth);
  for (d = 4; d <= depth; d += 2) {
    long iterations = 1L << (depth - d + 4), i;
    for (i = 0; i < iterations; ++i) {
      t = trees_bottom_up(d);
      total += trees_check(t);
      trees_drop(t);
    }
  }
  t = NULL;
  total += trees_check(long_lived);
  trees_drop(long_lived);
  MZ_GC_UNREG();
  return total;
}

/* Prints the weak-scaling lines both drivers share: trees_1, then trees_<n> and efficiency_<n>
 * (T1/Tn) for n = 2, 4, ... up to max_n, where seconds(n, depth) runs n at once. */
static void trees_report(double (*seconds)(int n, int depth), int depth, int max_n) {
  double t1 = seconds(1, depth), tn;
  int n;
  printf("PLACES trees_1 %.3f s\n", t1);
  for (n = 2; n <= max_n; n *= 2) {
    tn = seconds(n, depth);
    printf("PLACES trees_%d %.3f s\n", n, tn);
    printf("PLACES efficiency_%d %.1f %%\n", n, 100.0 * t1 / tn);
  }
}

#endif /* KEEL_BENCH_TREES_H */
