/* calls.c: what MZ_GC_* registration costs a call-heavy program: many small functions that
 * each register their pointer locals, read a few fields, do a little arithmetic and call the
 * next registering function. Written as a Racket-API client (scheme.h), like binary_trees.c;
 * bench/CMakeLists.txt builds it against Keel CGC and 3m, bdwgc, glibc malloc and mimalloc. The
 * figure that matters is 3m against CGC on the same source: under CGC (and in the shim) the
 * MZ_GC_* macros expand to nothing, under 3m every registering function pushes a frame on the
 * thread-local GC_variable_stack and pops it again, and its registered locals live in memory
 * rather than registers, since the collector may rewrite them. Allocation is rare, so the
 * difference is the price of registration and not of the collector.
 * Usage: calls-<alloc> [passes]   (default 5000).
 *
 * Shape. A complete binary tree of kDepth levels (kNodes = 2^kDepth - 1 = 32,767 nodes of 32
 * bytes {left, right, value, weight}; value and weight fixnum-shaped from a fixed-seed
 * xorshift64, never addresses), built bottom-up first and timed apart (build_s). 1 MiB, which
 * a core's L2 cache holds (2 MiB on the benchmark hosts) whatever order a copying collector
 * leaves the nodes in, so the walks measure calls rather than cache misses. One context object (scheme_malloc, a ring of kRing
 * box pointers) is passed down every call, as an extension passes its state.
 *
 * The call phase (call_s) walks the tree `passes` times, pre-order. Per node, Walk (4 registered
 * locals: the node, the context, the two children) calls Mix (3 registered locals: the node,
 * the context, a box), then Walk on each child. Mix folds the node's fields and one ring box's
 * value into a running hash; when the hash's top byte is 0 (one Mix in 256, about one call in
 * 512) it calls NewBox (1 registered local) for a 16-byte box {node, value} and puts it in the
 * ring in place of the box it read, whose value and node's value go into a second sum after
 * the allocation (the malloc variants then free that box). Under 3m a young box moves at the
 * next collection, and the collector must update the ring, the box's pointer into the tree and
 * Mix's registered local that still holds the box it replaces. Every call's result feeds
 * the next through the hash, which is printed, so no call can be elided or reordered; both
 * sums depend only on the tree and the passes, so every allocator prints the same lines
 * (bench/run_bench.py checks that).
 *
 * calls = passes * 2 * kNodes + boxes: every call of a registering function in the call phase
 * (Walk, Mix, NewBox). The BENCH line carries calls, call_s, ns_per_call and build_s besides
 * the harness's fields.
 *
 * Analytic peak live data: the tree, the context, a full ring of boxes and the fresh box that
 * replaces one: kNodes * 32 + kRing * 8 + (kRing + 1) * 16 = 1,048,544 + 512 + 1,040 =
 * 1,050,096 bytes (1.0 MiB). */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "bench.h"
#include "scheme.h"

enum {
  kDepth = 15,
  kNodes = (1 << kDepth) - 1, /* 32,767 */
  kRingLog2 = 6,
  kRing = 1 << kRingLog2 /* boxes kept at once */
};

/* The calls are what is measured, so they stay calls. Without this GCC (12, -O3) inlines Mix
 * and NewBox into Walk, leaving one call per node instead of two, and it inlines recursion
 * where it finds frames cheap: it unrolls BuildTree several levels under CGC but not under 3m,
 * where every level has a frame to push, so the variants would not make the same calls. An
 * extension's functions usually live in other translation units than their callers, where
 * nothing is inlined either. BuildTree and NewNode (the build, not the figure) are left to
 * the compiler. */
#define CALLS_NOINLINE __attribute__((noinline))

/* 32 bytes on LP64. A leaf has both children NULL; an interior node both non-NULL. */
typedef struct Node {
  struct Node *left;
  struct Node *right;
  uintptr_t value;  /* fixnum-shaped */
  uintptr_t weight; /* fixnum-shaped */
} Node;

/* 16 bytes: the rare allocation of the call phase. */
typedef struct Box {
  Node *node;      /* the node Mix was at when it made the box */
  uintptr_t value; /* fixnum-shaped: the hash then */
} Box;

/* The state every call receives. Its slots are traced: NULL or boxes. */
typedef struct Ctx {
  Box *ring[kRing];
} Ctx;

static inline uintptr_t Rotl(uintptr_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t NowNs(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* What the call phase's rare allocations add up to; plain words, never pointers. */
static uint64_t g_boxes;    /* boxes made */
static uint64_t g_box_sum;  /* value of each box that left the ring, and its node's value */

static Node *NewNode(Node *left, Node *right, uint64_t *rng) {
  Node *n;
  MZ_GC_DECL_REG(2);
  MZ_GC_VAR_IN_REG(0, left);
  MZ_GC_VAR_IN_REG(1, right);
  MZ_GC_REG();
  n = (Node *)scheme_malloc(sizeof(Node));
  MZ_GC_UNREG();
  n->left = left;
  n->right = right;
  n->value = bench_fixnum(bench_xorshift64(rng) >> 8);
  n->weight = bench_fixnum(bench_xorshift64(rng) >> 40);
  return n;
}

static Node *BuildTree(int depth, uint64_t *rng) {
  Node *left = NULL, *right = NULL;
  MZ_GC_DECL_REG(2);
  if (depth <= 1) return NewNode(NULL, NULL, rng);
  MZ_GC_VAR_IN_REG(0, left);
  MZ_GC_VAR_IN_REG(1, right);
  MZ_GC_REG();
  left = BuildTree(depth - 1, rng);
  right = BuildTree(depth - 1, rng);
  MZ_GC_UNREG();
  return NewNode(left, right, rng);
}

static CALLS_NOINLINE Box *NewBox(Node *node, uintptr_t h) {
  Box *b;
  MZ_GC_DECL_REG(1);
  MZ_GC_VAR_IN_REG(0, node);
  MZ_GC_REG();
  b = (Box *)scheme_malloc(sizeof(Box));
  MZ_GC_UNREG();
  b->node = node;
  b->value = bench_fixnum(h >> 8);
  ++g_boxes;
  return b;
}

/* One node's share of the work: its fields and one box of the ring into the hash, and now and
 * then a fresh box in that box's place. node, ctx and box are used after NewBox, which may
 * collect; box is then often the youngest box (one time in kRing the slot is the one the last
 * fresh box went to), so under 3m it has moved and only its registration keeps it right. */
static CALLS_NOINLINE uintptr_t Mix(Node *node, Ctx *ctx, uintptr_t h) {
  Box *box = NULL;
  MZ_GC_DECL_REG(3);
  MZ_GC_VAR_IN_REG(0, node);
  MZ_GC_VAR_IN_REG(1, ctx);
  MZ_GC_VAR_IN_REG(2, box);
  MZ_GC_REG();
  h = (h ^ node->value) * UINT64_C(0x9E3779B97F4A7C15) + node->weight;
  size_t slot = (size_t)(h >> 32) & (kRing - 1);
  box = ctx->ring[slot];
  if (box != NULL) h += box->value;
  if ((h >> 56) == 0) {
    Box *fresh = NewBox(node, h);
    if (box != NULL) {
      g_box_sum += box->value + box->node->value;
      if (BENCH_EXPLICIT_FREE) bench_free(box);
    }
    /* fresh needs no registration: nothing that may collect runs before it is stored. */
    ctx->ring[slot] = fresh;
    h ^= node->weight;
  }
  MZ_GC_UNREG();
  return h;
}

/* One pre-order step: Mix the node, then walk both subtrees. right and node are used after
 * calls that may collect; left is registered too, as code written for 3m registers its
 * pointer locals as a rule rather than by liveness. The results are combined after the second
 * call, so neither recursive call is a tail call in any variant; the rotation keeps it that
 * way, since GCC turns `return a + b * Walk(...)` into a loop with an accumulator (it did
 * so for CGC, where no frame has to be popped after the call, but not for 3m). */
static CALLS_NOINLINE uintptr_t Walk(Node *node, Ctx *ctx, uintptr_t h) {
  Node *left = NULL, *right = NULL;
  MZ_GC_DECL_REG(4);
  MZ_GC_VAR_IN_REG(0, node);
  MZ_GC_VAR_IN_REG(1, ctx);
  MZ_GC_VAR_IN_REG(2, left);
  MZ_GC_VAR_IN_REG(3, right);
  MZ_GC_REG();
  h = Mix(node, ctx, h);
  left = node->left;
  right = node->right;
  if (left != NULL) {
    uintptr_t hl = Walk(left, ctx, h);
    uintptr_t hr = Walk(right, ctx, hl ^ node->weight);
    h = Rotl(hl * 3 + hr, 23);
  }
  MZ_GC_UNREG();
  return h;
}

static void FreeTree(Node *t) {
  if (t->left != NULL) {
    FreeTree(t->left);
    FreeTree(t->right);
  }
  bench_free(t);
}

static uint64_t AnalyticPeakLive(void) {
  return (uint64_t)kNodes * sizeof(Node) + sizeof(Ctx) + (uint64_t)(kRing + 1) * sizeof(Box);
}

static int Run(void *data) {
  long passes = *(long *)data;
  Node *tree = NULL;
  Ctx *ctx = NULL;
  uint64_t rng = 0x2545F4914F6CDD1Du; /* fixed seed: every allocator builds the same tree */
  uintptr_t h = 0;
  MZ_GC_DECL_REG(2);
  MZ_GC_VAR_IN_REG(0, tree);
  MZ_GC_VAR_IN_REG(1, ctx);
  MZ_GC_REG();

  uint64_t t0 = NowNs();
  ctx = (Ctx *)scheme_malloc(sizeof(Ctx));
  tree = BuildTree(kDepth, &rng);
  uint64_t t1 = NowNs();
  for (long p = 0; p < passes; ++p) h = Walk(tree, ctx, h + (uintptr_t)p);
  uint64_t t2 = NowNs();

  /* The boxes still in the ring count like those that left it. */
  for (int i = 0; i < kRing; ++i) {
    Box *b = ctx->ring[i];
    if (b == NULL) continue;
    g_box_sum += b->value + b->node->value;
    if (BENCH_EXPLICIT_FREE) bench_free(b);
    ctx->ring[i] = NULL;
  }
  if (BENCH_EXPLICIT_FREE) {
    FreeTree(tree);
    bench_free(ctx);
  }
  tree = NULL;
  ctx = NULL;
  MZ_GC_UNREG();

  uint64_t calls = (uint64_t)passes * 2 * kNodes + g_boxes;
  printf("tree of %d nodes, %ld passes, %llu calls, %llu boxes\n", kNodes, passes,
         (unsigned long long)calls, (unsigned long long)g_boxes);
  printf("checksum %llu, boxes %llu\n", (unsigned long long)h, (unsigned long long)g_box_sum);

  char args[32], fields[160];
  snprintf(args, sizeof args, "%ld", passes);
  double call_s = (double)(t2 - t1) / 1e9;
  snprintf(fields, sizeof fields, ",\"calls\":%llu,\"call_s\":%.4f,\"ns_per_call\":%.3f,\"build_s\":%.4f",
           (unsigned long long)calls, call_s, calls > 0 ? call_s * 1e9 / (double)calls : 0.0,
           (double)(t1 - t0) / 1e9);
  bench_end_with("calls", args, AnalyticPeakLive(), fields);
  return 0;
}

int main(int argc, char **argv) {
  bench_begin();
  long passes = argc > 1 ? atol(argv[1]) : 5000L;
  return scheme_main_stack_setup(1, Run, &passes);
}
