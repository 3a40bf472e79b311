// heap_bound_test.cpp: a long-running allocation loop must not grow the heap with the amount
// allocated, only with the amount live; and memory must go back once the live data is dropped.
// Runs in a child with a fresh runtime, so earlier tests' peaks do not count.
#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <cstdio>
#include <cstring>

#include "gc.h"
#include "keel_gc.h"
#include "scheme.h"
#include "support/child_process.h"
#include "support/gc_probe.h"

namespace {

using keel_test::ChildChecks;
using keel_test::ChildResult;
using keel_test::CollectClean;
using keel_test::RunInChild;

constexpr size_t kMiB = size_t{1} << 20;
constexpr uint64_t kTotal = uint64_t{2} << 30;  // 2 GiB allocated in all
constexpr size_t kBlock = 64 * 1024;
constexpr size_t kLive = 10 * kMiB;  // live at any time
constexpr size_t kSlots = kLive / kBlock;
// "Bounded": a generous multiple of the live data, nowhere near the 2 GiB allocated.
constexpr size_t kBoundFactor = 8;

// Each live block carries its sequence number at both ends.
void Stamp(void* block, uint64_t seq) {
  std::memset(block, static_cast<int>(seq & 0xFF), kBlock);  // touch every page
  std::memcpy(block, &seq, sizeof seq);
  std::memcpy(static_cast<char*>(block) + kBlock - sizeof seq, &seq, sizeof seq);
}
bool StampIs(const void* block, uint64_t seq) {
  uint64_t a = 0, b = 0;
  std::memcpy(&a, block, sizeof a);
  std::memcpy(&b, static_cast<const char*>(block) + kBlock - sizeof b, sizeof b);
  return a == seq && b == seq;
}

// Small pointerful garbage alongside the big blocks.
KEEL_TEST_NOINLINE void SmallChurn(int n) {
  void** prev = nullptr;
  for (int i = 0; i < n; ++i) {
    void** p = static_cast<void**>(scheme_malloc(48));
    p[0] = prev;
    prev = p;
  }
}

struct LoopResult {
  bool contents_ok = true;
  size_t peak_rss = 0;
  size_t rss_loaded = 0;
};

// The loop; the live set is a scanned ring of kSlots blocks that the caller owns.
KEEL_TEST_NOINLINE LoopResult RunLoop(void** ring) {
  LoopResult r;
  uint64_t seq = 0;
  for (uint64_t allocated = 0; allocated < kTotal; allocated += kBlock, ++seq) {
    size_t slot = seq % kSlots;
    if (ring[slot] != nullptr && !StampIs(ring[slot], seq - kSlots)) r.contents_ok = false;
    void* block = scheme_malloc_atomic(kBlock);
    Stamp(block, seq);
    ring[slot] = block;
    SmallChurn(4);
    if (seq % 2048 == 0) {
      size_t rss = keel_test::ResidentBytes();
      if (rss > r.peak_rss) r.peak_rss = rss;
    }
  }
  for (size_t i = 0; i < kSlots; ++i) {
    uint64_t s = seq - kSlots + i;
    if (!StampIs(ring[s % kSlots], s)) r.contents_ok = false;
  }
  r.rss_loaded = keel_test::ResidentBytes();
  return r;
}

KEEL_TEST_NOINLINE void DropAll(void** ring) {
  for (size_t i = 0; i < kSlots; ++i) ring[i] = nullptr;
}

BOOST_FIXTURE_TEST_SUITE(heap_bounds, keel_test::CleanStackFixture)

BOOST_AUTO_TEST_CASE(two_gib_allocated_with_ten_mib_live_stays_bounded_and_returns_memory) {
  ChildResult r = RunInChild([] {
    ChildChecks checks;
    keel_shutdown();
    size_t rss_start = keel_test::ResidentBytes();
    void** ring = static_cast<void**>(scheme_malloc(kSlots * sizeof(void*)));
    LoopResult loop = RunLoop(ring);
    keel_gc_stats s{};
    keel_gc_get_stats(&s);
    std::fprintf(stderr, "collections %llu, peak heap %llu MiB, peak live %llu MiB, RSS start %zu MiB, peak %zu MiB, loaded %zu MiB\n",
                 static_cast<unsigned long long>(s.collections),
                 static_cast<unsigned long long>(s.peak_heap_bytes / kMiB),
                 static_cast<unsigned long long>(s.peak_live_bytes / kMiB), rss_start / kMiB, loop.peak_rss / kMiB,
                 loop.rss_loaded / kMiB);
    KEEL_CHILD_CHECK(checks, loop.contents_ok);
    KEEL_CHILD_CHECK(checks, s.collections > 0);
    KEEL_CHILD_CHECK(checks, s.total_allocated_bytes >= kTotal);
    KEEL_CHILD_CHECK(checks, s.peak_live_bytes >= kLive);
    KEEL_CHILD_CHECK(checks, s.peak_heap_bytes <= kBoundFactor * kLive);
    KEEL_CHILD_CHECK(checks, loop.peak_rss <= rss_start + kBoundFactor * kLive);
    KEEL_CHILD_CHECK(checks, keel_gc_verify_heap() == 0);

    DropAll(ring);
    ring = nullptr;
    for (int i = 0; i < 3; ++i) CollectClean();
    size_t rss_after = keel_test::ResidentBytes();
    keel_gc_get_stats(&s);
    std::fprintf(stderr, "after dropping: RSS %zu MiB, live %llu KiB, heap %llu MiB, committed %llu MiB\n",
                 rss_after / kMiB, static_cast<unsigned long long>(s.live_bytes / 1024),
                 static_cast<unsigned long long>(s.heap_bytes / kMiB),
                 static_cast<unsigned long long>(s.committed_bytes / kMiB));
    KEEL_CHILD_CHECK(checks, s.live_bytes < kLive / 2);
    KEEL_CHILD_CHECK(checks, rss_after + kLive / 2 <= loop.rss_loaded);
    return checks.ExitCode();
  });
  BOOST_TEST_MESSAGE(r.err);
  BOOST_TEST(r.ExitedWith(0), r.Describe());
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
