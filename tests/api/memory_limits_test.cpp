// memory_limits_test.cpp: the scheme.h allocators keep the heap bounded by what a program
// keeps: freed uncollectable memory is reused (docs/design/heap.md .inv.uncollectable), and a
// request beyond what the machine could back raises the out-of-memory error at once
// (.sol.too-big) instead of mapping it and filling the page map for minutes.
#include <boost/test/unit_test.hpp>

#include <sys/sysinfo.h>

#include <cstdint>
#include <string>
#include <thread>

#include "gc.h"
#include "keel_gc.h"
#include "scheme.h"
#include "keel_places.h"
#include "support/child_process.h"
#include "support/gc_probe.h"
#include "support/scheme_escape.h"

namespace {

using keel_test::ChildChecks;
using keel_test::ChildResult;

constexpr size_t kMiB = size_t{1} << 20;

uint64_t MachineBytes() {
  struct sysinfo si {};
  if (sysinfo(&si) != 0) return UINT64_MAX;
  return (static_cast<uint64_t>(si.totalram) + si.totalswap) * si.mem_unit;
}

BOOST_FIXTURE_TEST_SUITE(memory_limits, keel_test::CleanStackFixture)

// Runs on a new thread, whose collector starts with an empty heap.
BOOST_AUTO_TEST_CASE(freed_uncollectable_memory_is_reused) {
  size_t heap = 0;
  uint64_t live = 1;
  std::thread t([&] {
    keel_thread_attach();  // a place of its own (scheme_* functions run only on places)
    // 40,000 freed 1000-byte objects leaked 40 MiB of pages before slots were reused, well past
    // the bound below; more rounds only cost time in the GC-stress and sanitizer runs.
    for (int i = 0; i < 40000; ++i) GC_free(scheme_malloc_uncollectable(1000));
    scheme_collect_garbage();
    keel_gc_stats s{};
    keel_gc_get_stats(&s);
    heap = GC_get_heap_size();
    live = s.live_bytes;
  });
  t.join();
  BOOST_TEST(live == 0u);
  // A chunk or two; the leak this guards against reached 296 MiB.
  BOOST_TEST(heap <= 16 * kMiB, "heap of " << heap / kMiB << " MiB with nothing live");
}

struct Request {
  void* (*alloc)(size_t);
  size_t bytes;
};

void CallAllocator(void* arg) {
  auto* r = static_cast<Request*>(arg);
  void* volatile p = r->alloc(r->bytes);
  (void)p;
}

void* Calloc16(size_t bytes) { return scheme_calloc(bytes / 16, 16); }

// In a child, whose alarm turns the old minutes-long page-map fill into a failure.
BOOST_AUTO_TEST_CASE(requests_beyond_the_machine_raise_out_of_memory_at_once) {
  ChildResult r = keel_test::RunInChild([] {
    ChildChecks checks;
    const size_t heap_before = GC_get_heap_size();
    const size_t rss_before = keel_test::ResidentBytes();
    for (unsigned shift : {40u, 44u, 46u}) {
      size_t n = size_t{1} << shift;
      if (n <= MachineBytes()) continue;  // a machine that could back it
      for (auto* alloc : {scheme_malloc, scheme_malloc_atomic, scheme_malloc_uncollectable, Calloc16}) {
        Request req{alloc, n};
        keel_test::EscapeResult e = keel_test::RunWithErrorHandler(CallAllocator, &req);
        KEEL_CHILD_CHECK(checks, e.escaped && e.out_of_memory);
      }
    }
    KEEL_CHILD_CHECK(checks, GC_get_heap_size() <= heap_before + 4 * kMiB);
    KEEL_CHILD_CHECK(checks, keel_test::ResidentBytes() <= rss_before + 64 * kMiB);
    return checks.ExitCode();
  });
  BOOST_TEST(r.ExitedWith(0), r.Describe());
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
