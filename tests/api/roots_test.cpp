// roots_test.cpp: what keeps an object alive, as an extension sees it: registered statics and
// extension globals, immobile boxes, pins, uncollectable containers (keel::traced_allocator),
// and stack words pointing into an object; and what does not: plain malloc'd memory.
#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "gc.h"
#include "keel.hpp"
#include "keel_gc.h"
#include "scheme.h"
#include "support/gc_probe.h"

namespace {

using keel_test::CollectClean;
using keel_test::HasPatternAt;
using keel_test::Hidden;
using keel_test::IsLiveObjectStart;
using keel_test::WasFreed;

constexpr int kRounds = 4;  // collections each survivor must live through

KEEL_TEST_NOINLINE Hidden MakeTarget(size_t n, uint64_t seed) {
  void* p = scheme_malloc(n);
  keel_test::FillPattern(p, n, seed);
  return Hidden(p);
}

KEEL_TEST_NOINLINE void Store(void** slot, Hidden target) { *slot = target.get(); }
KEEL_TEST_NOINLINE bool Holds(void** slot, Hidden target) { return *slot == target.get(); }
KEEL_TEST_NOINLINE void** NewBox(Hidden target) { return scheme_malloc_immobile_box(target.get()); }
KEEL_TEST_NOINLINE void Pin(Hidden target) { scheme_dont_gc_ptr(target.get()); }
KEEL_TEST_NOINLINE void Unpin(Hidden target) { scheme_gc_ptr_ok(target.get()); }

// Collects kRounds times with garbage in between; true if the target lived through all of
// them with its contents intact.
KEEL_TEST_NOINLINE bool SurvivesCollections(Hidden target, size_t n, uint64_t seed) {
  for (int i = 0; i < kRounds; ++i) {
    keel_test::AllocateGarbage();
    CollectClean();
    if (!IsLiveObjectStart(target) || !HasPatternAt(target, n, seed)) return false;
  }
  return true;
}

// Pins through keel::DontGcScope for the duration of a check (the scope object, which holds
// the address, lives in this dead frame afterwards).
KEEL_TEST_NOINLINE bool SurvivesWhileScoped(Hidden target, size_t n, uint64_t seed) {
  keel::DontGcScope pin(target.get());
  return SurvivesCollections(target, n, seed);
}

BOOST_FIXTURE_TEST_SUITE(roots, keel_test::CleanStackFixture)

BOOST_AUTO_TEST_CASE(plain_malloc_memory_does_not_retain) {
  void** outside = static_cast<void**>(std::malloc(4 * sizeof(void*)));
  Hidden target = MakeTarget(64, 1);
  Store(outside, target);
  CollectClean();
  KEEL_CHECK_FREED(WasFreed(target), "a pointer in malloc'd memory kept an object alive");
  std::free(outside);
}

BOOST_AUTO_TEST_CASE(scheme_register_static_makes_memory_a_root) {
  // Memory the collector does not scan by itself (not data, bss or stack): a registered block.
  // It stays registered for the rest of the process, so it is never freed.
  static void** block = nullptr;
  if (block == nullptr) {
    block = static_cast<void**>(std::malloc(8 * sizeof(void*)));
    std::memset(block, 0, 8 * sizeof(void*));
    scheme_register_static(block, 8 * sizeof(void*));
  }
  Hidden first = MakeTarget(48, 2);
  Hidden last = MakeTarget(5000, 3);
  Store(&block[0], first);
  Store(&block[7], last);
  BOOST_TEST(SurvivesCollections(first, 48, 2));
  BOOST_TEST(SurvivesCollections(last, 5000, 3));
  block[0] = nullptr;
  block[7] = nullptr;
  CollectClean();
  KEEL_CHECK_FREED(WasFreed(first));
  KEEL_CHECK_FREED(WasFreed(last));
}

Scheme_Object* g_registered_global = nullptr;

BOOST_AUTO_TEST_CASE(scheme_register_extension_global_makes_memory_a_root) {
  // "Any permanent memory that the collector would otherwise treat as atomic."
  static void** permanent = nullptr;
  if (permanent == nullptr) {
    permanent = static_cast<void**>(std::malloc(3 * sizeof(void*)));
    std::memset(permanent, 0, 3 * sizeof(void*));
    scheme_register_extension_global(permanent, 3 * sizeof(void*));
    scheme_register_extension_global(&g_registered_global, sizeof g_registered_global);
  }
  Hidden target = MakeTarget(200, 4);
  Store(&permanent[2], target);
  BOOST_TEST(SurvivesCollections(target, 200, 4));
  permanent[2] = nullptr;
  CollectClean();
  KEEL_CHECK_FREED(WasFreed(target));

  Hidden global_target = MakeTarget(32, 5);
  Store(reinterpret_cast<void**>(&g_registered_global), global_target);
  BOOST_TEST(SurvivesCollections(global_target, 32, 5));
  g_registered_global = nullptr;
}

BOOST_AUTO_TEST_CASE(immobile_box_keeps_its_value_alive) {
  Hidden target = MakeTarget(96, 6);
  void** box = NewBox(target);
  BOOST_TEST_REQUIRE(box != nullptr);
  BOOST_TEST(SurvivesCollections(target, 96, 6));
  BOOST_TEST(Holds(box, target));

  // The value can be changed at any time; the old one is then garbage.
  Hidden replacement = MakeTarget(24, 7);
  Store(box, replacement);
  CollectClean();
  KEEL_CHECK_FREED(WasFreed(target));
  BOOST_TEST(SurvivesCollections(replacement, 24, 7));

  scheme_free_immobile_box(box);
  CollectClean();
  KEEL_CHECK_FREED(WasFreed(replacement));
}

BOOST_AUTO_TEST_CASE(many_immobile_boxes) {
  std::vector<void**> boxes;
  std::vector<Hidden> targets;
  for (int i = 0; i < 300; ++i) {
    targets.push_back(MakeTarget(16 + (i % 5) * 16, 100 + i));
    boxes.push_back(NewBox(targets.back()));
  }
  for (int round = 0; round < 2; ++round) {
    CollectClean();
    for (int i = 0; i < 300; ++i) {
      BOOST_TEST_REQUIRE(IsLiveObjectStart(targets[i]));
      BOOST_TEST_REQUIRE(HasPatternAt(targets[i], 16 + (i % 5) * 16, 100 + i));
      BOOST_TEST_REQUIRE(Holds(boxes[i], targets[i]));
    }
  }
  // Free every other box; boxes do not move, so the rest still hold their values.
  for (int i = 0; i < 300; i += 2) scheme_free_immobile_box(boxes[i]);
  CollectClean();
  for (int i = 0; i < 300; ++i) {
    if (i % 2 == 0) {
      KEEL_CHECK_FREED(WasFreed(targets[i]), "target " << i);
    } else {
      BOOST_TEST(IsLiveObjectStart(targets[i]), "target " << i);
      BOOST_TEST(Holds(boxes[i], targets[i]));
    }
  }
  for (int i = 1; i < 300; i += 2) scheme_free_immobile_box(boxes[i]);
}

BOOST_AUTO_TEST_CASE(pins_are_reference_counted) {
  Hidden target = MakeTarget(128, 8);
  Pin(target);
  Pin(target);
  BOOST_TEST(SurvivesCollections(target, 128, 8));
  Unpin(target);
  BOOST_TEST(SurvivesCollections(target, 128, 8), "two pins need two scheme_gc_ptr_ok calls");
  Unpin(target);
  CollectClean();
  KEEL_CHECK_FREED(WasFreed(target));
}

BOOST_AUTO_TEST_CASE(dont_gc_scope_pins_for_its_lifetime) {
  Hidden target = MakeTarget(40, 9);
  BOOST_TEST(SurvivesWhileScoped(target, 40, 9));
  CollectClean();
  KEEL_CHECK_FREED(WasFreed(target));
}

using TracedVector = std::vector<void*, keel::traced_allocator<void*>>;

KEEL_TEST_NOINLINE void FillTraced(TracedVector& v, std::vector<Hidden>& shadow, int count) {
  for (int i = 0; i < count; ++i) {
    void* p = scheme_malloc(32 + (i % 9) * 8);
    keel_test::FillPattern(p, 32, static_cast<uint64_t>(i));
    v.push_back(p);  // grows the vector many times: elements move to new uncollectable blocks
    shadow.push_back(Hidden(p));
  }
}

KEEL_TEST_NOINLINE bool TracedIntact(const TracedVector& v, const std::vector<Hidden>& shadow) {
  if (v.size() != shadow.size()) return false;
  for (size_t i = 0; i < v.size(); ++i) {
    if (v[i] != shadow[i].get() || GC_base(v[i]) != v[i]) return false;
    if (!keel_test::HasPattern(v[i], 32, i)) return false;
  }
  return true;
}

BOOST_AUTO_TEST_CASE(traced_allocator_vector_keeps_elements_alive) {
  std::vector<Hidden> shadow;  // ordinary allocator: never scanned
  TracedVector v;
  FillTraced(v, shadow, 2000);
  for (int round = 0; round < kRounds; ++round) {
    keel_test::AllocateGarbage();
    CollectClean();
    BOOST_TEST_REQUIRE(TracedIntact(v, shadow), "round " << round);
  }
  v.clear();
  v.shrink_to_fit();
  CollectClean();
  size_t freed = 0;
  for (const Hidden& h : shadow) freed += WasFreed(h) ? 1 : 0;
  KEEL_CHECK_FREED(freed == shadow.size(), freed << " of " << shadow.size() << " freed after the vector let go");
}

// Returns a pointer into the middle of a fresh object; the object's start never reaches the
// caller's frame.
KEEL_TEST_NOINLINE char* MakeInteriorOnly(size_t n, size_t offset, uint64_t seed, Hidden* start) {
  char* p = static_cast<char*>(scheme_malloc(n));
  keel_test::FillPattern(p, n, seed);
  *start = Hidden(p);
  return p + offset;
}

BOOST_AUTO_TEST_CASE(interior_stack_pointer_keeps_object_alive) {
  for (size_t n : {size_t{64}, size_t{1000}, size_t{40000}}) {
    Hidden start;
    char* volatile interior = MakeInteriorOnly(n, n / 2 + 3, n, &start);
    BOOST_TEST(SurvivesCollections(start, n, n), "size " << n);
    BOOST_TEST(GC_base(interior) == start.get());
    interior = nullptr;
  }
}

BOOST_AUTO_TEST_CASE(pointer_loop_over_an_array_is_safe) {
  // Inside Racket: "it is safe to loop over an array by incrementing a local pointer variable".
  constexpr size_t kCount = 5000;
  Scheme_Object** array = static_cast<Scheme_Object**>(scheme_malloc(kCount * sizeof(Scheme_Object*)));
  for (size_t i = 0; i < kCount; ++i) array[i] = scheme_make_integer(static_cast<intptr_t>(i));
  Scheme_Object** volatile cursor = array + kCount / 2;
  Hidden start(array);
  array = nullptr;
  intptr_t sum = 0;
  for (Scheme_Object** p = cursor; p < cursor + kCount / 2; ++p) {
    if ((p - cursor) % 1000 == 0) CollectClean();
    sum += SCHEME_INT_VAL(*p);
  }
  intptr_t expected = 0;
  for (size_t i = kCount / 2; i < kCount; ++i) expected += static_cast<intptr_t>(i);
  BOOST_TEST(sum == expected);
  BOOST_TEST(GC_base(cursor) == start.get());
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
