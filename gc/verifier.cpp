// verifier.cpp: the heap verifier (DESIGN D12): walks every chunk and checks the page map, the
// descriptors, the bitmaps and the counters against each other (docs/design/heap.md .inv.*),
// has each space check itself (.sol.spaces), and audits the thread's registered frames
// (docs/design/roots.md .sol.frame-audit).
#include <algorithm>
#include <bit>
#include <cstdarg>
#include <cstdio>

#include "gc/collector.h"
#include "gc/page_map.h"
#include "gc/space.h"
#include "gc/variable_stack.h"

namespace keel::gc {

void Problems::Report(const char* fmt, ...) {
  ++count_;
  if (count_ > 50) return;  // enough to diagnose; the count is still returned
  va_list ap;
  va_start(ap, fmt);
  std::fputs("keel heap verifier: ", stderr);
  std::vfprintf(stderr, fmt, ap);
  std::fputc('\n', stderr);
  va_end(ap);
}

void CheckSlotBits(const PageDesc& d, size_t words, Problems& problems) {
  const void* page = reinterpret_cast<const void*>(d.start);
  for (size_t w = 0; w < words; ++w) {
    const SlotBits& b = d.bits[w];
    if ((b.age & ~(b.alloc & ~b.mark)) != 0) {
      problems.Report("page %p: aged slot %zu is not an unmarked allocated one", page,
                      w * 64 + static_cast<size_t>(std::countr_zero(b.age & ~(b.alloc & ~b.mark))));
      return;
    }
    if ((b.alloc & b.mark) != 0) {
      problems.Report("page %p: slot %zu is both allocated and marked outside a collection", page,
                      w * 64 + static_cast<size_t>(std::countr_zero(b.alloc & b.mark)));
      return;
    }
  }
}

// The heap's own structure (chunks, page map, free pages) is checked here; each space checks
// its pages and lists (Plan::Check), and the counts they return are held against the
// collector's figures.
class Verifier {
 public:
  explicit Verifier(const Collector& c) : c_(c) {}

  size_t Run(bool strict) {
    for (const Chunk* ch : c_.heap_.chunks()) CheckChunk(*ch);
    CheckedBytes counted;
    c_.plan_.Check(problems_, counted, c_.in_collection_);
    const ByteCounts& bytes = c_.bytes_;
    if (!c_.in_collection_ && c_.last_was_major_ && bytes.since_gc == 0 && counted.live != bytes.live) {
      problems_.Report("live bytes %llu recorded, %llu counted", ULL(bytes.live), ULL(counted.live));
    }
    if (!c_.in_collection_ && counted.aged != bytes.aged) {
      problems_.Report("aged bytes %llu recorded, %llu counted", ULL(bytes.aged), ULL(counted.aged));
    }
    if (counted.uncollectable != bytes.uncollectable) {
      problems_.Report("uncollectable bytes %llu recorded, %llu counted", ULL(bytes.uncollectable), ULL(counted.uncollectable));
    }
    if (strict) CheckPointers();
    size_t problems = problems_.count();
    // The registered frames are the calling thread's: audited only on the collector's own
    // thread (not an orphan's collection, run by another thread), against the mutator's stack
    // top during a collection (roots.md .sol.frame-audit).
    if (!c_.orphan_ && Collector::CurrentOrNull() == &c_) problems += CheckVariableStack(c_, c_.mutator_stack_top_);
    return problems;
  }

 private:
  static unsigned long long ULL(uint64_t n) { return static_cast<unsigned long long>(n); }
  void CheckChunk(const Chunk& ch) {
    size_t ndesc = ch.dedicated ? 1 : ch.pages;
    uint32_t free_count = 0;
    for (size_t i = 0; i < ndesc; ++i) {
      const PageDesc& d = ch.descs[i];
      const void* page = reinterpret_cast<void*>(d.start);
      if (d.Owner() != &c_) problems_.Report("page %p has another owner", page);
      bool free_bit = !ch.dedicated && ((ch.free_mask[i >> 6] >> (i & 63)) & 1);
      if (free_bit != (d.state == PageState::kFree)) problems_.Report("page %p: free mask %d but state %d", page, free_bit, int(d.state));
      if (d.state != PageState::kFree) continue;
      ++free_count;
      for (const SlotBits& b : d.bits) {
        if (b.alloc != 0 || b.mark != 0 || b.age != 0) problems_.Report("free page %p has bits set", page);
      }
      if (PageMap::Lookup(d.start) != &d) problems_.Report("page map entry of free page %p is wrong", page);
    }
    if (!ch.dedicated && free_count != ch.free_count) problems_.Report("chunk %p: free count %u, %u free pages", reinterpret_cast<void*>(ch.base), ch.free_count, free_count);
  }

  // Every word of a live pointerful object that equals an object start must name an allocated
  // object (docs/design/heap.md .inv.no-dangling).
  void CheckPointers() {
    c_.heap_.ForEachInUse([this](PageDesc& d) {
      if (!IsPointerful(d.kind)) return;
      for (uint32_t i = 0; i < d.objects; ++i) {
        if (!d.IsAllocated(i)) continue;
        uintptr_t start = d.state == PageState::kSmall ? d.ObjectStart(i) : d.start;
        uintptr_t end = start + (d.state == PageState::kSmall ? d.obj_size : d.big_bytes);
        for (uintptr_t p = start; p < end; p += sizeof(uintptr_t)) CheckWord(start, d.kind, p, *reinterpret_cast<const uintptr_t*>(p));
      }
    });
  }

  void CheckWord(uintptr_t obj, Kind kind, uintptr_t at, uintptr_t w) {
    PageDesc* t = PageMap::Lookup(w);
    if (t == nullptr || t->Owner() != &c_) return;
    if (t->state == PageState::kSmall) {
      uint32_t idx = t->IndexOf(w - t->start);
      if (idx < t->objects && t->ObjectStart(idx) == w && !t->IsAllocated(idx)) {
        problems_.Report("word at %p (of %s object %p) points at free slot %p", reinterpret_cast<void*>(at), KindName(kind),
                         reinterpret_cast<void*>(obj), reinterpret_cast<void*>(w));
      }
    } else if (t->state == PageState::kFree && (w & 15) == 0) {
      problems_.Report("word at %p (of %s object %p) points into free page %p", reinterpret_cast<void*>(at), KindName(kind),
                       reinterpret_cast<void*>(obj), reinterpret_cast<void*>(t->start));
    }
  }

  const Collector& c_;
  Problems problems_;
};

size_t Collector::Verify(bool strict) const { return Verifier(*this).Run(strict); }

}  // namespace keel::gc
