// nursery_test.cpp: the precise plan's nursery (gc/nursery.h, docs/design/precise.md
// .sol.nursery, .sol.header): bump allocation with a header per object, forwarding that keeps
// the area walkable, reuse without giving pages back, poisoning, and its Check().
#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <cstring>
#include <vector>

#include "gc/collector.h"
#include "gc/nursery.h"
#include "gc/page_map.h"
#include "tests/unit/fresh_collector.h"

namespace {

using keel::gc::Kind;
using keel::gc::Nursery;
using keel::gc::PageMap;
using keel::gc::PageState;
using keel::gc::Problems;
using keel_test::FreshCollector;

// The problems Check finds in n.
size_t ProblemsIn(const Nursery& n) {
  Problems problems;
  n.Check(problems);
  return problems.count();
}

bool AllZero(const void* p, size_t bytes) {
  const auto* b = static_cast<const unsigned char*>(p);
  for (size_t i = 0; i < bytes; ++i) {
    if (b[i] != 0) return false;
  }
  return true;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(nursery)

// A heap that goes leaves its dedicated runs as spares (heap.md .sol.spares); a nursery that
// takes one gets stale bytes, and zeroes them ahead of the cursor before any object lies there.
BOOST_AUTO_TEST_CASE(a_spare_run_is_zeroed_before_use) {
  constexpr size_t kRun = 2 << 20;  // past kMaxSharedRunPages: a dedicated run
  void* big = nullptr;
  {
    FreshCollector h;
    big = h.c.Allocate(kRun - 64, Kind::kAtomic);
    BOOST_TEST_REQUIRE(big != nullptr);
    std::memset(big, 0x5a, kRun - 64);
  }
  keel::gc::Collector::DestroyCurrent();  // the run becomes a spare
  keel::gc::Collector& c = keel::gc::Collector::Current();
  {
    Nursery n(c.heap());
    BOOST_TEST_REQUIRE(n.Resize(kRun));
    BOOST_TEST(n.Contains(big));  // the same memory, not a fresh mapping
    size_t made = 0;
    bool zero = true;
    for (void* p = nullptr; (p = n.Allocate(200, Kind::kNormal, false)) != nullptr; ++made) {
      zero = zero && AllZero(p, 200);
      std::memset(p, 0x77, 200);
    }
    BOOST_TEST(made > 9000u);
    BOOST_TEST(zero);
    BOOST_TEST(ProblemsIn(n) == 0u);
  }
  keel::gc::Collector::DestroyCurrent();
  keel::gc::Heap::ReleaseLooseRuns();
}

BOOST_AUTO_TEST_CASE(allocates_back_to_back_with_headers_until_full) {
  FreshCollector h;
  Nursery n(h.c.heap());
  BOOST_TEST_REQUIRE(n.Resize(256 << 10));
  BOOST_TEST(n.capacity() == size_t{256 << 10});
  struct Made {
    void* p;
    size_t bytes;
    Kind kind;
  };
  std::vector<Made> made;
  for (size_t i = 0;; ++i) {
    const size_t bytes = (i * 37) % 300;  // 0 included: one word
    const Kind kind = i % 2 == 0 ? Kind::kNormal : Kind::kAtomic;
    void* p = n.AllocateInline(bytes, kind);
    if (p == nullptr) break;
    BOOST_TEST_REQUIRE(n.Contains(p));
    BOOST_TEST_REQUIRE(reinterpret_cast<uintptr_t>(p) % 8 == 0u);
    BOOST_TEST_REQUIRE(AllZero(p, bytes));
    std::memset(p, 0x5a, bytes);
    if (!made.empty()) {
      const Made& last = made.back();
      const size_t last_words = last.bytes == 0 ? 1 : (last.bytes + 7) / 8;
      BOOST_TEST_REQUIRE(static_cast<char*>(p) == static_cast<char*>(last.p) + last_words * 8 + Nursery::kHeaderBytes);
    }
    made.push_back(Made{p, bytes, kind});
  }
  BOOST_TEST(made.size() > 1000u);
  BOOST_TEST(n.capacity() - n.used() < 8 + 300 + Nursery::kHeaderBytes);
  BOOST_TEST(n.AllocateInline(Nursery::kMaxObjectBytes + 1, Kind::kNormal) == nullptr);
  // The walk finds every object with its size and kind.
  size_t i = 0;
  n.ForEachObject([&](void* p, uintptr_t header) {
    BOOST_TEST_REQUIRE(i < made.size());
    BOOST_TEST_REQUIRE(p == made[i].p);
    BOOST_TEST_REQUIRE(Nursery::BytesOf(header) >= made[i].bytes);
    BOOST_TEST_REQUIRE((Nursery::KindOf(header) == made[i].kind));
    ++i;
  });
  BOOST_TEST(i == made.size());
  BOOST_TEST(ProblemsIn(n) == 0u);
  // The area is heap memory the page map knows as the nursery's, and the heap verifier, which
  // does not know nurseries yet, finds nothing wrong with it.
  const keel::gc::PageDesc* d = PageMap::Lookup(reinterpret_cast<uintptr_t>(made.back().p));
  BOOST_TEST_REQUIRE(d != nullptr);
  BOOST_TEST((d->state == PageState::kNursery));
  BOOST_TEST(h.c.Verify(false) == 0u);
}

BOOST_AUTO_TEST_CASE(forwarding_keeps_the_area_walkable) {
  FreshCollector h;
  Nursery n(h.c.heap());
  BOOST_TEST_REQUIRE(n.Resize(64 << 10));
  void* a = n.AllocateInline(40, Kind::kNormal);
  void* b = n.AllocateInline(8, Kind::kNormal);
  void* c = n.AllocateInline(100, Kind::kAtomic);
  int new_home = 0;
  Nursery::Forward(b, &new_home);
  BOOST_TEST(Nursery::IsForwarded(Nursery::HeaderOf(b)));
  BOOST_TEST(!Nursery::IsForwarded(Nursery::HeaderOf(a)));
  BOOST_TEST(Nursery::ForwardedTo(b) == static_cast<void*>(&new_home));
  std::vector<void*> seen;
  n.ForEachObject([&](void* p, uintptr_t) { seen.push_back(p); });
  BOOST_TEST((seen == std::vector<void*>{a, b, c}));
  BOOST_TEST(ProblemsIn(n) == 0u);
}

BOOST_AUTO_TEST_CASE(reset_reuses_the_area_zeroed_and_poisons_on_request) {
  FreshCollector h;
  Nursery n(h.c.heap());
  BOOST_TEST_REQUIRE(n.Resize(256 << 10));
  const size_t heap_before = h.c.heap().heap_bytes();
  void* first = n.AllocateInline(64, Kind::kNormal);
  std::memset(first, 0x77, 64);
  n.Reset(false);
  BOOST_TEST(n.used() == 0u);
  // After a reset the inline path waits for the slow path to zero the area ahead.
  BOOST_TEST(n.AllocateInline(64, Kind::kNormal) == nullptr);
  void* again = n.Allocate(64, Kind::kNormal, false);
  BOOST_TEST(again == first);  // the same memory, reused
  BOOST_TEST(AllZero(again, 64));
  BOOST_TEST(n.AllocateInline(64, Kind::kNormal) != nullptr, "the inline path runs on through the zeroed block");
  BOOST_TEST(h.c.heap().heap_bytes() == heap_before);  // nothing given back or taken

  // Fill well past one zeroing block, dirtying every object, then reset with poison.
  void* far = nullptr;
  for (int i = 0; i < 1200; ++i) {
    void* p = n.Allocate(64, Kind::kNormal, false);
    BOOST_TEST_REQUIRE(p != nullptr);
    std::memset(p, 0x77, 64);
    far = p;
  }
  n.Reset(true);
  // A stale pointer reads the poison, which is odd (no object start) ...
  const uint64_t stale = *static_cast<uint64_t*>(far);
  BOOST_TEST((stale & 1) == 1u);
  BOOST_TEST(stale != 0u);
  // ... and new objects still come zeroed, in the other half of the area, so no new object
  // takes a stale pointer's address; the first half stays poisoned.
  void* fresh = n.Allocate(64, Kind::kNormal, false);
  BOOST_TEST(reinterpret_cast<uintptr_t>(fresh) >= reinterpret_cast<uintptr_t>(first) + (256 << 10) / 2);
  BOOST_TEST(AllZero(fresh, 64));
  BOOST_TEST(*static_cast<uint64_t*>(far) == stale);
  BOOST_TEST(*static_cast<uint64_t*>(first) == stale);
  BOOST_TEST(ProblemsIn(n) == 0u);
  // The next checked reset goes back to the first half.
  n.Reset(true);
  BOOST_TEST(n.Allocate(64, Kind::kNormal, false) == first);
  BOOST_TEST(ProblemsIn(n) == 0u);
}

BOOST_AUTO_TEST_CASE(check_reports_a_broken_header) {
  FreshCollector h;
  Nursery n(h.c.heap());
  BOOST_TEST_REQUIRE(n.Resize(64 << 10));
  void* p = n.AllocateInline(24, Kind::kNormal);
  n.AllocateInline(24, Kind::kNormal);
  const uintptr_t saved = Nursery::HeaderOf(p);
  Nursery::HeaderOf(p) = Nursery::MakeHeader(100000, Kind::kNormal);  // runs past the cursor
  BOOST_TEST(ProblemsIn(n) > 0u);
  Nursery::HeaderOf(p) = saved | 0x4;  // a reserved bit set
  BOOST_TEST(ProblemsIn(n) > 0u);
  Nursery::HeaderOf(p) = saved;
  BOOST_TEST(ProblemsIn(n) == 0u);
}

BOOST_AUTO_TEST_CASE(resize_gives_the_old_area_back) {
  FreshCollector h;
  Nursery n(h.c.heap());
  BOOST_TEST_REQUIRE(n.Resize(1 << 20));
  const size_t in_use = h.c.heap().in_use_bytes();
  BOOST_TEST_REQUIRE(n.Resize(2 << 20));
  BOOST_TEST(n.capacity() == size_t{2 << 20});
  BOOST_TEST(h.c.heap().in_use_bytes() == in_use + (1 << 20));
  BOOST_TEST(h.c.Verify(false) == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
