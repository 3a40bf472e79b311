// page_bits_test.cpp: the page descriptor's allocation, mark and age bitmaps (gc/page.h),
// checked against a plain model under seeded random operations.
#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <memory>
#include <random>
#include <utility>
#include <vector>

#include "gc/page.h"
#include "gc/size_classes.h"

namespace {

using keel::gc::kMaxObjectsPerPage;
using keel::gc::kPageSize;
using keel::gc::kSizeClasses;
using keel::gc::PageDesc;

// A page of `objects` slots, all free.
std::unique_ptr<PageDesc> MakePage(uint32_t objects) {
  auto page = std::make_unique<PageDesc>();
  page->objects = static_cast<uint16_t>(objects);
  return page;
}

// The model: per slot, alloc and mark bits.
struct Model {
  std::vector<bool> alloc, mark;
  explicit Model(uint32_t n) : alloc(n, false), mark(n, false) {}
  bool Used(uint32_t i) const { return alloc[i] || mark[i]; }
};

void CheckAgainstModel(const PageDesc& page, const Model& m) {
  uint32_t n = page.objects;
  size_t allocated = 0, marked = 0;
  for (uint32_t i = 0; i < n; ++i) {
    BOOST_TEST_REQUIRE(page.IsAllocated(i) == m.Used(i), "slot " << i);
    BOOST_TEST_REQUIRE(page.IsMarked(i) == m.mark[i], "slot " << i);
    allocated += m.Used(i) ? 1 : 0;
    marked += m.mark[i] ? 1 : 0;
  }
  BOOST_TEST_REQUIRE(page.CountAllocated() == allocated);
  BOOST_TEST_REQUIRE(page.CountMarked() == marked);
  // Walking NextFreeRun from 0 visits exactly the maximal free runs, in order.
  uint32_t from = 0, begin = 0, end = 0;
  uint32_t expect = 0;
  for (;;) {
    while (expect < n && m.Used(expect)) ++expect;
    bool found = page.NextFreeRun(from, &begin, &end);
    if (expect >= n) {
      BOOST_TEST_REQUIRE(!found, "a free run after the last free slot, at " << begin);
      break;
    }
    BOOST_TEST_REQUIRE(found, "missed the free run at " << expect);
    uint32_t expect_end = expect;
    while (expect_end < n && !m.Used(expect_end)) ++expect_end;
    BOOST_TEST_REQUIRE(begin == expect);
    BOOST_TEST_REQUIRE(end == expect_end);
    from = end;
    expect = end;
  }
}

BOOST_AUTO_TEST_SUITE(page_bits)

BOOST_AUTO_TEST_CASE(popcount_counts_every_bit) {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 10000; ++i) {
    uint64_t x = rng();
    if (i % 4 == 1) x &= rng();  // sparse words too
    if (i % 4 == 2) x |= rng();  // and dense ones
    unsigned naive = 0;
    for (uint64_t y = x; y != 0; y >>= 1) naive += static_cast<unsigned>(y & 1);
    BOOST_TEST(keel::gc::PopCount(x) == naive, "word " << x);
  }
  BOOST_TEST(keel::gc::PopCount(0) == 0u);
  BOOST_TEST(keel::gc::PopCount(~uint64_t{0}) == 64u);
}

BOOST_AUTO_TEST_CASE(fresh_page_is_one_free_run) {
  for (const auto& c : kSizeClasses) {
    auto page = MakePage(c.objects);
    uint32_t begin = 99, end = 99;
    BOOST_TEST(page->NextFreeRun(0, &begin, &end));
    BOOST_TEST(begin == 0u);
    BOOST_TEST(end == uint32_t{c.objects});
    BOOST_TEST(!page->NextFreeRun(c.objects, &begin, &end));
    BOOST_TEST(page->CountAllocated() == 0u);
  }
}

BOOST_AUTO_TEST_CASE(alloc_ranges_across_word_boundaries) {
  const uint32_t n = static_cast<uint32_t>(kMaxObjectsPerPage);
  auto page = MakePage(n);
  Model m(n);
  const uint32_t ranges[][2] = {{0, 1}, {63, 65}, {64, 128}, {127, 129}, {200, 200}, {300, 700}, {n - 1, n}, {n - 70, n - 2}};
  for (const auto& r : ranges) {
    page->SetAllocRange(r[0], r[1]);
    for (uint32_t i = r[0]; i < r[1]; ++i) m.alloc[i] = true;
    CheckAgainstModel(*page, m);
  }
  page->ClearAllocRange(1, n - 1);
  for (uint32_t i = 1; i < n - 1; ++i) m.alloc[i] = false;
  CheckAgainstModel(*page, m);
  page->ClearAllocRange(0, n);
  for (uint32_t i = 0; i < n; ++i) m.alloc[i] = false;
  CheckAgainstModel(*page, m);
}

BOOST_AUTO_TEST_CASE(mark_bits_count_as_used) {
  auto page = MakePage(128);
  Model m(128);
  BOOST_TEST(page->TestAndMark(5));
  BOOST_TEST(!page->TestAndMark(5));
  m.mark[5] = true;
  BOOST_TEST(page->TestAndMark(64));
  m.mark[64] = true;
  page->SetAllocRange(64, 66);
  m.alloc[64] = m.alloc[65] = true;
  CheckAgainstModel(*page, m);
  page->ClearBits();
  CheckAgainstModel(*page, Model(128));
}

BOOST_AUTO_TEST_CASE(random_operations_match_the_model) {
  std::mt19937_64 rng(20240601);
  for (const auto& c : kSizeClasses) {
    const uint32_t n = c.objects;
    auto page = MakePage(n);
    Model m(n);
    for (int op = 0; op < 300; ++op) {
      uint32_t a = static_cast<uint32_t>(rng() % (n + 1));
      uint32_t b = static_cast<uint32_t>(rng() % (n + 1));
      if (a > b) std::swap(a, b);
      switch (rng() % 4) {
        case 0:
        case 1:
          page->SetAllocRange(a, b);
          for (uint32_t i = a; i < b; ++i) m.alloc[i] = true;
          break;
        case 2:
          page->ClearAllocRange(a, b);
          for (uint32_t i = a; i < b; ++i) m.alloc[i] = false;
          break;
        default:
          if (a < n) {
            bool was = m.mark[a];
            BOOST_TEST_REQUIRE(page->TestAndMark(a) == !was);
            m.mark[a] = true;
          }
          break;
      }
      if (op % 10 == 0) {
        // NextFreeRun from an arbitrary start finds the first free slot at or after it.
        uint32_t from = static_cast<uint32_t>(rng() % (n + 1));
        uint32_t begin = 0, end = 0;
        uint32_t expect = from;
        while (expect < n && m.Used(expect)) ++expect;
        bool found = page->NextFreeRun(from, &begin, &end);
        BOOST_TEST_REQUIRE(found == (expect < n));
        if (found) {
          BOOST_TEST_REQUIRE(begin == expect);
          uint32_t expect_end = expect;
          while (expect_end < n && !m.Used(expect_end)) ++expect_end;
          BOOST_TEST_REQUIRE(end == expect_end);
        }
      }
    }
    CheckAgainstModel(*page, m);
  }
}

// The minor sweep's state table (docs/design/heap.md .inv.bits) on every slot state a minor
// collection can leave, mixed at random across word boundaries, with and without aging.
BOOST_AUTO_TEST_CASE(minor_sweep_ages_promotes_and_frees) {
  enum State { kFree, kYoung, kAged, kOld, kYoungMarked, kAgedMarked, kStates };
  std::mt19937_64 rng(20261124);
  for (bool ages : {true, false}) {
    const uint32_t n = static_cast<uint32_t>(kMaxObjectsPerPage);
    auto page = MakePage(n);
    std::vector<int> state(n);
    for (uint32_t i = 0; i < n; ++i) {
      state[i] = static_cast<int>(rng() % kStates);
      uint64_t bit = uint64_t{1} << (i & 63);
      auto& b = page->bits[i >> 6];
      if (state[i] == kYoung || state[i] == kAged || state[i] == kYoungMarked || state[i] == kAgedMarked) b.alloc |= bit;
      if (state[i] == kOld || state[i] == kYoungMarked || state[i] == kAgedMarked) b.mark |= bit;
      if (state[i] == kAged || state[i] == kAgedMarked) b.age |= bit;
    }
    PageDesc::MinorCounts counts = page->SweepMinor(ages);
    uint32_t old = 0, aged = 0, promoted = 0, aged_survivors = 0;
    for (uint32_t i = 0; i < n; ++i) {
      // Expected afterwards: free, aged, or old.
      bool becomes_aged = ages && state[i] == kYoungMarked;
      bool becomes_old = state[i] == kOld || state[i] == kAgedMarked || (!ages && state[i] == kYoungMarked);
      BOOST_TEST_REQUIRE(page->IsAllocated(i) == (becomes_aged || becomes_old), "slot " << i << " state " << state[i]);
      BOOST_TEST_REQUIRE(page->IsMarked(i) == becomes_old, "slot " << i << " state " << state[i]);
      BOOST_TEST_REQUIRE(page->IsAged(i) == becomes_aged, "slot " << i << " state " << state[i]);
      old += becomes_old ? 1 : 0;
      aged += becomes_aged ? 1 : 0;
      promoted += becomes_old && state[i] != kOld ? 1 : 0;
      aged_survivors += state[i] == kAgedMarked ? 1 : 0;
    }
    BOOST_TEST(counts.old == old);
    BOOST_TEST(counts.aged == aged);
    BOOST_TEST(counts.promoted == promoted);
    BOOST_TEST(counts.aged_survivors == aged_survivors);
    BOOST_TEST(page->CountAged() == aged);
    // A second sweep with nothing marked frees every aged slot and keeps the old ones.
    PageDesc::MinorCounts again = page->SweepMinor(ages);
    BOOST_TEST(again.old == old);
    BOOST_TEST(again.aged == 0u);
    BOOST_TEST(again.promoted == 0u);
    BOOST_TEST(page->CountAllocated() == old);
  }
}

BOOST_AUTO_TEST_CASE(index_and_object_start_agree) {
  for (const auto& c : kSizeClasses) {
    PageDesc page;
    page.start = uintptr_t{1} << 30;
    page.obj_size = c.size;
    page.magic = c.magic;
    page.objects = c.objects;
    for (uint32_t i = 0; i < c.objects; ++i) {
      uintptr_t start = page.ObjectStart(i);
      BOOST_TEST_REQUIRE(start == page.start + uintptr_t{i} * c.size);
      BOOST_TEST_REQUIRE(page.IndexOf(start - page.start) == i);
      BOOST_TEST_REQUIRE(page.IndexOf(start - page.start + c.size - 1) == i);
    }
    BOOST_TEST(size_t{c.objects} * c.size <= kPageSize);
  }
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
