// policy.cpp: policy settings from the environment (policy.h).
#include "gc/policy.h"

#include "gc/env.h"
#include "gc/os_memory.h"

namespace keel::gc {

// The growth bound: past 100x the live data between collections the heap is effectively
// unbounded, which is what a typo would do.
constexpr double kMaxGrowth = 100.0;

Policy::Policy() {
  growth_ = EnvNumber("KEEL_GC_GROWTH", kDefaultGrowth, 0.0, kMaxGrowth);
  // A budget beyond what the machine could back means "never collect" (heap.md .sol.too-big).
  min_bytes_ = static_cast<size_t>(EnvBytes("KEEL_GC_MIN_BYTES", kDefaultMinBytes, 1, os::BackableBytes()));
  static_assert(int(Aging::kAdaptive) == 0 && int(Aging::kAlways) == 1 && int(Aging::kNever) == 2, "the choices below");
  aging_ = static_cast<Aging>(EnvChoice("KEEL_GC_AGING", int(Aging::kAdaptive), {"adaptive", "always", "never"}));
}

void Policy::Set(double growth, size_t min_bytes) {
  if (growth > 0.0) growth_ = growth;
  if (min_bytes > 0) min_bytes_ = min_bytes;
}

}  // namespace keel::gc
