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

  Policy();  // reads KEEL_GC_GROWTH and KEEL_GC_MIN_BYTES

  // Bytes to allocate before the next collection, given the live bytes after this one.
  uint64_t NextBudget(uint64_t live_bytes) const {
    auto grown = static_cast<uint64_t>(static_cast<double>(live_bytes) * growth_);
    return std::max<uint64_t>(grown, min_bytes_);
  }
  // Committed free memory worth keeping after a collection.
  size_t KeepCommitted(uint64_t budget) const { return static_cast<size_t>(budget) + kReleaseSlackBytes; }

  void Set(double growth, size_t min_bytes);
  double growth() const { return growth_; }
  size_t min_bytes() const { return min_bytes_; }

 private:
  double growth_ = kDefaultGrowth;
  size_t min_bytes_ = kDefaultMinBytes;
};

}  // namespace keel::gc

#endif  // KEEL_GC_POLICY_H
