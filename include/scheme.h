/* scheme.h: Keel's Racket-compatible embedding API (Inside Racket, chapter 5, and the object
 * model its examples use). Client code includes it exactly as a Racket BC extension would.
 * The same source builds against keel_cgc (conservative) and, with MZ_PRECISE_GC, keel_3m. */
#ifndef KEEL_SCHEME_H
#define KEEL_SCHEME_H

#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>

#include "keel_export.h"
#include "schemegc2.h"

#define MZ_EXTERN extern KEEL_API

KEEL_EXTERN_C_BEGIN

/* ---------------------------------------------------------------------------------------------
 * Basic types
 * ------------------------------------------------------------------------------------------- */

typedef short Scheme_Type;
typedef short mzshort;
typedef unsigned int mzchar; /* one Unicode code point (UCS-4) */

/* Every collectable Racket value starts with this header. keyex holds per-object flags
 * (bit 0x1: immutable) and hash bits. */
typedef struct Scheme_Object {
  Scheme_Type type;
  short keyex;
} Scheme_Object;

typedef struct Scheme_Inclhash_Object {
  Scheme_Object so;
} Scheme_Inclhash_Object;

/* Two-word payload objects: pairs, strings, byte strings, C pointers. */
typedef struct Scheme_Simple_Object {
  Scheme_Inclhash_Object iso;
  union {
    struct { mzchar *string_val; intptr_t tag_val; } char_str_val;
    struct { char *string_val; intptr_t tag_val; } byte_str_val;
    struct { void *ptr1, *ptr2; } two_ptr_val;
    struct { int int1; int int2; } two_int_val;
    struct { void *ptr; int pint; } ptr_int_val;
    struct { void *ptr; intptr_t pint; } ptr_long_val;
    struct { struct Scheme_Object *car, *cdr; } pair_val;
    struct { mzshort len; mzshort *vec; } svector_val;
    struct { void *val; struct Scheme_Object *type; } cptr_val;
  } u;
} Scheme_Simple_Object;

/* A C pointer object with an offset (scheme_offset_cpointer_type). */
typedef struct Scheme_Offset_Cptr {
  Scheme_Simple_Object cptr;
  intptr_t offset;
} Scheme_Offset_Cptr;

/* One-word payload objects: characters, boxes. */
typedef struct Scheme_Small_Object {
  Scheme_Inclhash_Object iso;
  union {
    mzchar char_val;
    struct Scheme_Object *ptr_val;
    intptr_t int_val;
  } u;
} Scheme_Small_Object;

typedef struct Scheme_Double {
  Scheme_Object so;
  double double_val;
} Scheme_Double;

/* Flonum vectors (scheme_alloc_flvector; shared ones: keel_alloc_shared_flvector). */
typedef struct Scheme_Double_Vector {
  Scheme_Object so;
  intptr_t size;
  double els[1];
} Scheme_Double_Vector;

/* Symbols keep their characters inline (SCHEME_SYM_VAL is an interior pointer). */
typedef struct Scheme_Symbol {
  Scheme_Inclhash_Object iso;
  intptr_t len;
  char s[8]; /* really len + 1 bytes, NUL-terminated */
} Scheme_Symbol;

typedef struct Scheme_Vector {
  Scheme_Inclhash_Object iso;
  intptr_t size;
  struct Scheme_Object *els[1]; /* really size elements */
} Scheme_Vector;

/* Exact integers outside the fixnum range. The magnitude is an atomic array of GMP limbs
 * (least significant first); the sign is in pos. */
typedef struct Scheme_Bignum {
  Scheme_Inclhash_Object iso;
  intptr_t len; /* number of limbs in digits */
  intptr_t pos; /* 1 for positive, 0 for negative */
  uintptr_t *digits;
} Scheme_Bignum;

typedef struct Scheme_Env Scheme_Env; /* a namespace; opaque */

/* ---------------------------------------------------------------------------------------------
 * Type tags. Numbers follow Racket BC where it documents them; they are not an ABI promise.
 * scheme_make_type hands out tags from _scheme_last_type_ up to 512.
 * ------------------------------------------------------------------------------------------- */

enum {
  scheme_toplevel_type = 0,
  scheme_prim_type = 36,
  scheme_closed_prim_type = 37,
  scheme_closure_type = 38,
  scheme_case_closure_type = 39,
  scheme_cont_type = 40,
  scheme_escaping_cont_type = 41,
  scheme_proc_struct_type = 42,
  scheme_native_closure_type = 43,
  scheme_proc_chaperone_type = 44,
  scheme_chaperone_type = 45,
  scheme_structure_type = 46,
  scheme_integer_type = 47,
  scheme_bignum_type = 48,
  scheme_rational_type = 49,
  scheme_float_type = 50,
  scheme_double_type = 51,
  scheme_complex_type = 52,
  scheme_char_type = 53,
  scheme_long_double_type = 54,
  scheme_char_string_type = 55,
  scheme_byte_string_type = 56,
  scheme_unix_path_type = 57,
  scheme_windows_path_type = 58,
  scheme_symbol_type = 59,
  scheme_keyword_type = 60,
  scheme_null_type = 61,
  scheme_pair_type = 62,
  scheme_mutable_pair_type = 63,
  scheme_vector_type = 64,
  scheme_inspector_type = 65,
  scheme_input_port_type = 66,
  scheme_output_port_type = 67,
  scheme_eof_type = 68,
  scheme_true_type = 69,
  scheme_false_type = 70,
  scheme_void_type = 71,
  scheme_syntax_compiler_type = 72,
  scheme_macro_type = 73,
  scheme_box_type = 74,
  scheme_thread_type = 75,
  scheme_cont_mark_set_type = 77,
  scheme_sema_type = 78,
  scheme_hash_table_type = 79,
  scheme_hash_tree_type = 80,
  scheme_cpointer_type = 88,
  scheme_offset_cpointer_type = 89, /* a C pointer with a byte offset (scheme_make_offset_cptr) */
  scheme_weak_box_type = 90,
  scheme_ephemeron_type = 91,
  scheme_namespace_type = 95,
  scheme_cust_box_type = 156,
  scheme_flvector_type = 161,
  scheme_place_type = 164,
  scheme_place_bi_channel_type = 165, /* a place channel end (keel_places.h) */
  scheme_phantom_bytes_type = 179,
  _scheme_last_normal_type_ = 193,
  /* GC_malloc_weak_array's arrays (schemegc2.h GC_Weak_Array), the first tag after the normal
   * ones, as in Racket, whose runtime-internal scheme_rt_* tags start there. */
  scheme_rt_weak_array = 194,
  _scheme_last_type_ = 260
};

#define KEEL_MAX_TYPE_TAGS 512

/* ---------------------------------------------------------------------------------------------
 * Constants and predicates. None of these macros can trigger a collection.
 * ------------------------------------------------------------------------------------------- */

MZ_EXTERN Scheme_Object scheme_true[1];
MZ_EXTERN Scheme_Object scheme_false[1];
MZ_EXTERN Scheme_Object scheme_null[1];
MZ_EXTERN Scheme_Object scheme_void[1];
MZ_EXTERN Scheme_Object scheme_eof[1];

#define SCHEME_INTP(obj) (((intptr_t)(obj)) & 0x1)
#define scheme_make_integer(i) ((Scheme_Object *)((((uintptr_t)(intptr_t)(i)) << 1) | 0x1))
#define SCHEME_INT_VAL(obj) (((intptr_t)(obj)) >> 1)
#define SCHEME_MAX_FIXNUM (INTPTR_MAX >> 1)
#define SCHEME_MIN_FIXNUM (INTPTR_MIN >> 1)

#define SCHEME_TYPE(obj) (SCHEME_INTP(obj) ? (Scheme_Type)scheme_integer_type : ((Scheme_Object *)(obj))->type)
#define _SCHEME_TYPE(obj) (((Scheme_Object *)(obj))->type)
#define SAME_TYPE(a, b) ((Scheme_Type)(a) == (Scheme_Type)(b))
#define SAME_OBJ(a, b) ((a) == (b))
#define SAME_PTR(a, b) ((void *)(a) == (void *)(b))
#define SCHEME_OBJ_TYPEP(obj, t) (!SCHEME_INTP(obj) && SAME_TYPE(_SCHEME_TYPE(obj), (t)))

#define SCHEME_FALSEP(obj) SAME_OBJ((Scheme_Object *)(obj), scheme_false)
#define SCHEME_TRUEP(obj) (!SCHEME_FALSEP(obj))
#define SCHEME_NULLP(obj) SAME_OBJ((Scheme_Object *)(obj), scheme_null)
#define SCHEME_VOIDP(obj) SAME_OBJ((Scheme_Object *)(obj), scheme_void)
#define SCHEME_EOFP(obj) SAME_OBJ((Scheme_Object *)(obj), scheme_eof)
#define scheme_make_boolean(b) ((b) ? scheme_true : scheme_false)

#define SCHEME_PAIRP(obj) SCHEME_OBJ_TYPEP(obj, scheme_pair_type)
#define SCHEME_MUTABLE_PAIRP(obj) SCHEME_OBJ_TYPEP(obj, scheme_mutable_pair_type)
#define SCHEME_CAR(obj) (((Scheme_Simple_Object *)(obj))->u.pair_val.car)
#define SCHEME_CDR(obj) (((Scheme_Simple_Object *)(obj))->u.pair_val.cdr)
#define SCHEME_CADR(obj) (SCHEME_CAR(SCHEME_CDR(obj)))
#define SCHEME_CDDR(obj) (SCHEME_CDR(SCHEME_CDR(obj)))

#define SCHEME_CHARP(obj) SCHEME_OBJ_TYPEP(obj, scheme_char_type)
#define SCHEME_CHAR_VAL(obj) (((Scheme_Small_Object *)(obj))->u.char_val)

#define SCHEME_CHAR_STRINGP(obj) SCHEME_OBJ_TYPEP(obj, scheme_char_string_type)
#define SCHEME_CHAR_STR_VAL(obj) (((Scheme_Simple_Object *)(obj))->u.char_str_val.string_val)
#define SCHEME_CHAR_STRTAG_VAL(obj) (((Scheme_Simple_Object *)(obj))->u.char_str_val.tag_val)
#define SCHEME_CHAR_STRLEN_VAL(obj) SCHEME_CHAR_STRTAG_VAL(obj)

#define SCHEME_BYTE_STRINGP(obj) SCHEME_OBJ_TYPEP(obj, scheme_byte_string_type)
#define SCHEME_BYTE_STR_VAL(obj) (((Scheme_Simple_Object *)(obj))->u.byte_str_val.string_val)
#define SCHEME_BYTE_STRTAG_VAL(obj) (((Scheme_Simple_Object *)(obj))->u.byte_str_val.tag_val)
#define SCHEME_BYTE_STRLEN_VAL(obj) SCHEME_BYTE_STRTAG_VAL(obj)

#define SCHEME_SYMBOLP(obj) SCHEME_OBJ_TYPEP(obj, scheme_symbol_type)
#define SCHEME_SYM_VAL(obj) (((Scheme_Symbol *)(obj))->s)
#define SCHEME_SYM_LEN(obj) (((Scheme_Symbol *)(obj))->len)

#define SCHEME_VECTORP(obj) SCHEME_OBJ_TYPEP(obj, scheme_vector_type)
#define SCHEME_VEC_SIZE(obj) (((Scheme_Vector *)(obj))->size)
#define SCHEME_VEC_ELS(obj) (((Scheme_Vector *)(obj))->els)

#define SCHEME_FLVECTORP(obj) SCHEME_OBJ_TYPEP(obj, scheme_flvector_type)
#define SCHEME_FLVEC_SIZE(obj) (((Scheme_Double_Vector *)(obj))->size)
#define SCHEME_FLVEC_ELS(obj) (((Scheme_Double_Vector *)(obj))->els)

/* Objects in the master heap, shared among places (keel_places.h): the flag is in keyex. */
#define SCHEME_SHARED_ALLOCATEDP(obj) (((Scheme_Object *)(obj))->keyex & 0x2)

#define SCHEME_BOXP(obj) SCHEME_OBJ_TYPEP(obj, scheme_box_type)
#define SCHEME_BOX_VAL(obj) (((Scheme_Small_Object *)(obj))->u.ptr_val)
#define SCHEME_SET_BOX(b, v) (SCHEME_BOX_VAL(b) = (v))

/* Weak boxes (scheme_make_weak_box, scheme_make_late_weak_box): the value reads NULL once
 * nothing but weak boxes keeps it. Set only when the box is made. */
#define SCHEME_WEAK_BOXP(obj) SCHEME_OBJ_TYPEP(obj, scheme_weak_box_type)
#define SCHEME_WEAK_BOX_VAL(obj) SCHEME_BOX_VAL(obj)

#define SCHEME_DBLP(obj) SCHEME_OBJ_TYPEP(obj, scheme_double_type)
#define SCHEME_FLOATP(obj) SCHEME_DBLP(obj)
#define SCHEME_DBL_VAL(obj) (((Scheme_Double *)(obj))->double_val)
#define SCHEME_FLOAT_VAL(obj) SCHEME_DBL_VAL(obj)

#define SCHEME_BIGNUMP(obj) SCHEME_OBJ_TYPEP(obj, scheme_bignum_type)
#define SCHEME_EXACT_INTEGERP(obj) (SCHEME_INTP(obj) || SCHEME_BIGNUMP(obj))
#define SCHEME_BIGPOS(obj) (((Scheme_Bignum *)(obj))->pos)
#define SCHEME_BIGLEN(obj) (((Scheme_Bignum *)(obj))->len)
#define SCHEME_BIGDIG(obj) (((Scheme_Bignum *)(obj))->digits)
#define SCHEME_NUMBERP(obj) (SCHEME_EXACT_INTEGERP(obj) || SCHEME_DBLP(obj))

/* C pointer objects, plain or with an offset: the address they stand for is
 * (char *)SCHEME_CPTR_VAL(obj) + SCHEME_CPTR_OFFSET(obj). SCHEME_CPTR_VAL may be the start of a
 * collectable object (the collector keeps it and, under 3m, updates it when the object moves);
 * the offset then reaches inside it. */
#define SCHEME_CPTRP(obj) \
  (SCHEME_OBJ_TYPEP(obj, scheme_cpointer_type) || SCHEME_OBJ_TYPEP(obj, scheme_offset_cpointer_type))
#define SCHEME_CPTR_VAL(obj) (((Scheme_Simple_Object *)(obj))->u.cptr_val.val)
#define SCHEME_CPTR_TYPE(obj) (((Scheme_Simple_Object *)(obj))->u.cptr_val.type)
#define SCHEME_CPTR_OFFSET(obj) \
  (SAME_TYPE(_SCHEME_TYPE(obj), scheme_offset_cpointer_type) ? ((Scheme_Offset_Cptr *)(obj))->offset : 0)

#define SCHEME_NAMESPACEP(obj) SCHEME_OBJ_TYPEP(obj, scheme_namespace_type)

#define SCHEME_IMMUTABLEP(obj) (((Scheme_Object *)(obj))->keyex & 0x1)
#define SCHEME_SET_IMMUTABLE(obj) (((Scheme_Object *)(obj))->keyex |= 0x1)

/* ---------------------------------------------------------------------------------------------
 * Errors and escapes (DESIGN D10)
 *
 *   mz_jmp_buf * volatile save, fresh;
 *   save = scheme_current_thread->error_buf;
 *   scheme_current_thread->error_buf = &fresh;
 *   if (scheme_setjmp(scheme_error_buf)) { ...an error escaped... } else { ...work... }
 *   scheme_current_thread->error_buf = save;
 * ------------------------------------------------------------------------------------------- */

typedef struct mz_jmp_buf {
  sigjmp_buf jb;
  intptr_t gcvs;     /* GC_variable_stack at the setjmp */
  intptr_t gcvs_cnt; /* its frame count (3m) */
} mz_jmp_buf;

typedef struct Scheme_Thread {
  Scheme_Object so;
  mz_jmp_buf *error_buf; /* where scheme_signal_error escapes to; NULL: print and exit */
  void *keel_private;
} Scheme_Thread;

/* The thread (per place) that runs on the calling OS thread. */
MZ_EXTERN Scheme_Thread *keel_current_thread(void);
#define scheme_current_thread (keel_current_thread())

/* Records GC_variable_stack in both variants: in CGC the runtime's own frames are on it
 * (docs/design/roots.md .sol.frames), and keel_longjmp puts it back. */
#define scheme_setjmp(b) ((b).gcvs = (intptr_t)GC_variable_stack, sigsetjmp((b).jb, 0))
#define scheme_longjmp(b, v) keel_longjmp(&(b), (v))
#define scheme_error_buf (*(scheme_current_thread->error_buf))
#define scheme_mz_setjmp(b) scheme_setjmp(b)

/* Restores GC_variable_stack to its value at the setjmp and jumps; never returns. */
MZ_EXTERN void keel_longjmp(mz_jmp_buf *b, int v) __attribute__((noreturn));

/* Formats like printf, with Racket's extra directives: %c takes an mzchar, %S and %V take a
 * Scheme value (written), %D displays one, %e takes an errno value, %q a string to quote.
 * Escapes to scheme_error_buf; with no handler installed, prints the message and exits(1). */
MZ_EXTERN void scheme_signal_error(const char *msg, ...) __attribute__((noreturn));
/* Raises the out-of-memory error (a catchable escape, like scheme_signal_error). */
MZ_EXTERN void scheme_raise_out_of_memory(const char *where, const char *fmt, ...) __attribute__((noreturn));
/* The message of the last error escape on this thread (valid until the next one). */
MZ_EXTERN const char *keel_last_error_message(void);
/* Non-zero when the last escape was an out-of-memory error. */
MZ_EXTERN int keel_last_error_was_out_of_memory(void);

/* ---------------------------------------------------------------------------------------------
 * Memory allocation (Inside Racket §5.2)
 * ------------------------------------------------------------------------------------------- */

MZ_EXTERN void *scheme_malloc(size_t n);
MZ_EXTERN void *scheme_malloc_atomic(size_t n);
MZ_EXTERN void *scheme_malloc_uncollectable(size_t n);
MZ_EXTERN void *scheme_malloc_eternal(size_t n);
MZ_EXTERN void *scheme_calloc(size_t num, size_t size);
MZ_EXTERN void *scheme_malloc_tagged(size_t n);
MZ_EXTERN void *scheme_malloc_allow_interior(size_t n);
MZ_EXTERN void *scheme_malloc_atomic_allow_interior(size_t n);
MZ_EXTERN void *scheme_malloc_stubborn(size_t n);
MZ_EXTERN void scheme_end_stubborn_change(void *p);
MZ_EXTERN char *scheme_strdup(const char *str);
MZ_EXTERN char *scheme_strdup_eternal(const char *str);
MZ_EXTERN void *scheme_malloc_fail_ok(void *(*mallocf)(size_t), size_t size);
MZ_EXTERN void **scheme_malloc_immobile_box(void *p);
MZ_EXTERN void scheme_free_immobile_box(void **b);
MZ_EXTERN void *scheme_malloc_code(intptr_t size);
MZ_EXTERN void scheme_free_code(void *p);

#define scheme_malloc_small_tagged(s) scheme_malloc_tagged(s)
#define scheme_malloc_small_atomic_tagged(s) scheme_malloc_atomic(s)

/* Under 3m the common allocations are inline: a bump of the thread's nursery cursor and a
 * header store (docs/design/precise.md .sol.inline), with a call into the library only when
 * the nursery is full, the object too big, or every allocation is counted (KEEL_GC_STRESS).
 * The functions above stay real functions: `&scheme_malloc` and a call written
 * `(scheme_malloc)(n)` reach the library. Define KEEL_NO_INLINE_ALLOCATION to call it always. */
#if defined(MZ_PRECISE_GC) && defined(__GNUC__) && !defined(KEEL_NO_INLINE_ALLOCATION)
static inline void *keel_nursery_allocate_(size_t n, uintptr_t kind) {
  if (__builtin_expect(n <= KEEL_NURSERY_MAX_OBJECT, 1)) {
    const uintptr_t words = n == 0 ? 1 : (n + 7) >> 3;
    const uintptr_t need = (words + 1) << 3;
    const uintptr_t cursor = keel_nursery.cursor;
    if (__builtin_expect(need <= keel_nursery.limit - cursor, 1)) {
      *(uintptr_t *)cursor = (words << 12) | (kind << 4);
      keel_nursery.cursor = cursor + need;
      return (void *)(cursor + sizeof(uintptr_t));
    }
  }
  return NULL;
}
static inline void *keel_inline_scheme_malloc_(size_t n) {
  void *p = keel_nursery_allocate_(n, KEEL_NURSERY_NORMAL);
  return __builtin_expect(p != NULL, 1) ? p : (scheme_malloc)(n);
}
static inline void *keel_inline_scheme_malloc_atomic_(size_t n) {
  void *p = keel_nursery_allocate_(n, KEEL_NURSERY_ATOMIC);
  return __builtin_expect(p != NULL, 1) ? p : (scheme_malloc_atomic)(n);
}
static inline void *keel_inline_scheme_malloc_tagged_(size_t n) {
  void *p = keel_nursery_allocate_(n, KEEL_NURSERY_TAGGED);
  return __builtin_expect(p != NULL, 1) ? p : (scheme_malloc_tagged)(n);
}
#define scheme_malloc(n) keel_inline_scheme_malloc_(n)
#define scheme_malloc_atomic(n) keel_inline_scheme_malloc_atomic_(n)
#define scheme_malloc_tagged(n) keel_inline_scheme_malloc_tagged_(n)
#endif
#define MALLOC_N(type, n) ((type *)scheme_malloc(sizeof(type) * (n)))
#define MALLOC_ONE(type) ((type *)scheme_malloc(sizeof(type)))
#define MALLOC_N_ATOMIC(type, n) ((type *)scheme_malloc_atomic(sizeof(type) * (n)))
#define MALLOC_ONE_ATOMIC(type) ((type *)scheme_malloc_atomic(sizeof(type)))

/* Roots and stack setup */
typedef int (*Scheme_Env_Main)(Scheme_Env *env, int argc, char **argv);
typedef int (*Scheme_Nested_Main)(void *data);

MZ_EXTERN void scheme_register_extension_global(void *ptr, intptr_t size);
MZ_EXTERN void scheme_register_static(void *ptr, intptr_t size);
#define MZ_REGISTER_STATIC(x) scheme_register_static((void *)&(x), sizeof(x))
MZ_EXTERN int scheme_main_setup(int no_auto_statics, Scheme_Env_Main main, int argc, char **argv);
MZ_EXTERN int scheme_main_stack_setup(int no_auto_statics, Scheme_Nested_Main main, void *data);
MZ_EXTERN void scheme_set_stack_base(void *stack_addr, int no_auto_statics);
MZ_EXTERN void scheme_set_stack_bounds(void *stack_addr, void *stack_end, int no_auto_statics);
/* Only meaningful on 32-bit Windows; a documented no-op in Keel. */
MZ_EXTERN void scheme_register_tls_space(void *ptr, int tls_index);
MZ_EXTERN Scheme_Env *scheme_basic_env(void);

/* Pins, collection control */
MZ_EXTERN void scheme_dont_gc_ptr(void *p);
MZ_EXTERN void scheme_gc_ptr_ok(void *p);
MZ_EXTERN void scheme_collect_garbage(void);

/* Finalization (docs/api.md, Finalization). A finalizer is called as f(p, data) on the thread
 * whose collector owns p, after a collection finds p unreachable and before the call that
 * collected returns. Will-like finalizers (scheme_add_scheme_finalizer) run first, one per such
 * collection; then the registered one (one slot), then the added chain, newest first. p must be
 * an object's start, allocated by this thread's collector; anything else raises an error. */
MZ_EXTERN void scheme_register_finalizer(void *p, void (*f)(void *p, void *data), void *data,
                                         void (**oldf)(void *p, void *data), void **olddata);
MZ_EXTERN void scheme_add_finalizer(void *p, void (*f)(void *p, void *data), void *data);
MZ_EXTERN void scheme_add_finalizer_once(void *p, void (*f)(void *p, void *data), void *data);
MZ_EXTERN void scheme_subtract_finalizer(void *p, void (*f)(void *p, void *data), void *data);
MZ_EXTERN void scheme_add_scheme_finalizer(void *p, void (*f)(void *p, void *data), void *data);
MZ_EXTERN void scheme_add_scheme_finalizer_once(void *p, void (*f)(void *p, void *data), void *data);
MZ_EXTERN void scheme_remove_all_finalization(void *p);

/* Weak references (CGC only, as in Racket): *p is set to NULL once nothing but weak references
 * reaches the value *p had when registered (_indirect: the value v). The late kinds clear only
 * once the value is really gone, after finalizers that could keep it ran. p must be memory the
 * collector does not scan for the value (atomic, malloc'd), or it keeps the value itself. */
#ifdef MZ_PRECISE_GC
#define KEEL_NOT_IN_3M_ __attribute__((error("weak references do not exist in 3m (MZ_PRECISE_GC), whose objects move: use scheme_make_weak_box")))
#else
#define KEEL_NOT_IN_3M_
#endif
MZ_EXTERN void scheme_weak_reference(void **p) KEEL_NOT_IN_3M_;
MZ_EXTERN void scheme_weak_reference_indirect(void **p, void *v) KEEL_NOT_IN_3M_;
MZ_EXTERN void scheme_late_weak_reference(void **p) KEEL_NOT_IN_3M_;
MZ_EXTERN void scheme_late_weak_reference_indirect(void **p, void *v) KEEL_NOT_IN_3M_;
MZ_EXTERN void scheme_unweak_reference(void **p) KEEL_NOT_IN_3M_;
MZ_EXTERN void scheme_enable_garbage_collection(int on);

/* GC callbacks (docs/api.md, GC callbacks; keel_ffi.h has the FFI they run through). pre_desc
 * and post_desc are vectors of call vectors #(protocol fn arg ...): the calls run in order, on
 * the collecting thread, before every collection of the calling place (minor and major) marks
 * anything, and after it, once the heap is consistent and before finalizers run. The functions
 * must not call Keel (allocate, collect). Every call is checked here: an unknown protocol, a
 * wrong argument count or a value of the wrong kind raises an error naming it. Returns the key:
 * the callbacks stay while it is reachable (a collection that finds it gone has run the pre-calls
 * and runs no post-calls), and scheme_remove_gc_callback(key) removes them at once. Several
 * registrations run newest first. */
MZ_EXTERN Scheme_Object *scheme_add_gc_callback(Scheme_Object *pre_desc, Scheme_Object *post_desc);
MZ_EXTERN void scheme_remove_gc_callback(Scheme_Object *key);

/* ---------------------------------------------------------------------------------------------
 * Values
 * ------------------------------------------------------------------------------------------- */

/* C functions over Scheme values, as Racket's primitives are written (keel_ffi_callback). */
typedef Scheme_Object *(Scheme_Prim)(int argc, Scheme_Object *argv[]);
typedef Scheme_Object *(Scheme_Closed_Prim)(void *data, int argc, Scheme_Object *argv[]);

MZ_EXTERN Scheme_Type scheme_make_type(const char *name);
/* The name given to scheme_make_type, or Keel's name for a standard tag; NULL if unknown. */
MZ_EXTERN const char *scheme_get_type_name(Scheme_Type type);

MZ_EXTERN Scheme_Object *scheme_make_pair(Scheme_Object *car, Scheme_Object *cdr);
MZ_EXTERN Scheme_Object *scheme_make_mutable_pair(Scheme_Object *car, Scheme_Object *cdr);
MZ_EXTERN Scheme_Object *scheme_make_char(mzchar ch);
MZ_EXTERN Scheme_Object *scheme_make_utf8_string(const char *chars);
MZ_EXTERN Scheme_Object *scheme_make_sized_utf8_string(const char *chars, intptr_t len);
MZ_EXTERN Scheme_Object *scheme_make_char_string(const mzchar *chars);
MZ_EXTERN Scheme_Object *scheme_make_sized_char_string(mzchar *chars, intptr_t len, int copy);
MZ_EXTERN Scheme_Object *scheme_alloc_char_string(intptr_t size, mzchar fill);
MZ_EXTERN Scheme_Object *scheme_append_char_string(Scheme_Object *a, Scheme_Object *b);
MZ_EXTERN Scheme_Object *scheme_char_string_to_byte_string(Scheme_Object *s); /* UTF-8 encode */
MZ_EXTERN Scheme_Object *scheme_make_byte_string(const char *chars);
MZ_EXTERN Scheme_Object *scheme_make_sized_byte_string(char *chars, intptr_t len, int copy);
MZ_EXTERN Scheme_Object *scheme_alloc_byte_string(intptr_t size, char fill);
/* A byte string in the master heap, which every place may read, write and send by reference
 * (keel_places.h). Allowed once scheme_basic_env has returned. */
MZ_EXTERN Scheme_Object *scheme_alloc_shared_byte_string(intptr_t size, char fill);
/* A vector of `size` flonums, each 0.0. */
MZ_EXTERN Scheme_Object *scheme_alloc_flvector(intptr_t size);
MZ_EXTERN Scheme_Object *scheme_intern_symbol(const char *name);
MZ_EXTERN Scheme_Object *scheme_intern_exact_symbol(const char *name, uintptr_t len);
MZ_EXTERN Scheme_Object *scheme_make_vector(intptr_t size, Scheme_Object *fill);
MZ_EXTERN Scheme_Object *scheme_box(Scheme_Object *v);
MZ_EXTERN Scheme_Object *scheme_make_weak_box(Scheme_Object *v);
MZ_EXTERN Scheme_Object *scheme_make_late_weak_box(Scheme_Object *v);
/* Ephemerons: the value is kept only while the key is reachable by other paths (a value that
 * refers back to its key does not keep it); once the key is not, key and value read NULL. */
MZ_EXTERN Scheme_Object *scheme_make_ephemeron(Scheme_Object *key, Scheme_Object *val);
MZ_EXTERN Scheme_Object *scheme_ephemeron_key(Scheme_Object *e);
MZ_EXTERN Scheme_Object *scheme_ephemeron_value(Scheme_Object *e);
MZ_EXTERN Scheme_Object *scheme_make_double(double d);
MZ_EXTERN Scheme_Object *scheme_make_integer_value(intptr_t i);
MZ_EXTERN Scheme_Object *scheme_make_integer_value_from_unsigned(uintptr_t i);
/* Stores the value of an exact integer that fits in intptr_t into *v; returns 0 otherwise. */
MZ_EXTERN int scheme_get_int_val(Scheme_Object *o, intptr_t *v);
MZ_EXTERN Scheme_Object *scheme_read_bignum(const mzchar *str, int offset, int radix);
MZ_EXTERN Scheme_Object *scheme_read_bignum_bytes(const char *str, int offset, int radix);
MZ_EXTERN char *scheme_bignum_to_string(const Scheme_Object *n, int radix);
MZ_EXTERN Scheme_Object *scheme_make_cptr(void *cptr, Scheme_Object *typetag);
/* A C pointer object for the address (char *)cptr + offset. */
MZ_EXTERN Scheme_Object *scheme_make_offset_cptr(void *cptr, intptr_t offset, Scheme_Object *typetag);

MZ_EXTERN int scheme_eq(Scheme_Object *a, Scheme_Object *b);
MZ_EXTERN int scheme_equal(Scheme_Object *a, Scheme_Object *b);
MZ_EXTERN intptr_t scheme_list_length(Scheme_Object *list); /* -1 if not a proper list */

/* The printed form of a value as a collectable NUL-terminated string; *len gets its length
 * when len is not NULL. write quotes strings and characters; display does not. */
MZ_EXTERN char *scheme_write_to_string(Scheme_Object *obj, intptr_t *len);
MZ_EXTERN char *scheme_display_to_string(Scheme_Object *obj, intptr_t *len);

/* ---------------------------------------------------------------------------------------------
 * Local-pointer registration (Inside Racket §5.1.2). In CGC every MZ_GC_ macro expands to
 * nothing; with MZ_PRECISE_GC they build frames on GC_variable_stack.
 * ------------------------------------------------------------------------------------------- */

#ifdef MZ_PRECISE_GC
#define MZ_GC_DECL_REG(size) void *__gc_var_stack__[(size) + 2] = {(void *)0, (void *)(intptr_t)(size)}
#define MZ_GC_VAR_IN_REG(x, v) (__gc_var_stack__[(x) + 2] = (void *)&(v))
#define MZ_GC_ARRAY_VAR_IN_REG(x, v, l) \
  (__gc_var_stack__[(x) + 2] = (void *)0, __gc_var_stack__[(x) + 3] = (void *)&(v), \
   __gc_var_stack__[(x) + 4] = (void *)(intptr_t)(l))
#define MZ_GC_NO_VAR_IN_REG(x) (__gc_var_stack__[(x) + 2] = (void *)0)
#define MZ_GC_REG() (__gc_var_stack__[0] = (void *)GC_variable_stack, GC_variable_stack = __gc_var_stack__)
#define MZ_GC_UNREG() (GC_variable_stack = (void **)__gc_var_stack__[0])
#else
#define MZ_GC_DECL_REG(size)
#define MZ_GC_VAR_IN_REG(x, v)
#define MZ_GC_ARRAY_VAR_IN_REG(x, v, l)
#define MZ_GC_NO_VAR_IN_REG(x)
#define MZ_GC_REG()
#define MZ_GC_UNREG()
#endif

/* xform guidance macros: no-ops outside raco ctool --xform. */
#define XFORM_HIDE_EXPR(x) x
#define XFORM_START_SKIP
#define XFORM_END_SKIP
#define XFORM_SKIP_PROC
#define XFORM_CAN_IGNORE
#define XFORM_START_SUSPEND
#define XFORM_END_SUSPEND
#define XFORM_START_TRUST_ARITH
#define XFORM_END_TRUST_ARITH

KEEL_EXTERN_C_END

#endif /* KEEL_SCHEME_H */
