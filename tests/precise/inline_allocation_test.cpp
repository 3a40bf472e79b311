// inline_allocation_test.cpp: scheme.h's inline scheme_malloc under 3m (docs/design/precise.md
// .sol.inline). The common allocation is a bump of the thread's keel_nursery cursor and a header
// store in the caller: these cases check that it is taken, that its objects are the library's
// own (zeroed, traced, moved and verified like any other), and the cases where it must not be
// taken: every allocation counted (KEEL_GC_STRESS), no collector yet or any more
// (keel_shutdown), a collection running, and a thread that exited.
#include <boost/test/unit_test.hpp>

#include <pthread.h>
#include <stdlib.h>

#include <cstdint>
#include <cstring>

#include "keel_gc.h"
#include "scheme.h"
#include "keel_places.h"
#include "support/child_process.h"

namespace {

uint64_t Collections() {
  keel_gc_stats s{};
  keel_gc_get_stats(&s);
  return s.collections;
}

// Under KEEL_GC_STRESS (the suite's stress run) every allocation takes the library's path.
bool Stressed() {
  const char* v = getenv("KEEL_GC_STRESS");
  return v != nullptr && *v != '\0' && std::strcmp(v, "0") != 0;
}

// A child that starts from a fresh collector with no stress setting of its parent's.
void FreshUnstressed() {
  keel_shutdown();
  unsetenv("KEEL_GC_STRESS");
}

bool AllZero(const void* p, size_t n) {
  const auto* b = static_cast<const unsigned char*>(p);
  for (size_t i = 0; i < n; ++i) {
    if (b[i] != 0) return false;
  }
  return true;
}

// A thread that allocates inline and keeps one object through an immobile box, so that its
// collector outlives it as an orphan, which the main thread's collections then look after.
void* AllocateAndExit(void* out) {
  keel_thread_attach();  // a place of its own (scheme_* functions run only on places)
  void** box = scheme_malloc_immobile_box(nullptr);
  for (int i = 0; i < 10000; ++i) {
    auto* obj = static_cast<intptr_t*>(scheme_malloc(4 * sizeof(void*)));
    obj[0] = 2 * i + 1;  // a fixnum-shaped word
    if (i % 100 == 0) *box = obj;
  }
  const bool inline_area = keel_nursery.cursor != 0 && keel_nursery.limit >= keel_nursery.cursor;
  *static_cast<void***>(out) = box;
  return reinterpret_cast<void*>(static_cast<intptr_t>(inline_area));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(inline_allocation)

BOOST_AUTO_TEST_CASE(scheme_malloc_bumps_the_thread_cursor) {
  void* first = nullptr;
  void* second = nullptr;
  MZ_GC_DECL_REG(2);
  MZ_GC_VAR_IN_REG(0, first);
  MZ_GC_VAR_IN_REG(1, second);
  MZ_GC_REG();
  keel_gc_collect_minor();  // an empty nursery: the allocations below fit
  first = scheme_malloc(16);
  const uintptr_t cursor = keel_nursery.cursor;
  const uint64_t collections = Collections();
  second = scheme_malloc_atomic(40);
  const bool collected = Collections() != collections;
  // One header word, then the object rounded up to whole words, right after the last one.
  if (!collected) {
    BOOST_TEST(keel_nursery.cursor == cursor + 8 + 40);
    BOOST_TEST(reinterpret_cast<uintptr_t>(second) == cursor + 8);
  }
  if (Stressed()) BOOST_TEST(keel_nursery.limit == keel_nursery.cursor, "the inline path is open under stress");
  BOOST_TEST(AllZero(first, 16));
  BOOST_TEST(AllZero(second, 40));
  std::memset(second, 0x5a, 40);
  static_cast<void**>(first)[0] = second;
  const uint64_t before_tagged = Collections();
  void* tagged = scheme_malloc_tagged(24);
  if (!collected && Collections() == before_tagged) BOOST_TEST(reinterpret_cast<uintptr_t>(tagged) == cursor + 8 + 40 + 8);
  BOOST_TEST(AllZero(tagged, 24));
  BOOST_TEST(keel_gc_verify_heap() == 0u);
  // The inline objects are ordinary nursery objects: the next collection copies what is
  // registered, with its contents, and the registered variables follow.
  const uintptr_t young_first = reinterpret_cast<uintptr_t>(first);
  const bool still_young = Collections() == collections;
  keel_gc_collect_minor();
  if (still_young) BOOST_TEST(reinterpret_cast<uintptr_t>(first) != young_first);
  BOOST_TEST(static_cast<void**>(first)[0] == second);
  const auto* bytes = static_cast<const unsigned char*>(second);
  BOOST_TEST((bytes[0] == 0x5a && bytes[39] == 0x5a));
  BOOST_TEST(keel_gc_verify_heap() == 0u);
  MZ_GC_UNREG();
}

BOOST_AUTO_TEST_CASE(big_objects_and_a_full_nursery_take_the_library_path) {
  (void)scheme_malloc(16);
  const uintptr_t cursor = keel_nursery.cursor;
  const uint64_t collections = Collections();
  void* big = scheme_malloc(KEEL_NURSERY_MAX_OBJECT + 8);  // never in the nursery
  if (Collections() == collections) BOOST_TEST(keel_nursery.cursor == cursor);
  BOOST_TEST(big != nullptr);
  BOOST_TEST(AllZero(big, KEEL_NURSERY_MAX_OBJECT + 8));
  // Filling the nursery many times over collects at its end, each time from the library.
  const uint64_t before = Collections();
  for (int i = 0; i < 2000000; ++i) {
    auto* p = static_cast<uintptr_t*>(scheme_malloc(32));
    if (p[0] != 0 || p[3] != 0) {
      BOOST_FAIL("a fresh inline object is not zeroed");
    }
    p[0] = p[3] = ~uintptr_t{0};
  }
  BOOST_TEST(Collections() > before);
  BOOST_TEST(keel_gc_verify_heap() == 0u);
}

BOOST_AUTO_TEST_CASE(stress_mode_sends_every_allocation_to_the_library) {
  keel_test::ChildResult r = keel_test::RunInChild([] {
    keel_test::ChildChecks checks;
    keel_shutdown();
    setenv("KEEL_GC_STRESS", "1", 1);
    void* keep = nullptr;
    MZ_GC_DECL_REG(1);
    MZ_GC_VAR_IN_REG(0, keep);
    MZ_GC_REG();
    keep = scheme_malloc(16);
    const uint64_t before = Collections();
    for (int i = 0; i < 50; ++i) {
      KEEL_CHILD_CHECK(checks, keel_nursery.limit == keel_nursery.cursor);
      static_cast<void**>(scheme_malloc(16))[0] = keep;
    }
    KEEL_CHILD_CHECK(checks, Collections() >= before + 50);
    MZ_GC_UNREG();
    return checks.ExitCode();
  });
  BOOST_TEST(r.ExitedWith(0), r.Describe());
}

BOOST_AUTO_TEST_CASE(shutdown_leaves_no_inline_area_behind) {
  keel_test::ChildResult r = keel_test::RunInChild([] {
    keel_test::ChildChecks checks;
    FreshUnstressed();
    (void)scheme_malloc(16);
    KEEL_CHILD_CHECK(checks, keel_nursery.cursor != 0);
    keel_shutdown();  // the heap is gone: an inline bump now would write into freed memory
    KEEL_CHILD_CHECK(checks, keel_nursery.cursor == 0);
    KEEL_CHILD_CHECK(checks, keel_nursery.limit == 0);
    auto* p = static_cast<uintptr_t*>(scheme_malloc(16));  // a new collector, from the library
    KEEL_CHILD_CHECK(checks, p != nullptr && p[0] == 0 && p[1] == 0);
    KEEL_CHILD_CHECK(checks, keel_nursery.cursor != 0);
    KEEL_CHILD_CHECK(checks, keel_gc_verify_heap() == 0);
    return checks.ExitCode();
  });
  BOOST_TEST(r.ExitedWith(0), r.Describe());
}

// A collection closes the inline path (from its start: a callback that allocated during it
// would otherwise write into the nursery being emptied), and it stays closed until the
// library's slow path reopens it with the first allocation after the collection.
BOOST_AUTO_TEST_CASE(a_collection_closes_the_inline_area_until_the_next_allocation) {
  keel_test::ChildResult r = keel_test::RunInChild([] {
    keel_test::ChildChecks checks;
    FreshUnstressed();
    (void)scheme_malloc(16);
    keel_gc_collect_minor();
    // After it, the area is empty and the first allocation takes the library's path.
    KEEL_CHILD_CHECK(checks, keel_nursery.limit == keel_nursery.cursor);
    (void)scheme_malloc(16);
    KEEL_CHILD_CHECK(checks, keel_nursery.limit > keel_nursery.cursor);
    return checks.ExitCode();
  });
  BOOST_TEST(r.ExitedWith(0), r.Describe());
}

// The exiting thread's nursery lets go of its thread-local cursor before its collector becomes
// an orphan; the orphan's collections, run from this thread, must not touch the dead thread's
// storage (ASan reports it if they do), and what the orphan holds stays intact.
BOOST_AUTO_TEST_CASE(an_exited_threads_collector_keeps_no_inline_area) {
  for (int round = 0; round < 3; ++round) {
    const keel_nursery_area mine = keel_nursery;
    pthread_t t;
    void** box = nullptr;
    BOOST_REQUIRE(pthread_create(&t, nullptr, AllocateAndExit, &box) == 0);
    void* inline_area = nullptr;
    BOOST_REQUIRE(pthread_join(t, &inline_area) == 0);
    BOOST_TEST(inline_area != nullptr, "the thread did not allocate inline");
    BOOST_TEST(keel_nursery.cursor == mine.cursor, "another thread's allocation moved this thread's cursor");
    scheme_collect_garbage();
    scheme_collect_garbage();
    BOOST_REQUIRE(box != nullptr);
    const auto* kept = static_cast<const intptr_t*>(*box);
    BOOST_TEST((kept != nullptr && kept[0] == 2 * 9900 + 1));
    scheme_free_immobile_box(box);
  }
  BOOST_TEST(keel_gc_verify_heap() == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
