// process_test.cpp: the collector under what a process does to it: fork() (both heaps stay
// intact, docs/design/barrier.md .sol.fork), the kernel's mapping-count limit under the mprotect
// barrier (.sol.maplimit), and many threads sharing the barrier's descriptors (.sol.uffd). Runs
// under every backend (CTest repeats the api suite with KEEL_GC_BARRIER=mprotect and none).
#include <boost/test/unit_test.hpp>

#include <sys/mman.h>
#include <sys/resource.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <dirent.h>

#include "gc.h"
#include "keel_gc.h"
#include "scheme.h"
#include "keel_places.h"
#include "support/child_process.h"
#include "support/gc_probe.h"

namespace {

using keel_test::Hidden;

// Old holders, each with slots for young objects that only the holder references.
constexpr int kHolders = 1000;
constexpr int kSlots = 4;
constexpr size_t kYoungBytes = 176;  // one size class, so churn reuses the freed slots

KEEL_TEST_NOINLINE void** NewHolders() {
  void** holders = keel_test::NewRegisteredBlock(kHolders);
  for (int i = 0; i < kHolders; ++i) holders[i] = scheme_malloc(kSlots * sizeof(void*));
  return holders;
}

// Stores a fresh young object with a pattern into slot `slot` of every holder (plain stores).
KEEL_TEST_NOINLINE void FillSlot(void** holders, int slot, uint64_t seed) {
  for (int i = 0; i < kHolders; ++i) {
    void* p = scheme_malloc(kYoungBytes);
    keel_test::FillPattern(p, kYoungBytes, seed + static_cast<uint64_t>(i));
    static_cast<void**>(holders[i])[slot] = p;
  }
}

KEEL_TEST_NOINLINE int CountIntact(void** holders, int slot, uint64_t seed) {
  int n = 0;
  for (int i = 0; i < kHolders; ++i) {
    void* p = static_cast<void**>(holders[i])[slot];
    if (p != nullptr && keel_test::HasPattern(p, kYoungBytes, seed + static_cast<uint64_t>(i))) ++n;
  }
  return n;
}

// Allocates and overwrites objects of the young size: any young object the collector wrongly
// freed is reused and loses its pattern.
KEEL_TEST_NOINLINE void Churn() {
  for (int i = 0; i < 3 * kHolders; ++i) std::memset(scheme_malloc(kYoungBytes), 0xEE, kYoungBytes);
}

KEEL_TEST_NOINLINE void MinorThenChurn() {
  keel_test::ClearStack();
  keel_test::ZeroScratchRegisters();
  keel_gc_collect_minor();
  Churn();
}

constexpr uint64_t kParentSeed = 1000;
constexpr uint64_t kChildSeed = 50000;

}  // namespace

BOOST_FIXTURE_TEST_SUITE(fork_suite, keel_test::CleanStackFixture)

// The parent writes young objects into old ones, forks, and both processes go on allocating and
// collecting: the child must see its own writes, and the parent must not lose its record of
// the writes made before the fork to the child's collections.
BOOST_AUTO_TEST_CASE(both_heaps_survive_fork_with_minor_collections) {
  void** holders = NewHolders();
  GC_gcollect();  // the holders are old (and write-protected under a barrier)
  FillSlot(holders, 0, kParentSeed);

  keel_test::ChildResult child = keel_test::RunInChild([&] {
    keel_test::ChildChecks checks;
    for (int round = 1; round < kSlots; ++round) {
      FillSlot(holders, round, kChildSeed * static_cast<uint64_t>(round));
      MinorThenChurn();
      KEEL_CHILD_CHECK(checks, CountIntact(holders, round, kChildSeed * static_cast<uint64_t>(round)) == kHolders);
    }
    KEEL_CHILD_CHECK(checks, CountIntact(holders, 0, kParentSeed) == kHolders);
    KEEL_CHILD_CHECK(checks, keel_gc_verify_heap() == 0u);
    GC_gcollect();
    KEEL_CHILD_CHECK(checks, CountIntact(holders, kSlots - 1, kChildSeed * (kSlots - 1)) == kHolders);
    return checks.ExitCode();
  });
  BOOST_TEST(child.ExitedWith(0), child.Describe());

  MinorThenChurn();
  BOOST_TEST(CountIntact(holders, 0, kParentSeed) == kHolders);
  FillSlot(holders, 1, kParentSeed * 7);
  MinorThenChurn();
  BOOST_TEST(CountIntact(holders, 1, kParentSeed * 7) == kHolders);
  BOOST_TEST(keel_gc_verify_heap() == 0u);
  std::memset(holders, 0, kHolders * sizeof(void*));
}

// A fork between collections, a child that only allocates and exits, and a parent that then
// collects: nothing of the parent's is lost (the child's exit closes nothing of the parent's).
BOOST_AUTO_TEST_CASE(parent_collects_after_many_children) {
  void** holders = NewHolders();
  GC_gcollect();
  for (int k = 0; k < 4; ++k) {
    FillSlot(holders, k, kParentSeed + 10000 * static_cast<uint64_t>(k));
    keel_test::ChildResult child = keel_test::RunInChild([&] {
      Churn();
      MinorThenChurn();
      return CountIntact(holders, k, kParentSeed + 10000 * static_cast<uint64_t>(k)) == kHolders ? 0 : 10;
    });
    BOOST_TEST(child.ExitedWith(0), child.Describe());
    MinorThenChurn();
    BOOST_TEST(CountIntact(holders, k, kParentSeed + 10000 * static_cast<uint64_t>(k)) == kHolders);
  }
  std::memset(holders, 0, kHolders * sizeof(void*));
}

BOOST_AUTO_TEST_SUITE_END()

namespace {

// vm.max_map_count, or 0 when unreadable.
long MaxMapCount() {
  long n = 0;
  if (FILE* f = std::fopen("/proc/sys/vm/max_map_count", "r")) {
    if (std::fscanf(f, "%ld", &n) != 1) n = 0;
    std::fclose(f);
  }
  return n;
}

// Takes every mapping the kernel still allows, one page each with alternating protections so
// that none merges with its neighbour. Returns them for UnmapAll.
std::vector<void*> ExhaustMappings(size_t capacity) {
  std::vector<void*> maps;
  maps.reserve(capacity);  // no allocation once the limit is reached
  while (maps.size() < capacity) {
    int prot = maps.size() % 2 == 0 ? PROT_READ : PROT_NONE;
    void* p = mmap(nullptr, 4096, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) break;
    maps.push_back(p);
  }
  return maps;
}

void UnmapAll(std::vector<void*>& maps) {
  for (void* p : maps) munmap(p, 4096);
  maps.clear();
}

constexpr int kOldObjects = 4096;
constexpr size_t kOldBytes = 1000;  // 16 to a 16 KiB page: 256 protected pages

}  // namespace

BOOST_AUTO_TEST_SUITE(map_count_suite)

// With the process at vm.max_map_count, the barrier's fault handler cannot split one page off a
// protected mapping. The writes must still succeed and be tracked (the handler opens the whole
// protected run around the page), and the heap must be intact afterwards.
BOOST_AUTO_TEST_CASE(writes_succeed_at_the_mapping_limit) {
  const long limit = MaxMapCount();
  if (limit <= 0 || limit > 262144) {
    BOOST_TEST_MESSAGE("vm.max_map_count is " << limit << ": too large to exhaust quickly; skipped");
    return;
  }
  keel_test::ChildResult child = keel_test::RunInChild([&] {
    keel_test::ChildChecks checks;
    void** old = keel_test::NewRegisteredBlock(kOldObjects);
    for (int i = 0; i < kOldObjects; ++i) old[i] = scheme_malloc(kOldBytes);
    GC_gcollect();  // old and write-protected under a barrier
    std::vector<void*> maps = ExhaustMappings(static_cast<size_t>(limit) + 16);
    // Every other object, in address order: each write would split a mapping in three.
    for (int i = 0; i < kOldObjects; i += 2) static_cast<uintptr_t*>(old[i])[1] = static_cast<uintptr_t>(i) * 2 + 1;
    for (int i = 1; i < kOldObjects; i += 2) static_cast<uintptr_t*>(old[i])[1] = static_cast<uintptr_t>(i) * 2 + 1;
    UnmapAll(maps);
    keel_gc_collect_minor();
    GC_gcollect();
    int intact = 0;
    for (int i = 0; i < kOldObjects; ++i) {
      if (static_cast<uintptr_t*>(old[i])[1] == static_cast<uintptr_t>(i) * 2 + 1) ++intact;
    }
    KEEL_CHILD_CHECK(checks, intact == kOldObjects);
    KEEL_CHILD_CHECK(checks, keel_gc_verify_heap() == 0u);
    return checks.ExitCode();
  });
  BOOST_TEST(child.ExitedWith(0), child.Describe());
}

BOOST_AUTO_TEST_SUITE_END()

namespace {

size_t OpenDescriptors() {
  size_t n = 0;
  if (DIR* d = opendir("/proc/self/fd")) {
    while (readdir(d) != nullptr) ++n;
    closedir(d);
  }
  return n;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(descriptor_suite)

// Every thread's collector uses the same backend, and the barrier's descriptors do not grow
// with the number of threads: with room for only a few dozen more descriptors, 64 threads that
// each allocate and collect all get the backend a place gets, which is the main thread's
// except in the checked build: that gives a collector made for a place mprotect (docs/design/
// places.md .sol.foreign-writes), and the main thread's collector may predate its attachment.
BOOST_AUTO_TEST_CASE(threads_share_the_barrier_and_its_descriptors) {
  keel_test::ChildResult child = keel_test::RunInChild([] {
    keel_test::ChildChecks checks;
    [[maybe_unused]] const std::string main_backend = keel_gc_barrier();
    std::string place_backend;
    std::thread([&] {
      keel_thread_attach();
      place_backend = keel_gc_barrier();
    }).join();
#ifndef KEEL_GC_CHECKED
    KEEL_CHILD_CHECK(checks, place_backend == main_backend);
#endif
    constexpr int kThreads = 64;
    const size_t before = OpenDescriptors();
    struct rlimit lim{};
    getrlimit(RLIMIT_NOFILE, &lim);
    lim.rlim_cur = before + 40;  // fewer than two descriptors a thread
    setrlimit(RLIMIT_NOFILE, &lim);
    std::atomic<int> ready{0};
    std::atomic<bool> go{false};
    std::atomic<int> mismatched{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&] {
        keel_thread_attach();  // AllocateGarbage uses scheme_malloc_atomic
        keel_test::AllocateGarbage(64 << 10);
        GC_gcollect();
        if (place_backend != keel_gc_barrier()) mismatched.fetch_add(1);
        ready.fetch_add(1);
        while (!go.load()) std::this_thread::yield();
      });
    }
    while (ready.load() < kThreads) std::this_thread::yield();
    const size_t during = OpenDescriptors();
    go.store(true);
    for (std::thread& t : threads) t.join();
    KEEL_CHILD_CHECK(checks, mismatched.load() == 0);
    KEEL_CHILD_CHECK(checks, during <= before + 4);
    if (during > before + 4) std::fprintf(stderr, "descriptors: %zu before, %zu with %d threads\n", before, during, kThreads);
    return checks.ExitCode();
  });
  BOOST_TEST(child.ExitedWith(0), child.Describe());
}

BOOST_AUTO_TEST_SUITE_END()
