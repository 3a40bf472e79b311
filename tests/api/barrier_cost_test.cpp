// barrier_cost_test.cpp: the write barrier changes page protection only where it pays
// (docs/design/barrier.md .sol.hot, .sol.refill, .sol.payoff, .sol.batch). Old pages rewritten in cycle after
// cycle stay open and are scanned instead of faulting each cycle, and so do old pages whose free
// slots the allocator refills at every cycle; when writes are spread over
// the whole old generation the collector runs full collections that protect nothing; a tree
// workload, whose old objects are not written, stays generational. Whatever the collector
// chooses, every young object stored into an old one survives. Each case runs in a fresh copy
// of this program, so its records start at its first collection; under KEEL_GC_BARRIER=none the
// cases check only that the stored objects survive.
//
// Runs under both variants. The 3m plan keeps the barrier, its pages and its policy
// (docs/design/precise.md .sol.major), but its young objects live in a nursery and are copied
// into the old generation at the first collection they survive: the cases keep every object
// they hold across an allocation in a registered static or a registered local, and 3m's own
// figures are checked where keel_gc_variant() names it. Two of CGC's figures differ there:
// the copies fill old pages of their own, which are protected like any new old page (the
// rewritten-pages case counts them apart), and only objects that never move are allocated
// among old ones (the refilled-pages case uses allow-interior objects under 3m). The children
// pin the nursery to its default size, which paces 3m's minor collections.
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
#include "support/registered.h"

namespace {

using keel_test::ChildChecks;
using keel_test::ChildResult;
using keel_test::Registered;

constexpr const char* kCaseVariable = "KEEL_TEST_BARRIER_COST_CASE";
// The 3m nursery's size in the children (KEEL_GC_NURSERY; its default). CGC has none.
constexpr size_t kNurseryBytes = size_t{4} << 20;
// Heap pages, the unit pages_protected counts (barrier.md .inv.masks).
constexpr size_t kHeapPageBytes = 16384;

boost::test_tools::assertion_result InChild(boost::unit_test::test_unit_id) {
  return std::getenv(kCaseVariable) != nullptr;
}

bool Generational() { return std::strcmp(keel_gc_barrier(), "none") != 0; }
bool IsCgc() { return std::string(keel_gc_variant()) == "cgc"; }

// A young object: three words, the last an odd tag (never a pointer) checked later. Nothing
// allocates between making it and returning it, so the caller gets its current address.
void* Tag(void* fresh, uint64_t tag) {
  static_cast<void**>(fresh)[2] = reinterpret_cast<void*>(static_cast<uintptr_t>(tag * 2 + 1));
  return fresh;
}
KEEL_TEST_NOINLINE void* MakeTagged(uint64_t tag) { return Tag(scheme_malloc(3 * sizeof(void*)), tag); }
// The same, of a kind that never moves under 3m either (an allow-interior object), or under CGC
// as MakeTagged.
KEEL_TEST_NOINLINE void* MakeTaggedInPlace(uint64_t tag) {
  static const bool cgc = IsCgc();
  return Tag(cgc ? scheme_malloc(3 * sizeof(void*)) : scheme_malloc_allow_interior(3 * sizeof(void*)), tag);
}
bool HasTag(void* p, uint64_t tag) {
  return p != nullptr && static_cast<void**>(p)[2] == reinterpret_cast<void*>(static_cast<uintptr_t>(tag * 2 + 1));
}

// The minor collections from record `from` on: how many, the pages they protected, the fewest
// hot pages and the fewest objects copied that any of them left, and the objects and bytes
// they copied (3m).
struct MinorSums {
  uint64_t minors = 0;
  uint64_t protected_pages = 0;
  uint64_t hot_min = UINT64_MAX;
  uint64_t hot_sum = 0;
  uint64_t hot_max = 0;
  uint64_t copied_min = UINT64_MAX;
  uint64_t copied_objects = 0;
  uint64_t copied_bytes = 0;
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
    sums.hot_sum += r.hot_pages;
    if (r.hot_pages > sums.hot_max) sums.hot_max = r.hot_pages;
    if (r.copied_objects < sums.copied_min) sums.copied_min = r.copied_objects;
    sums.copied_objects += r.copied_objects;
    sums.copied_bytes += r.copied_bytes;
  }
  return sums;
}

// Rewritten pages: a 64 KiB table (four heap pages) becomes old, then at every cycle each of its
// slots gets a fresh young object and a minor collection runs. With hot pages the table is
// protected again only when its lease runs out (2, 4, 8, ... collections), not after every
// cycle. The table is bigger than 8 KiB, so it never moves under 3m either; there the young
// objects it holds are copied out of the nursery at each minor collection, found through the
// table's open pages, and their copies fill a page or two of the old generation per cycle,
// which is protected after it as every new old page is.
int HotPages() {
  ChildChecks checks;
  constexpr size_t kSlots = 65536 / sizeof(void*);
  constexpr size_t kStored = kSlots / 8;  // young objects stored per cycle
  constexpr int kCycles = 48;
  static void** table = nullptr;
  scheme_register_static(&table, sizeof table);
  table = static_cast<void**>(scheme_malloc(kSlots * sizeof(void*)));
  scheme_collect_garbage();  // the table is old
  size_t warm = 0;
  for (int cycle = 0; cycle < kCycles; ++cycle) {
    for (size_t i = 0; i < kSlots; i += 8) {
      void* young = MakeTagged(cycle * kSlots + i);
      table[i] = young;
    }
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
  const uint64_t protected_pages = sums.protected_pages, minors = sums.minors;
  // 3m: the copies of one minor collection after another fill old pages in turn, each page
  // protected once when it is full or the collection ends (one more page for the rounding of
  // slots to a page); and each collection continues on the page the one before left partly
  // used, which it opens and protects again (precise.md .sol.own-writes). None is the table's.
  // Under CGC nothing is copied, and every protected page counts.
  const uint64_t copy_pages =
      sums.copied_bytes == 0 ? 0 : (sums.copied_bytes + kHeapPageBytes - 1) / kHeapPageBytes + 1 + minors;
  const uint64_t table_protected = protected_pages > copy_pages ? protected_pages - copy_pages : 0;
  std::fprintf(stderr,
               "hot pages: %llu minor collections after warm-up, %llu pages protected (%llu beyond the pages "
               "copies filled), %llu hot page-collections (at most %llu at once), at least %llu objects copied in each\n",
               static_cast<unsigned long long>(minors), static_cast<unsigned long long>(protected_pages),
               static_cast<unsigned long long>(table_protected), static_cast<unsigned long long>(sums.hot_sum),
               static_cast<unsigned long long>(sums.hot_max), static_cast<unsigned long long>(minors == 0 ? 0 : sums.copied_min));
  if (Generational()) {
    KEEL_CHILD_CHECK(checks, minors >= 24);
    // Without hot pages: the table's four pages at every one of 32 minor collections (128). With
    // them: each page's lease runs out about twice in 32 collections, when it is protected once,
    // written, and hot again from the next collection on; so most of the time all four are hot.
    KEEL_CHILD_CHECK(checks, table_protected <= 16);
    KEEL_CHILD_CHECK(checks, table_protected >= 1);  // leases run out: a hot page cools (barrier.md .sol.hot)
    KEEL_CHILD_CHECK(checks, sums.hot_sum >= 3 * minors);
    // Only the table's pages are written by the program; pages the collector wrote (3m's copies)
    // never warm up (precise.md .sol.own-writes).
    KEEL_CHILD_CHECK(checks, sums.hot_max <= 4);
    if (IsCgc()) {
      KEEL_CHILD_CHECK(checks, sums.copied_objects == 0);
    } else {
      // 3m: every object stored since the last cycle was reached through the open table and
      // copied out of the nursery, in every minor collection.
      KEEL_CHILD_CHECK(checks, sums.copied_min >= kStored);
    }
  }
  KEEL_CHILD_CHECK(checks, keel_gc_verify_heap() == 0);
  return checks.ExitCode();
}

// Refilled pages: 4,096 three-word objects fill a run of fresh pages; every other one stays
// reachable, and a major collection leaves the pages old with a free slot between each two
// objects. At every cycle the allocator refills those slots with objects that die young, so
// the pages are back on the partial list after each minor collection. Protecting them after
// each one would cost a protect and an open per page and cycle; they must stay open and be
// scanned instead (.sol.refill). Under 3m a movable object is allocated in the nursery and
// its survivors are copied next to each other, so no old page ever has slots between old
// objects for it: only objects that never move (precise.md .sol.plan) are allocated among
// old ones, and the case uses allow-interior objects there, which nothing copies.
int RefilledPages() {
  ChildChecks checks;
  constexpr size_t kObjects = 4096;
  constexpr int kCycles = 48;
  static void* kept[kObjects / 2];
  scheme_register_static(kept, sizeof kept);
  for (size_t i = 0; i < kObjects; ++i) {
    void* p = MakeTaggedInPlace(i);
    if (i % 2 == 0) kept[i / 2] = p;
  }
  keel_test::ClearStack();
  scheme_collect_garbage();  // the kept objects are old, with free slots between them
  size_t warm = 0;
  uint64_t sink = 0;
  for (int cycle = 0; cycle < kCycles; ++cycle) {
    for (size_t i = 0; i < kObjects / 2; ++i) sink += reinterpret_cast<uintptr_t>(MakeTaggedInPlace(i)) & 8;
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
  std::fprintf(stderr,
               "refilled pages: %llu minor collections after warm-up, %llu pages protected, at least %llu hot, "
               "%llu objects copied (%llu)\n",
               static_cast<unsigned long long>(minors), static_cast<unsigned long long>(protected_pages),
               static_cast<unsigned long long>(minors == 0 ? 0 : sums.hot_min),
               static_cast<unsigned long long>(sums.copied_objects),
               static_cast<unsigned long long>(sink & 1));
  if (Generational()) {
    KEEL_CHILD_CHECK(checks, minors >= 24);
    // Protected after every one of 32 minor collections, the pages the refills land on count
    // 128 (four pages each time, measured without .sol.refill); kept open, none or a few.
    KEEL_CHILD_CHECK(checks, protected_pages <= 64);
    // Kept open, they count with the hot pages at every minor collection: so the case did
    // refill old pages (an allocator that never came back to them would protect nothing too).
    KEEL_CHILD_CHECK(checks, sums.hot_min >= 4);
  }
  // Neither variant moves these objects: the refills died where they were allocated.
  KEEL_CHILD_CHECK(checks, sums.copied_objects == 0);
  KEEL_CHILD_CHECK(checks, keel_gc_verify_heap() == 0);
  return checks.ExitCode();
}

// An old graph of 24 MiB of three-word nodes whose fields are overwritten with young objects at
// random, all over the old generation (more pages than may stay hot). Protection cannot pay: the
// collector must switch to a stretch of full collections that protect nothing. The node array
// is bigger than 8 KiB and never moves; the nodes may (3m), so each is read from it after the
// young object that goes into it is made.
struct Graph {
  static constexpr size_t kNodes = size_t{1} << 20;
  void** nodes = nullptr;  // kNodes pointers to nodes
};
KEEL_TEST_NOINLINE void BuildGraph(Graph* g) {
  g->nodes = static_cast<void**>(scheme_malloc(Graph::kNodes * sizeof(void*)));
  for (size_t i = 0; i < Graph::kNodes; ++i) {
    void* node = MakeTagged(i);
    g->nodes[i] = node;
  }
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
    void* young = MakeTagged(step);
    auto** node = static_cast<void**>(graph.nodes[x % Graph::kNodes]);
    node[(x >> 40) & 1] = young;  // a young object into an old node
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
// generations pay and no stretch of full collections runs. A node is allocated before its
// subtrees and filled after them, so it and its left subtree are registered while the rest is
// built (under 3m they move when a collection comes meanwhile).
KEEL_TEST_NOINLINE void* Tree(int depth) {
  auto** n = static_cast<void**>(scheme_malloc(2 * sizeof(void*)));
  if (depth > 0) {
    void* l = nullptr;
    Registered reg(n, l);
    l = Tree(depth - 1);
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
  constexpr int kLongLivedDepth = 18;
  constexpr int kDroppedDepth = 12;
  constexpr int kDropped = 256;
  static void* long_lived = nullptr;
  scheme_register_static(&long_lived, sizeof long_lived);
  long_lived = Tree(kLongLivedDepth);
  size_t total = 0;
  for (int i = 0; i < kDropped; ++i) total += Count(Tree(kDroppedDepth));
  uint64_t stretches = 0;
  uint64_t nursery_copies = 0;  // objects copied out of the nursery (3m)
  for (size_t i = 0; i < keel_gc_record_count(); ++i) {
    keel_gc_record r{};
    keel_gc_get_record(i, &r);
    if (r.full_stretch != 0) ++stretches;
    nursery_copies += r.copied_objects - r.compacted_objects;
  }
  keel_gc_stats s{};
  keel_gc_get_stats(&s);
  std::fprintf(stderr,
               "trees: %llu collections (%llu minor), %llu in full stretches, %llu objects copied out of the nursery\n",
               static_cast<unsigned long long>(s.collections), static_cast<unsigned long long>(s.minor_collections),
               static_cast<unsigned long long>(stretches), static_cast<unsigned long long>(nursery_copies));
  constexpr size_t kLongLivedNodes = (size_t{1} << (kLongLivedDepth + 1)) - 1;
  constexpr size_t kDroppedNodes = (size_t{1} << (kDroppedDepth + 1)) - 1;
  KEEL_CHILD_CHECK(checks, total == kDropped * kDroppedNodes);
  KEEL_CHILD_CHECK(checks, Count(long_lived) == kLongLivedNodes);
  if (IsCgc()) {
    KEEL_CHILD_CHECK(checks, nursery_copies == 0);
    if (Generational()) {
      // Minor collections come every young budget, which follows a pause goal (1 to 32 MiB):
      // how many there are depends on the machine's speed (20 in a Release build here, 19 to
      // 23 in a Debug one). What must hold anywhere: they are most collections, the major
      // ones are those the long-lived tree's promotion calls for, and no full stretch runs.
      KEEL_CHILD_CHECK(checks, s.minor_collections > s.major_collections);
      KEEL_CHILD_CHECK(checks, s.major_collections <= 3);
      KEEL_CHILD_CHECK(checks, stretches == 0);
    }
  } else {
    // 3m: the long-lived tree is copied out of the nursery once, node by node; of the dropped
    // trees, at most the one under construction at each collection (survivors are traced once
    // and then stay old, barrier.md .sol.payoff).
    KEEL_CHILD_CHECK(checks, nursery_copies >= kLongLivedNodes);
    KEEL_CHILD_CHECK(checks, nursery_copies <= kLongLivedNodes + s.collections * kDroppedNodes);
    if (Generational()) {
      // A collection comes when the nursery is full, not after CGC's young budget: each node
      // takes its two words and a header word there (precise.md .sol.header), and each time the
      // nursery filled up a collection ran. They are minor ones but for those that the old
      // generation's growth makes major while the long-lived tree (8 MiB when old) is promoted:
      // its threshold is 4 MiB at first and 4 MiB more after each major collection (barrier.md
      // .sol.policy), so two at most, as under CGC.
      const uint64_t fills = (kLongLivedNodes + kDropped * kDroppedNodes) * 3 * sizeof(void*) / kNurseryBytes;
      KEEL_CHILD_CHECK(checks, s.collections >= fills);
      KEEL_CHILD_CHECK(checks, s.major_collections <= 2);
      KEEL_CHILD_CHECK(checks, stretches == 0);
    }
  }
  return checks.ExitCode();
}

void RunCase(const std::string& name) {
  // The cases measure the collector's own choices: collections forced every few allocations
  // (the GC-stress run of this suite) would be all they saw, and take minutes.
  ChildResult r = keel_test::RunSelf({"--run_test=barrier_cost/child_case"},
                                     {{kCaseVariable, name},
                                      {"KEEL_GC_STRESS", ""},
                                      {"KEEL_GC_NURSERY", std::to_string(kNurseryBytes)}});
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
