// master_test.cpp: the master heap and its collections (keel_places.h "shared data";
// docs/design/places.md .sol.master, .sol.master-cycle, .sol.master-marks), black-box, against
// CGC and 3m: shared objects travel by reference; a shared string that only a message in flight
// refers to survives master collections; unreferenced shared objects are freed; master
// collections run while places allocate and while places are blocked; the budget starts them;
// weak references from a place keep shared objects from dangling; a place in a blocking section
// holds no master collection back yet keeps its shared objects; and what a place does with
// frames, statics, immobile boxes, finalizers, weak boxes and escapes still works in a place.
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>

#include "keel_gc.h"
#include "keel_places.h"
#include "scheme.h"
#include "support/gc_probe.h"
#include "support/place_mains.h"
#include "support/registered.h"
#include "support/scheme_escape.h"
#include "support/scheme_values.h"

namespace {

using keel_test::EchoMain;
using keel_test::Registered;

std::string Written(Scheme_Object* v) {
  intptr_t len = 0;
  const char* s = scheme_write_to_string(v, &len);
  return std::string(s, static_cast<size_t>(len));
}

uint64_t MasterCollections() {
  keel_gc_stats s{};
  keel_place_master_stats(&s);
  return s.collections;
}

uint64_t MasterLiveBytes() {
  keel_gc_stats s{};
  keel_place_master_stats(&s);
  return s.live_bytes;
}

// Writes `byte` at index i of every shared byte string it receives, answers 'done, and ends at #f.
void WriterMain(Scheme_Object* ch) {
  Registered reg(ch);
  for (;;) {
    Scheme_Object* msg = keel_place_channel_get(ch);
    if (msg == scheme_false) return;
    Registered keep(msg);
    SCHEME_BYTE_STR_VAL(SCHEME_CAR(msg))[SCHEME_INT_VAL(SCHEME_CDR(msg))] = 'w';
    keel_place_channel_put(ch, scheme_intern_symbol("done"));
  }
}


// A shared byte string of `n` bytes whose byte i is PatternByte(seed, i).
Scheme_Object* PatternString(intptr_t n, uint64_t seed) {
  Scheme_Object* s = scheme_alloc_shared_byte_string(n, 0);
  keel_test::FillPattern(SCHEME_BYTE_STR_VAL(s), static_cast<size_t>(n), seed);
  return s;
}

bool HasPattern(Scheme_Object* s, intptr_t n, uint64_t seed) {
  return SCHEME_BYTE_STRINGP(s) && SCHEME_BYTE_STRLEN_VAL(s) == n &&
         keel_test::HasPattern(SCHEME_BYTE_STR_VAL(s), static_cast<size_t>(n), seed);
}

// Allocates `count` shared strings of `n` bytes and drops them; in a frame of its own, so that
// no copy of their addresses stays in the caller's frame (CGC scans the stack).
KEEL_TEST_NOINLINE void DropSharedStrings(int count, intptr_t n, char fill) {
  for (int i = 0; i < count; ++i) scheme_alloc_shared_byte_string(n, fill);
}

// Keeps a ring of 16 shared strings (each tagged with its round) while it allocates place
// garbage and more shared strings; checks each one it replaces. Answers the number of bad
// strings it saw when it gets #f (anything else: one more round).
void SharedChurnMain(Scheme_Object* ch) {
  Scheme_Object* ring = nullptr;
  Scheme_Object* msg = nullptr;
  Registered reg(ch, ring, msg);
  ring = scheme_make_vector(16, scheme_false);
  intptr_t bad = 0;
  for (uint64_t round = 0;; ++round) {
    msg = round >= 32 ? keel_place_channel_try_get(ch) : nullptr;  // every slot filled twice first
    if (msg == scheme_false) break;
    const size_t slot = round % 16;
    Scheme_Object* old = SCHEME_VEC_ELS(ring)[slot];
    if (old != scheme_false && !HasPattern(old, 512, round - 16)) ++bad;
    msg = PatternString(512, round);  // a safe point: 3m may move ring before the store
    SCHEME_VEC_ELS(ring)[slot] = msg;
    keel_test::AllocateGarbage(8 << 10);
    if (round % 64 == 0) keel_place_safepoint();
  }
  for (size_t slot = 0; slot < 16; ++slot) {
    if (!SCHEME_BYTE_STRINGP(SCHEME_VEC_ELS(ring)[slot])) ++bad;
  }
  keel_place_channel_put(ch, scheme_make_integer(bad));
}

// In a place: each earlier mechanism once (frames, a registered static, an immobile box, a
// finalizer, a weak box, an escape), across collections of the place. Answers a list of the
// names of the checks that failed.
Scheme_Object* g_place_static = nullptr;
std::atomic<int> g_finalized{0};

void CountFinalized(void*, void*) { g_finalized.fetch_add(1); }

KEEL_TEST_NOINLINE void RegisterDroppedFinalizers(int n) {
  for (int i = 0; i < n; ++i) scheme_add_finalizer(scheme_make_vector(4, scheme_false), CountFinalized, nullptr);
}

void FailOnPurpose(void*) { scheme_signal_error("an escape inside a place: %d", 42); }

void EverythingMain(Scheme_Object* ch) {
  Scheme_Object* failed = scheme_null;
  Scheme_Object* local = nullptr;
  Scheme_Object* weak = nullptr;
  Registered reg(ch, failed, local, weak);
  auto fail = [&](const char* what) {
    Scheme_Object* name = scheme_intern_symbol(what);  // before `failed` is read (3m moves it)
    failed = scheme_make_pair(name, failed);
  };

  scheme_register_static(&g_place_static, sizeof g_place_static);
  g_place_static = keel_test::BuildList(50, 1);
  local = keel_test::BuildList(50, 100);
  void** box = scheme_malloc_immobile_box(keel_test::BuildList(50, 200));
  weak = scheme_make_weak_box(keel_test::BuildList(3, 7));
  RegisterDroppedFinalizers(10);
  for (int i = 0; i < 4; ++i) {
    keel_test::AllocateGarbage(256 << 10);
    scheme_collect_garbage();
  }
  if (!keel_test::ListIsIota(g_place_static, 50, 1)) fail("static");
  if (!keel_test::ListIsIota(local, 50, 100)) fail("frame");
  if (!keel_test::ListIsIota(static_cast<Scheme_Object*>(*box), 50, 200)) fail("immobile-box");
  scheme_free_immobile_box(box);
  if (SCHEME_BOX_VAL(weak) != nullptr) fail("weak-box");
  if (g_finalized.load() != 10) fail("finalizers");
  keel_test::EscapeResult e = keel_test::RunWithErrorHandler(FailOnPurpose, nullptr);
  if (!e.escaped || e.message.find("an escape inside a place: 42") == std::string::npos) fail("escape");
  g_place_static = nullptr;
  keel_place_channel_put(ch, failed);
}

// Holds a shared string only through a weak box, then answers whether the box's value (if it
// still has one) is intact after the master collections the test runs meanwhile.
void WeakHolderMain(Scheme_Object* ch) {
  Scheme_Object* weak = nullptr;
  Registered reg(ch, weak);
  weak = scheme_make_weak_box(keel_place_channel_get(ch));
  keel_place_channel_put(ch, scheme_true);  // holding it only weakly now
  keel_place_channel_get(ch);               // the test has run master collections
  Scheme_Object* s = SCHEME_BOX_VAL(weak);
  keel_place_channel_put(ch, s == nullptr || HasPattern(s, 4096, 99) ? scheme_true : scheme_false);
}

// Blocking sections (keel_place_blocking_begin/end). The test moves g_release on; a place's
// foreign code waits for it without calling Keel.
std::atomic<int> g_release{0};
std::atomic<int> g_after_blocking{0};

// Waits, as a foreign call would, until g_release reaches `phase`; false after 20 s.
bool ForeignWait(int phase) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (g_release.load() < phase) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

// Sends a shared string of 4096 bytes with pattern `seed` on ch; the caller's frame never holds
// its address.
KEEL_TEST_NOINLINE void SendPatternString(Scheme_Object* ch, uint64_t seed) {
  Scheme_Object* s = nullptr;
  Registered reg(ch, s);
  s = PatternString(4096, seed);
  keel_place_channel_put(ch, s);
}

// Gets a shared string (pattern 1), makes one of its own (pattern 2) and a byte string of its own
// heap (pattern 3), answers 'ready, then waits in a blocking section until the test has run its
// master collections. There, as foreign code, it checks that all three are intact and where they
// were; then it leaves the section and answers the list of the checks that failed.
void BlockingHolderMain(Scheme_Object* ch) {
  Scheme_Object* got = nullptr;
  Scheme_Object* own = nullptr;
  Scheme_Object* local = nullptr;
  Scheme_Object* failed = scheme_null;
  Registered reg(ch, got, own, local, failed);
  got = keel_place_channel_get(ch);
  own = PatternString(4096, 2);
  local = scheme_alloc_byte_string(4096, 0);
  keel_test::FillPattern(SCHEME_BYTE_STR_VAL(local), 4096, 3);
  keel_place_channel_put(ch, scheme_intern_symbol("ready"));
  const Scheme_Object* local_was = local;
  keel_place_blocking_begin();
  const bool released = ForeignWait(1);
  const bool got_ok = HasPattern(got, 4096, 1);
  const bool own_ok = HasPattern(own, 4096, 2);
  const bool local_ok = local == local_was && keel_test::HasPattern(SCHEME_BYTE_STR_VAL(local), 4096, 3);
  keel_place_blocking_end();
  g_after_blocking.store(1);
  const std::pair<bool, const char*> checks[] = {
      {released, "held-back"}, {got_ok, "received"}, {own_ok, "allocated"}, {local_ok, "own-heap"}};
  for (const auto& [ok, name] : checks) {
    if (!ok) {
      Scheme_Object* sym = scheme_intern_symbol(name);  // before `failed` is read (3m moves it)
      failed = scheme_make_pair(sym, failed);
    }
  }
  keel_place_channel_put(ch, failed);
}

// Rounds of: a shared string of its own, tagged with the round, into a ring of 8; then a blocking
// section whose foreign code checks every string of the ring. At #f it answers how many damaged
// strings it saw.
void BlockingChurnMain(Scheme_Object* ch) {
  Scheme_Object* ring = nullptr;
  Scheme_Object* msg = nullptr;
  Registered reg(ch, ring, msg);
  ring = scheme_make_vector(8, scheme_false);
  uint64_t seeds[8] = {};
  intptr_t bad = 0;
  for (uint64_t round = 0;; ++round) {
    msg = round >= 16 ? keel_place_channel_try_get(ch) : nullptr;
    if (msg == scheme_false) break;
    const size_t slot = round % 8;
    msg = PatternString(1024, round);  // a safe point: 3m may move ring before the store
    SCHEME_VEC_ELS(ring)[slot] = msg;
    seeds[slot] = round;
    keel_test::AllocateGarbage(4 << 10);
    keel_place_blocking_begin();
    for (size_t i = 0; i < 8 && i <= round; ++i) {
      if (!HasPattern(SCHEME_VEC_ELS(ring)[i], 1024, seeds[i])) ++bad;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(50));
    keel_place_blocking_end();
  }
  keel_place_channel_put(ch, scheme_make_integer(bad));
}

// Answers 'ready and waits in a blocking section for g_release 2; it is killed meanwhile.
void BlockedWhenKilledMain(Scheme_Object* ch) {
  keel_place_channel_put(ch, scheme_intern_symbol("ready"));
  keel_place_blocking_begin();
  ForeignWait(2);
  keel_place_blocking_end();  // the kill ends the place here
  g_after_blocking.store(1);
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(master, keel_test::CleanStackFixture)

BOOST_AUTO_TEST_CASE(shared_objects_travel_by_reference) {
  Scheme_Object* p = keel_place_create(WriterMain, nullptr);
  Scheme_Object* bytes = nullptr;
  Scheme_Object* chars = nullptr;
  Scheme_Object* fl = nullptr;
  Scheme_Object* local_fl = nullptr;
  Scheme_Object* back = nullptr;
  Registered reg(p, bytes, chars, fl, local_fl, back);
  bytes = scheme_alloc_shared_byte_string(64, 'a');
  BOOST_TEST(SCHEME_SHARED_ALLOCATEDP(bytes) != 0);
  BOOST_TEST(SCHEME_BYTE_STRLEN_VAL(bytes) == 64);
  BOOST_TEST(SCHEME_BYTE_STR_VAL(bytes)[64] == 0);
  BOOST_TEST(keel_place_message_allowed(bytes) == 1);
  back = scheme_make_pair(bytes, scheme_make_integer(5));  // made before p is read (3m moves p)
  keel_place_channel_put(p, back);
  BOOST_TEST(keel_place_channel_get(p) == scheme_intern_symbol("done"));
  BOOST_TEST(SCHEME_BYTE_STR_VAL(bytes)[5] == 'w');  // the place wrote into this very object
  BOOST_TEST(SCHEME_BYTE_STR_VAL(bytes)[4] == 'a');
  keel_place_channel_put(p, scheme_false);
  BOOST_TEST(keel_place_wait(p) == 0);

  p = keel_place_create(EchoMain, nullptr);
  chars = keel_alloc_shared_char_string(10, 0x1F600);
  fl = keel_alloc_shared_flvector(8);
  SCHEME_FLVEC_ELS(fl)[7] = 2.5;
  local_fl = scheme_alloc_flvector(3);
  SCHEME_FLVEC_ELS(local_fl)[1] = -1.25;
  BOOST_TEST(SCHEME_SHARED_ALLOCATEDP(local_fl) == 0);
  back = scheme_make_vector(3, scheme_false);
  SCHEME_VEC_ELS(back)[0] = chars;
  SCHEME_VEC_ELS(back)[1] = fl;
  SCHEME_VEC_ELS(back)[2] = local_fl;
  keel_place_channel_put(p, back);
  back = keel_place_channel_get(p);
  BOOST_TEST(SCHEME_VEC_ELS(back)[0] == chars);  // the same objects
  BOOST_TEST(SCHEME_VEC_ELS(back)[1] == fl);
  BOOST_TEST(SCHEME_VEC_ELS(back)[2] != local_fl);  // a copy of the place's own flvector
  BOOST_TEST(SCHEME_FLVEC_SIZE(SCHEME_VEC_ELS(back)[2]) == 3);
  BOOST_TEST(SCHEME_FLVEC_ELS(SCHEME_VEC_ELS(back)[2])[1] == -1.25);
  BOOST_TEST(SCHEME_CHAR_STR_VAL(chars)[9] == 0x1F600u);
  BOOST_TEST(SCHEME_FLVEC_ELS(fl)[7] == 2.5);
  BOOST_TEST(Written(local_fl) == "#fl(0.0 -1.25 0.0)");
  keel_place_channel_put(p, scheme_false);
  BOOST_TEST(keel_place_wait(p) == 0);
}

BOOST_AUTO_TEST_CASE(a_shared_string_only_a_message_in_flight_holds_survives_master_collections) {
  Scheme_Object* a = nullptr;
  Scheme_Object* b = nullptr;
  Scheme_Object* got = nullptr;
  Registered reg(a, b, got);
  keel_place_channel_pair(&a, &b);
  const uint64_t before = MasterCollections();
  {
    Scheme_Object* s = PatternString(100000, 7);
    Registered keep(s);
    keel_place_channel_put(a, s);  // nobody gets it yet
  }
  keel_test::ClearStack();
  for (int i = 0; i < 3; ++i) {
    keel_place_collect_master();
    DropSharedStrings(50, 100000, 'x');  // would reuse the string's memory if it were freed
  }
  BOOST_TEST(MasterCollections() >= before + 3);
  got = keel_place_channel_get(b);
  BOOST_TEST(HasPattern(got, 100000, 7));
  BOOST_TEST(SCHEME_SHARED_ALLOCATEDP(got) != 0);
}

BOOST_AUTO_TEST_CASE(shared_objects_nothing_refers_to_are_freed) {
  keel_place_collect_master();
  const uint64_t base = MasterLiveBytes();
  DropSharedStrings(200, 64 << 10, 'y');  // 12.5 MiB
  keel_test::ClearStack();
  keel_place_collect_master();
  BOOST_TEST(MasterLiveBytes() < base + (2u << 20), "master live bytes " << MasterLiveBytes() << ", before " << base);
}

BOOST_AUTO_TEST_CASE(master_collections_run_while_places_allocate_and_wait) {
  constexpr int kPlaces = 3;
  Scheme_Object* ps[kPlaces] = {};
  keel_test::RegisteredArray reg(ps);
  Scheme_Object* idle = keel_place_create(EchoMain, nullptr);  // blocked in a get throughout
  Registered keep(idle);
  for (int i = 0; i < kPlaces; ++i) ps[i] = keel_place_create(SharedChurnMain, nullptr);
  const uint64_t before = MasterCollections();
  const int rounds = static_cast<int>(keel_test::ScaledCount(20, 5));
  for (int i = 0; i < rounds; ++i) {
    keel_place_collect_master();
    keel_test::AllocateGarbage(64 << 10);
  }
  BOOST_TEST(MasterCollections() >= before + static_cast<uint64_t>(rounds));
  for (int i = 0; i < kPlaces; ++i) {
    keel_place_channel_put(ps[i], scheme_false);
    BOOST_TEST(keel_place_channel_get(ps[i]) == scheme_make_integer(0), "place " << i << " saw damaged shared strings");
    BOOST_TEST(keel_place_wait(ps[i]) == 0);
  }
  keel_place_channel_put(idle, scheme_false);
  BOOST_TEST(keel_place_wait(idle) == 0);
}

BOOST_AUTO_TEST_CASE(the_budget_starts_master_collections_and_bounds_the_master_heap) {
  Scheme_Object* idle = keel_place_create(EchoMain, nullptr);
  Registered keep(idle);
  const uint64_t before = MasterCollections();
  const int strings = static_cast<int>(keel_test::ScaledCount(1600, 800));  // 100 or 50 MiB of 64 KiB strings
  DropSharedStrings(strings, 64 << 10, 'z');
  BOOST_TEST(MasterCollections() >= before + 1);
  keel_gc_stats s{};
  keel_place_master_stats(&s);
  BOOST_TEST(s.heap_bytes < uint64_t{96} << 20, "master heap " << s.heap_bytes);
  keel_place_channel_put(idle, scheme_false);
  BOOST_TEST(keel_place_wait(idle) == 0);
}

BOOST_AUTO_TEST_CASE(a_weak_box_in_a_place_never_dangles_into_the_master_heap) {
  Scheme_Object* p = keel_place_create(WeakHolderMain, nullptr);
  Registered keep(p);
  {
    Scheme_Object* s = PatternString(4096, 99);
    Registered reg(s);
    keel_place_channel_put(p, s);
  }
  keel_test::ClearStack();
  BOOST_TEST(keel_place_channel_get(p) == scheme_true);
  for (int i = 0; i < 3; ++i) {
    keel_place_collect_master();
    DropSharedStrings(400, 4096, 'q');  // reuses the string's slot if it was freed
  }
  keel_place_channel_put(p, scheme_true);
  BOOST_TEST(keel_place_channel_get(p) == scheme_true);
  BOOST_TEST(keel_place_wait(p) == 0);
}

// The place's shared string that only the place itself ever referred to would be freed, and its
// slot reused by the strings dropped here, if the collections that ran while the place sat in
// its blocking section had not kept what the place holds.
BOOST_AUTO_TEST_CASE(a_place_in_a_blocking_section_holds_no_master_collection_back_yet_keeps_its_objects) {
  g_release.store(0);
  g_after_blocking.store(0);
  Scheme_Object* p = keel_place_create(BlockingHolderMain, nullptr);
  Scheme_Object* failed = nullptr;
  Registered reg(p, failed);
  SendPatternString(p, 1);
  keel_test::ClearStack();
  BOOST_TEST(keel_place_channel_get(p) == scheme_intern_symbol("ready"));
  const uint64_t before = MasterCollections();
  for (int i = 0; i < 3; ++i) {
    keel_place_collect_master();
    DropSharedStrings(400, 4096, 'q');
  }
  BOOST_TEST(MasterCollections() >= before + 3);
  BOOST_TEST(g_after_blocking.load() == 0, "the master collections waited for the place to leave its blocking section");
  g_release.store(1);
  failed = keel_place_channel_get(p);
  BOOST_TEST(failed == scheme_null, "failed checks: " << Written(failed));
  BOOST_TEST(keel_place_wait(p) == 0);
}

BOOST_AUTO_TEST_CASE(master_collections_run_while_places_enter_and_leave_blocking_sections) {
  constexpr int kPlaces = 3;
  Scheme_Object* ps[kPlaces] = {};
  keel_test::RegisteredArray reg(ps);
  for (int i = 0; i < kPlaces; ++i) ps[i] = keel_place_create(BlockingChurnMain, nullptr);
  const uint64_t before = MasterCollections();
  const int rounds = static_cast<int>(keel_test::ScaledCount(40, 10));
  for (int i = 0; i < rounds; ++i) {
    keel_place_collect_master();
    DropSharedStrings(20, 1024, 'z');
  }
  BOOST_TEST(MasterCollections() >= before + static_cast<uint64_t>(rounds));
  for (int i = 0; i < kPlaces; ++i) {
    keel_place_channel_put(ps[i], scheme_false);
    BOOST_TEST(keel_place_channel_get(ps[i]) == scheme_make_integer(0), "place " << i << " saw damaged shared strings");
    BOOST_TEST(keel_place_wait(ps[i]) == 0);
  }
}

BOOST_AUTO_TEST_CASE(a_place_killed_in_a_blocking_section_ends_when_it_leaves_it) {
  g_release.store(0);
  g_after_blocking.store(0);
  Scheme_Object* p = keel_place_create(BlockedWhenKilledMain, nullptr);
  Registered reg(p);
  BOOST_TEST(keel_place_channel_get(p) == scheme_intern_symbol("ready"));
  std::thread releaser([] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // after the kill below
    g_release.store(2);
  });
  keel_place_kill(p);
  releaser.join();
  BOOST_TEST(keel_place_wait(p) == 1);
  BOOST_TEST(g_after_blocking.load() == 0);
}

BOOST_AUTO_TEST_CASE(earlier_mechanisms_work_inside_a_place) {
  g_finalized.store(0);
  Scheme_Object* p = keel_place_create(EverythingMain, nullptr);
  Scheme_Object* failed = nullptr;
  Registered reg(p, failed);
  failed = keel_place_channel_get(p);
  BOOST_TEST(failed == scheme_null, "failed checks: " << Written(failed));
  BOOST_TEST(keel_place_wait(p) == 0);
}

BOOST_AUTO_TEST_CASE(bad_sizes_are_errors) {
  keel_test::EscapeResult e = keel_test::RunWithErrorHandler(
      [](void*) { scheme_alloc_shared_byte_string(-1, 0); }, nullptr);
  BOOST_TEST(e.escaped);
  e = keel_test::RunWithErrorHandler([](void*) { keel_alloc_shared_flvector(INTPTR_MAX / 2); }, nullptr);
  BOOST_TEST(e.escaped);
}

BOOST_AUTO_TEST_SUITE_END()
