// policy.cpp: policy settings from the environment (policy.h).
#include "gc/policy.h"

#include <cstdlib>
#include <cstring>

#include "gc/fatal.h"

namespace keel::gc {

Policy::Policy() {
  if (const char* g = std::getenv("KEEL_GC_GROWTH")) {
    char* end = nullptr;
    double v = std::strtod(g, &end);
    if (end != g && v > 0.0 && v <= 100.0) {
      growth_ = v;
    } else {
      Warn("KEEL_GC_GROWTH=%s is not a number in (0, 100]; using %.2f", g, growth_);
    }
  }
  if (const char* m = std::getenv("KEEL_GC_MIN_BYTES")) {
    char* end = nullptr;
    unsigned long long v = std::strtoull(m, &end, 10);
    if (end != m && v > 0) {
      min_bytes_ = static_cast<size_t>(v);
    } else {
      Warn("KEEL_GC_MIN_BYTES=%s is not a positive byte count; using %zu", m, min_bytes_);
    }
  }
  if (const char* a = std::getenv("KEEL_GC_AGING")) {
    if (std::strcmp(a, "adaptive") == 0) {
      aging_ = Aging::kAdaptive;
    } else if (std::strcmp(a, "always") == 0) {
      aging_ = Aging::kAlways;
    } else if (std::strcmp(a, "never") == 0) {
      aging_ = Aging::kNever;
    } else {
      Warn("KEEL_GC_AGING=%s is not adaptive, always or never; using adaptive", a);
    }
  }
}

void Policy::Set(double growth, size_t min_bytes) {
  if (growth > 0.0) growth_ = growth;
  if (min_bytes > 0) min_bytes_ = min_bytes;
}

}  // namespace keel::gc
