// gc_debug_test.cpp: a bdwgc program's GC_DEBUG translation unit (debug_alloc.c) works against
// keel_cgc: the macros map to GC_debug_*, and the objects behave like ordinary ones.
#include <boost/test/unit_test.hpp>

#include <cstring>
#include <string>

#include "gc.h"
#include "support/gc_probe.h"

extern "C" {
struct debug_node;
const char* debug_malloc_expansion(void);
const char* debug_free_expansion(void);
debug_node* debug_make_list(int n);
int debug_check_list(const debug_node* head, int n);
int debug_realloc_keeps_contents(void);
void* debug_uncollectable(size_t n);
void debug_free(void* p);
void* debug_malloc(size_t n);
}

namespace {

using keel_test::Hidden;

KEEL_TEST_NOINLINE void GcCollectClean() {
  keel_test::ClearStack();
  keel_test::ZeroScratchRegisters();
  GC_gcollect();
  keel_test::ClearStack();
}

KEEL_TEST_NOINLINE Hidden DebugGarbage() {
  void* p = debug_malloc(200);
  std::memset(p, 1, 200);
  return Hidden(p);
}

BOOST_FIXTURE_TEST_SUITE(gc_debug, keel_test::CleanStackFixture)

BOOST_AUTO_TEST_CASE(macros_map_to_the_debug_entry_points) {
  BOOST_TEST(std::string(debug_malloc_expansion()).find("GC_debug_malloc") != std::string::npos,
             debug_malloc_expansion());
  BOOST_TEST(std::string(debug_free_expansion()).find("GC_debug_free") != std::string::npos, debug_free_expansion());
}

BOOST_AUTO_TEST_CASE(debug_objects_live_while_reachable) {
  debug_node* volatile list = debug_make_list(500);
  for (int i = 0; i < 3; ++i) {
    GcCollectClean();
    BOOST_TEST_REQUIRE(debug_check_list(list, 500) == 1, "round " << i);
  }
  BOOST_TEST(GC_is_heap_ptr(list) != 0);
  BOOST_TEST(GC_base(list) != nullptr);
}

BOOST_AUTO_TEST_CASE(debug_realloc_and_free) {
  BOOST_TEST(debug_realloc_keeps_contents() == 1);
  void* p = debug_malloc(64);
  BOOST_TEST(keel_test::AllZero(p, 64));
  debug_free(p);
  BOOST_TEST(GC_base(p) == nullptr, "GC_FREE under GC_DEBUG did not free");
  debug_free(nullptr);
}

BOOST_AUTO_TEST_CASE(debug_objects_are_collected) {
  Hidden garbage = DebugGarbage();
  GcCollectClean();
  KEEL_CHECK_FREED(keel_test::WasFreed(garbage));
}

BOOST_AUTO_TEST_CASE(debug_uncollectable_lives_until_freed) {
  Hidden block(debug_uncollectable(96));
  keel_test::FillPattern(block.get(), 96, 5);
  GcCollectClean();
  BOOST_TEST(GC_base(block.get()) != nullptr);
  BOOST_TEST(keel_test::HasPatternAt(block, 96, 5));
  debug_free(block.get());
  BOOST_TEST(GC_base(block.get()) == nullptr);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
