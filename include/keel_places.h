/* keel_places.h: places (DESIGN D1, D7; Inside Racket §5.1.5). A place is an OS thread with a
 * collector of its own. The scheme_* functions run only on a place's thread: the process's main
 * thread is the initial place (attached at its first scheme_* call, or by scheme_main_setup,
 * scheme_main_stack_setup, scheme_set_stack_base and scheme_basic_env); another thread the
 * program starts itself attaches with keel_thread_attach. A scheme_* call on a thread attached to
 * no place (a callback arriving on a foreign library's thread) stops the program with a message
 * saying so, instead of giving that thread a fresh, empty heap. gc.h keeps its own rule: any
 * thread may call it, and gets a collector of its own. Design note: docs/design/places.md. */
#ifndef KEEL_PUBLIC_KEEL_PLACES_H
#define KEEL_PUBLIC_KEEL_PLACES_H

#include "keel_export.h"

KEEL_EXTERN_C_BEGIN

/* Attaches the calling thread to a place of its own: a collector, roots, finalizers and runtime
 * (symbol table, error buffer) that only this thread uses. A thread that already made gc.h calls
 * keeps what it allocated; one already attached stays as it is. The place's heap goes when the
 * thread exits or calls keel_thread_detach (memory documented to outlive that, such as
 * uncollectable objects and immobile boxes, stays valid). Pointers to one place's objects must not
 * be stored in another place's objects, and the program's static variables are scanned only by
 * the first place (register others with scheme_register_static on the thread that uses them). */
KEEL_API void keel_thread_attach(void);

/* Detaches the calling thread from its place now, as its exit would: pending finalizers run, a
 * last collection without the thread's stack runs, and the heap goes (or stays, for what is
 * documented to outlive the thread). No effect on a thread attached to no place. */
KEEL_API void keel_thread_detach(void);

/* 1 when the calling thread is attached to a place, 0 otherwise. */
KEEL_API int keel_thread_attached(void);

KEEL_EXTERN_C_END

#endif /* KEEL_PUBLIC_KEEL_PLACES_H */
