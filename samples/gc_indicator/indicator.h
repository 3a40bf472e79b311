/* indicator.h: a small plain-C library (no Keel) that shows a "collecting" indicator and times
 * every collection, written to be called from Keel's GC callbacks (scheme_add_gc_callback). The
 * host owns the state; the library only fills it in. */
#ifndef INDICATOR_H
#define INDICATOR_H

#include <stddef.h>
#include <stdint.h>

#define INDICATOR_RING 1024 /* timings kept: enough to compare a window with Keel's records */
#define INDICATOR_MARKS 48  /* marks kept per step: one short output line */

typedef struct indicator_timing {
  uint64_t begin_ns; /* CLOCK_MONOTONIC when indicator_begin ran */
  uint64_t end_ns;   /* and when the matching indicator_end ran */
} indicator_timing;

/* Memory the host allocates (not the collector's: it must not move) and zeroes, then sets fd.
 * Only the thread whose collections call the functions touches it, between collections. */
typedef struct indicator_state {
  volatile int collecting; /* 1 from indicator_begin to indicator_end */
  int fd;                  /* where the live indicator is drawn (a terminal), or -1: not drawn */
  uint64_t begun;          /* indicator_begin calls */
  uint64_t ended;          /* indicator_end calls that closed a collection */
  uint64_t unmatched;      /* a begin while collecting, or an end while not: should stay 0 */
  uint64_t begin_ns;       /* of the collection in progress */
  uint64_t total_ns;       /* all closed collections, begin to end */
  uint64_t max_ns;
  indicator_timing ring[INDICATOR_RING]; /* the n-th closed collection (from 1) at [(n-1) % RING] */
  size_t marks;                          /* collections closed since the host last zeroed it */
  char mark[INDICATOR_MARKS];            /* one per collection: '.' < 0.1 ms, 'o' < 1 ms, 'O' < 10 ms, '@' */
} indicator_state;

/* Protocol ptr_ptr_ptr->void, before each collection: sets the flag, takes the time and draws
 * label (a NUL-terminated string; NULL draws nothing). */
void indicator_begin(void *state, void *label, void *unused);

/* Protocol ptr_ptr_ptr->void, after each collection: clears the flag, records the time since
 * indicator_begin and its mark, and erases label as drawn by indicator_begin. */
void indicator_end(void *state, void *label, void *unused);

/* Protocol int->void: adds n to a process-wide counter; indicator_ticks reads it. */
void indicator_tick(int n);
long indicator_ticks(void);

#endif /* INDICATOR_H */
