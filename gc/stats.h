// stats.h: a collector's per-collection records (DESIGN D11) and the Chrome trace-event writer
// that KEEL_GC_TRACE turns on.
#ifndef KEEL_GC_STATS_H
#define KEEL_GC_STATS_H

#include <cstddef>
#include <cstdint>
#include <vector>

#include "keel_gc.h"

namespace keel::gc {

uint64_t NowNs();  // CLOCK_MONOTONIC

// Keeps the most recent records in a ring plus whole-life aggregates. Owned by one collector.
class Stats {
 public:
  Stats();  // reads KEEL_GC_RECORDS and KEEL_GC_TRACE

  void Add(const keel_gc_record& r);
  uint64_t collections() const { return collections_; }
  size_t kept() const { return count_; }
  bool Get(size_t i, keel_gc_record* out) const;  // 0 = oldest kept
  uint64_t PausePercentileNs(double p) const;

  uint64_t minor() const { return minor_; }
  uint64_t major() const { return major_; }
  uint64_t total_pause_ns() const { return total_pause_ns_; }
  uint64_t max_pause_ns() const { return max_pause_ns_; }
  uint64_t peak_live() const { return peak_live_; }
  uint64_t peak_heap() const { return peak_heap_; }
  void NoteHeap(uint64_t heap_bytes) {
    if (heap_bytes > peak_heap_) peak_heap_ = heap_bytes;
  }

 private:
  std::vector<keel_gc_record> ring_;  // grows to capacity_, then wraps
  size_t capacity_ = 0;
  size_t head_ = 0;
  size_t count_ = 0;
  uint64_t collections_ = 0, minor_ = 0, major_ = 0;
  uint64_t total_pause_ns_ = 0, max_pause_ns_ = 0;
  uint64_t peak_live_ = 0, peak_heap_ = 0;
};

// Chrome trace-event JSON ("traceEvents" array of complete events and counters). One file per
// process, shared by every collector under a lock; the file is closed at exit.
namespace trace {
bool Open(const char* path);  // nullptr closes
void Event(const keel_gc_record& r);
}  // namespace trace

}  // namespace keel::gc

#endif  // KEEL_GC_STATS_H
