// runtime.cpp: creating a Runtime and attaching it to its collector (DESIGN D1).
#include "runtime/runtime.h"

namespace keel::rt {

namespace {

// Room reserved for error messages up front, so that reporting out of memory rarely needs
// malloc to succeed: long enough for any message the runtime itself produces.
constexpr size_t kErrorMessageReserve = 512;

}  // namespace

Runtime::Runtime(gc::Collector& collector) : collector_(collector), symbols_(collector) {
  thread_.so.type = scheme_thread_type;
  thread_.so.keyex = 0;
  thread_.error_buf = nullptr;
  thread_.keel_private = this;
  error_message_.reserve(kErrorMessageReserve);
  gc_callbacks_ = scheme_null;
  collector.roots().AddRange(&env_, &env_ + 1, false, "keel runtime");
  collector.roots().AddRange(&gc_callbacks_, &gc_callbacks_ + 1, false, "keel GC callbacks");
}

// The root ranges live in this object, which may go before its collector does (thread exit);
// so does the GC callbacks' hook, which reads this object.
Runtime::~Runtime() {
  collector_.SetCollectionHook(nullptr, nullptr);
  collector_.roots().RemoveRanges(&gc_callbacks_, &gc_callbacks_ + 1);
  collector_.roots().RemoveRanges(&env_, &env_ + 1);
}

Runtime& Runtime::CreateFor(gc::Collector& collector) {
  auto* rt = new Runtime(collector);
  collector.SetClient(rt, &Runtime::Destroy);
  return *rt;
}

// Runs while the collector is being destroyed or retired (thread exit); the collector still
// exists, and the destructor takes back the root range and the weak callback.
void Runtime::Destroy(void* runtime) { delete static_cast<Runtime*>(runtime); }

}  // namespace keel::rt
