// weak_array_test.cpp: weak arrays (GC_malloc_weak_array, GC_Weak_Array): a slot keeps reading
// its object while something else keeps it, follows it when it moves (3m), and reads the
// array's replacement value once nothing else does, after a minor collection as after a major
// one, also when the object was stored into an old array after the array grew old. The
// replacement value lives as long as the array. The same source runs against CGC and 3m; locals
// that hold objects across an allocation are registered (keel_test::Registered), and objects
// expected to go are made and read in helpers whose frames are dead by the collection
// (docs/design/weak.md .sol.arrays).
#include <boost/test/unit_test.hpp>

#include <cstddef>
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

static_assert(offsetof(GC_Weak_Array, data) == 32, "data is the 5th word, as in Racket");

namespace {

using keel_test::CollectClean;
using keel_test::CollectMinorClean;
using keel_test::Registered;
using keel_test::RegisteredArray;

GC_Weak_Array* AsArray(Scheme_Object* o) { return reinterpret_cast<GC_Weak_Array*>(o); }

Scheme_Object* NewWeakArray(intptr_t slots, Scheme_Object* replace_val) {
  return static_cast<Scheme_Object*>(GC_malloc_weak_array(static_cast<size_t>(slots) * sizeof(void*), replace_val));
}

// A pair of two fixnums, (a . b), as a value with contents to check after it moves.
Scheme_Object* FixnumPair(intptr_t a, intptr_t b) { return scheme_make_pair(scheme_make_integer(a), scheme_make_integer(b)); }

bool IsFixnumPair(const void* v, intptr_t a, intptr_t b) {
  auto* p = static_cast<Scheme_Object*>(const_cast<void*>(v));
  return p != nullptr && !SCHEME_INTP(p) && SCHEME_PAIRP(p) && SCHEME_INTP(SCHEME_CAR(p)) &&
         SCHEME_INT_VAL(SCHEME_CAR(p)) == a && SCHEME_INTP(SCHEME_CDR(p)) && SCHEME_INT_VAL(SCHEME_CDR(p)) == b;
}

bool Is3m() { return std::string(keel_gc_variant()) == "3m"; }
bool Stressed() { return std::getenv("KEEL_GC_STRESS") != nullptr; }

// Stores fresh pairs (i . -i) into slots [from, to) of `array`; their addresses die with this
// frame, so only the weak slots hold them.
KEEL_TEST_NOINLINE void FillWithFreshPairs(Scheme_Object** array, intptr_t from, intptr_t to) {
  for (intptr_t i = from; i < to; ++i) {
    Scheme_Object* p = FixnumPair(i, -i);
    AsArray(*array)->data[i] = p;  // the array read after the allocation: its current address
  }
}

// What slot i of `array` reads, without leaving the address in the caller's frame (a
// conservative scan of that frame would keep the object): 0 the replacement value, 1 the pair
// (a . b), 2 anything else.
KEEL_TEST_NOINLINE int SlotState(Scheme_Object* array, intptr_t i, intptr_t a, intptr_t b) {
  GC_Weak_Array* w = AsArray(array);
  void* seen = w->data[i];
  if (seen == w->replace_val) return 0;
  return IsFixnumPair(seen, a, b) ? 1 : 2;
}

// A weak array of `slots` slots whose replacement value is a fresh pair (r . r) that nothing
// else keeps, and whose first slot holds a fresh pair (0 . 0) that nothing else keeps.
KEEL_TEST_NOINLINE Scheme_Object* ArrayWithFreshReplacement(intptr_t slots, intptr_t r) {
  Scheme_Object* array = nullptr;
  Registered reg(array);
  array = NewWeakArray(slots, FixnumPair(r, r));
  FillWithFreshPairs(&array, 0, 1);
  return array;
}

// Makes `n` weak arrays with fresh contents and drops them.
KEEL_TEST_NOINLINE void MakeAndDropArrays(int n) {
  for (int i = 0; i < n; ++i) {
    Scheme_Object* array = nullptr;
    Registered reg(array);
    array = NewWeakArray(1 + i % 40, i % 2 == 0 ? scheme_make_integer(i) : FixnumPair(i, i));
    FillWithFreshPairs(&array, 0, 1 + i % 40);
  }
}

void MakeHugeArray(void*) { (void)GC_malloc_weak_array(SIZE_MAX, nullptr); }
void MakeLargeArray(void*) { (void)GC_malloc_weak_array(size_t{1} << 60, nullptr); }

}  // namespace

BOOST_FIXTURE_TEST_SUITE(weak_arrays, keel_test::CleanStackFixture)

BOOST_AUTO_TEST_CASE(layout_count_and_zeroed_slots) {
  BOOST_TEST(offsetof(GC_Weak_Array, data) == 4 * sizeof(void*));
  Scheme_Object *replace = nullptr, *array = nullptr;
  Registered reg(replace, array);
  replace = FixnumPair(1, 2);
  const size_t sizes[] = {0, 1, 8, 24, 25, 31, 8 * 100, 8 * 2000};
  for (size_t bytes : sizes) {
    array = static_cast<Scheme_Object*>(GC_malloc_weak_array(bytes, replace));
    GC_Weak_Array* w = AsArray(array);
    BOOST_TEST(w->type == scheme_rt_weak_array);
    BOOST_TEST(w->count == static_cast<intptr_t>(bytes / sizeof(void*)), "size " << bytes);
    BOOST_TEST(w->replace_val == static_cast<void*>(replace));
    BOOST_TEST(w->next == nullptr);
    bool zero = true;
    for (intptr_t i = 0; i < w->count; ++i) zero = zero && w->data[i] == nullptr;
    BOOST_TEST(zero, "size " << bytes);
  }
  intptr_t len = 0;
  char* text = scheme_write_to_string(array, &len);
  BOOST_TEST(std::string(text, static_cast<size_t>(len)) == "#<weak-array>");
}

// A size whose slot count cannot be an object is refused before anything is allocated; one
// that can but is more than the machine has fails in the allocator.
BOOST_AUTO_TEST_CASE(absurd_sizes_raise_out_of_memory) {
  auto huge = keel_test::RunWithErrorHandler(MakeHugeArray, nullptr);
  BOOST_TEST(huge.escaped);
  BOOST_TEST(huge.out_of_memory);
  BOOST_TEST(huge.message.find("GC_malloc_weak_array") != std::string::npos, huge.message);
  auto large = keel_test::RunWithErrorHandler(MakeLargeArray, nullptr);
  BOOST_TEST(large.escaped);
  BOOST_TEST(large.out_of_memory);
}

// Slots whose objects nothing else keeps read the replacement value after a major collection;
// a fixnum replacement value as well as an object.
BOOST_AUTO_TEST_CASE(dropped_objects_are_replaced_by_a_major_collection) {
  constexpr intptr_t kSlots = 16;
  Scheme_Object *replace = nullptr, *with_object = nullptr, *with_fixnum = nullptr;
  Registered reg(replace, with_object, with_fixnum);
  replace = FixnumPair(100, 200);
  with_object = NewWeakArray(kSlots, replace);
  with_fixnum = NewWeakArray(kSlots, scheme_make_integer(-7));
  FillWithFreshPairs(&with_object, 0, kSlots);
  FillWithFreshPairs(&with_fixnum, 0, kSlots);
  CollectClean();
  for (intptr_t i = 0; i < kSlots; ++i) {
    BOOST_TEST(SlotState(with_object, i, i, -i) != 2, "slot " << i);
    BOOST_TEST(SlotState(with_fixnum, i, i, -i) != 2, "slot " << i);
    KEEL_CHECK_FREED(SlotState(with_object, i, i, -i) == 0, "slot " << i);
    KEEL_CHECK_FREED(SlotState(with_fixnum, i, i, -i) == 0, "slot " << i);
  }
  BOOST_TEST(AsArray(with_object)->replace_val == static_cast<void*>(replace));
  BOOST_TEST(IsFixnumPair(AsArray(with_object)->replace_val, 100, 200));
  BOOST_TEST(AsArray(with_fixnum)->replace_val == static_cast<void*>(scheme_make_integer(-7)));
}

// Young objects that die young are replaced by the minor collection that frees them.
BOOST_AUTO_TEST_CASE(dropped_young_objects_are_replaced_by_a_minor_collection) {
  constexpr intptr_t kSlots = 16;
  Scheme_Object *replace = nullptr, *array = nullptr;
  Registered reg(replace, array);
  scheme_collect_garbage();  // a fresh cycle: array and objects are young
  replace = scheme_intern_symbol("weak-array-test-replacement");
  array = NewWeakArray(kSlots, replace);
  FillWithFreshPairs(&array, 0, kSlots);
  CollectMinorClean();
  for (intptr_t i = 0; i < kSlots; ++i) {
    BOOST_TEST(SlotState(array, i, i, -i) != 2, "slot " << i);
    // 3m scans no stack: nothing can keep them.
    if (Is3m() && !Stressed()) {
      BOOST_TEST(SlotState(array, i, i, -i) == 0, "slot " << i);
    } else {
      KEEL_CHECK_FREED(SlotState(array, i, i, -i) == 0, "slot " << i);
    }
  }
  void* again = scheme_intern_symbol("weak-array-test-replacement");  // before the array is read
  BOOST_TEST(AsArray(array)->replace_val == again);
}

// Objects that something else keeps stay, and under 3m the slots follow them out of the
// nursery and through compaction: compared by contents and against the registered variables,
// which the collector updates too.
BOOST_AUTO_TEST_CASE(kept_objects_stay_and_are_followed) {
  constexpr int kN = 8;
  Scheme_Object* values[kN] = {};
  Scheme_Object* array = nullptr;
  RegisteredArray reg_values(values);
  Registered reg(array);
  array = NewWeakArray(kN, scheme_false);
  for (int i = 0; i < kN; ++i) {
    values[i] = FixnumPair(i, -i);
    AsArray(array)->data[i] = values[i];
  }
  for (int round = 0; round < 6; ++round) {
    keel_test::GarbageThenCollect(round);
    for (int i = 0; i < kN; ++i) {
      BOOST_TEST(AsArray(array)->data[i] == static_cast<void*>(values[i]), "round " << round << " slot " << i);
      BOOST_TEST(IsFixnumPair(AsArray(array)->data[i], i, -i), "round " << round << " slot " << i);
    }
  }
}

// NULL, fixnums, constants and memory the collector does not own stay as they are.
BOOST_AUTO_TEST_CASE(values_that_never_die_stay) {
  static int outside = 0;
  Scheme_Object *array = nullptr, *sym = nullptr;
  Registered reg(array, sym);
  sym = scheme_intern_symbol("weak-array-test-kept-symbol");
  array = NewWeakArray(6, scheme_true);
  GC_Weak_Array* w = AsArray(array);
  w->data[0] = nullptr;
  w->data[1] = scheme_make_integer(-42);
  w->data[2] = scheme_null;
  w->data[3] = &outside;
  w->data[4] = sym;
  w->data[5] = scheme_make_integer(0);
  for (int i = 0; i < 3; ++i) {
    keel_test::AllocateGarbage();
    scheme_collect_garbage();
    keel_gc_collect_minor();
  }
  void* again = scheme_intern_symbol("weak-array-test-kept-symbol");  // before the array is read
  w = AsArray(array);
  BOOST_TEST(w->data[0] == nullptr);
  BOOST_TEST(w->data[1] == static_cast<void*>(scheme_make_integer(-42)));
  BOOST_TEST(w->data[2] == static_cast<void*>(scheme_null));
  BOOST_TEST(w->data[3] == static_cast<void*>(&outside));
  BOOST_TEST(w->data[4] == static_cast<void*>(sym));
  BOOST_TEST(w->data[4] == again);
  BOOST_TEST(w->data[5] == static_cast<void*>(scheme_make_integer(0)));
}

// A replacement value that only the array holds lives as long as the array (and moves with it
// under 3m): after minor and major collections it is still the pair it was, and the dropped
// slot reads it.
BOOST_AUTO_TEST_CASE(the_replacement_value_lives_with_its_array) {
  Scheme_Object* array = nullptr;
  Registered reg(array);
  array = ArrayWithFreshReplacement(4, 55);
  for (int round = 0; round < 6; ++round) {
    keel_test::GarbageThenCollect(round);
    BOOST_TEST_REQUIRE(IsFixnumPair(AsArray(array)->replace_val, 55, 55), "round " << round);
    BOOST_TEST(SlotState(array, 0, 0, 0) != 2, "round " << round);
    BOOST_TEST(AsArray(array)->data[1] == nullptr);
  }
  KEEL_CHECK_FREED(SlotState(array, 0, 0, 0) == 0);
  BOOST_TEST(keel_gc_verify_heap() == 0u);
}

// An array that grew old (it survived major collections) into which a young object is stored:
// once the object is dropped, the next minor collection, which frees it, replaces it; under 3m
// the slot would otherwise point into the emptied nursery.
BOOST_AUTO_TEST_CASE(a_young_object_dropped_from_an_old_array) {
  Scheme_Object *replace = nullptr, *array = nullptr;
  Registered reg(replace, array);
  replace = FixnumPair(-1, -1);
  array = NewWeakArray(4, replace);
  scheme_collect_garbage();
  scheme_collect_garbage();
  for (int round = 0; round < 4; ++round) {
    FillWithFreshPairs(&array, 0, 4);
    CollectMinorClean();
    for (intptr_t i = 0; i < 4; ++i) {
      BOOST_TEST(SlotState(array, i, i, -i) != 2, "round " << round << " slot " << i);
      if (Is3m() && !Stressed()) {
        BOOST_TEST(SlotState(array, i, i, -i) == 0, "round " << round << " slot " << i);
      } else {
        KEEL_CHECK_FREED(SlotState(array, i, i, -i) == 0, "round " << round << " slot " << i);
      }
    }
    BOOST_TEST(AsArray(array)->replace_val == static_cast<void*>(replace));
  }
}

// The same with the young object kept elsewhere: the minor collection keeps it, and under 3m
// the old array's slot follows it out of the nursery.
BOOST_AUTO_TEST_CASE(a_young_object_kept_in_an_old_array_is_followed) {
  Scheme_Object *array = nullptr, *value = nullptr;
  Registered reg(array, value);
  array = NewWeakArray(2, scheme_false);
  scheme_collect_garbage();
  scheme_collect_garbage();
  for (int round = 0; round < 4; ++round) {
    value = FixnumPair(round, -round);
    AsArray(array)->data[1] = value;
    keel_test::AllocateGarbage(size_t{64} << 10);
    keel_gc_collect_minor();
    BOOST_TEST(AsArray(array)->data[1] == static_cast<void*>(value), "round " << round);
    BOOST_TEST(IsFixnumPair(AsArray(array)->data[1], round, -round), "round " << round);
    BOOST_TEST(AsArray(array)->data[0] == nullptr);
  }
  scheme_collect_garbage();
  BOOST_TEST(IsFixnumPair(AsArray(array)->data[1], 3, -3));
}

// Arrays that die, young or old, leave nothing behind; the heap stays sound.
BOOST_AUTO_TEST_CASE(arrays_die) {
  // Fewer under sanitizers, Debug and GC stress, where every few allocations collect.
  const int arrays = static_cast<int>(keel_test::ScaledCount(200, 40));
  for (int round = 0; round < 6; ++round) {
    MakeAndDropArrays(arrays);
    if (round % 3 == 0) scheme_collect_garbage();  // some of them grow old before they go
    keel_test::GarbageThenCollect(round);
  }
  CollectClean();
  BOOST_TEST(keel_gc_verify_heap() == 0u);
  Scheme_Object* array = nullptr;
  Registered reg(array);
  array = NewWeakArray(3, scheme_true);
  FillWithFreshPairs(&array, 0, 3);
  CollectClean();
  for (intptr_t i = 0; i < 3; ++i) BOOST_TEST(SlotState(array, i, i, -i) != 2);
}

namespace {

void** ResurrectedHolder() {
  static void** block = keel_test::NewRegisteredBlock(1);
  return block;
}

void KeepHolder(void* p, void*) { ResurrectedHolder()[0] = p; }

// A box that holds a weak array and has a finalizer, both dropped: slot 0 holds `kept`, slot 1 a
// fresh pair that nothing keeps, the replacement value is 77.
KEEL_TEST_NOINLINE void MakeFinalizedHolder(Scheme_Object** kept) {
  Scheme_Object *array = nullptr, *box = nullptr;
  Registered reg(array, box);
  array = NewWeakArray(2, scheme_make_integer(77));
  AsArray(array)->data[0] = *kept;
  FillWithFreshPairs(&array, 1, 2);
  box = scheme_box(array);
  scheme_register_finalizer(box, KeepHolder, nullptr, nullptr, nullptr);
}

}  // namespace

// An array that the slots' clearing finds unreached but that a finalizer then resurrects (its
// holder is finalizable) is cleared later in the same collection: the kept object's slot
// follows it, the dropped one's reads the replacement value, and the array stays watched.
BOOST_AUTO_TEST_CASE(an_array_resurrected_by_a_finalizer_is_cleared) {
  Scheme_Object* kept = nullptr;
  Registered reg(kept);
  kept = FixnumPair(5, -5);
  ResurrectedHolder()[0] = nullptr;
  MakeFinalizedHolder(&kept);
  CollectClean();
  if (ResurrectedHolder()[0] == nullptr) {
    KEEL_CHECK_FREED(false, "the holder was not finalized");
    return;
  }
  auto holder_array = [] { return SCHEME_BOX_VAL(static_cast<Scheme_Object*>(ResurrectedHolder()[0])); };
  BOOST_TEST(AsArray(holder_array())->data[0] == static_cast<void*>(kept));
  BOOST_TEST(IsFixnumPair(AsArray(holder_array())->data[0], 5, -5));
  BOOST_TEST(SlotState(holder_array(), 1, 1, -1) != 2);
  if (Is3m()) BOOST_TEST(SlotState(holder_array(), 1, 1, -1) == 0);
  for (int round = 0; round < 4; ++round) {
    keel_test::GarbageThenCollect(round);
    BOOST_TEST(AsArray(holder_array())->data[0] == static_cast<void*>(kept), "round " << round);
    BOOST_TEST(IsFixnumPair(AsArray(holder_array())->data[0], 5, -5), "round " << round);
    BOOST_TEST(SlotState(holder_array(), 1, 1, -1) != 2, "round " << round);
  }
  KEEL_CHECK_FREED(SlotState(holder_array(), 1, 1, -1) == 0);
  ResurrectedHolder()[0] = nullptr;
}

// Seeded: kN values in a registered array and kA weak arrays of random sizes, some with a
// fixnum replacement value, some with a pair that only the array holds. Each round drops some
// values, makes new ones (stored into old and young arrays alike), replaces some arrays, points
// random slots at random values or NULL, makes garbage and collects, minor or major at random.
// A slot whose value is kept reads it (its new address under 3m); one whose value was dropped
// reads the pair or the replacement value, and the replacement value after a major collection
// (and under 3m after any collection that freed it). Values are made and read in helpers.
namespace {

constexpr int kN = 192;
constexpr int kA = 24;
constexpr intptr_t kMaxSlots = 48;

constexpr int kReplaced = -2;

struct SlotRef {
  int value = -1;   // index into values; -1 NULL; kReplaced the replacement value
  int version = 0;  // which incarnation of values[value] the slot was given
};

KEEL_TEST_NOINLINE void MakeValue(Scheme_Object** slot, int i, int version) { *slot = FixnumPair(i, version); }

KEEL_TEST_NOINLINE void MakeArray(Scheme_Object** slot, intptr_t slots, int a, bool pair_replacement) {
  *slot = NewWeakArray(slots, pair_replacement ? FixnumPair(1000 + a, a) : scheme_make_integer(-1000 - a));
}

// The seeded test's reads and writes of slots, in helpers that take the tables and indices, so
// that no value's address stays in a register or spill slot of the test's frame (where a
// conservative scan would keep the value after the test drops it). v < 0: NULL.
KEEL_TEST_NOINLINE void PointSlot(Scheme_Object** arrays, int a, size_t s, Scheme_Object** values, int v) {
  AsArray(arrays[a])->data[s] = v < 0 ? nullptr : values[v];
}
KEEL_TEST_NOINLINE bool SlotHolds(Scheme_Object** arrays, int a, size_t s, Scheme_Object** values, int v) {
  return AsArray(arrays[a])->data[s] == (v < 0 ? nullptr : static_cast<void*>(values[v]));
}
KEEL_TEST_NOINLINE bool SlotHoldsReplacement(Scheme_Object** arrays, int a, size_t s) {
  return AsArray(arrays[a])->data[s] == AsArray(arrays[a])->replace_val;
}

KEEL_TEST_NOINLINE bool ReplacementIntact(Scheme_Object* array, int a, bool pair_replacement) {
  const void* r = AsArray(array)->replace_val;
  return pair_replacement ? IsFixnumPair(r, 1000 + a, a) : r == static_cast<void*>(scheme_make_integer(-1000 - a));
}

}  // namespace

BOOST_AUTO_TEST_CASE(seeded_arrays_and_values) {
  constexpr int kRounds = 24;
  const uint64_t seed = keel_test::SeedFromCommandLine();
  std::printf("weak_arrays/seeded_arrays_and_values: seed %llu (--seed to repeat)\n", static_cast<unsigned long long>(seed));
  keel_test::XorShift random(seed);
  Scheme_Object* values[kN] = {};
  Scheme_Object* arrays[kA] = {};
  RegisteredArray reg_values(values);
  RegisteredArray reg_arrays(arrays);
  std::vector<int> version(kN, 0);        // current incarnation of values[i]
  std::vector<bool> alive(kN, true);       // values[i] is set (read here instead of values[i])
  std::vector<bool> young(kN, false);      // made since the last collection
  std::vector<bool> pair_replacement(kA);
  std::vector<std::vector<SlotRef>> refs(kA);
  auto new_array = [&](int a) {
    const auto slots = static_cast<intptr_t>(1 + random.Below(kMaxSlots));
    pair_replacement[a] = random.Below(2) == 0;
    MakeArray(&arrays[a], slots, a, pair_replacement[a]);
    refs[a].assign(static_cast<size_t>(slots), SlotRef{});
  };
  for (int i = 0; i < kN; ++i) MakeValue(&values[i], i, 0);
  for (int a = 0; a < kA; ++a) new_array(a);
  for (int round = 0; round < kRounds; ++round) {
    // Drop some values; make some again (a new incarnation, young).
    for (int k = 0; k < kN / 12; ++k) {
      const auto i = static_cast<size_t>(random.Below(kN));
      values[i] = nullptr;
      alive[i] = false;
    }
    for (int k = 0; k < kN / 12; ++k) {
      const int i = static_cast<int>(random.Below(kN));
      if (alive[static_cast<size_t>(i)]) continue;
      MakeValue(&values[i], i, ++version[static_cast<size_t>(i)]);
      alive[static_cast<size_t>(i)] = true;
      young[static_cast<size_t>(i)] = true;
    }
    if (random.Below(2) == 0) new_array(static_cast<int>(random.Below(kA)));  // the old one dies
    // Point random slots at live values or NULL.
    for (int k = 0; k < 64; ++k) {
      const auto a = static_cast<int>(random.Below(kA));
      const auto s = static_cast<size_t>(random.Below(refs[a].size()));
      const auto i = static_cast<int>(random.Below(kN + 8));
      if (i >= kN || !alive[static_cast<size_t>(i)]) {
        PointSlot(arrays, a, s, values, -1);
        refs[a][s] = SlotRef{};
      } else {
        PointSlot(arrays, a, s, values, i);
        refs[a][s] = SlotRef{i, version[static_cast<size_t>(i)]};
      }
    }
    keel_test::AllocateGarbage(size_t{64} << 10);
    const bool major = random.Below(3) == 0;
    if (major) {
      CollectClean();
    } else {
      CollectMinorClean();
    }
    for (int a = 0; a < kA; ++a) {
      BOOST_TEST_REQUIRE(ReplacementIntact(arrays[a], a, pair_replacement[a]), "seed " << seed << " round " << round << " array " << a);
      for (size_t s = 0; s < refs[a].size(); ++s) {
        const SlotRef ref = refs[a][s];
        const auto idx = static_cast<intptr_t>(s);
        if (ref.value == kReplaced) {
          BOOST_TEST_REQUIRE(SlotHoldsReplacement(arrays, a, s),
                             "seed " << seed << " round " << round << " array " << a << " slot " << s);
          continue;
        }
        if (ref.value < 0) {
          BOOST_TEST_REQUIRE(SlotHolds(arrays, a, s, values, -1), "seed " << seed << " round " << round);
          continue;
        }
        const auto v = static_cast<size_t>(ref.value);
        const int state = SlotState(arrays[a], idx, ref.value, ref.version);
        const bool kept = alive[v] && version[v] == ref.version;
        if (kept) {
          BOOST_TEST_REQUIRE(state == 1, "seed " << seed << " round " << round << " array " << a << " slot " << s);
          BOOST_TEST_REQUIRE(SlotHolds(arrays, a, s, values, ref.value),
                             "seed " << seed << " round " << round << " array " << a << " slot " << s);
          continue;
        }
        BOOST_TEST_REQUIRE(state != 2, "seed " << seed << " round " << round << " array " << a << " slot " << s);
        // 3m keeps nothing that no registered root reaches: a major collection, or a minor one
        // of a young value, must have replaced it (not so under GC stress, whose collections
        // may have made the value old before this one).
        if (Is3m() && (major || (young[v] && version[v] == ref.version && !Stressed()))) {
          BOOST_TEST_REQUIRE(state == 0, "seed " << seed << " round " << round << " array " << a << " slot " << s);
        } else if (major) {
          KEEL_CHECK_FREED(state == 0, "seed " << seed << " round " << round << " array " << a << " slot " << s);
        }
        if (state == 0) refs[a][s] = SlotRef{kReplaced, 0};
      }
    }
    std::fill(young.begin(), young.end(), false);
  }
}

BOOST_AUTO_TEST_SUITE_END()
