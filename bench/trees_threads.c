/* trees_threads.c: the weak-scaling peers of places.c, binary-trees of one depth (trees.h) in
 * 1, 2, 4, ... plain threads at once, over bdwgc (its threads registered with the collector:
 * GC_THREADS makes pthread_create GC_pthread_create), glibc malloc or mimalloc. Built for those
 * three only (trees_threads-<allocator>); bench/run_places.py runs them beside places-keel-*.
 * It prints, as places.c does,
 *   PLACES trees_<n> <seconds> s          n threads at once (the median of 3 rounds)
 *   PLACES efficiency_<n> <percent> %     T1/Tn
 *
 *   trees_threads [depth] [max-threads]   depth (default 16), threads up to max-threads
 *                                         (default: the number of CPUs, at most 16) */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "trees.h"

typedef struct {
  int depth;
  long total;
} Work;

static void *worker(void *arg) {
  Work *w = (Work *)arg;
  w->total = trees_run(w->depth);
  return NULL;
}

/* Seconds for n threads to run binary-trees at once (the median of 3 rounds). */
static double trees_s(int n, int depth) {
  pthread_t ts[16];
  Work work[16];
  double rounds[3];
  int r, i;
  for (r = 0; r < 3; ++r) {
    double t0 = bench_now_s();
    for (i = 0; i < n; ++i) {
      work[i].depth = depth;
      if (pthread_create(&ts[i], NULL, worker, &work[i]) != 0) {
        fprintf(stderr, "trees_threads: pthread_create failed\n");
        exit(1);
      }
    }
    for (i = 0; i < n; ++i) pthread_join(ts[i], NULL);
    rounds[r] = bench_now_s() - t0;
    for (i = 1; i < n; ++i) {
      if (work[i].total != work[0].total) {
        fprintf(stderr, "trees_threads: binary-trees checks differ between threads\n");
        exit(1);
      }
    }
  }
  qsort(rounds, 3, sizeof rounds[0], bench_cmp_double);
  return rounds[1];
}

int main(int argc, char **argv) {
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  int depth = argc > 1 ? atoi(argv[1]) : 16;
  int max_threads = argc > 2 ? atoi(argv[2]) : (int)(cpus < 2 ? 2 : cpus > 16 ? 16 : cpus);
  if (depth < 4 || depth > 24 || max_threads < 1 || max_threads > 16) {
    fprintf(stderr, "usage: trees_threads [depth 4..24] [max-threads 1..16]\n");
    return 2;
  }
  bench_begin();
  trees_report(trees_s, depth, max_threads);
  return 0;
}
