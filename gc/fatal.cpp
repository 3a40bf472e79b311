// fatal.cpp: fatal misuse reports and warnings (fatal.h).
#include "gc/fatal.h"

#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>

namespace keel {
namespace {
std::atomic<WarnProc> g_warn_proc{nullptr};
}

void Fatal(const char* fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  std::fprintf(stderr, "keel: %s\n", buf);
  std::fflush(stderr);
  std::abort();
}

void Warn(const char* fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  WarnProc p = g_warn_proc.load(std::memory_order_acquire);
  if (p != nullptr) {
    p(buf, 0);
  } else {
    std::fprintf(stderr, "keel warning: %s\n", buf);
  }
}

void SetWarnProc(WarnProc p) { g_warn_proc.store(p, std::memory_order_release); }
WarnProc GetWarnProc() { return g_warn_proc.load(std::memory_order_acquire); }

}  // namespace keel
