// roots_test.cpp: what keeps an object alive, as an extension sees it: registered statics and
// extension globals, immobile boxes, pins, uncollectable containers (keel::traced_allocator),
// and stack words pointing into an object; and what does not: plain malloc'd memory. The same
// tests run on CGC and on 3m (docs/gc3m.md): 3m moves a new object at the first collection it
// survives and updates the roots that hold it, so a probe's address is read back from the root
// after each collection; the two cases about stack words are CGC's conservative scanning.
#include <boost/test/unit_test.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "gc.h"
#include "keel.hpp"
#include "keel_gc.h"
#include "scheme.h"
#include "support/gc_probe.h"
#include "support/registered.h"

namespace {

using keel_test::CollectClean;
using keel_test::HasPatternAt;
using keel_test::Hidden;
using keel_test::IsLiveObjectStart;
using keel_test::Registered;
using keel_test::WasFreed;

bool IsCgc() { return std::string(keel_gc_variant()) == "cgc"; }

constexpr int kRounds = 4;  // collections each survivor must live through

KEEL_TEST_NOINLINE Hidden MakeTarget(size_t n, uint64_t seed) {
  void* p = scheme_malloc(n);
  keel_test::FillPattern(p, n, seed);
  return Hidden(p);
}

// Like MakeTarget, but the target first lives through a collection, registered. Under 3m it has
// then left the nursery for the old generation, where it stays: its address is stable, so a pin
// (which keeps an object alive but, as in Racket, does not stop it moving) can be released with
// it, and a "was it freed" probe tests an object a collection could have kept (a nursery address
// reads as freed after any collection, whether its object moved or died). Under CGC nothing moves.
KEEL_TEST_NOINLINE Hidden MakeOldTarget(size_t n, uint64_t seed) {
  void* p = nullptr;
  Registered reg(p);
  p = scheme_malloc(n);
  keel_test::FillPattern(p, n, seed);
  scheme_collect_garbage();
  return Hidden(p);
}

KEEL_TEST_NOINLINE void Store(void** slot, Hidden target) { *slot = target.get(); }
// The object a root slot holds, at its current address (the collector updates a root when its
// object moves). Out of line, so the raw address exists only in a dead frame afterwards.
KEEL_TEST_NOINLINE Hidden Current(void** slot) { return Hidden(*slot); }
// Whether a root slot holds the target made with (n, seed): a live object start with its bytes.
KEEL_TEST_NOINLINE bool Holds(void** slot, size_t n, uint64_t seed) {
  Hidden h = Current(slot);
  return IsLiveObjectStart(h) && HasPatternAt(h, n, seed);
}
KEEL_TEST_NOINLINE void** NewBox(Hidden target) { return scheme_malloc_immobile_box(target.get()); }
KEEL_TEST_NOINLINE void Pin(Hidden target) { scheme_dont_gc_ptr(target.get()); }
KEEL_TEST_NOINLINE void Unpin(Hidden target) { scheme_gc_ptr_ok(target.get()); }

// Collects kRounds times with garbage in between; true if the object held by the root `slot`
// lived through all of them with its contents intact.
KEEL_TEST_NOINLINE bool SurvivesCollections(void** slot, size_t n, uint64_t seed) {
  for (int i = 0; i < kRounds; ++i) {
    keel_test::AllocateGarbage();
    CollectClean();
    if (!Holds(slot, n, seed)) return false;
  }
  return true;
}

// The same for an object known only by its address, which must not move meanwhile: one kept
// only by pins once it is old (MakeOldTarget), or any object under CGC.
KEEL_TEST_NOINLINE bool SurvivesCollectionsAt(Hidden target, size_t n, uint64_t seed) {
  for (int i = 0; i < kRounds; ++i) {
    keel_test::AllocateGarbage();
    CollectClean();
    if (!IsLiveObjectStart(target) || !HasPatternAt(target, n, seed)) return false;
  }
  return true;
}

// Pins through keel::DontGcScope for the duration of a check (the scope object, which holds
// the address, lives in this dead frame afterwards). The scope releases the address it was
// given, so the target must not move meanwhile (MakeOldTarget).
KEEL_TEST_NOINLINE bool SurvivesWhileScoped(Hidden target, size_t n, uint64_t seed) {
  keel::DontGcScope pin(target.get());
  return SurvivesCollectionsAt(target, n, seed);
}

BOOST_FIXTURE_TEST_SUITE(roots, keel_test::CleanStackFixture)

BOOST_AUTO_TEST_CASE(plain_malloc_memory_does_not_retain) {
  for (bool old : {false, true}) {
    void** outside = static_cast<void**>(std::malloc(4 * sizeof(void*)));
    Hidden target = old ? MakeOldTarget(64, 1) : MakeTarget(64, 1);
    Store(outside, target);
    CollectClean();
    KEEL_CHECK_FREED(WasFreed(target), "a pointer in malloc'd memory kept an object alive"
                                           << (old ? " (old target)" : ""));
    std::free(outside);
  }
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
  // Each stored before the next allocation, which may collect.
  Store(&block[0], MakeTarget(48, 2));
  Store(&block[7], MakeTarget(5000, 3));
  BOOST_TEST(SurvivesCollections(&block[0], 48, 2));
  BOOST_TEST(SurvivesCollections(&block[7], 5000, 3));
  Hidden first = Current(&block[0]);
  Hidden last = Current(&block[7]);
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
  Store(&permanent[2], MakeTarget(200, 4));
  BOOST_TEST(SurvivesCollections(&permanent[2], 200, 4));
  Hidden target = Current(&permanent[2]);
  permanent[2] = nullptr;
  CollectClean();
  KEEL_CHECK_FREED(WasFreed(target));

  Store(reinterpret_cast<void**>(&g_registered_global), MakeTarget(32, 5));
  BOOST_TEST(SurvivesCollections(reinterpret_cast<void**>(&g_registered_global), 32, 5));
  Hidden global_target = Current(reinterpret_cast<void**>(&g_registered_global));
  g_registered_global = nullptr;
  CollectClean();
  KEEL_CHECK_FREED(WasFreed(global_target));
}

BOOST_AUTO_TEST_CASE(immobile_box_keeps_its_value_alive) {
  // The box itself never moves: a plain local may hold it.
  void** box = NewBox(MakeTarget(96, 6));
  BOOST_TEST_REQUIRE(box != nullptr);
  BOOST_TEST(SurvivesCollections(box, 96, 6));
  BOOST_TEST(Holds(box, 96, 6));

  // The value can be changed at any time; the old one is then garbage.
  Hidden target = Current(box);
  Store(box, MakeTarget(24, 7));
  CollectClean();
  KEEL_CHECK_FREED(WasFreed(target));
  BOOST_TEST(SurvivesCollections(box, 24, 7));

  Hidden replacement = Current(box);
  scheme_free_immobile_box(box);
  CollectClean();
  KEEL_CHECK_FREED(WasFreed(replacement));
}

BOOST_AUTO_TEST_CASE(many_immobile_boxes) {
  std::vector<void**> boxes;  // boxes never move; their values do under 3m
  std::vector<Hidden> targets;
  for (int i = 0; i < 300; ++i) boxes.push_back(NewBox(MakeTarget(16 + (i % 5) * 16, 100 + i)));
  for (int round = 0; round < 2; ++round) {
    CollectClean();
    for (int i = 0; i < 300; ++i) {
      BOOST_TEST_REQUIRE(Holds(boxes[i], 16 + (i % 5) * 16, 100 + i), "box " << i);
    }
  }
  for (int i = 0; i < 300; ++i) targets.push_back(Current(boxes[i]));
  // Free every other box; boxes do not move, so the rest still hold their values.
  for (int i = 0; i < 300; i += 2) scheme_free_immobile_box(boxes[i]);
  CollectClean();
  for (int i = 0; i < 300; ++i) {
    if (i % 2 == 0) {
      KEEL_CHECK_FREED(WasFreed(targets[i]), "target " << i);
    } else {
      BOOST_TEST(IsLiveObjectStart(Current(boxes[i])), "target " << i);
      BOOST_TEST(Holds(boxes[i], 16 + (i % 5) * 16, 100 + i));
    }
  }
  for (int i = 1; i < 300; i += 2) scheme_free_immobile_box(boxes[i]);
}

// Pins a fresh object twice and collects while it is also registered: under 3m the pins follow
// it out of the nursery (a pin does not stop its object moving) and the registered variable gives
// its new address, the one to release the pins with. Returned hidden at that address.
KEEL_TEST_NOINLINE Hidden MakeTwicePinned(size_t n, uint64_t seed) {
  void* p = nullptr;
  Registered reg(p);
  p = scheme_malloc(n);
  keel_test::FillPattern(p, n, seed);
  scheme_dont_gc_ptr(p);
  scheme_dont_gc_ptr(p);
  scheme_collect_garbage();
  return Hidden(p);
}

BOOST_AUTO_TEST_CASE(pins_are_reference_counted) {
  // Old targets (stable addresses): pinned, then kept by the pins alone.
  Hidden target = MakeOldTarget(128, 8);
  Pin(target);
  Pin(target);
  BOOST_TEST(SurvivesCollectionsAt(target, 128, 8));
  Unpin(target);
  BOOST_TEST(SurvivesCollectionsAt(target, 128, 8), "two pins need two scheme_gc_ptr_ok calls");
  Unpin(target);
  CollectClean();
  KEEL_CHECK_FREED(WasFreed(target));
  // Pinned while new: the pins move with the object.
  Hidden moved = MakeTwicePinned(96, 18);
  BOOST_TEST(SurvivesCollectionsAt(moved, 96, 18));
  Unpin(moved);
  BOOST_TEST(SurvivesCollectionsAt(moved, 96, 18), "two pins need two scheme_gc_ptr_ok calls");
  Unpin(moved);
  CollectClean();
  KEEL_CHECK_FREED(WasFreed(moved));
}

BOOST_AUTO_TEST_CASE(dont_gc_scope_pins_for_its_lifetime) {
  Hidden target = MakeOldTarget(40, 9);
  BOOST_TEST(SurvivesWhileScoped(target, 40, 9));
  CollectClean();
  KEEL_CHECK_FREED(WasFreed(target));
}

using TracedVector = std::vector<void*, keel::traced_allocator<void*>>;

KEEL_TEST_NOINLINE void FillTraced(TracedVector& v, std::vector<Hidden>& shadow, int count) {
  void* p = nullptr;
  Registered reg(p);  // push_back may allocate (and collect) before it stores p
  for (int i = 0; i < count; ++i) {
    p = scheme_malloc(32 + (i % 9) * 8);
    keel_test::FillPattern(p, 32, static_cast<uint64_t>(i));
    v.push_back(p);  // grows the vector many times: elements move to new uncollectable blocks
    shadow.push_back(Hidden(p));
  }
}

// Element i is a live object start holding pattern i, and the shadow holds each element's
// address; the shadow is then brought up to date (the collector updates the vector's slots when
// their objects move under 3m; under CGC nothing moves).
KEEL_TEST_NOINLINE bool TracedIntact(const TracedVector& v, std::vector<Hidden>& shadow) {
  if (v.size() != shadow.size()) return false;
  for (size_t i = 0; i < v.size(); ++i) {
    if (GC_base(v[i]) != v[i]) return false;
    if (!keel_test::HasPattern(v[i], 32, i)) return false;
  }
  for (size_t i = 0; i < v.size(); ++i) shadow[i] = Hidden(v[i]);
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
  // CGC only retains through an unregistered stack word: 3m scans no stack and moves objects
  // (docs/gc3m.md), so there the object is garbage and only the calls are exercised.
  const bool cgc = IsCgc();
  for (size_t n : {size_t{64}, size_t{1000}, size_t{40000}}) {
    Hidden start;
    char* volatile interior = MakeInteriorOnly(n, n / 2 + 3, n, &start);
    const bool survived = SurvivesCollectionsAt(start, n, n);
    if (cgc) {
      BOOST_TEST(survived, "size " << n);
      BOOST_TEST(GC_base(interior) == start.get());
    }
    interior = nullptr;
  }
}

BOOST_AUTO_TEST_CASE(pointer_loop_over_an_array_is_safe) {
  // Inside Racket: "it is safe to loop over an array by incrementing a local pointer variable".
  // Under CGC the interior cursor on the stack alone keeps the array alive. 3m scans no stack and
  // moves objects (docs/gc3m.md): there the array stays registered and the pointers are
  // recomputed from it after each collection (the loop allocates nothing between collections).
  const bool cgc = IsCgc();
  constexpr size_t kCount = 5000;
  Scheme_Object** array = nullptr;
  Registered reg(array);
  array = static_cast<Scheme_Object**>(scheme_malloc(kCount * sizeof(Scheme_Object*)));
  for (size_t i = 0; i < kCount; ++i) array[i] = scheme_make_integer(static_cast<intptr_t>(i));
  Scheme_Object** volatile cursor = array + kCount / 2;
  Hidden start(array);
  if (cgc) array = nullptr;
  intptr_t sum = 0;
  for (Scheme_Object** p = cursor; p < cursor + kCount / 2; ++p) {
    if ((p - cursor) % 1000 == 0) {
      const ptrdiff_t done = p - cursor;
      CollectClean();
      if (!cgc) {
        cursor = array + kCount / 2;
        p = cursor + done;
        start = Hidden(array);
      }
    }
    sum += SCHEME_INT_VAL(*p);
  }
  intptr_t expected = 0;
  for (size_t i = kCount / 2; i < kCount; ++i) expected += static_cast<intptr_t>(i);
  BOOST_TEST(sum == expected);
  BOOST_TEST(GC_base(cursor) == start.get());
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
