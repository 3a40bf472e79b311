// finalization_test.cpp: the spec's finalizer family (scheme_register_finalizer,
// scheme_add_finalizer(_once), scheme_subtract_finalizer, scheme_add_scheme_finalizer(_once),
// scheme_remove_all_finalization) as extension code uses it, against CGC and 3m from one
// source: when finalizers run and in which order, what they keep alive, resurrection, their
// order against weak boxes, finalizers that allocate, collect and escape, and the errors for
// memory the collector does not own (docs/design/weak.md .sol.finalizers, .sol.running).
// Objects expected to become unreachable are made in helpers whose frames are dead by the
// collection, and kept, where a test needs them, only in registered blocks.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "keel_gc.h"
#include "scheme.h"
#include "support/child_process.h"
#include "support/gc_probe.h"
#include "support/registered.h"
#include "support/scheme_escape.h"

namespace {

using keel_test::CollectClean;
using keel_test::Registered;

// What the finalizers saw, in order.
struct Seen {
  std::string tag;      // which finalizer
  intptr_t car = -1;    // the object's car, a fixnum (-1 if it was not a pair)
  bool data_ok = true;  // the data was what the test registered
};
std::vector<Seen> g_log;
int g_depth = 0;      // finalizers running now (never more than one)
int g_max_depth = 0;

intptr_t CarOf(void* p) {
  auto* o = static_cast<Scheme_Object*>(p);
  return (o != nullptr && SCHEME_PAIRP(o) && SCHEME_INTP(SCHEME_CAR(o))) ? SCHEME_INT_VAL(SCHEME_CAR(o)) : -1;
}

void Note(const char* tag, void* p, bool data_ok = true) {
  g_log.push_back(Seen{tag, CarOf(p), data_ok});
}

// Data that is a C string names the finalizer.
void Named(void* p, void* data) { Note(static_cast<const char*>(data), p); }
void Other(void* p, void* data) { Note(static_cast<const char*>(data), p); }

// Data that is a Scheme pair (8 . 9), reachable only through the registration.
void ChecksData(void* p, void* data) {
  auto* d = static_cast<Scheme_Object*>(data);
  Note("data", p, d != nullptr && SCHEME_PAIRP(d) && SCHEME_INT_VAL(SCHEME_CAR(d)) == 8 && SCHEME_INT_VAL(SCHEME_CDR(d)) == 9);
}

// A pair (n . 0) that nothing keeps, with f registered (how: 0 register, 1 add, 2 will).
KEEL_TEST_NOINLINE void MakeFinalizable(intptr_t n, int how, void (*f)(void*, void*), void* data) {
  Scheme_Object* p = scheme_make_pair(scheme_make_integer(n), scheme_make_integer(0));
  if (how == 0) scheme_register_finalizer(p, f, data, nullptr, nullptr);
  if (how == 1) scheme_add_finalizer(p, f, data);
  if (how == 2) scheme_add_scheme_finalizer(p, f, data);
}

// Under the sanitizers, unoptimized builds and GC stress a stale stack word may keep an object
// that the test dropped (gc_probe.h); there a finalizer that did not run ends the test case
// with a message instead of a failure. Release runs check strictly.
#define REQUIRE_RAN(cond)                                                \
  do {                                                                   \
    if (keel_test::FreedChecksAreStrict()) {                             \
      BOOST_TEST_REQUIRE((cond));                                        \
    } else if (!(cond)) {                                                \
      BOOST_TEST_MESSAGE("finalizer not run (object retained): " #cond); \
      return;                                                            \
    }                                                                    \
  } while (0)

struct Reset {
  Reset() {
    CollectClean();  // finalizers earlier test cases left ready run now
    g_log.clear();
    g_depth = 0;
    g_max_depth = 0;
  }
};

std::vector<std::string> Tags() {
  std::vector<std::string> tags;
  for (const Seen& s : g_log) tags.push_back(s.tag);
  return tags;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(finalization, Reset)

BOOST_AUTO_TEST_CASE(a_registered_finalizer_runs_once_with_its_object) {
  MakeFinalizable(41, 0, &Named, const_cast<char*>("ext"));
  CollectClean();
  REQUIRE_RAN(g_log.size() == 1u);
  BOOST_TEST(g_log[0].tag == "ext");
  BOOST_TEST(g_log[0].car == 41);  // the object is intact (under 3m at its new address)
  CollectClean();
  CollectClean();
  BOOST_TEST(g_log.size() == 1u);
}

BOOST_AUTO_TEST_CASE(a_reachable_object_is_not_finalized) {
  Scheme_Object* p = nullptr;
  Registered reg(p);
  p = scheme_make_pair(scheme_make_integer(5), scheme_null);
  scheme_register_finalizer(p, &Named, const_cast<char*>("ext"), nullptr, nullptr);
  for (int i = 0; i < 3; ++i) {
    keel_test::AllocateGarbage();
    CollectClean();
    keel_gc_collect_minor();
  }
  BOOST_TEST(g_log.empty());
  BOOST_TEST(SCHEME_INT_VAL(SCHEME_CAR(p)) == 5);
  scheme_register_finalizer(p, nullptr, nullptr, nullptr, nullptr);
}

// The data is kept (and followed under 3m) until the finalizer runs, though nothing else holds
// it.
KEEL_TEST_NOINLINE void MakeWithData() {
  Scheme_Object *p = nullptr, *data = nullptr;
  Registered reg(p, data);
  p = scheme_make_pair(scheme_make_integer(3), scheme_null);
  data = scheme_make_pair(scheme_make_integer(8), scheme_make_integer(9));
  scheme_add_finalizer(p, &ChecksData, data);
}

BOOST_AUTO_TEST_CASE(the_data_stays_reachable_until_the_finalizer_runs) {
  MakeWithData();
  keel_test::AllocateGarbage();
  CollectClean();
  REQUIRE_RAN(g_log.size() == 1u);
  BOOST_TEST(g_log[0].tag == "data");
  BOOST_TEST(g_log[0].data_ok);
  BOOST_TEST(g_log[0].car == 3);
}

BOOST_AUTO_TEST_CASE(register_returns_the_previous_finalizer_and_null_removes_it) {
  Scheme_Object* p = nullptr;
  Registered reg(p);
  p = scheme_make_pair(scheme_make_integer(1), scheme_null);
  void (*oldf)(void*, void*) = &Other;
  void* olddata = &oldf;
  scheme_register_finalizer(p, &Named, const_cast<char*>("one"), &oldf, &olddata);
  BOOST_TEST(oldf == nullptr);
  BOOST_TEST(olddata == nullptr);
  scheme_register_finalizer(p, &Other, const_cast<char*>("two"), &oldf, &olddata);
  BOOST_TEST(oldf == &Named);
  BOOST_TEST(std::string(static_cast<const char*>(olddata)) == "one");
  scheme_register_finalizer(p, nullptr, nullptr, &oldf, &olddata);
  BOOST_TEST(oldf == &Other);
  BOOST_TEST(std::string(static_cast<const char*>(olddata)) == "two");
  p = nullptr;
  CollectClean();
  CollectClean();
  BOOST_TEST(g_log.empty());
}

// The registered finalizer, then the added chain, newest first, all after one collection.
KEEL_TEST_NOINLINE void MakeChained() {
  Scheme_Object* p = scheme_make_pair(scheme_make_integer(2), scheme_null);
  scheme_add_finalizer(p, &Named, const_cast<char*>("added-first"));
  scheme_register_finalizer(p, &Named, const_cast<char*>("registered"), nullptr, nullptr);
  scheme_add_finalizer(p, &Named, const_cast<char*>("added-second"));
}

BOOST_AUTO_TEST_CASE(the_registered_finalizer_runs_before_the_chain_newest_first) {
  MakeChained();
  CollectClean();
  REQUIRE_RAN(g_log.size() == 3u);
  BOOST_TEST((Tags() == std::vector<std::string>{"registered", "added-second", "added-first"}));
  for (const Seen& s : g_log) BOOST_TEST(s.car == 2);
}

KEEL_TEST_NOINLINE void MakeOnceAndSubtracted() {
  Scheme_Object* p = scheme_make_pair(scheme_make_integer(4), scheme_null);
  char* once = const_cast<char*>("once");
  scheme_add_finalizer_once(p, &Named, once);
  scheme_add_finalizer_once(p, &Named, once);  // the same pair: not added again
  scheme_add_finalizer_once(p, &Other, once);  // another function: added
  scheme_add_finalizer(p, &Named, const_cast<char*>("subtracted"));
  scheme_subtract_finalizer(p, &Named, const_cast<char*>("subtracted"));
  scheme_subtract_finalizer(p, &Named, const_cast<char*>("never-added"));  // no effect
}

BOOST_AUTO_TEST_CASE(add_once_deduplicates_and_subtract_removes) {
  MakeOnceAndSubtracted();
  CollectClean();
  REQUIRE_RAN(!g_log.empty());
  BOOST_TEST((Tags() == std::vector<std::string>{"once", "once"}));  // Other then Named
}

// Will-like finalizers run one per collection that finds the object unreached, newest first,
// each time on the intact, resurrected object; the registered finalizer only after them.
KEEL_TEST_NOINLINE void MakeWilled() {
  Scheme_Object* p = scheme_make_pair(scheme_make_integer(6), scheme_null);
  scheme_register_finalizer(p, &Named, const_cast<char*>("registered"), nullptr, nullptr);
  scheme_add_scheme_finalizer(p, &Named, const_cast<char*>("will-1"));
  scheme_add_scheme_finalizer(p, &Named, const_cast<char*>("will-2"));
  scheme_add_scheme_finalizer_once(p, &Named, const_cast<char*>("will-2"));  // de-duplicated
}

BOOST_AUTO_TEST_CASE(wills_run_one_per_collection_before_the_registered_finalizer) {
  MakeWilled();
  CollectClean();
  REQUIRE_RAN(g_log.size() == 1u);
  BOOST_TEST(g_log[0].tag == "will-2");
  CollectClean();
  REQUIRE_RAN(g_log.size() == 2u);
  BOOST_TEST(g_log[1].tag == "will-1");
  CollectClean();
  REQUIRE_RAN(g_log.size() == 3u);
  BOOST_TEST(g_log[2].tag == "registered");
  for (const Seen& s : g_log) BOOST_TEST(s.car == 6);
  CollectClean();
  BOOST_TEST(g_log.size() == 3u);
}

KEEL_TEST_NOINLINE void MakeRemoved() {
  Scheme_Object* p = scheme_make_pair(scheme_make_integer(7), scheme_null);
  scheme_register_finalizer(p, &Named, const_cast<char*>("registered"), nullptr, nullptr);
  scheme_add_finalizer(p, &Named, const_cast<char*>("added"));
  scheme_add_scheme_finalizer(p, &Named, const_cast<char*>("will"));
  scheme_remove_all_finalization(p);
}

BOOST_AUTO_TEST_CASE(remove_all_finalization_drops_every_kind) {
  MakeRemoved();
  CollectClean();
  CollectClean();
  BOOST_TEST(g_log.empty());
}

// A finalizer that stores its object in a root resurrects it: the object stays intact and is
// not finalized again (its finalizers were used up).
Scheme_Object** g_resurrected = nullptr;
void Resurrects(void* p, void*) {
  Note("resurrect", p);
  *g_resurrected = static_cast<Scheme_Object*>(p);
}

BOOST_AUTO_TEST_CASE(a_finalizer_may_resurrect_its_object) {
  static Scheme_Object** block = reinterpret_cast<Scheme_Object**>(keel_test::NewRegisteredBlock(1));
  g_resurrected = block;
  MakeFinalizable(12, 0, &Resurrects, nullptr);
  CollectClean();
  REQUIRE_RAN(g_log.size() == 1u);
  BOOST_TEST(CarOf(block[0]) == 12);
  for (int i = 0; i < 3; ++i) {
    keel_test::AllocateGarbage();
    CollectClean();
  }
  BOOST_TEST(CarOf(block[0]) == 12);
  block[0] = nullptr;
  CollectClean();
  BOOST_TEST(g_log.size() == 1u);
}

// Finalizers may allocate and collect; the collections they cause run no finalizer inside
// another, and the finalizers those collections make ready run in the same round.
void AllocatesAndCollects(void* p, void* data) {
  ++g_depth;
  g_max_depth = std::max(g_max_depth, g_depth);
  Note("allocates", p);
  if (data != nullptr) MakeFinalizable(99, 0, &AllocatesAndCollects, nullptr);  // a second one, made here
  for (int i = 0; i < 1000; ++i) (void)scheme_make_pair(scheme_make_integer(i), scheme_null);
  scheme_collect_garbage();
  --g_depth;
}

BOOST_AUTO_TEST_CASE(a_finalizer_may_allocate_and_collect) {
  MakeFinalizable(13, 0, &AllocatesAndCollects, &g_depth);
  CollectClean();
  REQUIRE_RAN(!g_log.empty());
  CollectClean();
  REQUIRE_RAN(g_log.size() == 2u);
  BOOST_TEST(g_max_depth == 1);
  BOOST_TEST(g_log[0].car == 13);
  BOOST_TEST(g_log[1].car == 99);
}

// A finalizer that escapes with scheme_signal_error: the escape reaches the handler of the
// call that collected, and the other waiting finalizers run at the next chance.
void EscapesOnce(void* p, void* data) {
  Note("escapes", p);
  auto* armed = static_cast<int*>(data);
  if (*armed != 0) {
    *armed = 0;
    scheme_signal_error("finalizer error on purpose");
  }
}

int g_armed = 0;
KEEL_TEST_NOINLINE void CollectUnderHandler(void*) { CollectClean(); }

BOOST_AUTO_TEST_CASE(an_escaping_finalizer_leaves_the_others_waiting) {
  static int disarmed = 0;
  g_armed = 1;
  // No collection until the handler is in place (GC stress would collect in the allocations,
  // and the armed finalizer would escape with no handler, which exits).
  scheme_enable_garbage_collection(0);
  MakeFinalizable(21, 0, &EscapesOnce, &g_armed);
  MakeFinalizable(22, 0, &EscapesOnce, &disarmed);
  MakeFinalizable(23, 0, &EscapesOnce, &disarmed);
  scheme_enable_garbage_collection(1);
  keel_test::EscapeResult r = keel_test::RunWithErrorHandler(&CollectUnderHandler, nullptr);
  REQUIRE_RAN(!g_log.empty());
  const size_t before = g_log.size();
  if (r.escaped) {
    BOOST_TEST(r.message.find("finalizer error on purpose") != std::string::npos);
    BOOST_TEST(before < 3u);
  }
  CollectClean();  // the rest run now
  REQUIRE_RAN(g_log.size() == 3u);
  std::vector<intptr_t> cars;
  for (const Seen& s : g_log) cars.push_back(s.car);
  std::sort(cars.begin(), cars.end());
  BOOST_TEST((cars == std::vector<intptr_t>{21, 22, 23}));
  BOOST_TEST(g_armed == 0);
}

// The order against weak boxes (DESIGN D6): while a level-2 finalizer runs, an ordinary weak box
// of its object reads NULL and a late one still holds it; a will-like finalizer's object keeps
// its ordinary weak box through the collection in which the will runs.
Scheme_Object** g_boxes = nullptr;  // [ordinary, late] weak boxes of the object finalized
void ReadsBoxes(void* p, void*) {
  Seen s{"boxes", CarOf(p), true};
  s.data_ok = SCHEME_WEAK_BOX_VAL(g_boxes[0]) == nullptr && SCHEME_WEAK_BOX_VAL(g_boxes[1]) == p;
  g_log.push_back(s);
}
void WillReadsBox(void* p, void*) {
  Seen s{"will", CarOf(p), true};
  s.data_ok = SCHEME_WEAK_BOX_VAL(g_boxes[0]) == p;
  g_log.push_back(s);
}

KEEL_TEST_NOINLINE void MakeBoxed(intptr_t n, bool will) {
  Scheme_Object* p = nullptr;
  Registered reg(p);
  p = scheme_make_pair(scheme_make_integer(n), scheme_null);
  g_boxes[0] = scheme_make_weak_box(p);
  g_boxes[1] = scheme_make_late_weak_box(p);
  if (will) {
    scheme_add_scheme_finalizer(p, &WillReadsBox, nullptr);
  } else {
    scheme_register_finalizer(p, &ReadsBoxes, nullptr, nullptr, nullptr);
  }
}

BOOST_AUTO_TEST_CASE(ordinary_boxes_clear_before_level_two_and_late_ones_after) {
  static Scheme_Object** boxes = reinterpret_cast<Scheme_Object**>(keel_test::NewRegisteredBlock(2));
  g_boxes = boxes;
  MakeBoxed(31, false);
  CollectClean();
  REQUIRE_RAN(g_log.size() == 1u);
  BOOST_TEST(g_log[0].data_ok);
  BOOST_TEST(g_log[0].car == 31);
  CollectClean();  // the object is gone now: the late box clears
  KEEL_CHECK_FREED(SCHEME_WEAK_BOX_VAL(boxes[1]) == nullptr);
  boxes[0] = boxes[1] = nullptr;
}

BOOST_AUTO_TEST_CASE(a_will_keeps_the_weak_box_of_its_object) {
  static Scheme_Object** boxes = reinterpret_cast<Scheme_Object**>(keel_test::NewRegisteredBlock(2));
  g_boxes = boxes;
  MakeBoxed(32, true);
  CollectClean();
  REQUIRE_RAN(g_log.size() == 1u);
  BOOST_TEST(g_log[0].data_ok);
  BOOST_TEST(CarOf(SCHEME_WEAK_BOX_VAL(boxes[0])) == 32);  // kept through that collection
  CollectClean();
  KEEL_CHECK_FREED(SCHEME_WEAK_BOX_VAL(boxes[0]) == nullptr);
  boxes[0] = boxes[1] = nullptr;
}

// Weak boxes that only a finalizable object holds are resurrected with it after the ordinary
// boxes were cleared: they are judged then, against the marks after resurrection. The object
// is (box-of-V . box-of-itself): V, which nothing else keeps, reads NULL; the object itself was
// resurrected and is read back at its current address (3m moved it). Dropping such a box
// instead would leave it with a freed (CGC) or stale nursery (3m) address.
void ReadsOwnBoxes(void* p, void*) {
  auto* o = static_cast<Scheme_Object*>(p);
  Seen s{"own-boxes", -1, true};
  s.data_ok = SCHEME_WEAK_BOX_VAL(SCHEME_CAR(o)) == nullptr && SCHEME_WEAK_BOX_VAL(SCHEME_CDR(o)) == o;
  g_log.push_back(s);
}

KEEL_TEST_NOINLINE void MakeHoldingOwnBoxes() {
  Scheme_Object *p = nullptr, *v = nullptr, *box = nullptr;
  Registered reg(p, v, box);
  v = scheme_make_pair(scheme_make_integer(5), scheme_make_integer(6));
  box = scheme_make_weak_box(v);
  p = scheme_make_pair(box, scheme_null);
  box = scheme_make_weak_box(p);
  SCHEME_CDR(p) = box;
  scheme_register_finalizer(p, &ReadsOwnBoxes, nullptr, nullptr, nullptr);
}

BOOST_AUTO_TEST_CASE(boxes_a_finalizer_resurrects_are_cleared_and_followed) {
  MakeHoldingOwnBoxes();
  keel_test::AllocateGarbage();
  CollectClean();
  REQUIRE_RAN(g_log.size() == 1u);
  BOOST_TEST(g_log[0].tag == "own-boxes");
  BOOST_TEST(g_log[0].data_ok);
}

// A young object that dies young is finalized by the minor collection that finds it.
BOOST_AUTO_TEST_CASE(a_minor_collection_finalizes_young_objects) {
  scheme_collect_garbage();
  MakeFinalizable(33, 1, &Named, const_cast<char*>("minor"));
  keel_test::ClearStack();
  keel_test::ZeroScratchRegisters();
  keel_gc_collect_minor();
  REQUIRE_RAN(g_log.size() == 1u);
  BOOST_TEST(g_log[0].car == 33);
}

// Finalizers that allocation's collections make ready run before that allocation returns,
// and the object it returns is intact.
BOOST_AUTO_TEST_CASE(allocation_runs_the_finalizers_its_collection_made_ready) {
  for (int i = 0; i < 50; ++i) MakeFinalizable(1000 + i, 1, &Named, const_cast<char*>("alloc"));
  Scheme_Object* last = nullptr;
  Registered reg(last);
  const uint64_t before = keel_test::CollectionCount();
  while (keel_test::CollectionCount() < before + 3) {
    last = scheme_make_pair(scheme_make_integer(77), scheme_null);
    BOOST_TEST_REQUIRE(SCHEME_INT_VAL(SCHEME_CAR(last)) == 77);
  }
  REQUIRE_RAN(g_log.size() == 50u);
}

void NotOwned(void* arg) { scheme_add_finalizer(arg, &Named, const_cast<char*>("never")); }

BOOST_AUTO_TEST_CASE(memory_the_collector_does_not_own_is_an_error) {
  static int a_static = 0;
  void* malloced = std::malloc(32);
  Scheme_Object* p = nullptr;
  Registered reg(p);
  p = scheme_make_pair(scheme_make_integer(1), scheme_null);
  for (void* bad : {static_cast<void*>(&a_static), malloced, static_cast<void*>(reinterpret_cast<char*>(p) + 8)}) {
    keel_test::EscapeResult r = keel_test::RunWithErrorHandler(&NotOwned, bad);
    BOOST_TEST(r.escaped);
    BOOST_TEST(r.message.find("scheme_add_finalizer") != std::string::npos, r.message);
    BOOST_TEST(r.message.find("not the start of an object") != std::string::npos, r.message);
  }
  std::free(malloced);
  CollectClean();
  BOOST_TEST(g_log.empty());
}

// Many finalizable objects at once: every one is finalized once, with its own object.
BOOST_AUTO_TEST_CASE(many_finalizable_objects) {
  const int n = static_cast<int>(keel_test::ScaledCount(100000, 2000));
  for (int i = 0; i < n; ++i) MakeFinalizable(i, i % 2, &Named, const_cast<char*>("many"));
  CollectClean();
  CollectClean();
  REQUIRE_RAN(g_log.size() == static_cast<size_t>(n));
  std::vector<char> seen(static_cast<size_t>(n), 0);
  for (const Seen& s : g_log) {
    BOOST_TEST_REQUIRE((s.car >= 0 && s.car < n));
    BOOST_TEST_REQUIRE(seen[static_cast<size_t>(s.car)] == 0);
    seen[static_cast<size_t>(s.car)] = 1;
  }
}

namespace {

long g_counted = 0;
void Count(void*, void*) { ++g_counted; }

// `n` 32-byte objects with a finalizer each, dropped as they are made: collections run all
// along, each making the finalizers of what died ready.
KEEL_TEST_NOINLINE void MakeManyFinalizable(long n) {
  for (long i = 0; i < n; ++i) {
    void* p = scheme_malloc(32);
    scheme_add_finalizer(p, &Count, nullptr);
  }
}

}  // namespace

// A million finalizable objects: every finalizer runs once, and neither the heap nor the
// finalizer tables keep what they held (the records are freed for reuse, the heap goes back
// to a few MiB). In a child with a fresh collector, so the figures are this case's own.
BOOST_AUTO_TEST_CASE(a_million_finalizable_objects_run_in_bounded_memory) {
  keel_test::ChildResult r = keel_test::RunInChild([] {
    keel_test::ChildChecks checks;
    keel_shutdown();  // a fresh collector: the figures are not the earlier cases' heap's
    // Under GC stress a collection comes every few allocations: a few thousand objects already
    // make thousands of collections (a hundred thousand took two minutes under ASan).
    const long n = std::getenv("KEEL_GC_STRESS") != nullptr ? 5'000 : keel_test::ScaledCount(1'000'000, 100'000);
    g_counted = 0;
    MakeManyFinalizable(n);
    CollectClean();
    CollectClean();
    keel_gc_stats s{};
    keel_gc_get_stats(&s);
    std::fprintf(stderr, "%ld finalizable objects: %ld finalized, %llu collections, peak heap %llu KiB, heap %llu KiB, "
                 "max pause %.1f ms\n", n, g_counted, static_cast<unsigned long long>(s.collections),
                 static_cast<unsigned long long>(s.peak_heap_bytes >> 10), static_cast<unsigned long long>(s.heap_bytes >> 10),
                 static_cast<double>(s.max_pause_ns) / 1e6);
    KEEL_CHILD_CHECK(checks, keel_test::FreedChecksAreStrict() ? g_counted == n : g_counted + 2 >= n);
    // All of them at once would be 32 MiB of objects; the heap holds a few collections' worth
    // at a time (3m: its nursery and what survives one collection to be finalized).
    KEEL_CHILD_CHECK(checks, s.peak_heap_bytes < (size_t{28} << 20));
    KEEL_CHILD_CHECK(checks, s.live_bytes < (size_t{1} << 20));
    KEEL_CHILD_CHECK(checks, s.collections >= 2);
    return checks.ExitCode();
  });
  BOOST_TEST_MESSAGE(r.err);
  BOOST_TEST(r.ExitedWith(0), r.Describe());
}

BOOST_AUTO_TEST_SUITE_END()
