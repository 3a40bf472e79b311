// memory_functions_test.cpp: the allocation functions of scheme.h (Inside Racket §5.2), used the
// way extension code uses them, with the collector observed only through public headers. The
// same tests run on CGC and on 3m (docs/gc3m.md): objects that must survive are held through
// registered locations (keel_test::Registered, registered holders), and a probe's address is
// always read back from such a location after a collection, since 3m moves a new object at the
// first collection it survives.
#include <boost/test/unit_test.hpp>

#include <sys/mman.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "gc.h"
#include "keel_gc.h"
#include "scheme.h"
#include "support/gc_probe.h"
#include "support/registered.h"
#include "support/scheme_escape.h"

namespace {

using keel_test::CollectClean;
using keel_test::Hidden;
using keel_test::HasPatternAt;
using keel_test::IsLiveObjectStart;
using keel_test::Registered;
using keel_test::WasFreed;

bool IsCgc() { return std::string(keel_gc_variant()) == "cgc"; }

// Small classes, the largest small class, and big objects.
const size_t kSizes[] = {1, 8, 16, 24, 40, 100, 512, 4000, 8192, 8193, 20000, 100000};

// Allocates `count` objects of `n` bytes with scheme_malloc, dirties them and drops them.
KEEL_TEST_NOINLINE void AllocateAndDirty(size_t n, int count) {
  for (int i = 0; i < count; ++i) {
    void* p = scheme_malloc(n);
    std::memset(p, 0xAB, n);
  }
}

// A target object of `n` bytes with a recognisable pattern, returned hidden.
KEEL_TEST_NOINLINE Hidden MakePatterned(void* (*alloc)(size_t), size_t n, uint64_t seed) {
  void* p = alloc(n);
  keel_test::FillPattern(p, n, seed);
  return Hidden(p);
}

// Stores target + offset into slot 0 of holder (the target is known only hidden).
KEEL_TEST_NOINLINE void StoreRef(void** holder, Hidden target, size_t offset) {
  holder[0] = static_cast<char*>(target.get()) + offset;
}

KEEL_TEST_NOINLINE bool HolderRefersTo(void** holder, Hidden target, size_t offset) {
  return holder[0] == static_cast<char*>(target.get()) + offset;
}

// The object that slot 0 of holder refers to at `offset` from its start, at its current address
// (under 3m the collector updates the slot when the object moves). Out of line, so the raw
// address exists only in a dead frame afterwards.
KEEL_TEST_NOINLINE Hidden Referent(void** holder, size_t offset = 0) {
  return Hidden(static_cast<char*>(holder[0]) - offset);
}

// Like MakePatterned, but the target first lives through a collection, registered: under 3m it
// has then left the nursery (a nursery address reads as freed after any collection, whether its
// object moved or died), so a later "was it freed" probe tests an object a collection could have
// kept. Under CGC nothing moves. Returned hidden at its current address.
KEEL_TEST_NOINLINE Hidden MakeOldPatterned(void* (*alloc)(size_t), size_t n, uint64_t seed) {
  void* p = nullptr;
  Registered reg(p);
  p = alloc(n);
  keel_test::FillPattern(p, n, seed);
  scheme_collect_garbage();
  return Hidden(p);
}

// A fresh target (as extension code makes one) and one that lived through a collection first.
Hidden MakeTarget(bool old, void* (*alloc)(size_t), size_t n, uint64_t seed) {
  return old ? MakeOldPatterned(alloc, n, seed) : MakePatterned(alloc, n, seed);
}

// ---------------------------------------------------------------------------------------------
BOOST_FIXTURE_TEST_SUITE(memory_functions, keel_test::CleanStackFixture)

BOOST_AUTO_TEST_CASE(scheme_malloc_is_zeroed_even_in_reused_slots) {
  for (size_t n : kSizes) {
    AllocateAndDirty(n, 64);
    CollectClean();
    for (int i = 0; i < 64; ++i) {
      void* p = scheme_malloc(n);
      BOOST_TEST_REQUIRE(p != nullptr);
      BOOST_TEST(keel_test::AllZero(p, n), "size " << n << " allocation " << i << " not zeroed");
      BOOST_TEST(GC_base(p) == p);
      BOOST_TEST(GC_size(p) >= n);
    }
  }
  BOOST_TEST(keel_gc_verify_heap() == 0u);
}

BOOST_AUTO_TEST_CASE(scheme_malloc_objects_are_collected_when_unreachable) {
  for (bool old : {false, true}) {
    for (size_t n : kSizes) {
      Hidden target = MakeTarget(old, scheme_malloc, n, n);
      CollectClean();
      KEEL_CHECK_FREED(WasFreed(target), "size " << n << (old ? " (old)" : ""));
    }
  }
}

BOOST_AUTO_TEST_CASE(scheme_malloc_memory_is_scanned) {
  for (size_t n : kSizes) {
    void** holder = nullptr;
    Registered reg(holder);
    holder = static_cast<void**>(scheme_malloc(4 * sizeof(void*)));
    Hidden target = MakePatterned(scheme_malloc_atomic, n, n + 1);
    StoreRef(holder, target, 0);
    for (int round = 0; round < 3; ++round) {
      CollectClean();
      target = Referent(holder);
      BOOST_TEST_REQUIRE(IsLiveObjectStart(target), "size " << n << " round " << round);
      BOOST_TEST(HasPatternAt(target, n, n + 1));
    }
    holder[0] = nullptr;
    CollectClean();
    KEEL_CHECK_FREED(WasFreed(target), "size " << n);
    BOOST_TEST(GC_base(holder) == static_cast<void*>(holder));
  }
}

BOOST_AUTO_TEST_CASE(interior_heap_word_of_a_plain_object_does_not_retain_it) {
  // CGC's conservative rule for heap words. 3m traces slots precisely and forbids an interior
  // pointer into a plain object in a traced slot (docs/gc3m.md): there the holder keeps none.
  const bool cgc = IsCgc();
  for (size_t n : {size_t{64}, size_t{256}, size_t{20000}}) {
    void** holder = nullptr;
    Registered reg(holder);
    holder = static_cast<void**>(scheme_malloc(2 * sizeof(void*)));
    Hidden target = MakeOldPatterned(scheme_malloc, n, 7);
    if (cgc) StoreRef(holder, target, 16);
    CollectClean();
    KEEL_CHECK_FREED(WasFreed(target), "size " << n << ": an interior heap word kept a plain object alive");
    if (cgc) BOOST_TEST(HolderRefersTo(holder, target, 16));
    BOOST_TEST(GC_base(holder) == static_cast<void*>(holder));
  }
}

BOOST_AUTO_TEST_CASE(scheme_malloc_atomic_is_not_scanned) {
  for (bool old : {false, true}) {
    for (size_t n : {size_t{16}, size_t{4096}, size_t{50000}}) {
      void** holder = nullptr;
      Registered reg(holder);
      holder = static_cast<void**>(scheme_malloc_atomic(n));
      std::memset(holder, 0, n);
      Hidden target = MakeTarget(old, scheme_malloc, 48, 3);
      StoreRef(holder, target, 0);
      CollectClean();
      KEEL_CHECK_FREED(WasFreed(target), "a pointer in atomic memory of size " << n << " kept its target alive"
                                                                            << (old ? " (old target)" : ""));
      BOOST_TEST(GC_base(holder) == static_cast<void*>(holder));
      BOOST_TEST(GC_size(holder) >= n);
    }
  }
}

// A tagged box (its tag has traversers under 3m) that lived through a collection, hidden.
KEEL_TEST_NOINLINE Hidden MakeOldTaggedBox() {
  void* p = nullptr;
  Registered reg(p);
  p = scheme_malloc_tagged(4 * sizeof(void*));
  static_cast<Scheme_Object*>(p)->type = scheme_box_type;
  scheme_collect_garbage();
  return Hidden(p);
}

BOOST_AUTO_TEST_CASE(scheme_malloc_tagged_is_zeroed_scanned_and_collectable) {
  Scheme_Object** obj = nullptr;
  Registered reg(obj);
  obj = static_cast<Scheme_Object**>(scheme_malloc_tagged(4 * sizeof(void*)));
  BOOST_TEST(keel_test::AllZero(obj, 4 * sizeof(void*)));
  reinterpret_cast<Scheme_Object*>(obj)->type = scheme_box_type;
  Hidden target = MakePatterned(scheme_malloc, 32, 11);
  StoreRef(reinterpret_cast<void**>(obj) + 1, target, 0);
  CollectClean();
  target = Referent(reinterpret_cast<void**>(obj) + 1);
  BOOST_TEST(IsLiveObjectStart(target));
  BOOST_TEST(HasPatternAt(target, 32, 11));
  BOOST_TEST(reinterpret_cast<Scheme_Object*>(obj)->type == scheme_box_type);
  obj[1] = nullptr;
  CollectClean();
  KEEL_CHECK_FREED(WasFreed(target));
  // Never reached, so its tag (here pattern bytes) is never read.
  Hidden tagged = MakePatterned(scheme_malloc_tagged, 64, 12);
  CollectClean();
  KEEL_CHECK_FREED(WasFreed(tagged));
  Hidden old_tagged = MakeOldTaggedBox();
  CollectClean();
  KEEL_CHECK_FREED(WasFreed(old_tagged));
}

BOOST_AUTO_TEST_CASE(scheme_calloc_is_zeroed_and_sized) {
  void *p = nullptr, *q = nullptr;
  Registered reg(p, q);
  p = scheme_calloc(37, 24);
  BOOST_TEST_REQUIRE(p != nullptr);
  BOOST_TEST(keel_test::AllZero(p, 37 * 24));
  BOOST_TEST(GC_size(p) >= size_t{37 * 24});
  q = scheme_calloc(1000, 100);
  BOOST_TEST(keel_test::AllZero(q, 100000));
  BOOST_TEST(GC_size(q) >= size_t{100000});
}

void CallocOverflow(void* arg) {
  auto* pair = static_cast<size_t*>(arg);
  void* volatile p = scheme_calloc(pair[0], pair[1]);
  (void)p;
}

BOOST_AUTO_TEST_CASE(scheme_calloc_overflow_is_a_catchable_error) {
  size_t cases[][2] = {{SIZE_MAX / 2 + 1, 2}, {SIZE_MAX, SIZE_MAX}, {(size_t{1} << 33) + 1, size_t{1} << 31}};
  for (auto& c : cases) {
    keel_test::EscapeResult r = keel_test::RunWithErrorHandler(CallocOverflow, c);
    BOOST_TEST(r.escaped, "scheme_calloc(" << c[0] << ", " << c[1] << ") did not escape");
    BOOST_TEST(r.message.find("overflow") != std::string::npos, "message: " << r.message);
  }
  // The runtime still works after the escapes.
  void* p = scheme_calloc(4, 4);  // nothing allocates while p is in use
  BOOST_TEST(keel_test::AllZero(p, 16));
}

BOOST_AUTO_TEST_CASE(allow_interior_objects_survive_through_interior_and_end_pointers) {
  // n = 64 is exactly a size class, so its one-past-the-end address is the next slot's start.
  for (size_t n : {size_t{40}, size_t{64}, size_t{1000}, size_t{30000}}) {
    for (size_t offset : {size_t{8}, n / 2, n}) {
      void** holder = nullptr;
      Registered reg(holder);
      holder = static_cast<void**>(scheme_malloc(2 * sizeof(void*)));
      Hidden target = MakePatterned(scheme_malloc_allow_interior, n, n + offset);
      StoreRef(holder, target, offset);
      for (int round = 0; round < 2; ++round) {
        CollectClean();
        target = Referent(holder, offset);  // allow-interior objects never move: the same address
        BOOST_TEST_REQUIRE(IsLiveObjectStart(target), "size " << n << " offset " << offset);
        BOOST_TEST(HasPatternAt(target, n, n + offset));
      }
      holder[0] = nullptr;
      CollectClean();
      KEEL_CHECK_FREED(WasFreed(target), "size " << n << " offset " << offset);
    }
  }
}

BOOST_AUTO_TEST_CASE(allow_interior_memory_is_scanned_and_zeroed) {
  void** obj = nullptr;
  Registered reg(obj);
  obj = static_cast<void**>(scheme_malloc_allow_interior(256));
  BOOST_TEST(keel_test::AllZero(obj, 256));
  Hidden target = MakePatterned(scheme_malloc, 48, 5);
  StoreRef(obj + 5, target, 0);
  CollectClean();
  target = Referent(obj + 5);
  BOOST_TEST(IsLiveObjectStart(target));
  BOOST_TEST(HasPatternAt(target, 48, 5));
  obj[5] = nullptr;
  CollectClean();
  KEEL_CHECK_FREED(WasFreed(target));
}

BOOST_AUTO_TEST_CASE(atomic_allow_interior_is_retained_by_interior_words_and_not_scanned) {
  for (size_t n : {size_t{48}, size_t{64}, size_t{9000}}) {
    void** holder = nullptr;
    Registered reg(holder);
    holder = static_cast<void**>(scheme_malloc(2 * sizeof(void*)));
    Hidden target = MakePatterned(scheme_malloc_atomic_allow_interior, n, 99 + n);
    StoreRef(holder, target, n - 8);
    CollectClean();
    target = Referent(holder, n - 8);
    BOOST_TEST_REQUIRE(IsLiveObjectStart(target), "size " << n);
    BOOST_TEST(HasPatternAt(target, n, 99 + n));
    StoreRef(holder, target, n);
    CollectClean();
    target = Referent(holder, n);
    BOOST_TEST_REQUIRE(IsLiveObjectStart(target), "size " << n << " (one past the end)");
    holder[0] = nullptr;
    CollectClean();
    KEEL_CHECK_FREED(WasFreed(target), "size " << n);
  }
  // Never scanned: a pointer stored inside does not retain its target.
  for (bool old : {false, true}) {
    void** atomic = nullptr;
    Registered reg(atomic);
    atomic = static_cast<void**>(scheme_malloc_atomic_allow_interior(64));
    std::memset(atomic, 0, 64);
    Hidden target = MakeTarget(old, scheme_malloc, 32, 1);
    StoreRef(atomic, target, 0);
    CollectClean();
    KEEL_CHECK_FREED(WasFreed(target), (old ? "old target" : "fresh target"));
    BOOST_TEST(GC_base(atomic) == static_cast<void*>(atomic));
  }
}

BOOST_AUTO_TEST_CASE(stubborn_objects_behave_like_scheme_malloc) {
  void** obj = nullptr;
  Registered reg(obj);
  obj = static_cast<void**>(scheme_malloc_stubborn(8 * sizeof(void*)));
  BOOST_TEST(keel_test::AllZero(obj, 8 * sizeof(void*)));
  Hidden target = MakePatterned(scheme_malloc, 80, 21);
  StoreRef(obj + 3, target, 0);
  scheme_end_stubborn_change(obj);
  CollectClean();
  // The slot still refers to the target: to a live object's start holding the target's bytes
  // (at the address the target has now; 3m moved it, CGC did not).
  target = Referent(obj + 3);
  BOOST_TEST(IsLiveObjectStart(target));
  BOOST_TEST(HasPatternAt(target, 80, 21));
  BOOST_TEST(HolderRefersTo(obj + 3, target, 0));
  // Changes after scheme_end_stubborn_change are only a broken hint; they still work in Keel.
  obj[3] = nullptr;
  CollectClean();
  KEEL_CHECK_FREED(WasFreed(target));
  for (bool old : {false, true}) {
    Hidden stubborn = MakeTarget(old, scheme_malloc_stubborn, 32, 2);
    CollectClean();
    KEEL_CHECK_FREED(WasFreed(stubborn), (old ? "old" : "fresh"));
  }
}

// Eternal memory is never freed; once a test is done with a block, it is remembered here so
// LeakSanitizer sees it as reachable (as it would be in a real program).
void KeepForLeakChecker(void* p) {
  static std::vector<void*>* kept = new std::vector<void*>();
  kept->push_back(p);
}

KEEL_TEST_NOINLINE Hidden StrdupOf(const char* s) { return Hidden(scheme_strdup(s)); }

// A copy that lived through a collection (registered) first; hidden at its current address.
KEEL_TEST_NOINLINE Hidden OldStrdupOf(const char* s) {
  char* copy = nullptr;
  Registered reg(copy);
  copy = scheme_strdup(s);
  scheme_collect_garbage();
  return Hidden(copy);
}

BOOST_AUTO_TEST_CASE(scheme_strdup_copies_into_collectable_memory) {
  std::string text = "an extension's string";
  char *copy = nullptr, *empty = nullptr;
  Registered reg(copy, empty);
  copy = scheme_strdup(text.c_str());
  BOOST_TEST(static_cast<const void*>(copy) != static_cast<const void*>(text.c_str()));
  BOOST_TEST(std::string(copy) == text);
  BOOST_TEST(GC_base(copy) == static_cast<void*>(copy));
  CollectClean();
  BOOST_TEST(std::string(copy) == text);
  BOOST_TEST(GC_base(copy) == static_cast<void*>(copy));
  empty = scheme_strdup("");
  BOOST_TEST(empty[0] == '\0');
  Hidden dropped = StrdupOf("garbage soon");
  CollectClean();
  KEEL_CHECK_FREED(WasFreed(dropped));
  Hidden dropped_old = OldStrdupOf("garbage later");
  CollectClean();
  KEEL_CHECK_FREED(WasFreed(dropped_old), "a copy that had lived through a collection");
}

KEEL_TEST_NOINLINE Hidden EternalStrdupOf(const std::string& s) { return Hidden(scheme_strdup_eternal(s.c_str())); }

BOOST_AUTO_TEST_CASE(scheme_strdup_eternal_is_never_freed) {
  std::string text(300, 'e');
  text += "ternal";
  Hidden copy = EternalStrdupOf(text);
  for (int i = 0; i < 3; ++i) {
    keel_test::AllocateGarbage();
    CollectClean();
    BOOST_TEST_REQUIRE(std::string(static_cast<char*>(copy.get())) == text);
  }
  KeepForLeakChecker(copy.get());
}

KEEL_TEST_NOINLINE Hidden EternalBlock(size_t n, uint64_t seed) {
  void* p = scheme_malloc_eternal(n);
  keel_test::FillPattern(p, n, seed);
  return Hidden(p);
}

BOOST_AUTO_TEST_CASE(scheme_malloc_eternal_is_never_freed_and_never_scanned) {
  Hidden block = EternalBlock(4096, 31);
  for (int i = 0; i < 3; ++i) {
    keel_test::AllocateGarbage();
    CollectClean();
    BOOST_TEST_REQUIRE(HasPatternAt(block, 4096, 31));
  }
  for (bool old : {false, true}) {
    // Eternal memory never moves: a plain local may hold it.
    void** eternal = static_cast<void**>(scheme_malloc_eternal(2 * sizeof(void*)));
    Hidden target = MakeTarget(old, scheme_malloc, 64, 32);
    StoreRef(eternal, target, 0);
    CollectClean();
    KEEL_CHECK_FREED(WasFreed(target), "scheme_malloc_eternal memory is atomic: it must not retain"
                                           << (old ? " (old target)" : ""));
    KeepForLeakChecker(eternal);
  }
  KeepForLeakChecker(block.get());
}

BOOST_AUTO_TEST_CASE(scheme_malloc_uncollectable_lives_and_is_scanned) {
  // Known only through memory the collector never scans.
  auto* outside = static_cast<uintptr_t*>(std::malloc(sizeof(uintptr_t)));
  Hidden block = MakePatterned(scheme_malloc_uncollectable, 128, 41);
  *outside = block.address();
  Hidden target = MakePatterned(scheme_malloc, 48, 42);
  StoreRef(static_cast<void**>(block.get()) + 15, target, 0);
  for (int i = 0; i < 3; ++i) {
    keel_test::AllocateGarbage();
    CollectClean();
    // Uncollectable objects never move; the slot in it is updated when its target moves.
    BOOST_TEST_REQUIRE(IsLiveObjectStart(block));
    target = Referent(static_cast<void**>(block.get()) + 15);
    BOOST_TEST_REQUIRE(IsLiveObjectStart(target));
    BOOST_TEST(HasPatternAt(target, 48, 42));
  }
  GC_free(block.get());
  KEEL_CHECK_FREED(WasFreed(block));
  CollectClean();
  KEEL_CHECK_FREED(WasFreed(target));
  std::free(outside);
}

void* FailingMalloc(size_t) { return nullptr; }

size_t g_requested_size = 0;
alignas(16) unsigned char g_fake_block[256];
void* RecordingMalloc(size_t n) {
  g_requested_size = n;
  return g_fake_block;
}

void FailOkWithFailingMalloc(void* result) {
  *static_cast<void**>(result) = scheme_malloc_fail_ok(FailingMalloc, 1024);
}

BOOST_AUTO_TEST_CASE(scheme_malloc_fail_ok_raises_out_of_memory) {
  void* result = nullptr;
  keel_test::EscapeResult r = keel_test::RunWithErrorHandler(FailOkWithFailingMalloc, &result);
  BOOST_TEST(r.escaped, "a failing mallocf must escape");
  BOOST_TEST(r.out_of_memory, "the escape must be the out-of-memory error; message: " << r.message);
  BOOST_TEST(result == nullptr);

  void* p = scheme_malloc_fail_ok(RecordingMalloc, 200);
  BOOST_TEST(p == static_cast<void*>(g_fake_block));
  BOOST_TEST(g_requested_size == 200u);
  void* q = scheme_malloc_fail_ok(std::malloc, 64);
  BOOST_TEST(q != nullptr);
  std::free(q);
}

BOOST_AUTO_TEST_CASE(scheme_malloc_code_is_writable_and_executable) {
  unsigned char* code = static_cast<unsigned char*>(scheme_malloc_code(64));
  BOOST_TEST_REQUIRE(code != nullptr);
#if defined(__x86_64__)
  const unsigned char ret42[] = {0xB8, 0x2A, 0x00, 0x00, 0x00, 0xC3};  // mov eax, 42; ret
  std::memcpy(code, ret42, sizeof ret42);
  __builtin___clear_cache(reinterpret_cast<char*>(code), reinterpret_cast<char*>(code + sizeof ret42));
  int (*fn)(void) = reinterpret_cast<int (*)(void)>(code);
  BOOST_TEST(fn() == 42);
#elif defined(__aarch64__)
  const uint32_t ret42[] = {0x52800540u, 0xd65f03c0u};  // mov w0, #42; ret
  std::memcpy(code, ret42, sizeof ret42);
  __builtin___clear_cache(reinterpret_cast<char*>(code), reinterpret_cast<char*>(code + sizeof ret42));
  int (*fn)(void) = reinterpret_cast<int (*)(void)>(code);
  BOOST_TEST(fn() == 42);
#else
  std::memset(code, 0, 64);
#endif
  // Code memory is not collectable: it survives collections without references.
  Hidden hidden(code);
  code = nullptr;
  CollectClean();
#if defined(__x86_64__) || defined(__aarch64__)
  BOOST_TEST(reinterpret_cast<int (*)(void)>(hidden.get())() == 42);
#endif
  scheme_free_code(hidden.get());
  // Many blocks, each separately executable and freeable.
  std::vector<void*> blocks;
  for (int i = 0; i < 50; ++i) {
    unsigned char* c = static_cast<unsigned char*>(scheme_malloc_code(16 + i * 100));
    BOOST_TEST_REQUIRE(c != nullptr);
#if defined(__x86_64__)
    const unsigned char ret_i[] = {0xB8, static_cast<unsigned char>(i), 0x00, 0x00, 0x00, 0xC3};
    std::memcpy(c, ret_i, sizeof ret_i);
    __builtin___clear_cache(reinterpret_cast<char*>(c), reinterpret_cast<char*>(c + sizeof ret_i));
#endif
    blocks.push_back(c);
  }
#if defined(__x86_64__)
  for (int i = 0; i < 50; ++i) BOOST_TEST(reinterpret_cast<int (*)(void)>(blocks[i])() == i);
#endif
  for (void* b : blocks) scheme_free_code(b);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
