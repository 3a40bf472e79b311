// stats.cpp: record ring, percentiles and the trace writer (stats.h).
#include "gc/stats.h"

#include <pthread.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <mutex>

#include "gc/env.h"

namespace keel::gc {

uint64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

Stats::Stats() {
  // 65536 records: a few MiB at most; enough for every collection of a benchmark. At most 2^24
  // (2.5 GB of records): no run collects that often, so a larger value is a mistake.
  capacity_ = static_cast<size_t>(EnvCount("KEEL_GC_RECORDS", 65536, 1, uint64_t{1} << 24));
  static std::once_flag env_once;
  std::call_once(env_once, [] {
    if (const char* path = EnvText("KEEL_GC_TRACE")) {
      if (!trace::Open(path)) std::fprintf(stderr, "keel warning: cannot open KEEL_GC_TRACE file %s\n", path);
    }
  });
}

void Stats::Add(const keel_gc_record& r) {
  ++collections_;
  if (r.kind == KEEL_GC_MINOR) ++minor_; else ++major_;
  total_pause_ns_ += r.pause_ns;
  max_pause_ns_ = std::max(max_pause_ns_, r.pause_ns);
  // After a minor collection live_bytes counts the whole old generation, dead objects included;
  // only major collections measure live data, so they alone set the peak once there is one.
  if (r.kind == KEEL_GC_MAJOR) {
    if (major_ == 1) peak_live_ = 0;
    peak_live_ = std::max(peak_live_, r.live_bytes);
  } else if (major_ == 0) {
    peak_live_ = std::max(peak_live_, r.live_bytes);
  }
  NoteHeap(r.heap_bytes);
  if (count_ < capacity_) {
    ring_.push_back(r);  // head_ stays 0 until the ring is full
    ++count_;
  } else {
    ring_[head_] = r;
    head_ = (head_ + 1) % ring_.size();
  }
  trace::Event(r);
}

bool Stats::Get(size_t i, keel_gc_record* out) const {
  if (i >= count_) return false;
  *out = ring_[(head_ + i) % ring_.size()];
  return true;
}

uint64_t Stats::PausePercentileNs(double p) const {
  if (count_ == 0) return 0;
  std::vector<uint64_t> pauses(count_);
  for (size_t i = 0; i < count_; ++i) pauses[i] = ring_[(head_ + i) % ring_.size()].pause_ns;
  std::sort(pauses.begin(), pauses.end());
  p = std::clamp(p, 0.0, 100.0);
  // Nearest rank: the smallest pause with at least p% of the pauses at or below it.
  auto rank = static_cast<size_t>((p / 100.0) * static_cast<double>(count_) + 0.999999);
  if (rank == 0) rank = 1;
  return pauses[std::min(rank, count_) - 1];
}

namespace trace {
namespace {

std::mutex g_mu;
FILE* g_file = nullptr;
bool g_first = true;
bool g_atexit = false;

void CloseLocked() {
  if (g_file == nullptr) return;
  std::fputs("\n]}\n", g_file);
  std::fclose(g_file);
  g_file = nullptr;
}

void CloseAtExit() {
  std::lock_guard<std::mutex> lock(g_mu);
  CloseLocked();
}

}  // namespace

bool Open(const char* path) {
  std::lock_guard<std::mutex> lock(g_mu);
  CloseLocked();
  if (path == nullptr) return true;
  g_file = std::fopen(path, "w");
  if (g_file == nullptr) return false;
  std::fputs("{\"displayTimeUnit\":\"ms\",\"traceEvents\":[", g_file);
  g_first = true;
  if (!g_atexit) {
    g_atexit = true;
    std::atexit(CloseAtExit);
  }
  return true;
}

void Event(const keel_gc_record& r) {
  std::lock_guard<std::mutex> lock(g_mu);
  if (g_file == nullptr) return;
  long pid = static_cast<long>(getpid());
  long tid = static_cast<long>(syscall(SYS_gettid));
  const char* name = r.kind == KEEL_GC_MINOR ? "GC minor" : "GC major";
  std::fprintf(g_file,
               "%s\n{\"name\":\"%s\",\"cat\":\"gc\",\"ph\":\"X\",\"pid\":%ld,\"tid\":%ld,"
               "\"ts\":%.3f,\"dur\":%.3f,\"args\":{\"index\":%llu,\"reason\":%d,\"mark_us\":%.3f,"
               "\"allocated\":%llu,\"freed\":%llu,\"live\":%llu,\"heap\":%llu,\"released\":%llu,"
               "\"marked_objects\":%llu,\"promoted\":%llu,\"aged\":%llu,\"remembered_pages\":%llu,"
               "\"pages_protected\":%llu,\"barrier_faults\":%llu,\"pages_written\":%llu,"
               "\"pages_released\":%llu,\"pages_refaulted\":%llu,\"pages_fresh\":%llu,"
               "\"pages_opened\":%llu,\"protect_calls\":%llu,\"hot_pages\":%llu,\"full_stretch\":%llu,"
               "\"scan_calls\":%llu,\"copied_objects\":%llu,\"copied_bytes\":%llu,\"compacted_objects\":%llu,"
               "\"compacted_bytes\":%llu,\"evacuated_pages\":%llu}}",
               g_first ? "" : ",", name, pid, tid, static_cast<double>(r.start_ns) / 1e3,
               static_cast<double>(r.pause_ns) / 1e3, static_cast<unsigned long long>(r.index), r.reason,
               static_cast<double>(r.mark_ns) / 1e3, static_cast<unsigned long long>(r.allocated_bytes),
               static_cast<unsigned long long>(r.freed_bytes), static_cast<unsigned long long>(r.live_bytes),
               static_cast<unsigned long long>(r.heap_bytes), static_cast<unsigned long long>(r.released_bytes),
               static_cast<unsigned long long>(r.marked_objects), static_cast<unsigned long long>(r.promoted_bytes),
               static_cast<unsigned long long>(r.aged_bytes), static_cast<unsigned long long>(r.remembered_pages),
               static_cast<unsigned long long>(r.pages_protected), static_cast<unsigned long long>(r.barrier_faults),
               static_cast<unsigned long long>(r.pages_written), static_cast<unsigned long long>(r.pages_released),
               static_cast<unsigned long long>(r.pages_refaulted), static_cast<unsigned long long>(r.pages_fresh),
               static_cast<unsigned long long>(r.pages_opened), static_cast<unsigned long long>(r.protect_calls),
               static_cast<unsigned long long>(r.hot_pages), static_cast<unsigned long long>(r.full_stretch),
               static_cast<unsigned long long>(r.scan_calls), static_cast<unsigned long long>(r.copied_objects),
               static_cast<unsigned long long>(r.copied_bytes), static_cast<unsigned long long>(r.compacted_objects),
               static_cast<unsigned long long>(r.compacted_bytes), static_cast<unsigned long long>(r.evacuated_pages));
  std::fprintf(g_file,
               ",\n{\"name\":\"heap\",\"ph\":\"C\",\"pid\":%ld,\"tid\":%ld,\"ts\":%.3f,"
               "\"args\":{\"live\":%llu,\"heap\":%llu,\"committed\":%llu}}",
               pid, tid, static_cast<double>(r.start_ns + r.pause_ns) / 1e3,
               static_cast<unsigned long long>(r.live_bytes), static_cast<unsigned long long>(r.heap_bytes),
               static_cast<unsigned long long>(r.committed_bytes));
  g_first = false;
  std::fflush(g_file);
}

}  // namespace trace
}  // namespace keel::gc
