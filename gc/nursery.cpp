// nursery.cpp: the nursery's area and its checks (nursery.h, docs/design/precise.md
// .sol.nursery, .sol.header, .sol.checked).
#include "gc/nursery.h"

#include <algorithm>
#include <cstring>

#include "gc/fatal.h"

// The calling thread's nursery area (schemegc2.h; precise.md .sol.inline). Defined in both
// variants: under CGC it stays {0, 0}.
extern "C" {
KEEL_API __thread keel_nursery_area keel_nursery __attribute__((tls_model("initial-exec"))) = {0, 0};
}

namespace keel::gc {

namespace {

// What the checked build fills an emptied area with: odd, so no pointer check accepts it as an
// object's start, and far from any mapping, so a dereference faults at once.
constexpr uint64_t kPoison = 0xdeadbeefdeadbeefull;

// scheme.h writes headers and names kinds with these numbers (.sol.inline).
static_assert(static_cast<int>(Kind::kNormal) == KEEL_NURSERY_NORMAL && static_cast<int>(Kind::kAtomic) == KEEL_NURSERY_ATOMIC &&
              static_cast<int>(Kind::kTagged) == KEEL_NURSERY_TAGGED);
static_assert(Nursery::kMaxObjectBytes == KEEL_NURSERY_MAX_OBJECT && Nursery::kHeaderBytes == sizeof(uintptr_t));

}  // namespace

Nursery::Nursery(Heap& heap, bool bind_thread) : heap_(heap), area_(bind_thread ? &keel_nursery : &own_) {
  *area_ = keel_nursery_area{0, 0};
}

Nursery::~Nursery() { DetachThread(); }

void Nursery::DetachThread() {
  if (area_ == &own_) return;
  own_ = *area_;
  *area_ = keel_nursery_area{0, 0};
  area_ = &own_;
}

bool Nursery::Resize(size_t bytes) {
  if (area_->cursor != origin_) Fatal("nursery: resized while it holds objects");
  const size_t pages = (bytes + kPageSize - 1) >> kPageShift;
  if (pages == 0) return false;
  PageDesc* run = heap_.AllocateRun(pages);
  if (run == nullptr) return false;
  run->state = PageState::kNursery;
  run->kind = Kind::kNormal;
  if (run_ != nullptr) heap_.FreeRun(run_);
  run_ = run;
  start_ = origin_ = area_->cursor = run->start;
  end_ = alloc_end_ = run->start + (pages << kPageShift);
  // Fresh pages are zero; reused ones are zeroed as allocation reaches them.
  zeroed_ = area_->limit = run->needs_zeroing ? start_ : end_;
  return true;
}

// A poisoned area keeps its pattern until the zeroing ahead of the cursor reaches it, so a
// stale pointer past the cursor reads the poison, not zeros that look like NULL.
void Nursery::Reset(bool checked) {
  if (checked) {
    for (uintptr_t p = origin_; p < zeroed_; p += sizeof(uint64_t)) *reinterpret_cast<uint64_t*>(p) = kPoison;
    const uintptr_t middle = start_ + ((end_ - start_) / 2 & ~uintptr_t{7});
    const bool lower = origin_ == start_;
    origin_ = lower ? middle : start_;
    alloc_end_ = lower ? end_ : middle;
  }
  area_->cursor = zeroed_ = area_->limit = origin_;
}

void Nursery::ZeroAhead(uintptr_t upto) {
  const uintptr_t to = std::min(alloc_end_, std::max(upto, zeroed_ + kZeroBlock));
  std::memset(reinterpret_cast<void*>(zeroed_), 0, to - zeroed_);
  zeroed_ = to;
}

void Nursery::Check(Problems& problems) const {
  const uintptr_t cur = area_->cursor;
  const uintptr_t limit = area_->limit;
  if (start_ > origin_ || origin_ > cur || cur > zeroed_ || zeroed_ > alloc_end_ || alloc_end_ > end_ ||
      limit > zeroed_ || limit < cur) {
    problems.Report("nursery: cursor %p, zeroed up to %p and limit %p out of order in its area [%p, %p)",
                    reinterpret_cast<void*>(cur), reinterpret_cast<void*>(zeroed_), reinterpret_cast<void*>(limit),
                    reinterpret_cast<void*>(start_), reinterpret_cast<void*>(end_));
    return;
  }
  if (run_ != nullptr && run_->state != PageState::kNursery) problems.Report("nursery: its run's head is in state %d", int(run_->state));
  for (uintptr_t p = origin_; p < cur;) {
    const uintptr_t header = *reinterpret_cast<const uintptr_t*>(p);
    const size_t bytes = BytesOf(header);
    if ((header & 0xe) != 0 || bytes == 0 || bytes > kMaxObjectBytes + 7 ||
        static_cast<int>(KindOf(header)) >= kKindCount) {
      problems.Report("nursery: bad header %#llx at %p", static_cast<unsigned long long>(header), reinterpret_cast<void*>(p));
      return;
    }
    if (p + kHeaderBytes + bytes > cur) {
      problems.Report("nursery: object at %p runs past the cursor", reinterpret_cast<void*>(p + kHeaderBytes));
      return;
    }
    p += kHeaderBytes + bytes;
  }
}

}  // namespace keel::gc
