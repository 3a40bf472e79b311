// spaces_test.cpp: the plan's spaces (gc/mark_sweep_space.h, gc/large_object_space.h): the
// allocation path a collection uses never collects, and each space's Check() finds a broken
// list or flag that the heap verifier relies on (docs/design/heap.md .sol.spaces).
#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <vector>

#include "gc/collector.h"
#include "gc/page_map.h"
#include "tests/unit/fresh_collector.h"

namespace {

using keel::gc::Collector;
using keel::gc::Kind;
using keel::gc::PageDesc;
using keel::gc::PageMap;
using keel_test::FreshCollector;  // each case gets its own collector

PageDesc* DescOf(const void* p) { return PageMap::Lookup(reinterpret_cast<uintptr_t>(p)); }

}  // namespace

BOOST_AUTO_TEST_SUITE(spaces)

// A moving plan copies survivors with this path in the middle of a collection: it must never
// start one, however far past the allocation budget it goes.
BOOST_AUTO_TEST_CASE(allocation_without_collecting_never_collects) {
  FreshCollector f;
  Collector& c = f.c;
  const uint64_t before = c.collections();
  std::vector<void*> objects;
  uint64_t bytes = 0;
  for (int i = 0; bytes < (uint64_t{48} << 20); ++i) {
    const size_t size = i % 97 == 0 ? 40000 : 16 + 16 * static_cast<size_t>(i % 24);  // some big
    void* p = c.plan().AllocateWithoutCollecting(size, i % 3 == 0 ? Kind::kAtomic : Kind::kNormal);
    BOOST_TEST_REQUIRE(p != nullptr);
    BOOST_TEST_REQUIRE(c.BaseOf(p) == p);
    BOOST_TEST_REQUIRE(c.SizeOf(p) >= size);
    if (i % 1000 == 0) objects.push_back(p);
    bytes += size;
  }
  BOOST_TEST(c.collections() == before);
  BOOST_TEST(c.bytes_since_gc() > (uint64_t{32} << 20));
  for (void* p : objects) BOOST_TEST(c.BaseOf(p) == p);
  BOOST_TEST(c.Verify(false) == 0u);
  // The same bytes through the mutator's path would have collected: the first slow path after
  // them does.
  for (int i = 0; i < 100000 && c.collections() == before; ++i) c.Allocate(64, Kind::kNormal);
  BOOST_TEST(c.collections() > before);
  BOOST_TEST(c.Verify(false) == 0u);
}

// A page left partly live by a collection is on its partial list; a flag that disagrees with
// the list is reported by the mark-sweep space's check.
BOOST_AUTO_TEST_CASE(mark_sweep_check_finds_a_wrong_partial_flag) {
  FreshCollector f;
  Collector& c = f.c;
  void* volatile kept = nullptr;
  for (int i = 0; i < 64; ++i) {
    void* p = c.Allocate(64, Kind::kNormal);
    if (i == 10) kept = p;
  }
  c.Collect(KEEL_GC_REASON_EXPLICIT);
  BOOST_TEST_REQUIRE(c.BaseOf(kept) == kept);
  PageDesc* d = DescOf(kept);
  BOOST_TEST_REQUIRE(d->on_partial);
  BOOST_TEST(c.Verify(false) == 0u);
  d->on_partial = false;
  BOOST_TEST(c.Verify(false) > 0u);
  d->on_partial = true;
  BOOST_TEST(c.Verify(false) == 0u);
}

// An aged big object must be on the large-object space's young list, or the next minor sweep
// would never make it old.
BOOST_AUTO_TEST_CASE(large_object_check_finds_an_unlisted_aged_object) {
  FreshCollector f;
  Collector& c = f.c;
  void* volatile kept = c.Allocate(100000, Kind::kNormal);
  c.Collect(KEEL_GC_REASON_EXPLICIT);
  BOOST_TEST_REQUIRE(c.BaseOf(kept) == kept);
  PageDesc* d = DescOf(kept);
  BOOST_TEST(c.Verify(false) == 0u);
  const auto saved = d->bits[0];
  d->bits[0] = keel::gc::SlotBits{1, 0, 1};  // allocated, unmarked, aged: an aged object
  BOOST_TEST(c.Verify(false) > 0u);
  d->bits[0] = saved;
  BOOST_TEST(c.Verify(false) == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
