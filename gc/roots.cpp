// roots.cpp: registered ranges, data segments, immobile boxes, pins (roots.h,
// docs/design/roots.md).
#include "gc/roots.h"

#include <link.h>

#include <algorithm>
#include <new>

#include "gc/fatal.h"
#include "gc/marker.h"

namespace keel::gc {

// A slab of immobile boxes. A live box holds the user's pointer; a free box holds the address of
// the next free box with bit 0 set, which no object start can equal (.sol.boxes).
struct Roots::BoxSlab {
  static constexpr size_t kBoxes = 510;  // the slab with its live mask fits in 4 KiB
  uintptr_t words[kBoxes];
  uint64_t live[(kBoxes + 63) / 64];
};

Roots::Roots() = default;

Roots::~Roots() {
  for (BoxSlab* s : box_slabs_) delete s;
}

void Roots::AddStack(void* lo, void* hi) {
  stacks_.push_back(Range{reinterpret_cast<uintptr_t>(lo), reinterpret_cast<uintptr_t>(hi)});
}

void Roots::RemoveStack(void* lo) {
  auto key = reinterpret_cast<uintptr_t>(lo);
  std::erase_if(stacks_, [key](const Range& r) { return r.lo == key; });
}

void Roots::AddRange(const void* lo, const void* hi, bool unique, const char* who) {
  auto l = reinterpret_cast<uintptr_t>(lo);
  auto h = reinterpret_cast<uintptr_t>(hi);
  if (h <= l) Fatal("%s: empty or inverted range [%p, %p)", who, lo, hi);
  for (const Range& r : ranges_) {
    if (r.lo != l) continue;
    if (unique) Fatal("%s: address %p is already registered as a root (register each static once)", who, lo);
    if (r.hi >= h) return;
  }
  ranges_.push_back(Range{l, h});
}

void Roots::RemoveRanges(const void* lo, const void* hi) {
  auto l = reinterpret_cast<uintptr_t>(lo);
  auto h = reinterpret_cast<uintptr_t>(hi);
  std::erase_if(ranges_, [l, h](const Range& r) { return r.lo >= l && r.hi <= h; });
}

void** Roots::NewImmobileBox(void* p) {
  if (free_box_ == 0) {
    auto* slab = new BoxSlab;
    for (size_t i = 0; i < BoxSlab::kBoxes; ++i) {
      uintptr_t next = i + 1 < BoxSlab::kBoxes ? reinterpret_cast<uintptr_t>(&slab->words[i + 1]) : free_box_;
      slab->words[i] = next | 1;
    }
    std::fill(std::begin(slab->live), std::end(slab->live), 0);
    free_box_ = reinterpret_cast<uintptr_t>(&slab->words[0]);
    box_slabs_.push_back(slab);
  }
  auto* box = reinterpret_cast<uintptr_t*>(free_box_);
  free_box_ = *box & ~uintptr_t{1};
  for (BoxSlab* s : box_slabs_) {
    if (box >= s->words && box < s->words + BoxSlab::kBoxes) {
      size_t i = static_cast<size_t>(box - s->words);
      s->live[i >> 6] |= uint64_t{1} << (i & 63);
      break;
    }
  }
  *box = reinterpret_cast<uintptr_t>(p);
  return reinterpret_cast<void**>(box);
}

void Roots::FreeImmobileBox(void** b) {
  auto* box = reinterpret_cast<uintptr_t*>(b);
  for (BoxSlab* s : box_slabs_) {
    if (box < s->words || box >= s->words + BoxSlab::kBoxes) continue;
    size_t i = static_cast<size_t>(box - s->words);
    uint64_t bit = uint64_t{1} << (i & 63);
    if ((s->live[i >> 6] & bit) == 0) {
      Fatal("scheme_free_immobile_box: immobile box %p is not allocated (freed twice?)", static_cast<void*>(b));
    }
    s->live[i >> 6] &= ~bit;
    *box = free_box_ | 1;
    free_box_ = reinterpret_cast<uintptr_t>(box);
    return;
  }
  Fatal("scheme_free_immobile_box: %p is not an immobile box of this place", static_cast<void*>(b));
}

void Roots::Pin(void* p) { ++pins_[p]; }

void Roots::Unpin(void* p) {
  auto it = pins_.find(p);
  if (it == pins_.end()) {
    Fatal("scheme_gc_ptr_ok: %p is not pinned (no matching scheme_dont_gc_ptr)", p);
  }
  if (--it->second == 0) pins_.erase(it);
}

size_t Roots::pin_count(void* p) const {
  auto it = pins_.find(p);
  return it == pins_.end() ? 0 : it->second;
}

namespace {

struct SegmentScan {
  std::vector<Range>* out;
};

int CollectSegments(dl_phdr_info* info, size_t, void* data) {
  auto* scan = static_cast<SegmentScan*>(data);
  for (ElfW(Half) i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD || (ph.p_flags & PF_W) == 0) continue;
    uintptr_t lo = info->dlpi_addr + ph.p_vaddr;
    scan->out->push_back(Range{lo, lo + ph.p_memsz});
  }
  return 0;
}

int ReadLoaderCounters(dl_phdr_info* info, size_t size, void* data) {
  auto* counters = static_cast<unsigned long long*>(data);
  if (size >= offsetof(dl_phdr_info, dlpi_subs) + sizeof(info->dlpi_subs)) {
    counters[0] = info->dlpi_adds;
    counters[1] = info->dlpi_subs;
  }
  return 1;  // the counters are the same in every entry; one is enough
}

}  // namespace

void Roots::RefreshDataSegments() {
  unsigned long long counters[2] = {0, 0};
  dl_iterate_phdr(ReadLoaderCounters, counters);
  if (counters[0] == dl_adds_ && counters[1] == dl_subs_ && !data_segments_.empty()) return;
  data_segments_.clear();
  SegmentScan scan{&data_segments_};
  dl_iterate_phdr(CollectSegments, &scan);
  dl_adds_ = counters[0];
  dl_subs_ = counters[1];
}

void Roots::Trace(Marker& m) {
  for (const Range& r : stacks_) m.ScanRange(r.lo, r.hi, true);
  const bool heap_rule = m.heap_interior();
  for (const Range& r : ranges_) m.ScanRange(r.lo, r.hi, heap_rule);
  if (auto_statics_) {
    RefreshDataSegments();
    for (const Range& r : data_segments_) m.ScanRange(r.lo, r.hi, heap_rule);
  }
  for (BoxSlab* s : box_slabs_) {
    m.ScanRange(reinterpret_cast<uintptr_t>(s->words), reinterpret_cast<uintptr_t>(s->words + BoxSlab::kBoxes), heap_rule);
  }
  for (const auto& [p, count] : pins_) m.MarkWord(reinterpret_cast<uintptr_t>(p), true);
}

}  // namespace keel::gc
