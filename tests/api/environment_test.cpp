// environment_test.cpp: every environment variable the library reads (README.md "Environment
// variables"), with good and bad values. A bad value (junk, a sign, overflow, out of range) must
// be reported once as "keel warning: NAME=VALUE ignored: ...; expected ..." and leave the
// default in effect. Each case runs a fresh copy of this program whose child half (a test case
// that runs only there) observes the setting through the public API and prints what it saw.
#include <boost/test/unit_test.hpp>

#include <sys/sysinfo.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "gc.h"
#include "keel_gc.h"
#include "scheme.h"
#include "support/child_process.h"
#include "support/gc_probe.h"
#include "support/registered.h"

namespace {

using keel_test::ChildResult;

constexpr const char* kProbeVariable = "KEEL_TEST_ENV_PROBE";
constexpr const char* kObserved = "observed: ";

// The variables the library reads. A child starts without any of them but the one its case
// sets, so the suite's own runs (KEEL_GC_STRESS=25, KEEL_GC_AGING=...) do not leak in; the
// barrier stays as the suite runs it unless the case sets it.
const char* const kLibraryVariables[] = {
    "KEEL_GC_STRESS", "KEEL_GC_TRACE", "KEEL_GC_VERIFY", "KEEL_GC_RECORDS", "KEEL_GC_GROWTH",
    "KEEL_GC_MIN_BYTES", "KEEL_GC_AGING", "PLTDISABLEGC", "GC_INITIAL_HEAP_SIZE",
    "GC_MAXIMUM_HEAP_SIZE", "GC_ALL_INTERIOR_POINTERS", "KEEL_GC_DECAY_MS"};

struct Probe {
  ChildResult child;
  std::string observed;  // the child's "observed: " line, without the prefix
};

// Runs the child half `probe` in a fresh copy of this program with name=value set.
Probe RunProbe(const std::string& probe, const std::string& name, const std::string& value) {
  Probe p;
  p.child = keel_test::RunInChild([&] {
    for (const char* v : kLibraryVariables) unsetenv(v);
    setenv(name.c_str(), value.c_str(), 1);
    setenv(kProbeVariable, probe.c_str(), 1);
    static char self[] = "/proc/self/exe";
    static char which[] = "--run_test=environment/child_probe";
    static char quiet_log[] = "--log_level=nothing";  // the parent reports; the child observes
    static char quiet_report[] = "--report_level=no";
    char* argv[] = {self, which, quiet_log, quiet_report, nullptr};
    execv(self, argv);
    std::fprintf(stderr, "execv(/proc/self/exe) failed: %s\n", std::strerror(errno));
    return 127;
  });
  size_t at = p.child.err.find(kObserved);
  if (at != std::string::npos) {
    at += std::strlen(kObserved);
    p.observed = p.child.err.substr(at, p.child.err.find('\n', at) - at);
  }
  return p;
}

std::string Warning(const std::string& name, const std::string& value) {
  return "keel warning: " + name + "=" + value + " ignored: ";
}

// A good value: no warning, and the child observed `expected`.
void ExpectAccepted(const std::string& probe, const std::string& name, const std::string& value,
                    const std::string& expected) {
  Probe p = RunProbe(probe, name, value);
  BOOST_TEST(p.child.ExitedWith(0), name << "=" << value << ": " << p.child.Describe());
  BOOST_TEST(p.child.err.find("keel warning") == std::string::npos, name << "=" << value << ": " << p.child.Describe());
  BOOST_TEST(p.observed == expected, name << "=" << value << ": " << p.child.Describe());
}

// A bad value: one warning naming the variable, the value and what is expected, and the child
// observed the default, `expected`.
void ExpectRejected(const std::string& probe, const std::string& name, const std::string& value,
                    const std::string& expected) {
  Probe p = RunProbe(probe, name, value);
  const std::string warning = Warning(name, value);
  size_t at = p.child.err.find(warning);
  BOOST_TEST(p.child.ExitedWith(0), name << "=" << value << ": " << p.child.Describe());
  BOOST_TEST(at != std::string::npos, "no \"" << warning << "\"; " << p.child.Describe());
  if (at != std::string::npos) {
    size_t line_end = p.child.err.find('\n', at);
    BOOST_TEST(p.child.err.substr(at, line_end - at).find("; expected ") != std::string::npos, p.child.Describe());
    BOOST_TEST(p.child.err.find(warning, at + 1) == std::string::npos, "warned twice; " << p.child.Describe());
  }
  BOOST_TEST(p.observed == expected, name << "=" << value << ": " << p.child.Describe());
}

// Physical memory plus swap: byte counts beyond it are refused.
uint64_t MachineBytes() {
  struct sysinfo si {};
  if (sysinfo(&si) != 0) return UINT64_MAX;
  return (static_cast<uint64_t>(si.totalram) + si.totalswap) * si.mem_unit;
}

// --- the child halves ------------------------------------------------------------------------

boost::test_tools::assertion_result InChild(boost::unit_test::test_unit_id) {
  boost::test_tools::assertion_result r(std::getenv(kProbeVariable) != nullptr);
  r.message() << kProbeVariable << " is not set (runs only in the child of its parent test)";
  return r;
}

void Observe(const std::string& what) {
  std::fprintf(stderr, "%s%s\n", kObserved, what.c_str());
  std::fflush(stderr);
}

keel_gc_stats Stats() {
  keel_gc_stats s{};
  keel_gc_get_stats(&s);
  return s;
}

// Collections while allocating 1000 small objects (far below the allocation budget).
std::string ProbeStress() {
  for (int i = 0; i < 1000; ++i) (void)GC_malloc(32);
  return std::to_string(Stats().collections);
}

std::string ProbeRecords() {
  for (int i = 0; i < 8; ++i) GC_gcollect();
  return std::to_string(keel_gc_record_count());
}

// Whether memory a collection kept for reuse goes back within 1.5 s of idling. With the default
// period (1000 ms) it cannot: a page goes back at the second tick after it was freed, 2 s at the
// soonest (docs/design/heap.md .sol.retain).
KEEL_TEST_NOINLINE void BuildList(void** slot, int blocks) {
  void** head = nullptr;
  keel_test::Registered reg(head);  // 3m moves the list while it grows (docs/gc3m.md)
  for (int i = 0; i < blocks; ++i) {
    auto** b = static_cast<void**>(scheme_malloc(4096));
    b[0] = head;
    head = b;
  }
  *slot = head;
}

std::string ProbeDecay() {
  static void* live = nullptr;
  scheme_register_static(&live, sizeof live);
  BuildList(&live, 4096);
  keel_test::CollectClean();
  live = nullptr;
  keel_test::AllocateGarbage(size_t{8} << 20);
  keel_test::CollectClean();
  keel_gc_stats s{};
  keel_gc_get_stats(&s);
  if (s.free_committed_bytes == 0) return "nothing kept";
  auto start = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - start < std::chrono::milliseconds(1500)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    keel_gc_get_stats(&s);
    if (s.free_committed_bytes == 0) return "released";
  }
  return "kept";
}

// Strict verification (2) reports a live object holding the address of a freed one and aborts;
// 0 and 1 do not look at object contents.
std::string ProbeVerify() {
  // volatile: the store must happen although nothing in this function reads it back.
  auto* holder = static_cast<void* volatile*>(GC_malloc_uncollectable(sizeof(void*)));
  void* freed = GC_malloc(64);
  holder[0] = freed;
  GC_free(freed);
  GC_gcollect();
  return "survived";
}

// The same with a freed object of more than 8 KiB, which neither variant moves: under 3m,
// GC_free of a (small) nursery object only leaves it to the next collection, which copies it
// while the holder refers to it, so only a non-moving object leaves a dangling address there.
std::string ProbeVerifyLarge() {
  auto* holder = static_cast<void* volatile*>(GC_malloc_uncollectable(sizeof(void*)));
  void* freed = GC_malloc(16384);
  holder[0] = freed;
  GC_free(freed);
  GC_gcollect();
  return "survived";
}

std::string ProbeGrowth() { return std::to_string(GC_get_free_space_divisor()); }

// The allocation budget before the first collection is the minimum (live data is 0).
std::string ProbeMinBytes() { return std::to_string(Stats().next_collection_bytes); }

KEEL_TEST_NOINLINE void** YoungList(int n) {
  void** list = nullptr;
  keel_test::Registered reg(list);  // 3m moves the list if a collection comes while it grows
  for (int i = 0; i < n; ++i) {
    auto** cell = static_cast<void**>(GC_malloc(2 * sizeof(void*)));
    cell[0] = list;
    list = cell;
  }
  return list;
}

// Whether the first minor collection kept its young survivors young (aged them).
std::string ProbeAging() {
  if (std::strcmp(keel_gc_barrier(), "none") == 0) return "no barrier";
  auto* root = static_cast<void* volatile*>(GC_malloc_uncollectable(sizeof(void*)));
  root[0] = YoungList(1000);
  keel_gc_collect_minor();
  keel_gc_record r{};
  if (keel_gc_get_record(keel_gc_record_count() - 1, &r) == 0 || r.kind != KEEL_GC_MINOR) return "no minor collection";
  return r.aged_bytes > 0 ? "aged" : "not aged";
}

std::string ProbeBarrier() { return keel_gc_barrier(); }

std::string ProbeDisabled() { return std::to_string(GC_is_disabled()); }

std::string ProbeInitialHeap() {
  GC_init();
  return std::to_string(GC_get_heap_size());
}

// Whether a 16 MiB object can be had.
std::string ProbeMaximumHeap() {
  GC_init();
  return GC_malloc_atomic(size_t{16} << 20) != nullptr ? "allowed" : "refused";
}

// 16 MiB of small garbage in a heap limited to 1 MiB: every allocation must succeed.
std::string ProbeSmallHeap() {
  GC_init();
  size_t failures = 0;
  for (int i = 0; i < 250000; ++i) failures += GC_malloc(64) == nullptr ? 1 : 0;
  return std::to_string(failures) + " failures, heap " + (GC_get_heap_size() <= (size_t{1} << 20) ? "within" : "beyond") + " 1 MiB";
}

std::string ProbeInterior() {
  GC_init();
  return std::to_string(GC_get_all_interior_pointers());
}

BOOST_AUTO_TEST_SUITE(environment)

BOOST_AUTO_TEST_CASE(child_probe, *boost::unit_test::precondition(InChild)) {
  const std::string probe = std::getenv(kProbeVariable);
  std::string seen = "unknown probe " + probe;
  if (probe == "stress") seen = ProbeStress();
  if (probe == "records") seen = ProbeRecords();
  if (probe == "verify") seen = ProbeVerify();
  if (probe == "verify_large") seen = ProbeVerifyLarge();
  if (probe == "growth") seen = ProbeGrowth();
  if (probe == "min_bytes") seen = ProbeMinBytes();
  if (probe == "aging") seen = ProbeAging();
  if (probe == "barrier") seen = ProbeBarrier();
  if (probe == "disabled") seen = ProbeDisabled();
  if (probe == "initial_heap") seen = ProbeInitialHeap();
  if (probe == "maximum_heap") seen = ProbeMaximumHeap();
  if (probe == "small_heap") seen = ProbeSmallHeap();
  if (probe == "interior") seen = ProbeInterior();
  if (probe == "decay") seen = ProbeDecay();
  Observe(seen);
}

// --- the cases -------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(keel_gc_stress) {
  ExpectAccepted("stress", "KEEL_GC_STRESS", "100", "10");
  ExpectAccepted("stress", "KEEL_GC_STRESS", "0", "0");
  for (const char* bad : {"-1", "12abc", "+5", " 5", "abc", "99999999999999999999"}) {
    ExpectRejected("stress", "KEEL_GC_STRESS", bad, "0");
  }
}

BOOST_AUTO_TEST_CASE(keel_gc_decay_ms) {
  ExpectAccepted("decay", "KEEL_GC_DECAY_MS", "50", "released");
  for (const char* bad : {"abc", "0", "-100", "3600001", "10ms"}) ExpectRejected("decay", "KEEL_GC_DECAY_MS", bad, "kept");
}

BOOST_AUTO_TEST_CASE(keel_gc_records) {
  ExpectAccepted("records", "KEEL_GC_RECORDS", "3", "3");
  for (const char* bad : {"abc", "-5", "0", "3x", "16777217"}) ExpectRejected("records", "KEEL_GC_RECORDS", bad, "8");
}

BOOST_AUTO_TEST_CASE(keel_gc_verify) {
  ExpectAccepted("verify", "KEEL_GC_VERIFY", "1", "survived");
  for (const char* bad : {"-1", "3", "2x"}) ExpectRejected("verify", "KEEL_GC_VERIFY", bad, "survived");
  // Strict verification is in effect: it finds the dangling address and aborts.
  const bool cgc = std::string(keel_gc_variant()) == "cgc";
  Probe strict_large = RunProbe("verify_large", "KEEL_GC_VERIFY", "2");
  BOOST_TEST(strict_large.child.Aborted(), strict_large.child.Describe());
  // 3m's checked build (Debug) validates every traced slot during the collection, so it reports
  // the dangling address itself, before the verifier runs (docs/gc3m.md "Finding a missing
  // registration"); the conservative marker validates nothing.
  BOOST_TEST((strict_large.child.err.find("heap verification") != std::string::npos ||
              (!cgc && strict_large.child.err.find("precise collection (checked)") != std::string::npos)),
             strict_large.child.Describe());
  // A freed small object leaves a dangling address only where GC_free frees at once: under 3m
  // it is a nursery object, which the collection copies while the holder refers to it.
  if (cgc) {
    Probe strict = RunProbe("verify", "KEEL_GC_VERIFY", "2");
    BOOST_TEST(strict.child.Aborted(), strict.child.Describe());
    BOOST_TEST(strict.child.err.find("heap verification") != std::string::npos, strict.child.Describe());
  }
}

BOOST_AUTO_TEST_CASE(keel_gc_growth) {
  // GC_get_free_space_divisor() is 2 / growth, rounded: 3 for the default 0.6.
  ExpectAccepted("growth", "KEEL_GC_GROWTH", "0.5", "4");
  ExpectAccepted("growth", "KEEL_GC_GROWTH", "2", "1");
  for (const char* bad : {"abc", "0", "-0.5", "101", "0.5x", "nan", "inf", "1e999"}) {
    ExpectRejected("growth", "KEEL_GC_GROWTH", bad, "3");
  }
}

BOOST_AUTO_TEST_CASE(keel_gc_min_bytes) {
  const std::string fallback = std::to_string(size_t{4} << 20);
  ExpectAccepted("min_bytes", "KEEL_GC_MIN_BYTES", "8M", std::to_string(size_t{8} << 20));
  ExpectAccepted("min_bytes", "KEEL_GC_MIN_BYTES", "1000000", "1000000");
  ExpectAccepted("min_bytes", "KEEL_GC_MIN_BYTES", "64k", "65536");
  // -1 and overflowing numbers used to become SIZE_MAX: no major collection ever ran.
  for (const char* bad : {"-1", "0", "18446744073709551616", "17179869184T", "8MB", "1024T"}) {
    ExpectRejected("min_bytes", "KEEL_GC_MIN_BYTES", bad, fallback);
  }
}

BOOST_AUTO_TEST_CASE(keel_gc_aging) {
  Probe never = RunProbe("aging", "KEEL_GC_AGING", "never");
  if (never.observed == "no barrier") return;  // no minor collections to age in
  // KEEL_GC_AGING is CGC's: 3m's copier makes every survivor old at its first collection
  // (README.md, docs/design/precise.md .sol.copy), whatever the setting; it is still checked.
  const std::string aged = std::string(keel_gc_variant()) == "cgc" ? "aged" : "not aged";
  ExpectAccepted("aging", "KEEL_GC_AGING", "never", "not aged");
  ExpectAccepted("aging", "KEEL_GC_AGING", "always", aged);
  ExpectAccepted("aging", "KEEL_GC_AGING", "adaptive", aged);
  // The adaptive default ages at the first minor collection.
  for (const char* bad : {"sometimes", "NEVER", "never "}) ExpectRejected("aging", "KEEL_GC_AGING", bad, aged);
}

BOOST_AUTO_TEST_CASE(keel_gc_barrier) {
  ExpectAccepted("barrier", "KEEL_GC_BARRIER", "none", "none");
  ExpectAccepted("barrier", "KEEL_GC_BARRIER", "mprotect", "mprotect");
  for (const char* bad : {"fast", "None", "mprotect,none"}) {
    Probe p = RunProbe("barrier", "KEEL_GC_BARRIER", bad);
    BOOST_TEST(p.child.err.find(Warning("KEEL_GC_BARRIER", bad)) != std::string::npos, p.child.Describe());
    BOOST_TEST(p.child.err.find("expected one of uffd, mprotect, none") != std::string::npos, p.child.Describe());
    // The automatic choice: a backend that tracks writes.
    BOOST_TEST((p.observed == "uffd" || p.observed == "mprotect"), p.child.Describe());
  }
}

BOOST_AUTO_TEST_CASE(pltdisablegc) {
  ExpectAccepted("disabled", "PLTDISABLEGC", "1", "1");
  ExpectAccepted("disabled", "PLTDISABLEGC", "no", "1");  // any value, as in Racket
  ExpectAccepted("disabled", "PLTDISABLEGC", "", "0");    // empty is unset
}

BOOST_AUTO_TEST_CASE(gc_initial_heap_size) {
  Probe p = RunProbe("initial_heap", "GC_INITIAL_HEAP_SIZE", "8M");
  BOOST_TEST(p.child.ExitedWith(0), p.child.Describe());
  BOOST_TEST(p.child.err.find("keel warning") == std::string::npos, p.child.Describe());
  BOOST_TEST(std::strtoull(p.observed.c_str(), nullptr, 10) >= (uint64_t{8} << 20), p.child.Describe());
  // "1T" used to be read as 1 byte, "-1" as 16 EiB (mapped 4 MiB at a time for a minute).
  for (const char* bad : {"-1", "abc", "8X", "1024T", "18446744073709551615"}) {
    ExpectRejected("initial_heap", "GC_INITIAL_HEAP_SIZE", bad, "0");
  }
  if (MachineBytes() < (uint64_t{1} << 40)) ExpectRejected("initial_heap", "GC_INITIAL_HEAP_SIZE", "1T", "0");
}

BOOST_AUTO_TEST_CASE(gc_maximum_heap_size) {
  ExpectAccepted("maximum_heap", "GC_MAXIMUM_HEAP_SIZE", "8M", "refused");
  ExpectAccepted("maximum_heap", "GC_MAXIMUM_HEAP_SIZE", "64M", "allowed");
  for (const char* bad : {"abc", "-1", "8M8", "1024T"}) ExpectRejected("maximum_heap", "GC_MAXIMUM_HEAP_SIZE", bad, "allowed");
  // A limit below one 4 MiB chunk still lets the program run.
  ExpectAccepted("small_heap", "GC_MAXIMUM_HEAP_SIZE", "1M", "0 failures, heap within 1 MiB");
}

BOOST_AUTO_TEST_CASE(gc_all_interior_pointers) {
  ExpectAccepted("interior", "GC_ALL_INTERIOR_POINTERS", "1", "1");
  ExpectAccepted("interior", "GC_ALL_INTERIOR_POINTERS", "0", "0");
  for (const char* bad : {"yes", "2", "-1", "1 "}) ExpectRejected("interior", "GC_ALL_INTERIOR_POINTERS", bad, "0");
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
