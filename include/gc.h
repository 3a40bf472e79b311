/* gc.h: the bdwgc-compatible interface of keel_cgc. A program or binding written for bdwgc's
 * gc.h (for example the boehm_gc crate) links against keel_cgc unchanged. Semantics follow
 * bdwgc's documentation; where Keel differs, the declaration says so (docs/bdwgc.md has the
 * full table). Each OS thread that allocates gets its own collector instance: GC objects must
 * not be shared between threads (Keel's place model). */
#ifndef KEEL_GC_H
#define KEEL_GC_H

#include <stddef.h>
#include <stdint.h>

#include "keel_export.h"

#define GC_API extern KEEL_API
#define GC_CALL
#define GC_CALLBACK
#define GC_ATTR_MALLOC __attribute__((malloc))
#define GC_ATTR_ALLOC_SIZE(n) __attribute__((alloc_size(n)))

/* The bdwgc version this interface follows. */
#define GC_VERSION_MAJOR 8
#define GC_VERSION_MINOR 2
#define GC_VERSION_MICRO 2

KEEL_EXTERN_C_BEGIN

typedef uintptr_t GC_word;
typedef intptr_t GC_signed_word;
typedef void *GC_PTR; /* obsolete bdwgc spelling */

typedef void *(*GC_oom_func)(size_t bytes_requested);
typedef void (*GC_warn_proc)(char *msg, GC_word arg);
typedef void (*GC_finalization_proc)(void *obj, void *client_data);

/* Initialization. Calling GC_init is optional (the first allocation initializes the calling
 * thread's collector) but GC_INIT() is the portable way, and it reads GC_INITIAL_HEAP_SIZE,
 * GC_MAXIMUM_HEAP_SIZE and GC_ALL_INTERIOR_POINTERS from the environment. */
GC_API void GC_init(void);
GC_API int GC_is_init_called(void);
#define GC_INIT() GC_init()

/* Allocation. GC_malloc memory is zeroed and scanned; GC_malloc_atomic memory is neither.
 * Uncollectable memory is scanned and lives until GC_free. A request that cannot be met
 * (including absurd sizes near SIZE_MAX) returns what the out-of-memory function returns. */
GC_API GC_ATTR_MALLOC GC_ATTR_ALLOC_SIZE(1) void *GC_malloc(size_t size_in_bytes);
GC_API GC_ATTR_MALLOC GC_ATTR_ALLOC_SIZE(1) void *GC_malloc_atomic(size_t size_in_bytes);
GC_API GC_ATTR_MALLOC GC_ATTR_ALLOC_SIZE(1) void *GC_malloc_uncollectable(size_t size_in_bytes);
GC_API GC_ATTR_MALLOC GC_ATTR_ALLOC_SIZE(1) void *GC_malloc_atomic_uncollectable(size_t size_in_bytes);
GC_API GC_ATTR_MALLOC GC_ATTR_ALLOC_SIZE(1) void *GC_malloc_ignore_off_page(size_t size_in_bytes);
GC_API GC_ATTR_MALLOC GC_ATTR_ALLOC_SIZE(1) void *GC_malloc_atomic_ignore_off_page(size_t size_in_bytes);
GC_API GC_ATTR_MALLOC GC_ATTR_ALLOC_SIZE(1) void *GC_malloc_stubborn(size_t size_in_bytes);
GC_API GC_ATTR_ALLOC_SIZE(2) void *GC_realloc(void *old_object, size_t new_size_in_bytes);
GC_API void GC_free(void *object_addr);
GC_API GC_ATTR_MALLOC char *GC_strdup(const char *str);
GC_API GC_ATTR_MALLOC char *GC_strndup(const char *str, size_t n);
GC_API void GC_end_stubborn_change(const void *p);
GC_API void GC_change_stubborn(const void *p);

/* Queries */
GC_API void *GC_base(void *displaced_pointer);  /* start of the object holding it, or NULL */
GC_API size_t GC_size(const void *object_addr); /* usable bytes of the object */
GC_API int GC_is_heap_ptr(const void *p);        /* non-zero if p is inside the GC heap */

/* Collection control */
GC_API void GC_gcollect(void);
GC_API void GC_gcollect_and_unmap(void);
GC_API int GC_try_to_collect(int (*stop_func)(void));
GC_API void GC_disable(void); /* counted, like the boehm_gc crate's gc_disable */
GC_API void GC_enable(void);
GC_API int GC_is_disabled(void);
GC_API GC_word GC_get_gc_no(void);

/* Statistics */
GC_API size_t GC_get_heap_size(void);      /* heap pages mapped, including free pages and waste */
GC_API size_t GC_get_free_bytes(void);     /* a lower bound on free bytes in the heap */
GC_API size_t GC_get_unmapped_bytes(void); /* heap pages given back to the OS */
GC_API size_t GC_get_bytes_since_gc(void);
GC_API size_t GC_get_total_bytes(void); /* bytes allocated since the collector started */

/* Out of memory, limits, warnings */
GC_API void GC_set_oom_fn(GC_oom_func fn);
GC_API GC_oom_func GC_get_oom_fn(void);
GC_API void GC_set_max_heap_size(GC_word n); /* 0: no limit */
GC_API int GC_expand_hp(size_t number_of_bytes);
GC_API void GC_set_warn_proc(GC_warn_proc p);
GC_API GC_warn_proc GC_get_warn_proc(void);
GC_API void GC_ignore_warn_proc(char *msg, GC_word arg);
GC_API void GC_set_free_space_divisor(GC_word divisor);
GC_API GC_word GC_get_free_space_divisor(void);

/* Roots. The data and bss of the program and of every loaded shared library are roots without
 * registration; GC_add_roots adds [low, high_plus_1). */
GC_API void GC_add_roots(void *low, void *high_plus_1);
GC_API void GC_remove_roots(void *low, void *high_plus_1);
GC_API void GC_clear_roots(void);

/* Settings that bdwgc programs commonly call.
 * - GC_set_all_interior_pointers(1): pointers from heap objects and static data into the middle
 *   of an object keep it alive (stack pointers always do). Keel's default is 0, Racket's rule.
 * - GC_enable_incremental: accepted; Keel's CGC collects generationally without it.
 * - GC_start_mark_threads: accepted; Keel marks on the collecting thread.
 * - GC_get_find_leak: 0; Keel has no leak-finding mode.
 * - GC_get_parallel: 0; no parallel marker threads. */
GC_API void GC_set_all_interior_pointers(int value);
GC_API int GC_get_all_interior_pointers(void);
GC_API void GC_enable_incremental(void);
GC_API int GC_is_incremental_mode(void);
GC_API void GC_start_mark_threads(void);
GC_API int GC_get_find_leak(void);
GC_API void GC_set_find_leak(int value);
GC_API int GC_get_parallel(void);
GC_API void GC_allow_register_threads(void);
GC_API void GC_set_dont_precollect(int value);
GC_API void GC_set_java_finalization(int value);

/* Finalization, bdwgc's four orders (the boehm_gc crate's FinalizerMode). fn(obj, cd) runs once
 * a collection finds obj unreachable, after Racket's finalizers of the same collection, with
 * obj intact; cd is kept until then. GC_register_finalizer (ordered): not while another
 * unreachable finalizable object reaches obj, so a chain of them is finalized outermost first,
 * one link per collection, and a cycle never; _ignore_self: the same, but obj's pointers to
 * itself do not count; _no_order: regardless of what reaches it (cycles too); _unreachable:
 * ordered, and not while a _no_order object reaches it either. One finalizer per object: fn NULL
 * removes it; the previous one goes to *ofn, *ocd. obj must be the start of one of this thread's
 * objects (otherwise a warning, and nothing is registered). Finalizers run before the call that
 * collected returns, on the owning thread, unless GC_set_finalize_on_demand(1): then they wait
 * for GC_invoke_finalizers (which returns how many ran), GC_should_invoke_finalizers says
 * whether any wait, and the notifier is called when new ones are ready. */
typedef void (*GC_finalizer_notifier_proc)(void);
GC_API void GC_register_finalizer(void *obj, GC_finalization_proc fn, void *cd, GC_finalization_proc *ofn, void **ocd);
GC_API void GC_register_finalizer_ignore_self(void *obj, GC_finalization_proc fn, void *cd, GC_finalization_proc *ofn,
                                              void **ocd);
GC_API void GC_register_finalizer_no_order(void *obj, GC_finalization_proc fn, void *cd, GC_finalization_proc *ofn,
                                           void **ocd);
GC_API void GC_register_finalizer_unreachable(void *obj, GC_finalization_proc fn, void *cd, GC_finalization_proc *ofn,
                                              void **ocd);
GC_API int GC_should_invoke_finalizers(void);
GC_API int GC_invoke_finalizers(void);
GC_API void GC_set_finalize_on_demand(int value);
GC_API int GC_get_finalize_on_demand(void);
GC_API void GC_set_finalizer_notifier(GC_finalizer_notifier_proc fn);
GC_API GC_finalizer_notifier_proc GC_get_finalizer_notifier(void);
#define GC_REGISTER_FINALIZER(p, f, d, of, od) GC_register_finalizer(p, f, d, of, od)
#define GC_REGISTER_FINALIZER_IGNORE_SELF(p, f, d, of, od) GC_register_finalizer_ignore_self(p, f, d, of, od)
#define GC_REGISTER_FINALIZER_NO_ORDER(p, f, d, of, od) GC_register_finalizer_no_order(p, f, d, of, od)
#define GC_REGISTER_FINALIZER_UNREACHABLE(p, f, d, of, od) GC_register_finalizer_unreachable(p, f, d, of, od)

/* Disappearing links (bdwgc's weak pointers). A link is a word the program owns; registered with
 * the object obj (the start of one of this thread's objects), it is set to NULL by the first
 * collection that finds obj unreachable. Short links (GC_general_register_disappearing_link)
 * clear before any finalizer runs; long links (GC_register_long_link) only once obj is really
 * gone, not while a finalizer keeps it. The link must be in memory the collector does not scan
 * as a pointer to obj (hide the pointer with GC_HIDE_POINTER, or keep it in atomic or malloc'd
 * memory), or it keeps obj alive itself; under 3m it must also not lie in an object that moves,
 * and hold obj's plain address if it is to follow obj when obj moves. A link inside an object
 * that dies is forgotten. Results: GC_SUCCESS, GC_DUPLICATE (the link is registered already),
 * GC_NOT_FOUND (move: the link is not registered). A NULL or misaligned link, or an obj that is
 * not an object's start, stops the program with a message naming it. */
#define GC_SUCCESS 0
#define GC_DUPLICATE 1
#define GC_NO_MEMORY 2
#define GC_UNIMPLEMENTED 3
#define GC_NOT_FOUND 4
#define GC_HIDE_POINTER(p) (~(GC_word)(p))
#define GC_REVEAL_POINTER(p) ((void *)GC_HIDE_POINTER(p))
GC_API int GC_general_register_disappearing_link(void **link, const void *obj);
GC_API int GC_register_disappearing_link(void **link); /* obj: the object holding link */
GC_API int GC_register_long_link(void **link, const void *obj);
GC_API int GC_unregister_disappearing_link(void **link); /* 1 if it was registered */
GC_API int GC_unregister_long_link(void **link);
GC_API int GC_move_disappearing_link(void **link, void **new_link);
GC_API int GC_move_long_link(void **link, void **new_link);

/* Keeps p reachable up to this point of the calling function. */
#define GC_reachable_here(p) __asm__ __volatile__(" " : : "X"(p) : "memory")

/* Debug allocation entry points; with GC_DEBUG defined, the GC_MALLOC family maps to these. */
GC_API void *GC_debug_malloc(size_t size_in_bytes, const char *file, int line);
GC_API void *GC_debug_malloc_atomic(size_t size_in_bytes, const char *file, int line);
GC_API void *GC_debug_malloc_uncollectable(size_t size_in_bytes, const char *file, int line);
GC_API void *GC_debug_malloc_stubborn(size_t size_in_bytes, const char *file, int line);
GC_API void *GC_debug_malloc_ignore_off_page(size_t size_in_bytes, const char *file, int line);
GC_API void *GC_debug_malloc_atomic_ignore_off_page(size_t size_in_bytes, const char *file, int line);
GC_API void *GC_debug_realloc(void *old_object, size_t new_size_in_bytes, const char *file, int line);
GC_API void GC_debug_free(void *object_addr);
GC_API char *GC_debug_strdup(const char *str, const char *file, int line);
GC_API void GC_debug_end_stubborn_change(const void *p);
GC_API void GC_debug_change_stubborn(const void *p);

#ifdef GC_DEBUG
#define GC_EXTRAS __FILE__, __LINE__
#define GC_MALLOC(sz) GC_debug_malloc(sz, GC_EXTRAS)
#define GC_MALLOC_ATOMIC(sz) GC_debug_malloc_atomic(sz, GC_EXTRAS)
#define GC_MALLOC_UNCOLLECTABLE(sz) GC_debug_malloc_uncollectable(sz, GC_EXTRAS)
#define GC_MALLOC_STUBBORN(sz) GC_debug_malloc_stubborn(sz, GC_EXTRAS)
#define GC_MALLOC_IGNORE_OFF_PAGE(sz) GC_debug_malloc_ignore_off_page(sz, GC_EXTRAS)
#define GC_MALLOC_ATOMIC_IGNORE_OFF_PAGE(sz) GC_debug_malloc_atomic_ignore_off_page(sz, GC_EXTRAS)
#define GC_REALLOC(old, sz) GC_debug_realloc(old, sz, GC_EXTRAS)
#define GC_FREE(p) GC_debug_free(p)
#define GC_STRDUP(s) GC_debug_strdup(s, GC_EXTRAS)
#define GC_END_STUBBORN_CHANGE(p) GC_debug_end_stubborn_change(p)
#define GC_CHANGE_STUBBORN(p) GC_debug_change_stubborn(p)
#else
#define GC_MALLOC(sz) GC_malloc(sz)
#define GC_MALLOC_ATOMIC(sz) GC_malloc_atomic(sz)
#define GC_MALLOC_UNCOLLECTABLE(sz) GC_malloc_uncollectable(sz)
#define GC_MALLOC_STUBBORN(sz) GC_malloc_stubborn(sz)
#define GC_MALLOC_IGNORE_OFF_PAGE(sz) GC_malloc_ignore_off_page(sz)
#define GC_MALLOC_ATOMIC_IGNORE_OFF_PAGE(sz) GC_malloc_atomic_ignore_off_page(sz)
#define GC_REALLOC(old, sz) GC_realloc(old, sz)
#define GC_FREE(p) GC_free(p)
#define GC_STRDUP(s) GC_strdup(s)
#define GC_END_STUBBORN_CHANGE(p) GC_end_stubborn_change(p)
#define GC_CHANGE_STUBBORN(p) GC_change_stubborn(p)
#endif

#define GC_NEW(t) ((t *)GC_MALLOC(sizeof(t)))
#define GC_NEW_ATOMIC(t) ((t *)GC_MALLOC_ATOMIC(sizeof(t)))
#define GC_NEW_UNCOLLECTABLE(t) ((t *)GC_MALLOC_UNCOLLECTABLE(sizeof(t)))
#define GC_NEW_STUBBORN(t) ((t *)GC_MALLOC_STUBBORN(sizeof(t)))

KEEL_EXTERN_C_END

#endif /* KEEL_GC_H */
