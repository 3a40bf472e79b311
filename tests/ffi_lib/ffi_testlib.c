/* ffi_testlib.c: the C library the FFI and GC-callback tests load with keel_ffi_lib. Its
 * functions record each call (function and arguments, in order) as a line in a log the tests read
 * back (testlib_log), return what the tests check, and call C callbacks. Plain C, no Keel: the
 * GC-callback functions must not call Keel. The log is per process and guarded by a lock; the
 * per-place counters are atomic. */
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define EXPORT __attribute__((visibility("default")))

static char g_log[1 << 20];
static size_t g_log_len;
static pthread_mutex_t g_log_lock = PTHREAD_MUTEX_INITIALIZER;
static void *g_save_result;

static void Log(const char *fmt, ...) {
  va_list ap;
  pthread_mutex_lock(&g_log_lock);
  va_start(ap, fmt);
  size_t room = sizeof g_log - g_log_len;
  int n = vsnprintf(g_log + g_log_len, room, fmt, ap);
  va_end(ap);
  if (n > 0 && (size_t)n + 1 < room) {
    g_log_len += (size_t)n;
    g_log[g_log_len++] = '\n';
    g_log[g_log_len] = '\0';
  } else {
    /* Full: the log ends with a line no test expects, so a test that overflows it fails. */
    static const char kFull[] = "[log full]\n";
    memcpy(g_log + sizeof g_log - sizeof kFull, kFull, sizeof kFull);
    g_log_len = sizeof g_log - 1;
  }
  pthread_mutex_unlock(&g_log_lock);
}

/* Pointers print as hex, NULL as 0. */
#define P(p) ((unsigned long)(uintptr_t)(p))

/* --- the log ---------------------------------------------------------------------------------- */
EXPORT const char *testlib_log(void) { return g_log; }
EXPORT void testlib_reset(void) {
  pthread_mutex_lock(&g_log_lock);
  g_log_len = 0;
  g_log[0] = '\0';
  pthread_mutex_unlock(&g_log_lock);
}
/* What rec_pp_save returns next. */
EXPORT void testlib_set_save(void *p) { g_save_result = p; }

/* --- one function per GC-callback protocol ---------------------------------------------------- */
EXPORT void rec_int(int a) { Log("int(%d)", a); }
EXPORT void rec_ppp(void *a, void *b, void *c) { Log("ppp(%lx,%lx,%lx)", P(a), P(b), P(c)); }
/* Logs the NUL-terminated text at a (a byte string's data), so a test sees that the data is
 * still there after the collector moved the string. */
EXPORT void rec_text(void *a, void *b, void *c) { Log("text(%s,%lx,%lx)", a != NULL ? (const char *)a : "NULL", P(b), P(c)); }
EXPORT void *rec_pp_save(void *a, void *b) {
  Log("pp_save(%lx,%lx)", P(a), P(b));
  return g_save_result;
}
EXPORT void rec_save_p(void *save, void *a) { Log("save_p(%lx,%lx)", P(save), P(a)); }
EXPORT void rec_pppi(void *a, void *b, void *c, int i) { Log("pppi(%lx,%lx,%lx,%d)", P(a), P(b), P(c), i); }
EXPORT void rec_ppf(void *a, void *b, float f) { Log("ppf(%lx,%lx,%g)", P(a), P(b), (double)f); }
EXPORT void rec_ppd(void *a, void *b, double d) { Log("ppd(%lx,%lx,%.17g)", P(a), P(b), d); }
EXPORT void rec_ffff(float a, float b, float c, float d) { Log("ffff(%g,%g,%g,%g)", (double)a, (double)b, (double)c, (double)d); }
EXPORT void rec_ppp9i(void *a, void *b, void *c, int i1, int i2, int i3, int i4, int i5, int i6, int i7, int i8, int i9) {
  Log("ppp9i(%lx,%lx,%lx,%d,%d,%d,%d,%d,%d,%d,%d,%d)", P(a), P(b), P(c), i1, i2, i3, i4, i5, i6, i7, i8, i9);
}
EXPORT void rec_os_pi(void *a, int i) { Log("os_pi(%lx,%d)", P(a), i); }
EXPORT void rec_os_pp(void *a, void *b) { Log("os_pp(%lx,%lx)", P(a), P(b)); }
EXPORT void rec_os_piiiipiil(void *a, int i1, int i2, int i3, int i4, void *b, int i5, int i6, long l) {
  Log("os_piiiipiil(%lx,%d,%d,%d,%d,%lx,%d,%d,%ld)", P(a), i1, i2, i3, i4, P(b), i5, i6, l);
}

/* Per-place counting: count_call(i) adds one to counter i and notes the calling thread; a
 * second thread counting under the same index marks it shared. */
#define COUNTERS 256
static unsigned long g_counts[COUNTERS];
static pthread_t g_count_thread[COUNTERS];
static int g_count_shared[COUNTERS];
EXPORT void count_call(int i) {
  if (i < 0 || i >= COUNTERS) return;
  if (__atomic_fetch_add(&g_counts[i], 1, __ATOMIC_RELAXED) == 0) {
    g_count_thread[i] = pthread_self();
  } else if (!pthread_equal(g_count_thread[i], pthread_self())) {
    __atomic_store_n(&g_count_shared[i], 1, __ATOMIC_RELAXED);
  }
}
EXPORT unsigned long count_of(int i) { return i >= 0 && i < COUNTERS ? __atomic_load_n(&g_counts[i], __ATOMIC_RELAXED) : 0; }
EXPORT int count_shared(int i) { return i >= 0 && i < COUNTERS ? __atomic_load_n(&g_count_shared[i], __ATOMIC_RELAXED) : 0; }

/* --- plain functions for the FFI layer's calls ------------------------------------------------ */
EXPORT int8_t id_int8(int8_t x) { return x; }
EXPORT int16_t id_int16(int16_t x) { return x; }
EXPORT int32_t id_int32(int32_t x) { return x; }
EXPORT int64_t id_int64(int64_t x) { return x; }
EXPORT uint8_t id_uint8(uint8_t x) { return x; }
EXPORT uint16_t id_uint16(uint16_t x) { return x; }
EXPORT uint32_t id_uint32(uint32_t x) { return x; }
EXPORT uint64_t id_uint64(uint64_t x) { return x; }
EXPORT float id_float(float x) { return x; }
EXPORT double id_double(double x) { return x; }
EXPORT void *id_pointer(void *p) { return p; }
/* Each argument weighted by its position, so swapped or truncated arguments show. */
EXPORT int64_t mix(int8_t a, uint16_t b, int32_t c, int64_t d, uint8_t e, double f, float g) {
  return a + 2 * (int64_t)b + 3 * (int64_t)c + 4 * d + 5 * (int64_t)e + (int64_t)(6 * f) + (int64_t)(7 * g);
}
EXPORT int64_t sum12(int64_t a, int64_t b, int64_t c, int64_t d, int64_t e, int64_t f, int64_t g, int64_t h, int64_t i,
                     int64_t j, int64_t k, int64_t l) {
  return a + 2 * b + 3 * c + 4 * d + 5 * e + 6 * f + 7 * g + 8 * h + 9 * i + 10 * j + 11 * k + 12 * l;
}
EXPORT size_t text_length(const char *s) { return s == NULL ? (size_t)-1 : strlen(s); }
EXPORT const char *same_text(const char *s) { return s; }
EXPORT const char *greeting(void) { return "gr\xc3\xbc\xc3\x9f dich"; } /* "grüß dich" in UTF-8 */
EXPORT void fill(char *buf, int n, int c) { memset(buf, c, (size_t)n); }
EXPORT char *offset_of(char *p, long k) { return p + k; }
EXPORT void *null_pointer(void) { return NULL; }
static int g_void_calls;
EXPORT void void_call(void) { ++g_void_calls; }
EXPORT int void_calls(void) { return g_void_calls; }

/* --- callbacks: C calling a function pointer it was given -------------------------------------- */
EXPORT int apply_int(int (*f)(int), int x) { return f(x) + 1; }
EXPORT double apply_dd(double (*f)(double, double), double a, double b) { return f(a, b) * 2; }
/* Calls f(i) for i in [0, n) and sums the results: a callback called many times. */
EXPORT int64_t sum_calls(int64_t (*f)(int64_t), int n) {
  int64_t total = 0;
  for (int i = 0; i < n; ++i) total += f(i);
  return total;
}
EXPORT size_t apply_text(const char *(*f)(const char *), const char *s) {
  const char *r = f(s);
  return r == NULL ? (size_t)-1 : strlen(r);
}
EXPORT uint8_t apply_u8(uint8_t (*f)(uint8_t), uint8_t x) { return f(x); }
