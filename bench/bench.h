/* bench.h: the harness every benchmark client shares: the clock, explicit frees for the malloc
 * allocators, and the one machine-readable BENCH line (bench/README.md lists its fields).
 * Each client is compiled once per allocator, with exactly one of BENCH_ALLOC_KEEL,
 * BENCH_ALLOC_BDWGC, BENCH_ALLOC_MALLOC or BENCH_ALLOC_MIMALLOC defined. */
#ifndef KEEL_BENCH_H
#define KEEL_BENCH_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#if defined(BENCH_ALLOC_KEEL) + defined(BENCH_ALLOC_BDWGC) + defined(BENCH_ALLOC_MALLOC) + \
        defined(BENCH_ALLOC_MIMALLOC) != 1
#error "define exactly one BENCH_ALLOC_* macro"
#endif

#if defined(BENCH_ALLOC_MALLOC)
#include <stdlib.h>
#define BENCH_EXPLICIT_FREE 1
static inline void bench_free(void *p) { free(p); }
#elif defined(BENCH_ALLOC_MIMALLOC)
#include <mimalloc.h>
#define BENCH_EXPLICIT_FREE 1
static inline void bench_free(void *p) { mi_free(p); }
#else
/* Garbage-collected allocators: a dropped object is simply no longer referenced. */
#define BENCH_EXPLICIT_FREE 0
static inline void bench_free(void *p) { (void)p; }
#endif

/* The monotonic clock in seconds, and qsort's comparison of doubles (for medians). */
static inline double bench_now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
static inline int bench_cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* A fixnum-shaped word (odd, so never an address) holding x, and xorshift64's next number:
 * the benchmarks' fixed-seed data, the same under every allocator. */
static inline uintptr_t bench_fixnum(uint64_t x) { return ((uintptr_t)x << 1) | 1; }
static inline uint64_t bench_xorshift64(uint64_t *state) {
  uint64_t x = *state;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  *state = x;
  return x;
}

/* Overwrites 16 KiB of the stack below the caller and zeroes the caller-saved registers, so
 * that dead frames hold no stale copies of pointers a conservative collector would honour. Call
 * it right before an explicit collection that must find dropped objects unreachable. */
void bench_clean_stack(void);

/* Starts the wall clock. Call first thing in main, before the allocator is initialized (for
 * bdwgc it runs GC_INIT and installs the collection-event hook that times pauses). */
void bench_begin(void);

/* Stops the clock and prints, as the last line of stdout,
 *   BENCH {"bench":...,"alloc":...,"wall_s":...,...}
 * analytic_live_bytes is the benchmark's peak reachable data, computed from its shape (each
 * client documents its formula). Call it on the thread that allocated, before shutdown. */
void bench_end(const char *bench, const char *args, uint64_t analytic_live_bytes);

/* The same, with the benchmark's own fields added to the JSON object: `fields` is a run of
 * `,"name":value` pairs (or NULL). */
void bench_end_with(const char *bench, const char *args, uint64_t analytic_live_bytes, const char *fields);

#endif /* KEEL_BENCH_H */
