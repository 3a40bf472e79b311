// policy.h: when to collect and how much free memory to keep. The heap is sized from the live
// data: the next collection comes after allocating growth * live bytes (at least min_bytes), and
// free pages beyond what the heap may use before the next major collection go back to the OS.
// Design notes: docs/design/heap.md .sol.policy, .sol.retain.
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
  // Committed free memory a major collection keeps (docs/design/heap.md .sol.retain). Free pages
  // go back by decay (DESIGN D13): a major collection gives back at once only when the heap
  // limit more than halves, that is when the program dropped most of its data; otherwise it
  // keeps everything (SIZE_MAX) and the decay thread takes back what then stays unused. A heap
  // that grows, or whose live data wavers (conservative retention does that), or that inherited
  // a dead heap's spare pages, would otherwise give back pages its next phase faults in again.
  // After a collapse it keeps the pages the next cycle is expected to use: the recent cycles'
  // peak of pages in use (`peak`), scaled down by twice the ratio of the new limit to the old
  // (and stays scaled), less the pages in use now; at least the next cycle's allocation; plus
  // slack.
  static size_t KeepCommitted(uint64_t* peak, uint64_t old_limit, uint64_t new_limit, uint64_t in_use,
                              uint64_t next_cycle) {
    if (old_limit == 0 || 2 * new_limit >= old_limit) return SIZE_MAX;
    const double ratio = static_cast<double>(new_limit) / static_cast<double>(old_limit);
    *peak = static_cast<uint64_t>(static_cast<double>(*peak) * 2.0 * ratio);
    uint64_t room = *peak > in_use ? *peak - in_use : 0;
    return static_cast<size_t>(std::max(room, next_cycle)) + kReleaseSlackBytes;
  }

  // Generational mode (docs/design/barrier.md .sol.policy). A minor collection comes after
  // young_budget() bytes; the budget adapts so minor pauses stay near the goal.
  // 2.5 ms leaves room under the 5 ms p99 goal for roots, dirty pages and protection. Measured
  // on binary-trees 21 (docs/design/barrier.md .sol.policy): goal 2 / 2.5 / 3 / 4 ms gave minor
  // p99 2.9 / 3.7 / 4.4-4.8 / 6.3 ms and wall 9.7-10.1 / 8.9-9.1 / 8.7-10.2 / 8.8-10.1 s: a larger
  // young generation lets more trees die young instead of being promoted and marked again.
  static constexpr uint64_t kMinorPauseGoalNs = 2'500'000;
  // 1 MiB: below it the fixed cost of a minor collection (roots, protection) dominates.
  static constexpr uint64_t kMinYoungBytes = uint64_t{1} << 20;
  // 32 MiB: a young generation larger than this stops fitting the caches it is swept from.
  static constexpr uint64_t kMaxYoungBytes = uint64_t{32} << 20;
  static constexpr uint64_t kInitialYoungBytes = uint64_t{8} << 20;

  // Hot pages (docs/design/barrier.md .sol.hot). A page found written after being protected
  // stays open for 2^level collections, the level rising by one at each such write, up to 64
  // collections; a collection it spends protected and unwritten lowers the level by one.
  static constexpr uint8_t kMaxHeatLevel = 6;
  // At most this many pages stay open at once: scanning 1,024 pages (16 MiB) costs a minor
  // collection about 2-4 ms, the price of some 100-200 write faults on a host where one costs
  // 20 us.
  static constexpr size_t kMaxHotPages = 1024;

  uint64_t young_budget() const { return young_budget_; }
  void AdaptYoungBudget(uint64_t minor_pause_ns) {
    if (minor_pause_ns > kMinorPauseGoalNs) {
      young_budget_ = std::max(kMinYoungBytes, young_budget_ * 3 / 4);
    } else if (minor_pause_ns < kMinorPauseGoalNs / 2) {
      young_budget_ = std::min(kMaxYoungBytes, young_budget_ * 5 / 4);
    }
  }
  // The old generation may grow by this share of growth() times the live data before the next
  // collection is a major one. A plan that ages survivors keeps 2/3 (0.4 at the default) rather
  // than the full-heap 0.6 because aged data and a young generation sized from the old one come
  // on top; a plan whose young data is only its fixed nursery (3m) gives the old generation the
  // whole growth, the nursery on top. HeapLimit bounds the sum.
  static constexpr double kAgingOldGrowthShare = 2.0 / 3.0;
  static constexpr double kNurseryOldGrowthShare = 1.0;
  static constexpr double kYoungCapRatio = 0.25;
  uint64_t MajorThreshold(uint64_t live_after_major, double old_growth_share) const {
    auto grown = static_cast<uint64_t>(static_cast<double>(live_after_major) * growth_ * old_growth_share);
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

  // Whether generations pay (docs/design/barrier.md .sol.payoff). A generational cycle runs
  // from one major collection to the next; its cost is every pause in it (minor ones and the
  // major that ends it) plus what the barrier cost the mutator meanwhile (write faults and
  // protection calls, counted, at the costs measured when the barrier started), per byte
  // allocated. A full collection's cost is its pause per byte of the budget it buys. When a
  // cycle that an allocation ended (not an explicit collection), with at least two minor
  // collections and 4 MiB allocated, cost half as much again per byte as the full
  // collection that ended it would have (a margin for what the estimates miss: both sides
  // move with the live data), and the barrier's own work (finding and scanning written pages,
  // changing protection, the mutator's faults and calls) was most of that cost, the collector
  // runs a stretch of full collections that protect nothing, then tries generations again;
  // each stretch after a failed try is twice as long as the last (16 to 128 collections), and
  // a cycle that pays resets it. Survivors that make minor collections dear (a large structure
  // built across several of them) are traced once, not at every collection, so they alone do
  // not count against generations.
  static constexpr unsigned kMinorsBeforeJudging = 2;
  static constexpr double kNoPayoffRatio = 1.5;
  // Cycles that allocated less say little about costs per byte (explicit collections).
  static constexpr uint64_t kMinJudgedBytes = uint64_t{4} << 20;
  static constexpr unsigned kFirstFullStretch = 16;
  static constexpr unsigned kMaxFullStretch = 128;
  void NoteMinorCost(uint64_t cost_ns, uint64_t barrier_ns, uint64_t allocated) {
    cycle_cost_ns_ += cost_ns;
    cycle_barrier_ns_ += barrier_ns;
    cycle_bytes_ += allocated;
    ++cycle_minors_;
  }
  // After a major collection that cost `cost_ns` (its pause and the mutator's barrier costs
  // since the previous collection) with `allocated` bytes before it, and buys `next_budget`
  // bytes. `ends_cycle`: it ends a generational cycle (it is not part of a stretch). Returns
  // how many full collections to run from the next one on (0: stay generational).
  unsigned NoteMajorCost(uint64_t pause_ns, uint64_t cost_ns, uint64_t barrier_ns, uint64_t allocated,
                         uint64_t next_budget, bool ends_cycle) {
    full_cost_ = static_cast<double>(pause_ns) / static_cast<double>(std::max<uint64_t>(next_budget, 1));
    unsigned stretch = 0;
    if (ends_cycle && cycle_minors_ >= kMinorsBeforeJudging && cycle_bytes_ + allocated >= kMinJudgedBytes) {
      const uint64_t total = cycle_cost_ns_ + cost_ns;
      cycle_cost_ = static_cast<double>(total) / static_cast<double>(std::max<uint64_t>(cycle_bytes_ + allocated, 1));
      barrier_share_ = static_cast<double>(cycle_barrier_ns_ + barrier_ns) / static_cast<double>(std::max<uint64_t>(total, 1));
      if (cycle_cost_ > kNoPayoffRatio * full_cost_ && barrier_share_ > 0.5) {
        stretch = BeginStretch();
      } else {
        stretch_ = kFirstFullStretch;
      }
    }
    cycle_cost_ns_ = 0;
    cycle_barrier_ns_ = 0;
    cycle_bytes_ = 0;
    cycle_minors_ = 0;
    return stretch;
  }
  // A collection due to be minor finds written, since the previous collection, at least half of
  // the old pages that were protected, and at least kMinSpreadPages of them: writes are spread
  // over the old generation and protecting it again cannot pay, whatever the rest of the cycle
  // would show. It runs as a major collection that protects nothing and begins a stretch:
  // NoteSpreadWrites returns its length, and doubles the next, as a failed cycle does.
  static constexpr uint64_t kMinSpreadPages = 256;  // 4 MiB of old pages
  static bool WritesSpread(uint64_t written_pages, uint64_t protected_pages) {
    return protected_pages >= kMinSpreadPages && 2 * written_pages >= protected_pages;
  }
  unsigned NoteSpreadWrites() { return BeginStretch(); }
  double cycle_cost() const { return cycle_cost_; }
  double barrier_share() const { return barrier_share_; }
  double full_cost() const { return full_cost_; }

  void Set(double growth, size_t min_bytes);
  double growth() const { return growth_; }
  size_t min_bytes() const { return min_bytes_; }

 private:
  // The stretch of full collections to run now; the next one after a failed try is twice as long.
  unsigned BeginStretch() {
    const unsigned stretch = stretch_;
    stretch_ = std::min(stretch_ * 2, kMaxFullStretch);
    return stretch;
  }

  double growth_ = kDefaultGrowth;
  size_t min_bytes_ = kDefaultMinBytes;
  uint64_t young_budget_ = kInitialYoungBytes;
  Aging aging_ = Aging::kAdaptive;
  double aged_survival_ = 0.0;  // running estimate: share of aged bytes that survive
  unsigned minors_since_aging_ = 0;
  bool large_cohort_ = false;  // the last aging collection aged at least kMinAgedSample bytes
  uint64_t cycle_cost_ns_ = 0;  // the generational cycle so far
  uint64_t cycle_barrier_ns_ = 0;
  double barrier_share_ = 0.0;  // of the last cycle judged
  uint64_t cycle_bytes_ = 0;
  unsigned cycle_minors_ = 0;
  double cycle_cost_ = 0.0;  // ns per allocated byte of the last cycle judged
  double full_cost_ = 0.0;   // ns per budget byte of the last major collection
  unsigned stretch_ = kFirstFullStretch;
};

}  // namespace keel::gc

#endif  // KEEL_GC_POLICY_H
