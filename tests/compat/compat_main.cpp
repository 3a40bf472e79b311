// compat_main.cpp: the Boost.Test module of keel_compat_tests: programs written for bdwgc's
// gc.h, built against keel_cgc. As bdwgc requires of portable programs, GC_INIT() runs first.
#define BOOST_TEST_MODULE keel_compat_tests
#include <boost/test/unit_test.hpp>

#include "gc.h"

namespace {

struct GcInit {
  GcInit() { GC_INIT(); }
};
BOOST_TEST_GLOBAL_FIXTURE(GcInit);

}  // namespace
