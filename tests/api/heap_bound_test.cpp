// heap_bound_test.cpp: a long-running allocation loop must not grow the heap with the amount
// allocated, only with the amount live; and memory must go back once the live data is dropped.
// Runs in a child with a fresh runtime, so earlier tests' peaks do not count.
//
// Runs under both variants. The live blocks are bigger than 8 KiB, so they never move under 3m
// either; the ring that holds them and the small garbage's chain do (they start in the nursery),
// so they are kept in registered variables. Under 3m the nursery is part of the heap and stays
// committed (docs/design/precise.md .sol.nursery): a fixed amount that does not grow with what
// is allocated or live, so the bounds count it once, at its size pinned for the child. There the
// small garbage dies in the nursery: the records count little copied out of it.
#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "gc.h"
#include "keel_gc.h"
#include "scheme.h"
#include "support/child_process.h"
#include "support/gc_probe.h"
#include "support/registered.h"

namespace {

using keel_test::ChildChecks;
using keel_test::ChildResult;
using keel_test::CollectClean;
using keel_test::Registered;
using keel_test::RunInChild;

constexpr size_t kMiB = size_t{1} << 20;
constexpr uint64_t kTotal = uint64_t{2} << 30;  // 2 GiB allocated in all
constexpr size_t kBlock = 64 * 1024;
constexpr size_t kLive = 10 * kMiB;  // live at any time
constexpr size_t kSlots = kLive / kBlock;
// "Bounded": a generous multiple of the live data, nowhere near the 2 GiB allocated.
constexpr size_t kBoundFactor = 8;
// The 3m nursery's size in the child (KEEL_GC_NURSERY; its default). CGC has none.
constexpr size_t kNurseryBytes = 4 * kMiB;
constexpr size_t kChurnObjectBytes = 48;
constexpr int kChurnPerBlock = 4;

bool IsCgc() { return std::string(keel_gc_variant()) == "cgc"; }

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

// Small pointerful garbage alongside the big blocks. Each object points at the one before, so
// `prev` is registered: under 3m a collection during the chain moves it.
KEEL_TEST_NOINLINE void SmallChurn(int n) {
  void** prev = nullptr;
  Registered reg(prev);
  for (int i = 0; i < n; ++i) {
    void** p = static_cast<void**>(scheme_malloc(kChurnObjectBytes));
    p[0] = prev;
    prev = p;
  }
}

struct LoopResult {
  bool contents_ok = true;
  size_t peak_rss = 0;
  size_t rss_loaded = 0;
};

// The loop; the live set is a traced ring of kSlots blocks that the caller owns. The ring is a
// small object: under 3m it leaves the nursery at the first collection, so this frame registers
// its own copy of the pointer as the caller registers its one.
KEEL_TEST_NOINLINE LoopResult RunLoop(void** ring) {
  Registered reg(ring);
  LoopResult r;
  uint64_t seq = 0;
  for (uint64_t allocated = 0; allocated < kTotal; allocated += kBlock, ++seq) {
    size_t slot = seq % kSlots;
    if (ring[slot] != nullptr && !StampIs(ring[slot], seq - kSlots)) r.contents_ok = false;
    void* block = scheme_malloc_atomic(kBlock);
    Stamp(block, seq);
    ring[slot] = block;
    SmallChurn(kChurnPerBlock);
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

// Objects and bytes copied out of the nursery over every kept record: what was copied, less
// what major collections moved within the old generation (precise.md .sol.compact).
struct NurseryCopies {
  uint64_t objects = 0;
  uint64_t bytes = 0;
};
NurseryCopies SumNurseryCopies() {
  NurseryCopies c;
  for (size_t i = 0; i < keel_gc_record_count(); ++i) {
    keel_gc_record r{};
    if (keel_gc_get_record(i, &r) == 0) continue;
    c.objects += r.copied_objects - r.compacted_objects;
    c.bytes += r.copied_bytes - r.compacted_bytes;
  }
  return c;
}

BOOST_FIXTURE_TEST_SUITE(heap_bounds, keel_test::CleanStackFixture)

BOOST_AUTO_TEST_CASE(two_gib_allocated_with_ten_mib_live_stays_bounded_and_returns_memory) {
  ChildResult r = RunInChild([] {
    ChildChecks checks;
    // Read by the fresh runtime's collector: the bounds below count the nursery at this size.
    setenv("KEEL_GC_NURSERY", std::to_string(kNurseryBytes).c_str(), 1);
    keel_shutdown();
    const size_t nursery = IsCgc() ? 0 : kNurseryBytes;
    size_t rss_start = keel_test::ResidentBytes();
    void** ring = nullptr;
    Registered reg(ring);
    ring = static_cast<void**>(scheme_malloc(kSlots * sizeof(void*)));
    LoopResult loop = RunLoop(ring);
    keel_gc_stats s{};
    keel_gc_get_stats(&s);
    const NurseryCopies copies = SumNurseryCopies();
    std::fprintf(stderr,
                 "collections %llu, peak heap %llu MiB, peak live %llu MiB, RSS start %zu MiB, peak %zu MiB, "
                 "loaded %zu MiB; copied out of the nursery: %llu objects, %llu KiB\n",
                 static_cast<unsigned long long>(s.collections),
                 static_cast<unsigned long long>(s.peak_heap_bytes / kMiB),
                 static_cast<unsigned long long>(s.peak_live_bytes / kMiB), rss_start / kMiB, loop.peak_rss / kMiB,
                 loop.rss_loaded / kMiB, static_cast<unsigned long long>(copies.objects),
                 static_cast<unsigned long long>(copies.bytes >> 10));
    KEEL_CHILD_CHECK(checks, loop.contents_ok);
    KEEL_CHILD_CHECK(checks, s.collections > 0);
    KEEL_CHILD_CHECK(checks, s.total_allocated_bytes >= kTotal);
    KEEL_CHILD_CHECK(checks, s.peak_live_bytes >= kLive);
    KEEL_CHILD_CHECK(checks, s.peak_heap_bytes <= kBoundFactor * kLive + nursery);
#if !defined(__SANITIZE_ADDRESS__)
    // Under AddressSanitizer RSS also counts shadow memory, so only the plain build checks it.
    KEEL_CHILD_CHECK(checks, loop.peak_rss <= rss_start + kBoundFactor * kLive + nursery);
#endif
    if (IsCgc()) {
      KEEL_CHILD_CHECK(checks, copies.objects == 0);  // CGC moves nothing
    } else {
      // 3m: the big blocks never enter the nursery, and of the small garbage only the chain a
      // collection interrupts is copied (at most all but the last object of one SmallChurn);
      // the ring is copied once.
      const uint64_t churn_bound = s.collections * (kChurnPerBlock - 1);
      KEEL_CHILD_CHECK(checks, copies.objects >= 1);
      KEEL_CHILD_CHECK(checks, copies.bytes <= kSlots * sizeof(void*) + churn_bound * kChurnObjectBytes);
    }
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
    // The 3m nursery stays committed (it is never released), in both figures alike.
#if !defined(__SANITIZE_ADDRESS__)
    KEEL_CHILD_CHECK(checks, rss_after + kLive / 2 <= loop.rss_loaded);
#endif
    return checks.ExitCode();
  });
  BOOST_TEST_MESSAGE(r.err);
  BOOST_TEST(r.ExitedWith(0), r.Describe());
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
