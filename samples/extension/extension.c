/* extension.c: a native extension in the Racket BC style. The same source builds against
 * keel-cgc and keel-3m (-DMZ_PRECISE_GC; see embed_host.c for the MZ_GC_* registration rules).
 * It defines a new type, <sample-counter>, and hands counter objects to a C library
 * (registry.c) that keeps only opaque handles in malloc'd memory, where the collector never
 * looks. Each handle is an immobile box (scheme_malloc_immobile_box): the box is a root, so the
 * counter stays alive, and the box's address never changes, so the library can keep it, even
 * under 3m, where the counter itself moves and the box is updated to follow it. The sample
 * collects while only the library holds the handles, then has the library call back into every
 * counter, and checks that each one survived intact.
 *
 * Then it wraps foreign resources, pipes (two descriptors each, from pipe(2)), in C pointer
 * objects (scheme_make_cptr) with a finalizer that closes them, drops all but one, collects, and
 * checks with fcntl(F_GETFD) and /proc/self/fd that the finalizers closed the dropped pipes and
 * the kept one is still open. Exits 0 when every check passes. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "keel_gc.h"
#include "registry.h"
#include "scheme.h"

#define COUNTERS 16
#define PIPES 8 /* pipe 0 stays reachable; the other 7 are dropped for their finalizers to close */
#ifdef MZ_PRECISE_GC
#define PIPES_MAY_STAY_OPEN 0 /* 3m is precise: nothing but a registered root keeps an object */
#else
#define PIPES_MAY_STAY_OPEN 1 /* CGC: a stale stack or register word may keep one dropped object */
#endif

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

/* --- Finalizers that close foreign resources ------------------------------------------------ */

/* A pipe object is a C pointer object (scheme_make_cptr, a <cpointer> whose type tag is the
 * symbol sample-pipe) holding a malloc'd Sample_Pipe, which holds the pipe's two descriptors.
 * The object is their only owner: its finalizer, close_pipe, closes them and frees the struct. */
typedef struct Sample_Pipe {
  int fds[2]; /* read end, write end */
} Sample_Pipe;

/* What the sample observes, in static memory the collector ignores: the descriptors of each
 * pipe, and what its finalizer did. pipe_log[i] is also the finalizer's data for pipe i. */
static struct pipe_record {
  int opened;
  int fds[2];
  uintptr_t made_at; /* the object's address when made, inverted: the conservative scan ignores it */
  int moved;         /* the finalizer got another address: the object moved (3m) */
  int finalized;     /* how many times close_pipe ran for this pipe: 0 or 1 */
  int close_failed;  /* a close(2) that failed, or a finalizer that found no intact pipe object */
} pipe_log[PIPES];

/* The finalizer: p is the C pointer object at its current address (under 3m it may have moved
 * since it was made), data its pipe_log entry. It runs on this thread, after the collection
 * that found p unreachable and before the call that collected returns. */
static void close_pipe(void *p, void *data) {
  struct pipe_record *rec = data;
  Scheme_Object *tag = SCHEME_CPTRP((Scheme_Object *)p) ? SCHEME_CPTR_TYPE((Scheme_Object *)p) : NULL;
  Sample_Pipe *sp = tag ? SCHEME_CPTR_VAL((Scheme_Object *)p) : NULL;

  rec->finalized++;
  rec->moved = (uintptr_t)p != ~rec->made_at;
  if (!tag || !SCHEME_SYMBOLP(tag) || strcmp(SCHEME_SYM_VAL(tag), "sample-pipe") != 0 || !sp ||
      sp->fds[0] != rec->fds[0] || sp->fds[1] != rec->fds[1]) {
    rec->close_failed = 1;
    return;
  }
  if (close(sp->fds[0]) != 0) rec->close_failed = 1;
  if (close(sp->fds[1]) != 0) rec->close_failed = 1;
  free(sp);
  SCHEME_CPTR_VAL((Scheme_Object *)p) = NULL;
}

/* Opens PIPES pipes, each wrapped in a pipe object with close_pipe registered on it; only
 * pipe 0 is handed back, in *kept (a variable the caller registers). Returns how many were
 * opened. Not inlined, so the dropped objects' addresses stay in this dead frame, which later
 * calls overwrite, and not in the caller's. */
static __attribute__((noinline)) int open_pipes(Scheme_Object **kept) {
  Scheme_Object *tag = NULL, *obj = NULL;
  Sample_Pipe *sp;
  int n = 0;
  MZ_GC_DECL_REG(2);
  MZ_GC_VAR_IN_REG(0, tag);
  MZ_GC_VAR_IN_REG(1, obj);
  MZ_GC_REG();

  tag = scheme_intern_symbol("sample-pipe");
  for (; n < PIPES; n++) {
    sp = malloc(sizeof *sp);
    if (sp == NULL || pipe(sp->fds) != 0) {
      CHECK(0, "pipe %d: %s\n", n, sp ? strerror(errno) : "out of memory");
      free(sp);
      break;
    }
    pipe_log[n].opened = 1;
    pipe_log[n].fds[0] = sp->fds[0];
    pipe_log[n].fds[1] = sp->fds[1];
    obj = scheme_make_cptr(sp, tag);
    pipe_log[n].made_at = ~(uintptr_t)obj;
    scheme_register_finalizer(obj, close_pipe, &pipe_log[n], NULL, NULL);
    if (n == 0) *kept = obj;
  }
  obj = NULL;

  MZ_GC_UNREG();
  return n;
}

static int fd_is_open(int fd) { return fcntl(fd, F_GETFD) != -1; }
static int fd_is_closed(int fd) { return fcntl(fd, F_GETFD) == -1 && errno == EBADF; }

/* Entries in /proc/self/fd (the directory's own descriptor included, in every count alike), or
 * -1 where there is no /proc. */
static int count_fds(void) {
  DIR *dir = opendir("/proc/self/fd");
  struct dirent *e;
  int n = 0;
  if (dir == NULL) return -1;
  while ((e = readdir(dir)) != NULL) n += e->d_name[0] != '.';
  closedir(dir);
  return n;
}

/* A closed pipe's descriptor number may have been reused by a pipe opened after it closed (a
 * collection inside open_pipes can run finalizers); such a number is open again, legitimately. */
static int fd_reused(int fd) {
  for (int i = 0; i < PIPES; i++) {
    const struct pipe_record *r = &pipe_log[i];
    if (r->opened && !r->finalized && (r->fds[0] == fd || r->fds[1] == fd)) return 1;
  }
  return 0;
}

/* Checks the dropped pipes after the collections: each closed exactly once by its finalizer, its
 * descriptors gone (EBADF); returns how many dropped pipes are still open, and prints them. */
static int check_dropped_pipes(int opened, int rounds) {
  int closed = 0, moved = 0, open_now = 0;
  char list[256] = "";
  size_t used = 0;

  for (int i = 1; i < opened; i++) {
    struct pipe_record *r = &pipe_log[i];
    CHECK(r->finalized <= 1 && !r->close_failed, "pipe %d: finalized %d times, close failed: %d\n", i,
          r->finalized, r->close_failed);
    if (r->finalized) {
      for (int end = 0; end < 2; end++) {
        CHECK(fd_is_closed(r->fds[end]) || fd_reused(r->fds[end]),
              "pipe %d: its finalizer ran, yet fd %d is still open\n", i, r->fds[end]);
      }
      closed++;
      moved += r->moved;
      used += (size_t)snprintf(list + used, sizeof list - used, "%s%d+%d", closed > 1 ? " " : "", r->fds[0],
                               r->fds[1]);
      if (used >= sizeof list) used = sizeof list - 1;
    } else {
      open_now++;
      CHECK(fd_is_open(r->fds[0]) && fd_is_open(r->fds[1]), "pipe %d: not finalized, yet closed\n", i);
      printf("extension: dropped pipe %d (fds %d, %d) is still open: something still reaches its object%s\n",
             i, r->fds[0], r->fds[1],
             PIPES_MAY_STAY_OPEN ? " (for the conservative scan, a stale copy of its address on the stack "
                                   "or in a register)"
                                 : "");
    }
  }
  printf("extension: after %d collection(s) the finalizers closed %d of the %d dropped pipes (fds %s); "
         "fcntl(F_GETFD) fails with EBADF on each of their %d descriptors\n",
         rounds, closed, opened - 1, list, 2 * closed);
  printf("extension: %d of those %d objects had moved since they were made; each finalizer got the current "
         "address\n",
         moved, closed);
  return open_now;
}

/* The kept pipe is open and works: a byte written into it reads back. */
static void check_kept_pipe(Scheme_Object *kept) {
  Sample_Pipe *sp = SCHEME_CPTRP(kept) ? SCHEME_CPTR_VAL(kept) : NULL;
  char in = 0;

  CHECK(pipe_log[0].finalized == 0, "the kept pipe was finalized while reachable\n");
  CHECK(sp && sp->fds[0] == pipe_log[0].fds[0] && sp->fds[1] == pipe_log[0].fds[1],
        "the kept pipe object does not hold pipe 0 any more\n");
  if (sp == NULL) return;
  CHECK(fd_is_open(sp->fds[0]) && fd_is_open(sp->fds[1]), "the kept pipe's descriptors are closed\n");
  CHECK(write(sp->fds[1], "k", 1) == 1 && read(sp->fds[0], &in, 1) == 1 && in == 'k',
        "the kept pipe does not carry a byte: %s\n", strerror(errno));
  printf("extension: the kept pipe (fds %d, %d) is still open: fcntl(F_GETFD) succeeds on both and a byte "
         "written into it reads back\n",
         sp->fds[0], sp->fds[1]);
}

/* Opens PIPES pipes owned by pipe objects, keeps pipe 0, drops the others and collects
 * (up to 3 times, until every dropped one is finalized). Every dropped pipe must be closed under
 * 3m; under CGC PIPES_MAY_STAY_OPEN may stay open. Then closes the kept pipe by hand, taking its
 * finalizer back first, so that a later collection cannot close its numbers a second time. */
static void check_finalizers(void) {
  Scheme_Object *kept = NULL;
  void (*oldf)(void *p, void *data) = NULL;
  void *olddata = NULL;
  int fds_before, fds_after, opened, rounds = 0, open_now;
  MZ_GC_DECL_REG(1);
  MZ_GC_VAR_IN_REG(0, kept);
  MZ_GC_REG();

  fds_before = count_fds();
  opened = open_pipes(&kept);
  if (opened < 2 || kept == NULL) {
    MZ_GC_UNREG();
    return;
  }
  printf("extension: opened %d pipes, each owned by a <cpointer> with a finalizer that closes it; "
         "pipe 0 (fds %d, %d) stays reachable, %d are dropped\n",
         opened, pipe_log[0].fds[0], pipe_log[0].fds[1], opened - 1);

  do {
    scheme_collect_garbage();
    rounds++;
    open_now = 0;
    for (int i = 1; i < opened; i++) open_now += !pipe_log[i].finalized;
  } while (open_now > 0 && rounds < 3);
  open_now = check_dropped_pipes(opened, rounds);
  CHECK(open_now <= PIPES_MAY_STAY_OPEN,
        "%d dropped pipe(s) still open after %d collections (at most %d allowed)\n", open_now, rounds,
        PIPES_MAY_STAY_OPEN);
  check_kept_pipe(kept);

  fds_after = count_fds();
  if (fds_before >= 0) {
    printf("extension: /proc/self/fd has %d entries, %d before the pipes were opened\n", fds_after,
           fds_before);
    CHECK(fds_after == fds_before + 2 + 2 * open_now, "expected %d entries in /proc/self/fd\n",
          fds_before + 2 + 2 * open_now);
  }

  scheme_register_finalizer(kept, NULL, NULL, &oldf, &olddata);
  CHECK(oldf == close_pipe && olddata == &pipe_log[0],
        "scheme_register_finalizer gave back another finalizer\n");
  if (oldf) oldf(kept, olddata);
  kept = NULL;
  CHECK(fd_is_closed(pipe_log[0].fds[0]) && fd_is_closed(pipe_log[0].fds[1]),
        "the kept pipe did not close\n");
  scheme_collect_garbage();
  CHECK(pipe_log[0].finalized == 1, "the kept pipe's finalizer ran %d times\n", pipe_log[0].finalized);
  printf("extension: closed the kept pipe by hand: scheme_register_finalizer(kept, NULL, ...) gave back its "
         "finalizer, called once; the collection after did not call it again\n");
  if (fds_before >= 0) {
    fds_after = count_fds();
    printf("extension: /proc/self/fd has %d entries (%d before the pipes were opened)\n", fds_after,
           fds_before);
    CHECK(fds_after == fds_before + 2 * open_now, "expected %d entries in /proc/self/fd\n",
          fds_before + 2 * open_now);
  }

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

  check_finalizers();

  if (failures) {
    printf("extension: %d check(s) FAILED\n", failures);
    return 1;
  }
  printf("extension: OK\n");
  return 0;
}

int main(int argc, char **argv) { return scheme_main_setup(0, run, argc, argv); }
