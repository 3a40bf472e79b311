// barrier_misuse_test.cpp: faults the mprotect write barrier must not mistake for its own
// (docs/design/barrier.md .req.report): a write into freed heap memory that is still protected
// is reported and aborts; a stray write to a read-only page outside the heap is reported and then
// crashes as it would have without Keel (SIGSEGV, the default action); a fault the program's own
// handler takes care of is passed on without a word.
//
// Each case runs in a fresh copy of this program (RunSelf) with KEEL_GC_BARRIER=mprotect from
// the start, so the barrier and its SIGSEGV handler are the first ones the process installs, and
// with BOOST_TEST_CATCH_SYSTEM_ERRORS=no, so Boost.Test installs no handler of its own for the
// barrier to pass faults on to. The child halves are test cases that run only there.
#include <boost/test/unit_test.hpp>

#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

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

using keel_test::ChildResult;
using keel_test::Hidden;

constexpr const char* kChildVariable = "KEEL_TEST_BARRIER_MISUSE_CHILD";
constexpr int kSetupFailed = 3;      // the child could not arrange the misuse
constexpr int kNotDetected = 77;     // the misuse went unnoticed

boost::test_tools::assertion_result InChild(boost::unit_test::test_unit_id) {
  boost::test_tools::assertion_result r(std::getenv(kChildVariable) != nullptr);
  r.message() << kChildVariable << " is not set (runs only in the child of its parent test)";
  return r;
}

ChildResult RunChildCase(const std::string& name) {
  return keel_test::RunSelf({"--run_test=barrier_misuse/" + name},
                            {{"KEEL_GC_BARRIER", "mprotect"},
                             {"BOOST_TEST_CATCH_SYSTEM_ERRORS", "no"},
                             {kChildVariable, "1"}});
}

[[noreturn]] void SetupFailed(const char* what) {
  std::fprintf(stderr, "child setup failed: %s (barrier %s)\n", what, keel_gc_barrier());
  std::fflush(stderr);
  _exit(kSetupFailed);
}

void** RootSlot() {
  static void** slot = keel_test::NewRegisteredBlock(1);
  return slot;
}

// A big pointerful object (a run of pages in a shared chunk), rooted in the registered slot.
KEEL_TEST_NOINLINE Hidden MakeRootedBig(size_t bytes) {
  void* p = scheme_malloc(bytes);
  *RootSlot() = p;
  return Hidden(p);
}

KEEL_TEST_NOINLINE void WriteWord(uintptr_t address, uintptr_t value) {
  *reinterpret_cast<volatile uintptr_t*>(address) = value;
}

BOOST_AUTO_TEST_SUITE(barrier_misuse)

// --- the children ----------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(child_write_into_freed_heap_memory, *boost::unit_test::precondition(InChild)) {
  if (std::strcmp(keel_gc_barrier(), "mprotect") != 0) SetupFailed("the barrier is not mprotect");
  // 100 KB: a run of 16 KiB pages in a shared chunk (not a dedicated mapping, which is unmapped
  // when its object dies). Old after two collections, so its pages are protected; freed by the
  // third, which leaves the free pages protected until they are reused.
  Hidden big = MakeRootedBig(100 * 1024);
  keel_test::CollectClean();
  keel_test::CollectClean();
  if (!keel_test::IsLiveObjectStart(big)) SetupFailed("the rooted object did not survive");
  *RootSlot() = nullptr;
  keel_test::CollectClean();
  if (!keel_test::WasFreed(big)) SetupFailed("the dropped object was not freed (retained by a stale word?)");
  // Still inside the freed run: its second page.
  WriteWord(big.address() + 20000, 42);
  std::fprintf(stderr, "the write into freed heap memory went unnoticed\n");
  _exit(kNotDetected);
}

BOOST_AUTO_TEST_CASE(child_write_to_read_only_non_heap_page, *boost::unit_test::precondition(InChild)) {
  if (std::strcmp(keel_gc_barrier(), "mprotect") != 0) SetupFailed("the barrier is not mprotect");
  // Make sure the barrier has protected something (and its handler is installed and in use).
  Hidden big = MakeRootedBig(100 * 1024);
  keel_test::CollectClean();
  keel_test::CollectClean();
  long page = sysconf(_SC_PAGESIZE);
  void* mem = mmap(nullptr, static_cast<size_t>(page), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) SetupFailed("mmap");
  static_cast<volatile char*>(mem)[0] = 1;
  if (mprotect(mem, static_cast<size_t>(page), PROT_READ) != 0) SetupFailed("mprotect");
  if (GC_is_heap_ptr(mem) != 0) SetupFailed("the mapping is a heap address");
  // A barrier write still works before the stray one (the handler is live).
  WriteWord(big.address() + 8, 1);
  WriteWord(reinterpret_cast<uintptr_t>(mem) + 64, 42);
  std::fprintf(stderr, "the write to a read-only page went unnoticed\n");
  _exit(kNotDetected);
}

// The program's own SIGSEGV handler, installed before Keel's, opens its own read-only page.
void* g_own_page = nullptr;
int g_own_faults = 0;
void OwnHandler(int, siginfo_t* info, void*) {
  long page = sysconf(_SC_PAGESIZE);
  if (g_own_page == nullptr || info->si_addr < g_own_page ||
      static_cast<char*>(info->si_addr) >= static_cast<char*>(g_own_page) + page) {
    _exit(kSetupFailed);
  }
  ++g_own_faults;
  mprotect(g_own_page, static_cast<size_t>(page), PROT_READ | PROT_WRITE);
}

BOOST_AUTO_TEST_CASE(child_handles_its_own_fault, *boost::unit_test::precondition(InChild)) {
  struct sigaction sa {};
  sa.sa_sigaction = OwnHandler;
  sa.sa_flags = SA_SIGINFO;
  sigemptyset(&sa.sa_mask);
  if (sigaction(SIGSEGV, &sa, nullptr) != 0) SetupFailed("sigaction");
  long page = sysconf(_SC_PAGESIZE);
  g_own_page = mmap(nullptr, static_cast<size_t>(page), PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (g_own_page == MAP_FAILED) SetupFailed("mmap");
  // Keel starts now, and its handler passes faults it does not own to OwnHandler.
  Hidden big = MakeRootedBig(100 * 1024);
  keel_test::CollectClean();
  keel_test::CollectClean();
  if (std::strcmp(keel_gc_barrier(), "mprotect") != 0) SetupFailed("the barrier is not mprotect");
  WriteWord(big.address() + 8, 1);
  WriteWord(reinterpret_cast<uintptr_t>(g_own_page) + 64, 42);
  if (g_own_faults != 1) SetupFailed("the program's handler did not run once");
  _exit(0);
}

// --- the parents -----------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(write_into_freed_protected_heap_memory_is_reported) {
  ChildResult r = RunChildCase("child_write_into_freed_heap_memory");
  BOOST_TEST(r.started);
  BOOST_TEST(!r.ExitedWith(kSetupFailed), r.Describe());
  BOOST_TEST(r.Aborted(), "expected an abort (SIGABRT); " << r.Describe());
  BOOST_TEST(r.err.find("keel: segmentation fault at") != std::string::npos, r.Describe());
  BOOST_TEST(r.err.find("write into freed heap memory") != std::string::npos, r.Describe());
}

BOOST_AUTO_TEST_CASE(stray_write_to_a_read_only_non_heap_page_is_reported_and_crashes) {
  ChildResult r = RunChildCase("child_write_to_read_only_non_heap_page");
  BOOST_TEST(r.started);
  BOOST_TEST(!r.ExitedWith(kSetupFailed), r.Describe());
#if defined(__SANITIZE_ADDRESS__)
  // The fault is passed on, silently, to the handler installed before Keel's: AddressSanitizer's,
  // which reports the write and exits.
  BOOST_TEST(r.err.find("AddressSanitizer: SEGV") != std::string::npos, "expected ASan's SEGV report; " << r.Describe());
  BOOST_TEST(r.err.find("not a heap address") == std::string::npos, r.Describe());
#else
  // Nobody else handles it: Keel says why it is not a barrier fault, then the default action.
  BOOST_TEST(r.err.find("not a heap address, so not a write-barrier fault") != std::string::npos, r.Describe());
  BOOST_TEST((r.signaled && r.signal == SIGSEGV), "expected death by SIGSEGV; " << r.Describe());
#endif
}

BOOST_AUTO_TEST_CASE(a_program_handling_its_own_faults_hears_nothing_from_keel) {
  ChildResult r = RunChildCase("child_handles_its_own_fault");
  BOOST_TEST(r.ExitedWith(0), r.Describe());
  BOOST_TEST(r.err.find("keel") == std::string::npos, "a fault the program handled was reported; " << r.Describe());
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
