// attach_test.cpp: threads and places (keel_places.h; docs/design/places.md .sol.attach,
// .sol.statics, .sol.foreign-writes). The scheme_* functions run only on a place's thread: the
// main thread is the initial place; another thread attaches with keel_thread_attach, and one that
// does not is stopped with a message instead of getting an empty heap. Only the first place scans
// the program's statics. Runs against CGC and 3m.
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <thread>

#include "gc.h"
#include "keel_gc.h"
#include "keel_places.h"
#include "scheme.h"
#include "support/child_process.h"
#include "support/gc_probe.h"
#include "support/scheme_values.h"

namespace {

// A worker place's object, kept only by a static that the worker did not register, and one kept
// by a static it did register. The weak boxes that watch them live in registered statics.
Scheme_Object* g_unregistered_value = nullptr;
Scheme_Object* g_registered_value = nullptr;
Scheme_Object* g_box_of_unregistered = nullptr;
Scheme_Object* g_box_of_registered = nullptr;

// Each box is made right after its value (the box's allocation keeps the value registered): a
// collection in between could free or move the value that only an unregistered static holds.
KEEL_TEST_NOINLINE void MakeValuesKeptByStatics() {
  g_unregistered_value = keel_test::BuildList(30, 100);
  g_box_of_unregistered = scheme_make_weak_box(g_unregistered_value);
  g_registered_value = keel_test::BuildList(30, 200);
  g_box_of_registered = scheme_make_weak_box(g_registered_value);
}

// 0: the box is empty; 1: it holds the list (n from start); 2: anything else.
KEEL_TEST_NOINLINE int BoxState(Scheme_Object* box, int n, int start) {
  Scheme_Object* v = SCHEME_WEAK_BOX_VAL(box);
  if (v == nullptr) return 0;
  return keel_test::ListIsIota(v, n, start) ? 1 : 2;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(place_attachment, keel_test::CleanStackFixture)

BOOST_AUTO_TEST_CASE(main_thread_is_the_initial_place) {
  Scheme_Object* list = keel_test::BuildList(10);
  BOOST_TEST(keel_thread_attached() == 1);
  BOOST_TEST(keel_test::ListIsIota(list, 10));
}

// gc.h keeps its rule: any thread may call it and gets a collector of its own, which is no place.
BOOST_AUTO_TEST_CASE(a_gc_h_thread_is_attached_to_no_place) {
  int attached_before = -1;
  int attached_after = -1;
  bool kept = false;
  std::thread t([&] {
    attached_before = keel_thread_attached();
    auto* p = static_cast<intptr_t*>(GC_malloc_uncollectable(64));  // stays put in CGC and 3m
    p[0] = 42;
    GC_gcollect();
    kept = GC_base(p) == p && p[0] == 42;
    GC_free(p);
    attached_after = keel_thread_attached();
  });
  t.join();
  BOOST_TEST(attached_before == 0);
  BOOST_TEST(attached_after == 0);
  BOOST_TEST(kept);
}

// A callback arriving on a thread that is no place's must not silently get a fresh heap.
BOOST_AUTO_TEST_CASE(an_unattached_thread_is_refused_with_a_message) {
  if (!keel_test::kThreadsInForkedChildrenAmongPlaces) {
    BOOST_TEST_MESSAGE("left out under the sanitizers: the child starts threads");
    return;
  }
  keel_test::ChildResult child = keel_test::RunInChild([] {
    std::thread t([] { scheme_make_pair(scheme_make_integer(1), scheme_null); });
    t.join();
    return 0;
  });
  BOOST_TEST(child.Aborted(), child.Describe());
  // The allocation function the constructor called is named.
  BOOST_TEST(child.err.find("scheme_malloc") != std::string::npos, child.Describe());
  BOOST_TEST(child.err.find("attached to no place") != std::string::npos, child.Describe());
  BOOST_TEST(child.err.find("keel_thread_attach") != std::string::npos, child.Describe());
}

BOOST_AUTO_TEST_CASE(an_attached_thread_allocates_collects_and_detaches) {
  int attached = -1;
  int detached = -1;
  bool intact = false;
  std::thread t([&] {
    keel_thread_attach();
    keel_thread_attach();  // a second call keeps the place
    attached = keel_thread_attached();
    Scheme_Object* list = keel_test::BuildList(500, 3);
    MZ_GC_DECL_REG(1);
    MZ_GC_VAR_IN_REG(0, list);
    MZ_GC_REG();
    keel_test::AllocateGarbage();
    scheme_collect_garbage();
    intact = keel_test::ListIsIota(list, 500, 3);
    MZ_GC_UNREG();
    keel_thread_detach();
    detached = keel_thread_attached();
  });
  t.join();
  BOOST_TEST(attached == 1);
  BOOST_TEST(intact);
  BOOST_TEST(detached == 0);
}

// A thread that used gc.h first keeps what it allocated when it becomes a place.
BOOST_AUTO_TEST_CASE(a_gc_h_collector_becomes_the_place) {
  bool kept = false;
  std::thread t([&] {
    auto* p = static_cast<intptr_t*>(GC_malloc_uncollectable(64));
    p[0] = 7;
    keel_thread_attach();
    scheme_collect_garbage();
    kept = GC_base(p) == p && p[0] == 7 && keel_thread_attached() == 1;
    GC_free(p);
  });
  t.join();
  BOOST_TEST(kept);
}

// Only the first place scans the program's data: a later place's object kept only by a static
// it did not register goes at its next collection, one in a static it registered stays (and, in
// 3m, the static follows it).
BOOST_AUTO_TEST_CASE(a_later_place_scans_only_the_statics_it_registered) {
  int unregistered = -1;
  int registered = -1;
  std::thread t([&] {
    keel_thread_attach();
    scheme_register_static(&g_registered_value, sizeof g_registered_value);
    scheme_register_static(&g_box_of_unregistered, sizeof g_box_of_unregistered);
    scheme_register_static(&g_box_of_registered, sizeof g_box_of_registered);
    MakeValuesKeptByStatics();
    keel_test::ClearStack();
    scheme_collect_garbage();
    unregistered = BoxState(g_box_of_unregistered, 30, 100);
    registered = BoxState(g_box_of_registered, 30, 200);
    registered = registered == 1 && keel_test::ListIsIota(g_registered_value, 30, 200) ? 1 : registered;
    g_unregistered_value = g_registered_value = nullptr;
    g_box_of_unregistered = g_box_of_registered = nullptr;
  });
  t.join();
  BOOST_TEST(unregistered == 0);
  BOOST_TEST(registered == 1);
}

// Under mprotect a write by one place into another place's protected page is caught, and the
// report names both (the places rule: pointer-holding memory is written only by its own place).
BOOST_AUTO_TEST_CASE(a_write_into_another_places_memory_names_both_places) {
  if (!keel_test::kThreadsInForkedChildrenAmongPlaces) {
    BOOST_TEST_MESSAGE("left out under the sanitizers: the child starts threads");
    return;
  }
  keel_test::ChildResult child = keel_test::RunInChild([] {
    setenv("KEEL_GC_BARRIER", "mprotect", 1);  // the two places below are created after this
    std::atomic<void**> shared{nullptr};
    std::atomic<bool> written{false};
    std::thread owner([&] {
      keel_thread_attach();
      if (std::string(keel_gc_barrier()) != "mprotect") std::_Exit(3);
      // A big block (it never moves), old after two major collections and protected then.
      void** record = static_cast<void**>(scheme_malloc(256 << 10));
      MZ_GC_DECL_REG(1);
      MZ_GC_VAR_IN_REG(0, record);
      MZ_GC_REG();
      scheme_collect_garbage();
      scheme_collect_garbage();
      shared.store(record);
      while (!written.load()) std::this_thread::yield();
      MZ_GC_UNREG();
    });
    std::thread writer([&] {
      keel_thread_attach();
      void** record = nullptr;
      while ((record = shared.load()) == nullptr) std::this_thread::yield();
      record[5000] = scheme_make_integer(5);
      written.store(true);
    });
    writer.join();
    owner.join();
    return 0;
  });
  BOOST_TEST(child.Aborted(), child.Describe());
  BOOST_TEST(child.err.find("a write by place") != std::string::npos, child.Describe());
  BOOST_TEST(child.err.find("into memory of place") != std::string::npos, child.Describe());
}

// The userfaultfd barrier cannot see which thread writes, so the checked build gives a place
// the mprotect barrier, whose fault handler names both places of a foreign write
// (places.md .sol.foreign-writes); a thread attached to no place keeps the automatic choice.
BOOST_AUTO_TEST_CASE(the_checked_build_gives_places_the_mprotect_barrier) {
  if (std::getenv("KEEL_GC_BARRIER") != nullptr) {
    BOOST_TEST_MESSAGE("KEEL_GC_BARRIER is set: it decides for every collector");
    return;
  }
  std::string place_barrier;
  std::string thread_barrier;
  std::thread([&] {
    keel_thread_attach();
    place_barrier = keel_gc_barrier();
    keel_thread_detach();
  }).join();
  std::thread([&] { thread_barrier = keel_gc_barrier(); }).join();
#ifdef KEEL_GC_CHECKED
  BOOST_TEST(place_barrier == "mprotect");
#else
  BOOST_TEST(place_barrier == thread_barrier);
#endif
}

BOOST_AUTO_TEST_SUITE_END()
