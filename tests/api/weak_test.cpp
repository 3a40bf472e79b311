// weak_test.cpp: weak boxes, ordinary and late (scheme_make_weak_box, scheme_make_late_weak_box,
// SCHEME_WEAK_BOX_VAL): a box's value stays while something else keeps it, follows it when it
// moves (3m), and reads NULL once nothing else does, after a minor collection as after a major
// one. The same source runs against CGC and 3m; locals that hold objects across an allocation
// are registered (keel_test::Registered), and a value expected to go is made in helpers whose
// frames are dead by the collection (docs/design/weak.md .sol.boxes).
#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "keel_gc.h"
#include "scheme.h"
#include "support/gc_probe.h"
#include "support/registered.h"
#include "support/seed.h"

namespace {

using keel_test::CollectClean;
using keel_test::CollectMinorClean;
using keel_test::Registered;
using keel_test::RegisteredArray;

// A pair of two fixnums, (a . b), as a value with contents to check after it moves.
Scheme_Object* FixnumPair(intptr_t a, intptr_t b) { return scheme_make_pair(scheme_make_integer(a), scheme_make_integer(b)); }

bool IsFixnumPair(Scheme_Object* p, intptr_t a, intptr_t b) {
  return p != nullptr && SCHEME_PAIRP(p) && SCHEME_INT_VAL(SCHEME_CAR(p)) == a && SCHEME_INT_VAL(SCHEME_CDR(p)) == b;
}

// A weak box (late or not) of a fresh pair that nothing else keeps; the pair's address dies with
// this frame.
KEEL_TEST_NOINLINE Scheme_Object* BoxOfFreshPair(bool late) {
  Scheme_Object* value = FixnumPair(7, 8);
  return late ? scheme_make_late_weak_box(value) : scheme_make_weak_box(value);
}

// What a box reads, without leaving its value's address in the caller's frame (a conservative
// scan of that frame would keep the value): 0 NULL, 1 the pair (a . b), 2 anything else.
KEEL_TEST_NOINLINE int BoxState(Scheme_Object* box, intptr_t a, intptr_t b) {
  Scheme_Object* seen = SCHEME_WEAK_BOX_VAL(box);
  if (seen == nullptr) return 0;
  return IsFixnumPair(seen, a, b) ? 1 : 2;
}

// slot = a fresh pair (a . b) and box = a weak box of it, made here so that the pair's address
// lives on only in *slot (a registered location).
KEEL_TEST_NOINLINE void MakeBoxedPair(Scheme_Object** slot, Scheme_Object** box, intptr_t a, intptr_t b, bool late) {
  *slot = FixnumPair(a, b);
  *box = late ? scheme_make_late_weak_box(*slot) : scheme_make_weak_box(*slot);
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(weak_boxes, keel_test::CleanStackFixture)

BOOST_AUTO_TEST_CASE(a_weak_box_is_its_own_type) {
  Scheme_Object *value = nullptr, *box = nullptr, *late = nullptr;
  Registered reg(value, box, late);
  value = FixnumPair(1, 2);
  box = scheme_make_weak_box(value);
  late = scheme_make_late_weak_box(value);
  BOOST_TEST(SCHEME_WEAK_BOXP(box));
  BOOST_TEST(SCHEME_WEAK_BOXP(late));
  BOOST_TEST(!SCHEME_BOXP(box));
  BOOST_TEST(SCHEME_WEAK_BOX_VAL(box) == value);
  BOOST_TEST(SCHEME_WEAK_BOX_VAL(late) == value);
  intptr_t len = 0;
  char* text = scheme_write_to_string(box, &len);
  BOOST_TEST(std::string(text, static_cast<size_t>(len)) == "#<weak-box>");
}

BOOST_AUTO_TEST_CASE(values_that_never_die_stay) {
  Scheme_Object *fixnum = nullptr, *empty = nullptr, *symbol = nullptr, *sym = nullptr;
  Registered reg(fixnum, empty, symbol, sym);
  fixnum = scheme_make_weak_box(scheme_make_integer(-42));
  empty = scheme_make_weak_box(nullptr);
  sym = scheme_intern_symbol("weak-test-kept-symbol");
  symbol = scheme_make_late_weak_box(sym);
  for (int i = 0; i < 3; ++i) {
    keel_test::AllocateGarbage();
    scheme_collect_garbage();
    keel_gc_collect_minor();
  }
  BOOST_TEST(SCHEME_INT_VAL(SCHEME_WEAK_BOX_VAL(fixnum)) == -42);
  BOOST_TEST(SCHEME_WEAK_BOX_VAL(empty) == nullptr);
  BOOST_TEST(SCHEME_WEAK_BOX_VAL(symbol) == sym);
  BOOST_TEST(SCHEME_WEAK_BOX_VAL(symbol) == scheme_intern_symbol("weak-test-kept-symbol"));
}

// The value is registered, so it survives every collection; under 3m it moves out of the
// nursery at the first and may be compacted later, and the box follows it.
BOOST_AUTO_TEST_CASE(a_kept_value_stays_and_is_followed) {
  for (bool late : {false, true}) {
    Scheme_Object *value = nullptr, *box = nullptr;
    Registered reg(value, box);
    value = FixnumPair(3, 4);
    box = late ? scheme_make_late_weak_box(value) : scheme_make_weak_box(value);
    for (int i = 0; i < 4; ++i) {
      keel_test::GarbageThenCollect(i);
      BOOST_TEST(SCHEME_WEAK_BOX_VAL(box) == value, "late " << late << ", collection " << i);
      BOOST_TEST(IsFixnumPair(SCHEME_WEAK_BOX_VAL(box), 3, 4));
    }
  }
}

BOOST_AUTO_TEST_CASE(an_unreachable_value_is_cleared_by_a_major_collection) {
  for (bool late : {false, true}) {
    Scheme_Object* box = nullptr;
    Registered reg(box);
    box = BoxOfFreshPair(late);
    CollectClean();
    KEEL_CHECK_FREED(SCHEME_WEAK_BOX_VAL(box) == nullptr, "late " << late);
    BOOST_TEST(SCHEME_WEAK_BOXP(box));
  }
}

// A weak box of an interned symbol that nothing else holds (the symbol table holds its symbols
// weakly too), made where the symbol's address dies with the frame.
KEEL_TEST_NOINLINE Scheme_Object* BoxOfSymbol(const char* name) { return scheme_make_weak_box(scheme_intern_symbol(name)); }

// Whether interning `name` now gives a symbol with that name that the box does not hold.
KEEL_TEST_NOINLINE bool InternsFresh(Scheme_Object* box, const char* name) {
  Scheme_Object* sym = scheme_intern_symbol(name);
  return SCHEME_SYMBOLP(sym) && std::string(SCHEME_SYM_VAL(sym)) == name && SCHEME_WEAK_BOX_VAL(box) != sym &&
         scheme_intern_symbol(name) == sym;
}

// The symbol table is weak in both variants: an unreachable symbol is collected (its weak box
// clears), and interning its name again makes a fresh symbol.
BOOST_AUTO_TEST_CASE(an_unreachable_symbol_is_collected_and_interned_afresh) {
  Scheme_Object* box = nullptr;
  Registered reg(box);
  box = BoxOfSymbol("weak-test-dropped-symbol");
  CollectClean();
  KEEL_CHECK_FREED(SCHEME_WEAK_BOX_VAL(box) == nullptr, "the symbol table kept an unreachable symbol");
  BOOST_TEST(InternsFresh(box, "weak-test-dropped-symbol"));
}

// A young value that dies young is cleared by the minor collection that frees it.
BOOST_AUTO_TEST_CASE(an_unreachable_young_value_is_cleared_by_a_minor_collection) {
  Scheme_Object* box = nullptr;
  Registered reg(box);
  scheme_collect_garbage();  // a fresh cycle: box and value are young
  box = BoxOfFreshPair(false);
  CollectMinorClean();
  KEEL_CHECK_FREED(SCHEME_WEAK_BOX_VAL(box) == nullptr);
}

// Box and value grow old together; the value is then dropped, and the next major collection
// clears the box (minor ones do not look at old boxes again, and need not: they free no old
// object). The value lives in a registered block, never in this frame.
BOOST_AUTO_TEST_CASE(an_old_value_is_cleared_once_it_dies) {
  static Scheme_Object** block = reinterpret_cast<Scheme_Object**>(keel_test::NewRegisteredBlock(2));
  MakeBoxedPair(&block[0], &block[1], 5, 6, false);
  scheme_collect_garbage();
  scheme_collect_garbage();
  BOOST_TEST(BoxState(block[1], 5, 6) == 1);
  block[0] = nullptr;
  keel_gc_collect_minor();
  const int after_minor = BoxState(block[1], 5, 6);
  BOOST_TEST(after_minor != 2);  // a minor collection may leave it, never garble it
  CollectClean();
  KEEL_CHECK_FREED(BoxState(block[1], 5, 6) == 0);
  block[1] = nullptr;
}

// A box that dies with its value leaves nothing behind, and one whose value another box shares
// still sees it.
BOOST_AUTO_TEST_CASE(boxes_die_and_share_values) {
  Scheme_Object *value = nullptr, *kept = nullptr;
  Registered reg(value, kept);
  value = FixnumPair(9, 10);
  kept = scheme_make_weak_box(value);
  for (long i = 0; i < keel_test::ScaledCount(10000, 1000); ++i) (void)scheme_make_weak_box(value);
  scheme_collect_garbage();
  keel_gc_collect_minor();
  BOOST_TEST(SCHEME_WEAK_BOX_VAL(kept) == value);
  BOOST_TEST(IsFixnumPair(SCHEME_WEAK_BOX_VAL(kept), 9, 10));
}

// Seeded: kN values in a registered array, each with a weak box (every third one late) in
// another; rounds drop some values, make garbage and collect, minor or major at random. A box
// whose value is kept must read it (its new address under 3m); one whose value was dropped
// reads NULL after the next major collection, and never anything but NULL or its pair. Values
// are made and read in helpers, so no dropped value's address stays in this frame.
BOOST_AUTO_TEST_CASE(seeded_values_and_boxes) {
  constexpr int kN = 256;
  constexpr int kRounds = 24;
  const uint64_t seed = keel_test::SeedFromCommandLine();
  std::printf("weak_boxes/seeded_values_and_boxes: seed %llu (--seed to repeat)\n", static_cast<unsigned long long>(seed));
  keel_test::XorShift random(seed);
  Scheme_Object* values[kN] = {};
  Scheme_Object* boxes[kN] = {};
  RegisteredArray reg_values(values);
  RegisteredArray reg_boxes(boxes);
  for (int i = 0; i < kN; ++i) MakeBoxedPair(&values[i], &boxes[i], i, -i, i % 3 == 2);
  std::vector<bool> dropped(kN, false);
  for (int round = 0; round < kRounds; ++round) {
    for (int k = 0; k < kN / 16; ++k) {
      const int i = static_cast<int>(random.Below(kN));
      values[i] = nullptr;
      dropped[static_cast<size_t>(i)] = true;
    }
    keel_test::AllocateGarbage(size_t{64} << 10);
    const bool major = random.Below(3) == 0;
    if (major) {
      CollectClean();
    } else {
      CollectMinorClean();
    }
    for (int i = 0; i < kN; ++i) {
      const int state = BoxState(boxes[i], i, -i);
      if (!dropped[static_cast<size_t>(i)]) {
        BOOST_TEST_REQUIRE(state == 1, "seed " << seed << " round " << round << " box " << i);
        BOOST_TEST_REQUIRE(SCHEME_WEAK_BOX_VAL(boxes[i]) == values[i], "seed " << seed << " round " << round << " box " << i);
      } else {
        BOOST_TEST_REQUIRE(state != 2, "seed " << seed << " round " << round << " box " << i);
        if (major) KEEL_CHECK_FREED(state == 0, "seed " << seed << " round " << round << " box " << i);
      }
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
