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

KEEL_EXTERN_C_END

#endif /* KEEL_SCHEMEGC2_H */
