// spec_examples_test.cpp: the spec's own MZ_GC_* examples (tests/api/spec_examples.c, the same
// C source the CGC suite runs) compiled with MZ_PRECISE_GC and run under 3m, where their
// registrations are what keeps their objects: each builds its documented result, and the results
// survive collections that move them. CTest runs this suite again with KEEL_GC_STRESS=1, a
// collection at every allocation (tests/CMakeLists.txt). Left out: the spec's three unregistered
// forms of the nested call, which §5.1.2 shows as unsafe under 3m, and its scheme_set_stack_base
// program, whose unregistered list relies on CGC's stack scan (the api suite runs both).
#include <boost/test/unit_test.hpp>

#include <cstring>
#include <string>

#include "keel_gc.h"
#include "scheme.h"
#include "support/spec_examples.h"

namespace {

using keel_test::spec::kExamples;
using keel_test::spec::kRegisteredFirst;
using keel_test::spec::ShapeOk;

// Results kept in an array that the test registers as a root.
struct Results {
  static constexpr size_t kCapacity = 24 * (kExamples - kRegisteredFirst);
  Scheme_Object* items[kCapacity] = {};
  size_t size = 0;
  void push_back(Scheme_Object* o) {
    BOOST_TEST_REQUIRE(size < kCapacity);
    items[size++] = o;
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(spec_examples_3m)

BOOST_AUTO_TEST_CASE(mz_gc_macros_build_frames) {
  BOOST_TEST(std::string(keel_gc_variant()) == "3m");
  void** before = GC_variable_stack;
  Scheme_Object* x = scheme_null;
  MZ_GC_DECL_REG(1);
  MZ_GC_VAR_IN_REG(0, x);
  MZ_GC_REG();
  BOOST_TEST(GC_variable_stack == static_cast<void**>(__gc_var_stack__));
  BOOST_TEST(GC_variable_stack[0] == static_cast<void*>(before), "the frame links to the one below");
  BOOST_TEST(reinterpret_cast<intptr_t>(GC_variable_stack[1]) == 1, "one slot");
  BOOST_TEST(GC_variable_stack[2] == static_cast<void*>(&x));
  MZ_GC_UNREG();
  BOOST_TEST(GC_variable_stack == before);
}

BOOST_AUTO_TEST_CASE(example_results_survive_collections_that_move_them) {
  Results results;
  MZ_GC_DECL_REG(3);
  MZ_GC_ARRAY_VAR_IN_REG(0, results.items, Results::kCapacity);
  MZ_GC_REG();
  for (int round = 0; round < 24; ++round) {
    keel_test::spec::RunRegistered(results);
    BOOST_TEST_REQUIRE(spec_example_array_registration() == 10, "round " << round);
    if (round % 4 == 3) keel_gc_collect_minor();
    if (round % 8 == 7) scheme_collect_garbage();
  }
  scheme_collect_garbage();
  constexpr size_t kPerRound = kExamples - kRegisteredFirst;
  for (size_t i = 0; i < results.size; ++i) {
    const size_t example = kRegisteredFirst + i % kPerRound;
    BOOST_TEST_REQUIRE(ShapeOk(example, results.items[i]), "example " << example << " result " << i);
  }
  BOOST_TEST(keel_gc_verify_heap() == 0u);
  MZ_GC_UNREG();
}

BOOST_AUTO_TEST_SUITE_END()
