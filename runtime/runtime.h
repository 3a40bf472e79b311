// runtime.h: the runtime layer attached to one collector instance: the Scheme thread record,
// the last error, the symbol table and the basic namespace (DESIGN D1: one per place).
#ifndef KEEL_RUNTIME_RUNTIME_H
#define KEEL_RUNTIME_RUNTIME_H

#include <string>

#include "gc/collector.h"
#include "runtime/symbols.h"
#include "scheme.h"

namespace keel::rt {

// One per collector, created on first use by Current() and attached as the collector's client,
// which destroys it with the collector (keel_shutdown). Touched only by the collector's thread.
// The object itself is malloc'd and not scanned, so each of its GC pointer fields is registered
// as a root at construction; the roots die with the collector.
class Runtime {
 public:
  // The calling thread's runtime, created with its collector on first use.
  static Runtime& Current(const char* who = "a scheme_* function") {
    gc::Collector& c = gc::Collector::CurrentPlace(who);
    void* client = c.client();
    return client != nullptr ? *static_cast<Runtime*>(client) : CreateFor(c);
  }

  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  gc::Collector& collector() { return collector_; }
  Scheme_Thread* thread() { return &thread_; }
  SymbolTable& symbols() { return symbols_; }

  Scheme_Env* env() const { return env_; }
  void set_env(Scheme_Env* env) { env_ = env; }

  // The place's GC callback registrations, newest first (ffi/gc_callbacks.cpp): a list, a root.
  Scheme_Object*& gc_callbacks() { return gc_callbacks_; }

  // The last error: the formatter writes straight into this string, so an escape in the
  // middle of formatting (out of memory in %V) leaks nothing.
  std::string& error_message() { return error_message_; }
  bool error_was_out_of_memory() const { return error_was_oom_; }
  void BeginError(bool out_of_memory) {
    error_message_.clear();
    error_was_oom_ = out_of_memory;
  }

 private:
  explicit Runtime(gc::Collector& collector);
  ~Runtime();
  static Runtime& CreateFor(gc::Collector& collector);
  static void Destroy(void* runtime);

  gc::Collector& collector_;
  Scheme_Thread thread_;
  Scheme_Env* env_ = nullptr;  // a root
  Scheme_Object* gc_callbacks_ = nullptr;  // a root
  std::string error_message_;
  bool error_was_oom_ = false;
  SymbolTable symbols_;
};

}  // namespace keel::rt

#endif  // KEEL_RUNTIME_RUNTIME_H
