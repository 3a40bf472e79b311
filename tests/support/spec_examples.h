// spec_examples.h: the entry points of spec_examples.c (the spec's own code examples, compiled
// as C) and the shapes of the results they document; the CGC and the 3m suites both run them.
#ifndef KEEL_TESTS_SUPPORT_SPEC_EXAMPLES_H
#define KEEL_TESTS_SUPPORT_SPEC_EXAMPLES_H

#include <cstddef>
#include <string>

#include "scheme.h"

extern "C" {
Scheme_Object* spec_example_nested_calls(void);
Scheme_Object* spec_example_tmp_first(void);
Scheme_Object* spec_example_converted_form(void);
Scheme_Object* spec_example_registered_temporaries(void);
int spec_example_array_registration(void);
Scheme_Object* spec_example_struct_members(void);
Scheme_Object* spec_example_slot_recycling(void);
Scheme_Object* spec_example_nested_block(void);
Scheme_Object* spec_example_no_var_in_reg(void);
int spec_example_set_stack_base_main(int argc, char** argv);
extern int spec_real_main_result;
}

namespace keel_test::spec {

inline bool IsPair(Scheme_Object* o, Scheme_Object* car, Scheme_Object* cdr) {
  return SCHEME_PAIRP(o) && SCHEME_CAR(o) == car && SCHEME_CDR(o) == cdr;
}

// ((#t . #f) . (#f . #t))
inline bool IsNestedCallsShape(Scheme_Object* o) {
  return SCHEME_PAIRP(o) && IsPair(SCHEME_CAR(o), scheme_true, scheme_false) &&
         IsPair(SCHEME_CDR(o), scheme_false, scheme_true) && SCHEME_CAR(o) != SCHEME_CDR(o);
}

// ((#t . #f) . (#t . #f)), two distinct pairs
inline bool IsConvertedShape(Scheme_Object* o) {
  return SCHEME_PAIRP(o) && IsPair(SCHEME_CAR(o), scheme_true, scheme_false) &&
         IsPair(SCHEME_CDR(o), scheme_true, scheme_false) && SCHEME_CAR(o) != SCHEME_CDR(o);
}

// (#t (#t . #f) #t): the result of both accumulation examples
inline bool IsAccumShape(Scheme_Object* o) {
  if (scheme_list_length(o) != 3) return false;
  return SCHEME_CAR(o) == scheme_true && IsPair(SCHEME_CADR(o), scheme_true, scheme_false) &&
         SCHEME_CAR(SCHEME_CDDR(o)) == scheme_true;
}

inline bool IsCharString(Scheme_Object* o, const std::u32string& expected) {
  if (!SCHEME_CHAR_STRINGP(o) || SCHEME_CHAR_STRLEN_VAL(o) != static_cast<intptr_t>(expected.size())) return false;
  for (size_t i = 0; i < expected.size(); ++i) {
    if (SCHEME_CHAR_STR_VAL(o)[i] != static_cast<mzchar>(expected[i])) return false;
  }
  return true;
}

// (42 . ("member" . (#t)))
inline bool IsStructMembersShape(Scheme_Object* o) {
  if (!SCHEME_PAIRP(o) || SCHEME_CAR(o) != scheme_make_integer(42)) return false;
  Scheme_Object* rest = SCHEME_CDR(o);
  if (!SCHEME_PAIRP(rest) || !IsCharString(SCHEME_CAR(rest), U"member")) return false;
  return IsPair(SCHEME_CDR(rest), scheme_true, scheme_null);
}

inline const mzchar* Mz(const char32_t* s) { return reinterpret_cast<const mzchar*>(s); }

// (read_bignum("foobar", radix 8) . (read_bignum("foobar", radix 10) . "bar"))
inline bool IsSlotRecyclingShape(Scheme_Object* o) {
  if (!SCHEME_PAIRP(o) || !SCHEME_PAIRP(SCHEME_CDR(o))) return false;
  Scheme_Object* inner = SCHEME_CDR(o);
  return scheme_equal(SCHEME_CAR(o), scheme_read_bignum(Mz(U"foobar"), 0, 8)) &&
         scheme_equal(SCHEME_CAR(inner), scheme_read_bignum(Mz(U"foobar"), 0, 10)) &&
         IsCharString(SCHEME_CDR(inner), U"bar");
}

// Runs every object-returning example once, in a fixed order, appending the results to `out`
// (a container whose push_back keeps them where the collector finds them).
// Examples kRegisteredFirst and later register their temporaries; the first three are the
// spec's unregistered forms, which §5.1.2 shows as what goes wrong under 3m (RunRegistered).
inline constexpr size_t kRegisteredFirst = 3;
template <class Results>
void RunRegistered(Results& out) {
  out.push_back(spec_example_registered_temporaries());
  out.push_back(spec_example_struct_members());
  out.push_back(spec_example_slot_recycling());
  out.push_back(spec_example_nested_block());
  out.push_back(spec_example_no_var_in_reg());
}
template <class Results>
void RunAll(Results& out) {
  out.push_back(spec_example_nested_calls());
  out.push_back(spec_example_tmp_first());
  out.push_back(spec_example_converted_form());
  RunRegistered(out);
}
inline constexpr size_t kExamples = 8;

inline bool ShapeOk(size_t example, Scheme_Object* o) {
  switch (example) {
    case 0:
    case 1: return IsNestedCallsShape(o);
    case 2:
    case 3: return IsConvertedShape(o);
    case 4: return IsStructMembersShape(o);
    case 5: return IsSlotRecyclingShape(o);
    default: return IsAccumShape(o);
  }
}

}  // namespace keel_test::spec

#endif  // KEEL_TESTS_SUPPORT_SPEC_EXAMPLES_H
