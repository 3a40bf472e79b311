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
#include "keel_gc.h"
#include "scheme.h"

KEEL_EXTERN_C_BEGIN

/* --- places ----------------------------------------------------------------------------------
 * keel_place_create starts a place: a new OS thread, attached to a place of its own, that calls
 * main with its end of a new place channel. init (a value keel_place_message_allowed accepts, or
 * NULL) is delivered on that channel as the first message. Returns the place descriptor, which is
 * also the creator's end of the channel. The place ends when main returns (exit code 0), calls
 * keel_place_exit(code), is killed (code 1), or when an error escapes main with no handler
 * installed (code 1, its message on stderr); the process and the other places go on. At its end
 * every finalizer of the place runs, reachable object or not, and its heap goes back to the OS. */
KEEL_API Scheme_Object *keel_place_create(void (*main)(Scheme_Object *channel), Scheme_Object *init);
/* Waits for the place to end; its exit code. May be called again, from any place. */
KEEL_API int keel_place_wait(Scheme_Object *place);
/* Ends the place at its next channel operation or keel_place_safepoint call (one blocked in a
 * channel operation is woken at once) and waits for it; its exit code is then 1. */
KEEL_API void keel_place_kill(Scheme_Object *place);
/* Ends the calling place with `code`. On the initial place (or a thread attached with
 * keel_thread_attach) it ends the process: exit(code). */
KEEL_API void keel_place_exit(int code);
/* A safe point: a place that was killed ends here, and a master collection that other places
 * wait for runs here (below). Call it in long loops that neither allocate nor use channels. */
KEEL_API void keel_place_safepoint(void);

/* --- blocking sections: foreign calls that may take long ---------------------------------------
 * keel_place_blocking_begin tells Keel that the calling place is about to run code that does
 * not call Keel: a foreign call that may block or run long (read() on a pipe, a lock, a solver).
 * Until keel_place_blocking_end the place counts as parked: master collections go on without
 * it, and keep for it the shared objects its last master collection found it referring to and
 * those it allocated or received since. Its collector does not run meanwhile, so its own objects
 * stay where they are, and so do the shared ones it holds: the foreign code may read and write
 * both (a shared byte string as read()'s buffer). Between the two calls the place must not
 * allocate, use a channel or call any other Keel function; doing so stops the program with a
 * message naming the place. Sections do not nest. keel_place_blocking_end first waits for a
 * master collection that counted the place as parked, then is a safe point: a place killed
 * meanwhile ends there. A shared object the place has only by reading it out of another shared
 * object (one made before scheme_basic_env returned) is kept while that one still holds it. */
KEEL_API void keel_place_blocking_begin(void);
KEEL_API void keel_place_blocking_end(void);

/* --- place channels --------------------------------------------------------------------------
 * A channel has two ends; what one end puts, the other gets, first in first out (for each
 * sender). A message is copied into the receiving place: pairs and lists, vectors, boxes,
 * strings, byte strings, symbols (interned again there), characters, flonums, fixnums, bignums,
 * booleans, null, void and eof, with their sharing and cycles; channel ends and places travel by
 * reference (a received end is the same channel, and several places may send on it). */
/* Sends msg. A message that may not be sent is an error (an escape to scheme_error_buf) naming
 * the offending part ("a value of type <procedure> in the car of a pair ..."); nothing is sent. */
KEEL_API void keel_place_channel_put(Scheme_Object *ch, Scheme_Object *msg);
/* The next message, waiting as long as it takes. */
KEEL_API Scheme_Object *keel_place_channel_get(Scheme_Object *ch);
/* The next message, or NULL when none is waiting. */
KEEL_API Scheme_Object *keel_place_channel_try_get(Scheme_Object *ch);
/* The next message, or NULL when none arrives within `seconds`. */
KEEL_API Scheme_Object *keel_place_channel_get_timeout(Scheme_Object *ch, double seconds);
/* A new channel: *a and *b are its two ends. */
KEEL_API void keel_place_channel_pair(Scheme_Object **a, Scheme_Object **b);
/* 1 when v may be sent on a place channel, 0 otherwise. */
KEEL_API int keel_place_message_allowed(Scheme_Object *v);

/* --- shared data: the master heap --------------------------------------------------------------
 * Byte strings, strings and flonum vectors allocated here live in the master heap: every place
 * may read and write them, and messages carry them by reference, so the receiver sees the same
 * object (SCHEME_SHARED_ALLOCATEDP is true of it). They never move and hold no pointers. Between
 * scheme_main_stack_setup and the return of scheme_basic_env the master collector is the main
 * thread's collector (scheme_register_static then registers master roots); shared objects are
 * allocated only once scheme_basic_env has returned (or, in a program that never calls
 * scheme_main_stack_setup, at any time). scheme_alloc_shared_byte_string is in scheme.h.
 *
 * The master heap is collected when its budget is spent: every place stops at a safe point
 * (an allocation, a channel operation, keel_place_wait, keel_place_safepoint; a place blocked in
 * a channel operation or keel_place_wait is woken for it; one in a blocking section is not
 * waited for), runs a major collection of its own
 * that marks the shared objects it reaches, and the last one to finish frees the shared objects
 * no place and no message in flight refers to. A place that neither allocates nor calls into
 * Keel, outside a blocking section, holds every master collection back until it does. */
KEEL_API Scheme_Object *keel_alloc_shared_char_string(intptr_t size, mzchar fill);
KEEL_API Scheme_Object *keel_alloc_shared_flvector(intptr_t size);
/* A master collection now, the calling place taking part. */
KEEL_API void keel_place_collect_master(void);
/* The master collector's figures: its collections, live and heap bytes (keel_gc.h). */
KEEL_API void keel_place_master_stats(keel_gc_stats *out);

/* --- threads ---------------------------------------------------------------------------------- */

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
