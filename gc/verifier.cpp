// verifier.cpp: the heap verifier (DESIGN D12): walks every chunk and checks the page map, the
// descriptors, the bitmaps and the counters against each other (docs/design/heap.md .inv.*).
#include <algorithm>
#include <bit>
#include <cstdarg>
#include <cstdio>

#include "gc/collector.h"
#include "gc/page_map.h"

namespace keel::gc {

class Verifier {
 public:
  explicit Verifier(const Collector& c) : c_(c) {}

  size_t Run(bool strict) {
    for (const Chunk* ch : c_.heap_.chunks()) CheckChunk(*ch);
    size_t listed = 0;
    for (const PageDesc* d = c_.big_objects_; d != nullptr; d = d->next) {
      ++listed;
      if (d->state != PageState::kBigHead) Problem("big list holds %p in state %d", reinterpret_cast<void*>(d->start), int(d->state));
      if (d->next != nullptr && d->next->prev != d) Problem("big list back link broken at %p", reinterpret_cast<void*>(d->start));
    }
    if (listed != big_heads_) Problem("big list has %zu objects, heap has %zu big runs", listed, big_heads_);
    if (!c_.in_collection_ && c_.last_was_major_ && c_.bytes_since_gc_ == 0 && live_ != c_.live_bytes_) {
      Problem("live bytes %llu recorded, %llu counted", static_cast<unsigned long long>(c_.live_bytes_), static_cast<unsigned long long>(live_));
    }
    if (!c_.in_collection_ && aged_ != c_.aged_bytes_) {
      Problem("aged bytes %llu recorded, %llu counted", static_cast<unsigned long long>(c_.aged_bytes_), static_cast<unsigned long long>(aged_));
    }
    if (uncollectable_ != c_.uncollectable_bytes_) {
      Problem("uncollectable bytes %llu recorded, %llu counted", static_cast<unsigned long long>(c_.uncollectable_bytes_), static_cast<unsigned long long>(uncollectable_));
    }
    for (int k = 0; k < kKindCount; ++k) {
      for (int cls = 0; cls < kSizeClassCount; ++cls) CheckPartialList(k, cls);
    }
    if (listed_partial_ != flagged_partial_) Problem("partial lists hold %zu pages, %zu pages are flagged as listed", listed_partial_, flagged_partial_);
    if (strict) CheckPointers();
    return problems_;
  }

 private:
  void Problem(const char* fmt, ...) __attribute__((format(printf, 2, 3))) {
    ++problems_;
    if (problems_ > 50) return;  // enough to diagnose; the count is still returned
    va_list ap;
    va_start(ap, fmt);
    std::fputs("keel heap verifier: ", stderr);
    std::vfprintf(stderr, fmt, ap);
    std::fputc('\n', stderr);
    va_end(ap);
  }

  void CheckChunk(const Chunk& ch) {
    size_t ndesc = ch.dedicated ? 1 : ch.pages;
    uint32_t free_count = 0;
    for (size_t i = 0; i < ndesc; ++i) {
      const PageDesc& d = ch.descs[i];
      const void* page = reinterpret_cast<void*>(d.start);
      if (d.owner != &c_) Problem("page %p has another owner", page);
      bool free_bit = !ch.dedicated && ((ch.free_mask[i >> 6] >> (i & 63)) & 1);
      if (free_bit != (d.state == PageState::kFree)) Problem("page %p: free mask %d but state %d", page, free_bit, int(d.state));
      if (d.state == PageState::kFree) {
        ++free_count;
        for (const SlotBits& b : d.bits) {
          if (b.alloc != 0 || b.mark != 0 || b.age != 0) Problem("free page %p has bits set", page);
        }
        if (PageMap::Lookup(d.start) != &d) Problem("page map entry of free page %p is wrong", page);
        continue;
      }
      if (d.state == PageState::kBigTail) continue;
      if (d.state == PageState::kBigHead) {
        ++big_heads_;
        for (uint32_t p = 0; p < d.run_pages; ++p) {
          if (PageMap::Lookup(d.start + (uintptr_t{p} << kPageShift)) != &d) Problem("big run %p: page %u not mapped to its head", page, p);
        }
        if (d.big_bytes > (uint64_t{d.run_pages} << kPageShift)) Problem("big run %p: object larger than run", page);
        for (size_t w = 1; w < kBitmapWords; ++w) {
          if (d.bits[w].alloc != 0 || d.bits[w].mark != 0 || d.bits[w].age != 0) Problem("big run %p: stray bits", page);
        }
        CheckAgeBits(d, 1, page);
        if (d.IsAged(0)) {
          aged_ += d.big_bytes;
          if (std::find(c_.young_big_.begin(), c_.young_big_.end(), &d) == c_.young_big_.end()) {
            Problem("big object %p is aged but not on the young list", page);
          }
        }
        if (IsUncollectable(d.kind)) {
          if (d.IsAllocated(0)) uncollectable_ += d.big_bytes;
        } else if (d.IsMarked(0)) {
          live_ += d.big_bytes;
        }
        continue;
      }
      CheckSmall(d);
    }
    if (!ch.dedicated && free_count != ch.free_count) Problem("chunk %p: free count %u, %u free pages", reinterpret_cast<void*>(ch.base), ch.free_count, free_count);
  }

  void CheckSmall(const PageDesc& d) {
    const void* page = reinterpret_cast<void*>(d.start);
    const SizeClass& sc = kSizeClasses[d.size_class];
    if (d.obj_size != sc.size || d.magic != sc.magic || d.objects != sc.objects) Problem("page %p: class fields disagree with class %u", page, d.size_class);
    if (PageMap::Lookup(d.start) != &d) Problem("page map entry of page %p is wrong", page);
    for (uint32_t i = d.objects; i < kMaxObjectsPerPage; ++i) {
      if (d.IsAllocated(i)) {
        Problem("page %p: bit set for slot %u beyond its %u objects", page, i, d.objects);
        break;
      }
    }
    if (IsUncollectable(d.kind)) {
      size_t used = d.CountAllocated();
      uncollectable_ += used * d.obj_size;
      CheckUncollectable(d, used, page);
    } else {
      live_ += d.CountMarked() * d.obj_size;
    }
    if (d.on_partial) ++flagged_partial_;
    size_t aged = d.CountAged();
    aged_ += aged * d.obj_size;
    CheckAgeBits(d, (d.objects + 63u) / 64u, page);
    if (aged != 0 && !d.young_listed) Problem("page %p holds %zu aged objects but is not on the young list", page, aged);
  }

  // Between collections an aged slot is allocated and unmarked, and no slot is both allocated
  // and marked (heap.md .inv.bits).
  void CheckAgeBits(const PageDesc& d, size_t words, const void* page) {
    if (c_.in_collection_) return;
    for (size_t w = 0; w < words; ++w) {
      const SlotBits& b = d.bits[w];
      if ((b.age & ~(b.alloc & ~b.mark)) != 0) {
        Problem("page %p: aged slot %zu is not an unmarked allocated one", page, w * 64 + static_cast<size_t>(std::countr_zero(b.age & ~(b.alloc & ~b.mark))));
        return;
      }
      if ((b.alloc & b.mark) != 0) {
        Problem("page %p: slot %zu is both allocated and marked outside a collection", page, w * 64 + static_cast<size_t>(std::countr_zero(b.alloc & b.mark)));
        return;
      }
    }
  }

  // Between collections an uncollectable page is never empty, and one with a free slot is on
  // its partial list, where the allocator finds the slot (heap.md .inv.uncollectable).
  void CheckUncollectable(const PageDesc& d, size_t used, const void* page) {
    if (c_.in_collection_) return;
    if (used == 0) Problem("uncollectable page %p is empty but not freed", page);
    if (used < d.objects && !d.on_partial) Problem("uncollectable page %p has free slots but is not on its partial list", page);
  }

  void CheckPartialList(int k, int cls) {
    size_t n = 0;
    for (const PageDesc* d = c_.partial_[k][cls]; d != nullptr; d = d->next) {
      if (d->state != PageState::kSmall || int(d->kind) != k || d->size_class != cls) {
        Problem("partial list (kind %d, class %d) holds a page of another kind or class", k, cls);
        return;
      }
      if (!d->on_partial) Problem("partial list (kind %d, class %d) holds page %p not flagged as listed", k, cls, reinterpret_cast<void*>(d->start));
      ++listed_partial_;
      if (++n > c_.heap_.heap_bytes() / kPageSize) {
        Problem("partial list (kind %d, class %d) has a cycle", k, cls);
        return;
      }
    }
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
        for (uintptr_t p = start; p < end; p += sizeof(uintptr_t)) CheckWord(p, *reinterpret_cast<const uintptr_t*>(p));
      }
    });
  }

  void CheckWord(uintptr_t at, uintptr_t w) {
    PageDesc* t = PageMap::Lookup(w);
    if (t == nullptr || t->owner != &c_) return;
    if (t->state == PageState::kSmall) {
      uint32_t idx = t->IndexOf(w - t->start);
      if (idx < t->objects && t->ObjectStart(idx) == w && !t->IsAllocated(idx)) {
        Problem("word at %p points at free slot %p", reinterpret_cast<void*>(at), reinterpret_cast<void*>(w));
      }
    } else if (t->state == PageState::kFree && (w & 15) == 0) {
      Problem("word at %p points into free page %p", reinterpret_cast<void*>(at), reinterpret_cast<void*>(t->start));
    }
  }

  const Collector& c_;
  // Counted over the heap by one Run.
  uint64_t live_ = 0;           // marked collectable bytes
  uint64_t uncollectable_ = 0;  // allocated uncollectable bytes
  uint64_t aged_ = 0;           // aged bytes
  size_t big_heads_ = 0;        // big runs
  size_t flagged_partial_ = 0;  // small pages whose on_partial is set
  size_t listed_partial_ = 0;   // pages on the partial lists
  size_t problems_ = 0;
};

size_t Collector::Verify(bool strict) const { return Verifier(*this).Run(strict); }

}  // namespace keel::gc
