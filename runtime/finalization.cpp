// finalization.cpp: the spec's finalizer family (scheme_register_finalizer to
// scheme_remove_all_finalization) over the collector's records (gc/finalization.h), and the
// runner that makes the waiting calls so that one that escapes with scheme_signal_error leaves
// the others waiting (docs/design/weak.md .sol.finalizers, .sol.running).
#include <csetjmp>

#include "gc/collector.h"
#include "gc/fatal.h"
#include "runtime/runtime.h"
#include "scheme.h"

namespace {

using keel::gc::Collector;
using keel::gc::FinalizerCall;
using keel::gc::FinalizerFn;

// Racket BC ignores a finalizer on memory it does not own (reference §1.4); here it is the
// caller's error, raised before anything is registered.
Collector& OwnerOf(void* p, const char* who) {
  Collector& c = Collector::CurrentPlace(who);
  if (p == nullptr) scheme_signal_error("%s: the object is NULL", who);
  if (c.in_collection()) scheme_signal_error("%s: called during a collection", who);
  if (!c.IsObjectStart(p)) {
    scheme_signal_error("%s: %p is not the start of an object of this thread's collector (a finalizer needs "
                        "memory the collector allocated: not static, malloc'd, eternal or interior memory)",
                        who, p);
  }
  return c;
}

// One call, with its own escape target. An escape out of the finalizer comes back here: the
// collector learns that the runner is gone, and the escape goes on to the handler that was
// current, with the other calls still waiting. No C++ object with a destructor is live across
// the setjmp. Without a handler an escape prints its message and exits, as anywhere else. At
// exit (keel_shutdown, scheme_main_setup's return) there is no caller to escape to that could
// still run the others: the message is reported and the next call made (weak.md .sol.exit).
void Invoke(Collector& c, const FinalizerCall& call) {
  Scheme_Thread* thread = scheme_current_thread;
  mz_jmp_buf* const outer = thread->error_buf;
  if (outer == nullptr && !c.at_exit()) {
    call.fn(call.object, call.data);
    return;
  }
  mz_jmp_buf own;
  thread->error_buf = &own;
  if (scheme_setjmp(own) != 0) {
    thread->error_buf = outer;
    if (c.at_exit()) {
      keel::Warn("a finalizer escaped while finalizers ran at exit (%s); the others still run",
                 keel::rt::Runtime::Current().error_message().c_str());
      return;
    }
    c.FinalizerEscaped();
    scheme_longjmp(*outer, 1);
  }
  call.fn(call.object, call.data);
  thread->error_buf = outer;
}

void RunFinalizerCalls(Collector& c) {
  FinalizerCall call;
  while (c.TakeFinalizerCall(&call)) Invoke(c, call);
}

// Installed before main: every collector runs its finalizers through Invoke.
[[maybe_unused]] const bool kRunnerInstalled = [] {
  Collector::SetFinalizerRunner(&RunFinalizerCalls);
  return true;
}();

FinalizerFn AsFn(void (*f)(void*, void*)) { return f; }

// The add family: to the chain, or (`will`) a will-like finalizer.
void AddChecked(void* p, FinalizerFn f, void* data, bool will, bool once, const char* who) {
  if (f == nullptr) scheme_signal_error("%s: the finalizer is NULL", who);
  keel::gc::Finalization& table = OwnerOf(p, who).finalization();
  if (will) {
    table.AddWill(p, f, data, once);
  } else {
    table.Add(p, f, data, once);
  }
}

// A weak reference is a disappearing link (docs/design/weak.md .sol.links): short, or long for
// the late kind. A value the collector does not own never dies, so it needs none.
void WeakReference(void** p, void* v, bool late, const char* who) {
  if (p == nullptr) scheme_signal_error("%s: the location is NULL", who);
  Collector& c = Collector::CurrentPlace(who);
  if (c.in_collection()) scheme_signal_error("%s: called during a collection", who);
  c.links().Unregister(p, late);  // registered again: the new value counts
  if (v == nullptr || (reinterpret_cast<uintptr_t>(v) & 1) != 0 || c.BaseOf(v) == nullptr) return;
  if (!c.IsObjectStart(v)) scheme_signal_error("%s: %p points into the middle of an object", who, v);
  c.RegisterLink(p, v, late, who);
}

}  // namespace

extern "C" {

void scheme_weak_reference(void** p) {
  WeakReference(p, p != nullptr ? *p : nullptr, false, "scheme_weak_reference");
}
void scheme_weak_reference_indirect(void** p, void* v) {
  WeakReference(p, v, false, "scheme_weak_reference_indirect");
}
void scheme_late_weak_reference(void** p) {
  WeakReference(p, p != nullptr ? *p : nullptr, true, "scheme_late_weak_reference");
}
void scheme_late_weak_reference_indirect(void** p, void* v) {
  WeakReference(p, v, true, "scheme_late_weak_reference_indirect");
}
void scheme_unweak_reference(void** p) {
  Collector& c = Collector::CurrentPlace("scheme_unweak_reference");
  c.links().Unregister(p, false);
  c.links().Unregister(p, true);
}

void scheme_register_finalizer(void* p, void (*f)(void* p, void* data), void* data,
                               void (**oldf)(void* p, void* data), void** olddata) {
  Collector& c = OwnerOf(p, "scheme_register_finalizer");
  c.finalization().Register(p, AsFn(f), f != nullptr ? data : nullptr, oldf, olddata);
}

void scheme_add_finalizer(void* p, void (*f)(void* p, void* data), void* data) {
  AddChecked(p, f, data, false, false, "scheme_add_finalizer");
}

void scheme_add_finalizer_once(void* p, void (*f)(void* p, void* data), void* data) {
  AddChecked(p, f, data, false, true, "scheme_add_finalizer_once");
}

void scheme_subtract_finalizer(void* p, void (*f)(void* p, void* data), void* data) {
  OwnerOf(p, "scheme_subtract_finalizer").finalization().Subtract(p, AsFn(f), data);
}

void scheme_add_scheme_finalizer(void* p, void (*f)(void* p, void* data), void* data) {
  AddChecked(p, f, data, true, false, "scheme_add_scheme_finalizer");
}

void scheme_add_scheme_finalizer_once(void* p, void (*f)(void* p, void* data), void* data) {
  AddChecked(p, f, data, true, true, "scheme_add_scheme_finalizer_once");
}

void scheme_remove_all_finalization(void* p) {
  OwnerOf(p, "scheme_remove_all_finalization").finalization().RemoveAll(p);
}

}  // extern "C"
