// size_classes_test.cpp: the small-object size classes (gc/size_classes.h).
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cstdint>

#include "gc/size_classes.h"

namespace {

using keel::gc::kMaxSmallSize;
using keel::gc::kMinObjectSize;
using keel::gc::kPageSize;
using keel::gc::kSizeClassCount;
using keel::gc::kSizeClasses;
using keel::gc::SizeClassFor;

BOOST_AUTO_TEST_SUITE(size_classes)

BOOST_AUTO_TEST_CASE(every_small_size_maps_to_the_smallest_class_that_holds_it) {
  for (size_t n = 1; n <= kMaxSmallSize; ++n) {
    int cls = SizeClassFor(n);
    BOOST_TEST_REQUIRE(cls >= 0);
    BOOST_TEST_REQUIRE(cls < kSizeClassCount);
    BOOST_TEST_REQUIRE(kSizeClasses[cls].size >= n, "size " << n << " -> class " << cls);
    // No smaller class would do (a larger one only wastes memory).
    if (cls > 0) BOOST_TEST_REQUIRE(kSizeClasses[cls - 1].size < std::max<size_t>(n, kMinObjectSize), "size " << n);
  }
  BOOST_TEST(kSizeClasses[SizeClassFor(kMaxSmallSize)].size == kMaxSmallSize);
}

BOOST_AUTO_TEST_CASE(classes_are_increasing_word_multiples_that_fit_a_page) {
  for (int i = 0; i < kSizeClassCount; ++i) {
    const auto& c = kSizeClasses[i];
    BOOST_TEST(c.size % 8 == 0u, "class " << i);
    BOOST_TEST(c.size >= kMinObjectSize);
    if (i > 0) BOOST_TEST(c.size > kSizeClasses[i - 1].size, "class " << i);
    BOOST_TEST(c.objects == kPageSize / c.size, "class " << i);
    BOOST_TEST(size_t{c.objects} * c.size <= kPageSize);
  }
  BOOST_TEST(kSizeClasses[0].size == kMinObjectSize);
  BOOST_TEST(kSizeClasses[kSizeClassCount - 1].size == kMaxSmallSize);
}

BOOST_AUTO_TEST_CASE(magic_reciprocal_divides_every_offset_in_a_page) {
  for (int i = 0; i < kSizeClassCount; ++i) {
    const auto& c = kSizeClasses[i];
    for (uint64_t off = 0; off < kPageSize; ++off) {
      uint64_t index = (off * c.magic) >> 32;
      if (index != off / c.size) {
        BOOST_TEST_REQUIRE(index == off / c.size, "class " << i << " offset " << off);
      }
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
