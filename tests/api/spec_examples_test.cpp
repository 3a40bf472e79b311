// spec_examples_test.cpp: runs the spec's own code examples (spec_examples.c, compiled as C)
// between collections and checks what they build; and checks that the MZ_GC_* macros expand to
// nothing in CGC, as §5.1.2 promises.
#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "keel.hpp"
#include "keel_gc.h"
#include "scheme.h"
#include "support/child_process.h"
#include "support/gc_probe.h"
#include "support/scheme_escape.h"

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

namespace {

using keel_test::CollectClean;

bool IsPair(Scheme_Object* o, Scheme_Object* car, Scheme_Object* cdr) {
  return SCHEME_PAIRP(o) && SCHEME_CAR(o) == car && SCHEME_CDR(o) == cdr;
}

// ((#t . #f) . (#f . #t))
bool IsNestedCallsShape(Scheme_Object* o) {
  return SCHEME_PAIRP(o) && IsPair(SCHEME_CAR(o), scheme_true, scheme_false) &&
         IsPair(SCHEME_CDR(o), scheme_false, scheme_true) && SCHEME_CAR(o) != SCHEME_CDR(o);
}

// ((#t . #f) . (#t . #f)), two distinct pairs
bool IsConvertedShape(Scheme_Object* o) {
  return SCHEME_PAIRP(o) && IsPair(SCHEME_CAR(o), scheme_true, scheme_false) &&
         IsPair(SCHEME_CDR(o), scheme_true, scheme_false) && SCHEME_CAR(o) != SCHEME_CDR(o);
}

// (#t (#t . #f) #t): the result of both accumulation examples
bool IsAccumShape(Scheme_Object* o) {
  if (scheme_list_length(o) != 3) return false;
  return SCHEME_CAR(o) == scheme_true && IsPair(SCHEME_CADR(o), scheme_true, scheme_false) &&
         SCHEME_CAR(SCHEME_CDDR(o)) == scheme_true;
}

bool IsCharString(Scheme_Object* o, const std::u32string& expected) {
  if (!SCHEME_CHAR_STRINGP(o) || SCHEME_CHAR_STRLEN_VAL(o) != static_cast<intptr_t>(expected.size())) return false;
  for (size_t i = 0; i < expected.size(); ++i) {
    if (SCHEME_CHAR_STR_VAL(o)[i] != static_cast<mzchar>(expected[i])) return false;
  }
  return true;
}

// (42 . ("member" . (#t)))
bool IsStructMembersShape(Scheme_Object* o) {
  if (!SCHEME_PAIRP(o) || SCHEME_CAR(o) != scheme_make_integer(42)) return false;
  Scheme_Object* rest = SCHEME_CDR(o);
  if (!SCHEME_PAIRP(rest) || !IsCharString(SCHEME_CAR(rest), U"member")) return false;
  return IsPair(SCHEME_CDR(rest), scheme_true, scheme_null);
}

const mzchar* Mz(const char32_t* s) { return reinterpret_cast<const mzchar*>(s); }

// (read_bignum("foobar", radix 8) . (read_bignum("foobar", radix 10) . "bar"))
bool IsSlotRecyclingShape(Scheme_Object* o) {
  if (!SCHEME_PAIRP(o) || !SCHEME_PAIRP(SCHEME_CDR(o))) return false;
  Scheme_Object* inner = SCHEME_CDR(o);
  return scheme_equal(SCHEME_CAR(o), scheme_read_bignum(Mz(U"foobar"), 0, 8)) &&
         scheme_equal(SCHEME_CAR(inner), scheme_read_bignum(Mz(U"foobar"), 0, 10)) &&
         IsCharString(SCHEME_CDR(inner), U"bar");
}

using Results = std::vector<Scheme_Object*, keel::traced_allocator<Scheme_Object*>>;

// Runs every object-returning example once, in a fixed order.
void RunAll(Results& out) {
  out.push_back(spec_example_nested_calls());
  out.push_back(spec_example_tmp_first());
  out.push_back(spec_example_converted_form());
  out.push_back(spec_example_registered_temporaries());
  out.push_back(spec_example_struct_members());
  out.push_back(spec_example_slot_recycling());
  out.push_back(spec_example_nested_block());
  out.push_back(spec_example_no_var_in_reg());
}
constexpr size_t kExamples = 8;

bool ShapeOk(size_t example, Scheme_Object* o) {
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

void RunSlotRecycling(void* out) { *static_cast<Scheme_Object**>(out) = spec_example_slot_recycling(); }

BOOST_FIXTURE_TEST_SUITE(spec_examples, keel_test::CleanStackFixture)

BOOST_AUTO_TEST_CASE(each_example_builds_its_documented_result) {
  Results results;
  RunAll(results);
  BOOST_TEST_REQUIRE(results.size() == kExamples);
  for (size_t i = 0; i < kExamples; ++i) BOOST_TEST(ShapeOk(i, results[i]), "example " << i);
  BOOST_TEST(spec_example_array_registration() == 10);
}

BOOST_AUTO_TEST_CASE(slot_recycling_example_does_not_escape) {
  Scheme_Object* result = nullptr;
  keel_test::EscapeResult r = keel_test::RunWithErrorHandler(RunSlotRecycling, &result);
  BOOST_TEST(!r.escaped, "the example escaped: " << r.message);
  BOOST_TEST(result != nullptr);
}

BOOST_AUTO_TEST_CASE(example_results_survive_many_collections) {
  Results results;
  for (int round = 0; round < 60; ++round) {
    RunAll(results);
    BOOST_TEST_REQUIRE(spec_example_array_registration() == 10, "round " << round);
    if (round % 10 == 9) {
      keel_test::AllocateGarbage();
      CollectClean();
    }
  }
  CollectClean();
  for (size_t i = 0; i < results.size(); ++i) {
    BOOST_TEST_REQUIRE(ShapeOk(i % kExamples, results[i]), "example " << i % kExamples << " result " << i);
  }
  BOOST_TEST(keel_gc_verify_heap() == 0u);
}

BOOST_AUTO_TEST_CASE(set_stack_base_example_runs_a_program) {
  keel_test::ChildResult r = keel_test::RunInChild([] {
    keel_shutdown();  // the example must come before any other use of the runtime
    char arg0[] = "program";
    char* argv[] = {arg0, nullptr};
    int status = spec_example_set_stack_base_main(1, argv);
    if (status != 0) return 20 + status;
    return spec_real_main_result == 1 ? 0 : 30 + spec_real_main_result;
  });
  BOOST_TEST(r.ExitedWith(0), r.Describe());
}

#define KEEL_TEST_STRINGIFY2(...) #__VA_ARGS__
#define KEEL_TEST_STRINGIFY(...) KEEL_TEST_STRINGIFY2(__VA_ARGS__)

BOOST_AUTO_TEST_CASE(mz_gc_macros_expand_to_nothing_in_cgc) {
#ifdef MZ_PRECISE_GC
  BOOST_FAIL("keel_api_tests builds against CGC; MZ_PRECISE_GC must not be defined");
#endif
  BOOST_TEST(std::string(KEEL_TEST_STRINGIFY(MZ_GC_DECL_REG(3))).empty());
  BOOST_TEST(std::string(KEEL_TEST_STRINGIFY(MZ_GC_VAR_IN_REG(0, x))).empty());
  BOOST_TEST(std::string(KEEL_TEST_STRINGIFY(MZ_GC_ARRAY_VAR_IN_REG(1, a, 10))).empty());
  BOOST_TEST(std::string(KEEL_TEST_STRINGIFY(MZ_GC_NO_VAR_IN_REG(1))).empty());
  BOOST_TEST(std::string(KEEL_TEST_STRINGIFY(MZ_GC_REG())).empty());
  BOOST_TEST(std::string(KEEL_TEST_STRINGIFY(MZ_GC_UNREG())).empty());
  BOOST_TEST(std::string(keel_gc_variant()) == "cgc");
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
