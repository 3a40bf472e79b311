/* places.c: what places cost (keel_places.h; issue figures in bench/README.md "Places"). Built
 * for keel-cgc and keel-3m only (places-keel-cgc, places-keel-3m); bench/run_places.py runs both
 * side by side with the host's fault costs. Each line it prints is
 *   PLACES <name> <value> <unit>
 * and the measurements are:
 *   roundtrip_fixnum   a fixnum to an echo place and back, per round trip (median of 5 batches)
 *   roundtrip_tree255  a tree of 255 pairs to an echo place and back (copied both ways)
 *   stream_fixnums     one-way fixnum messages per second, sender and receiver on two places
 *   bytes_4mb          a 4 MB byte string sent one way and rebuilt in the receiver, GB/s
 *   create_collector   a thread's collector: attach, first allocation, detach, less a bare
 *                      pthread_create/join (the collector's part of starting a place)
 *   create_place       keel_place_create of an empty main and keel_place_wait, whole
 *   trees_<n>          binary-trees of the given depth in n places at once, seconds, and the
 *                      weak-scaling efficiency T1/Tn
 *
 *   places [depth] [max-places]   depth of the binary trees (default 16), places up to
 *                                 max-places (default: the number of CPUs, at most 16) */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "keel_gc.h"
#include "keel_places.h"
#include "scheme.h"
#include "trees.h"

/* A place that answers each message until #f: with the message itself (echo), with nothing
 * (count: the number of messages comes after the #f), or with a byte string's length. */
enum serve_mode { ECHO, COUNT, LENGTH };

static void serve(Scheme_Object *ch, enum serve_mode mode) {
  Scheme_Object *msg = NULL;
  intptr_t count = 0;
  MZ_GC_DECL_REG(2);
  MZ_GC_VAR_IN_REG(0, ch);
  MZ_GC_VAR_IN_REG(1, msg);
  MZ_GC_REG();
  for (;;) {
    msg = keel_place_channel_get(ch);
    if (msg == scheme_false) break;
    ++count;
    if (mode == ECHO) keel_place_channel_put(ch, msg);
    if (mode == LENGTH) keel_place_channel_put(ch, scheme_make_integer(SCHEME_BYTE_STRLEN_VAL(msg)));
  }
  if (mode == COUNT) keel_place_channel_put(ch, scheme_make_integer(count));
  MZ_GC_UNREG();
}

static void echo_main(Scheme_Object *ch) { serve(ch, ECHO); }
static void count_main(Scheme_Object *ch) { serve(ch, COUNT); }
static void bytes_main(Scheme_Object *ch) { serve(ch, LENGTH); }
static void empty_main(Scheme_Object *ch) { (void)ch; }

static Scheme_Object *tree(int depth) {
  Scheme_Object *l = NULL, *r = NULL, *p;
  MZ_GC_DECL_REG(2);
  if (depth == 0) return scheme_make_integer(depth);
  MZ_GC_VAR_IN_REG(0, l);
  MZ_GC_VAR_IN_REG(1, r);
  MZ_GC_REG();
  l = tree(depth - 1);
  r = tree(depth - 1);
  p = scheme_make_pair(l, r);
  MZ_GC_UNREG();
  return p;
}

/* Median time per round trip of `msg` to an echo place, over 5 batches of `n`. */
static double roundtrip_us(Scheme_Object *msg, int n) {
  Scheme_Object *p = NULL;
  double batches[5];
  int b, i;
  MZ_GC_DECL_REG(2);
  MZ_GC_VAR_IN_REG(0, msg);
  MZ_GC_VAR_IN_REG(1, p);
  MZ_GC_REG();
  p = keel_place_create(echo_main, NULL);
  for (i = 0; i < n / 10; ++i) { /* warm up both places */
    keel_place_channel_put(p, msg);
    keel_place_channel_get(p);
  }
  for (b = 0; b < 5; ++b) {
    double t0 = bench_now_s();
    for (i = 0; i < n; ++i) {
      keel_place_channel_put(p, msg);
      keel_place_channel_get(p);
    }
    batches[b] = (bench_now_s() - t0) / n * 1e6;
  }
  keel_place_channel_put(p, scheme_false);
  keel_place_wait(p);
  MZ_GC_UNREG();
  qsort(batches, 5, sizeof batches[0], bench_cmp_double);
  return batches[2];
}

static double stream_per_s(int n) {
  Scheme_Object *p = NULL;
  double t0, t;
  int i;
  MZ_GC_DECL_REG(1);
  MZ_GC_VAR_IN_REG(0, p);
  MZ_GC_REG();
  p = keel_place_create(count_main, NULL);
  t0 = bench_now_s();
  for (i = 0; i < n; ++i) keel_place_channel_put(p, scheme_make_integer(i));
  keel_place_channel_put(p, scheme_false);
  if (keel_place_channel_get(p) != scheme_make_integer(n)) {
    fprintf(stderr, "places: the stream lost messages\n");
    exit(1);
  }
  t = bench_now_s() - t0;
  keel_place_wait(p);
  MZ_GC_UNREG();
  return n / t;
}

static double bytes_gb_per_s(intptr_t len, int n) {
  Scheme_Object *p = NULL, *s = NULL;
  double best = 0;
  int i;
  MZ_GC_DECL_REG(2);
  MZ_GC_VAR_IN_REG(0, p);
  MZ_GC_VAR_IN_REG(1, s);
  MZ_GC_REG();
  p = keel_place_create(bytes_main, NULL);
  s = scheme_alloc_byte_string(len, 'b');
  for (i = 0; i < n; ++i) {
    double t0 = bench_now_s(), rate;
    keel_place_channel_put(p, s);
    if (keel_place_channel_get(p) != scheme_make_integer(len)) {
      fprintf(stderr, "places: the byte string arrived with another length\n");
      exit(1);
    }
    rate = len / (bench_now_s() - t0) / 1e9;
    if (rate > best) best = rate;
  }
  keel_place_channel_put(p, scheme_false);
  keel_place_wait(p);
  MZ_GC_UNREG();
  return best;
}

static void *bare_thread(void *arg) { return arg; }

static void *attach_thread(void *arg) {
  keel_thread_attach();
  scheme_malloc(16);
  keel_thread_detach();
  return arg;
}

/* Median microseconds of pthread_create + join of `body`, over n threads. */
static double thread_us(void *(*body)(void *), int n) {
  double *t = malloc(sizeof(double) * (size_t)n), r;
  int i;
  for (i = 0; i < n; ++i) {
    pthread_t th;
    double t0 = bench_now_s();
    if (pthread_create(&th, NULL, body, NULL) != 0) exit(1);
    pthread_join(th, NULL);
    t[i] = (bench_now_s() - t0) * 1e6;
  }
  qsort(t, (size_t)n, sizeof t[0], bench_cmp_double);
  r = t[n / 2];
  free(t);
  return r;
}

static double place_us(int n) {
  double *t = malloc(sizeof(double) * (size_t)n), r;
  int i;
  for (i = 0; i < n; ++i) {
    double t0 = bench_now_s();
    keel_place_wait(keel_place_create(empty_main, NULL));
    t[i] = (bench_now_s() - t0) * 1e6;
  }
  qsort(t, (size_t)n, sizeof t[0], bench_cmp_double);
  r = t[n / 2];
  free(t);
  return r;
}

/* --- weak scaling: binary-trees in each place (trees.h) ----------------------------------- */

static void trees_main(Scheme_Object *ch) {
  Scheme_Object *msg = NULL;
  MZ_GC_DECL_REG(2);
  MZ_GC_VAR_IN_REG(0, ch);
  MZ_GC_VAR_IN_REG(1, msg);
  MZ_GC_REG();
  msg = keel_place_channel_get(ch);
  msg = scheme_make_integer(trees_run((int)SCHEME_INT_VAL(msg)));
  keel_place_channel_put(ch, msg);
  MZ_GC_UNREG();
}

/* Seconds for n places to run binary-trees at once (the median of 3 rounds). */
static double trees_s(int n, int depth) {
  Scheme_Object *ps[16] = {NULL};
  double rounds[3];
  long expect = -1;
  int r, i;
  MZ_GC_DECL_REG(3);
  MZ_GC_ARRAY_VAR_IN_REG(0, ps, 16);
  MZ_GC_REG();
  for (r = 0; r < 3; ++r) {
    double t0 = bench_now_s();
    for (i = 0; i < n; ++i) ps[i] = keel_place_create(trees_main, scheme_make_integer(depth));
    for (i = 0; i < n; ++i) {
      long got = (long)SCHEME_INT_VAL(keel_place_channel_get(ps[i]));
      if (expect < 0) expect = got;
      if (got != expect) {
        fprintf(stderr, "places: binary-trees checks differ between places\n");
        exit(1);
      }
    }
    for (i = 0; i < n; ++i) keel_place_wait(ps[i]);
    rounds[r] = bench_now_s() - t0;
    for (i = 0; i < n; ++i) ps[i] = NULL;
  }
  MZ_GC_UNREG();
  qsort(rounds, 3, sizeof rounds[0], bench_cmp_double);
  return rounds[1];
}

static int g_depth = 16, g_max_places = 0;

static int run(void *data) {
  Scheme_Object *msg = NULL;
  double bare, attach;
  MZ_GC_DECL_REG(1);
  (void)data;
  MZ_GC_VAR_IN_REG(0, msg);
  MZ_GC_REG();
  scheme_basic_env();
  printf("PLACES variant %s -\n", keel_gc_variant());
  printf("PLACES roundtrip_fixnum %.2f us\n", roundtrip_us(scheme_make_integer(42), 20000));
  msg = tree(8);
  printf("PLACES roundtrip_tree255 %.2f us\n", roundtrip_us(msg, 5000));
  msg = NULL;
  printf("PLACES stream_fixnums %.0f msgs/s\n", stream_per_s(2000000));
  printf("PLACES bytes_4mb %.2f GB/s\n", bytes_gb_per_s(4 << 20, 20));
  bare = thread_us(bare_thread, 201);
  attach = thread_us(attach_thread, 201);
  printf("PLACES create_collector %.1f us\n", attach - bare);
  printf("PLACES create_place %.1f us\n", place_us(101));
  trees_report(trees_s, g_depth, g_max_places);
  MZ_GC_UNREG();
  return 0;
}

int main(int argc, char **argv) {
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  if (argc > 1) g_depth = atoi(argv[1]);
  g_max_places = argc > 2 ? atoi(argv[2]) : (int)(cpus < 2 ? 2 : cpus > 16 ? 16 : cpus);
  if (g_depth < 4 || g_depth > 24 || g_max_places < 1 || g_max_places > 16) {
    fprintf(stderr, "usage: places [depth 4..24] [max-places 1..16]\n");
    return 2;
  }
  return scheme_main_stack_setup(1, run, NULL);
}
