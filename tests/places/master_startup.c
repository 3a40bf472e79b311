/* master_startup.c: the master collector's start-up rules (keel_places.h; Inside Racket §5.1.5),
 * in a process of its own, built against each variant. scheme_main_stack_setup makes the main
 * thread's collector the master; what is allocated before scheme_basic_env returns lives in the
 * master heap, and a static registered then is a master root; places and shared memory wait for
 * scheme_basic_env; after it the initial place allocates in a heap of its own, and the early
 * objects outlive the initial place's collections and master collections. Exit status: the number
 * of failed checks. */
#include <stdio.h>
#include <string.h>

#include "keel_gc.h"
#include "keel_places.h"
#include "scheme.h"

#define EARLY_BYTES (1 << 20)

static Scheme_Object *early; /* registered before scheme_basic_env */
static int failures;

static void check(int ok, const char *what) {
  if (!ok) {
    fprintf(stderr, "master_startup: FAILED: %s\n", what);
    ++failures;
  }
}

/* 1 when fn escapes (scheme_signal_error). */
static int escapes(void (*fn)(void)) {
  mz_jmp_buf *volatile save = scheme_current_thread->error_buf;
  mz_jmp_buf fresh;
  volatile int escaped = 0;
  scheme_current_thread->error_buf = &fresh;
  if (scheme_setjmp(scheme_error_buf)) {
    escaped = 1;
  } else {
    fn();
  }
  scheme_current_thread->error_buf = save;
  return escaped;
}

static void echo_main(Scheme_Object *ch) {
  Scheme_Object *msg = NULL;
  MZ_GC_DECL_REG(2);
  MZ_GC_VAR_IN_REG(0, ch);
  MZ_GC_VAR_IN_REG(1, msg);
  MZ_GC_REG();
  msg = keel_place_channel_get(ch);
  keel_place_channel_put(ch, msg);
  MZ_GC_UNREG();
}

static void start_place(void) { keel_place_create(echo_main, NULL); }
static void allocate_shared(void) { scheme_alloc_shared_byte_string(8, 'x'); }
static void collect_master(void) { keel_place_collect_master(); }
static void add_gc_callback(void) {
  Scheme_Object *empty = scheme_make_vector(0, scheme_false);
  scheme_add_gc_callback(empty, empty);
}

static int early_intact(void) {
  Scheme_Object *bytes;
  intptr_t i;
  if (!SCHEME_PAIRP(early) || SCHEME_CAR(early) != scheme_make_integer(42)) return 0;
  bytes = SCHEME_CDR(early);
  if (!SCHEME_BYTE_STRINGP(bytes) || SCHEME_BYTE_STRLEN_VAL(bytes) != EARLY_BYTES) return 0;
  for (i = 0; i < EARLY_BYTES; ++i) {
    if (SCHEME_BYTE_STR_VAL(bytes)[i] != (char)(i * 7)) return 0;
  }
  return 1;
}

static int body(void *data) {
  Scheme_Object *bytes = NULL, *place = NULL, *shared = NULL, *back = NULL;
  keel_gc_stats master, initial;
  intptr_t i;
  int round;
  MZ_GC_DECL_REG(4);
  (void)data;
  MZ_GC_VAR_IN_REG(0, bytes);
  MZ_GC_VAR_IN_REG(1, place);
  MZ_GC_VAR_IN_REG(2, shared);
  MZ_GC_VAR_IN_REG(3, back);
  MZ_GC_REG();

  /* Before scheme_basic_env: the master collector serves this thread. */
  scheme_register_static(&early, sizeof early);
  bytes = scheme_alloc_byte_string(EARLY_BYTES, 0);
  for (i = 0; i < EARLY_BYTES; ++i) SCHEME_BYTE_STR_VAL(bytes)[i] = (char)(i * 7);
  early = scheme_make_pair(scheme_make_integer(42), bytes);
  bytes = NULL;
  scheme_collect_garbage();
  check(early_intact(), "an early object survives the master's collection as the thread's collector");
  check(escapes(start_place), "keel_place_create before scheme_basic_env is an error");
  check(escapes(allocate_shared), "shared memory before scheme_basic_env is an error");
  check(escapes(collect_master), "a master collection before scheme_basic_env is an error");
  check(escapes(add_gc_callback), "a GC callback before scheme_basic_env is an error");
  check(strstr(keel_last_error_message(), "served by the master collector") != NULL,
        "the GC callback error says why");

  check(scheme_basic_env() != NULL, "scheme_basic_env returns the namespace");

  /* The initial place allocates in a heap of its own; the early objects are the master's. */
  keel_place_master_stats(&master);
  check(master.live_bytes >= EARLY_BYTES, "the early objects are in the master heap");
  for (round = 0; round < 3; ++round) {
    bytes = scheme_alloc_byte_string(1 << 16, 'p');
    scheme_collect_garbage();
  }
  keel_gc_get_stats(&initial);
  check(initial.live_bytes < EARLY_BYTES, "the initial place's heap does not hold the early objects");
  for (round = 0; round < 2; ++round) {
    keel_place_collect_master();
    shared = scheme_alloc_shared_byte_string(EARLY_BYTES, 'm'); /* would reuse freed master memory */
  }
  check(early_intact(), "an early object, held by a static registered before scheme_basic_env, survives");
  keel_place_master_stats(&master);
  check(master.collections >= 3, "master collections ran (the switch's and two forced)");

  /* Places start now, and shared objects travel by reference. */
  place = keel_place_create(echo_main, NULL);
  shared = scheme_alloc_shared_byte_string(16, 's');
  keel_place_channel_put(place, shared);
  back = keel_place_channel_get(place);
  check(back == shared, "a shared byte string comes back as the same object");
  check(keel_place_wait(place) == 0, "the place ends with 0");

  MZ_GC_UNREG();
  return failures;
}

int main(void) {
  int result = scheme_main_stack_setup(1, body, NULL);
  if (result == 0) printf("master_startup: all checks passed (%s)\n", keel_gc_variant());
  return result;
}
