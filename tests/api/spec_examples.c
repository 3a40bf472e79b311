/* spec_examples.c: every code example of Inside Racket chapter 5 ("Memory Allocation",
 * §5.1.2 Local Pointers and scheme_set_stack_base in §5.2), compiled as C exactly as printed,
 * each wrapped in a function that returns its result. The only changes to the examples are the
 * two known mistakes (reference/racket_bc.md §6):
 *   - the slot-recycling example assigns SCHEME_CHAR_VAL(tmp1) to a mzchar*; it must be
 *     SCHEME_CHAR_STR_VAL;
 *   - the struct-member example registers x.t in slot 0 again; it must be slot 1.
 * Where an example says "..." for the user's own code, the wrapper supplies a small use of the
 * registered variables (marked "filled in"), and helper names the examples leave undefined
 * (f, real_main) get minimal definitions. spec_examples_test.cpp checks the results. */
#include <stddef.h>
#include <string.h>

#include "scheme.h"

/* --- §5.1.2: the nested-call expression and its rewrites --------------------------------- */

Scheme_Object *spec_example_nested_calls(void) {
  return scheme_make_pair(scheme_make_pair(scheme_true, scheme_false),

                   scheme_make_pair(scheme_false, scheme_true));
}

Scheme_Object *spec_example_tmp_first(void) {
  Scheme_Object *tmp;
  tmp = scheme_make_pair(scheme_true, scheme_false);

  return scheme_make_pair(tmp,

                   scheme_make_pair(scheme_false, scheme_true));
}

Scheme_Object *spec_example_converted_form(void) {
  Scheme_Object *tmp1, *tmp2;
  tmp1 = scheme_make_pair(scheme_true, scheme_false);

  tmp2 = scheme_make_pair(scheme_true, scheme_false);

  return scheme_make_pair(tmp1, tmp2);
}

/* --- §5.1.2: the instrumented converted form ----------------------------------------------- */

Scheme_Object *spec_example_registered_temporaries(void)
  {

    Scheme_Object *tmp1 = NULL, *tmp2 = NULL, *result;

    MZ_GC_DECL_REG(2);

  

    MZ_GC_VAR_IN_REG(0, tmp1);

    MZ_GC_VAR_IN_REG(1, tmp2);

    MZ_GC_REG();

  

    tmp1 = scheme_make_pair(scheme_true, scheme_false);

    tmp2 = scheme_make_pair(scheme_true, scheme_false);

    result = scheme_make_pair(tmp1, tmp2);

  

    MZ_GC_UNREG();

  

    return result;

  }

/* --- §5.1.2: registering an array of 10 char*s --------------------------------------------- */

/* The example's f "presumably uses a until it returns": it fills the array with fresh
 * collectable strings (allocating, so a collection can happen while a is registered). */
static void f(char **a) {
  int i;
  for (i = 0; i < 10; i++) {
    char text[16];
    text[0] = 'a';
    text[1] = (char)('0' + i);
    text[2] = 0;
    a[i] = scheme_strdup(text);
  }
}

/* Returns how many entries of the array hold the string f stored (10 when all survived). */
int spec_example_array_registration(void)
  {

    Scheme_Object *tmp1 = NULL;

    char *a[10];

    int i;

    MZ_GC_DECL_REG(4);

  

    MZ_GC_ARRAY_VAR_IN_REG(0, a, 10);

    MZ_GC_VAR_IN_REG(3, tmp1);

    /* Clear a before a potential GC: */

    for (i = 0; i < 10; i++) a[i] = NULL;

    /* ... (filled in) */
    MZ_GC_REG();

    f(a);

    /* ... (filled in) */
    {
      int good = 0;
      tmp1 = scheme_make_pair(scheme_true, scheme_null); /* allocate while a is registered */
      for (i = 0; i < 10; i++)
        if (a[i] && a[i][0] == 'a' && a[i][1] == (char)('0' + i) && a[i][2] == 0) good++;
      MZ_GC_UNREG();
      return good;
    }

  }

/* --- §5.1.2: structure members as registered variables ------------------------------------- */

Scheme_Object *spec_example_struct_members(void)
  {

    struct { void *s; int v; void *t; } x = {NULL, 0, NULL};

    MZ_GC_DECL_REG(2);

  

    MZ_GC_VAR_IN_REG(0, x.s);

    MZ_GC_VAR_IN_REG(1, x.t); /* fixed: the example says slot 0 */

    /* ... (filled in) */
    MZ_GC_REG();
    x.s = scheme_make_pair(scheme_true, scheme_null);
    x.v = 42;
    x.t = scheme_make_utf8_string("member");
    x.s = scheme_make_pair((Scheme_Object *)x.t, (Scheme_Object *)x.s);
    MZ_GC_UNREG();
    return scheme_make_pair(scheme_make_integer(x.v), (Scheme_Object *)x.s);

  }

/* --- §5.1.2: recycling slots, and escaping without MZ_GC_UNREG ------------------------------ */

Scheme_Object *spec_example_slot_recycling(void)
  {

    Scheme_Object *tmp1 = NULL, *tmp2 = NULL;

    mzchar *a, *b;

    MZ_GC_DECL_REG(2);

  

    MZ_GC_VAR_IN_REG(0, tmp1);

    MZ_GC_VAR_IN_REG(1, tmp2);

  

    tmp1 = scheme_make_utf8_string("foo");

    MZ_GC_REG();

    tmp2 = scheme_make_utf8_string("bar");

    tmp1 = scheme_append_char_string(tmp1, tmp2);

  

    if (SCHEME_FALSEP(tmp1))

      scheme_signal_error("shouldn't happen!");

  

    a = SCHEME_CHAR_STR_VAL(tmp1); /* fixed: the example says SCHEME_CHAR_VAL */

  

    MZ_GC_VAR_IN_REG(0, a);

  

    tmp2 = scheme_make_pair(scheme_read_bignum(a, 0, 10), tmp2);

  

    MZ_GC_UNREG();

  

    if (SCHEME_INTP(tmp2)) {

      return 0;

    }

  

    MZ_GC_REG();

    tmp1 = scheme_make_pair(scheme_read_bignum(a, 0, 8), tmp2);

    MZ_GC_UNREG();

  

    return tmp1;

  }

/* --- §5.1.2: a nested block with its own registration -------------------------------------- */

Scheme_Object *spec_example_nested_block(void)
  {

    Scheme_Object *accum = NULL;

    MZ_GC_DECL_REG(1);

    MZ_GC_VAR_IN_REG(0, accum);

    MZ_GC_REG();

  

    accum = scheme_make_pair(scheme_true, scheme_null);

    {

      Scheme_Object *tmp = NULL;

      MZ_GC_DECL_REG(1);

      MZ_GC_VAR_IN_REG(0, tmp);

      MZ_GC_REG();

  

      tmp = scheme_make_pair(scheme_true, scheme_false);

      accum = scheme_make_pair(tmp, accum);

  

      MZ_GC_UNREG();

    }

    accum = scheme_make_pair(scheme_true, accum);

  

    MZ_GC_UNREG();

    return accum;

  }

/* --- §5.1.2: a block variable in the enclosing block's frame (MZ_GC_NO_VAR_IN_REG) ---------- */

Scheme_Object *spec_example_no_var_in_reg(void)
  {

    Scheme_Object *accum = NULL;

    MZ_GC_DECL_REG(2);

    MZ_GC_VAR_IN_REG(0, accum);

    MZ_GC_NO_VAR_IN_REG(1);

    MZ_GC_REG();

  

    accum = scheme_make_pair(scheme_true, scheme_null);

    {

      Scheme_Object *tmp = NULL;

      MZ_GC_VAR_IN_REG(1, tmp);

  

      tmp = scheme_make_pair(scheme_true, scheme_false);

      accum = scheme_make_pair(tmp, accum);

  

      MZ_GC_NO_VAR_IN_REG(1);

    }

    accum = scheme_make_pair(scheme_true, accum);

  

    MZ_GC_UNREG();

    return accum;

  }

/* --- §5.2: scheme_set_stack_base ------------------------------------------------------------ */

/* What real_main computed: a list built after scheme_basic_env, checked after collections.
 * 1 = the list survived intact, 0 = it did not, -1 = real_main did not run. */
int spec_real_main_result = -1;

/* Not static, and never inlined: the example warns that an inlined real_main may put
 * collectable values deeper in the stack than dummy. */
__attribute__((noinline)) int real_main(int argc, char **argv) {
  Scheme_Env *env;
  Scheme_Object *volatile list;
  Scheme_Object *l;
  int i, ok = 1;
  (void)argv;
  env = scheme_basic_env();
  if (!env) {
    spec_real_main_result = 0;
    return 1;
  }
  list = scheme_null;
  for (i = 0; i < 1000 * argc; i++) list = scheme_make_pair(scheme_make_integer(i), list);
  for (i = 0; i < 3; i++) {
    int j;
    for (j = 0; j < 2000; j++) scheme_make_vector(10, scheme_false); /* garbage */
    scheme_collect_garbage();
  }
  l = list;
  for (i = 1000 * argc - 1; i >= 0; i--) {
    if (!SCHEME_PAIRP(l) || SCHEME_CAR(l) != scheme_make_integer(i)) {
      ok = 0;
      break;
    }
    l = SCHEME_CDR(l);
  }
  if (!SCHEME_NULLP(l)) ok = 0;
  spec_real_main_result = ok;
  return 0;
}

/* The example is a program's main; here it has its own name, and returns 0 the way main
 * implicitly does. */
int spec_example_set_stack_base_main(int argc, char **argv) {

       int dummy;

       scheme_set_stack_base(&dummy, 0);

       real_main(argc, argv); /* calls scheme_basic_env(), etc. */

       return 0;
}
