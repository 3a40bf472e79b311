/* indicator.c: the indicator library (indicator.h). Its functions run inside Keel's collections,
 * so they call nothing of Keel's and allocate nothing: a clock read, a few stores, and a write(2)
 * of the indicator when the host asked for one. */
#include "indicator.h"

#include <string.h>
#include <time.h>
#include <unistd.h>

#define LABEL_MAX 32 /* longer labels are cut: the eraser's buffer stays on the stack */

static long g_ticks;

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void draw(int fd, const char *text, size_t len) {
  if (write(fd, text, len) < 0) {
    /* an indicator that cannot be drawn is not worth failing a collection for */
  }
}

void indicator_begin(void *state, void *label, void *unused) {
  indicator_state *s = state;
  (void)unused;
  if (s->collecting) s->unmatched++;
  s->collecting = 1;
  s->begun++;
  if (s->fd >= 0 && label != NULL) draw(s->fd, label, strnlen(label, LABEL_MAX));
  s->begin_ns = now_ns(); /* last: the time brackets only the collection, not the drawing */
}

static char mark_for(uint64_t ns) {
  if (ns < 100000) return '.';
  if (ns < 1000000) return 'o';
  if (ns < 10000000) return 'O';
  return '@';
}

void indicator_end(void *state, void *label, void *unused) {
  indicator_state *s = state;
  const uint64_t end = now_ns(); /* first, for the same reason */
  (void)unused;
  if (!s->collecting) {
    s->unmatched++;
    return;
  }
  s->collecting = 0;
  const uint64_t ns = end - s->begin_ns;
  indicator_timing *slot = &s->ring[s->ended % INDICATOR_RING];
  slot->begin_ns = s->begin_ns;
  slot->end_ns = end;
  s->ended++;
  s->total_ns += ns;
  if (ns > s->max_ns) s->max_ns = ns;
  if (s->marks < INDICATOR_MARKS) s->mark[s->marks] = mark_for(ns);
  s->marks++;
  if (s->fd >= 0 && label != NULL) { /* back over the label, blank it, back again */
    char erase[3 * LABEL_MAX];
    const size_t n = strnlen(label, LABEL_MAX);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) erase[k++] = '\b';
    for (size_t i = 0; i < n; i++) erase[k++] = ' ';
    for (size_t i = 0; i < n; i++) erase[k++] = '\b';
    draw(s->fd, erase, k);
  }
}

void indicator_tick(int n) { g_ticks += n; }

long indicator_ticks(void) { return g_ticks; }
