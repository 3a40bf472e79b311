/* mandelbrot.c: a Keel program that works in parallel with places (keel_places.h). The image is
 * one shared byte string in the master heap; each place gets a band of rows over its channel,
 * writes the escape counts of its pixels straight into the shared image, keeps a list of its
 * band's values as flonums on the way (its own heap's data, so that each place's collector has
 * work), and answers with how many of its points lie in the set, their mean escape value from the
 * list, and its collector's figures. The main
 * thread, the initial place, prints them, the master collector's, and a checksum that the
 * sequential computation must match.
 *
 *   mandelbrot [scale]   image of (640 x 480) * scale pixels (default 1), 4 places
 *
 * Built twice from this one source: mandelbrot_cgc and mandelbrot_3m (MZ_PRECISE_GC, where the
 * MZ_GC_* registrations below are in force). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keel_gc.h"
#include "keel_places.h"
#include "scheme.h"

#define PLACES 4
#define MAX_ITER 200

static int escape_count(int x, int y, int width, int height) {
  double cr = -2.2 + 3.2 * x / width, ci = -1.2 + 2.4 * y / height;
  double zr = 0, zi = 0;
  int n = 0;
  while (n < MAX_ITER && zr * zr + zi * zi <= 4.0) {
    double t = zr * zr - zi * zi + cr;
    zi = 2 * zr * zi + ci;
    zr = t;
    ++n;
  }
  return n;
}

/* A place: gets #(image width height first-row end-row), fills its rows, answers
 * #(inside collections minor-collections allocated-bytes live-bytes mean-escape). */
static void band_main(Scheme_Object *ch) {
  Scheme_Object *job = NULL, *image = NULL, *values = NULL, *reply = NULL;
  keel_gc_stats stats;
  intptr_t inside = 0, count = 0;
  double sum = 0;
  int width, height, first, end, x, y;
  MZ_GC_DECL_REG(5);
  MZ_GC_VAR_IN_REG(0, ch);
  MZ_GC_VAR_IN_REG(1, job);
  MZ_GC_VAR_IN_REG(2, image);
  MZ_GC_VAR_IN_REG(3, values);
  MZ_GC_VAR_IN_REG(4, reply);
  MZ_GC_REG();

  job = keel_place_channel_get(ch);
  image = SCHEME_VEC_ELS(job)[0];
  width = (int)SCHEME_INT_VAL(SCHEME_VEC_ELS(job)[1]);
  height = (int)SCHEME_INT_VAL(SCHEME_VEC_ELS(job)[2]);
  first = (int)SCHEME_INT_VAL(SCHEME_VEC_ELS(job)[3]);
  end = (int)SCHEME_INT_VAL(SCHEME_VEC_ELS(job)[4]);
  values = scheme_null;
  for (y = first; y < end; ++y) {
    for (x = 0; x < width; ++x) {
      int n = escape_count(x, y, width, height);
      SCHEME_BYTE_STR_VAL(image)[(intptr_t)y * width + x] = (char)n; /* the shared image */
      if (n == MAX_ITER) ++inside;
      /* Made before `values` is read: an allocation may move it (3m), and C leaves the order
       * in which a call's arguments are evaluated open. */
      Scheme_Object *value = scheme_make_double(n / (double)MAX_ITER);
      values = scheme_make_pair(value, values);
    }
  }
  for (; SCHEME_PAIRP(values); values = SCHEME_CDR(values), ++count) sum += SCHEME_DBL_VAL(SCHEME_CAR(values));
  keel_gc_get_stats(&stats);
  values = scheme_make_double(count > 0 ? sum / count : 0); /* before `reply` exists, as above */
  reply = scheme_make_vector(6, scheme_false);
  SCHEME_VEC_ELS(reply)[0] = scheme_make_integer(inside);
  SCHEME_VEC_ELS(reply)[1] = scheme_make_integer((intptr_t)stats.collections);
  SCHEME_VEC_ELS(reply)[2] = scheme_make_integer((intptr_t)stats.minor_collections);
  SCHEME_VEC_ELS(reply)[3] = scheme_make_integer((intptr_t)stats.total_allocated_bytes);
  SCHEME_VEC_ELS(reply)[4] = scheme_make_integer((intptr_t)stats.live_bytes);
  SCHEME_VEC_ELS(reply)[5] = values;
  keel_place_channel_put(ch, reply);
  MZ_GC_UNREG();
}

static double g_scale = 1.0;

static int run(Scheme_Env *env, int argc, char **argv) {
  Scheme_Object *image = NULL, *job = NULL, *reply = NULL;
  Scheme_Object *places[PLACES] = {NULL};
  keel_gc_stats master;
  unsigned long long checksum = 0, expected = 0;
  intptr_t inside = 0, expected_inside = 0;
  int width, height, i, x, y;
  MZ_GC_DECL_REG(6); /* three variables, and an array, which takes three slots */
  (void)env;
  (void)argc;
  (void)argv;
  MZ_GC_VAR_IN_REG(0, image);
  MZ_GC_VAR_IN_REG(1, job);
  MZ_GC_VAR_IN_REG(2, reply);
  MZ_GC_ARRAY_VAR_IN_REG(3, places, PLACES);
  MZ_GC_REG();

  width = (int)(640 * g_scale);
  height = (int)(480 * g_scale);
  if (width < PLACES) width = PLACES;
  if (height < PLACES) height = PLACES;
  image = scheme_alloc_shared_byte_string((intptr_t)width * height, 0);
  for (i = 0; i < PLACES; ++i) {
    places[i] = keel_place_create(band_main, NULL);
    job = scheme_make_vector(5, scheme_false);
    SCHEME_VEC_ELS(job)[0] = image; /* by reference: every place writes the same image */
    SCHEME_VEC_ELS(job)[1] = scheme_make_integer(width);
    SCHEME_VEC_ELS(job)[2] = scheme_make_integer(height);
    SCHEME_VEC_ELS(job)[3] = scheme_make_integer((intptr_t)height * i / PLACES);
    SCHEME_VEC_ELS(job)[4] = scheme_make_integer((intptr_t)height * (i + 1) / PLACES);
    keel_place_channel_put(places[i], job);
  }
  printf("mandelbrot: %s, %d x %d pixels in %d places\n", keel_gc_variant(), width, height, PLACES);
  printf("mandelbrot:   place  rows        inside  mean escape  collections (minor)  allocated  live after last\n");
  for (i = 0; i < PLACES; ++i) {
    reply = keel_place_channel_get(places[i]);
    inside += SCHEME_INT_VAL(SCHEME_VEC_ELS(reply)[0]);
    printf("mandelbrot:   %5d  %4d-%-4d  %6ld  %11.3f  %11ld (%5ld)  %5.1f MiB  %11.1f KiB\n", i + 1, height * i / PLACES,
           height * (i + 1) / PLACES - 1, (long)SCHEME_INT_VAL(SCHEME_VEC_ELS(reply)[0]), SCHEME_DBL_VAL(SCHEME_VEC_ELS(reply)[5]),
           (long)SCHEME_INT_VAL(SCHEME_VEC_ELS(reply)[1]), (long)SCHEME_INT_VAL(SCHEME_VEC_ELS(reply)[2]),
           SCHEME_INT_VAL(SCHEME_VEC_ELS(reply)[3]) / 1048576.0, SCHEME_INT_VAL(SCHEME_VEC_ELS(reply)[4]) / 1024.0);
    if (keel_place_wait(places[i]) != 0) {
      printf("mandelbrot: FAILED: place %d ended with an error\n", i + 1);
      MZ_GC_UNREG();
      return 1;
    }
  }
  keel_place_master_stats(&master);
  printf("mandelbrot:   master heap: %llu collections, %.1f KiB allocated in it (the shared image)\n",
         (unsigned long long)master.collections, master.total_allocated_bytes / 1024.0);

  for (y = 0; y < height; ++y) {
    for (x = 0; x < width; ++x) {
      int n = escape_count(x, y, width, height);
      checksum = checksum * 31 + (unsigned char)SCHEME_BYTE_STR_VAL(image)[(intptr_t)y * width + x];
      expected = expected * 31 + (unsigned char)n;
      if (n == MAX_ITER) ++expected_inside;
    }
  }
  printf("mandelbrot: %ld points in the set; checksum %016llx\n", (long)inside, checksum);
  MZ_GC_UNREG();
  if (checksum != expected || inside != expected_inside) {
    printf("mandelbrot: FAILED: the places' image differs from the sequential one\n");
    return 1;
  }
  printf("mandelbrot: OK\n");
  return 0;
}

int main(int argc, char **argv) {
  if (argc > 1) {
    char *end = NULL;
    g_scale = strtod(argv[1], &end);
    if (end == argv[1] || *end != 0 || !(g_scale > 0 && g_scale <= 16)) {
      fprintf(stderr, "mandelbrot: usage: mandelbrot [scale], scale in (0, 16]\n");
      return 2;
    }
  }
  return scheme_main_setup(1, run, argc, argv);
}
