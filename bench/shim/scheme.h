/* shim/scheme.h: the part of Keel's scheme.h the benchmark clients use, mapped onto another
 * allocator so that the same client source builds against bdwgc, glibc malloc and mimalloc.
 * Only the non-Keel builds put bench/shim on the include path; the Keel build sees the real
 * include/scheme.h. Semantics kept: scheme_malloc memory is zeroed, atomic memory is not. */
#ifndef KEEL_BENCH_SHIM_SCHEME_H
#define KEEL_BENCH_SHIM_SCHEME_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(BENCH_ALLOC_BDWGC)
#include <gc/gc.h> /* bdwgc's own header, never Keel's include/gc.h */
#define scheme_malloc(n) GC_MALLOC(n)
#define scheme_malloc_atomic(n) GC_MALLOC_ATOMIC(n)
#elif defined(BENCH_ALLOC_MALLOC) || defined(BENCH_ALLOC_MIMALLOC)
#if defined(BENCH_ALLOC_MIMALLOC)
#include <mimalloc.h>
#define BENCH_SHIM_MALLOC mi_malloc
#else
#include <stdlib.h>
#define BENCH_SHIM_MALLOC malloc
#endif
/* malloc + memset rather than calloc: glibc's calloc bypasses the tcache fast path, and the
 * memset of a constant small size compiles to two stores. */
static inline void *scheme_malloc(size_t n) {
  void *p = BENCH_SHIM_MALLOC(n);
  if (p != NULL) memset(p, 0, n);
  return p;
}
static inline void *scheme_malloc_atomic(size_t n) { return BENCH_SHIM_MALLOC(n); }
#else
#error "shim/scheme.h is for BENCH_ALLOC_BDWGC, BENCH_ALLOC_MALLOC and BENCH_ALLOC_MIMALLOC"
#endif

typedef int (*Scheme_Nested_Main)(void *data);

/* Racket's entry point that records the stack base, then runs main. The harness has already
 * initialized the allocator (bench_begin), so there is nothing left to set up. */
static inline int scheme_main_stack_setup(int no_auto_statics, Scheme_Nested_Main main_fn,
                                          void *data) {
  (void)no_auto_statics;
  return main_fn(data);
}

/* Local-pointer registration is for precise collection only; none of these allocators moves. */
#define MZ_GC_DECL_REG(size)
#define MZ_GC_VAR_IN_REG(x, v)
#define MZ_GC_ARRAY_VAR_IN_REG(x, v, l)
#define MZ_GC_NO_VAR_IN_REG(x)
#define MZ_GC_REG()
#define MZ_GC_UNREG()

#endif /* KEEL_BENCH_SHIM_SCHEME_H */
