// page.cpp: bitmap range operations of the page descriptor (page.h).
#include "gc/page.h"

namespace keel::gc {
namespace {

// Mask of bits [lo, hi) within one 64-bit word, 0 <= lo < hi <= 64.
inline uint64_t RangeMask(uint32_t lo, uint32_t hi) {
  uint64_t upper = hi == 64 ? ~uint64_t{0} : (uint64_t{1} << hi) - 1;
  return upper & ~((uint64_t{1} << lo) - 1);
}

}  // namespace

void PageDesc::Recycle() {
  start = 0;
  obj_size = 0;
  magic = 0;
  objects = 0;
  kind = Kind::kNormal;
  state = PageState::kFree;
  size_class = 0;
  needs_zeroing = false;
  young_listed = false;
  refilled = false;
  on_partial = false;
  scan_cursor = 0;
  run_pages = 0;
  big_bytes = 0;
  live_objects = 0;
  forward = nullptr;
  next = nullptr;
  prev = nullptr;
  ClearBits();
}

void PageDesc::SetAllocRange(uint32_t from, uint32_t to) {
  while (from < to) {
    uint32_t w = from >> 6;
    uint32_t hi = (w + 1) * 64 < to ? 64 : to - w * 64;
    bits[w].alloc |= RangeMask(from & 63, hi);
    from = (w + 1) * 64;
  }
}

void PageDesc::ClearAllocRange(uint32_t from, uint32_t to) {
  while (from < to) {
    uint32_t w = from >> 6;
    uint32_t hi = (w + 1) * 64 < to ? 64 : to - w * 64;
    bits[w].alloc &= ~RangeMask(from & 63, hi);
    from = (w + 1) * 64;
  }
}

PageDesc::MinorCounts PageDesc::SweepMinor(bool ages) {
  MinorCounts n{0, 0, 0, 0};
  const size_t words = (objects + 63u) / 64u;
  const uint64_t ages_mask = ages ? ~uint64_t{0} : 0;
  for (size_t w = 0; w < words; ++w) {
    SlotBits& b = bits[w];
    uint64_t live_young = b.alloc & b.mark;
    uint64_t aged = live_young & ~b.age & ages_mask;
    uint64_t promoted = live_young & ~aged;
    uint64_t old = (b.mark & ~b.alloc) | promoted;
    n.old += static_cast<uint32_t>(PopCount(old));
    n.aged += static_cast<uint32_t>(PopCount(aged));
    n.promoted += static_cast<uint32_t>(PopCount(promoted));
    n.aged_survivors += static_cast<uint32_t>(PopCount(live_young & b.age));
    b = SlotBits{aged, old, aged};
  }
  return n;
}

bool PageDesc::NextFreeRun(uint32_t from, uint32_t* run_begin, uint32_t* run_end) const {
  const uint32_t n = objects;
  // Find the first free slot: a zero bit of (alloc | mark).
  uint32_t i = from;
  while (i < n) {
    uint32_t w = i >> 6;
    uint64_t used = bits[w].alloc | bits[w].mark;
    uint64_t free_bits = ~used & (~uint64_t{0} << (i & 63));
    if (free_bits != 0) {
      i = w * 64 + static_cast<uint32_t>(std::countr_zero(free_bits));
      break;
    }
    i = (w + 1) * 64;
  }
  if (i >= n) return false;
  // Extend to the next used slot.
  uint32_t j = i;
  while (j < n) {
    uint32_t w = j >> 6;
    uint64_t used = (bits[w].alloc | bits[w].mark) & (~uint64_t{0} << (j & 63));
    if (used != 0) {
      j = w * 64 + static_cast<uint32_t>(std::countr_zero(used));
      break;
    }
    j = (w + 1) * 64;
  }
  *run_begin = i;
  *run_end = j < n ? j : n;
  return true;
}

}  // namespace keel::gc
