/* valgrind_probe.c: a small Keel program for the valgrind tests (tests/CMakeLists.txt): lists
 * and strings through scheme.h, blocks from scheme_malloc and bdwgc's GC_malloc, explicit
 * collections, printing and the collector's figures. Under memcheck with share/keel.supp it must
 * draw no report. With the argument "user-error" it also branches on an int it never wrote,
 * a bug of its own that memcheck must still report in user_error(). Exit status 0 when every
 * check passes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gc.h"
#include "keel_gc.h"
#include "scheme.h"

static int failures;

#define CHECK(cond)                                                  \
  do {                                                               \
    if (!(cond)) {                                                   \
      failures++;                                                    \
      printf("valgrind_probe: FAILED: %s (line %d)\n", #cond, __LINE__); \
    }                                                                \
  } while (0)

/* A singly linked list in bdwgc memory. */
struct node {
  struct node *next;
  long value;
};

/* The program's own bug: the malloc'd int is never written. Not inlined, so memcheck names
 * this function in its report; the compiler sees the bug too and is told it is deliberate. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
__attribute__((noinline)) static int user_error(void) {
  int *flag = malloc(sizeof *flag);
  int hit = 0;
  if (flag != NULL && *flag == 42) {
    printf("valgrind_probe: the flag is set\n");
    hit = 1;
  }
  free(flag);
  return hit;
}
#pragma GCC diagnostic pop

static Scheme_Object *count_down(int n) {
  Scheme_Object *l = scheme_null;
  for (int i = 0; i < n; i++) l = scheme_make_pair(scheme_make_integer(i), l);
  return l;
}

static int run(Scheme_Env *env, int argc, char **argv) {
  (void)env;
  /* Lists, most dropped at once, a few kept across collections. */
  Scheme_Object *kept = scheme_null;
  for (int round = 0; round < 12; round++) {
    Scheme_Object *l = count_down(3000);
    if (round % 4 == 0) kept = scheme_make_pair(l, kept);
    if (round % 3 == 0) scheme_collect_garbage();
  }
  CHECK(scheme_list_length(kept) == 3);
  for (Scheme_Object *k = kept; SCHEME_PAIRP(k); k = SCHEME_CDR(k)) {
    CHECK(scheme_list_length(SCHEME_CAR(k)) == 3000);
    CHECK(SCHEME_INT_VAL(SCHEME_CAR(SCHEME_CAR(k))) == 2999);
  }

  /* scheme_malloc blocks holding values, and a GC_malloc chain. */
  Scheme_Object **block = (Scheme_Object **)scheme_malloc(8 * sizeof(Scheme_Object *));
  block[0] = scheme_make_utf8_string("held by scheme_malloc");
  block[1] = count_down(3);
  struct node *chain = NULL;
  for (long i = 0; i < 500; i++) {
    struct node *n = GC_malloc(sizeof *n);
    n->next = chain;
    n->value = i;
    chain = n;
  }
  /* A record copied into scanned memory before all its fields were set: memcheck stays quiet
   * about the copy, and keel.supp keeps it quiet when the marker tests those words. */
  uintptr_t *record = malloc(4 * sizeof *record);
  if (record == NULL) return 1;
  record[0] = 7;
  memcpy(&block[4], record, 4 * sizeof *record);
  free(record);
  GC_gcollect();
  scheme_collect_garbage();
  long sum = 0;
  for (struct node *n = chain; n != NULL; n = n->next) sum += n->value;
  CHECK(sum == 500L * 499 / 2);
  CHECK(strcmp(scheme_display_to_string(block[0], NULL), "held by scheme_malloc") == 0);
  CHECK(strcmp(scheme_write_to_string(block[1], NULL), "(2 1 0)") == 0);

  /* Figures derived from the mark bits, printed as doubles: they must be defined. */
  keel_gc_stats s;
  keel_gc_get_stats(&s);
  CHECK(s.collections >= 5);
  printf("valgrind_probe: %llu collections, live %.2f MiB, heap %.2f MiB\n",
         (unsigned long long)s.collections, s.live_bytes / 1048576.0, s.heap_bytes / 1048576.0);

  if (argc > 1 && strcmp(argv[1], "user-error") == 0) {
    printf("valgrind_probe: user error read %d\n", user_error());
  }
  if (failures != 0) return 1;
  printf("valgrind_probe: OK\n");
  return 0;
}

int main(int argc, char **argv) { return scheme_main_setup(0, run, argc, argv); }
