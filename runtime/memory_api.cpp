// memory_api.cpp: the extern "C" memory functions of scheme.h (Inside Racket §5.2): a thin,
// argument-checking facade over the calling thread's collector.
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "gc/code_allocator.h"
#include "gc/collector.h"
#include "gc/fatal.h"
#include "gc/master.h"
#include "gc/orphanage.h"
#include "runtime/gc_frame.h"
#include "runtime/type_traversers.h"
#include "scheme.h"

using keel::Fatal;
using keel::gc::Collector;
using keel::gc::Kind;

namespace {

// The runtime's tagged types are traced by a precise collector from the first collection on:
// their traversers are registered when the library is loaded, before main and before any thread
// can allocate. Every runtime object is allocated through this file, so a static link that
// holds a runtime object holds this initializer too.
[[maybe_unused]] const bool kTypeTraversersRegistered = (keel::rt::RegisterTypeTraversers(), true);

void* AllocateOrRaise(size_t n, Kind kind, const char* who) {
  void* p = Collector::CurrentPlace(who).Allocate(n, kind);
  if (p == nullptr) scheme_raise_out_of_memory(who, "cannot allocate %zu bytes", n);
  return p;
}

struct MainSetupData {
  Scheme_Env_Main main;
  int argc;
  char** argv;
};

// Zeroes the stack below its caller's frame, where main's frames were: stale copies of
// pointers there would keep objects alive in the exit collections' conservative scan.
__attribute__((noinline)) void ScrubStackBelow() {
  char area[16 << 10];
  std::memset(area, 0, sizeof area);
  asm volatile("" : : "r"(area) : "memory");
}

// main has returned: pending finalizers run, and with keel_gc_finalize_all_on_exit those of
// every object still registered (docs/design/weak.md .sol.exit).
__attribute__((noinline)) void FinalizeAfterMain() {
  ScrubStackBelow();
  if (Collector* c = Collector::CurrentOrNull()) c->FinalizeAtExit();
}

int CallWithBasicEnv(void* data) {
  auto* d = static_cast<MainSetupData*>(data);
  const int result = d->main(scheme_basic_env(), d->argc, d->argv);
  FinalizeAfterMain();
  return result;
}

}  // namespace

extern "C" {

KEEL_API void* scheme_malloc(size_t n) { return AllocateOrRaise(n, Kind::kNormal, "scheme_malloc"); }
KEEL_API void* scheme_malloc_atomic(size_t n) { return AllocateOrRaise(n, Kind::kAtomic, "scheme_malloc_atomic"); }
KEEL_API void* scheme_malloc_tagged(size_t n) { return AllocateOrRaise(n, Kind::kTagged, "scheme_malloc_tagged"); }
KEEL_API void* scheme_malloc_uncollectable(size_t n) {
  return AllocateOrRaise(n, Kind::kUncollectable, "scheme_malloc_uncollectable");
}
KEEL_API void* scheme_malloc_allow_interior(size_t n) {
  return AllocateOrRaise(n, Kind::kInterior, "scheme_malloc_allow_interior");
}
KEEL_API void* scheme_malloc_atomic_allow_interior(size_t n) {
  return AllocateOrRaise(n, Kind::kAtomicInterior, "scheme_malloc_atomic_allow_interior");
}
// Stubborn allocation is an obsolete hint; the memory is ordinary scanned memory.
KEEL_API void* scheme_malloc_stubborn(size_t n) { return AllocateOrRaise(n, Kind::kNormal, "scheme_malloc_stubborn"); }
KEEL_API void scheme_end_stubborn_change(void*) {}

KEEL_API void* scheme_malloc_eternal(size_t n) {
  void* p = std::calloc(1, n == 0 ? 1 : n);
  if (p == nullptr) scheme_raise_out_of_memory("scheme_malloc_eternal", "cannot allocate %zu bytes", n);
  return p;
}

KEEL_API void* scheme_calloc(size_t num, size_t size) {
  size_t bytes = 0;
  if (__builtin_mul_overflow(num, size, &bytes)) {
    scheme_signal_error("scheme_calloc: %zu elements of %zu bytes overflow the size of memory", num, size);
  }
  return AllocateOrRaise(bytes, Kind::kNormal, "scheme_calloc");
}

KEEL_API char* scheme_strdup(const char* str) {
  if (str == nullptr) scheme_signal_error("scheme_strdup: the string is NULL");
  size_t len = std::strlen(str);
  keel::rt::GcFrame frame(str);  // the caller's string may be collectable (roots.md .sol.frames)
  auto* copy = static_cast<char*>(AllocateOrRaise(len + 1, Kind::kAtomic, "scheme_strdup"));
  std::memcpy(copy, str, len + 1);
  return copy;
}

KEEL_API char* scheme_strdup_eternal(const char* str) {
  if (str == nullptr) scheme_signal_error("scheme_strdup_eternal: the string is NULL");
  size_t len = std::strlen(str);
  auto* copy = static_cast<char*>(scheme_malloc_eternal(len + 1));
  std::memcpy(copy, str, len + 1);
  return copy;
}

KEEL_API void* scheme_malloc_fail_ok(void* (*mallocf)(size_t), size_t size) {
  if (mallocf == nullptr) scheme_signal_error("scheme_malloc_fail_ok: the allocation function is NULL");
  void* p = mallocf(size);
  if (p == nullptr) scheme_raise_out_of_memory("scheme_malloc_fail_ok", "cannot allocate %zu bytes", size);
  return p;
}

KEEL_API void** scheme_malloc_immobile_box(void* p) { return Collector::CurrentPlace("scheme_malloc_immobile_box").roots().NewImmobileBox(p); }

KEEL_API void scheme_free_immobile_box(void** b) {
  if (b == nullptr) Fatal("scheme_free_immobile_box: the immobile box is NULL");
  // A box made by a thread that has exited lives on in the orphanage (heap.md .sol.orphans).
  Collector& c = Collector::CurrentPlace("scheme_free_immobile_box");
  if (c.roots().HoldsBox(b) || !keel::gc::Orphanage::FreeImmobileBox(b)) c.roots().FreeImmobileBox(b);
}

KEEL_API void* scheme_malloc_code(intptr_t size) {
  if (size <= 0) scheme_signal_error("scheme_malloc_code: size must be positive, given %ld", static_cast<long>(size));
  void* p = keel::gc::AllocateCode(static_cast<size_t>(size));
  if (p == nullptr) scheme_raise_out_of_memory("scheme_malloc_code", "cannot allocate %ld bytes of code", static_cast<long>(size));
  return p;
}

KEEL_API void scheme_free_code(void* p) { keel::gc::FreeCode(p); }

// --- roots and stack setup ---------------------------------------------------------------------

KEEL_API void scheme_register_extension_global(void* ptr, intptr_t size) {
  if (ptr == nullptr || size <= 0) Fatal("scheme_register_extension_global: bad range %p + %ld", ptr, static_cast<long>(size));
  char* lo = static_cast<char*>(ptr);
  Collector::CurrentPlace("scheme_register_extension_global").roots().AddRange(lo, lo + size, false, "scheme_register_extension_global");
}

KEEL_API void scheme_register_static(void* ptr, intptr_t size) {
  if (ptr == nullptr || size <= 0) Fatal("scheme_register_static: bad range %p + %ld", ptr, static_cast<long>(size));
  char* lo = static_cast<char*>(ptr);
  Collector::CurrentPlace("scheme_register_static").roots().AddRange(lo, lo + size, true, "scheme_register_static");
}

// The stack base becomes this frame: frames of main and above are not roots, as in Racket. On a
// thread without a collector, in a process without a master, the thread's collector is the new
// master collector until scheme_basic_env returns (places.md .sol.master); otherwise the thread
// is attached to a place (.sol.attach).
__attribute__((noinline)) KEEL_API int scheme_main_stack_setup(int no_auto_statics, Scheme_Nested_Main main, void* data) {
  if (main == nullptr) Fatal("scheme_main_stack_setup: main is NULL");
  Collector& c = Collector::CurrentOrNull() == nullptr && keel::gc::master::Get() == nullptr
                     ? Collector::CreateMaster(true)
                     : Collector::AttachCurrentThread();
  void* volatile base_marker = nullptr;
  const keel::gc::Roots::StackBounds old_bounds = c.roots().stack_bounds();
  bool old_auto = c.roots().auto_statics();
  c.roots().SetStackBase(reinterpret_cast<char*>(const_cast<void**>(&base_marker)) + sizeof(void*));
  c.roots().set_auto_statics(no_auto_statics == 0);
  int result = main(data);
  // main may have shut the runtime down (keel_shutdown) and started it again; scheme_basic_env
  // hands the master's bounds to the initial place.
  Collector* now = Collector::CurrentOrNull();
  if (now != nullptr && (now == &c || c.role() == keel::gc::CollectorRole::kMaster)) {
    now->roots().RestoreStackBounds(old_bounds);
    now->roots().set_auto_statics(old_auto);
  }
  return result;
}

KEEL_API int scheme_main_setup(int no_auto_statics, Scheme_Env_Main main, int argc, char** argv) {
  if (main == nullptr) Fatal("scheme_main_setup: main is NULL");
  MainSetupData d{main, argc, argv};
  return scheme_main_stack_setup(no_auto_statics, CallWithBasicEnv, &d);
}

// stack_addr is the deepest word that may hold a pointer; the base lies just past it. NULL
// means the thread's own base (docs/design/roots.md .sol.bounds).
KEEL_API void scheme_set_stack_base(void* stack_addr, int no_auto_statics) {
  Collector& c = Collector::AttachCurrentThread();
  c.roots().SetStackBase(stack_addr != nullptr ? static_cast<char*>(stack_addr) + sizeof(void*) : nullptr);
  c.roots().set_auto_statics(no_auto_statics == 0);
}

KEEL_API void scheme_set_stack_bounds(void* stack_addr, void* stack_end, int no_auto_statics) {
  Collector& c = Collector::AttachCurrentThread();
  c.roots().SetStackBounds(stack_addr != nullptr ? static_cast<char*>(stack_addr) + sizeof(void*) : nullptr, stack_end);
  c.roots().set_auto_statics(no_auto_statics == 0);
}

// Thread-local storage needs no registration outside 32-bit Windows.
KEEL_API void scheme_register_tls_space(void*, int) {}

// --- pins and collection control ---------------------------------------------------------------

KEEL_API void scheme_dont_gc_ptr(void* p) {
  if (p != nullptr) Collector::CurrentPlace("scheme_dont_gc_ptr").roots().Pin(p);
}

KEEL_API void scheme_gc_ptr_ok(void* p) {
  if (p == nullptr) return;
  Collector& c = Collector::CurrentPlace("scheme_gc_ptr_ok");
  if (c.roots().pin_count(p) != 0 || !keel::gc::Orphanage::Unpin(p)) c.roots().Unpin(p);
}

KEEL_API void scheme_collect_garbage(void) { Collector::CurrentPlace("scheme_collect_garbage").Collect(KEEL_GC_REASON_EXPLICIT); }

KEEL_API void scheme_enable_garbage_collection(int on) {
  Collector& c = Collector::CurrentPlace("scheme_enable_garbage_collection");
  if (on == 0) {
    c.Disable();
  } else if (!c.Enable()) {
    keel::Warn("scheme_enable_garbage_collection: collection is already enabled (more enables than disables)");
  }
}

}  // extern "C"
