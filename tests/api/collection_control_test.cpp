// collection_control_test.cpp: scheme_collect_garbage, the scheme_enable_garbage_collection
// counter, and PLTDISABLEGC (run by the keel_api_tests_pltdisablegc CTest entry, which sets it).
#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <cstdlib>

#include "gc.h"
#include "keel_gc.h"
#include "scheme.h"
#include "support/gc_probe.h"

namespace {

using keel_test::CollectClean;
using keel_test::CollectionCount;
using keel_test::HasPatternAt;
using keel_test::Hidden;
using keel_test::IsLiveObjectStart;
using keel_test::WasFreed;

KEEL_TEST_NOINLINE Hidden MakeGarbage(size_t n, uint64_t seed) {
  void* p = scheme_malloc(n);
  keel_test::FillPattern(p, n, seed);
  return Hidden(p);
}

BOOST_FIXTURE_TEST_SUITE(collection_control, keel_test::CleanStackFixture)

BOOST_AUTO_TEST_CASE(scheme_collect_garbage_collects_now) {
  Hidden garbage = MakeGarbage(64, 1);
  uint64_t before = CollectionCount();  // the allocation may have collected already
  CollectClean();
  BOOST_TEST(CollectionCount() == before + 1);
  KEEL_CHECK_FREED(WasFreed(garbage));
  BOOST_TEST(keel_gc_verify_heap() == 0u);
}

BOOST_AUTO_TEST_CASE(disabled_collection_does_not_collect) {
  uint64_t before = CollectionCount();
  scheme_enable_garbage_collection(0);
  scheme_enable_garbage_collection(0);  // the counter is now 2
  Hidden garbage = MakeGarbage(64, 2);
  Hidden big_garbage = MakeGarbage(100000, 3);
  CollectClean();
  // Far more than any allocation budget: no allocation-triggered collection either.
  keel_test::AllocateGarbage(size_t{48} << 20);
  CollectClean();
  BOOST_TEST(CollectionCount() == before);
  BOOST_TEST(IsLiveObjectStart(garbage), "disabled collection freed an object");
  BOOST_TEST(IsLiveObjectStart(big_garbage));
  BOOST_TEST(HasPatternAt(garbage, 64, 2));

  scheme_enable_garbage_collection(1);  // counter 1: still disabled
  CollectClean();
  BOOST_TEST(CollectionCount() == before, "one enable must not undo two disables");
  BOOST_TEST(IsLiveObjectStart(garbage));

  scheme_enable_garbage_collection(1);  // counter 0: enabled again
  CollectClean();
  BOOST_TEST(CollectionCount() > before);
  KEEL_CHECK_FREED(WasFreed(garbage));
  KEEL_CHECK_FREED(WasFreed(big_garbage));
  BOOST_TEST(keel_gc_verify_heap() == 0u);
}

BOOST_AUTO_TEST_CASE(allocation_triggers_collections) {
  uint64_t before = CollectionCount();
  keel_test::AllocateGarbage(size_t{64} << 20);
  BOOST_TEST(CollectionCount() > before, "64 MiB of allocation never triggered a collection");
  BOOST_TEST(keel_gc_verify_heap() == 0u);
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------------------------
// Runs only where PLTDISABLEGC is set (the keel_api_tests_pltdisablegc CTest entry runs this
// suite alone, so the runtime starts inside this test).
boost::test_tools::assertion_result PltDisableGcIsSet(boost::unit_test::test_unit_id) {
  const char* v = std::getenv("PLTDISABLEGC");
  boost::test_tools::assertion_result r(v != nullptr);
  r.message() << "PLTDISABLEGC is not set";
  return r;
}

BOOST_FIXTURE_TEST_SUITE(pltdisablegc_suite, keel_test::CleanStackFixture)

BOOST_AUTO_TEST_CASE(pltdisablegc_starts_with_collection_disabled,
                     *boost::unit_test::precondition(PltDisableGcIsSet)) {
  Scheme_Env* env = scheme_basic_env();
  BOOST_TEST(env != nullptr);
  uint64_t before = CollectionCount();
  Hidden garbage = MakeGarbage(128, 4);
  CollectClean();
  keel_test::AllocateGarbage(size_t{48} << 20);
  CollectClean();
  BOOST_TEST(CollectionCount() == before, "collections happened with PLTDISABLEGC set");
  BOOST_TEST(IsLiveObjectStart(garbage));

  // The counter starts at 1, so one enable turns collection on.
  scheme_enable_garbage_collection(1);
  CollectClean();
  BOOST_TEST(CollectionCount() > before);
  KEEL_CHECK_FREED(WasFreed(garbage));
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
