// misuse_test.cpp: code that misuses the API on purpose. Keel must stop it loudly: abort with a
// message that names the mistake (DESIGN D12), or, for errors, escape or exit cleanly.
#define BOOST_TEST_MODULE keel_misuse_tests
#include <boost/test/unit_test.hpp>

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "gc.h"
#include "keel_gc.h"
#include "keel_places.h"
#include "scheme.h"
#include "support/expect_abort.h"
#include "support/scheme_escape.h"

namespace {

using keel_test::ExpectAbortWithMessage;
using keel_test::ExpectExitWithMessage;
using keel_test::kMisuseNotDetected;

BOOST_AUTO_TEST_SUITE(roots_misuse)

BOOST_AUTO_TEST_CASE(freeing_an_immobile_box_twice) {
  ExpectAbortWithMessage(
      [] {
        void** box = scheme_malloc_immobile_box(scheme_malloc(32));
        scheme_free_immobile_box(box);
        scheme_free_immobile_box(box);
        return kMisuseNotDetected;
      },
      "immobile box");
}

BOOST_AUTO_TEST_CASE(freeing_a_pointer_that_is_not_an_immobile_box) {
  ExpectAbortWithMessage(
      [] {
        void* not_a_box[1] = {nullptr};
        scheme_free_immobile_box(not_a_box);
        return kMisuseNotDetected;
      },
      "immobile box");
}

// A pointer into the middle of a live box (here one byte past its start) must not free that
// box: freeing it would chain a misaligned free box and overwrite the neighbouring box.
BOOST_AUTO_TEST_CASE(freeing_a_misaligned_pointer_into_an_immobile_box) {
  ExpectAbortWithMessage(
      [] {
        void** box = scheme_malloc_immobile_box(scheme_malloc(32));
        void** next = scheme_malloc_immobile_box(scheme_malloc(32));
        auto* inside = reinterpret_cast<void**>(reinterpret_cast<char*>(box) + 1);
        scheme_free_immobile_box(inside);
        scheme_free_immobile_box(next);
        return kMisuseNotDetected;
      },
      "is not the start of an immobile box");
}

BOOST_AUTO_TEST_CASE(gc_ptr_ok_without_dont_gc_ptr) {
  ExpectAbortWithMessage(
      [] {
        void* p = scheme_malloc(48);
        scheme_gc_ptr_ok(p);
        return kMisuseNotDetected;
      },
      "scheme_gc_ptr_ok");
}

BOOST_AUTO_TEST_CASE(more_gc_ptr_ok_than_dont_gc_ptr) {
  ExpectAbortWithMessage(
      [] {
        void* p = scheme_malloc(48);
        scheme_dont_gc_ptr(p);
        scheme_dont_gc_ptr(p);
        scheme_gc_ptr_ok(p);
        scheme_gc_ptr_ok(p);
        scheme_gc_ptr_ok(p);  // one more than the pins
        return kMisuseNotDetected;
      },
      "scheme_gc_ptr_ok");
}

void* g_static_slot = nullptr;

BOOST_AUTO_TEST_CASE(registering_a_static_twice) {
  ExpectAbortWithMessage(
      [] {
        scheme_register_static(&g_static_slot, sizeof g_static_slot);
        scheme_register_static(&g_static_slot, sizeof g_static_slot);
        return kMisuseNotDetected;
      },
      "already registered");
}

BOOST_AUTO_TEST_CASE(registering_a_static_twice_with_mz_register_static) {
  ExpectAbortWithMessage(
      [] {
        MZ_REGISTER_STATIC(g_static_slot);
        MZ_REGISTER_STATIC(g_static_slot);
        return kMisuseNotDetected;
      },
      "already registered");
}

// A root range that is not mapped used to be accepted, and the next collection died of a bare
// SIGSEGV while scanning it.
void* UnmappedRange(size_t pages, size_t mapped_pages) {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  void* p = mmap(nullptr, pages * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  munmap(static_cast<char*>(p) + mapped_pages * page, (pages - mapped_pages) * page);
  return p;
}

BOOST_AUTO_TEST_CASE(gc_add_roots_of_unmapped_memory) {
  ExpectAbortWithMessage(
      [] {
        GC_INIT();
        char* p = static_cast<char*>(UnmappedRange(4, 0));
        GC_add_roots(p, p + 4 * sysconf(_SC_PAGESIZE));
        GC_gcollect();
        return kMisuseNotDetected;
      },
      "GC_add_roots: the range");
  // Partly mapped: the message names the first unmapped page.
  keel_test::ChildResult r = ExpectAbortWithMessage(
      [] {
        GC_INIT();
        char* p = static_cast<char*>(UnmappedRange(4, 2));
        std::fprintf(stderr, "hole at %p\n", static_cast<void*>(p + 2 * sysconf(_SC_PAGESIZE)));
        GC_add_roots(p + 16, p + 4 * sysconf(_SC_PAGESIZE) - 16);
        GC_gcollect();
        return kMisuseNotDetected;
      },
      "is not mapped memory");
  size_t at = r.err.find("hole at ");
  if (at != std::string::npos) {
    std::string hole = r.err.substr(at + 8, r.err.find('\n', at) - at - 8);
    BOOST_TEST(r.err.find("nothing is mapped at " + hole) != std::string::npos, r.Describe());
  }
}

BOOST_AUTO_TEST_CASE(registering_unmapped_memory_as_a_static) {
  ExpectAbortWithMessage(
      [] {
        // The collector first: starting it maps memory, which could land in the hole.
        GC_INIT();
        char* p = static_cast<char*>(UnmappedRange(2, 0));
        scheme_register_static(p, 64);
        scheme_collect_garbage();
        return kMisuseNotDetected;
      },
      "scheme_register_static: the range");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(gc_free_misuse)

BOOST_AUTO_TEST_CASE(gc_free_of_a_stack_address) {
  ExpectAbortWithMessage(
      [] {
        GC_INIT();
        char local[64];
        std::memset(local, 0, sizeof local);
        GC_free(local);
        return kMisuseNotDetected;
      },
      "GC_free");
}

BOOST_AUTO_TEST_CASE(gc_free_of_malloc_memory) {
  ExpectAbortWithMessage(
      [] {
        GC_INIT();
        void* p = std::malloc(64);
        GC_free(p);
        return kMisuseNotDetected;
      },
      "GC_free");
}

BOOST_AUTO_TEST_CASE(gc_free_of_an_interior_pointer) {
  ExpectAbortWithMessage(
      [] {
        char* p = static_cast<char*>(GC_malloc(128));
        GC_free(p + 16);
        return kMisuseNotDetected;
      },
      "GC_free");
}

BOOST_AUTO_TEST_CASE(gc_free_of_an_interior_pointer_of_a_big_object) {
  ExpectAbortWithMessage(
      [] {
        char* p = static_cast<char*>(GC_malloc(100000));
        GC_free(p + 50000);
        return kMisuseNotDetected;
      },
      "GC_free");
}

BOOST_AUTO_TEST_CASE(gc_free_twice) {
  ExpectAbortWithMessage(
      [] {
        void* p = GC_malloc(64);
        GC_free(p);
        GC_free(p);
        return kMisuseNotDetected;
      },
      "GC_free");
}

// Objects of 100 KB to 1 MiB are runs of pages in a shared chunk; once freed, their pages are
// free pages, and a second GC_free must say so rather than "points into the middle".
BOOST_AUTO_TEST_CASE(gc_free_twice_of_a_big_object) {
  for (size_t n : {size_t{100000}, size_t{500000}, size_t{1000000}}) {
    ExpectAbortWithMessage(
        [n] {
          void* p = GC_malloc(n);
          GC_free(p);
          GC_free(p);
          return kMisuseNotDetected;
        },
        "freed twice");
  }
}

// Freeing the last object of an uncollectable page gives the page back at once, so a second
// GC_free finds a free page rather than a free slot.
BOOST_AUTO_TEST_CASE(gc_free_twice_of_the_last_uncollectable_object_of_a_page) {
  ExpectAbortWithMessage(
      [] {
        GC_INIT();
        void* p[8];
        for (void*& q : p) q = GC_malloc_uncollectable(8000);  // two to a 16 KiB page
        for (void* q : p) GC_free(q);
        GC_free(p[0]);
        return kMisuseNotDetected;
      },
      "freed twice");
}

BOOST_AUTO_TEST_CASE(gc_free_of_null_is_allowed) {
  // Not a misuse: bdwgc ignores GC_free(NULL), and so must Keel.
  keel_test::ChildResult r = keel_test::RunInChild([] {
    GC_INIT();
    GC_free(nullptr);
    return 0;
  });
  BOOST_TEST(r.ExitedWith(0), r.Describe());
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------------------------
// Blocking sections (keel_places.h): between keel_place_blocking_begin and _end a place must not
// call Keel; its objects would move or its master collections go wrong.
BOOST_AUTO_TEST_SUITE(blocking_section_misuse)

BOOST_AUTO_TEST_CASE(allocating_in_a_blocking_section) {
  ExpectAbortWithMessage(
      [] {
        scheme_malloc(16);  // the initial place
        keel_place_blocking_begin();
        void* volatile p = scheme_malloc(1 << 20);
        (void)p;
        return kMisuseNotDetected;
      },
      "an allocation in a blocking section of place");
}

BOOST_AUTO_TEST_CASE(collecting_in_a_blocking_section) {
  ExpectAbortWithMessage(
      [] {
        scheme_malloc(16);
        keel_place_blocking_begin();
        scheme_collect_garbage();
        return kMisuseNotDetected;
      },
      "a collection in a blocking section");
}

BOOST_AUTO_TEST_CASE(a_channel_operation_in_a_blocking_section) {
  ExpectAbortWithMessage(
      [] {
        Scheme_Object* a = nullptr;
        Scheme_Object* b = nullptr;
        keel_place_channel_pair(&a, &b);
        keel_place_blocking_begin();
        keel_place_channel_put(a, scheme_true);
        return kMisuseNotDetected;
      },
      "keel_place_channel_put in a blocking section");
}

BOOST_AUTO_TEST_CASE(nested_blocking_sections) {
  ExpectAbortWithMessage(
      [] {
        scheme_malloc(16);
        keel_place_blocking_begin();
        keel_place_blocking_begin();
        return kMisuseNotDetected;
      },
      "sections do not nest");
}

BOOST_AUTO_TEST_CASE(ending_a_blocking_section_never_begun) {
  ExpectAbortWithMessage(
      [] {
        scheme_malloc(16);
        keel_place_blocking_end();
        return kMisuseNotDetected;
      },
      "not in a blocking section");
}

BOOST_AUTO_TEST_CASE(a_blocking_section_on_a_thread_of_no_place) {
  keel_test::ChildResult r = ExpectAbortWithMessage(
      [] {
        std::thread t([] { keel_place_blocking_begin(); });
        t.join();
        return kMisuseNotDetected;
      },
      "keel_place_blocking_begin: this thread (tid ");
  BOOST_TEST(r.err.find(") is attached to no place") != std::string::npos, r.Describe());
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(error_escapes)

size_t g_calloc_args[2];
void CallocOverflow(void*) {
  void* volatile p = scheme_calloc(g_calloc_args[0], g_calloc_args[1]);
  (void)p;
}

BOOST_AUTO_TEST_CASE(calloc_overflow_escapes_to_the_handler) {
  const size_t cases[][2] = {{SIZE_MAX / 2 + 1, 2}, {SIZE_MAX, 3}, {size_t{1} << 40, size_t{1} << 40}};
  for (const auto& c : cases) {
    g_calloc_args[0] = c[0];
    g_calloc_args[1] = c[1];
    keel_test::EscapeResult r = keel_test::RunWithErrorHandler(CallocOverflow, nullptr);
    BOOST_TEST(r.escaped, "scheme_calloc(" << c[0] << ", " << c[1] << ") returned");
    BOOST_TEST(r.message.find("overflow") != std::string::npos, "message: " << r.message);
  }
  // The process goes on normally after the escapes.
  void* p = scheme_calloc(10, 10);
  BOOST_TEST(p != nullptr);
}

BOOST_AUTO_TEST_CASE(escape_without_a_handler_prints_and_exits_1) {
  ExpectExitWithMessage(
      [] {
        scheme_current_thread->error_buf = nullptr;
        scheme_signal_error("the extension failed: %d widgets", 42);
        return kMisuseNotDetected;
      },
      1, "the extension failed: 42 widgets");
}

BOOST_AUTO_TEST_CASE(calloc_overflow_without_a_handler_exits_1) {
  ExpectExitWithMessage(
      [] {
        scheme_current_thread->error_buf = nullptr;
        void* volatile p = scheme_calloc(SIZE_MAX / 4, 8);
        (void)p;
        return kMisuseNotDetected;
      },
      1, "overflow");
}

void* FailingMalloc(size_t) { return nullptr; }

BOOST_AUTO_TEST_CASE(out_of_memory_without_a_handler_exits_1) {
  keel_test::ChildResult r = keel_test::RunInChild([] {
    scheme_current_thread->error_buf = nullptr;
    void* volatile p = scheme_malloc_fail_ok(FailingMalloc, 4096);
    (void)p;
    return kMisuseNotDetected;
  });
  BOOST_TEST(r.ExitedWith(1), r.Describe());
  BOOST_TEST(!r.err.empty(), "the out-of-memory error printed nothing");
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
