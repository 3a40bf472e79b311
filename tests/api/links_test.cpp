// links_test.cpp: bdwgc's disappearing links (GC_general_register_disappearing_link,
// GC_register_long_link, their unregister and move calls) against CGC and 3m, and Racket's
// weak references (scheme_weak_reference and its kinds), which exist in CGC only. Links live in
// malloc'd memory, which no collector scans; objects expected to go are made in helpers and kept
// only in registered places (docs/design/weak.md .sol.links).
#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <cstdlib>

#include "gc.h"
#include "keel_gc.h"
#include "scheme.h"
#include "support/expect_abort.h"
#include "support/gc_probe.h"
#include "support/registered.h"

namespace {

using keel_test::CollectClean;
using keel_test::CollectMinorClean;

// Link words nobody scans.
void** NewLinks(size_t n) { return static_cast<void**>(std::calloc(n, sizeof(void*))); }

intptr_t CarOf(void* p) {
  auto* o = static_cast<Scheme_Object*>(p);
  return (o != nullptr && SCHEME_PAIRP(o)) ? SCHEME_INT_VAL(SCHEME_CAR(o)) : -1;
}

// *link = a fresh pair (n . ()) that nothing else keeps, registered as a short (or long) link.
KEEL_TEST_NOINLINE void LinkToFresh(void** link, intptr_t n, bool long_link) {
  Scheme_Object* p = scheme_make_pair(scheme_make_integer(n), scheme_null);
  *link = p;
  const int r = long_link ? GC_register_long_link(link, p) : GC_general_register_disappearing_link(link, p);
  BOOST_TEST(r == GC_SUCCESS);
}

// 0: NULL, 1: the pair (n . ()), 2: anything else; read here so callers hold no address.
KEEL_TEST_NOINLINE int LinkState(void** link, intptr_t n) {
  if (*link == nullptr) return 0;
  return CarOf(*link) == n ? 1 : 2;
}

Scheme_Object** g_kept = nullptr;
void Resurrect(void* p, void*) { *g_kept = static_cast<Scheme_Object*>(p); }

}  // namespace

BOOST_FIXTURE_TEST_SUITE(disappearing_links, keel_test::CleanStackFixture)

BOOST_AUTO_TEST_CASE(a_link_clears_when_its_object_dies) {
  void** links = NewLinks(2);
  LinkToFresh(&links[0], 1, false);
  LinkToFresh(&links[1], 2, true);
  CollectClean();
  KEEL_CHECK_FREED(LinkState(&links[0], 1) == 0);
  KEEL_CHECK_FREED(LinkState(&links[1], 2) == 0);
  BOOST_TEST(LinkState(&links[0], 1) != 2);
  std::free(links);
}

BOOST_AUTO_TEST_CASE(a_young_object_clears_its_link_at_a_minor_collection) {
  void** links = NewLinks(1);
  scheme_collect_garbage();
  LinkToFresh(&links[0], 3, false);
  CollectMinorClean();
  KEEL_CHECK_FREED(LinkState(&links[0], 3) == 0);
  std::free(links);
}

// The object stays reachable: the link keeps reading it, at its new address under 3m.
BOOST_AUTO_TEST_CASE(a_link_to_a_live_object_stays_and_follows_it) {
  void** links = NewLinks(2);
  Scheme_Object* p = nullptr;
  keel_test::Registered reg(p);
  p = scheme_make_pair(scheme_make_integer(4), scheme_null);
  links[0] = p;
  links[1] = p;
  BOOST_TEST(GC_general_register_disappearing_link(&links[0], p) == GC_SUCCESS);
  BOOST_TEST(GC_register_long_link(&links[1], p) == GC_SUCCESS);
  for (int i = 0; i < 4; ++i) {
    keel_test::GarbageThenCollect(i);
    BOOST_TEST(links[0] == p);
    BOOST_TEST(links[1] == p);
    BOOST_TEST(CarOf(links[0]) == 4);
  }
  BOOST_TEST(GC_unregister_disappearing_link(&links[0]) == 1);
  BOOST_TEST(GC_unregister_long_link(&links[1]) == 1);
  std::free(links);
}

BOOST_AUTO_TEST_CASE(duplicates_unregistering_and_moving) {
  void** links = NewLinks(3);
  Scheme_Object* p = nullptr;
  keel_test::Registered reg(p);
  p = scheme_make_pair(scheme_make_integer(5), scheme_null);
  BOOST_TEST(GC_general_register_disappearing_link(&links[0], p) == GC_SUCCESS);
  BOOST_TEST(GC_general_register_disappearing_link(&links[0], p) == GC_DUPLICATE);
  BOOST_TEST(GC_move_disappearing_link(&links[2], &links[1]) == GC_NOT_FOUND);
  BOOST_TEST(GC_general_register_disappearing_link(&links[1], p) == GC_SUCCESS);
  BOOST_TEST(GC_move_disappearing_link(&links[0], &links[1]) == GC_DUPLICATE);
  BOOST_TEST(GC_unregister_disappearing_link(&links[1]) == 1);
  BOOST_TEST(GC_unregister_disappearing_link(&links[1]) == 0);
  BOOST_TEST(GC_move_disappearing_link(&links[0], &links[2]) == GC_SUCCESS);
  BOOST_TEST(GC_unregister_long_link(&links[2]) == 0);  // a short link, not a long one
  // Only links[2] is registered now: when p dies it clears, links[0] keeps its value.
  links[0] = p;
  links[2] = p;
  p = nullptr;
  CollectClean();
  KEEL_CHECK_FREED(links[2] == nullptr);
  BOOST_TEST(links[0] != nullptr);
  std::free(links);
}

// A finalizer that resurrects its object: the short link clears in the collection that found
// the object unreachable, the long one only once the object is really gone.
KEEL_TEST_NOINLINE void MakeResurrecting(void** links) {
  Scheme_Object* p = scheme_make_pair(scheme_make_integer(6), scheme_null);
  links[0] = p;
  links[1] = p;
  GC_general_register_disappearing_link(&links[0], p);
  GC_register_long_link(&links[1], p);
  scheme_register_finalizer(p, &Resurrect, nullptr, nullptr, nullptr);
}

BOOST_AUTO_TEST_CASE(short_links_clear_before_finalization_and_long_ones_after) {
  static Scheme_Object** block = reinterpret_cast<Scheme_Object**>(keel_test::NewRegisteredBlock(1));
  g_kept = block;
  void** links = NewLinks(2);
  MakeResurrecting(links);
  CollectClean();
  if (keel_test::FreedChecksAreStrict()) BOOST_TEST_REQUIRE(block[0] != nullptr);
  if (block[0] != nullptr) {
    BOOST_TEST(links[0] == nullptr);
    BOOST_TEST(links[1] == block[0]);  // resurrected: the long link follows it
    BOOST_TEST(CarOf(links[1]) == 6);
    block[0] = nullptr;
    CollectClean();
    KEEL_CHECK_FREED(LinkState(&links[1], 6) == 0);
  }
  std::free(links);
}

// A link inside an object that dies is forgotten with it: nothing is written there later.
KEEL_TEST_NOINLINE void LinkInDeadObject() {
  Scheme_Object *target = nullptr;
  keel_test::Registered reg(target);
  target = scheme_make_pair(scheme_make_integer(7), scheme_null);
  auto** holder = static_cast<void**>(scheme_malloc_allow_interior(64));  // does not move
  holder[1] = target;
  BOOST_TEST(GC_general_register_disappearing_link(&holder[1], target) == GC_SUCCESS);
}

BOOST_AUTO_TEST_CASE(a_link_in_an_object_that_dies_is_forgotten) {
  for (int i = 0; i < 50; ++i) LinkInDeadObject();
  for (int i = 0; i < 4; ++i) keel_test::GarbageThenCollect(i);
  BOOST_TEST(keel_test::CollectionCount() > 0u);
}

BOOST_AUTO_TEST_CASE(bad_arguments_stop_with_a_message) {
  keel_test::ExpectAbortWithMessage(
      [] {
        void* p = scheme_make_pair(scheme_null, scheme_null);
        GC_general_register_disappearing_link(nullptr, p);
        return keel_test::kMisuseNotDetected;
      },
      "GC_general_register_disappearing_link: the link");
  keel_test::ExpectAbortWithMessage(
      [] {
        static void* word = nullptr;
        static int not_heap = 0;
        GC_register_long_link(&word, &not_heap);
        return keel_test::kMisuseNotDetected;
      },
      "is not the start of an object");
}

namespace {

int g_holder_link_state = -1;  // LinkState of the holder's link, seen by its finalizer
void ReadsHolderLink(void* holder, void*) { g_holder_link_state = LinkState(static_cast<void**>(holder), 61); }

// A short link in an atomic, never-moving holder (a link may not lie in a moving object under
// 3m) to a fresh pair that nothing else keeps; the holder has a no-order finalizer.
KEEL_TEST_NOINLINE void HolderWithLink() {
  auto** holder = static_cast<void**>(scheme_malloc_atomic_allow_interior(2 * sizeof(void*)));
  LinkToFresh(&holder[0], 61, false);
  GC_register_finalizer_no_order(holder, &ReadsHolderLink, nullptr, nullptr, nullptr);
}

}  // namespace

// The holder is unreached when short links clear and then resurrected by its finalizer (which
// does not trace an atomic holder's words): its link is judged after resurrection and cleared,
// not dropped with the freed pair's address in it.
BOOST_AUTO_TEST_CASE(a_link_in_a_resurrected_holder_is_still_cleared) {
  g_holder_link_state = -1;
  HolderWithLink();
  CollectClean();
  if (g_holder_link_state == -1 && !keel_test::FreedChecksAreStrict()) return;  // holder retained
  BOOST_TEST(g_holder_link_state == 0);
}

BOOST_AUTO_TEST_SUITE_END()

#ifndef MZ_PRECISE_GC
// Racket's weak references (CGC): *p clears once its value (or v) is unreachable; late ones
// only once it is really gone; scheme_unweak_reference stops it.
BOOST_FIXTURE_TEST_SUITE(weak_references, keel_test::CleanStackFixture)

KEEL_TEST_NOINLINE void WeakToFresh(void** p, intptr_t n, int how) {
  Scheme_Object* v = scheme_make_pair(scheme_make_integer(n), scheme_null);
  *p = v;
  if (how == 0) scheme_weak_reference(p);
  if (how == 1) scheme_late_weak_reference(p);
  if (how == 2) scheme_weak_reference_indirect(p, v);
  if (how == 3) scheme_late_weak_reference_indirect(p, v);
}

BOOST_AUTO_TEST_CASE(weak_references_clear_with_their_values) {
  void** p = NewLinks(4);
  for (int how = 0; how < 4; ++how) WeakToFresh(&p[how], 10 + how, how);
  CollectClean();
  for (int how = 0; how < 4; ++how) KEEL_CHECK_FREED(LinkState(&p[how], 10 + how) == 0, "kind " << how);
  std::free(p);
}

BOOST_AUTO_TEST_CASE(unweak_reference_stops_clearing) {
  void** p = NewLinks(1);
  WeakToFresh(&p[0], 20, 0);
  scheme_unweak_reference(&p[0]);
  const uintptr_t kept = reinterpret_cast<uintptr_t>(p[0]);
  CollectClean();
  BOOST_TEST(reinterpret_cast<uintptr_t>(p[0]) == kept);  // not cleared (the value may be freed)
  std::free(p);
}

BOOST_AUTO_TEST_CASE(values_the_collector_does_not_own_never_clear) {
  static int a_static = 0;
  void** p = NewLinks(2);
  p[0] = &a_static;
  scheme_weak_reference(&p[0]);
  p[1] = scheme_make_integer(5);
  scheme_weak_reference(&p[1]);
  CollectClean();
  BOOST_TEST(p[0] == &a_static);
  BOOST_TEST(p[1] == scheme_make_integer(5));
  scheme_unweak_reference(&p[0]);
  std::free(p);
}

BOOST_AUTO_TEST_SUITE_END()
#endif
