// barrier_cost_test.cpp: the write barrier changes page protection only where it pays
// (docs/design/barrier.md .sol.hot, .sol.refill, .sol.payoff, .sol.batch). Old pages rewritten in cycle after
// cycle stay open and are scanned instead of faulting each cycle, and so do old pages whose free
// slots the allocator refills at every cycle; when writes are spread over
// the whole old generation the collector runs full collections that protect nothing; a tree
// workload, whose old objects are not written, stays generational. Whatever the collector
// chooses, every young object stored into an old one survives. Each case runs in a fresh copy
// of this program, so its records start at its first collection; under KEEL_GC_BARRIER=none the
// cases check only that the stored objects survive.
#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "gc.h"
#include "keel_gc.h"
#include "scheme.h"
#include "support/child_process.h"
#include "support/gc_probe.h"

namespace {

using keel_test::ChildChecks;
using keel_test::ChildResult;

constexpr const char* kCaseVariable = "KEEL_TEST_BARRIER_COST_CASE";

boost::test_tools::assertion_result InChild(boost::unit_test::test_unit_id) {
  return std::getenv(kCaseVariable) != nullptr;
}

bool Generational() { return std::strcmp(keel_gc_barrier(), "none") != 0; }

// A young object: three words, the last an odd tag (never a pointer) checked later.
KEEL_TEST_NOINLINE void* MakeTagged(uint64_t tag) {
  auto** p = static_cast<void**>(scheme_malloc(3 * sizeof(void*)));
  p[2] = reinterpret_cast<void*>(static_cast<uintptr_t>(tag * 2 + 1));
  return p;
}
bool HasTag(void* p, uint64_t tag) {
  return p != nullptr && static_cast<void**>(p)[2] == reinterpret_cast<void*>(static_cast<uintptr_t>(tag * 2 + 1));
}

// The minor collections from record `from` on: how many, the pages they protected, and the
// fewest hot pages any of them left.
struct MinorSums {
  uint64_t minors = 0;
  uint64_t protected_pages = 0;
  uint64_t hot_min = UINT64_MAX;
};
MinorSums SumMinors(size_t from) {
  MinorSums sums;
  for (size_t i = from; i < keel_gc_record_count(); ++i) {
    keel_gc_record r{};
    keel_gc_get_record(i, &r);
    if (r.kind != KEEL_GC_MINOR) continue;
    ++sums.minors;
    sums.protected_pages += r.pages_protected;
    if (r.hot_pages < sums.hot_min) sums.hot_min = r.hot_pages;
  }
  return sums;
}

// Rewritten pages: a 64 KiB table (four heap pages) becomes old, then at every cycle each of its
// slots gets a fresh young object and a minor collection runs. With hot pages the table is
// protected again only when its lease runs out (2, 4, 8, ... collections), not after every
// cycle.
int HotPages() {
  ChildChecks checks;
  constexpr size_t kSlots = 65536 / sizeof(void*);
  constexpr int kCycles = 48;
  static void** table = nullptr;
  scheme_register_static(&table, sizeof table);
  table = static_cast<void**>(scheme_malloc(kSlots * sizeof(void*)));
  scheme_collect_garbage();  // the table is old
  size_t warm = 0;
  for (int cycle = 0; cycle < kCycles; ++cycle) {
    for (size_t i = 0; i < kSlots; i += 8) table[i] = MakeTagged(cycle * kSlots + i);
    keel_test::ClearStack();
    keel_gc_collect_minor();
    if (cycle == 15) warm = keel_gc_record_count();
    for (size_t i = 0; i < kSlots; i += 8) {
      if (!HasTag(table[i], cycle * kSlots + i)) {
        KEEL_CHILD_CHECK(checks, !"a young object stored into a hot page was lost");
        return checks.ExitCode();
      }
    }
  }
  const MinorSums sums = SumMinors(warm);
  const uint64_t protected_pages = sums.protected_pages, hot_min = sums.hot_min, minors = sums.minors;
  std::fprintf(stderr, "hot pages: %llu minor collections after warm-up, %llu pages protected, at least %llu hot\n",
               static_cast<unsigned long long>(minors), static_cast<unsigned long long>(protected_pages),
               static_cast<unsigned long long>(hot_min));
  if (Generational()) {
    KEEL_CHILD_CHECK(checks, minors >= 24);
    // Without hot pages: the table's four pages at every one of 32 minor collections (128). With
    // them: each page's lease runs out about twice in 32 collections.
    KEEL_CHILD_CHECK(checks, protected_pages <= 16);
    KEEL_CHILD_CHECK(checks, hot_min >= 2);
  }
  KEEL_CHILD_CHECK(checks, keel_gc_verify_heap() == 0);
  return checks.ExitCode();
}

// Refilled pages: 4,096 three-word objects fill a run of fresh pages; every other one stays
// reachable, and a major collection leaves the pages old with a free slot between each two
// objects. At every cycle the allocator refills those slots with objects that die young, so
// the pages are back on the partial list after each minor collection. Protecting them after
// each one would cost a protect and an open per page and cycle; they must stay open and be
// scanned instead (.sol.refill).
int RefilledPages() {
  ChildChecks checks;
  constexpr size_t kObjects = 4096;
  constexpr int kCycles = 48;
  static void* kept[kObjects / 2];
  scheme_register_static(kept, sizeof kept);
  for (size_t i = 0; i < kObjects; ++i) {
    void* p = MakeTagged(i);
    if (i % 2 == 0) kept[i / 2] = p;
  }
  keel_test::ClearStack();
  scheme_collect_garbage();  // the kept objects are old, with free slots between them
  size_t warm = 0;
  uint64_t sink = 0;
  for (int cycle = 0; cycle < kCycles; ++cycle) {
    for (size_t i = 0; i < kObjects / 2; ++i) sink += reinterpret_cast<uintptr_t>(MakeTagged(i)) & 8;
    keel_test::ClearStack();
    keel_gc_collect_minor();
    if (cycle == 15) warm = keel_gc_record_count();
  }
  for (size_t i = 0; i < kObjects / 2; ++i) {
    if (!HasTag(kept[i], 2 * i)) {
      KEEL_CHILD_CHECK(checks, !"an old object on a refilled page was lost");
      return checks.ExitCode();
    }
  }
  const MinorSums sums = SumMinors(warm);
  const uint64_t protected_pages = sums.protected_pages, minors = sums.minors;
  std::fprintf(stderr, "refilled pages: %llu minor collections after warm-up, %llu pages protected (%llu)\n",
               static_cast<unsigned long long>(minors), static_cast<unsigned long long>(protected_pages),
               static_cast<unsigned long long>(sink & 1));
  if (Generational()) {
    KEEL_CHILD_CHECK(checks, minors >= 24);
    // Protected after every one of 32 minor collections, the pages the refills land on count
    // 128 (four pages each time, measured without .sol.refill); kept open, none or a few.
    KEEL_CHILD_CHECK(checks, protected_pages <= 64);
  }
  KEEL_CHILD_CHECK(checks, keel_gc_verify_heap() == 0);
  return checks.ExitCode();
}

// An old graph of 24 MiB of three-word nodes whose fields are overwritten with young objects at
// random, all over the old generation (more pages than may stay hot). Protection cannot pay: the
// collector must switch to a stretch of full collections that protect nothing.
struct Graph {
  static constexpr size_t kNodes = size_t{1} << 20;
  void** nodes = nullptr;  // kNodes pointers to nodes
};
KEEL_TEST_NOINLINE void BuildGraph(Graph* g) {
  g->nodes = static_cast<void**>(scheme_malloc(Graph::kNodes * sizeof(void*)));
  for (size_t i = 0; i < Graph::kNodes; ++i) g->nodes[i] = MakeTagged(i);
}

int SpreadWrites() {
  ChildChecks checks;
  static Graph graph;
  scheme_register_static(&graph.nodes, sizeof graph.nodes);
  BuildGraph(&graph);
  scheme_collect_garbage();
  uint64_t x = 0x9E3779B97F4A7C15ull;
  uint64_t stored = 0;
  uint64_t stretch_collections = 0, protected_in_stretch = 0;
  size_t seen = keel_gc_record_count();
  for (uint64_t step = 0; step < 6'000'000; ++step) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    auto** node = static_cast<void**>(graph.nodes[x % Graph::kNodes]);
    node[(x >> 40) & 1] = MakeTagged(step);  // a young object into an old node
    ++stored;
  }
  bool in_stretch = false;
  uint64_t stretches_begun = 0;
  uint64_t minors_before = 0;  // minor collections before the first stretch
  for (size_t i = seen; i < keel_gc_record_count(); ++i) {
    keel_gc_record r{};
    keel_gc_get_record(i, &r);
    if (stretches_begun == 0 && r.full_stretch == 0 && r.kind == KEEL_GC_MINOR) ++minors_before;
    if (!in_stretch && r.full_stretch != 0) ++stretches_begun;
    if (in_stretch) {
      ++stretch_collections;
      KEEL_CHILD_CHECK(checks, r.kind == KEEL_GC_MAJOR);
      if (r.full_stretch != 0) protected_in_stretch += r.pages_protected;  // not the stretch's last
    }
    in_stretch = r.full_stretch != 0;
  }
  keel_gc_stats s{};
  keel_gc_get_stats(&s);
  std::fprintf(stderr,
               "spread writes: %llu collections (%llu minor), %llu stretches begun, %llu collections in them, "
               "%llu minor before the first\n",
               static_cast<unsigned long long>(s.collections), static_cast<unsigned long long>(s.minor_collections),
               static_cast<unsigned long long>(stretches_begun), static_cast<unsigned long long>(stretch_collections),
               static_cast<unsigned long long>(minors_before));
  if (Generational()) {
    KEEL_CHILD_CHECK(checks, stretches_begun >= 1);
    // The first collection after the stores began found the whole graph written, so it began
    // the stretch itself instead of scanning 24 MiB as dirty (barrier.md .sol.payoff).
    KEEL_CHILD_CHECK(checks, minors_before == 0);
    KEEL_CHILD_CHECK(checks, protected_in_stretch == 0);
  }
  // Every node still holds its own tag, and what was stored into it is intact where it survives.
  scheme_collect_garbage();
  for (size_t i = 0; i < Graph::kNodes; ++i) {
    if (!HasTag(graph.nodes[i], i)) {
      KEEL_CHILD_CHECK(checks, !"an old node lost its contents");
      break;
    }
  }
  KEEL_CHILD_CHECK(checks, stored == 6'000'000);
  KEEL_CHILD_CHECK(checks, keel_gc_verify_heap() == 0);
  return checks.ExitCode();
}

// Trees built bottom-up and dropped, beside a long-lived one: old objects are never written, so
// generations pay and no stretch of full collections runs.
KEEL_TEST_NOINLINE void* Tree(int depth) {
  auto** n = static_cast<void**>(scheme_malloc(2 * sizeof(void*)));
  if (depth > 0) {
    void* l = Tree(depth - 1);
    void* r = Tree(depth - 1);
    n[0] = l;
    n[1] = r;
  }
  return n;
}
size_t Count(void* t) {
  auto** n = static_cast<void**>(t);
  return n[0] == nullptr ? 1 : 1 + Count(n[0]) + Count(n[1]);
}

int Trees() {
  ChildChecks checks;
  static void* long_lived = nullptr;
  scheme_register_static(&long_lived, sizeof long_lived);
  long_lived = Tree(18);
  size_t total = 0;
  for (int i = 0; i < 256; ++i) total += Count(Tree(12));
  uint64_t stretches = 0;
  for (size_t i = 0; i < keel_gc_record_count(); ++i) {
    keel_gc_record r{};
    keel_gc_get_record(i, &r);
    if (r.full_stretch != 0) ++stretches;
  }
  keel_gc_stats s{};
  keel_gc_get_stats(&s);
  std::fprintf(stderr, "trees: %llu collections (%llu minor), %llu in full stretches\n",
               static_cast<unsigned long long>(s.collections), static_cast<unsigned long long>(s.minor_collections),
               static_cast<unsigned long long>(stretches));
  KEEL_CHILD_CHECK(checks, total == 256 * ((size_t{1} << 13) - 1));
  KEEL_CHILD_CHECK(checks, Count(long_lived) == (size_t{1} << 19) - 1);
  if (Generational()) {
    KEEL_CHILD_CHECK(checks, s.minor_collections >= 20);
    KEEL_CHILD_CHECK(checks, stretches == 0);
  }
  return checks.ExitCode();
}

void RunCase(const std::string& name) {
  // The cases measure the collector's own choices: collections forced every few allocations
  // (the GC-stress run of this suite) would be all they saw, and take minutes.
  ChildResult r = keel_test::RunSelf({"--run_test=barrier_cost/child_case"},
                                     {{kCaseVariable, name}, {"KEEL_GC_STRESS", ""}});
  BOOST_TEST_MESSAGE(r.err);
  BOOST_TEST(r.ExitedWith(0), name << ": " << r.Describe());
}

BOOST_FIXTURE_TEST_SUITE(barrier_cost, keel_test::CleanStackFixture)

BOOST_AUTO_TEST_CASE(child_case, *boost::unit_test::precondition(InChild)) {
  const std::string which = std::getenv(kCaseVariable);
  int rc = 99;
  if (which == "hot") rc = HotPages();
  if (which == "refill") rc = RefilledPages();
  if (which == "spread") rc = SpreadWrites();
  if (which == "trees") rc = Trees();
  std::fflush(stderr);
  std::_Exit(rc);
}

BOOST_AUTO_TEST_CASE(rewritten_old_pages_stay_open) { RunCase("hot"); }

BOOST_AUTO_TEST_CASE(refilled_old_pages_stay_open) { RunCase("refill"); }

BOOST_AUTO_TEST_CASE(spread_writes_switch_to_full_collections) { RunCase("spread"); }

BOOST_AUTO_TEST_CASE(tree_building_stays_generational) { RunCase("trees"); }

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
