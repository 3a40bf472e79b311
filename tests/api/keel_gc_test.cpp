// keel_gc_test.cpp: Keel's own collector interface (keel_gc.h): per-collection records and
// statistics, heap verification, growth tuning, Chrome trace files (keel_gc_trace_to and
// KEEL_GC_TRACE), and keel_shutdown followed by a fresh runtime.
#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "gc.h"
#include "keel_gc.h"
#include "scheme.h"
#include "support/child_process.h"
#include "support/gc_probe.h"
#include "support/json_check.h"
#include "support/registered.h"

namespace {

using keel_test::ChildChecks;
using keel_test::ChildResult;
using keel_test::CollectClean;
using keel_test::CollectionCount;
using keel_test::Hidden;
using keel_test::IsLiveObjectStart;
using keel_test::RunInChild;
using keel_test::WasFreed;

using keel_test::LastRecord;
using keel_test::Registered;

keel_gc_stats Stats() {
  keel_gc_stats s{};
  keel_gc_get_stats(&s);
  return s;
}

// Allocates `count` atomic blocks of `n` bytes, keeps nothing, and reports them hidden.
KEEL_TEST_NOINLINE void AllocateHiddenGarbage(size_t n, int count, std::vector<Hidden>* out) {
  for (int i = 0; i < count; ++i) out->push_back(Hidden(scheme_malloc_atomic(n)));
}

bool StressModeOn() { return std::getenv("KEEL_GC_STRESS") != nullptr; }

std::string TempPath(const char* tag) {
  static int counter = 0;
  const char* dir = std::getenv("TMPDIR");
  std::ostringstream s;
  s << (dir != nullptr ? dir : "/tmp") << "/keel_api_" << tag << "_" << getpid() << "_" << counter++ << ".json";
  return s.str();
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// A trace file must be one complete JSON document in Chrome's trace-event format.
void CheckTraceFile(const std::string& text, size_t min_events) {
  keel_test::JsonChecker json(text);
  BOOST_TEST(json.Valid(), "trace is not valid JSON: " << json.error() << "\n" << text.substr(0, 400));
  size_t first = text.find_first_not_of(" \t\r\n");
  BOOST_TEST_REQUIRE(first != std::string::npos);
  BOOST_TEST((text[first] == '{' || text[first] == '['));
  if (text[first] == '{') BOOST_TEST(text.find("\"traceEvents\"") != std::string::npos);
  BOOST_TEST(keel_test::CountOccurrences(text, "\"ph\"") >= min_events);
}

BOOST_FIXTURE_TEST_SUITE(keel_gc, keel_test::CleanStackFixture)

// The variant names the collector the program runs on, and the collector behaves as named: under
// CGC nothing moves and no record counts copies; under 3m a new object moves at the first
// collection it survives, its registered variable follows it, and the record counts the copy.
BOOST_AUTO_TEST_CASE(variant_names_the_collector_that_runs) {
  const std::string variant = keel_gc_variant();
  BOOST_TEST_REQUIRE((variant == "cgc" || variant == "3m"), variant);
  Scheme_Object* pair = nullptr;
  Registered reg(pair);
  pair = scheme_make_pair(scheme_make_integer(17), scheme_null);
  const Hidden made(pair);
  scheme_collect_garbage();
  const keel_gc_record r = LastRecord();
  BOOST_TEST(SCHEME_PAIRP(pair));
  BOOST_TEST(SCHEME_CAR(pair) == scheme_make_integer(17));
  BOOST_TEST(SCHEME_CDR(pair) == scheme_null);
  BOOST_TEST(IsLiveObjectStart(Hidden(pair)));
  if (variant == "cgc") {
    BOOST_TEST(made.address() == reinterpret_cast<uintptr_t>(pair), "an object moved under CGC");
    BOOST_TEST(r.copied_objects == 0u);
    BOOST_TEST(r.copied_bytes == 0u);
  } else {
    BOOST_TEST(made.address() != reinterpret_cast<uintptr_t>(pair), "a new object did not move at its first collection under 3m");
    BOOST_TEST(r.copied_objects >= 1u);
    BOOST_TEST(r.copied_bytes >= 2 * sizeof(void*));
  }
}

BOOST_AUTO_TEST_CASE(records_describe_each_collection) {
  CollectClean();
  keel_gc_record first = LastRecord();
  keel_gc_stats after_first = Stats();
  BOOST_TEST(first.reason == KEEL_GC_REASON_EXPLICIT);
  BOOST_TEST(first.index == after_first.collections);
  BOOST_TEST(after_first.bytes_since_gc == 0u);

  // A live object of known size, and garbage of known size.
  void* live = nullptr;
  Registered reg(live);
  live = scheme_malloc_atomic(size_t{1} << 20);
  std::vector<Hidden> garbage;
  AllocateHiddenGarbage(65536, 8, &garbage);
  keel_gc_stats before_second = Stats();
  CollectClean();
  keel_gc_record second = LastRecord();
  keel_gc_stats after_second = Stats();

  BOOST_TEST(second.reason == KEEL_GC_REASON_EXPLICIT);
  BOOST_TEST((second.kind == KEEL_GC_MINOR || second.kind == KEEL_GC_MAJOR));
  BOOST_TEST(second.index == after_second.collections);
  BOOST_TEST(second.index > first.index);
  BOOST_TEST(second.start_ns >= first.start_ns + first.pause_ns);
  BOOST_TEST(second.pause_ns >= second.mark_ns);
  BOOST_TEST(second.pause_ns > 0u);
  BOOST_TEST(second.live_bytes >= uint64_t{1} << 20);
  BOOST_TEST(second.heap_bytes >= second.live_bytes);
  BOOST_TEST(second.committed_bytes <= second.heap_bytes);
  BOOST_TEST(second.marked_objects >= 1u);
  BOOST_TEST(after_second.total_allocated_bytes >= after_first.total_allocated_bytes + (uint64_t{1} << 20) + 8 * 65536);
  BOOST_TEST(after_second.max_pause_ns >= second.pause_ns);
  BOOST_TEST(after_second.total_pause_ns >= first.pause_ns + second.pause_ns);
  BOOST_TEST(after_second.peak_live_bytes >= after_second.live_bytes);
  BOOST_TEST(after_second.peak_heap_bytes >= after_second.heap_bytes);
  BOOST_TEST(after_second.live_bytes == second.live_bytes);

  if (second.index == first.index + 1) {
    // Nothing collected in between: this record covers exactly what the test allocated.
    BOOST_TEST(before_second.bytes_since_gc >= (uint64_t{1} << 20) + 8 * 65536);
    BOOST_TEST(second.allocated_bytes >= (uint64_t{1} << 20) + 8 * 65536);
    uint64_t freed = 0;
    for (const Hidden& h : garbage) freed += WasFreed(h) ? 65536 : 0;
    BOOST_TEST(freed > 0u);
    BOOST_TEST(second.freed_bytes >= freed);
  } else {
    BOOST_TEST_MESSAGE("collections between the two explicit ones; byte checks skipped");
  }
  void* live_now = live;
  BOOST_TEST(GC_base(live_now) == live_now);
}

BOOST_AUTO_TEST_CASE(records_are_ordered_and_bounded) {
  for (int i = 0; i < 5; ++i) {
    keel_test::AllocateGarbage();
    CollectClean();
  }
  size_t n = keel_gc_record_count();
  BOOST_TEST_REQUIRE(n >= 5u);
  keel_gc_record prev{};
  BOOST_TEST_REQUIRE(keel_gc_get_record(0, &prev) != 0);
  for (size_t i = 1; i < n; ++i) {
    keel_gc_record r{};
    BOOST_TEST_REQUIRE(keel_gc_get_record(i, &r) != 0);
    BOOST_TEST_REQUIRE(r.index == prev.index + 1);
    BOOST_TEST_REQUIRE(r.start_ns >= prev.start_ns + prev.pause_ns);
    BOOST_TEST_REQUIRE(r.pause_ns >= r.mark_ns);
    prev = r;
  }
  keel_gc_record out_of_range{};
  BOOST_TEST(keel_gc_get_record(n, &out_of_range) == 0);
  BOOST_TEST(prev.index == Stats().collections);

  uint64_t p50 = keel_gc_pause_percentile_ns(50);
  uint64_t p100 = keel_gc_pause_percentile_ns(100);
  BOOST_TEST(p50 > 0u);
  BOOST_TEST(p50 <= p100);
  BOOST_TEST(p100 <= Stats().max_pause_ns);
}

BOOST_AUTO_TEST_CASE(verify_heap_is_clean_after_varied_work) {
  for (int round = 0; round < 4; ++round) {
    Scheme_Object* list = scheme_null;
    void* u = nullptr;
    Registered reg(list, u);
    for (int i = 0; i < 3000; ++i) {
      list = scheme_make_pair(scheme_make_integer(i), list);
      if (i % 100 == 0) scheme_malloc_atomic(9000 + i);
      if (i % 250 == 0) scheme_make_vector(300, list);
    }
    u = scheme_malloc_uncollectable(200);
    keel_test::AllocateGarbage();
    CollectClean();
    BOOST_TEST(keel_gc_verify_heap() == 0u, "round " << round);
    GC_free(u);
    u = nullptr;  // a registered variable must not keep a freed address (the checked build's frame audit)
    BOOST_TEST(keel_gc_verify_heap() == 0u, "after GC_free, round " << round);
    BOOST_TEST(scheme_list_length(list) == 3000);
  }
}

BOOST_AUTO_TEST_CASE(growth_setting_controls_collection_frequency) {
  // Documented policy: without a write barrier the next collection comes after
  // max(min_bytes, live * growth) bytes; with one, minor collections come every young budget
  // and the setting decides when the next one is major.
  const bool generational = std::string(keel_gc_barrier()) != "none";
  // A tiny growth factor, so the 1 MiB minimum decides even with this process's live data.
  keel_gc_set_growth(0.01, size_t{1} << 20);
  CollectClean();  // the next budget is computed with the new setting
  uint64_t before = CollectionCount();
  keel_test::AllocateGarbage(size_t{16} << 20);
  uint64_t small_budget = CollectionCount() - before;
  BOOST_TEST(small_budget >= 8u, "16 MiB with a 1 MiB budget gave " << small_budget << " collections");

  keel_gc_set_growth(0.6, size_t{256} << 20);
  CollectClean();
  keel_gc_stats s{};
  keel_gc_get_stats(&s);
  uint64_t collections_before = s.collections;
  uint64_t majors_before = s.major_collections;
  keel_test::AllocateGarbage(size_t{16} << 20);
  keel_gc_get_stats(&s);
  if (!StressModeOn()) {
    if (generational) {
      BOOST_TEST(s.major_collections == majors_before, "16 MiB within a 256 MiB old-generation allowance ran a major collection");
    } else {
      BOOST_TEST(s.collections == collections_before, "16 MiB within a 256 MiB budget collected");
    }
  }
  keel_gc_set_growth(0.6, size_t{4} << 20);  // the documented defaults
  CollectClean();
}

BOOST_AUTO_TEST_CASE(trace_to_file_writes_chrome_trace_json) {
  std::string path = TempPath("trace");
  BOOST_TEST_REQUIRE(keel_gc_trace_to(path.c_str()) == 0);
  for (int i = 0; i < 3; ++i) {
    keel_test::AllocateGarbage();
    CollectClean();
  }
  BOOST_TEST(keel_gc_trace_to(nullptr) == 0);
  std::string text = ReadFile(path);
  CheckTraceFile(text, 3);
  // Stopped: more collections do not change the file.
  CollectClean();
  BOOST_TEST(ReadFile(path) == text);
  std::remove(path.c_str());
  BOOST_TEST(keel_gc_trace_to("/nonexistent-keel-dir/trace.json") == -1);
}

// The workload of the KEEL_GC_TRACE test: runs only in a process started with the variable set.
boost::test_tools::assertion_result TraceVariableSet(boost::unit_test::test_unit_id) {
  boost::test_tools::assertion_result r(std::getenv("KEEL_GC_TRACE") != nullptr);
  r.message() << "KEEL_GC_TRACE is not set";
  return r;
}

BOOST_AUTO_TEST_CASE(trace_workload, *boost::unit_test::precondition(TraceVariableSet)) {
  for (int i = 0; i < 4; ++i) {
    keel_test::AllocateGarbage();
    CollectClean();
  }
  BOOST_TEST(CollectionCount() >= 4u);
}

BOOST_AUTO_TEST_CASE(keel_gc_trace_environment_variable) {
  // The variable is read when the process starts, and the file is complete when it exits: run
  // a fresh copy of this program with the variable set.
  std::string path = TempPath("env_trace");
  ChildResult r = keel_test::RunSelf({"--run_test=keel_gc/trace_workload"}, {{"KEEL_GC_TRACE", path}});
  BOOST_TEST(r.ExitedWith(0), r.Describe());
  std::string text = ReadFile(path);
  BOOST_TEST_REQUIRE(!text.empty(), "KEEL_GC_TRACE=" << path << " wrote nothing");
  CheckTraceFile(text, 4);
  std::remove(path.c_str());
}

// Builds a list and a big vector, collects, checks them, and returns a failure count.
KEEL_TEST_NOINLINE int UseFreshRuntime(int cycle, void** registered_block, ChildChecks& checks) {
  keel_gc_stats s{};
  keel_gc_get_stats(&s);
  KEEL_CHILD_CHECK(checks, s.collections == 0);
  KEEL_CHILD_CHECK(checks, keel_gc_record_count() == 0);
  // A fresh runtime has a fresh root set: registering the same address again is allowed.
  scheme_register_static(registered_block, sizeof(void*));
  Scheme_Object* list = scheme_null;
  Scheme_Object* vec = nullptr;
  Registered reg(list, vec);
  for (int i = 0; i < 1000; ++i) list = scheme_make_pair(scheme_make_integer(i + cycle), list);
  vec = scheme_make_vector(5000, scheme_make_integer(cycle));
  *registered_block = vec;
  vec = nullptr;
  keel_test::AllocateGarbage();
  CollectClean();
  keel_gc_record r{};
  KEEL_CHILD_CHECK(checks, keel_gc_get_record(keel_gc_record_count() - 1, &r) != 0);
  KEEL_CHILD_CHECK(checks, r.index == CollectionCount());
  Scheme_Object* l = list;
  for (int i = 999; i >= 0; --i) {
    if (!SCHEME_PAIRP(l) || SCHEME_CAR(l) != scheme_make_integer(i + cycle)) {
      KEEL_CHILD_CHECK(checks, !"list intact");
      break;
    }
    l = SCHEME_CDR(l);
  }
  auto* v = static_cast<Scheme_Object*>(*registered_block);
  KEEL_CHILD_CHECK(checks, SCHEME_VECTORP(v) && SCHEME_VEC_SIZE(v) == 5000);
  KEEL_CHILD_CHECK(checks, SCHEME_VEC_ELS(v)[4999] == scheme_make_integer(cycle));
  KEEL_CHILD_CHECK(checks, keel_gc_verify_heap() == 0);
  return checks.failures;
}

BOOST_AUTO_TEST_CASE(shutdown_then_fresh_runtime_many_times) {
  ChildResult r = RunInChild([] {
    ChildChecks checks;
    void** block = static_cast<void**>(std::calloc(1, sizeof(void*)));
    for (int cycle = 0; cycle < 25 && checks.failures == 0; ++cycle) {
      keel_shutdown();
      *block = nullptr;
      UseFreshRuntime(cycle, block, checks);
    }
    keel_shutdown();
    return checks.ExitCode();
  });
  BOOST_TEST(r.ExitedWith(0), r.Describe());
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
