/* extension.c: a native extension in the Racket BC style. The same source builds against
 * keel-cgc and keel-3m (-DMZ_PRECISE_GC; see embed_host.c for the MZ_GC_* registration rules).
 * It defines a new type, <sample-counter>, and hands counter objects to a C library
 * (registry.c) that keeps only opaque handles in malloc'd memory, where the collector never
 * looks. Each handle is an immobile box (scheme_malloc_immobile_box): the box is a root, so the
 * counter stays alive, and the box's address never changes, so the library can keep it, even
 * under 3m, where the counter itself moves and the box is updated to follow it. The sample
 * collects while only the library holds the handles, then has the library call back into every
 * counter, and checks that each one survived intact. Exits 0 when every check passes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keel_gc.h"
#include "registry.h"
#include "scheme.h"

#define COUNTERS 16

/* A <sample-counter>: the standard header first, then the extension's own fields. */
typedef struct Sample_Counter {
  Scheme_Object so; /* so.type is counter_type */
  intptr_t id;
  intptr_t hits;
  Scheme_Object *label; /* a Scheme string, kept alive through this object */
} Sample_Counter;

static Scheme_Type counter_type;
static int failures;

#define CHECK(cond, ...)                    \
  do {                                      \
    if (!(cond)) {                          \
      failures++;                           \
      printf("extension: FAILED: ");        \
      printf(__VA_ARGS__);                  \
      printf("  [%s]\n", #cond);            \
    }                                       \
  } while (0)

#ifdef MZ_PRECISE_GC
/* 3m traces a tagged object through the procedures registered for its tag (Inside Racket
 * 5.1.1): its size in words, and every pointer field given to gcMARK and gcFIXUP. CGC scans
 * tagged objects conservatively and needs none of this. */
static int counter_size(void *p) {
  (void)p; /* every counter has the same size */
  return gcBYTES_TO_WORDS(sizeof(Sample_Counter));
}
static int counter_mark(void *p) {
  Sample_Counter *c = (Sample_Counter *)p;
  gcMARK(c->label);
  return counter_size(p);
}
static int counter_fixup(void *p) {
  Sample_Counter *c = (Sample_Counter *)p;
  gcFIXUP(c->label);
  return counter_size(p);
}
#endif

/* The label is allocated first and registered across the counter's allocation; the fresh
 * counter gets its tag at once, before anything else can collect. */
static Scheme_Object *make_counter(intptr_t id) {
  char text[32];
  Scheme_Object *label = NULL;
  Sample_Counter *c;
  MZ_GC_DECL_REG(1);
  MZ_GC_VAR_IN_REG(0, label);
  MZ_GC_REG();

  snprintf(text, sizeof text, "counter-%ld", (long)id);
  label = scheme_make_utf8_string(text);
  c = (Sample_Counter *)scheme_malloc_tagged(sizeof(Sample_Counter));
  c->so.type = counter_type;
  c->id = id;
  c->hits = 0;
  c->label = label;

  MZ_GC_UNREG();
  return (Scheme_Object *)c;
}

/* Creates the counters and gives the library one immobile box for each. No pointer to a
 * counter outlives this function except inside the boxes. */
static void hand_counters_to_library(int ids[COUNTERS]) {
  for (int i = 0; i < COUNTERS; i++) {
    void **box = scheme_malloc_immobile_box(make_counter(i));
    ids[i] = registry_add(box);
    CHECK(ids[i] >= 0, "registry_add failed for counter %d\n", i);
  }
}

/* Allocates about `bytes` of short-lived pairs and strings; none of it stays reachable. */
static void make_garbage(size_t bytes) {
  Scheme_Object *list = scheme_null, *item;
  MZ_GC_DECL_REG(1);
  MZ_GC_VAR_IN_REG(0, list);
  MZ_GC_REG();

  for (size_t done = 0; done < bytes; done += 64) {
    item = scheme_make_utf8_string("garbage"); /* not make_pair(make_string(), list) */
    list = scheme_make_pair(item, list);
    if ((done & 0xffff) == 0) list = scheme_null;
  }

  MZ_GC_UNREG();
}

/* The library's callback: the handle is the box; the counter is what the box holds now. c is
 * registered because scheme_display_to_string allocates and c is used after it. */
static void bump(void *handle, void *user_data) {
  int *seen = user_data;
  Sample_Counter *c = *(Sample_Counter **)handle;
  char expected[32];
  intptr_t len = 0;
  char *label;
  MZ_GC_DECL_REG(1);
  MZ_GC_VAR_IN_REG(0, c);
  MZ_GC_REG();

  CHECK(SCHEME_OBJ_TYPEP((Scheme_Object *)c, counter_type), "box %p does not hold a <sample-counter>\n",
        handle);
  if (failures) {
    MZ_GC_UNREG();
    return;
  }
  snprintf(expected, sizeof expected, "counter-%ld", (long)c->id);
  label = scheme_display_to_string(c->label, &len); /* in the heap: used before the next allocation */
  CHECK(SCHEME_CHAR_STRINGP(c->label) && strcmp(label, expected) == 0,
        "counter %ld has label \"%s\", expected \"%s\"\n", (long)c->id, label, expected);
  c->hits++;
  (*seen)++;

  MZ_GC_UNREG();
}

/* extension [MiB]: MiB is how much garbage to allocate (default 32; a GC-stress run,
 * KEEL_GC_STRESS=1, collects at every allocation and needs far less: 0.25). */
static int run(Scheme_Env *env, int argc, char **argv) {
  int ids[COUNTERS];
  int seen = 0;
  double garbage_mib = argc > 1 ? strtod(argv[1], NULL) : 32;
  keel_gc_stats before, after;
  const char *name;
  (void)env;

  counter_type = scheme_make_type("<sample-counter>");
#ifdef MZ_PRECISE_GC
  /* Before the first counter exists. */
  GC_register_traversers(counter_type, counter_size, counter_mark, counter_fixup, 1, 0);
#endif
  name = scheme_get_type_name(counter_type);
  printf("extension: new type %d named %s\n", (int)counter_type, name ? name : "(null)");
  CHECK(counter_type >= _scheme_last_type_, "scheme_make_type gave a standard tag (%d)\n", (int)counter_type);
  CHECK(name != NULL && strcmp(name, "<sample-counter>") == 0,
        "scheme_get_type_name does not give the name back\n");

  hand_counters_to_library(ids);
  printf("extension: the registry holds %zu handles (immobile boxes), in malloc'd memory\n",
         registry_count());

  keel_gc_get_stats(&before);
  make_garbage((size_t)(garbage_mib * 1024 * 1024));
  scheme_collect_garbage();
  scheme_collect_garbage();
  keel_gc_get_stats(&after);
  printf("extension: allocated ~%g MiB of garbage; %llu collections ran meanwhile\n", garbage_mib,
         (unsigned long long)(after.collections - before.collections));
  CHECK(after.collections >= before.collections + 2, "expected at least 2 collections\n");

  registry_for_each(bump, &seen);
  registry_for_each(bump, &seen);
  printf("extension: the library called back %d times; every counter was reachable and intact\n", seen);
  CHECK(seen == 2 * COUNTERS, "expected %d callbacks, got %d\n", 2 * COUNTERS, seen);

  for (int i = 0; i < COUNTERS && !failures; i++) {
    void **box = registry_remove(ids[i]);
    Sample_Counter *c = (Sample_Counter *)*box;
    CHECK(c->id == i && c->hits == 2, "counter %d: id %ld, hits %ld (expected %d, 2)\n", i,
          (long)c->id, (long)c->hits, i);
    if (i == 0) printf("extension: counter 0 prints as %s\n", scheme_write_to_string(*box, NULL));
    scheme_free_immobile_box(box);
  }
  CHECK(registry_count() == 0, "the registry still holds %zu handles\n", registry_count());
  registry_shutdown();
  scheme_collect_garbage();
  keel_gc_get_stats(&after);
  printf("extension: freed the boxes; the counters are garbage now (%llu collections in all)\n",
         (unsigned long long)after.collections);

  if (failures) {
    printf("extension: %d check(s) FAILED\n", failures);
    return 1;
  }
  printf("extension: OK\n");
  return 0;
}

int main(int argc, char **argv) { return scheme_main_setup(0, run, argc, argv); }
