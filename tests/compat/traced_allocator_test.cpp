// traced_allocator_test.cpp: keel::traced_allocator, the C++ counterpart of the boehm_gc
// crate's allocator: containers using it live in uncollectable, scanned memory, so the
// collectable objects they hold stay alive, and are released when the container lets go.
#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <list>
#include <map>
#include <thread>
#include <vector>

#include "gc.h"
#include "keel.hpp"
#include "support/gc_probe.h"

namespace {

using keel_test::Hidden;

struct Payload {
  long id;
  long check;
};

KEEL_TEST_NOINLINE void GcCollectClean() {
  keel_test::ClearStack();
  keel_test::ZeroScratchRegisters();
  GC_gcollect();
  keel_test::ClearStack();
}

KEEL_TEST_NOINLINE Payload* NewPayload(long id) {
  Payload* p = GC_NEW(Payload);
  p->id = id;
  p->check = id * 31 + 7;
  return p;
}

template <class Container>
KEEL_TEST_NOINLINE void FillWithPayloads(Container& c, std::vector<Hidden>& shadow, long count) {
  for (long i = 0; i < count; ++i) {
    Payload* p = NewPayload(i);
    c.push_back(p);
    shadow.push_back(Hidden(p));
  }
}

template <class Container>
KEEL_TEST_NOINLINE bool PayloadsIntact(const Container& c, const std::vector<Hidden>& shadow) {
  size_t i = 0;
  for (Payload* p : c) {
    if (i >= shadow.size() || p != shadow[i].get() || GC_base(p) != p) return false;
    if (p->id != static_cast<long>(i) || p->check != p->id * 31 + 7) return false;
    ++i;
  }
  return i == shadow.size();
}

KEEL_TEST_NOINLINE size_t CountFreed(const std::vector<Hidden>& shadow) {
  size_t n = 0;
  for (const Hidden& h : shadow) n += GC_base(h.get()) == nullptr ? 1 : 0;
  return n;
}

BOOST_FIXTURE_TEST_SUITE(traced_allocator, keel_test::CleanStackFixture)

BOOST_AUTO_TEST_CASE(vector_keeps_elements_alive_through_growth) {
  std::vector<Hidden> shadow;
  {
    std::vector<Payload*, keel::traced_allocator<Payload*>> v;
    FillWithPayloads(v, shadow, 5000);
    for (int round = 0; round < 4; ++round) {
      keel_test::AllocateGarbage();
      GcCollectClean();
      BOOST_TEST_REQUIRE(PayloadsIntact(v, shadow), "round " << round);
    }
    // Shrinking releases the erased elements only. (Erasing alone does not: the vector's spare
    // capacity still holds the old pointers, and the whole block is scanned.)
    v.erase(v.begin() + 2500, v.end());
    v.shrink_to_fit();
    GcCollectClean();
    std::vector<Hidden> kept(shadow.begin(), shadow.begin() + 2500);
    BOOST_TEST(PayloadsIntact(v, kept));
    std::vector<Hidden> erased(shadow.begin() + 2500, shadow.end());
    BOOST_TEST(CountFreed(erased) == erased.size());
  }
  GcCollectClean();
  KEEL_CHECK_FREED(CountFreed(shadow) == shadow.size(), "the destroyed vector still retained elements");
}

BOOST_AUTO_TEST_CASE(list_nodes_are_traced_too) {
  std::vector<Hidden> shadow;
  {
    std::list<Payload*, keel::traced_allocator<Payload*>> l;
    FillWithPayloads(l, shadow, 2000);
    for (int round = 0; round < 3; ++round) {
      GcCollectClean();
      BOOST_TEST_REQUIRE(PayloadsIntact(l, shadow), "round " << round);
    }
  }
  GcCollectClean();
  KEEL_CHECK_FREED(CountFreed(shadow) == shadow.size());
}

BOOST_AUTO_TEST_CASE(map_values_are_traced) {
  using Map = std::map<long, Payload*, std::less<long>, keel::traced_allocator<std::pair<const long, Payload*>>>;
  Map m;
  for (long i = 0; i < 1000; ++i) m[i] = NewPayload(i);
  for (int round = 0; round < 3; ++round) {
    keel_test::AllocateGarbage();
    GcCollectClean();
    for (const auto& [k, p] : m) {
      BOOST_TEST_REQUIRE(p->id == k);
      BOOST_TEST_REQUIRE(p->check == k * 31 + 7);
    }
  }
}

// Each vector frees the blocks it outgrows and, at the end, its last one (GC_free): a loop of
// short-lived containers must reuse them (docs/design/heap.md .inv.uncollectable), not grow the
// heap (it reached 168 MiB here). Run on a new thread, whose collector starts empty.
BOOST_AUTO_TEST_CASE(short_lived_vectors_do_not_grow_the_heap) {
  size_t heap = 0;
  std::thread t([&heap] {
    for (int i = 0; i < 20000; ++i) {
      std::vector<Payload*, keel::traced_allocator<Payload*>> v;
      for (int j = 0; j < 1000; ++j) v.push_back(nullptr);
    }
    GC_gcollect();
    heap = GC_get_heap_size();
  });
  t.join();
  // A chunk or two; a generous bound, far below what the leak reached.
  BOOST_TEST(heap <= size_t{16} << 20, "heap of " << (heap >> 20) << " MiB after the vectors are gone");
}

BOOST_AUTO_TEST_CASE(allocator_rejects_impossible_sizes) {
  keel::traced_allocator<Payload*> a;
  BOOST_CHECK_THROW(a.allocate(SIZE_MAX / 2), std::bad_array_new_length);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
