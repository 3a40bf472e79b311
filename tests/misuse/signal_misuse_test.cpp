// signal_misuse_test.cpp: allocating from a signal handler while the interrupted code is inside
// the allocator or a collection is not allowed (docs/api.md, "Threads, fork and signals"): it is
// caught and reported as re-entry instead of corrupting the heap or naming the wrong cause.
#include <boost/test/unit_test.hpp>

#include <signal.h>
#include <sys/time.h>

#include <chrono>

#include "gc.h"
#include "support/expect_abort.h"

namespace {

// Big enough to take the allocator's slow path every time, and to collect every few calls.
constexpr size_t kBigBytes = 300 * 1000;

void AllocatingHandler(int) {
  void* p = GC_malloc(kBigBytes);
  static_cast<volatile char*>(p)[0] = 1;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(signal_misuse)

BOOST_AUTO_TEST_CASE(allocation_from_a_signal_handler_is_reported) {
  keel_test::ExpectAbortWithMessage(
      [] {
        struct sigaction sa {};
        sa.sa_handler = AllocatingHandler;
        sa.sa_flags = SA_RESTART;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGPROF, &sa, nullptr);
        struct itimerval every_ms {};
        every_ms.it_interval.tv_usec = 1000;
        every_ms.it_value.tv_usec = 1000;
        setitimer(ITIMER_PROF, &every_ms, nullptr);
        // The main program allocates big objects in a loop: sooner or later a tick lands while it
        // is in the allocator's slow path.
        auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
        while (std::chrono::steady_clock::now() < until) {
          void* p = GC_malloc(kBigBytes);
          static_cast<volatile char*>(p)[kBigBytes - 1] = 2;
        }
        return keel_test::kMisuseNotDetected;
      },
      "allocation from a signal handler (or other re-entrant call)");
}

BOOST_AUTO_TEST_SUITE_END()
