// ephemeron_test.cpp: ephemerons (scheme_make_ephemeron, scheme_ephemeron_key,
// scheme_ephemeron_value) against CGC and 3m from one source: the value is kept exactly while
// the key is reachable by other paths, including a value that refers back to its key; chains
// resolve in one collection in any order; an ephemeron reached only through another's value
// counts; a key resurrected by a will-like finalizer keeps its value (docs/design/weak.md
// .sol.ephemerons). Objects expected to go are made in helpers and kept only in registered
// places, as in weak_test.cpp.
#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "keel_gc.h"
#include "scheme.h"
#include "support/gc_probe.h"
#include "support/registered.h"
#include "support/scheme_escape.h"
#include "support/seed.h"

namespace {

using keel_test::CollectClean;
using keel_test::CollectMinorClean;
using keel_test::Registered;

Scheme_Object* Pair(intptr_t a, Scheme_Object* d) { return scheme_make_pair(scheme_make_integer(a), d); }

intptr_t CarInt(Scheme_Object* p) {
  return (p != nullptr && !SCHEME_INTP(p) && SCHEME_PAIRP(p) && SCHEME_INTP(SCHEME_CAR(p))) ? SCHEME_INT_VAL(SCHEME_CAR(p)) : -1;
}

// 0: key and value NULL; 1: key (k . _) and value (v . _); 2: anything else. Read here, so the
// caller's frame never holds the key or the value.
KEEL_TEST_NOINLINE int State(Scheme_Object* e, intptr_t k, intptr_t v) {
  Scheme_Object* key = scheme_ephemeron_key(e);
  Scheme_Object* value = scheme_ephemeron_value(e);
  if (key == nullptr && value == nullptr) return 0;
  return (CarInt(key) == k && CarInt(value) == v) ? 1 : 2;
}

// block[0] = key (k . ()), block[1] = an ephemeron of it whose value (v . ()) nothing else holds;
// with `cycle` the value's cdr is the key itself. Every allocation is a statement of its own, so
// no argument read before it goes stale when it moves objects (3m).
KEEL_TEST_NOINLINE void MakeKeyed(Scheme_Object** block, intptr_t k, intptr_t v, bool cycle) {
  Scheme_Object* value = nullptr;
  Registered reg(value);
  block[0] = Pair(k, scheme_null);
  value = Pair(v, cycle ? block[0] : scheme_null);
  block[1] = scheme_make_ephemeron(block[0], value);
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(ephemerons, keel_test::CleanStackFixture)

BOOST_AUTO_TEST_CASE(the_value_stays_while_the_key_does_and_both_follow_moves) {
  static Scheme_Object** block = reinterpret_cast<Scheme_Object**>(keel_test::NewRegisteredBlock(2));
  MakeKeyed(block, 1, 2, false);
  for (int i = 0; i < 4; ++i) {
    keel_test::GarbageThenCollect(i);
    BOOST_TEST(State(block[1], 1, 2) == 1, "collection " << i);
    BOOST_TEST(scheme_ephemeron_key(block[1]) == block[0]);
  }
  block[0] = block[1] = nullptr;
}

BOOST_AUTO_TEST_CASE(key_and_value_clear_when_the_key_dies) {
  for (bool cycle : {false, true}) {
    static Scheme_Object** block = reinterpret_cast<Scheme_Object**>(keel_test::NewRegisteredBlock(2));
    MakeKeyed(block, 3, 4, cycle);
    CollectClean();
    BOOST_TEST(State(block[1], 3, 4) == 1);
    block[0] = nullptr;  // the value (with `cycle`, one that refers back to the key) is all that is left
    CollectClean();
    const int state = State(block[1], 3, 4);
    BOOST_TEST(state != 2);
    KEEL_CHECK_FREED(state == 0, "cycle " << cycle);
    block[1] = nullptr;
  }
}

// The value is garbage once the key is: a weak box on it clears in the same collection.
KEEL_TEST_NOINLINE void MakeWatchedValue(Scheme_Object** block) {
  Scheme_Object* value = nullptr;
  Registered reg(value);
  value = Pair(6, scheme_null);
  block[0] = Pair(5, scheme_null);
  block[1] = scheme_make_ephemeron(block[0], value);
  block[2] = scheme_make_weak_box(value);
}

BOOST_AUTO_TEST_CASE(a_value_is_freed_with_its_key) {
  static Scheme_Object** block = reinterpret_cast<Scheme_Object**>(keel_test::NewRegisteredBlock(3));
  MakeWatchedValue(block);
  CollectClean();
  BOOST_TEST(CarInt(SCHEME_WEAK_BOX_VAL(block[2])) == 6);
  block[0] = nullptr;
  CollectClean();
  KEEL_CHECK_FREED(SCHEME_WEAK_BOX_VAL(block[2]) == nullptr);
  block[1] = block[2] = nullptr;
}

// An ephemeron that only another ephemeron's value holds still works once reached.
KEEL_TEST_NOINLINE void MakeNested(Scheme_Object** block) {
  Scheme_Object *inner = nullptr, *value = nullptr;
  Registered reg(inner, value);
  block[0] = Pair(7, scheme_null);  // the outer key
  block[1] = Pair(8, scheme_null);  // the inner key
  value = Pair(9, scheme_null);
  inner = scheme_make_ephemeron(block[1], value);
  block[2] = scheme_make_ephemeron(block[0], inner);
}

BOOST_AUTO_TEST_CASE(an_ephemeron_reached_through_another_works) {
  static Scheme_Object** block = reinterpret_cast<Scheme_Object**>(keel_test::NewRegisteredBlock(3));
  MakeNested(block);
  for (int i = 0; i < 2; ++i) {
    CollectClean();
    Scheme_Object* inner = scheme_ephemeron_value(block[2]);
    BOOST_TEST_REQUIRE(inner != nullptr);
    BOOST_TEST(State(inner, 8, 9) == 1);
  }
  block[1] = nullptr;  // the inner key goes; the outer one stays
  CollectClean();
  Scheme_Object* inner = scheme_ephemeron_value(block[2]);
  BOOST_TEST_REQUIRE(inner != nullptr);
  KEEL_CHECK_FREED(State(inner, 8, 9) == 0);
  block[0] = block[2] = nullptr;
}

// A chain of ChainLength() ephemerons, the value of each holding the key of the next, made in
// reverse order so that the table meets them backwards: one collection must resolve all of it
// (a rescanning fixpoint would take as many passes over the table as the chain has links). Only
// the first key is a root. 10^5 links; 5,000 where allocation is slow (keel_test::ScaledCount:
// sanitizers, Debug, GC stress, whose collection every few allocations would make building 10^5
// take minutes).
intptr_t ChainLength() { return keel_test::ScaledCount(100000, 5000); }

KEEL_TEST_NOINLINE void MakeChain(Scheme_Object** block, intptr_t n) {
  Scheme_Object *key = nullptr, *next_key = nullptr, *ephemerons = nullptr, *value = nullptr, *e = nullptr;
  Registered reg(key, next_key, ephemerons, value, e);
  ephemerons = scheme_make_vector(n, scheme_null);
  for (intptr_t i = n - 1; i >= 0; --i) {
    key = Pair(i, scheme_null);
    value = Pair(i + n, next_key != nullptr ? next_key : scheme_null);
    e = scheme_make_ephemeron(key, value);
    SCHEME_VEC_ELS(ephemerons)[i] = e;
    next_key = key;
  }
  block[0] = key;  // key 0
  block[1] = ephemerons;
}

KEEL_TEST_NOINLINE intptr_t ChainKept(Scheme_Object* ephemerons, intptr_t n) {
  intptr_t kept = 0;
  for (intptr_t i = 0; i < n; ++i) {
    if (State(SCHEME_VEC_ELS(ephemerons)[i], i, i + n) == 1) ++kept;
  }
  return kept;
}

KEEL_TEST_NOINLINE intptr_t ChainCleared(Scheme_Object* ephemerons, intptr_t n) {
  intptr_t cleared = 0;
  for (intptr_t i = 0; i < n; ++i) {
    if (State(SCHEME_VEC_ELS(ephemerons)[i], i, i + n) == 0) ++cleared;
  }
  return cleared;
}

BOOST_AUTO_TEST_CASE(a_long_chain_resolves_in_one_collection) {
  static Scheme_Object** block = reinterpret_cast<Scheme_Object**>(keel_test::NewRegisteredBlock(2));
  const intptr_t n = ChainLength();
  MakeChain(block, n);
  CollectClean();
  BOOST_TEST(ChainKept(block[1], n) == n);
  keel_gc_collect_minor();
  BOOST_TEST(ChainKept(block[1], n) == n);
  block[0] = nullptr;
  CollectClean();
  KEEL_CHECK_FREED(ChainCleared(block[1], n) == n);
  block[1] = nullptr;
}

// A will-like finalizer resurrects its object before unready ephemerons clear: an ephemeron
// keyed by it keeps its value through that collection.
Scheme_Object** g_block = nullptr;
int g_will_state = -1;
void WillChecks(void*, void*) { g_will_state = State(g_block[1], 10, 11); }

KEEL_TEST_NOINLINE void MakeWilledKey(Scheme_Object** block) {
  Scheme_Object *key = nullptr, *value = nullptr;
  Registered reg(key, value);
  key = Pair(10, scheme_null);
  value = Pair(11, scheme_null);
  block[1] = scheme_make_ephemeron(key, value);
  scheme_add_scheme_finalizer(key, &WillChecks, nullptr);
}

BOOST_AUTO_TEST_CASE(a_key_a_will_resurrects_keeps_its_value) {
  static Scheme_Object** block = reinterpret_cast<Scheme_Object**>(keel_test::NewRegisteredBlock(2));
  g_block = block;
  g_will_state = -1;
  MakeWilledKey(block);
  CollectClean();
  if (keel_test::FreedChecksAreStrict()) BOOST_TEST_REQUIRE(g_will_state != -1);
  if (g_will_state != -1) {
    BOOST_TEST(g_will_state == 1);
    BOOST_TEST(State(block[1], 10, 11) == 1);  // kept through the collection that ran the will
    CollectClean();
    KEEL_CHECK_FREED(State(block[1], 10, 11) == 0);
  }
  block[1] = nullptr;
}

void NotAnEphemeron(void* arg) { (void)scheme_ephemeron_value(static_cast<Scheme_Object*>(arg)); }

BOOST_AUTO_TEST_CASE(accessors_reject_other_values) {
  Scheme_Object* p = nullptr;
  Registered reg(p);
  p = Pair(1, scheme_null);
  for (Scheme_Object* bad : {p, scheme_make_integer(3), static_cast<Scheme_Object*>(nullptr)}) {
    keel_test::EscapeResult r = keel_test::RunWithErrorHandler(&NotAnEphemeron, bad);
    BOOST_TEST(r.escaped);
    BOOST_TEST(r.message.find("expected an ephemeron") != std::string::npos, r.message);
  }
}

// Seeded: keys in a registered vector, ephemerons in another, each keyed by a random key with a
// value that holds another random key (so values keep keys alive for other ephemerons); rounds
// drop keys and collect. An ephemeron whose key is still registered keeps its value; one whose
// key is neither registered nor reachable through a kept value clears at a major collection;
// none reads anything but NULL or its own key and value.
KEEL_TEST_NOINLINE void MakeSeeded(Scheme_Object* keys, Scheme_Object* ephemerons, intptr_t n, uint64_t seed,
                                   std::vector<intptr_t>* key_of, std::vector<intptr_t>* held_of) {
  Scheme_Object *value = nullptr, *e = nullptr;
  Registered reg(keys, ephemerons, value, e);
  keel_test::XorShift random(seed);
  for (intptr_t i = 0; i < n; ++i) {
    value = Pair(i, scheme_null);
    SCHEME_VEC_ELS(keys)[i] = value;
  }
  for (intptr_t i = 0; i < n; ++i) {
    const auto k = static_cast<intptr_t>(random.Below(static_cast<uint64_t>(n)));
    const auto h = static_cast<intptr_t>(random.Below(static_cast<uint64_t>(n)));
    value = Pair(1000000 + i, SCHEME_VEC_ELS(keys)[h]);
    e = scheme_make_ephemeron(SCHEME_VEC_ELS(keys)[k], value);
    SCHEME_VEC_ELS(ephemerons)[i] = e;
    (*key_of)[static_cast<size_t>(i)] = k;
    (*held_of)[static_cast<size_t>(i)] = h;
  }
}

BOOST_AUTO_TEST_CASE(seeded_keys_and_values) {
  constexpr intptr_t kN = 512;
  const uint64_t seed = keel_test::SeedFromCommandLine();
  std::printf("ephemerons/seeded_keys_and_values: seed %llu (--seed to repeat)\n", static_cast<unsigned long long>(seed));
  Scheme_Object *keys = nullptr, *ephemerons = nullptr;
  Registered reg(keys, ephemerons);
  keys = scheme_make_vector(kN, scheme_null);
  ephemerons = scheme_make_vector(kN, scheme_null);
  std::vector<intptr_t> key_of(kN), held_of(kN);
  MakeSeeded(keys, ephemerons, kN, seed, &key_of, &held_of);
  std::vector<bool> dropped(kN, false);
  keel_test::XorShift random(seed * 3 + 1);
  for (int round = 0; round < 12; ++round) {
    for (int d = 0; d < kN / 12; ++d) {
      const auto k = static_cast<size_t>(random.Below(kN));
      SCHEME_VEC_ELS(keys)[k] = scheme_null;
      dropped[k] = true;
    }
    const bool major = round % 3 == 2;
    if (major) {
      CollectClean();
    } else {
      CollectMinorClean();
    }
    // Which keys are reachable: registered ones, and those held by the values of ephemerons
    // whose keys are reachable (to a fixpoint).
    std::vector<bool> live(kN, false);
    for (intptr_t k = 0; k < kN; ++k) live[static_cast<size_t>(k)] = !dropped[static_cast<size_t>(k)];
    for (bool changed = true; changed;) {
      changed = false;
      for (intptr_t i = 0; i < kN; ++i) {
        if (live[static_cast<size_t>(key_of[static_cast<size_t>(i)])] && !live[static_cast<size_t>(held_of[static_cast<size_t>(i)])]) {
          live[static_cast<size_t>(held_of[static_cast<size_t>(i)])] = true;
          changed = true;
        }
      }
    }
    for (intptr_t i = 0; i < kN; ++i) {
      const int state = State(SCHEME_VEC_ELS(ephemerons)[i], key_of[static_cast<size_t>(i)], 1000000 + i);
      BOOST_TEST_REQUIRE(state != 2, "seed " << seed << " round " << round << " ephemeron " << i);
      if (live[static_cast<size_t>(key_of[static_cast<size_t>(i)])]) {
        BOOST_TEST_REQUIRE(state == 1, "seed " << seed << " round " << round << " ephemeron " << i);
      } else if (major) {
        KEEL_CHECK_FREED(state == 0, "seed " << seed << " round " << round << " ephemeron " << i);
      }
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
