// api_bdwgc.cpp: the bdwgc-compatible functions of gc.h over the calling thread's collector.
// Where bdwgc has process-wide settings (OOM function, interior-pointer mode) they stay
// process-wide here and apply to every collector instance.
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "gc.h"
#include "schemegc2.h"
#include "gc/collector.h"
#include "gc/env.h"
#include "gc/fatal.h"
#include "gc/os_memory.h"
#include "gc/variable_stack.h"

using keel::gc::Collector;
using keel::gc::Kind;

namespace {

void* DefaultOom(size_t) { return nullptr; }

// The warn procedure in force when the program has set none: Keel's stderr report.
void DefaultWarnProc(char* msg, GC_word) { std::fprintf(stderr, "keel warning: %s\n", msg); }

std::atomic<GC_oom_func> g_oom_fn{DefaultOom};

Collector& Current() { return Collector::Current(); }

void* AllocateOrOom(size_t n, Kind kind) {
  void* p = Current().Allocate(n, kind);
  if (p != nullptr) return p;
  GC_oom_func fn = g_oom_fn.load(std::memory_order_acquire);
  return fn != nullptr ? fn(n) : nullptr;
}

}  // namespace

extern "C" {

GC_API void GC_init(void) {
  Collector& c = Current();
  // Sizes beyond what the machine could back are refused by the reader (README.md).
  const uint64_t machine = keel::gc::os::BackableBytes();
  if (uint64_t initial = keel::gc::EnvBytes("GC_INITIAL_HEAP_SIZE", 0, 0, machine)) c.heap().Expand(initial);
  uint64_t max = keel::gc::EnvBytes("GC_MAXIMUM_HEAP_SIZE", c.heap().max_heap_bytes(), 0, machine);
  c.heap().set_max_heap_bytes(max);
  if (keel::gc::EnvText("GC_ALL_INTERIOR_POINTERS") != nullptr) {
    int on = GC_get_all_interior_pointers();
    GC_set_all_interior_pointers(static_cast<int>(keel::gc::EnvCount("GC_ALL_INTERIOR_POINTERS", static_cast<uint64_t>(on), 0, 1)));
  }
}

GC_API int GC_is_init_called(void) { return Collector::CurrentOrNull() != nullptr; }

GC_API void* GC_malloc(size_t n) { return AllocateOrOom(n, Kind::kNormal); }
GC_API void* GC_malloc_atomic(size_t n) { return AllocateOrOom(n, Kind::kAtomic); }
GC_API void* GC_malloc_uncollectable(size_t n) { return AllocateOrOom(n, Kind::kUncollectable); }
GC_API void* GC_malloc_atomic_uncollectable(size_t n) { return AllocateOrOom(n, Kind::kAtomicUncollectable); }
// Keel honours pointers to the start of big objects like any other; the hint changes nothing.
GC_API void* GC_malloc_ignore_off_page(size_t n) { return AllocateOrOom(n, Kind::kNormal); }
GC_API void* GC_malloc_atomic_ignore_off_page(size_t n) { return AllocateOrOom(n, Kind::kAtomic); }
GC_API void* GC_malloc_stubborn(size_t n) { return AllocateOrOom(n, Kind::kNormal); }
GC_API void GC_end_stubborn_change(const void*) {}
GC_API void GC_change_stubborn(const void*) {}

GC_API void* GC_realloc(void* old, size_t n) {
  if (old == nullptr) return GC_malloc(n);
  Collector& c = Current();
  if (n == 0) {
    c.Free(old, "GC_realloc");
    return nullptr;
  }
  Kind kind;
  size_t capacity = c.SizeOf(old);
  if (capacity == 0 || !c.KindOf(old, &kind)) keel::Fatal("GC_realloc: %p is not the start of a heap object", old);
  if (n <= capacity) {
    // Shrinking in place: clear the tail so stale pointers in it retain nothing.
    if (keel::gc::IsPointerful(kind)) std::memset(static_cast<char*>(old) + n, 0, capacity - n);
    return old;
  }
  // The allocation may collect, and a moving collector then moves `old`: it is registered
  // meanwhile, in the layout of the runtime's frames (docs/design/roots.md .sol.frames).
  void* frame[3] = {GC_variable_stack, reinterpret_cast<void*>(intptr_t{1}), &old};
  GC_variable_stack = frame;
  void* fresh = AllocateOrOom(n, kind);
  GC_variable_stack = static_cast<void**>(frame[0]);
  if (fresh == nullptr) return nullptr;
  std::memcpy(fresh, old, capacity);
  if (keel::gc::IsUncollectable(kind)) c.Free(old, "GC_realloc");
  return fresh;
}

// Memory of an exited thread (an uncollectable object it handed over) may be freed from any
// thread (docs/design/heap.md .sol.orphans).
GC_API void GC_free(void* p) { Collector::FreeAnywhere(p, "GC_free"); }

GC_API char* GC_strdup(const char* s) {
  if (s == nullptr) return nullptr;
  return GC_strndup(s, std::strlen(s));
}

GC_API char* GC_strndup(const char* s, size_t n) {
  if (s == nullptr) return nullptr;
  size_t len = strnlen(s, n);
  auto* copy = static_cast<char*>(AllocateOrOom(len + 1, Kind::kAtomic));
  if (copy == nullptr) return nullptr;
  std::memcpy(copy, s, len);
  copy[len] = '\0';
  return copy;
}

GC_API void* GC_base(void* p) { return Current().BaseOf(p); }
GC_API size_t GC_size(const void* p) { return Current().SizeOf(p); }
GC_API int GC_is_heap_ptr(const void* p) { return Current().IsHeapAddress(p) ? 1 : 0; }

GC_API void GC_gcollect(void) { Current().Collect(KEEL_GC_REASON_EXPLICIT); }
GC_API void GC_gcollect_and_unmap(void) {
  Collector& c = Current();
  c.Collect(KEEL_GC_REASON_EXPLICIT);
  c.ReleaseMemory();
}
GC_API int GC_try_to_collect(int (*)(void)) {
  Collector& c = Current();
  if (c.disabled()) return 0;
  c.Collect(KEEL_GC_REASON_EXPLICIT);
  return 1;
}
GC_API void GC_disable(void) { Current().Disable(); }
GC_API void GC_enable(void) {
  if (!Current().Enable()) keel::Warn("GC_enable: called more times than GC_disable; ignored");
}
GC_API int GC_is_disabled(void) { return Current().disabled() ? 1 : 0; }
GC_API GC_word GC_get_gc_no(void) { return Current().collections(); }

GC_API size_t GC_get_heap_size(void) { return Current().heap().heap_bytes(); }
GC_API size_t GC_get_free_bytes(void) {
  const keel::gc::Heap& h = Current().heap();
  return h.free_bytes() - h.released_free_bytes();
}
GC_API size_t GC_get_unmapped_bytes(void) { return Current().heap().released_free_bytes(); }
GC_API size_t GC_get_bytes_since_gc(void) { return Current().bytes_since_gc(); }
GC_API size_t GC_get_total_bytes(void) { return Current().total_allocated_bytes(); }

GC_API void GC_set_oom_fn(GC_oom_func fn) { g_oom_fn.store(fn != nullptr ? fn : DefaultOom, std::memory_order_release); }
GC_API GC_oom_func GC_get_oom_fn(void) { return g_oom_fn.load(std::memory_order_acquire); }
GC_API void GC_set_max_heap_size(GC_word n) { Current().heap().set_max_heap_bytes(n); }
// Fails at once, without mapping anything, when the heap would grow past what the machine could
// back or the heap limit (docs/design/heap.md .sol.too-big).
GC_API int GC_expand_hp(size_t bytes) { return Current().heap().Grow(bytes) ? 1 : 0; }

GC_API void GC_set_warn_proc(GC_warn_proc p) {
  keel::SetWarnProc(p == nullptr || p == DefaultWarnProc ? nullptr : reinterpret_cast<keel::WarnProc>(p));
}
GC_API GC_warn_proc GC_get_warn_proc(void) {
  keel::WarnProc p = keel::GetWarnProc();
  return p != nullptr ? reinterpret_cast<GC_warn_proc>(p) : DefaultWarnProc;
}
GC_API void GC_ignore_warn_proc(char*, GC_word) {}

// bdwgc allocates about heap/divisor between collections, where the heap is about twice the
// live data; Keel's growth factor (budget / live) is therefore 2 / divisor.
GC_API void GC_set_free_space_divisor(GC_word divisor) {
  if (divisor == 0) return;
  Current().policy().Set(2.0 / static_cast<double>(divisor), 0);
}
GC_API GC_word GC_get_free_space_divisor(void) {
  return static_cast<GC_word>(std::lround(2.0 / Current().policy().growth()));
}

GC_API void GC_add_roots(void* low, void* high_plus_1) {
  if (high_plus_1 <= low) return;
  Current().roots().AddRange(low, high_plus_1, false, "GC_add_roots");
}
GC_API void GC_remove_roots(void* low, void* high_plus_1) { Current().roots().RemoveRanges(low, high_plus_1); }
GC_API void GC_clear_roots(void) { Current().roots().ClearRanges(); }

GC_API void GC_set_all_interior_pointers(int value) {
  Collector::SetDefaultAllInteriorPointers(value != 0);
  if (Collector* c = Collector::CurrentOrNull()) c->set_all_interior_pointers(value != 0);
}
GC_API int GC_get_all_interior_pointers(void) {
  Collector* c = Collector::CurrentOrNull();
  return (c != nullptr ? c->all_interior_pointers() : Collector::DefaultAllInteriorPointers()) ? 1 : 0;
}
GC_API void GC_enable_incremental(void) {}
GC_API int GC_is_incremental_mode(void) { return 0; }
GC_API void GC_start_mark_threads(void) {}
GC_API int GC_get_find_leak(void) { return 0; }
GC_API void GC_set_find_leak(int value) {
  if (value != 0) keel::Warn("GC_set_find_leak: Keel has no leak-finding mode; ignored");
}
GC_API int GC_get_parallel(void) { return 0; }
GC_API void GC_allow_register_threads(void) {}
GC_API void GC_set_dont_precollect(int) {}
GC_API void GC_set_java_finalization(int) {}

// --- finalization (docs/design/weak.md .sol.ordered) ----------------------------------------------

namespace {
// bdwgc ignores a finalizer for memory it does not own; Keel says so, once per call site kind.
void RegisterOrdered(void* obj, GC_finalization_proc fn, void* cd, GC_finalization_proc* ofn, void** ocd,
                     keel::gc::FinalizerOrder order, const char* who) {
  Collector& c = Current();
  if (c.in_collection()) keel::Fatal("%s: called during a collection", who);
  if (!c.IsObjectStart(obj)) {
    keel::Warn("%s: %p is not the start of an object of this thread's collector; no finalizer registered", who, obj);
    if (ofn != nullptr) *ofn = nullptr;
    if (ocd != nullptr) *ocd = nullptr;
    return;
  }
  c.finalization().RegisterOrdered(obj, fn, fn != nullptr ? cd : nullptr, order, ofn, ocd);
}
}  // namespace

GC_API void GC_register_finalizer(void* obj, GC_finalization_proc fn, void* cd, GC_finalization_proc* ofn,
                                  void** ocd) {
  RegisterOrdered(obj, fn, cd, ofn, ocd, keel::gc::FinalizerOrder::kOrdered, "GC_register_finalizer");
}
GC_API void GC_register_finalizer_ignore_self(void* obj, GC_finalization_proc fn, void* cd,
                                              GC_finalization_proc* ofn, void** ocd) {
  RegisterOrdered(obj, fn, cd, ofn, ocd, keel::gc::FinalizerOrder::kIgnoreSelf, "GC_register_finalizer_ignore_self");
}
GC_API void GC_register_finalizer_no_order(void* obj, GC_finalization_proc fn, void* cd, GC_finalization_proc* ofn,
                                           void** ocd) {
  RegisterOrdered(obj, fn, cd, ofn, ocd, keel::gc::FinalizerOrder::kNoOrder, "GC_register_finalizer_no_order");
}
GC_API void GC_register_finalizer_unreachable(void* obj, GC_finalization_proc fn, void* cd,
                                              GC_finalization_proc* ofn, void** ocd) {
  RegisterOrdered(obj, fn, cd, ofn, ocd, keel::gc::FinalizerOrder::kUnreachable, "GC_register_finalizer_unreachable");
}
GC_API int GC_should_invoke_finalizers(void) { return Current().finalization().ordered_waiting() != 0 ? 1 : 0; }
GC_API int GC_invoke_finalizers(void) { return Current().InvokeOrderedFinalizers(); }
GC_API void GC_set_finalize_on_demand(int value) { Current().set_finalize_on_demand(value != 0); }
GC_API int GC_get_finalize_on_demand(void) { return Current().finalize_on_demand() ? 1 : 0; }
GC_API void GC_set_finalizer_notifier(GC_finalizer_notifier_proc fn) { Current().set_finalizer_notifier(fn); }
GC_API GC_finalizer_notifier_proc GC_get_finalizer_notifier(void) { return Current().finalizer_notifier(); }

// --- disappearing links (docs/design/weak.md .sol.links) -----------------------------------------

GC_API int GC_general_register_disappearing_link(void** link, const void* obj) {
  return Current().RegisterLink(link, const_cast<void*>(obj), false, "GC_general_register_disappearing_link");
}
GC_API int GC_register_disappearing_link(void** link) {
  return Current().RegisterLink(link, GC_base(link), false, "GC_register_disappearing_link");
}
GC_API int GC_register_long_link(void** link, const void* obj) {
  return Current().RegisterLink(link, const_cast<void*>(obj), true, "GC_register_long_link");
}
GC_API int GC_unregister_disappearing_link(void** link) { return Current().links().Unregister(link, false) ? 1 : 0; }
GC_API int GC_unregister_long_link(void** link) { return Current().links().Unregister(link, true) ? 1 : 0; }
GC_API int GC_move_disappearing_link(void** link, void** new_link) {
  return Current().links().Move(link, new_link, false);
}
GC_API int GC_move_long_link(void** link, void** new_link) { return Current().links().Move(link, new_link, true); }

GC_API void* GC_debug_malloc(size_t n, const char*, int) { return GC_malloc(n); }
GC_API void* GC_debug_malloc_atomic(size_t n, const char*, int) { return GC_malloc_atomic(n); }
GC_API void* GC_debug_malloc_uncollectable(size_t n, const char*, int) { return GC_malloc_uncollectable(n); }
GC_API void* GC_debug_malloc_stubborn(size_t n, const char*, int) { return GC_malloc_stubborn(n); }
GC_API void* GC_debug_malloc_ignore_off_page(size_t n, const char*, int) { return GC_malloc_ignore_off_page(n); }
GC_API void* GC_debug_malloc_atomic_ignore_off_page(size_t n, const char*, int) {
  return GC_malloc_atomic_ignore_off_page(n);
}
GC_API void* GC_debug_realloc(void* old, size_t n, const char*, int) { return GC_realloc(old, n); }
GC_API void GC_debug_free(void* p) { GC_free(p); }
GC_API char* GC_debug_strdup(const char* s, const char*, int) { return GC_strdup(s); }
GC_API void GC_debug_end_stubborn_change(const void* p) { GC_end_stubborn_change(p); }
GC_API void GC_debug_change_stubborn(const void* p) { GC_change_stubborn(p); }

// Pre-dirties the page so a store that follows needs no fault (DESIGN D5).
// Any thread may call it, Keel's or not, for any collector's memory.
KEEL_API void GC_write_barrier(void* p) { keel::gc::Generations::PreDirty(p); }

}  // extern "C"
