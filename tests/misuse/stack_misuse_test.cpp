// stack_misuse_test.cpp: stack mistakes Keel must stop with a message (docs/design/roots.md
// .sol.unknown-stack, .sol.switch): a collection on a fiber stack Keel was not told about, which
// would otherwise scan from the fiber's stack pointer to the thread's base across unmapped
// memory, and broken keel_gc_enter_stack / keel_gc_leave_stack / keel_gc_add_stack calls.
#include <boost/test/unit_test.hpp>

#include <cstddef>
#include <memory>

#include "gc.h"
#include "keel_gc.h"
#include "scheme.h"
#include "support/expect_abort.h"
#include "support/fiber.h"

namespace {

using keel_test::ExpectAbortWithMessage;
using keel_test::Fiber;
using keel_test::kMisuseNotDetected;
using keel_test::StackSource;

void CollectExplicitly(Fiber&) {
  scheme_make_pair(scheme_true, scheme_false);
  scheme_collect_garbage();
}

// Enough allocation to pass any collection budget.
void AllocateUntilCollected(Fiber&) {
  for (int i = 0; i < (1 << 20); ++i) GC_malloc(256);
}

BOOST_AUTO_TEST_SUITE(stack_misuse)

BOOST_AUTO_TEST_CASE(collecting_on_an_mmap_fiber_stack_keel_was_not_told_about) {
  ExpectAbortWithMessage(
      [] {
        std::unique_ptr<Fiber> fiber(new Fiber(CollectExplicitly, nullptr, StackSource::kMmap));
        fiber->Resume(/*tell_keel=*/false);
        return kMisuseNotDetected;
      },
      "collection on a stack Keel does not know");
}

BOOST_AUTO_TEST_CASE(allocating_on_a_malloc_fiber_stack_keel_was_not_told_about) {
  ExpectAbortWithMessage(
      [] {
        std::unique_ptr<Fiber> fiber(new Fiber(AllocateUntilCollected, nullptr, StackSource::kMalloc));
        fiber->Resume(/*tell_keel=*/false);
        return kMisuseNotDetected;
      },
      "collection on a stack Keel does not know");
}

BOOST_AUTO_TEST_CASE(entering_a_second_stack_without_switching_to_the_first) {
  ExpectAbortWithMessage(
      [] {
        static char first[4096], second[4096];
        keel_gc_stack_switch a, b;
        keel_gc_enter_stack(first, first + sizeof first, &a);
        keel_gc_enter_stack(second, second + sizeof second, &b);
        return kMisuseNotDetected;
      },
      "keel_gc_enter_stack: called on a stack Keel does not know");
}

BOOST_AUTO_TEST_CASE(leaving_a_stack_twice) {
  ExpectAbortWithMessage(
      [] {
        static char stack[4096];
        keel_gc_stack_switch save;
        keel_gc_enter_stack(stack, stack + sizeof stack, &save);
        keel_gc_leave_stack(&save);
        keel_gc_leave_stack(&save);
        return kMisuseNotDetected;
      },
      "is not the record of the most recent keel_gc_enter_stack");
}

BOOST_AUTO_TEST_CASE(entering_an_inverted_stack) {
  ExpectAbortWithMessage(
      [] {
        static char stack[4096];
        keel_gc_stack_switch save;
        keel_gc_enter_stack(stack + sizeof stack, stack, &save);
        return kMisuseNotDetected;
      },
      "keel_gc_enter_stack: empty or inverted stack");
}

BOOST_AUTO_TEST_CASE(entering_a_stack_without_a_record) {
  ExpectAbortWithMessage(
      [] {
        static char stack[4096];
        keel_gc_enter_stack(stack, stack + sizeof stack, nullptr);
        return kMisuseNotDetected;
      },
      "keel_gc_enter_stack: save is NULL");
}

BOOST_AUTO_TEST_CASE(removing_a_stack_that_was_never_added) {
  ExpectAbortWithMessage(
      [] {
        static char stack[4096];
        keel_gc_remove_stack(stack);
        return kMisuseNotDetected;
      },
      "keel_gc_remove_stack: no stack starting at");
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
