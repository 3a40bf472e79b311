// traverser_misuse_test.cpp: misuse of the precise collector's traverser interface
// (schemegc2.h, docs/design/precise.md .sol.traversers) stops with a message naming it.
#define MZ_PRECISE_GC 1  // the declarations a 3m client sees
#include <boost/test/unit_test.hpp>

#include "schemegc2.h"
#include "support/expect_abort.h"

namespace {

using keel_test::ExpectAbortWithMessage;
using keel_test::kMisuseNotDetected;

int Size(void*) { return 2; }
int Mark(void*) { return 2; }

BOOST_AUTO_TEST_SUITE(traverser_misuse)

BOOST_AUTO_TEST_CASE(a_tag_outside_the_table) {
  ExpectAbortWithMessage(
      [] {
        GC_register_traversers(-3, Size, Mark, Mark, 1, 0);
        return kMisuseNotDetected;
      },
      "tag -3 is outside [0, 4096)");
}

BOOST_AUTO_TEST_CASE(a_traced_tag_without_a_mark_procedure) {
  ExpectAbortWithMessage(
      [] {
        GC_register_traversers(77, Size, nullptr, Mark, 1, 0);
        return kMisuseNotDetected;
      },
      "tag 77 needs a size procedure and, unless it is atomic, mark and fixup procedures");
}

BOOST_AUTO_TEST_CASE(gc_mark_outside_a_collection) {
  ExpectAbortWithMessage(
      [] {
        void* slot = nullptr;
        gcMARK(slot);
        return kMisuseNotDetected;
      },
      "GC_mark: called outside a collection");
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
