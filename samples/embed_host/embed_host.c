/* embed_host.c: a host program that embeds Keel. The same source builds against keel-cgc
 * (conservative: the collector finds local variables on the stack) and keel-3m (precise and
 * moving, compiled with -DMZ_PRECISE_GC). It builds an association list from symbols to vectors
 * of numbers (one a bignum) and to a string, prints it, allocates enough garbage to force many
 * collections, checks that the list is intact, catches an error with the scheme_error_buf
 * pattern, and reports the collector's figures (keel_gc.h). Every result is checked; the exit
 * status is 0 only when all checks pass.
 *
 * For 3m, every function follows Inside Racket 5.1.2 (the MZ_GC_* macros expand to nothing in
 * CGC). A collection may run inside any call that allocates, and it moves objects:
 *  - a local or argument holding a collectable pointer that is used again after such a call is
 *    registered: MZ_GC_DECL_REG, one MZ_GC_VAR_IN_REG per variable (MZ_GC_ARRAY_VAR_IN_REG and
 *    three slots per array), MZ_GC_REG, and MZ_GC_UNREG before every return. Registered
 *    variables hold NULL, a fixnum or an object whenever a collection may run;
 *  - one allocation's result never waits in a temporary while another allocation runs:
 *    f(g(), h()) and p->field = g() become statements that store each result in a variable;
 *  - SCHEME_VEC_ELS and the C strings Keel returns (scheme_write_to_string, ...) point into
 *    objects: use them before the next allocation, never after it. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keel_gc.h"
#include "scheme.h"

#define BIG_TEXT "123456789012345678901234567890"

static int failures;

#define CHECK(cond, ...)                 \
  do {                                   \
    if (!(cond)) {                       \
      failures++;                        \
      printf("embed_host: FAILED: ");    \
      printf(__VA_ARGS__);               \
      printf("  [%s]\n", #cond);         \
    }                                    \
  } while (0)

/* A vector of items[0..n-1] (an array the caller registers). Nothing is allocated after the
 * vector, so no local needs registering. */
static Scheme_Object *vector_of(int n, Scheme_Object **items) {
  Scheme_Object *v = scheme_make_vector(n, scheme_false);
  for (int i = 0; i < n; i++) SCHEME_VEC_ELS(v)[i] = items[i];
  return v;
}

/* (cons (cons key value) table). Both arguments are used after the symbol's allocation, so
 * both are registered; entry only carries each result into the next call. */
static Scheme_Object *add_entry(Scheme_Object *table, const char *key, Scheme_Object *value) {
  Scheme_Object *entry;
  MZ_GC_DECL_REG(2);
  MZ_GC_VAR_IN_REG(0, table);
  MZ_GC_VAR_IN_REG(1, value);
  MZ_GC_REG();

  entry = scheme_intern_symbol(key);
  entry = scheme_make_pair(entry, value);
  table = scheme_make_pair(entry, table);

  MZ_GC_UNREG();
  return table;
}

/* ((alpha . #(1 2 3 -7)) (beta . #(2.5 123456789012345678901234567890 -42))
 *  (greeting . "Hello, Keel")) */
static Scheme_Object *build_table(void) {
  Scheme_Object *alpha[4]; /* fixnums only: they are not pointers and need no registration */
  Scheme_Object *beta[3] = {NULL, NULL, NULL};
  Scheme_Object *hello = NULL, *value, *table = NULL;
  MZ_GC_DECL_REG(5);
  MZ_GC_ARRAY_VAR_IN_REG(0, beta, 3);
  MZ_GC_VAR_IN_REG(3, hello);
  MZ_GC_VAR_IN_REG(4, table);
  MZ_GC_REG();

  alpha[0] = scheme_make_integer(1);
  alpha[1] = scheme_make_integer(2);
  alpha[2] = scheme_make_integer(3);
  alpha[3] = scheme_make_integer(-7);
  beta[0] = scheme_make_double(2.5);
  beta[1] = scheme_read_bignum_bytes(BIG_TEXT, 0, 10);
  beta[2] = scheme_make_integer_value(-42);
  hello = scheme_make_utf8_string("Hello, ");
  value = scheme_make_utf8_string("Keel");
  value = scheme_append_char_string(hello, value);

  table = add_entry(scheme_null, "greeting", value);
  value = vector_of(3, beta);
  table = add_entry(table, "beta", value);
  value = vector_of(4, alpha);
  table = add_entry(table, "alpha", value);

  MZ_GC_UNREG();
  return table;
}

/* The value for key in an association list, or NULL. Only the symbol's allocation needs alist
 * registered; the loop allocates nothing. */
static Scheme_Object *lookup(Scheme_Object *alist, const char *key) {
  Scheme_Object *sym;
  MZ_GC_DECL_REG(1);
  MZ_GC_VAR_IN_REG(0, alist);
  MZ_GC_REG();
  sym = scheme_intern_symbol(key);
  MZ_GC_UNREG();

  for (; SCHEME_PAIRP(alist); alist = SCHEME_CDR(alist)) {
    if (SAME_OBJ(SCHEME_CAR(SCHEME_CAR(alist)), sym)) return SCHEME_CDR(SCHEME_CAR(alist));
  }
  return NULL;
}

/* Allocates about `bytes` of vectors, pairs and strings that all become garbage. */
static void make_garbage(size_t bytes) {
  Scheme_Object *chain = scheme_null, *item;
  size_t done = 0;
  MZ_GC_DECL_REG(1);
  MZ_GC_VAR_IN_REG(0, chain);
  MZ_GC_REG();

  for (int i = 0; done < bytes; i++) {
    item = scheme_make_vector(8, scheme_make_integer(i));
    chain = scheme_make_pair(item, chain);
    item = scheme_make_utf8_string("short-lived");
    chain = scheme_make_pair(item, chain);
    done += 200;
    if (i % 4096 == 0) chain = scheme_null;
  }

  MZ_GC_UNREG();
}

static void check_table(Scheme_Object *table, const char *when) {
  Scheme_Object *alpha = NULL, *beta = NULL, *greeting = NULL;
  MZ_GC_DECL_REG(4);
  MZ_GC_VAR_IN_REG(0, table);
  MZ_GC_VAR_IN_REG(1, alpha);
  MZ_GC_VAR_IN_REG(2, beta);
  MZ_GC_VAR_IN_REG(3, greeting);
  MZ_GC_REG();

  alpha = lookup(table, "alpha");
  beta = lookup(table, "beta");
  greeting = lookup(table, "greeting");

  CHECK(scheme_list_length(table) == 3, "%s: the table has %ld entries\n", when,
        (long)scheme_list_length(table));
  CHECK(alpha && SCHEME_VECTORP(alpha) && SCHEME_VEC_SIZE(alpha) == 4 &&
            SCHEME_INT_VAL(SCHEME_VEC_ELS(alpha)[3]) == -7,
        "%s: alpha is wrong\n", when);
  CHECK(beta && SCHEME_VECTORP(beta) && SCHEME_VEC_SIZE(beta) == 3, "%s: beta is wrong\n", when);
  if (beta && SCHEME_VECTORP(beta) && SCHEME_VEC_SIZE(beta) == 3) {
    Scheme_Object *big = SCHEME_VEC_ELS(beta)[1]; /* its last use is the allocating call */
    CHECK(SCHEME_DBLP(SCHEME_VEC_ELS(beta)[0]) && SCHEME_DBL_VAL(SCHEME_VEC_ELS(beta)[0]) == 2.5,
          "%s: beta[0] is not 2.5\n", when);
    CHECK(SCHEME_BIGNUMP(big) && strcmp(scheme_bignum_to_string(big, 10), BIG_TEXT) == 0,
          "%s: beta[1] is not the bignum " BIG_TEXT "\n", when);
  }
  CHECK(greeting && SCHEME_CHAR_STRINGP(greeting) && SCHEME_CHAR_STRLEN_VAL(greeting) == 11 &&
            strcmp(scheme_display_to_string(greeting, NULL), "Hello, Keel") == 0,
        "%s: greeting is not \"Hello, Keel\"\n", when);

  MZ_GC_UNREG();
}

/* Raises an error inside a scheme_setjmp(scheme_error_buf) handler, as an embedding host
 * guards a call that can fail; returns 1 if the escape arrived with the expected message. An
 * escape needs no MZ_GC_UNREG: scheme_setjmp records the frame chain and the escape restores it. */
static int catch_an_error(void) {
  mz_jmp_buf *volatile save, fresh;
  volatile int caught = 0;

  save = scheme_current_thread->error_buf;
  scheme_current_thread->error_buf = &fresh;
  if (scheme_setjmp(scheme_error_buf)) {
    caught = 1;
  } else {
    scheme_signal_error("embed_host: %s is not a %s (%d)", "alpha", "number", 42);
  }
  scheme_current_thread->error_buf = save;

  if (!caught) return 0;
  printf("embed_host: caught the error: %s\n", keel_last_error_message());
  return strstr(keel_last_error_message(), "alpha is not a number (42)") != NULL;
}

static double ms(uint64_t ns) { return (double)ns / 1e6; }
static double mib(uint64_t bytes) { return (double)bytes / (1024.0 * 1024.0); }

/* embed_host [MiB]: MiB is how much garbage to allocate (default 96; a GC-stress run,
 * KEEL_GC_STRESS=1, collects at every allocation and needs far less: 0.25). */
static int run(Scheme_Env *env, int argc, char **argv) {
  Scheme_Object *table = NULL, *copy;
  char *before;
  const char *after;
  double garbage_mib = argc > 1 ? strtod(argv[1], NULL) : 96;
  keel_gc_stats s0, s;
  MZ_GC_DECL_REG(1);
  MZ_GC_VAR_IN_REG(0, table);
  MZ_GC_REG();

  CHECK(env != NULL, "scheme_main_setup passed no environment\n"); /* env: not used again */
  printf("embed_host: Keel collector variant %s\n", keel_gc_variant());
  keel_gc_get_stats(&s0);

  table = build_table();
  before = strdup(scheme_write_to_string(table, NULL)); /* a C copy, outside the heap */
  if (before == NULL) {
    MZ_GC_UNREG(); /* every return unregisters, including this one */
    return 1;
  }
  printf("embed_host: built %s\n", before);
  check_table(table, "before collecting");

  make_garbage((size_t)(garbage_mib * 1024 * 1024));
  scheme_collect_garbage();
  keel_gc_get_stats(&s);
  printf("embed_host: allocated ~%g MiB of garbage: %llu collections so far\n", garbage_mib,
         (unsigned long long)(s.collections - s0.collections));
  if (garbage_mib >= 32) CHECK(s.collections >= s0.collections + 2, "expected several collections\n");

  after = scheme_write_to_string(table, NULL); /* in the heap: used before the next allocation */
  printf("embed_host: after collecting %s\n", after);
  CHECK(strcmp(before, after) == 0, "the printed form changed across collections\n");
  free(before);
  copy = build_table(); /* not scheme_equal(table, build_table()): table could be read first */
  CHECK(scheme_equal(table, copy), "the table is no longer equal? to a fresh copy\n");
  check_table(table, "after collecting");
  MZ_GC_UNREG(); /* table is not used again; nothing below needs a frame */

  CHECK(catch_an_error(), "scheme_signal_error did not escape to the handler as expected\n");

  keel_gc_get_stats(&s);
  printf("embed_host: collections %llu (minor %llu, major %llu)\n", (unsigned long long)s.collections,
         (unsigned long long)s.minor_collections, (unsigned long long)s.major_collections);
  printf("embed_host: pauses total %.2f ms, max %.2f ms, p50 %.3f ms, p99 %.3f ms\n",
         ms(s.total_pause_ns), ms(s.max_pause_ns), ms(keel_gc_pause_percentile_ns(50)),
         ms(keel_gc_pause_percentile_ns(99)));
  printf("embed_host: heap %.1f MiB (peak %.1f MiB), live %.2f MiB (peak %.2f MiB), allocated %.1f MiB\n",
         mib(s.heap_bytes), mib(s.peak_heap_bytes), mib(s.live_bytes), mib(s.peak_live_bytes),
         mib(s.total_allocated_bytes));
  CHECK(s.peak_live_bytes > 0 && s.heap_bytes >= s.live_bytes && s.peak_heap_bytes >= s.heap_bytes,
        "heap and live figures are inconsistent\n");
  CHECK(keel_gc_record_count() > 0, "no collection records kept\n");

  if (failures) {
    printf("embed_host: %d check(s) FAILED\n", failures);
    return 1;
  }
  printf("embed_host: OK\n");
  return 0;
}

int main(int argc, char **argv) { return scheme_main_setup(0, run, argc, argv); }
