// gc_h_test.cpp: bdwgc-style programs against keel_cgc's gc.h: allocation kinds, explicit
// free and realloc, queries, collection control, statistics, out-of-memory handling, heap
// limits, roots, warnings and the interior-pointer setting.
#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "gc.h"
#include "support/gc_probe.h"

namespace {

using keel_test::HasPatternAt;
using keel_test::Hidden;
using keel_test::IsLiveObjectStart;
using keel_test::WasFreed;

KEEL_TEST_NOINLINE void GcCollectClean() {
  keel_test::ClearStack();
  keel_test::ZeroScratchRegisters();
  GC_gcollect();
  keel_test::ClearStack();
}

KEEL_TEST_NOINLINE Hidden NewObject(void* (*alloc)(size_t), size_t n, uint64_t seed) {
  void* p = alloc(n);
  keel_test::FillPattern(p, n, seed);
  return Hidden(p);
}

KEEL_TEST_NOINLINE void StoreAt(void** slot, Hidden target, size_t offset) {
  *slot = static_cast<char*>(target.get()) + offset;
}

// Drops `n` bytes of garbage made with GC_MALLOC.
KEEL_TEST_NOINLINE void GcGarbage(size_t n) {
  for (size_t done = 0; done < n; done += 256) {
    void** p = static_cast<void**>(GC_MALLOC(256));
    p[0] = p;
  }
}

// Hides a constant size from the compiler, which would otherwise reject absurd allocation
// sizes at compile time (alloc_size warnings).
KEEL_TEST_NOINLINE size_t Launder(size_t n) { return n; }

KEEL_TEST_NOINLINE bool SamePointer(const void* a, const void* b) { return a == b; }

// --- out-of-memory function that records its calls -------------------------------------------
size_t g_oom_calls = 0;
size_t g_oom_last_request = 0;
alignas(16) unsigned char g_oom_substitute[64];
void* g_oom_result = nullptr;
void* RecordingOom(size_t bytes) {
  ++g_oom_calls;
  g_oom_last_request = bytes;
  return g_oom_result;
}

// Installs RecordingOom for a scope and restores the previous function.
class OomScope {
 public:
  explicit OomScope(void* result) : saved_(GC_get_oom_fn()) {
    g_oom_calls = 0;
    g_oom_last_request = 0;
    g_oom_result = result;
    GC_set_oom_fn(RecordingOom);
  }
  ~OomScope() { GC_set_oom_fn(saved_); }
  OomScope(const OomScope&) = delete;
  OomScope& operator=(const OomScope&) = delete;

 private:
  GC_oom_func saved_;
};

BOOST_FIXTURE_TEST_SUITE(gc_h, keel_test::CleanStackFixture)

BOOST_AUTO_TEST_CASE(init_is_recorded) { BOOST_TEST(GC_is_init_called() != 0); }

BOOST_AUTO_TEST_CASE(gc_malloc_is_zeroed_scanned_and_collected) {
  for (size_t n : {size_t{8}, size_t{100}, size_t{8192}, size_t{70000}}) {
    void** holder = static_cast<void**>(GC_MALLOC(n));
    BOOST_TEST_REQUIRE(holder != nullptr);
    BOOST_TEST(keel_test::AllZero(holder, n));
    BOOST_TEST(GC_base(holder) == static_cast<void*>(holder));
    BOOST_TEST(GC_size(holder) >= n);
    BOOST_TEST(GC_is_heap_ptr(holder) != 0);
    BOOST_TEST(GC_base(reinterpret_cast<char*>(holder) + n - 1) == static_cast<void*>(holder));
    Hidden target = NewObject(GC_malloc, 48, n);
    StoreAt(holder, target, 0);
    GcCollectClean();
    BOOST_TEST(IsLiveObjectStart(target));
    BOOST_TEST(HasPatternAt(target, 48, n));
    holder[0] = nullptr;
    GcCollectClean();
    KEEL_CHECK_FREED(WasFreed(target));
  }
}

BOOST_AUTO_TEST_CASE(queries_on_addresses_outside_the_heap) {
  int local = 0;
  void* outside = std::malloc(32);
  BOOST_TEST(GC_base(&local) == nullptr);
  BOOST_TEST(GC_base(outside) == nullptr);
  BOOST_TEST(GC_base(nullptr) == nullptr);
  BOOST_TEST(GC_is_heap_ptr(&local) == 0);
  BOOST_TEST(GC_is_heap_ptr(outside) == 0);
  BOOST_TEST(GC_is_heap_ptr(nullptr) == 0);
  std::free(outside);
}

BOOST_AUTO_TEST_CASE(gc_malloc_atomic_is_not_scanned) {
  void** atomic = static_cast<void**>(GC_MALLOC_ATOMIC(64));
  std::memset(atomic, 0, 64);
  Hidden target = NewObject(GC_malloc, 32, 1);
  StoreAt(atomic, target, 0);
  GcCollectClean();
  KEEL_CHECK_FREED(WasFreed(target));
  BOOST_TEST(GC_base(atomic) == static_cast<void*>(atomic));
}

BOOST_AUTO_TEST_CASE(uncollectable_memory_is_a_root_until_freed) {
  Hidden block = NewObject(GC_malloc_uncollectable, 64, 2);
  Hidden target = NewObject(GC_malloc, 80, 3);
  StoreAt(static_cast<void**>(block.get()) + 2, target, 0);
  for (int i = 0; i < 3; ++i) {
    GcGarbage(size_t{1} << 20);
    GcCollectClean();
    BOOST_TEST_REQUIRE(IsLiveObjectStart(block));
    BOOST_TEST_REQUIRE(IsLiveObjectStart(target));
  }
  BOOST_TEST(HasPatternAt(target, 80, 3));
  GC_FREE(block.get());
  KEEL_CHECK_FREED(WasFreed(block));
  GcCollectClean();
  KEEL_CHECK_FREED(WasFreed(target));
}

BOOST_AUTO_TEST_CASE(gc_free_releases_at_once) {
  for (size_t n : {size_t{24}, size_t{3000}, size_t{200000}}) {
    void* p = GC_MALLOC(n);
    GC_FREE(p);
    BOOST_TEST(GC_base(p) == nullptr, "size " << n);
    void* a = GC_MALLOC_ATOMIC(n);
    GC_FREE(a);
    BOOST_TEST(GC_base(a) == nullptr, "atomic size " << n);
  }
  GC_FREE(nullptr);
}

BOOST_AUTO_TEST_CASE(gc_realloc_follows_bdwgc) {
  // NULL: like GC_malloc.
  char* p = static_cast<char*>(GC_REALLOC(nullptr, 40));
  BOOST_TEST_REQUIRE(p != nullptr);
  BOOST_TEST(keel_test::AllZero(p, 40));
  keel_test::FillPattern(p, 40, 9);
  // Growing keeps the contents, through small and big sizes.
  for (size_t n : {size_t{100}, size_t{5000}, size_t{90000}}) {
    p = static_cast<char*>(GC_REALLOC(p, n));
    BOOST_TEST_REQUIRE(p != nullptr);
    BOOST_TEST(keel_test::HasPattern(p, 40, 9), "after growing to " << n);
    BOOST_TEST(GC_size(p) >= n);
    p[n - 1] = 1;
  }
  // Shrinking keeps the prefix.
  p = static_cast<char*>(GC_REALLOC(p, 16));
  BOOST_TEST_REQUIRE(p != nullptr);
  BOOST_TEST(keel_test::HasPattern(p, 16, 9));
  // Size 0 frees the object and returns NULL.
  void* freed = GC_REALLOC(p, 0);
  BOOST_TEST(freed == nullptr);
  BOOST_TEST(GC_base(p) == nullptr);
}

BOOST_AUTO_TEST_CASE(gc_realloc_keeps_the_kind) {
  // An atomic object stays atomic: a pointer stored in it after growing retains nothing.
  void** atomic = static_cast<void**>(GC_MALLOC_ATOMIC(16));
  atomic = static_cast<void**>(GC_REALLOC(atomic, 4096));
  std::memset(atomic, 0, 4096);
  Hidden target = NewObject(GC_malloc, 32, 4);
  StoreAt(atomic + 100, target, 0);
  GcCollectClean();
  KEEL_CHECK_FREED(WasFreed(target));
  // An uncollectable object stays uncollectable.
  Hidden block(GC_REALLOC(GC_malloc_uncollectable(16), 3000));
  keel_test::FillPattern(block.get(), 3000, 5);
  GcCollectClean();
  BOOST_TEST(IsLiveObjectStart(block));
  BOOST_TEST(HasPatternAt(block, 3000, 5));
  GC_FREE(block.get());
}

BOOST_AUTO_TEST_CASE(strdup_and_strndup) {
  const char* text = "bdwgc program string";
  char* copy = GC_STRDUP(text);
  BOOST_TEST(std::string(copy) == text);
  BOOST_TEST(static_cast<const void*>(copy) != static_cast<const void*>(text));
  BOOST_TEST(GC_base(copy) == static_cast<void*>(copy));
  char* part = GC_strndup(text, 5);
  BOOST_TEST(std::string(part) == "bdwgc");
  char* whole = GC_strndup(text, 1000);
  BOOST_TEST(std::string(whole) == text);
  BOOST_TEST(GC_STRDUP(nullptr) == nullptr);
}

BOOST_AUTO_TEST_CASE(typed_allocation_macros) {
  struct Node {
    Node* next;
    long value;
  };
  Node* n = GC_NEW(Node);
  BOOST_TEST_REQUIRE(n != nullptr);
  BOOST_TEST(n->next == nullptr);
  BOOST_TEST(GC_size(n) >= sizeof(Node));
  double* d = GC_NEW_ATOMIC(double);
  *d = 2.5;
  BOOST_TEST(GC_size(d) >= sizeof(double));
  Node* u = GC_NEW_UNCOLLECTABLE(Node);
  BOOST_TEST(u->next == nullptr);
  Hidden hidden_u(u);
  u = nullptr;
  GcCollectClean();
  BOOST_TEST(IsLiveObjectStart(hidden_u));
  GC_FREE(hidden_u.get());
  Node* s = GC_NEW_STUBBORN(Node);
  s->value = 5;
  GC_END_STUBBORN_CHANGE(s);
  BOOST_TEST(s->value == 5);
}

BOOST_AUTO_TEST_CASE(gcollect_counts_collections) {
  GC_word before = GC_get_gc_no();
  GC_gcollect();
  GC_gcollect();
  BOOST_TEST(GC_get_gc_no() == before + 2);
}

BOOST_AUTO_TEST_CASE(disable_is_counted) {
  BOOST_TEST(GC_is_disabled() == 0);
  GC_disable();
  GC_disable();
  BOOST_TEST(GC_is_disabled() != 0);
  GC_word before = GC_get_gc_no();
  Hidden garbage = NewObject(GC_malloc, 64, 6);
  GcCollectClean();
  GcGarbage(size_t{32} << 20);
  BOOST_TEST(GC_get_gc_no() == before, "a collection ran while disabled");
  BOOST_TEST(IsLiveObjectStart(garbage));
  GC_enable();
  BOOST_TEST(GC_is_disabled() != 0, "one GC_enable undid two GC_disable calls");
  GcCollectClean();
  BOOST_TEST(GC_get_gc_no() == before);
  GC_enable();
  BOOST_TEST(GC_is_disabled() == 0);
  GcCollectClean();
  BOOST_TEST(GC_get_gc_no() > before);
  KEEL_CHECK_FREED(WasFreed(garbage));
}

BOOST_AUTO_TEST_CASE(statistics_follow_allocation) {
  GC_gcollect();
  size_t since = GC_get_bytes_since_gc();
  size_t total = GC_get_total_bytes();
  void* volatile keep = GC_MALLOC_ATOMIC(size_t{3} << 20);
  BOOST_TEST(GC_get_bytes_since_gc() >= since + (size_t{3} << 20));
  BOOST_TEST(GC_get_total_bytes() >= total + (size_t{3} << 20));
  BOOST_TEST(GC_get_heap_size() >= size_t{3} << 20);
  BOOST_TEST(GC_get_free_bytes() <= GC_get_heap_size());
  size_t total_before_collect = GC_get_total_bytes();
  GC_gcollect();
  BOOST_TEST(GC_get_bytes_since_gc() == 0u);
  BOOST_TEST(GC_get_total_bytes() >= total_before_collect, "total bytes must not go back");
  BOOST_TEST(GC_base(keep) == keep);
}

BOOST_AUTO_TEST_CASE(absurd_sizes_go_through_the_oom_function) {
  OomScope scope(nullptr);
  const size_t absurd[] = {SIZE_MAX, SIZE_MAX - 7, SIZE_MAX / 2 + 1, size_t{1} << 62};
  for (size_t n : absurd) {
    size_t calls = g_oom_calls;
    BOOST_TEST(GC_MALLOC(Launder(n)) == nullptr, "GC_malloc(" << n << ")");
    BOOST_TEST(g_oom_calls == calls + 1);
    BOOST_TEST(g_oom_last_request == n);
    BOOST_TEST(GC_MALLOC_ATOMIC(Launder(n)) == nullptr);
    BOOST_TEST(GC_malloc_uncollectable(Launder(n)) == nullptr);
    BOOST_TEST(g_oom_last_request == n);
  }
  void* p = GC_MALLOC(16);
  BOOST_TEST(GC_REALLOC(p, Launder(SIZE_MAX - 16)) == nullptr);
  BOOST_TEST(GC_base(p) == p, "a failed GC_realloc must leave the old object alone");
}

BOOST_AUTO_TEST_CASE(oom_function_result_is_returned) {
  BOOST_TEST(GC_get_oom_fn() != nullptr);
  OomScope scope(g_oom_substitute);
  BOOST_TEST(GC_get_oom_fn() == &RecordingOom);
  void* p = GC_MALLOC(Launder(SIZE_MAX - 1));
  // Compared out of line: GC_malloc is declared malloc-like, so the compiler may assume its
  // result is no existing object and fold a direct comparison to false.
  BOOST_TEST(SamePointer(p, g_oom_substitute));
  BOOST_TEST(g_oom_calls == 1u);
  BOOST_TEST(g_oom_last_request == SIZE_MAX - 1);
}

BOOST_AUTO_TEST_CASE(max_heap_size_limits_the_heap) {
  GC_gcollect();
  constexpr size_t kBlock = size_t{1} << 20;
  const size_t limit = GC_get_heap_size() + (size_t{48} << 20);
  GC_set_max_heap_size(limit);
  OomScope scope(nullptr);
  const size_t max_blocks = limit / kBlock + 64;
  void** kept = static_cast<void**>(GC_malloc_uncollectable(max_blocks * sizeof(void*)));
  size_t blocks = 0;
  bool refused = false;
  while (blocks < max_blocks) {
    void* b = GC_MALLOC_ATOMIC(kBlock);
    if (b == nullptr) {
      refused = true;
      break;
    }
    kept[blocks++] = b;
  }
  size_t heap_at_refusal = GC_get_heap_size();
  GC_set_max_heap_size(0);
  BOOST_TEST(refused, "allocated " << blocks << " MiB live under a limit of " << limit / kBlock << " MiB");
  BOOST_TEST(g_oom_calls >= 1u);
  BOOST_TEST(g_oom_last_request == kBlock);
  BOOST_TEST(blocks * kBlock <= limit);
  BOOST_TEST(heap_at_refusal <= limit);
  // Without the limit the same request succeeds.
  void* more = GC_MALLOC_ATOMIC(kBlock);
  BOOST_TEST(more != nullptr);
  for (size_t i = 0; i < blocks; ++i) GC_FREE(kept[i]);
  GC_FREE(kept);
  GC_gcollect();
}

BOOST_AUTO_TEST_CASE(expand_hp_grows_the_heap) {
  size_t before = GC_get_heap_size();
  const size_t n = size_t{8} << 20;
  BOOST_TEST(GC_expand_hp(n) != 0);
  BOOST_TEST(GC_get_heap_size() >= before + n);
  BOOST_TEST(GC_get_free_bytes() >= n);
}

BOOST_AUTO_TEST_CASE(add_roots_and_remove_roots) {
  const size_t words = 16;
  void** area = static_cast<void**>(std::calloc(words, sizeof(void*)));  // never scanned by itself
  Hidden target = NewObject(GC_malloc, 56, 7);
  StoreAt(&area[9], target, 0);
  GC_add_roots(area, area + words);
  for (int i = 0; i < 3; ++i) {
    GcGarbage(size_t{1} << 20);
    GcCollectClean();
    BOOST_TEST_REQUIRE(IsLiveObjectStart(target));
  }
  BOOST_TEST(HasPatternAt(target, 56, 7));
  GC_remove_roots(area, area + words);
  GcCollectClean();
  KEEL_CHECK_FREED(WasFreed(target));
  std::free(area);
}

int g_warnings = 0;
void CountingWarnProc(char*, GC_word) { ++g_warnings; }

BOOST_AUTO_TEST_CASE(warn_proc_can_be_replaced) {
  GC_warn_proc saved = GC_get_warn_proc();
  BOOST_TEST(saved != nullptr);
  GC_set_warn_proc(CountingWarnProc);
  BOOST_TEST(GC_get_warn_proc() == &CountingWarnProc);
  GC_set_warn_proc(GC_ignore_warn_proc);
  BOOST_TEST(GC_get_warn_proc() == &GC_ignore_warn_proc);
  GC_set_warn_proc(saved);
  BOOST_TEST(GC_get_warn_proc() == saved);
}

BOOST_AUTO_TEST_CASE(all_interior_pointers_setting) {
  BOOST_TEST(GC_get_all_interior_pointers() == 0, "Keel's default is Racket's rule");
  void** holder = static_cast<void**>(GC_MALLOC(2 * sizeof(void*)));
  Hidden target = NewObject(GC_malloc, 200, 8);
  StoreAt(holder, target, 72);

  GC_set_all_interior_pointers(1);
  BOOST_TEST(GC_get_all_interior_pointers() == 1);
  for (int i = 0; i < 2; ++i) {
    GcCollectClean();
    BOOST_TEST_REQUIRE(IsLiveObjectStart(target), "an interior heap pointer must retain with the setting on");
  }
  BOOST_TEST(HasPatternAt(target, 200, 8));

  GC_set_all_interior_pointers(0);
  BOOST_TEST(GC_get_all_interior_pointers() == 0);
  GcCollectClean();
  KEEL_CHECK_FREED(WasFreed(target), "with the setting off again, an interior heap pointer must not retain");
  GC_reachable_here(holder);
}

BOOST_AUTO_TEST_CASE(accepted_settings) {
  GC_enable_incremental();
  GC_start_mark_threads();
  GC_allow_register_threads();
  GC_set_dont_precollect(1);
  GC_set_java_finalization(1);
  GC_set_free_space_divisor(3);
  BOOST_TEST(GC_get_free_space_divisor() == 3u);
  BOOST_TEST(GC_get_find_leak() == 0);
  BOOST_TEST(GC_get_parallel() == 0);
  void* p = GC_MALLOC(32);
  GC_gcollect();
  BOOST_TEST(GC_base(p) == p);
}

// The classic bdwgc test shape: many short-lived lists and a few long-lived ones.
struct Cons {
  Cons* cdr;
  long car;
};
Cons* MakeList(long from, long n) {
  Cons* head = nullptr;
  for (long i = from + n - 1; i >= from; --i) {
    Cons* c = GC_NEW(Cons);
    c->car = i;
    c->cdr = head;
    head = c;
  }
  return head;
}
long SumList(const Cons* c) {
  long s = 0;
  for (; c != nullptr; c = c->cdr) s += c->car;
  return s;
}

BOOST_AUTO_TEST_CASE(list_program) {
  Cons* volatile keep = MakeList(0, 10000);
  const long expected = 10000L * 9999L / 2;
  for (int round = 0; round < 50; ++round) {
    Cons* temp = MakeList(round, 2000);
    BOOST_TEST_REQUIRE(SumList(temp) == 2000L * round + 2000L * 1999L / 2);
    if (round % 10 == 0) GC_gcollect();
  }
  BOOST_TEST(SumList(keep) == expected);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
