// attach.cpp: attaching threads to places (keel_places.h, docs/design/places.md .sol.attach).
#include "gc/collector.h"
#include "keel_places.h"

using keel::gc::Collector;
using keel::gc::CollectorRole;

extern "C" {

KEEL_API void keel_thread_attach(void) { Collector::AttachCurrentThread(); }

KEEL_API void keel_thread_detach(void) {
  Collector* c = Collector::CurrentOrNull();
  if (c == nullptr || c->role() == CollectorRole::kThread) return;
  c->FinalizeAtExit();
  Collector::RetireCurrent();
}

KEEL_API int keel_thread_attached(void) {
  Collector* c = Collector::CurrentOrNull();
  return c != nullptr && c->role() != CollectorRole::kThread ? 1 : 0;
}

}  // extern "C"
