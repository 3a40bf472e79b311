/* schemegc2.h: the GC_* layer that scheme.h's macros expand to (Racket BC's gc2.h subset).
 * Both variants declare everything here: the shared typedefs, GC_variable_stack (in CGC only
 * the runtime's own frames are on it; see docs/design/roots.md .sol.frames) and the traverser
 * entry points, which only keel_3m's collector calls. */
#ifndef KEEL_SCHEMEGC2_H
#define KEEL_SCHEMEGC2_H

#include <stddef.h>
#include <stdint.h>

#include "keel_export.h"

KEEL_EXTERN_C_BEGIN

typedef int (*Size_Proc)(void *obj);
typedef int (*Mark_Proc)(void *obj);
typedef int (*Fixup_Proc)(void *obj);

#define gcLOG_WORD_SIZE 3
#define gcBYTES_TO_WORDS(x) (((x) + (1 << gcLOG_WORD_SIZE) - 1) >> gcLOG_WORD_SIZE)
#define gcWORDS_TO_BYTES(x) ((x) << gcLOG_WORD_SIZE)
#define GC_INTERIORABLES_NEVER_MOVE 1

/* Pre-dirties the page holding p for the write barrier; a no-op where no barrier is active. */
extern KEEL_API void GC_write_barrier(void *p);

/* The calling thread's chain of registered local-variable frames (MZ_GC_REG), innermost first,
 * in Racket's layout: frame[0] the next frame, frame[1] the slot count, then the slots. Reached
 * with the initial-exec model: an MZ_GC_REG in a position-independent extension is a load and
 * two stores relative to the thread pointer, not a __tls_get_addr call (libkeel itself keeps it
 * in static TLS). */
#if defined(__GNUC__)
extern KEEL_API __thread void **GC_variable_stack __attribute__((tls_model("initial-exec")));
#else
extern KEEL_API __thread void **GC_variable_stack;
#endif

/* The calling thread's nursery allocation area (3m, docs/design/precise.md .sol.inline):
 * objects are bump-allocated from `cursor`, a header word and then the object, while they fit
 * below `limit`; scheme.h's inline scheme_malloc reads and advances it, and calls the library
 * when it does not fit. {0, 0} while the thread has no nursery (and always in CGC). Only
 * scheme.h's inline functions may touch it. */
typedef struct keel_nursery_area {
  uintptr_t cursor;
  uintptr_t limit;
} keel_nursery_area;
#if defined(__GNUC__)
extern KEEL_API __thread keel_nursery_area keel_nursery __attribute__((tls_model("initial-exec")));
#else
extern KEEL_API __thread keel_nursery_area keel_nursery;
#endif
/* The header word before a nursery object: its size in words from bit 12, its kind from bit 4
 * (KEEL_NURSERY_NORMAL for scheme_malloc, KEEL_NURSERY_ATOMIC, KEEL_NURSERY_TAGGED), and 0 in
 * bits 0-3. Objects up to KEEL_NURSERY_MAX_OBJECT bytes live there. */
#define KEEL_NURSERY_NORMAL 0
#define KEEL_NURSERY_ATOMIC 1
#define KEEL_NURSERY_TAGGED 6
#define KEEL_NURSERY_MAX_OBJECT 8192

/* The traversers of tagged objects (Inside Racket §5.1.1). Declared in both variants, so one
 * source can register its types unconditionally: 3m traces tagged objects with them; CGC scans
 * every word of a tagged object and never calls them. gcMARK / gcFIXUP belong inside a mark or
 * fixup procedure only (outside one they abort with a message). */
extern KEEL_API void GC_register_traversers(short tag, Size_Proc size, Mark_Proc mark, Fixup_Proc fixup,
                                            int is_constant_size, int is_atomic);
extern KEEL_API void *GC_resolve(void *p);
extern KEEL_API void *GC_fixup_self(void *p);
extern KEEL_API void GC_mark(void **p);
extern KEEL_API void GC_fixup(void **p);
#define gcMARK(x) GC_mark((void **)&(x))
#define gcFIXUP(x) GC_fixup((void **)&(x))
#define gcMARK_TYPED(t, x) gcMARK(x)
#define gcFIXUP_TYPED(t, x) gcFIXUP(x)

/* Weak arrays (Racket's GC_malloc_weak_array; docs/api.md, docs/design/weak.md .sol.arrays).
 * The layout is Racket's: `type` is scheme_rt_weak_array, `count` the number of slots,
 * `replace_val` what a slot reads once its object is gone, `next` reserved (Racket's collector
 * links arrays through it; Keel's leaves it NULL), and `data` the slots, the 5th word. */
typedef struct GC_Weak_Array {
  short type;
  short keyex;
  intptr_t count;
  void *replace_val;
  struct GC_Weak_Array *next;
  void *data[1]; /* really count slots */
} GC_Weak_Array;

/* A weak array of size_in_bytes / sizeof(void *) slots (the remainder is ignored, as in
 * Racket), all NULL; returned as a void * to a GC_Weak_Array. The program stores into data[i]
 * whenever it likes (no barrier call is needed: the array holds no traced pointers). After
 * every collection, minor or major, a slot whose object nothing but weak references keeps
 * holds replace_val; a slot whose object lives holds its address, updated when it moves (3m);
 * NULL, fixnums and memory the collector does not own stay. A slot holds what any slot may
 * (docs/design/precise.md .req.slots): an object's start, or an interior pointer into an
 * allow-interior object. replace_val is kept alive, and followed when it moves, while the array
 * lives. Slots clear with the ordinary weak boxes, before the level-2 finalizers. Raises out of
 * memory (scheme_raise_out_of_memory) when the array cannot be had; may collect. */
extern KEEL_API void *GC_malloc_weak_array(size_t size_in_bytes, void *replace_val);

KEEL_EXTERN_C_END

#endif /* KEEL_SCHEMEGC2_H */
