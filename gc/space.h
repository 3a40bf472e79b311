// space.h: what every space shares: the byte counts the collector's policy reads, the totals of
// a minor sweep, and the problem sink their Check() reports into (docs/design/heap.md .sol.spaces).
#ifndef KEEL_GC_SPACE_H
#define KEEL_GC_SPACE_H

#include <cstddef>
#include <cstdint>

#include "gc/page.h"

namespace keel::gc {

// One collector's byte counts, owned by the collector; its spaces update them as they allocate,
// free and sweep. Only the collector's thread touches them.
struct ByteCounts {
  uint64_t since_gc = 0;       // claimed by allocation since the last collection
  uint64_t live = 0;           // old collectable bytes after the last collection, less explicit frees
  uint64_t aged = 0;           // exact: objects aged by the last minor collection, less frees
  uint64_t uncollectable = 0;  // exact: counted at allocation and GC_free
};

// What one minor sweep did, over all spaces.
struct MinorTotals {
  uint64_t promoted = 0;        // bytes that became old
  uint64_t aged_survivors = 0;  // of those, bytes that had been aged
  uint64_t aged = 0;            // bytes aged now (young survivors that stay young)
};

// What a plan's trace phase reports for the collection's record.
struct TraceTotals {
  uint64_t marked_objects = 0;    // marked in place
  uint64_t copied_objects = 0;    // moved (a moving plan)
  uint64_t copied_bytes = 0;
  uint64_t compacted_objects = 0;  // of those, old objects moved off evacuated pages
  uint64_t compacted_bytes = 0;
  uint64_t evacuated_pages = 0;    // small pages the sweep frees because their objects moved
  uint64_t remembered_pages = 0;  // old pages kept dirty for the next minor collection
  uint64_t barrier_ns = 0;        // of the trace, scanning written old pages
};

// Collects the problems a check finds and prints the first 50 (the count is always kept).
class Problems {
 public:
  void Report(const char* fmt, ...) __attribute__((format(printf, 2, 3)));
  size_t count() const { return count_; }

 private:
  size_t count_ = 0;
};

// What a space's Check() counted over its pages, for the verifier to hold against ByteCounts.
struct CheckedBytes {
  uint64_t live = 0;           // marked collectable bytes
  uint64_t aged = 0;
  uint64_t uncollectable = 0;  // allocated uncollectable bytes
};

// Between collections an aged slot is allocated and unmarked, and no slot is both allocated and
// marked (heap.md .inv.bits). Checks the first `words` bitmap words of d.
void CheckSlotBits(const PageDesc& d, size_t words, Problems& problems);

}  // namespace keel::gc

#endif  // KEEL_GC_SPACE_H
