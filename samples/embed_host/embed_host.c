/* embed_host.c: a host program that embeds Keel, built against keel-cgc. It builds an
 * association list from symbols to vectors of numbers (one a bignum) and to a string, prints
 * it, allocates enough garbage to force many collections, checks that the list is intact,
 * catches an error with the scheme_error_buf pattern, and reports the collector's figures
 * (keel_gc.h). Every result is checked; the exit status is 0 only when all checks pass. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keel_gc.h"
#include "scheme.h"

#ifdef MZ_PRECISE_GC
#error "this sample relies on conservative stack scanning (keel-cgc); under 3m its locals would need MZ_GC_* registration"
#endif

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

static Scheme_Object *vector_of(int n, Scheme_Object **items) {
  Scheme_Object *v = scheme_make_vector(n, scheme_false);
  for (int i = 0; i < n; i++) SCHEME_VEC_ELS(v)[i] = items[i];
  return v;
}

/* ((alpha . #(1 2 3 -7)) (beta . #(2.5 123456789012345678901234567890 -42))
 *  (greeting . "Hello, Keel")) */
static Scheme_Object *build_table(void) {
  Scheme_Object *alpha[4], *beta[3], *greeting, *table = scheme_null;

  alpha[0] = scheme_make_integer(1);
  alpha[1] = scheme_make_integer(2);
  alpha[2] = scheme_make_integer(3);
  alpha[3] = scheme_make_integer(-7);
  beta[0] = scheme_make_double(2.5);
  beta[1] = scheme_read_bignum_bytes(BIG_TEXT, 0, 10);
  beta[2] = scheme_make_integer_value(-42);
  greeting = scheme_append_char_string(scheme_make_utf8_string("Hello, "), scheme_make_utf8_string("Keel"));

  table = scheme_make_pair(scheme_make_pair(scheme_intern_symbol("greeting"), greeting), table);
  table = scheme_make_pair(scheme_make_pair(scheme_intern_symbol("beta"), vector_of(3, beta)), table);
  table = scheme_make_pair(scheme_make_pair(scheme_intern_symbol("alpha"), vector_of(4, alpha)), table);
  return table;
}

/* The value for key in an association list, or NULL. */
static Scheme_Object *lookup(Scheme_Object *alist, const char *key) {
  Scheme_Object *sym = scheme_intern_symbol(key);
  for (; SCHEME_PAIRP(alist); alist = SCHEME_CDR(alist)) {
    if (SAME_OBJ(SCHEME_CAR(SCHEME_CAR(alist)), sym)) return SCHEME_CDR(SCHEME_CAR(alist));
  }
  return NULL;
}

/* Allocates about `bytes` of vectors, pairs and strings that all become garbage. */
static void make_garbage(size_t bytes) {
  Scheme_Object *chain = scheme_null;
  size_t done = 0;
  for (int i = 0; done < bytes; i++) {
    chain = scheme_make_pair(scheme_make_vector(8, scheme_make_integer(i)), chain);
    chain = scheme_make_pair(scheme_make_utf8_string("short-lived"), chain);
    done += 200;
    if (i % 4096 == 0) chain = scheme_null;
  }
}

static void check_table(Scheme_Object *table, const char *when) {
  Scheme_Object *alpha = lookup(table, "alpha");
  Scheme_Object *beta = lookup(table, "beta");
  Scheme_Object *greeting = lookup(table, "greeting");

  CHECK(scheme_list_length(table) == 3, "%s: the table has %ld entries\n", when,
        (long)scheme_list_length(table));
  CHECK(alpha && SCHEME_VECTORP(alpha) && SCHEME_VEC_SIZE(alpha) == 4 &&
            SCHEME_INT_VAL(SCHEME_VEC_ELS(alpha)[3]) == -7,
        "%s: alpha is wrong\n", when);
  CHECK(beta && SCHEME_VECTORP(beta) && SCHEME_VEC_SIZE(beta) == 3, "%s: beta is wrong\n", when);
  if (beta && SCHEME_VECTORP(beta) && SCHEME_VEC_SIZE(beta) == 3) {
    Scheme_Object *big = SCHEME_VEC_ELS(beta)[1];
    CHECK(SCHEME_DBLP(SCHEME_VEC_ELS(beta)[0]) && SCHEME_DBL_VAL(SCHEME_VEC_ELS(beta)[0]) == 2.5,
          "%s: beta[0] is not 2.5\n", when);
    CHECK(SCHEME_BIGNUMP(big) && strcmp(scheme_bignum_to_string(big, 10), BIG_TEXT) == 0,
          "%s: beta[1] is not the bignum " BIG_TEXT "\n", when);
  }
  CHECK(greeting && SCHEME_CHAR_STRINGP(greeting) && SCHEME_CHAR_STRLEN_VAL(greeting) == 11 &&
            strcmp(scheme_display_to_string(greeting, NULL), "Hello, Keel") == 0,
        "%s: greeting is not \"Hello, Keel\"\n", when);
}

/* Raises an error inside a scheme_setjmp(scheme_error_buf) handler, as an embedding host
 * guards a call that can fail; returns 1 if the escape arrived with the expected message. */
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

static int run(Scheme_Env *env, int argc, char **argv) {
  Scheme_Object *table;
  char *before;
  keel_gc_stats s0, s;
  (void)argc;
  (void)argv;

  CHECK(env != NULL, "scheme_main_setup passed no environment\n");
  printf("embed_host: Keel collector variant %s\n", keel_gc_variant());
  keel_gc_get_stats(&s0);

  table = build_table();
  before = strdup(scheme_write_to_string(table, NULL)); /* a C copy, outside the heap */
  if (before == NULL) return 1;
  printf("embed_host: built %s\n", before);
  check_table(table, "before collecting");

  make_garbage((size_t)96 << 20);
  scheme_collect_garbage();
  keel_gc_get_stats(&s);
  printf("embed_host: allocated ~96 MiB of garbage: %llu collections so far\n",
         (unsigned long long)(s.collections - s0.collections));
  CHECK(s.collections >= s0.collections + 2, "expected several collections\n");

  {
    const char *after = scheme_write_to_string(table, NULL);
    printf("embed_host: after collecting %s\n", after);
    CHECK(strcmp(before, after) == 0, "the printed form changed across collections\n");
    CHECK(scheme_equal(table, build_table()), "the table is no longer equal? to a fresh copy\n");
    check_table(table, "after collecting");
  }
  free(before);

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
