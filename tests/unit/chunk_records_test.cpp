// chunk_records_test.cpp: type-stable page descriptors (docs/design/heap.md .sol.type-stable).
// Another thread may read a descriptor it found through the page map just as its chunk goes; so
// a chunk's record is never freed: its descriptors lose their owner and wait in a pool for the
// next chunk. Also: the barrier's start-up probes run once per process, not per collector
// (docs/design/places.md .sol.registry).
#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <thread>
#include <vector>

#include "gc/barrier.h"
#include "gc/collector.h"
#include "gc/page.h"
#include "gc/page_map.h"
#include "gc/registry.h"
#include "unit/fresh_collector.h"

namespace {

using keel::gc::Collector;
using keel::gc::Kind;
using keel::gc::PageDesc;
using keel::gc::PageMap;
using keel::gc::PageState;

// Big enough for a dedicated chunk (more than a quarter of a shared one).
constexpr size_t kDedicatedBytes = size_t{2} << 20;

PageDesc* DescOf(const void* p) { return PageMap::Lookup(reinterpret_cast<uintptr_t>(p)); }

}  // namespace

BOOST_AUTO_TEST_SUITE(chunk_records)

BOOST_AUTO_TEST_CASE(a_descriptor_outlives_its_chunk_and_is_reused) {
  keel_test::FreshCollector fresh;
  Collector& c = fresh.c;
  void* p = c.Allocate(kDedicatedBytes, Kind::kAtomic);
  BOOST_TEST_REQUIRE(p != nullptr);
  PageDesc* d = DescOf(p);
  BOOST_TEST_REQUIRE(d != nullptr);
  BOOST_TEST(d->Owner() == &c);
  BOOST_TEST(d->chunk->Owner() == &c);
  keel::gc::Chunk* record = d->chunk;
  c.Free(p, "test");
  // The map no longer points at it, it has no owner, and its memory is still a descriptor.
  BOOST_TEST(DescOf(p) == nullptr);
  BOOST_TEST(d->Owner() == nullptr);
  BOOST_TEST(d->chunk == record);
  BOOST_TEST(record->Owner() == nullptr);
  BOOST_TEST(record->owner_label.load() == 0u);
  // The next chunk of that size takes the pooled record, fresh.
  void* q = c.Allocate(kDedicatedBytes, Kind::kAtomic);
  BOOST_TEST_REQUIRE(q != nullptr);
  PageDesc* e = DescOf(q);
  BOOST_TEST(e == d);
  BOOST_TEST(e->Owner() == &c);
  BOOST_TEST(e->start == reinterpret_cast<uintptr_t>(q));
  BOOST_TEST(record->owner_label.load() == c.label().bits);
  c.Free(q, "test");
}

BOOST_AUTO_TEST_CASE(a_recycled_descriptor_is_a_fresh_one) {
  const PageDesc fresh;
  PageDesc d;
  uintptr_t forward[1] = {0};
  d.start = 0x10000;
  d.obj_size = 48;
  d.magic = 7;
  d.objects = 300;
  d.kind = Kind::kTagged;
  d.state = PageState::kSmall;
  d.size_class = 5;
  d.needs_zeroing = d.young_listed = d.refilled = d.on_partial = true;
  d.scan_cursor = 9;
  d.run_pages = 3;
  d.big_bytes = 1 << 20;
  d.live_objects = 12;
  d.forward = forward;
  d.next = d.prev = &d;
  d.bits[0].alloc = d.bits[3].mark = d.bits[5].age = ~uint64_t{0};
  d.Recycle();
  BOOST_TEST(d.start == fresh.start);
  BOOST_TEST(d.obj_size == fresh.obj_size);
  BOOST_TEST(d.magic == fresh.magic);
  BOOST_TEST(d.objects == fresh.objects);
  BOOST_TEST((d.kind == fresh.kind));
  BOOST_TEST((d.state == fresh.state));
  BOOST_TEST(d.size_class == fresh.size_class);
  BOOST_TEST(!d.needs_zeroing);
  BOOST_TEST(!d.young_listed);
  BOOST_TEST(!d.refilled);
  BOOST_TEST(!d.on_partial);
  BOOST_TEST(d.scan_cursor == fresh.scan_cursor);
  BOOST_TEST(d.run_pages == fresh.run_pages);
  BOOST_TEST(d.big_bytes == fresh.big_bytes);
  BOOST_TEST(d.live_objects == fresh.live_objects);
  BOOST_TEST(d.forward == nullptr);
  BOOST_TEST(d.next == nullptr);
  BOOST_TEST(d.prev == nullptr);
  BOOST_TEST(d.CountAllocated() == 0u);
  BOOST_TEST(d.CountMarked() == 0u);
  BOOST_TEST(d.CountAged() == 0u);
}

// Every collector is numbered and listed while it exists; a thread's gc.h collector is no place
// until the thread attaches.
BOOST_AUTO_TEST_CASE(collectors_are_registered_and_numbered) {
  keel_test::FreshCollector fresh;
  const size_t before = keel::gc::Registry::Count();
  uint64_t other_id = 0;
  size_t during = 0;
  keel::gc::CollectorRole role_before = keel::gc::CollectorRole::kMaster;
  keel::gc::CollectorRole role_after = keel::gc::CollectorRole::kMaster;
  std::thread t([&] {
    Collector& mine = Collector::Current();
    other_id = mine.label().id();
    role_before = mine.role();
    during = keel::gc::Registry::Count();
    role_after = Collector::AttachCurrentThread().role();
    Collector::DestroyCurrent();
  });
  t.join();
  BOOST_TEST(during == before + 1);
  BOOST_TEST(keel::gc::Registry::Count() == before);
  BOOST_TEST(other_id > fresh.c.label().id());
  BOOST_TEST((role_before == keel::gc::CollectorRole::kThread));
  BOOST_TEST((role_after == keel::gc::CollectorRole::kPlace));
  char buf[96];
  BOOST_TEST(std::string(keel::gc::CollectorLabel::Make(keel::gc::CollectorRole::kPlace, 4).Describe(buf, sizeof buf)) ==
             "place 4");
}

// The kernel probes and cost measurements ran when this process's first collector chose its
// barrier; eight more collectors on eight threads run none (each ran one, before: about 130 us of
// each thread's first allocation).
BOOST_AUTO_TEST_CASE(barrier_probes_run_once_per_process) {
  keel_test::FreshCollector fresh;
  const uint64_t before = keel::gc::BarrierProbeRuns();
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([] {
      Collector::Current().Allocate(64, Kind::kNormal);
      Collector::DestroyCurrent();
    });
  }
  for (std::thread& t : threads) t.join();
  BOOST_TEST(keel::gc::BarrierProbeRuns() == before);
  BOOST_TEST(before <= 2u);  // at most one per backend
}

BOOST_AUTO_TEST_SUITE_END()
