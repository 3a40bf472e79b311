// threads_test.cpp: other threads and signal handlers touching a collector's memory (docs/api.md,
// "Threads, fork and signals"): plain data written into old objects by a thread that is not
// Keel's (docs/design/barrier.md .sol.foreign), threads and handlers that block SIGSEGV
// (.sol.sigmask), and memory that must outlive the thread that allocated it (docs/design/
// heap.md .sol.orphans). Runs under every backend.
#include <boost/test/unit_test.hpp>

#include <signal.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "gc.h"
#include "keel_gc.h"
#include "scheme.h"
#include "keel_places.h"
#include "support/child_process.h"
#include "support/gc_probe.h"
#include "support/scheme_values.h"

namespace {

// A result record a worker fills in: plain data, no pointers into the heap.
struct Result {
  void* link;  // keeps the record pointerful, so its page is protected when old
  int64_t value;
  int64_t count;
};

constexpr int kRecords = 256;

KEEL_TEST_NOINLINE Result** NewOldRecords() {
  auto** records = reinterpret_cast<Result**>(keel_test::NewRegisteredBlock(kRecords));
  for (int i = 0; i < kRecords; ++i) records[i] = static_cast<Result*>(scheme_malloc(sizeof(Result) * 40));
  GC_gcollect();  // old, and write-protected under a barrier
  return records;
}

bool RecordsHold(Result** records, int64_t base) {
  for (int i = 0; i < kRecords; ++i) {
    if (records[i]->value != base + i || records[i]->count != i) return false;
  }
  return true;
}

void WriteRecords(Result** records, int64_t base, bool announce) {
  for (int i = 0; i < kRecords; ++i) {
    if (announce) {
      GC_write_barrier(&records[i]->value);
      GC_write_barrier(&records[i]->count);
    }
    records[i]->value = base + i;
    records[i]->count = i;
  }
}

void CollectBoth() {
  keel_gc_collect_minor();
  GC_gcollect();
}

void BlockAllSignals() {
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, nullptr);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(foreign_threads_suite)

// A worker that never calls Keel fills result records the main thread allocated, under a lock:
// plain data into old objects of another thread's collector.
BOOST_AUTO_TEST_CASE(plain_writes_from_a_thread_that_is_not_keels) {
  Result** records = NewOldRecords();
  std::mutex mu;
  std::thread worker([&] {
    std::lock_guard<std::mutex> lock(mu);
    WriteRecords(records, 7000, false);
  });
  worker.join();
  CollectBoth();
  BOOST_TEST(RecordsHold(records, 7000));
  BOOST_TEST(keel_gc_verify_heap() == 0u);
  // Again while the records are protected anew, from several threads at once.
  std::vector<std::thread> workers;
  for (int t = 0; t < 4; ++t) {
    workers.emplace_back([&, t] {
      for (int i = t; i < kRecords; i += 4) {
        records[i]->value = 9000 + i;
        records[i]->count = i;
      }
    });
  }
  for (std::thread& w : workers) w.join();
  CollectBoth();
  BOOST_TEST(RecordsHold(records, 9000));
}

// A sigwait-style thread blocks every signal, so under mprotect a barrier fault would kill the
// process; the documented remedy is GC_write_barrier before the store, from any thread.
BOOST_AUTO_TEST_CASE(thread_with_sigsegv_blocked_uses_gc_write_barrier) {
  Result** records = NewOldRecords();
  std::thread worker([&] {
    BlockAllSignals();
    WriteRecords(records, 3000, true);
  });
  worker.join();
  CollectBoth();
  BOOST_TEST(RecordsHold(records, 3000));
}

namespace {
Result** g_handler_records = nullptr;
void FullMaskHandler(int) { WriteRecords(g_handler_records, 4000, true); }
}  // namespace

// A signal handler whose sa_mask blocks everything writes into old objects after
// GC_write_barrier.
BOOST_AUTO_TEST_CASE(handler_with_full_mask_uses_gc_write_barrier) {
  g_handler_records = NewOldRecords();
  struct sigaction sa {}, old {};
  sa.sa_handler = FullMaskHandler;
  sigfillset(&sa.sa_mask);
  sigaction(SIGUSR1, &sa, &old);
  raise(SIGUSR1);
  sigaction(SIGUSR1, &old, nullptr);
  CollectBoth();
  BOOST_TEST(RecordsHold(g_handler_records, 4000));
  g_handler_records = nullptr;
}

// A Keel thread that blocks SIGSEGV and then allocates, collects and writes into its own old
// objects: under mprotect its collections protect nothing while SIGSEGV is blocked, and say so.
BOOST_AUTO_TEST_CASE(keel_thread_with_sigsegv_blocked) {
  if (!keel_test::kThreadsInForkedChildren) {
    BOOST_TEST_MESSAGE("left out under ThreadSanitizer: the child starts threads");
    return;
  }
  keel_test::ChildResult child = keel_test::RunInChild([] {
    int failures = 0;
    std::thread t([&] {
      keel_thread_attach();
      BlockAllSignals();
      Result** records = NewOldRecords();
      for (int round = 0; round < 3; ++round) {
        WriteRecords(records, 100 * round, false);
        keel_test::AllocateGarbage();
        CollectBoth();
        if (!RecordsHold(records, 100 * round)) ++failures;
      }
    });
    t.join();
    return failures == 0 ? 0 : 10;
  });
  BOOST_TEST(child.ExitedWith(0), child.Describe());
  if (std::strcmp(keel_gc_barrier(), "mprotect") == 0) {
    BOOST_TEST(child.err.find("SIGSEGV is blocked on this thread") != std::string::npos, child.Describe());
  }
}

// One thread's chunks come and go while another looks them up: through GC_base and GC_size on
// its own collector, and through the conservative scan of its own stack, which holds the other
// thread's addresses. The descriptors those lookups reach stay valid memory after their chunk
// is unmapped (docs/design/heap.md .sol.type-stable): a lookup that races with an unmap reads a
// descriptor whose owner is gone, never freed memory (the sanitizer runs would report that; the
// window is narrow, so the deterministic check is chunk_records in the unit tests).
BOOST_AUTO_TEST_CASE(lookups_of_another_threads_chunks_while_they_come_and_go) {
  const int rounds = static_cast<int>(keel_test::ScaledCount(2000, 300));
  std::atomic<void*> published{nullptr};
  std::atomic<bool> done{false};
  std::atomic<int> foreign_answers{0};
  std::thread churn([&] {
    for (int i = 0; i < rounds; ++i) {
      void* big = GC_malloc_atomic(size_t{2} << 20);  // a dedicated chunk, unmapped when freed
      published.store(big);
      std::this_thread::yield();
      GC_free(big);
    }
    done.store(true);
  });
  std::thread reader([&] {
    GC_malloc(16);  // a collector of its own
    for (unsigned i = 0; !done.load(); ++i) {
      void* volatile seen = published.load();  // on this stack for the scan below
      if (GC_base(seen) != nullptr || (seen != nullptr && GC_size(seen) != 0)) foreign_answers.fetch_add(1);
      if (i % 256 == 0) GC_gcollect();
    }
  });
  churn.join();
  reader.join();
  BOOST_TEST(foreign_answers.load() == 0, "GC_base or GC_size answered for another thread's object");
}

BOOST_AUTO_TEST_SUITE_END()

namespace {

constexpr size_t kUncollectableBytes = 1000;

// What a worker hands over before it exits.
struct Handover {
  void* uncollectable = nullptr;       // GC_malloc_uncollectable, with a pattern
  void* holder = nullptr;              // scheme_malloc_uncollectable, pointing at a collectable list
  void** box = nullptr;                // immobile box holding a collectable list
};

KEEL_TEST_NOINLINE void WorkerBody(Handover* out, int seed) {
  keel_thread_attach();  // a place of its own (scheme_* functions run only on places)
  out->uncollectable = GC_malloc_uncollectable(kUncollectableBytes);
  keel_test::FillPattern(out->uncollectable, kUncollectableBytes, static_cast<uint64_t>(seed));
  out->holder = scheme_malloc_uncollectable(2 * sizeof(void*));
  static_cast<void**>(out->holder)[0] = keel_test::BuildList(100, seed);
  out->box = scheme_malloc_immobile_box(keel_test::BuildList(50, seed + 1000));
  keel_test::AllocateGarbage();
  GC_gcollect();
}

bool HandoverHolds(const Handover& h, int seed) {
  return keel_test::HasPattern(h.uncollectable, kUncollectableBytes, static_cast<uint64_t>(seed)) &&
         keel_test::ListIsIota(static_cast<Scheme_Object*>(static_cast<void**>(h.holder)[0]), 100, seed) &&
         keel_test::ListIsIota(static_cast<Scheme_Object*>(*h.box), 50, seed + 1000);
}

size_t VirtualBytes() {
  size_t pages = 0;
  if (FILE* f = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(f, "%zu", &pages) != 1) pages = 0;
    std::fclose(f);
  }
  return pages * 4096;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(thread_exit_suite, keel_test::CleanStackFixture)

// Uncollectable memory and immobile boxes are documented to live until freed: a worker's must
// outlive the worker, through the main thread's collections, and be freeable from main.
BOOST_AUTO_TEST_CASE(uncollectable_memory_and_boxes_outlive_their_thread) {
  Handover h;
  std::thread worker([&h] { WorkerBody(&h, 300); });
  worker.join();
  BOOST_TEST(HandoverHolds(h, 300));
  keel_test::AllocateGarbage();
  GC_gcollect();
  keel_gc_collect_minor();
  BOOST_TEST(HandoverHolds(h, 300));
  // Written from main after the worker is gone (under mprotect this page was protected).
  static_cast<void**>(h.holder)[0] = nullptr;
  GC_gcollect();
  BOOST_TEST(keel_test::ListIsIota(static_cast<Scheme_Object*>(*h.box), 50, 1300));
  GC_free(h.uncollectable);
  GC_free(h.holder);
  scheme_free_immobile_box(h.box);
  BOOST_TEST(keel_gc_verify_heap() == 0u);
}

// Workers that leave such memory and have it freed later do not accumulate: the retired
// collectors go once their memory is freed.
BOOST_AUTO_TEST_CASE(retired_collectors_do_not_accumulate) {
  constexpr int kRounds = 120;
  Handover first;
  std::thread warmup([&first] { WorkerBody(&first, 1); });
  warmup.join();
  GC_free(first.uncollectable);
  GC_free(first.holder);
  scheme_free_immobile_box(first.box);
  GC_gcollect();
  const size_t before = VirtualBytes();
  for (int round = 0; round < kRounds; ++round) {
    Handover h;
    std::thread worker([&h, round] { WorkerBody(&h, round * 7); });
    worker.join();
    if (!HandoverHolds(h, round * 7)) {
      BOOST_TEST(false, "round " << round << ": handed-over memory changed");
      break;
    }
    GC_free(h.uncollectable);
    GC_free(h.holder);
    scheme_free_immobile_box(h.box);
    if (round % 16 == 0) GC_gcollect();
  }
  GC_gcollect();
  // Each kept collector would hold at least a 4 MiB chunk of address space: 120 would be 480 MiB.
  const size_t after = VirtualBytes();
  BOOST_TEST(after < before + (size_t{96} << 20), "virtual size grew from " << before << " to " << after);
}

BOOST_AUTO_TEST_SUITE_END()
