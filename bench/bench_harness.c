/* bench_harness.c: the clock, each allocator's collection figures, and the BENCH line
 * (bench.h). Pauses of every collector are reduced by the same nearest-rank percentile, so
 * Keel's and bdwgc's columns compare like with like. */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

#if defined(BENCH_ALLOC_KEEL)
#include "keel_gc.h"
#ifdef MZ_PRECISE_GC
#define BENCH_ALLOC_NAME "keel-3m"
#else
#define BENCH_ALLOC_NAME "keel-cgc"
#endif
#elif defined(BENCH_ALLOC_BDWGC)
#include <gc/gc.h>
#define BENCH_ALLOC_NAME "bdwgc"
#elif defined(BENCH_ALLOC_MALLOC)
#define BENCH_ALLOC_NAME "malloc"
#else
#define BENCH_ALLOC_NAME "mimalloc"
#endif

static uint64_t NowNs(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t g_begin_ns;

/* Peak RSS of this process image, in KiB: VmHWM from /proc/self/status, or ru_maxrss where that
 * cannot be read. ru_maxrss alone is wrong for a child of a big parent: Linux carries the
 * parent's RSS at fork over into the child's ru_maxrss through exec (a Python driver shows up
 * as a 16 MiB floor), while VmHWM belongs to the new address space. */
static long PeakRssKb(long ru_maxrss_kb) {
  FILE *f = fopen("/proc/self/status", "r");
  if (f == NULL) return ru_maxrss_kb;
  char line[256];
  long kb = -1;
  while (fgets(line, sizeof line, f) != NULL) {
    if (sscanf(line, "VmHWM: %ld kB", &kb) == 1) break;
  }
  fclose(f);
  return kb >= 0 ? kb : ru_maxrss_kb;
}

/* Pauses, in nanoseconds, for the collectors whose figures the harness gathers itself. */
enum { kMaxPauses = 1 << 16 }; /* far above any run's collection count (bdwgc: ~200 at depth 21) */
static uint64_t g_pauses[kMaxPauses];
static size_t g_pause_count;
static uint64_t g_pauses_dropped;

static inline void RecordPause(uint64_t ns) {
  if (g_pause_count < kMaxPauses) {
    g_pauses[g_pause_count++] = ns;
  } else {
    ++g_pauses_dropped;
  }
}

static int CompareU64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return (x > y) - (x < y);
}

/* Nearest rank over sorted values: the smallest value with at least p % of them at or below. */
static uint64_t Percentile(const uint64_t *sorted, size_t n, double p) {
  if (n == 0) return 0;
  size_t rank = (size_t)((p / 100.0) * (double)n + 0.999999999);
  if (rank < 1) rank = 1;
  if (rank > n) rank = n;
  return sorted[rank - 1];
}

#if defined(BENCH_ALLOC_BDWGC)
static uint64_t g_gc_start_ns;

/* Runs with bdwgc's allocation lock held: only the clock and a static array. START..END is
 * bdwgc's stop-the-world part (mark, finalization); its sweep is lazy, done by allocation. */
static void OnCollectionEvent(GC_EventType e) {
  if (e == GC_EVENT_START) {
    g_gc_start_ns = NowNs();
  } else if (e == GC_EVENT_END) {
    RecordPause(NowNs() - g_gc_start_ns);
  }
}
#endif

/* Out of line (another translation unit than its callers): its buffer lies below their frames. */
__attribute__((noinline)) void bench_clean_stack(void) {
  volatile char buf[16384];
  for (size_t i = 0; i < sizeof buf; ++i) buf[i] = 0;
#if defined(__x86_64__)
  __asm__ __volatile__(
      "xor %%eax, %%eax\n\txor %%ecx, %%ecx\n\txor %%edx, %%edx\n\txor %%esi, %%esi\n\t"
      "xor %%edi, %%edi\n\txor %%r8d, %%r8d\n\txor %%r9d, %%r9d\n\txor %%r10d, %%r10d\n\t"
      "xor %%r11d, %%r11d" ::: "rax", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "memory");
#endif
}

void bench_begin(void) {
  g_begin_ns = NowNs();
#if defined(BENCH_ALLOC_BDWGC)
  GC_set_on_collection_event(OnCollectionEvent); /* first: GC_INIT collects once */
  GC_INIT();
#endif
}

static void PrintUsOrNull(const char *key, int have, uint64_t ns) {
  if (have) {
    printf(",\"%s\":%.1f", key, (double)ns / 1e3);
  } else {
    printf(",\"%s\":null", key);
  }
}

void bench_end(const char *bench, const char *args, uint64_t analytic_live_bytes) {
  bench_end_with(bench, args, analytic_live_bytes, NULL);
}

void bench_end_with(const char *bench, const char *args, uint64_t analytic_live_bytes, const char *fields) {
  double wall_s = (double)(NowNs() - g_begin_ns) / 1e9;
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);

  int collects = 0;       /* the allocator collects at all */
  uint64_t collections = 0;
  long long minor = -1, major = -1;         /* -1: not reported */
  long long peak_live = -1, peak_heap = -1; /* bytes; -1: not measured */
  long long api_p99_ns = -1;
  uint64_t total_pause_ns = 0;
  const char *barrier = NULL;
  uint64_t faults = 0, written = 0, protected_pages = 0;
  uint64_t aged = 0, promoted = 0, remembered = 0;
  uint64_t copied_bytes = 0, copied_objects = 0, copy_pause_ns = 0; /* 3m: survivors moved */
  /* Page-table figures (keel_gc.h): OS pages released, refaulted and handed out fresh; heap
   * pages opened; protect and unprotect system calls; page-table scans for written pages. */
  uint64_t released = 0, refaulted = 0, fresh = 0, opened = 0, protect_calls = 0, scan_calls = 0;
  uint64_t minor_max_ns = 0;
  uint64_t *minor_pauses = NULL;
  size_t minor_count = 0;

#if defined(BENCH_ALLOC_KEEL)
  keel_gc_stats st;
  keel_gc_get_stats(&st);
  collects = 1;
  collections = st.collections;
  minor = (long long)st.minor_collections;
  major = (long long)st.major_collections;
  peak_live = (long long)st.peak_live_bytes;
  peak_heap = (long long)st.peak_heap_bytes;
  total_pause_ns = st.total_pause_ns;
  api_p99_ns = (long long)keel_gc_pause_percentile_ns(99);
  barrier = keel_gc_barrier();
  size_t records = keel_gc_record_count();
  minor_pauses = (uint64_t *)malloc((records + 1) * sizeof *minor_pauses);
  for (size_t i = 0; i < records; ++i) {
    keel_gc_record r;
    if (!keel_gc_get_record(i, &r)) continue;
    RecordPause(r.pause_ns);
    faults += r.barrier_faults;
    written += r.pages_written;
    protected_pages += r.pages_protected;
    aged += r.aged_bytes;
    promoted += r.promoted_bytes;
    remembered += r.remembered_pages;
    released += r.pages_released;
    refaulted += r.pages_refaulted;
    fresh += r.pages_fresh;
    opened += r.pages_opened;
    protect_calls += r.protect_calls;
    scan_calls += r.scan_calls;
    copied_bytes += r.copied_bytes;
    copied_objects += r.copied_objects;
    if (r.kind == KEEL_GC_MINOR) copy_pause_ns += r.pause_ns;
    if (r.kind == KEEL_GC_MINOR && minor_pauses != NULL) {
      minor_pauses[minor_count++] = r.pause_ns;
      if (r.pause_ns > minor_max_ns) minor_max_ns = r.pause_ns;
    }
  }
  /* Records beyond the kept window (KEEL_GC_RECORDS) are not in the percentiles. */
  if (st.collections > records) g_pauses_dropped += st.collections - records;
#elif defined(BENCH_ALLOC_BDWGC)
  collects = 1;
  collections = (uint64_t)GC_get_gc_no();
  for (size_t i = 0; i < g_pause_count; ++i) total_pause_ns += g_pauses[i];
#endif

  qsort(g_pauses, g_pause_count, sizeof g_pauses[0], CompareU64);
  int have = collects && g_pause_count > 0;

  fflush(stdout);
  printf("BENCH {\"bench\":\"%s\",\"alloc\":\"%s\",\"args\":\"%s\",\"wall_s\":%.4f", bench,
         BENCH_ALLOC_NAME, args, wall_s);
  if (collects) {
    printf(",\"collections\":%llu", (unsigned long long)collections);
  } else {
    printf(",\"collections\":0");
  }
  if (minor >= 0) printf(",\"minor\":%lld,\"major\":%lld", minor, major);
  PrintUsOrNull("p50_pause_us", have, Percentile(g_pauses, g_pause_count, 50));
  PrintUsOrNull("p99_pause_us", have, Percentile(g_pauses, g_pause_count, 99));
  PrintUsOrNull("max_pause_us", have, Percentile(g_pauses, g_pause_count, 100));
  if (collects) {
    printf(",\"total_pause_ms\":%.3f", (double)total_pause_ns / 1e6);
  } else {
    printf(",\"total_pause_ms\":null");
  }
  if (api_p99_ns >= 0) printf(",\"keel_api_p99_pause_us\":%.1f", (double)api_p99_ns / 1e3);
  if (barrier != NULL) {
    printf(",\"barrier\":\"%s\",\"barrier_faults\":%llu,\"pages_written\":%llu,\"pages_protected\":%llu",
           barrier, (unsigned long long)faults, (unsigned long long)written, (unsigned long long)protected_pages);
    printf(",\"aged_mib\":%.1f,\"promoted_mib\":%.1f,\"remembered_pages\":%llu", (double)aged / 1048576.0,
           (double)promoted / 1048576.0, (unsigned long long)remembered);
    printf(",\"pages_released\":%llu,\"pages_refaulted\":%llu,\"pages_fresh\":%llu"
           ",\"pages_opened\":%llu,\"protect_calls\":%llu,\"scan_calls\":%llu",
           (unsigned long long)released, (unsigned long long)refaulted, (unsigned long long)fresh,
           (unsigned long long)opened, (unsigned long long)protect_calls, (unsigned long long)scan_calls);
    /* The survivor copy rate: bytes moved per second of minor pause (3m; CGC moves nothing). */
    if (copied_objects > 0) {
      printf(",\"copied_mib\":%.1f,\"copied_objects\":%llu,\"copy_rate_mib_s\":%.0f", (double)copied_bytes / 1048576.0,
             (unsigned long long)copied_objects,
             copy_pause_ns > 0 ? (double)copied_bytes / 1048576.0 / ((double)copy_pause_ns / 1e9) : 0.0);
    }
    if (minor_count > 0) {
      qsort(minor_pauses, minor_count, sizeof minor_pauses[0], CompareU64);
      printf(",\"minor_p99_pause_us\":%.1f,\"minor_max_pause_us\":%.1f",
             (double)Percentile(minor_pauses, minor_count, 99) / 1e3, (double)minor_max_ns / 1e3);
    }
  }
  free(minor_pauses);
  printf(",\"pauses_recorded\":%zu,\"pauses_dropped\":%llu", g_pause_count,
         (unsigned long long)g_pauses_dropped);
  printf(",\"peak_rss_kb\":%ld,\"ru_maxrss_kb\":%ld", PeakRssKb(ru.ru_maxrss), ru.ru_maxrss);
  if (peak_live >= 0) {
    printf(",\"peak_live_kb\":%lld", peak_live / 1024);
  } else {
    printf(",\"peak_live_kb\":null");
  }
  if (peak_heap >= 0) printf(",\"peak_heap_kb\":%lld", peak_heap / 1024);
  printf(",\"analytic_live_kb\":%llu", (unsigned long long)(analytic_live_bytes / 1024));
  printf(",\"user_s\":%.3f,\"sys_s\":%.3f,\"minflt\":%ld%s}\n",
         (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6,
         (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6, ru.ru_minflt, fields != NULL ? fields : "");
  fflush(stdout);
}
