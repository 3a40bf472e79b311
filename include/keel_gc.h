/* keel_gc.h: Keel's own collector interface: per-collection records, statistics, tuning,
 * tracing, instance control (DESIGN D11) and the stacks of fibers and coroutines. Everything
 * here acts on the calling thread's collector instance. */
#ifndef KEEL_PUBLIC_KEEL_GC_H
#define KEEL_PUBLIC_KEEL_GC_H

#include <stddef.h>
#include <stdint.h>

#include "keel_export.h"

KEEL_EXTERN_C_BEGIN

typedef enum keel_gc_kind {
  KEEL_GC_MINOR = 0, /* young objects only (generational collectors) */
  KEEL_GC_MAJOR = 1  /* the whole heap */
} keel_gc_kind;

typedef enum keel_gc_reason {
  KEEL_GC_REASON_ALLOCATION = 0, /* the allocation budget was spent */
  KEEL_GC_REASON_EXPLICIT = 1,   /* scheme_collect_garbage, GC_gcollect */
  KEEL_GC_REASON_STRESS = 2,     /* KEEL_GC_STRESS */
  KEEL_GC_REASON_HEAP_LIMIT = 3, /* the maximum heap size was reached */
  KEEL_GC_REASON_MASTER = 4      /* a master collection (keel_places.h): a place's part or the master's */
} keel_gc_reason;

/* One collection, as the collector recorded it. Byte counts are object bytes (size-class
 * rounded); heap_bytes counts every page the heap holds, committed or not. */
typedef struct keel_gc_record {
  uint64_t index;           /* 1 for the first collection of this instance */
  int kind;                 /* keel_gc_kind */
  int reason;               /* keel_gc_reason */
  uint64_t start_ns;        /* CLOCK_MONOTONIC at the start of the pause */
  uint64_t pause_ns;        /* the whole stop: roots, mark, sweep, release */
  uint64_t mark_ns;         /* of which marking */
  uint64_t allocated_bytes; /* allocated since the previous collection */
  uint64_t freed_bytes;
  uint64_t live_bytes;      /* after the collection: old, aged and uncollectable */
  uint64_t heap_bytes;      /* heap pages after the collection */
  uint64_t committed_bytes; /* heap pages backed by memory after the collection */
  uint64_t released_bytes;  /* pages given back to the OS by this collection */
  uint64_t promoted_bytes;  /* minor: survivors that became old (0 in a major one) */
  uint64_t marked_objects;
  uint64_t pages_protected; /* write barrier: pages protected after the collection */
  uint64_t barrier_faults;  /* write barrier: faults taken since the previous collection */
  uint64_t pages_written;   /* write barrier: dirty pages found */
  uint64_t aged_bytes;      /* minor: young survivors kept young for one more cycle */
  uint64_t remembered_pages; /* minor: old pages kept dirty: they point at aged objects */
  /* Page-table figures since the previous record (docs/design/heap.md .sol.retain,
   * docs/design/barrier.md .sol.figures). Released, refaulted and fresh pages are 4 KiB OS
   * pages; opened pages are heap pages, as pages_protected. */
  uint64_t pages_released;  /* given back to the OS: by collections, the decay thread, requests */
  uint64_t pages_refaulted; /* handed out again after being given back (a fault each) */
  uint64_t pages_fresh;     /* handed out never touched (a first-touch fault each) */
  uint64_t pages_opened;    /* write barrier: protection removed (allocator, faults, requests) */
  uint64_t protect_calls;   /* write barrier: protect and unprotect system calls (mprotect,
                             * UFFDIO_WRITEPROTECT) */
  uint64_t hot_pages;       /* write barrier: old pages left open and scanned as dirty, because
                             * they were written in recent cycles */
  uint64_t full_stretch;    /* write barrier: full collections still to come before minor ones
                             * are tried again, because the barrier did not pay (0: none) */
  uint64_t scan_calls;      /* write barrier (uffd): page-table walks that looked for written
                             * pages (PAGEMAP_SCAN; they change no protection) */
  uint64_t copied_objects;  /* 3m: objects moved (nursery survivors copied into the old
                             * generation); 0 under CGC */
  uint64_t copied_bytes;    /* 3m: bytes of the objects moved */
  uint64_t compacted_objects; /* 3m, major: of those, old objects moved off sparse pages to
                               * compact the old generation (docs/design/precise.md .sol.compact) */
  uint64_t compacted_bytes;
  uint64_t evacuated_pages; /* 3m, major: heap pages freed because their objects moved */
} keel_gc_record;

typedef struct keel_gc_stats {
  uint64_t collections;
  uint64_t minor_collections;
  uint64_t major_collections;
  uint64_t total_pause_ns;
  uint64_t max_pause_ns;
  uint64_t total_allocated_bytes; /* since the instance started */
  uint64_t bytes_since_gc;
  uint64_t live_bytes;            /* after the last collection */
  uint64_t peak_live_bytes;       /* the largest live_bytes of any collection */
  uint64_t heap_bytes;
  uint64_t peak_heap_bytes;
  uint64_t committed_bytes;
  uint64_t next_collection_bytes; /* allocation budget before the next collection */
  /* Free heap pages still backed by memory, kept for reuse. They go back to the OS once unused
   * for one to two decay periods (KEEL_GC_DECAY_MS, default 1000), whether or not the program
   * calls into Keel meanwhile, or at once with keel_gc_release_memory. */
  uint64_t free_committed_bytes;
} keel_gc_stats;

/* Statistics of the calling thread's collector. */
KEEL_API void keel_gc_get_stats(keel_gc_stats *out);

/* The collector keeps the most recent records (KEEL_GC_RECORDS, default 65536). Index 0 is the
 * oldest kept. Returns 0 when i is out of range. */
KEEL_API size_t keel_gc_record_count(void);
KEEL_API int keel_gc_get_record(size_t i, keel_gc_record *out);

/* A pause percentile (0-100) over the kept records, in nanoseconds; 0 without records. */
KEEL_API uint64_t keel_gc_pause_percentile_ns(double percentile);

/* Walks the whole heap and checks the collector's invariants (page map, bitmaps, free runs,
 * counters). Returns the number of problems found, each reported on stderr; 0 means sound. */
KEEL_API size_t keel_gc_verify_heap(void);

/* Writes a Chrome trace-event JSON file of every collection from now on (opens in Perfetto).
 * KEEL_GC_TRACE=path in the environment does the same from the start. NULL stops tracing.
 * Returns 0 on success, -1 if the file cannot be opened. */
KEEL_API int keel_gc_trace_to(const char *path);

/* Heap sizing. Without a write barrier (KEEL_GC_BARRIER=none) every collection is major and the
 * next one comes after allocating max(min_bytes, live * growth) bytes. With a barrier, minor
 * collections come every young budget (1 to 32 MiB, adapted to a 2.5 ms pause goal, at most a
 * quarter of the live data), and the next collection is major once the old generation has grown
 * by max(min_bytes, live * growth * 2/3) since the last major one. Defaults: growth 0.6,
 * min 4 MiB. KEEL_GC_GROWTH and KEEL_GC_MIN_BYTES set them too. */
KEEL_API void keel_gc_set_growth(double growth, size_t min_bytes);

/* Gives free heap pages back to the OS now. */
KEEL_API void keel_gc_release_memory(void);

/* A minor collection: young objects only, from the roots and the old pages written since the
 * last collection. Without a write barrier (KEEL_GC_BARRIER=none) it is a major one. Does
 * nothing while collection is disabled. scheme_collect_garbage and GC_gcollect stay major. */
KEEL_API void keel_gc_collect_minor(void);

/* The write-barrier backend of the calling thread's collector: "uffd", "mprotect" or "none". */
KEEL_API const char *keel_gc_barrier(void);

/* "cgc" or "3m": the collector variant this library was built as. */
KEEL_API const char *keel_gc_variant(void);

/* Destroys the calling thread's runtime and collector, freeing every object it allocated. A
 * later call into Keel starts a fresh one. Pointers into the old heap become invalid. Before
 * that, finalizers run: full collections until one makes no finalizer ready, each followed by
 * the finalizers it made ready (bdwgc's included, even with GC_set_finalize_on_demand); then,
 * if keel_gc_finalize_all_on_exit(1) was called, the finalizers of every object still
 * registered, reachable or not. A finalizer that escapes meanwhile is reported on stderr and the
 * others still run. Must not be called from a finalizer. */
KEEL_API void keel_shutdown(void);

/* Whether the calling thread's collector, at keel_shutdown or when scheme_main_setup returns,
 * also runs the finalizers of objects that are still reachable (so a C library's resources held
 * by live objects are released). Off by default. Returns the previous setting. */
KEEL_API int keel_gc_finalize_all_on_exit(int on);

/* --- Fibers and coroutines --------------------------------------------------------------------
 * A collection scans the stack it runs on, from its stack pointer up to that stack's base, so
 * Keel must know which stack is running. It knows the thread's own stack (and the base set by
 * scheme_set_stack_base or scheme_set_stack_bounds); before running code that may allocate on
 * another stack (a ucontext fiber, a coroutine, a green thread), tell it with
 * keel_gc_enter_stack. A collection on a stack Keel does not know aborts with a message. */

/* Where keel_gc_enter_stack keeps the suspended stack's registers and the bounds to go back to.
 * The contents are Keel's; the structure must stay where it is until keel_gc_leave_stack. */
typedef struct keel_gc_stack_switch {
  void *keel_private[24];
} keel_gc_stack_switch;

/* Call immediately before switching (swapcontext and the like) to the stack [lo, hi): lo its
 * lowest usable address, hi one past its highest (where it starts; stacks grow down). Until the
 * matching keel_gc_leave_stack, collections scan that stack from their stack pointer to hi, and
 * also the suspended stack from the point of this call to its base, and the callee-saved
 * registers as they were at this call (kept in *save). So pointers the suspended code holds in
 * its frames or registers stay roots; compute nothing new between this call and the switch.
 * Aborts with a message when lo or hi is NULL, hi <= lo, or save is NULL. */
KEEL_API void keel_gc_enter_stack(void *lo, void *hi, keel_gc_stack_switch *save);

/* Call right after switching back to the stack that called keel_gc_enter_stack(..., save): the
 * bounds in force before it come back. Calls nest (a fiber may enter a further stack); leave in
 * the reverse order of entering. Aborts with a message when save is not the most recent entry. */
KEEL_API void keel_gc_leave_stack(keel_gc_stack_switch *save);

/* Scans [lo, hi) as a root at every collection until keel_gc_remove_stack(lo): the whole stack
 * of a fiber that is suspended outside the keel_gc_enter_stack nesting (one that yielded back to
 * its caller), so objects only it refers to survive. The range must be readable: leave guard
 * pages out. Registers the switch saved for that fiber (its ucontext_t) are roots only if they
 * lie in memory Keel scans: inside [lo, hi), on a running stack, in static data, or registered.
 * Aborts with a message when lo is NULL or hi <= lo. */
KEEL_API void keel_gc_add_stack(void *lo, void *hi);

/* Under 3m a stack's roots are its registered frames: keel_gc_enter_stack sets the running
 * stack's GC_variable_stack chain aside in *save and starts [lo, hi) with the chain it had when
 * it was last left, if it is an added stack, or with an empty one; keel_gc_leave_stack keeps the
 * chain of the stack it leaves with the added stack that overlaps it (or with the next
 * keel_gc_add_stack, if no switch comes first) and puts the caller's chain back. Frames a fiber
 * leaves registered on a stack that is not added are dropped at the next switch, with one
 * warning: add a fiber's stack before it first yields. */

/* Stops scanning the stack registered by keel_gc_add_stack(lo, ...). Aborts with a message when
 * no stack starting at lo is registered. */
KEEL_API void keel_gc_remove_stack(void *lo);

KEEL_EXTERN_C_END

#endif /* KEEL_PUBLIC_KEEL_GC_H */
