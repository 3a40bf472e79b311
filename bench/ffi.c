/* ffi.c: what a call through Keel's FFI (keel_ffi.h) costs against a direct C call and against
 * raw libffi, what a C-to-Scheme callback's round trip costs, and what ten GC callbacks
 * (scheme_add_gc_callback) add to a collection. Keel only (CGC and 3m from this source): the
 * other allocators have no FFI.
 * Usage: ffi-<alloc> [calls [collections]]   (defaults 3000000 and 2000).
 *
 * Calls. Three C functions, exported from this executable and looked up with
 * keel_ffi_lib(NULL) + keel_ffi_obj, as an extension finds a library's functions:
 *   int64 x3 -> int64      keel_bench_ffi_add3(a, b, c) = (31a + b + c) mod 2^24
 *   double x3 -> double    keel_bench_ffi_madd(a, b, c) = a * b + c
 *   pointer x2 -> pointer  keel_bench_ffi_step(base, p) = base + (p - base + 8) mod 56
 * and a callback: keel_ffi_callback of a Scheme_Closed_Prim that computes add3 on fixnums, with
 * the signature int64 x3 -> int64. Each is called `calls` times in three ways:
 *   direct         through a function pointer read from a volatile on every call (the
 *                  callback: its code pointer), so nothing is inlined or hoisted
 *   ffi_call       raw libffi, ffi_call with a cif this file prepared once: the floor of any
 *                  layer over libffi
 *   keel_ffi_call  Keel's prepared interface (keel_ffi_signature) with Scheme arguments made
 *                  before the loop (fixnums, flonums, C pointer objects); for the callback this
 *                  is Scheme -> C -> Scheme
 * Every call takes the previous call's result as its first argument (its second for step), so
 * the calls form one dependency chain that no compiler can shorten; the double and pointer
 * results of keel_ffi_call are fresh objects (a flonum, a C pointer object), so those two rows
 * include an allocation per call, and the collections it brings. The calls run in kRounds
 * rounds of calls / kRounds, each round every row and way in turn (so drift on a shared machine
 * falls on all of them alike); a figure is the median over the rounds of the time per call. The
 * three ways must end every round on the same result, and the callback on add3's: the program
 * checks both and exits non-zero otherwise.
 *
 * GC callbacks. Ten registrations with scheme_add_gc_callback, each with one pre-call and one
 * post-call #(ptr_ptr_ptr->void <C pointer of fn> <C pointer of counters> #f #f), where fn
 * increments a counter in a static struct: 20 C calls per collection, through libffi, by the
 * collector. `collections` major collections (scheme_collect_garbage) and as many minor ones
 * (keel_gc_collect_minor) run with the ten registered and as many with none (after one
 * registration and removal, so both sides have the collector's hook installed), in kBlocks
 * alternating blocks. Each is timed from the program's side (the wall time of the call: the
 * figure, since the callbacks run around the collection, outside the record's pause) and read
 * from its keel_gc_record (pause_ns); "outside" is wall - pause, the part of the call that is
 * not the collection itself, where the callbacks' cost shows with the least noise. The program
 * checks that every collection with them ran 10 pre-calls and 10 post-calls and every one
 * without them none, and exits non-zero otherwise. The heap holds only the runtime's own data
 * and this file's few objects, so a collection is short and the difference stands out.
 *
 * stdout: the checksums and the callback counts (the same lines under every variant;
 * run_bench.py checks that). stderr: the two tables. The BENCH line adds calls (each way),
 * collections_each, callbacks, ns_<row>_<way> for each row (int64, double, pointer, callback) and way (direct,
 * ffi, keel), and <kind>_<figure>_us_<n> for kind major and minor, figure wall (median),
 * wall_mean, pause (median) and outside (median), n 0 and 10 callbacks.
 *
 * Analytic peak live data: not computed (0); the tables show times only. */
#include <ffi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "keel_ffi.h"
#include "keel_gc.h"
#include "scheme.h"

#if !defined(BENCH_ALLOC_KEEL)
#error "ffi is for Keel only: no other allocator here has an FFI"
#endif

enum {
  kRounds = 5,     /* batches per row and way; the figure is their median */
  kCallbacks = 10, /* GC-callback registrations (the figure) */
  kBlocks = 10     /* alternating with / without blocks of collections */
};

/* The callees. noipa: no caller may be specialised on what the function does (they are called
 * only through pointers anyway); default visibility and ENABLE_EXPORTS (bench/CMakeLists.txt)
 * put them in the dynamic symbol table, where keel_ffi_obj finds them. */
#if __has_attribute(noipa)
#define FFI_CALLEE __attribute__((visibility("default"), noipa))
#else
#define FFI_CALLEE __attribute__((visibility("default"), noinline))
#endif
#define FFI_NOINLINE __attribute__((noinline))

static const int64_t kMask = (1 << 24) - 1;

FFI_CALLEE int64_t keel_bench_ffi_add3(int64_t a, int64_t b, int64_t c);
FFI_CALLEE double keel_bench_ffi_madd(double a, double b, double c);
FFI_CALLEE void *keel_bench_ffi_step(void *base, void *p);

int64_t keel_bench_ffi_add3(int64_t a, int64_t b, int64_t c) { return (a * 31 + b + c) & kMask; }
double keel_bench_ffi_madd(double a, double b, double c) { return a * b + c; }
void *keel_bench_ffi_step(void *base, void *p) { return (char *)base + ((char *)p - (char *)base + 8) % 56; }

typedef int64_t (*Add3Fn)(int64_t, int64_t, int64_t);
typedef double (*MaddFn)(double, double, double);
typedef void *(*StepFn)(void *, void *);

/* The direct way's pointers: volatile, so every call reads one and calls through it. */
static Add3Fn volatile g_add3_fn;
static Add3Fn volatile g_callback_fn; /* the callback's code */
static MaddFn volatile g_madd_fn;
static StepFn volatile g_step_fn;

static char g_buf[64]; /* what step's pointers point into */

/* Raw libffi's prepared interfaces. */
static ffi_cif g_cif_add3, g_cif_madd, g_cif_step;
static ffi_type *g_add3_types[3], *g_madd_types[3], *g_step_types[2];

/* Every Scheme object the loops use, in one registered static (3m updates it when they move). */
static struct {
  Scheme_Object *lib, *add3, *madd, *step, *callback; /* C pointer objects */
  Scheme_Object *sig_add3, *sig_madd, *sig_step;
  Scheme_Object *base; /* a C pointer object for g_buf */
} g;

static Scheme_Object *g_keys[kCallbacks]; /* the GC callbacks' keys: they stay while reachable */

typedef struct GcCounters {
  uint64_t pre, post;
} GcCounters;
static GcCounters g_counters;

static uint64_t NowNs(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void Fail(const char *what) {
  fprintf(stderr, "ffi: %s\n", what);
  exit(1);
}

/* --- the callback ------------------------------------------------------------------------- */

/* add3 on fixnums: keel_ffi_callback converts the C arguments and the result. */
static Scheme_Object *CallbackAdd3(void *data, int argc, Scheme_Object **argv) {
  (void)data;
  (void)argc;
  intptr_t a = SCHEME_INT_VAL(argv[0]), b = SCHEME_INT_VAL(argv[1]), c = SCHEME_INT_VAL(argv[2]);
  return scheme_make_integer((a * 31 + b + c) & kMask);
}

/* --- the loops: n calls each, one dependency chain, the last result as a checksum word ------ */

static FFI_NOINLINE uint64_t Int64Direct(Add3Fn volatile *fn, long n) {
  int64_t x = 1;
  for (long i = 0; i < n; ++i) x = (*fn)(x, 3, 5);
  return (uint64_t)x;
}

static FFI_NOINLINE uint64_t Int64Ffi(void *fn, long n) {
  int64_t a = 1, b = 3, c = 5;
  void *args[3] = {&a, &b, &c};
  ffi_arg r;
  for (long i = 0; i < n; ++i) {
    ffi_call(&g_cif_add3, FFI_FN(fn), &r, args);
    a = (int64_t)r;
  }
  return (uint64_t)a;
}

/* *fn is read on every call: it is a registered static, which 3m may update. */
static FFI_NOINLINE uint64_t Int64Keel(Scheme_Object *const *fn, long n) {
  Scheme_Object *argv[3] = {NULL, NULL, NULL};
  MZ_GC_DECL_REG(3);
  MZ_GC_ARRAY_VAR_IN_REG(0, argv, 3);
  MZ_GC_REG();
  argv[0] = scheme_make_integer(1);
  argv[1] = scheme_make_integer(3);
  argv[2] = scheme_make_integer(5);
  for (long i = 0; i < n; ++i) argv[0] = keel_ffi_call(*fn, g.sig_add3, 3, argv);
  uint64_t x = (uint64_t)SCHEME_INT_VAL(argv[0]);
  MZ_GC_UNREG();
  return x;
}

static uint64_t DoubleBits(double d) {
  uint64_t u;
  memcpy(&u, &d, sizeof u);
  return u;
}

static FFI_NOINLINE uint64_t DoubleDirect(long n) {
  double x = 1.0;
  for (long i = 0; i < n; ++i) x = g_madd_fn(x, 0.75, 1.0);
  return DoubleBits(x);
}

static FFI_NOINLINE uint64_t DoubleFfi(long n) {
  double a = 1.0, b = 0.75, c = 1.0;
  void *args[3] = {&a, &b, &c};
  double r;
  for (long i = 0; i < n; ++i) {
    ffi_call(&g_cif_madd, FFI_FN(g_madd_fn), &r, args);
    a = r;
  }
  return DoubleBits(a);
}

static FFI_NOINLINE uint64_t DoubleKeel(long n) {
  Scheme_Object *argv[3] = {NULL, NULL, NULL};
  MZ_GC_DECL_REG(3);
  MZ_GC_ARRAY_VAR_IN_REG(0, argv, 3);
  MZ_GC_REG();
  argv[0] = scheme_make_double(1.0);
  argv[1] = scheme_make_double(0.75);
  argv[2] = scheme_make_double(1.0);
  for (long i = 0; i < n; ++i) argv[0] = keel_ffi_call(g.madd, g.sig_madd, 3, argv);
  uint64_t x = DoubleBits(SCHEME_DBL_VAL(argv[0]));
  MZ_GC_UNREG();
  return x;
}

static FFI_NOINLINE uint64_t PointerDirect(long n) {
  void *p = g_buf;
  for (long i = 0; i < n; ++i) p = g_step_fn(g_buf, p);
  return (uint64_t)((char *)p - g_buf);
}

static FFI_NOINLINE uint64_t PointerFfi(long n) {
  void *base = g_buf, *p = g_buf;
  void *args[2] = {&base, &p};
  void *r;
  for (long i = 0; i < n; ++i) {
    ffi_call(&g_cif_step, FFI_FN(g_step_fn), &r, args);
    p = r;
  }
  return (uint64_t)((char *)p - g_buf);
}

static FFI_NOINLINE uint64_t PointerKeel(long n) {
  Scheme_Object *argv[2] = {NULL, NULL};
  MZ_GC_DECL_REG(3);
  MZ_GC_ARRAY_VAR_IN_REG(0, argv, 2);
  MZ_GC_REG();
  argv[0] = g.base;
  argv[1] = g.base;
  for (long i = 0; i < n; ++i) argv[1] = keel_ffi_call(g.step, g.sig_step, 2, argv);
  uint64_t x = (uint64_t)((char *)keel_ffi_pointer(argv[1]) - g_buf);
  MZ_GC_UNREG();
  return x;
}

/* --- set-up ------------------------------------------------------------------------------- */

/* (names[0] ... names[n-1]) as a list of symbols. */
static Scheme_Object *TypeList(const char *const *names, int n) {
  Scheme_Object *list = scheme_null, *sym = NULL;
  MZ_GC_DECL_REG(2);
  MZ_GC_VAR_IN_REG(0, list);
  MZ_GC_VAR_IN_REG(1, sym);
  MZ_GC_REG();
  for (int i = n - 1; i >= 0; --i) {
    sym = scheme_intern_symbol(names[i]);
    list = scheme_make_pair(sym, list);
  }
  MZ_GC_UNREG();
  return list;
}

static Scheme_Object *Signature(const char *const *args, int n, const char *result) {
  Scheme_Object *types = NULL, *sym = NULL, *sig = NULL;
  MZ_GC_DECL_REG(3);
  MZ_GC_VAR_IN_REG(0, types);
  MZ_GC_VAR_IN_REG(1, sym);
  MZ_GC_VAR_IN_REG(2, sig);
  MZ_GC_REG();
  types = TypeList(args, n);
  sym = scheme_intern_symbol(result);
  sig = keel_ffi_signature(types, sym);
  MZ_GC_UNREG();
  return sig;
}

static void PrepareCif(ffi_cif *cif, ffi_type **types, unsigned n, ffi_type *arg, ffi_type *result) {
  for (unsigned i = 0; i < n; ++i) types[i] = arg;
  if (ffi_prep_cif(cif, FFI_DEFAULT_ABI, n, result, types) != FFI_OK) Fail("ffi_prep_cif failed");
}

/* Looks the callees up, makes the signatures and the callback, prepares raw libffi's cifs. */
static void SetUp(void) {
  static const char *const kInt64x3[] = {"int64", "int64", "int64"};
  static const char *const kDoublex3[] = {"double", "double", "double"};
  static const char *const kPointerx2[] = {"pointer", "pointer"};
  Scheme_Object *v = NULL;
  MZ_GC_DECL_REG(1);
  MZ_GC_VAR_IN_REG(0, v);
  MZ_GC_REG();
  v = keel_ffi_lib(NULL);
  g.lib = v;
  v = keel_ffi_obj(g.lib, "keel_bench_ffi_add3");
  g.add3 = v;
  v = keel_ffi_obj(g.lib, "keel_bench_ffi_madd");
  g.madd = v;
  v = keel_ffi_obj(g.lib, "keel_bench_ffi_step");
  g.step = v;
  if (SCHEME_CPTR_VAL(g.add3) != (void *)keel_bench_ffi_add3 ||
      SCHEME_CPTR_VAL(g.madd) != (void *)keel_bench_ffi_madd ||
      SCHEME_CPTR_VAL(g.step) != (void *)keel_bench_ffi_step) {
    Fail("keel_ffi_obj found another function than the program's own");
  }
  v = Signature(kInt64x3, 3, "int64");
  g.sig_add3 = v;
  v = Signature(kDoublex3, 3, "double");
  g.sig_madd = v;
  v = Signature(kPointerx2, 2, "pointer");
  g.sig_step = v;
  v = keel_ffi_callback(CallbackAdd3, NULL, g.sig_add3);
  g.callback = v;
  v = scheme_make_cptr(g_buf, NULL);
  g.base = v;
  MZ_GC_UNREG();
  g_add3_fn = (Add3Fn)SCHEME_CPTR_VAL(g.add3);
  g_madd_fn = (MaddFn)SCHEME_CPTR_VAL(g.madd);
  g_step_fn = (StepFn)SCHEME_CPTR_VAL(g.step);
  g_callback_fn = (Add3Fn)SCHEME_CPTR_VAL(g.callback); /* code that does not move */
  PrepareCif(&g_cif_add3, g_add3_types, 3, &ffi_type_sint64, &ffi_type_sint64);
  PrepareCif(&g_cif_madd, g_madd_types, 3, &ffi_type_double, &ffi_type_double);
  PrepareCif(&g_cif_step, g_step_types, 2, &ffi_type_pointer, &ffi_type_pointer);
}

/* --- part 1: calls ------------------------------------------------------------------------ */

enum Row { kInt64, kDouble, kPointer, kCallback, kRows };
enum Way { kDirect, kFfi, kKeel, kWays };
static const char *const kRowKeys[kRows] = {"int64", "double", "pointer", "callback"};
static const char *const kWayKeys[kWays] = {"direct", "ffi", "keel"};

static uint64_t RunBatch(int row, int way, long n) {
  switch (row * kWays + way) {
    case kInt64 * kWays + kDirect: return Int64Direct(&g_add3_fn, n);
    case kInt64 * kWays + kFfi: return Int64Ffi((void *)g_add3_fn, n);
    case kInt64 * kWays + kKeel: return Int64Keel(&g.add3, n);
    case kDouble * kWays + kDirect: return DoubleDirect(n);
    case kDouble * kWays + kFfi: return DoubleFfi(n);
    case kDouble * kWays + kKeel: return DoubleKeel(n);
    case kPointer * kWays + kDirect: return PointerDirect(n);
    case kPointer * kWays + kFfi: return PointerFfi(n);
    case kPointer * kWays + kKeel: return PointerKeel(n);
    case kCallback * kWays + kDirect: return Int64Direct(&g_callback_fn, n);
    case kCallback * kWays + kFfi: return Int64Ffi((void *)g_callback_fn, n);
    default: return Int64Keel(&g.callback, n);
  }
}

static double Median(double *xs, int n) {
  qsort(xs, (size_t)n, sizeof xs[0], bench_cmp_double);
  return n % 2 ? xs[n / 2] : (xs[n / 2 - 1] + xs[n / 2]) / 2;
}

/* ns per call of every row and way (medians over the rounds), into ns[row][way]. */
static void MeasureCalls(long calls, double ns[kRows][kWays]) {
  long batch = calls / kRounds > 0 ? calls / kRounds : 1;
  double t[kRows][kWays][kRounds];
  uint64_t sums[kRows][kWays];
  for (int round = 0; round < kRounds; ++round) {
    for (int row = 0; row < kRows; ++row) {
      for (int way = 0; way < kWays; ++way) {
        uint64_t t0 = NowNs();
        sums[row][way] = RunBatch(row, way, batch);
        t[row][way][round] = (double)(NowNs() - t0) / (double)batch;
        if (sums[row][way] != sums[row][0]) Fail("a way of calling ended on another result than the direct call");
      }
    }
    if (sums[kCallback][0] != sums[kInt64][0]) Fail("the callback ended on another result than add3");
  }
  for (int row = 0; row < kRows; ++row) {
    for (int way = 0; way < kWays; ++way) ns[row][way] = Median(t[row][way], kRounds);
  }
  printf("%ld calls of each function each way, in %d rounds: every way ended every round on the same result\n",
         batch * kRounds, kRounds);
  double madd_result;
  memcpy(&madd_result, &sums[kDouble][0], sizeof madd_result);
  printf("last results: int64 x3 -> int64 %llu, double x3 -> double %.17g, pointer x2 -> pointer base + %llu, "
         "callback %llu\n",
         (unsigned long long)sums[kInt64][0], madd_result, (unsigned long long)sums[kPointer][0],
         (unsigned long long)sums[kCallback][0]);
}

/* --- part 2: GC callbacks ----------------------------------------------------------------- */

static void CountPre(void *counters, void *unused1, void *unused2) {
  (void)unused1;
  (void)unused2;
  ++((GcCounters *)counters)->pre;
}

static void CountPost(void *counters, void *unused1, void *unused2) {
  (void)unused1;
  (void)unused2;
  ++((GcCounters *)counters)->post;
}

/* #(#(ptr_ptr_ptr->void <fn> <counters> #f #f)): one call. */
static Scheme_Object *Description(void *fn) {
  Scheme_Object *desc = NULL, *call = NULL, *v = NULL;
  MZ_GC_DECL_REG(3);
  MZ_GC_VAR_IN_REG(0, desc);
  MZ_GC_VAR_IN_REG(1, call);
  MZ_GC_VAR_IN_REG(2, v);
  MZ_GC_REG();
  call = scheme_make_vector(5, scheme_false);
  v = scheme_intern_symbol("ptr_ptr_ptr->void");
  SCHEME_VEC_ELS(call)[0] = v;
  v = scheme_make_cptr(fn, NULL);
  SCHEME_VEC_ELS(call)[1] = v;
  v = scheme_make_cptr(&g_counters, NULL);
  SCHEME_VEC_ELS(call)[2] = v;
  desc = scheme_make_vector(1, call);
  MZ_GC_UNREG();
  return desc;
}

static void AddCallbacks(void) {
  Scheme_Object *pre = NULL, *post = NULL, *key = NULL;
  MZ_GC_DECL_REG(3);
  MZ_GC_VAR_IN_REG(0, pre);
  MZ_GC_VAR_IN_REG(1, post);
  MZ_GC_VAR_IN_REG(2, key);
  MZ_GC_REG();
  for (int i = 0; i < kCallbacks; ++i) {
    pre = Description((void *)CountPre);
    post = Description((void *)CountPost);
    key = scheme_add_gc_callback(pre, post);
    g_keys[i] = key;
  }
  MZ_GC_UNREG();
}

static void RemoveCallbacks(void) {
  for (int i = 0; i < kCallbacks; ++i) {
    scheme_remove_gc_callback(g_keys[i]);
    g_keys[i] = NULL;
  }
}

static uint64_t LastRecordIndex(void) {
  keel_gc_record r;
  size_t n = keel_gc_record_count();
  return n > 0 && keel_gc_get_record(n - 1, &r) ? r.index : 0;
}

/* One collection, timed; 0 if it was not exactly one collection (then nothing is stored). */
static int TimedCollect(int major, double *wall_us, double *pause_us) {
  uint64_t before = LastRecordIndex();
  uint64_t t0 = NowNs();
  if (major) {
    scheme_collect_garbage();
  } else {
    keel_gc_collect_minor();
  }
  uint64_t t1 = NowNs();
  keel_gc_record r;
  size_t n = keel_gc_record_count();
  if (n == 0 || !keel_gc_get_record(n - 1, &r) || r.index != before + 1) return 0;
  *wall_us = (double)(t1 - t0) / 1e3;
  *pause_us = (double)r.pause_ns / 1e3;
  return 1;
}

/* The samples of one kind (major, minor) with one number of registrations (0, kCallbacks). */
typedef struct Samples {
  double *wall, *pause, *outside;
  int count;
} Samples;

typedef struct GcFigures {
  double wall, wall_mean, pause, outside; /* µs: medians, and the mean wall time */
} GcFigures;

static uint64_t Collections(void) {
  keel_gc_stats st;
  keel_gc_get_stats(&st);
  return st.collections;
}

/* `per_block` collections of each kind; with callbacks registered, every one must run all of
 * them once before and once after (and without, none). Returns the collections that ran. */
static uint64_t Block(int registered, int per_block, Samples s[2]) {
  GcCounters before = g_counters;
  uint64_t c0 = Collections();
  for (int kind = 0; kind < 2; ++kind) {
    for (int i = 0; i < per_block; ++i) {
      double wall, pause;
      if (!TimedCollect(kind == 0, &wall, &pause)) continue;
      Samples *x = &s[kind];
      x->wall[x->count] = wall;
      x->pause[x->count] = pause;
      x->outside[x->count] = wall - pause;
      ++x->count;
    }
  }
  uint64_t ran = Collections() - c0;
  uint64_t want = registered ? ran * kCallbacks : 0;
  if (g_counters.pre - before.pre != want || g_counters.post - before.post != want) {
    fprintf(stderr,
            "ffi: %d registrations, %llu collections: %llu pre-calls and %llu post-calls ran, expected %llu each\n",
            registered ? kCallbacks : 0, (unsigned long long)ran, (unsigned long long)(g_counters.pre - before.pre),
            (unsigned long long)(g_counters.post - before.post), (unsigned long long)want);
    exit(1);
  }
  return ran;
}

static GcFigures Reduce(Samples *s) {
  GcFigures f = {0, 0, 0, 0};
  if (s->count == 0) return f;
  for (int i = 0; i < s->count; ++i) f.wall_mean += s->wall[i];
  f.wall_mean /= s->count;
  f.wall = Median(s->wall, s->count);
  f.pause = Median(s->pause, s->count);
  f.outside = Median(s->outside, s->count);
  return f;
}

/* fig[kind][with]: kind 0 major, 1 minor; with 0 none, 1 kCallbacks registrations. */
static void MeasureGcCallbacks(int collections, GcFigures fig[2][2]) {
  int blocks = collections < kBlocks ? collections : kBlocks;
  int per_block = collections / blocks;
  Samples s[2][2]; /* [with][kind] */
  for (int w = 0; w < 2; ++w) {
    for (int k = 0; k < 2; ++k) {
      s[w][k].wall = (double *)malloc(3 * (size_t)collections * sizeof(double));
      if (s[w][k].wall == NULL) Fail("out of memory");
      s[w][k].pause = s[w][k].wall + collections;
      s[w][k].outside = s[w][k].pause + collections;
      s[w][k].count = 0;
    }
  }
  /* Warm-up: the protocols' interfaces are prepared and the hook installed; the nursery and
   * the heap hold what part 1 left, which these collections clear. */
  AddCallbacks();
  scheme_collect_garbage();
  keel_gc_collect_minor();
  RemoveCallbacks();
  scheme_collect_garbage();
  keel_gc_collect_minor();

  uint64_t with_ran = 0, without_ran = 0;
  for (int b = 0; b < blocks; ++b) {
    for (int step = 0; step < 2; ++step) {
      int with = (b + step) % 2; /* alternate which side comes first */
      if (with) {
        AddCallbacks();
        with_ran += Block(1, per_block, s[1]);
        RemoveCallbacks();
      } else {
        without_ran += Block(0, per_block, s[0]);
      }
    }
  }
  int explicit_each = blocks * per_block * 2;
  int dropped = 4 * blocks * per_block - (s[0][0].count + s[0][1].count + s[1][0].count + s[1][1].count);
  if (dropped > 0 || with_ran != (uint64_t)explicit_each || without_ran != (uint64_t)explicit_each) {
    fprintf(stderr, "ffi: %d collection calls were not exactly one collection; %llu and %llu collections ran "
            "with and without the callbacks (%d each asked for)\n",
            dropped, (unsigned long long)with_ran, (unsigned long long)without_ran, explicit_each);
  }
  printf("gc callbacks: %d registrations of 1 pre-call and 1 post-call each; %d major and %d minor collections "
         "with them and as many without: every pre-call and post-call ran once per collection with them, none "
         "without\n",
         kCallbacks, blocks * per_block, blocks * per_block);
  for (int k = 0; k < 2; ++k) {
    for (int w = 0; w < 2; ++w) fig[k][w] = Reduce(&s[w][k]);
  }
  for (int w = 0; w < 2; ++w) {
    for (int k = 0; k < 2; ++k) free(s[w][k].wall);
  }
}

/* --- report ------------------------------------------------------------------------------- */

static void PrintCallTable(long calls, const double ns[kRows][kWays]) {
  static const char *const kRowNames[kRows] = {"int64 x3 -> int64", "double x3 -> double",
                                               "pointer x2 -> pointer", "callback int64 x3 -> int64"};
  fprintf(stderr, "\nffi (%s): ns per call, median of %d rounds of %ld calls\n", keel_gc_variant(), kRounds,
          calls / kRounds > 0 ? calls / kRounds : 1);
  fprintf(stderr, "%-28s %10s %10s %14s %18s\n", "signature", "direct", "ffi_call", "keel_ffi_call",
          "keel - ffi_call");
  for (int row = 0; row < kRows; ++row) {
    fprintf(stderr, "%-28s %10.1f %10.1f %14.1f %18.1f\n", kRowNames[row], ns[row][kDirect], ns[row][kFfi],
            ns[row][kKeel], ns[row][kKeel] - ns[row][kFfi]);
  }
  fprintf(stderr, "callback: direct = C calls its code pointer, %.1f ns over a direct call of the C add3; "
          "keel_ffi_call = Scheme -> C -> Scheme\n",
          ns[kCallback][kDirect] - ns[kInt64][kDirect]);
}

static void PrintGcTable(int collections, GcFigures fig[2][2]) {
  static const char *const kKinds[2] = {"major", "minor"};
  fprintf(stderr, "\ngc callbacks (%s): µs per collection call, %d of each kind with %d registrations "
          "(1 pre + 1 post call each) and %d without, in %d alternating blocks\n",
          keel_gc_variant(), collections, kCallbacks, collections, collections < kBlocks ? collections : kBlocks);
  fprintf(stderr, "%-6s %-14s %12s %12s %13s %15s\n", "kind", "registrations", "wall median", "wall mean",
          "pause median", "outside median");
  for (int k = 0; k < 2; ++k) {
    for (int w = 0; w < 2; ++w) {
      fprintf(stderr, "%-6s %-14d %12.2f %12.2f %13.2f %15.2f\n", kKinds[k], w ? kCallbacks : 0, fig[k][w].wall,
              fig[k][w].wall_mean, fig[k][w].pause, fig[k][w].outside);
    }
    double added = fig[k][1].wall - fig[k][0].wall;
    double outside = fig[k][1].outside - fig[k][0].outside;
    fprintf(stderr, "%-6s %-14s %+12.2f %+12.2f %+13.2f %+15.2f   per registration: wall %+.3f, outside %+.3f µs\n",
            kKinds[k], "added", added, fig[k][1].wall_mean - fig[k][0].wall_mean, fig[k][1].pause - fig[k][0].pause,
            outside, added / kCallbacks, outside / kCallbacks);
  }
}

typedef struct Options {
  long calls;
  int collections;
} Options;

static int Run(void *data) {
  const Options *o = (const Options *)data;
  scheme_basic_env(); /* GC callbacks and FFI callbacks belong to a place */
  scheme_register_static(&g, sizeof g);
  scheme_register_static(g_keys, sizeof g_keys);
  SetUp();

  double ns[kRows][kWays];
  MeasureCalls(o->calls, ns);
  GcFigures fig[2][2];
  MeasureGcCallbacks(o->collections, fig);
  PrintCallTable(o->calls, ns);
  PrintGcTable(o->collections, fig);

  char args[48], fields[1400];
  snprintf(args, sizeof args, "%ld %d", o->calls, o->collections);
  int len = snprintf(fields, sizeof fields, ",\"calls\":%ld,\"collections_each\":%d,\"callbacks\":%d",
                     o->calls / kRounds * kRounds, o->collections, kCallbacks);
  for (int row = 0; row < kRows; ++row) {
    for (int way = 0; way < kWays; ++way) {
      len += snprintf(fields + len, sizeof fields - (size_t)len, ",\"ns_%s_%s\":%.2f", kRowKeys[row], kWayKeys[way],
                      ns[row][way]);
    }
  }
  static const char *const kKinds[2] = {"major", "minor"};
  for (int k = 0; k < 2; ++k) {
    for (int w = 0; w < 2; ++w) {
      int n = w ? kCallbacks : 0;
      len += snprintf(fields + len, sizeof fields - (size_t)len,
                      ",\"%s_wall_us_%d\":%.3f,\"%s_wall_mean_us_%d\":%.3f"
                      ",\"%s_pause_us_%d\":%.3f,\"%s_outside_us_%d\":%.3f",
                      kKinds[k], n, fig[k][w].wall, kKinds[k], n, fig[k][w].wall_mean, kKinds[k], n, fig[k][w].pause,
                      kKinds[k], n, fig[k][w].outside);
    }
  }
  bench_end_with("ffi", args, 0, fields);
  return 0;
}

int main(int argc, char **argv) {
  bench_begin();
  Options o;
  o.calls = argc > 1 ? atol(argv[1]) : 3000000L;
  o.collections = argc > 2 ? atoi(argv[2]) : 2000;
  if (o.calls < kRounds) o.calls = kRounds;
  if (o.collections < 1) o.collections = 1;
  return scheme_main_stack_setup(1, Run, &o);
}
