/* fault_cost.c: what page faults and page protection cost on this machine, so that a benchmark
 * table can say which host it came from. Plain C, no Keel: the figures belong to the host
 * (kernel, virtualization, CPU), not to any allocator. bench/run_bench.py runs it before and
 * after the benchmarks and prints the figures above the tables.
 *
 * Usage: fault_cost [pages [reps]]   (default 4096 pages of 16 MiB in all, 3 repetitions)
 *
 * Each repetition maps fresh anonymous memory (MAP_PRIVATE | MAP_ANONYMOUS, MADV_NOHUGEPAGE so
 * every fault is a 4 KiB one) and measures, per page:
 *   first_touch_us   a write to each page of a fresh mapping (the kernel allocates and zeroes a
 *                    page: what an allocator pays for memory it has never used);
 *   refault_us       the same pages written again after MADV_DONTNEED gave them back (what an
 *                    allocator pays for memory it released and reuses);
 *   write_fault_us   a write to a PROT_READ page whose SIGSEGV handler (SA_SIGINFO) mprotects
 *                    that page back to read-write: the whole cost of one fault of an
 *                    mprotect-based write barrier (trap, signal delivery, mprotect, return);
 *   mprotect_us      one mprotect(PROT_READ) call on one resident read-write page;
 *   populate_us      MADV_POPULATE_WRITE over a fresh mapping (Linux 5.14): the kernel backs
 *                    the pages in one call, with no fault per page (what pre-faulting memory an
 *                    allocator is about to use would cost); -1 where the kernel refuses it;
 *   thp_touch_us     a write to each 4 KiB of a fresh, 2 MiB-aligned mapping advised
 *                    MADV_HUGEPAGE: one fault per 2 MiB where transparent huge pages are
 *                    available, else the same as first_touch_us (docs/design/heap.md .sol.thp).
 * The first two write the pages in address order; the last two visit them in a fixed shuffled
 * order, as a collector's barrier does, so the mapping splits and merges as it would in a heap.
 * Each figure is the median over the repetitions of (time for all pages) / pages.
 *
 * Prints one line:
 *   FAULTS {"first_touch_us":..,"refault_us":..,"write_fault_us":..,"mprotect_us":..,
 *           "populate_us":..,"thp_touch_us":..,"pages":..,"reps":..,"page_size":..}
 * and exits 0; on a failed mmap, madvise(MADV_DONTNEED), mprotect or sigaction it prints what
 * failed on stderr and exits 1. */
#define _GNU_SOURCE 1
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

enum { kDefaultPages = 4096, kDefaultReps = 3, kMaxReps = 99 };

static size_t g_page;                /* the OS page size */
static char *volatile g_region;      /* the mapping the SIGSEGV handler may open */
static volatile size_t g_region_len;
static volatile size_t g_handled;    /* faults the handler served */

static double NowUs(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static void Die(const char *what, size_t bytes) {
  int e = errno;
  if (bytes != 0) {
    fprintf(stderr, "fault_cost: %s of %zu bytes failed: %s\n", what, bytes, strerror(e));
  } else {
    fprintf(stderr, "fault_cost: %s failed: %s\n", what, strerror(e));
  }
  exit(1);
}

/* A fresh anonymous read-write mapping of `pages` pages, never touched, without huge pages. */
static char *MapFresh(size_t pages) {
  size_t len = pages * g_page;
  void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) Die("mmap", len);
#ifdef MADV_NOHUGEPAGE
  /* EINVAL: a kernel without transparent huge pages, where every fault is 4 KiB anyway. */
  if (madvise(p, len, MADV_NOHUGEPAGE) != 0 && errno != EINVAL) Die("madvise(MADV_NOHUGEPAGE)", len);
#endif
  return (char *)p;
}

/* Microseconds per page to back a fresh mapping of `pages` pages with MADV_POPULATE_WRITE, or
 * -1 where the kernel does not offer it. */
static double Populate(size_t pages) {
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14; older headers lack it */
#endif
  char *p = MapFresh(pages);
  double t0 = NowUs();
  int rc = madvise(p, pages * g_page, MADV_POPULATE_WRITE);
  double us = (NowUs() - t0) / (double)pages;
  if (munmap(p, pages * g_page) != 0) Die("munmap", pages * g_page);
  return rc == 0 ? us : -1.0;
}

/* Microseconds per page for the first write to each page of a fresh 2 MiB-aligned mapping
 * advised MADV_HUGEPAGE (a kernel without transparent huge pages refuses the advice and takes
 * 4 KiB faults). */
static double TouchHuge(size_t pages) {
  const size_t huge = (size_t)2 << 20;
  size_t len = (pages * g_page + huge - 1) & ~(huge - 1);
  char *raw = (char *)mmap(NULL, len + huge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) Die("mmap", len + huge);
  char *p = (char *)(((uintptr_t)raw + huge - 1) & ~(uintptr_t)(huge - 1));
#ifdef MADV_HUGEPAGE
  (void)madvise(p, len, MADV_HUGEPAGE);
#endif
  double t0 = NowUs();
  volatile char *v = p;
  for (size_t i = 0; i < len / g_page; ++i) v[i * g_page] = 1;
  double us = (NowUs() - t0) / (double)(len / g_page);
  if (munmap(raw, len + huge) != 0) Die("munmap", len + huge);
  return us;
}

static void Unmap(char *p, size_t pages) {
  if (munmap(p, pages * g_page) != 0) Die("munmap", pages * g_page);
}

/* One write per page, in address order; returns microseconds per page. */
static double TouchAll(char *p, size_t pages) {
  volatile char *v = p;
  double t0 = NowUs();
  for (size_t i = 0; i < pages; ++i) v[i * g_page] = (char)(i | 1);
  return (NowUs() - t0) / (double)pages;
}

/* The barrier's handler: opens the faulting page if it lies in the measured region, and
 * otherwise falls back to the default action (the re-executed access then kills the process,
 * as an unhandled fault would). mprotect is not on POSIX's async-signal-safe list but is a
 * plain system call on Linux, which is what every mprotect-based barrier relies on. */
static void OnSegv(int sig, siginfo_t *si, void *ctx) {
  (void)ctx;
  char *addr = (char *)si->si_addr;
  char *base = g_region;
  if (base != NULL && addr >= base && addr < base + g_region_len) {
    char *page = (char *)((uintptr_t)addr & ~(uintptr_t)(g_page - 1));
    if (mprotect(page, g_page, PROT_READ | PROT_WRITE) == 0) {
      ++g_handled;
      return;
    }
  }
  signal(sig, SIG_DFL);
}

/* A fixed permutation of 0..n-1 (Fisher-Yates over xorshift64, seed fixed). */
static size_t *ShuffledOrder(size_t n) {
  size_t *order = (size_t *)malloc(n * sizeof *order);
  if (order == NULL) Die("malloc", n * sizeof *order);
  for (size_t i = 0; i < n; ++i) order[i] = i;
  uint64_t x = 0x9E3779B97F4A7C15u;
  for (size_t i = n - 1; i > 0; --i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    size_t j = (size_t)(x % (i + 1));
    size_t t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  return order;
}

static int CompareDouble(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double Median(double *xs, int n) {
  qsort(xs, (size_t)n, sizeof *xs, CompareDouble);
  return n % 2 ? xs[n / 2] : (xs[n / 2 - 1] + xs[n / 2]) / 2.0;
}

int main(int argc, char **argv) {
  long page = sysconf(_SC_PAGESIZE);
  g_page = page > 0 ? (size_t)page : 4096;
  long npages = argc > 1 ? atol(argv[1]) : kDefaultPages;
  int reps = argc > 2 ? atoi(argv[2]) : kDefaultReps;
  if (npages < 1 || reps < 1 || reps > kMaxReps) {
    fprintf(stderr, "usage: fault_cost [pages (>= 1) [reps (1-%d)]]\n", kMaxReps);
    return 2;
  }
  size_t pages = (size_t)npages;
  size_t *order = ShuffledOrder(pages);

  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = OnSegv;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  sigemptyset(&sa.sa_mask);
  struct sigaction old_segv;
  if (sigaction(SIGSEGV, &sa, &old_segv) != 0) Die("sigaction(SIGSEGV)", 0);

  double first[kMaxReps], refault[kMaxReps], write_fault[kMaxReps], protect[kMaxReps];
  double populate[kMaxReps], thp[kMaxReps];
  for (int r = 0; r < reps; ++r) {
    populate[r] = Populate(pages);
    thp[r] = TouchHuge(pages);

    /* (a) first touch, then (b) refault of the same pages after MADV_DONTNEED. */
    char *p = MapFresh(pages);
    first[r] = TouchAll(p, pages);
    if (madvise(p, pages * g_page, MADV_DONTNEED) != 0) Die("madvise(MADV_DONTNEED)", pages * g_page);
    refault[r] = TouchAll(p, pages);
    Unmap(p, pages);

    /* (d) one mprotect(PROT_READ) call per resident page, shuffled order. */
    p = MapFresh(pages);
    TouchAll(p, pages);
    double t0 = NowUs();
    for (size_t i = 0; i < pages; ++i) {
      if (mprotect(p + order[i] * g_page, g_page, PROT_READ) != 0) Die("mprotect(PROT_READ)", g_page);
    }
    protect[r] = (NowUs() - t0) / (double)pages;

    /* (c) a write to each of those read-only pages, shuffled order: trap, SIGSEGV, mprotect
     * back to read-write in the handler, return, retry. */
    g_region_len = pages * g_page;
    g_region = p;
    g_handled = 0;
    volatile char *v = p;
    t0 = NowUs();
    for (size_t i = 0; i < pages; ++i) v[order[i] * g_page] = 2;
    write_fault[r] = (NowUs() - t0) / (double)pages;
    g_region = NULL;
    if (g_handled != pages) {
      fprintf(stderr, "fault_cost: expected %zu write faults, the handler saw %zu\n", pages,
              (size_t)g_handled);
      return 1;
    }
    Unmap(p, pages);
  }
  sigaction(SIGSEGV, &old_segv, NULL);
  free(order);

  printf("FAULTS {\"first_touch_us\":%.2f,\"refault_us\":%.2f,\"write_fault_us\":%.2f,"
         "\"mprotect_us\":%.2f,\"populate_us\":%.2f,\"thp_touch_us\":%.2f,\"pages\":%zu,\"reps\":%d,"
         "\"page_size\":%zu}\n",
         Median(first, reps), Median(refault, reps), Median(write_fault, reps), Median(protect, reps),
         Median(populate, reps), Median(thp, reps), pages, reps, g_page);
  return 0;
}
