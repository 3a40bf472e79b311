// api_keel.cpp: keel_gc.h, Keel's own collector interface (records, statistics, tuning,
// tracing, instance control), over the calling thread's collector. The calls for fibers and
// coroutines are in stack_switch.cpp.
#include "gc/collector.h"
#include "gc/plan.h"
#include "keel_gc.h"

using keel::gc::Collector;

extern "C" {

KEEL_API void keel_gc_get_stats(keel_gc_stats* out) {
  if (out != nullptr) Collector::Current().FillStats(out);
}

KEEL_API size_t keel_gc_record_count(void) { return Collector::Current().stats().kept(); }

KEEL_API int keel_gc_get_record(size_t i, keel_gc_record* out) {
  if (out == nullptr) return 0;
  return Collector::Current().stats().Get(i, out) ? 1 : 0;
}

KEEL_API uint64_t keel_gc_pause_percentile_ns(double percentile) {
  return Collector::Current().stats().PausePercentileNs(percentile);
}

KEEL_API size_t keel_gc_verify_heap(void) { return Collector::Current().Verify(false); }

KEEL_API int keel_gc_trace_to(const char* path) { return keel::gc::trace::Open(path) ? 0 : -1; }

KEEL_API void keel_gc_set_growth(double growth, size_t min_bytes) {
  Collector::Current().policy().Set(growth, min_bytes);
}

KEEL_API void keel_gc_release_memory(void) { Collector::Current().ReleaseMemory(); }

KEEL_API void keel_gc_collect_minor(void) { Collector::Current().CollectMinor(); }

KEEL_API const char* keel_gc_barrier(void) { return keel::gc::BarrierName(Collector::Current().barrier().kind()); }

KEEL_API const char* keel_gc_variant(void) { return keel::gc::Plan::kName; }

// Pending finalizers run first, and with keel_gc_finalize_all_on_exit those of every object
// still registered (docs/design/weak.md .sol.exit).
KEEL_API void keel_shutdown(void) {
  if (Collector* c = Collector::CurrentOrNull()) c->FinalizeAtExit();
  Collector::DestroyCurrent();
}

KEEL_API int keel_gc_finalize_all_on_exit(int on) {
  Collector& c = Collector::Current();
  const bool was = c.finalize_all_on_exit();
  c.set_finalize_all_on_exit(on != 0);
  return was ? 1 : 0;
}

}  // extern "C"
