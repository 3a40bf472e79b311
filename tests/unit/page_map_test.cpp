// page_map_test.cpp: the global address -> page descriptor map (gc/page_map.h). The test uses
// addresses of a region it reserves itself (PROT_NONE), so no collector's pages are touched.
#include <boost/test/unit_test.hpp>

#include <sys/mman.h>

#include <cstdint>

#include "gc/page.h"
#include "gc/page_map.h"
#include "gc/size_classes.h"

namespace {

using keel::gc::kPageSize;
using keel::gc::PageDesc;
using keel::gc::PageMap;

// A reserved, inaccessible address range: the map's entries for it are this test's alone.
class Reservation {
 public:
  explicit Reservation(size_t bytes) : bytes_(bytes) {
    void* p = mmap(nullptr, bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    base_ = p == MAP_FAILED ? 0 : reinterpret_cast<uintptr_t>(p);
  }
  ~Reservation() {
    if (base_ != 0) munmap(reinterpret_cast<void*>(base_), bytes_);
  }
  Reservation(const Reservation&) = delete;
  Reservation& operator=(const Reservation&) = delete;
  uintptr_t base() const { return base_; }
  // The first page-aligned address in the reservation.
  uintptr_t FirstPage() const { return (base_ + kPageSize - 1) & ~(kPageSize - 1); }

 private:
  uintptr_t base_ = 0;
  size_t bytes_;
};

BOOST_AUTO_TEST_SUITE(page_map)

BOOST_AUTO_TEST_CASE(unmapped_addresses_have_no_page) {
  BOOST_TEST_REQUIRE(PageMap::Init());
  Reservation r(16 * kPageSize);
  BOOST_TEST_REQUIRE(r.base() != 0u);
  BOOST_TEST(PageMap::Lookup(r.FirstPage()) == nullptr);
  BOOST_TEST(PageMap::Lookup(0) == nullptr);
  BOOST_TEST(PageMap::Lookup(uintptr_t{1} << PageMap::kAddressBits) == nullptr);
  BOOST_TEST(PageMap::Lookup(~uintptr_t{0}) == nullptr);
  int on_stack = 0;
  BOOST_TEST(PageMap::Lookup(reinterpret_cast<uintptr_t>(&on_stack)) == nullptr);
}

BOOST_AUTO_TEST_CASE(set_and_lookup_cover_exactly_the_pages) {
  Reservation r(16 * kPageSize);
  BOOST_TEST_REQUIRE(r.base() != 0u);
  const uintptr_t first = r.FirstPage() + 2 * kPageSize;
  PageDesc a, b;
  BOOST_TEST_REQUIRE(PageMap::Set(first, 3, &a));
  BOOST_TEST_REQUIRE(PageMap::Set(first + 3 * kPageSize, 1, &b));
  for (uintptr_t addr = first; addr < first + 3 * kPageSize; addr += 4093) {
    BOOST_TEST_REQUIRE(PageMap::Lookup(addr) == &a, "offset " << addr - first);
  }
  BOOST_TEST(PageMap::Lookup(first + 3 * kPageSize - 1) == &a);
  BOOST_TEST(PageMap::Lookup(first + 3 * kPageSize) == &b);
  BOOST_TEST(PageMap::Lookup(first + 4 * kPageSize - 1) == &b);
  BOOST_TEST(PageMap::Lookup(first - 1) == nullptr);
  BOOST_TEST(PageMap::Lookup(first + 4 * kPageSize) == nullptr);

  // Clearing one page leaves its neighbours.
  BOOST_TEST_REQUIRE(PageMap::Set(first + kPageSize, 1, nullptr));
  BOOST_TEST(PageMap::Lookup(first) == &a);
  BOOST_TEST(PageMap::Lookup(first + kPageSize + 100) == nullptr);
  BOOST_TEST(PageMap::Lookup(first + 2 * kPageSize) == &a);
  BOOST_TEST_REQUIRE(PageMap::Set(first, 4, nullptr));
  for (uintptr_t addr = first; addr < first + 4 * kPageSize; addr += kPageSize / 2) {
    BOOST_TEST(PageMap::Lookup(addr) == nullptr);
  }
}

BOOST_AUTO_TEST_CASE(ranges_crossing_a_leaf_boundary) {
  // Reserve enough to contain a 1 GiB leaf boundary with pages on both sides.
  const size_t leaf = size_t{1} << PageMap::kLeafShift;
  Reservation r(leaf + 8 * kPageSize);
  BOOST_TEST_REQUIRE(r.base() != 0u);
  uintptr_t boundary = (r.base() + 4 * kPageSize + leaf - 1) & ~(uintptr_t{leaf} - 1);
  BOOST_TEST_REQUIRE(boundary - 2 * kPageSize >= r.FirstPage());
  BOOST_TEST_REQUIRE(boundary + 2 * kPageSize <= r.base() + leaf + 8 * kPageSize);
  PageDesc d;
  const uintptr_t start = boundary - 2 * kPageSize;
  BOOST_TEST_REQUIRE(PageMap::Set(start, 4, &d));
  for (uintptr_t addr = start; addr < start + 4 * kPageSize; addr += kPageSize / 4) {
    BOOST_TEST_REQUIRE(PageMap::Lookup(addr) == &d);
  }
  BOOST_TEST(PageMap::Lookup(start - 1) == nullptr);
  BOOST_TEST(PageMap::Lookup(start + 4 * kPageSize) == nullptr);
  BOOST_TEST_REQUIRE(PageMap::Set(start, 4, nullptr));
  BOOST_TEST(PageMap::Lookup(boundary) == nullptr);
  BOOST_TEST(PageMap::Lookup(boundary - 1) == nullptr);
}

BOOST_AUTO_TEST_CASE(addresses_beyond_the_map_are_refused) {
  PageDesc d;
  BOOST_TEST(!PageMap::Set(uintptr_t{1} << PageMap::kAddressBits, 1, &d));
  BOOST_TEST(PageMap::Lookup(uintptr_t{1} << PageMap::kAddressBits) == nullptr);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
