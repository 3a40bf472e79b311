// frames_test.cpp: 3m's roots are the registered ones (docs/design/precise.md .req.roots): a
// local registered with the MZ_GC_* macros follows its object when a collection moves it, in
// every layout the spec allows (slots filled before or after MZ_GC_REG, recycled slots, arrays,
// struct members, empty slots, nested frames), an escape restores the chain, and the objects
// that must not move (allow-interior blocks, symbols) stay where they are while the runtime's
// own objects move intact.
#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <cstring>
#include <string>

#include "gc.h"
#include "keel.hpp"
#include "keel_gc.h"
#include "scheme.h"
#include "support/registered.h"
#include "support/scheme_escape.h"

namespace {

uint64_t Collections() {
  keel_gc_stats s;
  keel_gc_get_stats(&s);
  return s.collections;
}

uintptr_t Address(const void* p) { return reinterpret_cast<uintptr_t>(p); }

// A pair of two fixnums.
Scheme_Object* MakeNumberPair(intptr_t a, intptr_t b) {
  return scheme_make_pair(scheme_make_integer(a), scheme_make_integer(b));
}

bool IsNumberPair(Scheme_Object* p, intptr_t a, intptr_t b) {
  return SCHEME_PAIRP(p) && SCHEME_INT_VAL(SCHEME_CAR(p)) == a && SCHEME_INT_VAL(SCHEME_CDR(p)) == b;
}

// Called with a registered frame of its caller's below it: registers its own and collects.
Scheme_Object* NestedCollect(Scheme_Object* arg) {
  Scheme_Object* mine = nullptr;
  MZ_GC_DECL_REG(2);
  MZ_GC_VAR_IN_REG(0, arg);
  MZ_GC_VAR_IN_REG(1, mine);
  MZ_GC_REG();
  mine = MakeNumberPair(10, 20);
  scheme_collect_garbage();
  mine = scheme_make_pair(arg, mine);
  MZ_GC_UNREG();
  return mine;
}

// Escapes from inside two registered frames.
void EscapeFromFrames(void*) {
  Scheme_Object* a = MakeNumberPair(1, 2);
  MZ_GC_DECL_REG(1);
  MZ_GC_VAR_IN_REG(0, a);
  MZ_GC_REG();
  a = scheme_make_pair(a, a);
  scheme_signal_error("escape from a registered frame, holding %p", static_cast<void*>(a));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(frames)

BOOST_AUTO_TEST_CASE(a_registered_local_follows_its_object_when_it_moves) {
  Scheme_Object* p = nullptr;
  MZ_GC_DECL_REG(1);
  MZ_GC_VAR_IN_REG(0, p);
  MZ_GC_REG();
  const uint64_t before = Collections();
  p = MakeNumberPair(3, 4);
  const uintptr_t young = Address(p);
  const bool still_young = Collections() == before;
  keel_gc_collect_minor();
  BOOST_TEST(IsNumberPair(p, 3, 4));
  // A minor collection copies every nursery survivor into the old generation.
  if (still_young) BOOST_TEST(Address(p) != young, "the pair should have moved out of the nursery");
  const uintptr_t old = Address(p);
  keel_gc_collect_minor();
  BOOST_TEST(Address(p) == old, "an old object stays where it is in a minor collection");
  scheme_collect_garbage();
  BOOST_TEST(IsNumberPair(p, 3, 4));
  MZ_GC_UNREG();
}

BOOST_AUTO_TEST_CASE(slots_filled_after_registration_and_recycled) {
  Scheme_Object* a = nullptr;
  Scheme_Object* b = nullptr;
  MZ_GC_DECL_REG(2);
  MZ_GC_VAR_IN_REG(0, a);
  MZ_GC_VAR_IN_REG(1, b);
  MZ_GC_REG();
  a = MakeNumberPair(5, 6);  // filled after MZ_GC_REG
  scheme_collect_garbage();
  BOOST_TEST(IsNumberPair(a, 5, 6));
  // The slot of `b` is recycled for another variable's address (the spec's slot reuse).
  Scheme_Object* c = MakeNumberPair(7, 8);
  MZ_GC_VAR_IN_REG(1, c);
  b = MakeNumberPair(9, 9);  // no longer registered; overwritten before any use
  for (int i = 0; i < 3; ++i) {
    keel_gc_collect_minor();
    scheme_collect_garbage();
  }
  BOOST_TEST(IsNumberPair(a, 5, 6));
  BOOST_TEST(IsNumberPair(c, 7, 8));
  b = nullptr;
  MZ_GC_UNREG();
}

BOOST_AUTO_TEST_CASE(arrays_struct_members_and_empty_slots) {
  Scheme_Object* items[16] = {};
  struct Holder {
    Scheme_Object* first;
    intptr_t count;
    Scheme_Object* second;
  } h = {nullptr, 0, nullptr};
  Scheme_Object* last = nullptr;
  MZ_GC_DECL_REG(8);
  MZ_GC_ARRAY_VAR_IN_REG(0, items, 16);
  MZ_GC_VAR_IN_REG(3, h.first);
  MZ_GC_NO_VAR_IN_REG(4);
  MZ_GC_VAR_IN_REG(5, h.second);
  MZ_GC_VAR_IN_REG(6, last);
  MZ_GC_NO_VAR_IN_REG(7);  // an empty last slot: the walker must not read past the frame
  MZ_GC_REG();
  for (intptr_t i = 0; i < 16; ++i) items[i] = MakeNumberPair(i, -i);
  h.first = MakeNumberPair(100, 101);
  h.count = 2;
  h.second = scheme_make_pair(h.first, items[15]);
  last = scheme_make_utf8_string("last");
  for (int round = 0; round < 4; ++round) {
    keel_gc_collect_minor();
    if (round % 2 == 1) scheme_collect_garbage();
    for (intptr_t i = 0; i < 16; ++i) BOOST_TEST(IsNumberPair(items[i], i, -i));
    BOOST_TEST(IsNumberPair(h.first, 100, 101));
    BOOST_TEST(SCHEME_CAR(h.second) == h.first);
    BOOST_TEST(SCHEME_CDR(h.second) == items[15]);
    BOOST_TEST(h.count == 2);
    BOOST_TEST(SCHEME_CHAR_STRINGP(last));
  }
  MZ_GC_UNREG();
}

BOOST_AUTO_TEST_CASE(nested_frames_keep_the_callers_variables) {
  Scheme_Object* outer = nullptr;
  Scheme_Object* result = nullptr;
  MZ_GC_DECL_REG(2);
  MZ_GC_VAR_IN_REG(0, outer);
  MZ_GC_VAR_IN_REG(1, result);
  MZ_GC_REG();
  void** chain = GC_variable_stack;
  outer = MakeNumberPair(1, 2);
  result = NestedCollect(outer);
  BOOST_TEST(GC_variable_stack == chain, "the callee unregistered its frame");
  keel_gc_collect_minor();
  BOOST_TEST(IsNumberPair(outer, 1, 2));
  BOOST_TEST(SCHEME_CAR(result) == outer, "the callee's copy of the argument was updated too");
  BOOST_TEST(IsNumberPair(SCHEME_CDR(result), 10, 20));
  MZ_GC_UNREG();
}

BOOST_AUTO_TEST_CASE(an_escape_restores_the_chain_without_unregistering) {
  Scheme_Object* kept = nullptr;
  MZ_GC_DECL_REG(1);
  MZ_GC_VAR_IN_REG(0, kept);
  MZ_GC_REG();
  void** chain = GC_variable_stack;
  kept = MakeNumberPair(11, 12);
  keel_test::EscapeResult r = keel_test::RunWithErrorHandler(&EscapeFromFrames, nullptr);
  BOOST_TEST(r.escaped);
  BOOST_TEST(r.message.find("escape from a registered frame") != std::string::npos);
  BOOST_TEST(GC_variable_stack == chain, "scheme_setjmp's buffer restored GC_variable_stack");
  // The escaped frames are dead: a collection must not read them.
  for (int i = 0; i < 3; ++i) scheme_collect_garbage();
  BOOST_TEST(IsNumberPair(kept, 11, 12));
  MZ_GC_UNREG();
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(moving_runtime)

// Every runtime type with a traverser moves with its references intact.
BOOST_AUTO_TEST_CASE(runtime_objects_move_intact) {
  Scheme_Object* vec = nullptr;
  Scheme_Object* tmp = nullptr;
  MZ_GC_DECL_REG(2);
  MZ_GC_VAR_IN_REG(0, vec);
  MZ_GC_VAR_IN_REG(1, tmp);
  MZ_GC_REG();
  vec = scheme_make_vector(8, scheme_false);
  tmp = scheme_make_byte_string("bytes");
  SCHEME_VEC_ELS(vec)[0] = tmp;
  tmp = scheme_make_utf8_string("chars");
  SCHEME_VEC_ELS(vec)[1] = tmp;
  tmp = scheme_make_integer_value(INTPTR_MAX);  // a bignum with atomic digits
  SCHEME_VEC_ELS(vec)[2] = tmp;
  tmp = scheme_box(scheme_make_integer(42));
  SCHEME_VEC_ELS(vec)[3] = tmp;
  tmp = scheme_make_cptr(&vec, scheme_intern_symbol("tag"));
  SCHEME_VEC_ELS(vec)[4] = tmp;
  tmp = scheme_make_double(2.5);
  SCHEME_VEC_ELS(vec)[5] = tmp;
  tmp = scheme_make_mutable_pair(scheme_true, scheme_null);
  SCHEME_VEC_ELS(vec)[6] = tmp;
  tmp = nullptr;
  for (int round = 0; round < 3; ++round) {
    keel_gc_collect_minor();
    scheme_collect_garbage();
    Scheme_Object** els = SCHEME_VEC_ELS(vec);
    BOOST_TEST(SCHEME_VEC_SIZE(vec) == 8);
    BOOST_TEST(std::memcmp(SCHEME_BYTE_STR_VAL(els[0]), "bytes", 6) == 0);
    BOOST_TEST(SCHEME_CHAR_STRLEN_VAL(els[1]) == 5);
    BOOST_TEST(SCHEME_CHAR_STR_VAL(els[1])[4] == static_cast<mzchar>('s'));
    intptr_t value = 0;
    BOOST_TEST(scheme_get_int_val(els[2], &value) == 1);
    BOOST_TEST(value == INTPTR_MAX);
    BOOST_TEST(SCHEME_INT_VAL(SCHEME_BOX_VAL(els[3])) == 42);
    BOOST_TEST(SCHEME_CPTR_VAL(els[4]) == static_cast<void*>(&vec), "memory Keel does not own is left alone");
    BOOST_TEST(SCHEME_CPTR_TYPE(els[4]) == scheme_intern_symbol("tag"));
    BOOST_TEST(SCHEME_DBL_VAL(els[5]) == 2.5);
    BOOST_TEST(SCHEME_CAR(els[6]) == scheme_true);
    BOOST_TEST(els[7] == scheme_false);
  }
  MZ_GC_UNREG();
}

// Symbols never move (their table keys and SCHEME_SYM_VAL are views of their characters), so
// re-interning a live symbol gives the same object after any number of collections.
BOOST_AUTO_TEST_CASE(symbols_do_not_move) {
  Scheme_Object* sym = nullptr;
  MZ_GC_DECL_REG(1);
  MZ_GC_VAR_IN_REG(0, sym);
  MZ_GC_REG();
  sym = scheme_intern_symbol("a-symbol-that-stays");
  const uintptr_t at = Address(sym);
  const char* chars = SCHEME_SYM_VAL(sym);
  for (int i = 0; i < 3; ++i) {
    keel_gc_collect_minor();
    scheme_collect_garbage();
  }
  BOOST_TEST(Address(sym) == at);
  BOOST_TEST(scheme_intern_symbol("a-symbol-that-stays") == sym);
  BOOST_TEST(std::strcmp(chars, "a-symbol-that-stays") == 0);
  MZ_GC_UNREG();
}

// An allow-interior block never moves and an interior pointer alone keeps it; an immobile box
// is updated when its target moves.
BOOST_AUTO_TEST_CASE(interior_blocks_stay_and_boxes_follow) {
  char* inside = nullptr;
  MZ_GC_DECL_REG(1);
  MZ_GC_VAR_IN_REG(0, inside);
  MZ_GC_REG();
  auto* block = static_cast<char*>(scheme_malloc_atomic_allow_interior(64));
  std::memset(block, 'k', 64);
  inside = block + 40;  // the only reference is interior
  void** box = scheme_malloc_immobile_box(MakeNumberPair(21, 22));
  const uint64_t before = Collections();
  const uintptr_t young = Address(*box);
  keel_gc_collect_minor();
  BOOST_TEST(Address(inside) == Address(block) + 40, "an allow-interior block does not move");
  BOOST_TEST(IsNumberPair(static_cast<Scheme_Object*>(*box), 21, 22));
  if (Collections() == before + 1) BOOST_TEST(Address(*box) != young, "the boxed pair moved and the box followed");
  scheme_collect_garbage();
  BOOST_TEST(inside[-40] == 'k');
  BOOST_TEST(inside[23] == 'k');
  BOOST_TEST(IsNumberPair(static_cast<Scheme_Object*>(*box), 21, 22));
  scheme_free_immobile_box(box);
  MZ_GC_UNREG();
}

// A one-past-the-end pointer keeps an allow-interior block too, also where the block ends at a
// page's end (the pointer is then the next page's first byte) or before a page's unused tail,
// in every build: the checked build's slot rule and frame audit accept it as the marker does.
BOOST_AUTO_TEST_CASE(one_past_the_end_pointers_at_page_ends_keep_their_blocks) {
  // 4096-byte blocks fill pages exactly; 5456-byte blocks leave a tail after the third.
  constexpr size_t kSizes[] = {4096, 5456};
  constexpr int kBlocks = 4;
  char* ends[2 * kBlocks] = {};
  MZ_GC_DECL_REG(3);
  MZ_GC_ARRAY_VAR_IN_REG(0, ends, 2 * kBlocks);
  MZ_GC_REG();
  for (int s = 0; s < 2; ++s) {
    for (int i = 0; i < kBlocks; ++i) {
      auto* block = static_cast<char*>(scheme_malloc_atomic_allow_interior(kSizes[s]));
      std::memset(block, 'a' + i, kSizes[s]);
      ends[s * kBlocks + i] = block + kSizes[s];  // the only reference
    }
  }
  for (int round = 0; round < 3; ++round) {
    keel_gc_collect_minor();
    scheme_collect_garbage();
    for (int s = 0; s < 2; ++s) {
      for (int i = 0; i < kBlocks; ++i) {
        const char* end = ends[s * kBlocks + i];
        BOOST_TEST(end[-1] == 'a' + i);
        BOOST_TEST(end[-static_cast<ptrdiff_t>(kSizes[s])] == 'a' + i);
      }
    }
    BOOST_TEST(keel_gc_verify_heap() == 0u);
  }
  MZ_GC_UNREG();
}

// GC_realloc copies from where the object is after the allocation it makes, which may collect
// and move it: almost all of this loop's allocation is the realloc's, so collections fall there.
BOOST_AUTO_TEST_CASE(realloc_copies_an_object_that_moved_meanwhile) {
  void** p = nullptr;
  void** q = nullptr;
  keel_test::Registered reg(p, q);
  const uint64_t before = Collections();
  for (intptr_t i = 0; i < 3000; ++i) {
    p = static_cast<void**>(scheme_malloc(4 * sizeof(void*)));
    p[0] = scheme_make_integer(i);
    p[3] = scheme_make_integer(-i);
    q = static_cast<void**>(GC_realloc(p, 4000));
    BOOST_TEST_REQUIRE(q[0] == static_cast<void*>(scheme_make_integer(i)), "iteration " << i);
    BOOST_TEST_REQUIRE(q[3] == static_cast<void*>(scheme_make_integer(-i)), "iteration " << i);
  }
  BOOST_TEST(Collections() > before + 1, "the loop should have collected");
}

// scheme_dont_gc_ptr keeps its object alive but does not stop it moving (as in Racket); the pin
// follows the object, so scheme_gc_ptr_ok finds it by the new address.
BOOST_AUTO_TEST_CASE(a_pin_keeps_alive_and_follows_the_object) {
  Scheme_Object* p = nullptr;
  MZ_GC_DECL_REG(1);
  MZ_GC_VAR_IN_REG(0, p);
  MZ_GC_REG();
  p = MakeNumberPair(31, 32);
  scheme_dont_gc_ptr(p);
  keel_gc_collect_minor();
  scheme_collect_garbage();
  BOOST_TEST(IsNumberPair(p, 31, 32));
  scheme_gc_ptr_ok(p);  // aborts if no pin is held for p's current address
  MZ_GC_UNREG();
}

// keel::DontGcScope follows its object too: it releases the pin under the current address.
BOOST_AUTO_TEST_CASE(a_pin_scope_releases_a_moved_object) {
  Scheme_Object* p = nullptr;
  keel_test::Registered reg(p);
  p = MakeNumberPair(41, 42);
  {
    keel::DontGcScope pin(p);
    keel_gc_collect_minor();
    scheme_collect_garbage();
  }  // aborts if the pin were released under the pair's nursery address
  BOOST_TEST(IsNumberPair(p, 41, 42));
}

// Survivors reached only through a written old object are copied while the written pages are
// scanned; when they need more heap, the heap maps a new chunk in the middle of that scan (the
// scan once walked a list the new chunk had just reallocated).
BOOST_AUTO_TEST_CASE(copies_from_written_old_pages_may_grow_the_heap) {
  constexpr intptr_t kSlots = intptr_t{1} << 17;  // a 1 MiB array: a big, old, written object
  Scheme_Object** slots = nullptr;
  keel_test::Registered reg(slots);
  slots = static_cast<Scheme_Object**>(scheme_malloc(kSlots * sizeof(Scheme_Object*)));
  scheme_collect_garbage();  // the array is old now
  for (int round = 0; round < 3; ++round) {
    for (intptr_t i = 0; i < kSlots; ++i) {
      Scheme_Object* pair = MakeNumberPair(i, round);
      slots[i] = pair;  // a young object, reachable only through the old array
    }
    keel_gc_collect_minor();
    for (intptr_t i = 0; i < kSlots; i += 997) BOOST_TEST_REQUIRE(IsNumberPair(slots[i], i, round), "slot " << i);
  }
}

BOOST_AUTO_TEST_SUITE_END()
