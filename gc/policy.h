// policy.h: when to collect and how much free memory to keep. The heap is sized from the live
// data: the next collection comes after allocating growth * live bytes (at least min_bytes), and
// free pages beyond that budget go back to the OS. Design note: docs/design/heap.md .sol.policy.
#ifndef KEEL_GC_POLICY_H
#define KEEL_GC_POLICY_H

#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace keel::gc {

class Policy {
 public:
  // 0.6 keeps the heap near 1.6x the live data, inside the 1.8x peak-RSS goal with room for
  // fragmentation, while a collection still frees most of what the cycle allocated.
  static constexpr double kDefaultGrowth = 0.6;
  // 4 MiB: below this a collection costs more in fixed work (roots, sweep) than it saves.
  static constexpr size_t kDefaultMinBytes = size_t{4} << 20;
  // Committed free pages kept beyond the next cycle's budget: absorbs jitter without faults.
  static constexpr size_t kReleaseSlackBytes = size_t{1} << 20;

  Policy();  // reads KEEL_GC_GROWTH, KEEL_GC_MIN_BYTES and KEEL_GC_AGING

  // Bytes to allocate before the next collection, given the live bytes after this one.
  uint64_t NextBudget(uint64_t live_bytes) const {
    auto grown = static_cast<uint64_t>(static_cast<double>(live_bytes) * growth_);
    return std::max<uint64_t>(grown, min_bytes_);
  }
  // Committed free memory worth keeping after a collection.
  size_t KeepCommitted(uint64_t budget) const { return static_cast<size_t>(budget) + kReleaseSlackBytes; }

  // Generational mode (docs/design/barrier.md .sol.policy). A minor collection comes after
  // young_budget() bytes; the budget adapts so minor pauses stay near the goal.
  // 2 ms leaves room under the 5 ms p99 goal for roots, dirty pages and protection.
  static constexpr uint64_t kMinorPauseGoalNs = 2'000'000;
  // 1 MiB: below it the fixed cost of a minor collection (roots, protection) dominates.
  static constexpr uint64_t kMinYoungBytes = uint64_t{1} << 20;
  // 32 MiB: a young generation larger than this stops fitting the caches it is swept from.
  static constexpr uint64_t kMaxYoungBytes = uint64_t{32} << 20;
  static constexpr uint64_t kInitialYoungBytes = uint64_t{8} << 20;

  uint64_t young_budget() const { return young_budget_; }
  void AdaptYoungBudget(uint64_t minor_pause_ns) {
    if (minor_pause_ns > kMinorPauseGoalNs) {
      young_budget_ = std::max(kMinYoungBytes, young_budget_ * 3 / 4);
    } else if (minor_pause_ns < kMinorPauseGoalNs / 2) {
      young_budget_ = std::min(kMaxYoungBytes, young_budget_ * 5 / 4);
    }
  }
  // The old generation may grow by this fraction of the live data before the next collection is
  // a major one: 0.4 rather than the full-heap 0.6 because young and aged data come on top.
  // HeapLimit bounds the sum.
  static constexpr double kOldGrowthRatio = 2.0 / 3.0;  // of growth(): 0.4 at the default
  static constexpr double kYoungCapRatio = 0.25;
  uint64_t MajorThreshold(uint64_t live_after_major) const {
    auto grown = static_cast<uint64_t>(static_cast<double>(live_after_major) * growth_ * kOldGrowthRatio);
    return live_after_major + std::max<uint64_t>(grown, min_bytes_);
  }
  // Bytes to allocate before the next minor collection, given the old generation's size.
  uint64_t YoungLimit(uint64_t old_bytes) const {
    auto cap = static_cast<uint64_t>(static_cast<double>(old_bytes) * kYoungCapRatio);
    return std::min(young_budget_, std::max(cap, kMinYoungBytes));
  }

  // The heap a full collection would allow before the next one: live + NextBudget(live). A
  // generational heap stays inside the same bound (docs/design/barrier.md .sol.policy).
  uint64_t HeapLimit(uint64_t live_after_major) const { return live_after_major + NextBudget(live_after_major); }

  // Adaptive tenuring (docs/design/barrier.md .sol.age). A minor collection normally keeps its
  // young survivors young for one more cycle, so data that dies soon after a collection is not
  // promoted. When most aged objects survive their second minor collection anyway, aging only
  // traces them twice; then, as long as the cohorts are large enough to matter, survivors go to
  // the old generation at once, with one aging collection in every kProbeEvery to notice when
  // that changes.
  enum class Aging : uint8_t { kAdaptive, kAlways, kNever };
  static constexpr double kTenureSurvival = 0.9;
  static constexpr unsigned kProbeEvery = 8;
  // Aged cohorts smaller than this cost little to trace twice and say little about survival.
  static constexpr uint64_t kMinAgedSample = uint64_t{64} << 10;
  bool AgeNextMinor() const {
    if (aging_ != Aging::kAdaptive) return aging_ == Aging::kAlways;
    bool tenure = aged_survival_ >= kTenureSurvival && large_cohort_ && minors_since_aging_ + 1 < kProbeEvery;
    return !tenure;
  }
  // After a minor collection: `aged_before` bytes were aged when it started and `survivors` of
  // them survived it; `aged` says whether it aged its own young survivors, `aged_after` bytes.
  void NoteMinor(uint64_t aged_before, uint64_t survivors, bool aged, uint64_t aged_after) {
    if (aged_before >= kMinAgedSample) {
      aged_survival_ = 0.5 * aged_survival_ + 0.5 * static_cast<double>(survivors) / static_cast<double>(aged_before);
    }
    if (aged) {
      minors_since_aging_ = 0;
      large_cohort_ = aged_after >= kMinAgedSample;
    } else {
      ++minors_since_aging_;
    }
  }
  double aged_survival() const { return aged_survival_; }
  Aging aging() const { return aging_; }

  void Set(double growth, size_t min_bytes);
  double growth() const { return growth_; }
  size_t min_bytes() const { return min_bytes_; }

 private:
  double growth_ = kDefaultGrowth;
  size_t min_bytes_ = kDefaultMinBytes;
  uint64_t young_budget_ = kInitialYoungBytes;
  Aging aging_ = Aging::kAdaptive;
  double aged_survival_ = 0.0;  // running estimate: share of aged bytes that survive
  unsigned minors_since_aging_ = 0;
  bool large_cohort_ = false;  // the last aging collection aged at least kMinAgedSample bytes
};

}  // namespace keel::gc

#endif  // KEEL_GC_POLICY_H
