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
#include "support/spec_examples.h"

namespace {

using keel_test::CollectClean;
using keel_test::spec::kExamples;
using keel_test::spec::RunAll;
using keel_test::spec::ShapeOk;

using Results = std::vector<Scheme_Object*, keel::traced_allocator<Scheme_Object*>>;

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
