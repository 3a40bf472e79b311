// gc_probe.h: black-box ways to observe the conservative collector from a test, using only the
// public headers.
//
// - Whether an object was collected: after a collection with no allocation since, GC_base(addr)
//   is NULL for a freed slot and addr itself for a live object start.
// - Addresses a test keeps must not keep the object alive by themselves, so they are held
//   disguised (XOR with a mask) or as integers in malloc'd memory, which is never scanned.
// - Stale stack slots can retain garbage by accident: allocate in KEEL_TEST_NOINLINE helpers and
//   call ClearStack() before collecting.
#ifndef KEEL_TESTS_SUPPORT_GC_PROBE_H
#define KEEL_TESTS_SUPPORT_GC_PROBE_H

#include <boost/test/unit_test.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <unistd.h>

#include "gc.h"
#include "keel_gc.h"
#include "scheme.h"

#if defined(__clang__)
#define KEEL_TEST_NOINLINE __attribute__((noinline, optnone))
#else
// noipa: no inlining and no interprocedural shortcuts (constant returns, cloning).
#define KEEL_TEST_NOINLINE __attribute__((noipa))
#endif

namespace keel_test {

// An address the collector cannot recognise: no disguised value points into the heap.
class Hidden {
 public:
  Hidden() = default;
  explicit Hidden(const void* p) : bits_(reinterpret_cast<uintptr_t>(p) ^ kMask) {}
  void* get() const { return reinterpret_cast<void*>(bits_ ^ kMask); }
  uintptr_t address() const { return bits_ ^ kMask; }
  bool IsNull() const { return bits_ == kMask || bits_ == 0; }

 private:
  // High bits set: the disguised value is never a user-space address.
  static constexpr uintptr_t kMask = 0xA5F0'0000'0000'5A0Full;
  uintptr_t bits_ = 0;
};

// Overwrites a few pages of the stack below the caller, so dead frames of earlier helpers hold
// no stale copies of pointers the test expects to be collected. Not instrumented by ASan: its
// redzones would leave gaps in the buffer that are never written.
KEEL_TEST_NOINLINE __attribute__((no_sanitize("address"))) inline void ClearStack() {
  volatile char buf[16384];
  for (size_t i = 0; i < sizeof buf; ++i) buf[i] = 0;
}

// Zeroes the caller-saved general registers, which may still hold pointers that dead helper
// frames computed (the conservative collector scans registers too).
KEEL_TEST_NOINLINE inline void ZeroScratchRegisters() {
#if defined(__x86_64__)
  __asm__ __volatile__(
      "xor %%eax, %%eax\n\txor %%ecx, %%ecx\n\txor %%edx, %%edx\n\txor %%esi, %%esi\n\t"
      "xor %%edi, %%edi\n\txor %%r8d, %%r8d\n\txor %%r9d, %%r9d\n\txor %%r10d, %%r10d\n\t"
      "xor %%r11d, %%r11d" ::: "rax", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "memory");
#endif
}

// Clears stale stack and scratch registers, then collects. Callers that expect an object to be
// collected must never have held its address in their own frame (use Hidden and helpers).
KEEL_TEST_NOINLINE inline void CollectClean() {
  ClearStack();
  ZeroScratchRegisters();
  scheme_collect_garbage();
  ClearStack();
}

// How many of something a test that scales makes: `full` in optimized, uninstrumented runs;
// `reduced` under the sanitizers, in unoptimized builds and under KEEL_GC_STRESS, where each
// allocation or collection costs many times as much and the full count proves nothing more.
inline long ScaledCount(long full, long reduced) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__) || !defined(__OPTIMIZE__)
  (void)full;
  return reduced;
#else
  return std::getenv("KEEL_GC_STRESS") != nullptr ? reduced : full;
#endif
}

// Checks that unreachable garbage was freed. A conservative collector may keep garbage alive
// through a stale stack word. Some runs make that common, and there the check only warns:
// unoptimized and sanitizer builds, whose frames keep every temporary, and KEEL_GC_STRESS runs, whose collections strike inside helpers at arbitrary points (and promote young objects
// early, so a minor collection may no longer be the one that can free them). The opposite
// direction, an object that must survive, is checked strictly in every run: a premature free is
// the bug that matters. The Release run of the suite checks both directions strictly.
inline bool FreedChecksAreStrict() {
#if defined(__SANITIZE_ADDRESS__) || !defined(__OPTIMIZE__)
  return false;
#else
  return std::getenv("KEEL_GC_STRESS") == nullptr;
#endif
}
#define KEEL_CHECK_FREED(cond, ...)                                                              \
  do {                                                                                           \
    if (keel_test::FreedChecksAreStrict()) {                                                     \
      BOOST_TEST((cond) __VA_OPT__(,) __VA_ARGS__);                                              \
    } else {                                                                                     \
      BOOST_WARN_MESSAGE((cond), "garbage retained" __VA_OPT__(<< ": " <<) __VA_ARGS__);         \
    }                                                                                            \
  } while (0)

// Per-test-case fixture: each test body's frame is laid over freshly zeroed stack, so its
// uninitialized slots hold no addresses left behind by earlier test cases (a conservative scan
// would take them for pointers). Use with BOOST_FIXTURE_TEST_SUITE.
struct CleanStackFixture {
  CleanStackFixture() {
    ClearStack();
    ZeroScratchRegisters();
  }
};

// True when the object that started at `h` is gone. Valid only right after a collection, before
// anything else was allocated (a later allocation may reuse the slot). Out of line, so the raw
// address exists only in a dead frame afterwards.
KEEL_TEST_NOINLINE inline bool WasFreed(Hidden h) { return GC_base(h.get()) == nullptr; }
KEEL_TEST_NOINLINE inline bool IsLiveObjectStart(Hidden h) { return GC_base(h.get()) == h.get(); }

// A byte pattern that depends on a seed and a position, to check contents after collections.
inline unsigned char PatternByte(uint64_t seed, size_t i) {
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + i * 0xBF58476D1CE4E5B9ull;
  x ^= x >> 29;
  return static_cast<unsigned char>(x ^ (x >> 17));
}
inline void FillPattern(void* p, size_t n, uint64_t seed) {
  auto* b = static_cast<unsigned char*>(p);
  for (size_t i = 0; i < n; ++i) b[i] = PatternByte(seed, i);
}
inline bool HasPattern(const void* p, size_t n, uint64_t seed) {
  const auto* b = static_cast<const unsigned char*>(p);
  for (size_t i = 0; i < n; ++i) {
    if (b[i] != PatternByte(seed, i)) return false;
  }
  return true;
}
KEEL_TEST_NOINLINE inline bool HasPatternAt(Hidden h, size_t n, uint64_t seed) {
  return HasPattern(h.get(), n, seed);
}
inline bool AllZero(const void* p, size_t n) {
  const auto* b = static_cast<const unsigned char*>(p);
  for (size_t i = 0; i < n; ++i) {
    if (b[i] != 0) return false;
  }
  return true;
}

// Allocates and drops about `bytes` of small and large garbage (pointerful and atomic), so a
// following collection has something to free.
KEEL_TEST_NOINLINE inline void AllocateGarbage(size_t bytes = size_t{256} << 10) {
  size_t done = 0;
  void** prev = nullptr;
  for (size_t i = 0; done < bytes; ++i) {
    size_t n = (i % 16 == 15) ? 12000 : 16 + (i % 7) * 24;
    void** p = static_cast<void**>((i % 3 == 0) ? scheme_malloc_atomic(n) : scheme_malloc(n));
    if (i % 3 != 0) {
      p[0] = prev;
      prev = p;
    }
    done += n;
  }
}

// The same for a minor collection.
KEEL_TEST_NOINLINE inline void CollectMinorClean() {
  ClearStack();
  ZeroScratchRegisters();
  keel_gc_collect_minor();
  ClearStack();
}

// Makes some garbage, then collects cleanly: a minor collection when `round` is even, a major
// one when it is odd (a loop over rounds alternates them).
KEEL_TEST_NOINLINE inline void GarbageThenCollect(int round) {
  AllocateGarbage();
  if (round % 2 == 0) {
    CollectMinorClean();
  } else {
    CollectClean();
  }
}

// The most recent collection record (a test failure when there is none).
inline keel_gc_record LastRecord() {
  keel_gc_record r{};
  size_t n = keel_gc_record_count();
  BOOST_TEST_REQUIRE(n > 0u);
  BOOST_TEST_REQUIRE(keel_gc_get_record(n - 1, &r) != 0);
  return r;
}

// A zeroed block of `words` pointer slots in malloc'd memory, registered as a root with
// scheme_register_static. Registration lasts for the process, so callers keep one per use.
inline void** NewRegisteredBlock(size_t words) {
  auto** b = static_cast<void**>(std::calloc(words, sizeof(void*)));
  scheme_register_static(b, static_cast<intptr_t>(words * sizeof(void*)));
  return b;
}

inline uint64_t CollectionCount() {
  keel_gc_stats s{};
  keel_gc_get_stats(&s);
  return s.collections;
}

// Resident set size of this process in bytes, from /proc/self/statm (0 if unreadable).
inline size_t ResidentBytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  unsigned long size = 0, resident = 0;
  int n = std::fscanf(f, "%lu %lu", &size, &resident);
  std::fclose(f);
  if (n != 2) return 0;
  return static_cast<size_t>(resident) * static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

}  // namespace keel_test

#endif  // KEEL_TESTS_SUPPORT_GC_PROBE_H
