/* gc_indicator.c: a host that shows a live "collecting" indicator through GC callbacks
 * (scheme_add_gc_callback) into a plain C library loaded with the FFI (keel_ffi.h), and prints
 * each collection's time as the callbacks measured it beside Keel's own record (keel_gc.h).
 *
 *   gc_indicator [MiB [library]]   MiB of trees to allocate (default 48); the library defaults
 *                                  to libindicator.so beside this executable
 *
 * Built twice from this one source: gc_indicator_cgc and gc_indicator_3m (MZ_PRECISE_GC, where
 * the MZ_GC_* registrations below are in force: embed_host.c states the rules they follow). The
 * indicator library (indicator.c) has no Keel in it: its functions run inside the collections.
 * Every check below must pass for the exit status to be 0. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "indicator.h"
#include "keel_ffi.h"
#include "keel_gc.h"
#include "scheme.h"

#define STEPS 6        /* work steps, each followed by one line of the indicator's marks */
#define TREE_DEPTH 10  /* 1023 pairs a tree: small enough to be young garbage */
#define KEEP 32        /* trees kept in a ring: old garbage as they are replaced, so majors come */
#define TABLE_ROWS 8   /* the most recent collections shown beside Keel's records */
#define LABEL "[GC]"   /* what the indicator draws on a terminal while a collection runs */

static int failures;

#define CHECK(cond, ...)                  \
  do {                                    \
    if (!(cond)) {                        \
      failures++;                         \
      printf("gc_indicator: FAILED: ");   \
      printf(__VA_ARGS__);                \
      printf("  [%s]\n", #cond);          \
    }                                     \
  } while (0)

static double ms(uint64_t ns) { return (double)ns / 1e6; }

/* A vector of items[0..n-1] (an array the caller registers); nothing is allocated after it. */
static Scheme_Object *vector_of(int n, Scheme_Object **items) {
  Scheme_Object *v = scheme_make_vector(n, scheme_false);
  for (int i = 0; i < n; i++) SCHEME_VEC_ELS(v)[i] = items[i];
  return v;
}

/* Registers the indicator's functions as GC callbacks and returns the key. The descriptions:
 *   pre:  #(#(ptr_ptr_ptr->void indicator_begin <state> #"[GC]" #f) #(int->void indicator_tick 1))
 *   post: #(#(ptr_ptr_ptr->void indicator_end <state> #"[GC]" #f))
 * <state> is a C pointer object for the host's malloc'd state; the byte string passes its data,
 * read at each call (under 3m the string moves, and the callbacks see where it is now). */
static Scheme_Object *install_callbacks(Scheme_Object *lib, indicator_state *state) {
  Scheme_Object *item[5] = {NULL, NULL, NULL, NULL, NULL};
  Scheme_Object *pre = NULL, *post = NULL, *call = NULL;
  MZ_GC_DECL_REG(7);
  MZ_GC_VAR_IN_REG(0, lib);
  MZ_GC_ARRAY_VAR_IN_REG(1, item, 5);
  MZ_GC_VAR_IN_REG(4, pre);
  MZ_GC_VAR_IN_REG(5, post);
  MZ_GC_VAR_IN_REG(6, call);
  MZ_GC_REG();

  pre = scheme_make_vector(2, scheme_false);
  post = scheme_make_vector(1, scheme_false);
  item[0] = scheme_intern_symbol("ptr_ptr_ptr->void");
  item[1] = keel_ffi_obj(lib, "indicator_begin");
  item[2] = scheme_intern_symbol("indicator_state"); /* the C pointer object's type tag */
  item[2] = scheme_make_cptr(state, item[2]);
  item[3] = scheme_make_byte_string(LABEL);
  item[4] = scheme_false;
  call = vector_of(5, item);
  SCHEME_VEC_ELS(pre)[0] = call;
  item[1] = keel_ffi_obj(lib, "indicator_end");
  call = vector_of(5, item);
  SCHEME_VEC_ELS(post)[0] = call;
  item[0] = scheme_intern_symbol("int->void");
  item[1] = keel_ffi_obj(lib, "indicator_tick");
  item[2] = scheme_make_integer(1);
  call = vector_of(3, item);
  SCHEME_VEC_ELS(pre)[1] = call;
  call = scheme_add_gc_callback(pre, post);

  MZ_GC_UNREG();
  return call;
}

/* indicator_ticks(), called through the FFI (outside any collection, so it may be Keel's). */
static long ticks(Scheme_Object *lib) {
  Scheme_Object *fn = NULL, *sig;
  MZ_GC_DECL_REG(1);
  MZ_GC_VAR_IN_REG(0, fn);
  MZ_GC_REG();
  fn = keel_ffi_obj(lib, "indicator_ticks");
  sig = scheme_intern_symbol("long");
  sig = keel_ffi_signature(scheme_null, sig);
  sig = keel_ffi_call(fn, sig, 0, NULL);
  MZ_GC_UNREG();
  return (long)SCHEME_INT_VAL(sig);
}

/* A full binary tree of pairs with fixnum leaves. */
static Scheme_Object *make_tree(int depth) {
  Scheme_Object *left = NULL, *right;
  if (depth == 0) return scheme_make_integer(depth);
  MZ_GC_DECL_REG(1);
  MZ_GC_VAR_IN_REG(0, left);
  MZ_GC_REG();
  left = make_tree(depth - 1);
  right = make_tree(depth - 1);
  left = scheme_make_pair(left, right);
  MZ_GC_UNREG();
  return left;
}

/* Allocates trees until `bytes` more have been allocated; every third one replaces a tree in
 * keep (a registered vector of KEEP slots), the others are dropped at once. */
static void work(Scheme_Object *keep, uint64_t bytes, int *next) {
  Scheme_Object *tree;
  keel_gc_stats s;
  uint64_t start;
  MZ_GC_DECL_REG(1);
  MZ_GC_VAR_IN_REG(0, keep);
  MZ_GC_REG();
  keel_gc_get_stats(&s);
  start = s.total_allocated_bytes;
  do {
    tree = make_tree(TREE_DEPTH);
    if (++*next % 3 == 0) SCHEME_VEC_ELS(keep)[(*next / 3) % KEEP] = tree;
    keel_gc_get_stats(&s);
  } while (s.total_allocated_bytes - start < bytes);
  MZ_GC_UNREG();
}

static const char *reason_name(int reason) {
  static const char *const names[] = {"allocation", "explicit", "stress", "heap limit", "master"};
  return reason >= 0 && reason < 5 ? names[reason] : "?";
}

/* Compares the callbacks' timings of collections first+1 .. first+n (numbered as Keel numbers
 * them) with Keel's records: each pause must lie inside its callbacks' bracket, since the
 * pre-callbacks run before the pause starts and the post-callbacks after it ends. Prints the
 * last TABLE_ROWS. Returns how many were compared. */
static uint64_t compare(const indicator_state *state, uint64_t first, uint64_t n) {
  const size_t kept = keel_gc_record_count();
  keel_gc_record last, r;
  uint64_t compared = 0, outside = 0, minor = 0, major = 0, pause_total = 0, callback_total = 0;
  if (kept == 0 || !keel_gc_get_record(kept - 1, &last)) return 0;
  printf("gc_indicator: %7s  %-5s  %-10s  %10s  %10s  %10s\n", "gc#", "kind", "reason", "callbacks", "Keel pause",
         "outside it");
  for (uint64_t k = n > INDICATOR_RING ? n - INDICATOR_RING + 1 : 1; k <= n; k++) {
    const uint64_t index = first + k, behind = last.index - index;
    if (behind >= kept || !keel_gc_get_record(kept - 1 - behind, &r) || r.index != index) continue;
    const indicator_timing *t = &state->ring[(k - 1) % INDICATOR_RING];
    const uint64_t cb = t->end_ns - t->begin_ns;
    const int inside = t->begin_ns <= r.start_ns && r.start_ns + r.pause_ns <= t->end_ns;
    if (!inside) outside++;
    CHECK(inside,
          "collection %llu: Keel's pause [%llu, +%llu ns] is not inside the callbacks' [%llu, %llu]\n",
          (unsigned long long)index, (unsigned long long)r.start_ns, (unsigned long long)r.pause_ns,
          (unsigned long long)t->begin_ns, (unsigned long long)t->end_ns);
    if (n - k < TABLE_ROWS) {
      printf("gc_indicator: %7llu  %-5s  %-10s  %7.3f ms  %7.3f ms  %7.3f ms\n", (unsigned long long)index,
             r.kind == KEEL_GC_MAJOR ? "major" : "minor", reason_name(r.reason), ms(cb), ms(r.pause_ns),
             ms(cb >= r.pause_ns ? cb - r.pause_ns : 0));
    }
    compared++;
    pause_total += r.pause_ns;
    callback_total += cb;
    if (r.kind == KEEL_GC_MAJOR) major++; else minor++;
  }
  printf("gc_indicator: the last %llu (%llu minor, %llu major): %s; pauses %.2f ms, callbacks %.2f ms\n",
         (unsigned long long)compared, (unsigned long long)minor, (unsigned long long)major,
         outside == 0 ? "each pause lies inside its callbacks" : "some pauses lie outside their callbacks",
         ms(pause_total), ms(callback_total));
  return compared;
}

/* The library beside this executable, found through /proc/self/exe. */
static int library_beside_exe(char *out, size_t size) {
  char exe[PATH_MAX];
  const ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
  char *slash;
  if (len <= 0) return 0;
  exe[len] = 0;
  slash = strrchr(exe, '/');
  if (slash == NULL) return 0;
  *slash = 0;
  const int n = snprintf(out, size, "%s/libindicator.so", exe);
  return n > 0 && (size_t)n < size;
}

static double g_mib = 48;
static const char *g_library;

static int run(Scheme_Env *env, int argc, char **argv) {
  Scheme_Object *lib = NULL, *key = NULL, *keep = NULL;
  indicator_state *state;
  keel_gc_stats s0, s1, s2;
  uint64_t window, begun;
  int next = 0;
  MZ_GC_DECL_REG(3);
  (void)env;
  (void)argc;
  (void)argv;
  MZ_GC_VAR_IN_REG(0, lib);
  MZ_GC_VAR_IN_REG(1, key); /* the callbacks stay registered while the key is reachable */
  MZ_GC_VAR_IN_REG(2, keep);
  MZ_GC_REG();

  state = calloc(1, sizeof *state); /* not the collector's memory: it never moves */
  if (state == NULL) {
    MZ_GC_UNREG();
    return 1;
  }
  state->fd = isatty(STDERR_FILENO) ? STDERR_FILENO : -1;
  printf("gc_indicator: Keel %s, indicator library %s\n", keel_gc_variant(), g_library);
  lib = keel_ffi_lib(g_library); /* an error (no such file) escapes: Keel prints it and exits */
  keep = scheme_make_vector(KEEP, scheme_false);
  key = install_callbacks(lib, state);
  keel_gc_get_stats(&s0); /* nothing allocates between this and the callbacks' registration */

  printf("gc_indicator: %d steps of %.2f MiB; a mark per collection: . <0.1 ms  o <1 ms  O <10 ms  @ longer\n",
         STEPS, g_mib / STEPS);
  for (int step = 1; step <= STEPS; step++) {
    const uint64_t before = state->begun;
    state->marks = 0;
    work(keep, (uint64_t)(g_mib * 1048576 / STEPS), &next);
    CHECK(!state->collecting, "the collecting flag is still set between collections\n");
    const uint64_t collections = state->begun - before;
    printf("gc_indicator: step %d: %5llu collection%s  %.*s%s\n", step, (unsigned long long)collections,
           collections == 1 ? " " : "s", (int)(state->marks < INDICATOR_MARKS ? state->marks : INDICATOR_MARKS),
           state->mark, state->marks > INDICATOR_MARKS ? " ..." : "");
  }
  scheme_collect_garbage(); /* a major one to end the window */
  keel_gc_get_stats(&s1);

  window = s1.collections - s0.collections;
  CHECK(state->begun == window && state->ended == window,
        "the callbacks saw %llu begins and %llu ends; Keel recorded %llu collections\n",
        (unsigned long long)state->begun, (unsigned long long)state->ended, (unsigned long long)window);
  printf("gc_indicator: %llu collections by Keel's count; the callbacks saw %llu, %.2f ms in all (max %.3f ms)\n",
         (unsigned long long)window, (unsigned long long)state->ended, ms(state->total_ns), ms(state->max_ns));
  CHECK(state->unmatched == 0, "%llu begins or ends were unmatched\n", (unsigned long long)state->unmatched);
  CHECK(window >= 2 && s1.major_collections > s0.major_collections, "expected several collections, a major one among them\n");
  uint64_t expected = window < INDICATOR_RING ? window : INDICATOR_RING; /* as far as both rings reach */
  if (expected > keel_gc_record_count()) expected = keel_gc_record_count();
  const uint64_t compared = compare(state, s0.collections, state->ended);
  CHECK(compared > 0 && compared == expected, "compared %llu collections with Keel's records, not %llu\n",
        (unsigned long long)compared, (unsigned long long)expected);

  scheme_remove_gc_callback(key);
  key = NULL;
  begun = state->begun; /* collections inside the removal (none expected) still counted */
  scheme_collect_garbage();
  keel_gc_collect_minor();
  keel_gc_get_stats(&s2);
  const long ticked = ticks(lib); /* int->void indicator_tick(1) ran once before each collection */
  CHECK(state->begun == begun && ticked == (long)begun,
        "callbacks ran after scheme_remove_gc_callback (begun %llu -> %llu, ticks %ld)\n", (unsigned long long)begun,
        (unsigned long long)state->begun, ticked);
  printf("gc_indicator: removed the callbacks, collected %llu more times: no callback ran; indicator_ticks() = %ld\n",
         (unsigned long long)(s2.collections - s1.collections), ticked);
  MZ_GC_UNREG();
  free(state);

  if (failures) {
    printf("gc_indicator: %d check(s) FAILED\n", failures);
    return 1;
  }
  printf("gc_indicator: OK\n");
  return 0;
}

int main(int argc, char **argv) {
  static char beside[PATH_MAX + 32];
  if (argc > 1) {
    char *end = NULL;
    g_mib = strtod(argv[1], &end);
    if (end == argv[1] || *end != 0 || !(g_mib > 0 && g_mib <= 4096)) {
      fprintf(stderr, "gc_indicator: usage: gc_indicator [MiB [library]], MiB in (0, 4096]\n");
      return 2;
    }
  }
  if (argc > 2) {
    g_library = argv[2];
  } else if (library_beside_exe(beside, sizeof beside)) {
    g_library = beside;
  } else {
    fprintf(stderr, "gc_indicator: cannot find this executable's directory; name the library\n");
    return 2;
  }
  return scheme_main_setup(1, run, argc, argv);
}
