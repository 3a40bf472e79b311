/* keel_ffi.h: calling C from Keel and C calling back, over libffi (DESIGN D9). A signature is a
 * list of type symbols; it is prepared once (an ffi_cif, cached process-wide by its types) and
 * reused for every call. Design note: docs/design/ffi.md.
 *
 * Type symbols:
 *   int8 int16 int32 int64 uint8 uint16 uint32 uint64   exact integers in the type's range
 *   int long intptr size_t                              the platform's widths of those C types
 *   float double                                        flonums (float: finite values in range)
 *   pointer        a C pointer object (scheme_make_cptr, scheme_make_offset_cptr: its address),
 *                  a byte string (its data), or #f (NULL); a result is a C pointer object or #f
 *   bytes          a byte string (its data) or #f; a result is a fresh byte string holding the
 *                  C string's bytes up to its NUL, or #f for NULL
 *   string/utf-8   a char string, passed as a NUL-terminated UTF-8 copy, or #f; a result is a
 *                  fresh char string decoded from UTF-8, or #f for NULL
 *   void           a result only: scheme_void
 *
 * Every function here is called on a place's thread and raises errors as scheme_signal_error
 * does (an escape to the innermost scheme_setjmp handler). A call checks everything (arity, each
 * value's kind and range) before it calls anything.
 *
 * Under 3m a byte string moves when a collection runs. Its data pointer stays valid for the
 * whole call unless C calls back into Keel meanwhile (a callback that allocates may collect):
 * pass memory that does not move (scheme_malloc_atomic_allow_interior wrapped in a C pointer
 * object, or a shared byte string) to C code that keeps a pointer or calls back. */
#ifndef KEEL_PUBLIC_KEEL_FFI_H
#define KEEL_PUBLIC_KEEL_FFI_H

#include "keel_export.h"
#include "scheme.h"

KEEL_EXTERN_C_BEGIN

/* Opens a shared library with dlopen (RTLD_NOW | RTLD_LOCAL); NULL opens the program itself and
 * the libraries it was linked with. Returns a C pointer object for the handle; the library stays
 * loaded for the life of the process, as Racket's do. A failure raises an error with dlerror's
 * text. */
KEEL_API Scheme_Object *keel_ffi_lib(const char *path);

/* The address of the symbol `name` in a library from keel_ffi_lib, as a C pointer object whose
 * type tag is the symbol's name (a Scheme symbol). A missing symbol raises an error with
 * dlerror's text. */
KEEL_API Scheme_Object *keel_ffi_obj(Scheme_Object *lib, const char *name);

/* A signature: arg_types is a list of type symbols (at most KEEL_FFI_MAX_ARGS of them; void is
 * not one), result_type a type symbol. Equal signatures share one prepared call interface. */
KEEL_API Scheme_Object *keel_ffi_signature(Scheme_Object *arg_types, Scheme_Object *result_type);
#define KEEL_FFI_MAX_ARGS 64

/* Calls the C function at fn (a C pointer object, not NULL) with argv converted as the
 * signature says; returns the result converted back. */
KEEL_API Scheme_Object *keel_ffi_call(Scheme_Object *fn, Scheme_Object *signature, int argc, Scheme_Object **argv);

/* A C function pointer (a C pointer object) that C code can call with the signature's C types:
 * each call converts the arguments to Scheme values, calls proc(data, argc, argv) on the calling
 * thread, and converts its result back (string/utf-8 cannot be a result: nothing would keep the
 * copy). The callback may be called only on the thread of the place that made it, and only while
 * the returned object is reachable: the code is freed when it is collected. An error inside proc,
 * or a result of the wrong kind, escapes through the C caller's frames to the innermost handler,
 * so the C code in between must be plain C that a longjmp may skip. */
KEEL_API Scheme_Object *keel_ffi_callback(Scheme_Closed_Prim *proc, void *data, Scheme_Object *signature);

/* The address a pointer argument passes for v: a C pointer object's address, a byte string's
 * data, NULL for #f. Anything else raises an error. */
KEEL_API void *keel_ffi_pointer(Scheme_Object *v);

KEEL_EXTERN_C_END

#endif /* KEEL_PUBLIC_KEEL_FFI_H */
