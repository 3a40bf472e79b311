// nursery.h: the precise plan's copying nursery: one contiguous run of heap pages, bump
// allocated with a header word before each object, emptied by every collection and reused,
// never released or protected (docs/design/precise.md .sol.nursery, .sol.header).
#ifndef KEEL_GC_NURSERY_H
#define KEEL_GC_NURSERY_H

#include <cstddef>
#include <cstdint>

#include "gc/heap.h"
#include "gc/kind.h"
#include "gc/space.h"
#include "schemegc2.h"

namespace keel::gc {

// Owned by a plan; touched only on its collector's thread. The area is [start, end); objects
// lie back to back from start up to the cursor, each a header word and then the object, whose
// address is what the program sees. The header (.sol.header):
//
//   | bits 63..12                          | bits 11..4 | bits 3..1 | bit 0     |
//   | object size in 8-byte words (>= 1)   | kind       | 0         | forwarded |
//
// The header's layout and the kinds' numbers are also scheme.h's (its inline scheme_malloc
// writes headers; .sol.inline).
//
// When the copier moves an object it sets the forwarded bit and stores the new address in the
// object's first word (the object's contents live on in the copy), so the header keeps the
// size and the area can still be walked. Invariants (checked by Check): every header from start
// to the cursor is well formed and its object ends at or before the cursor; the cursor never
// passes end.
class Nursery {
 public:
  // Bytes of header before every object.
  static constexpr size_t kHeaderBytes = sizeof(uintptr_t);
  // The largest object the nursery takes; bigger ones go to the other spaces. Large objects
  // copied out of the nursery would cost more than they save (a big object never moves).
  static constexpr size_t kMaxObjectBytes = 8192;

  // The area's pages go back with the heap's chunks when the heap is destroyed. The cursor and
  // the inline limit live in the constructing thread's keel_nursery (.sol.inline), where
  // scheme.h's inline allocation finds them, until DetachThread.
  // `bind_thread`: the cursor lives in the constructing thread's keel_nursery; otherwise in
  // own_, as after DetachThread.
  explicit Nursery(Heap& heap, bool bind_thread = true);
  ~Nursery();
  Nursery(const Nursery&) = delete;
  Nursery& operator=(const Nursery&) = delete;

  // Takes `bytes` (rounded up to whole pages) of heap pages for the area, giving back the old
  // area, which must be empty. False when the heap cannot have them (the old area is kept).
  bool Resize(size_t bytes);
  size_t capacity() const { return end_ - start_; }
  size_t used() const { return area_->cursor - origin_; }
  // The thread that made the nursery is exiting (its collector becomes an orphan, which other
  // threads may collect): the cursor moves into the nursery itself, and the thread's
  // keel_nursery reads {0, 0}, so nothing allocates inline into this nursery again.
  void DetachThread();
  // No inline allocation until the next slow-path one (a collection has begun: nothing may be
  // allocated into the nursery it is emptying).
  void StopInline() { area_->limit = area_->cursor; }

  // The inline fast path: a zeroed object of `bytes` bytes of `kind` (at least one word, where
  // a forwarding address goes), or nullptr when the zeroed part ahead of the cursor is used up
  // (the slow path zeroes more, or the plan collects when the area is full), the object is too
  // big for the nursery, or every allocation is counted (stress mode).
  void* AllocateInline(size_t bytes, Kind kind) { return Bump(bytes, kind, area_->limit); }
  // The slow path's: the same up to the area's end, zeroing the area ahead of the cursor first
  // where it must. `counted`: every later allocation takes the slow path until the next call
  // says otherwise (KEEL_GC_STRESS).
  void* Allocate(size_t bytes, Kind kind, bool counted) {
    void* p = nullptr;
    const uintptr_t cur = area_->cursor;
    if (bytes <= kMaxObjectBytes && NeedOf(bytes) <= alloc_end_ - cur) {
      if (NeedOf(bytes) > zeroed_ - cur) ZeroAhead(cur + NeedOf(bytes));
      p = Bump(bytes, kind, zeroed_);
    }
    area_->limit = counted ? area_->cursor : zeroed_;
    return p;
  }
  // This cycle's objects lie from origin() up to the cursor, where the next header goes.
  uintptr_t origin() const { return origin_; }
  uintptr_t cursor() const { return area_->cursor; }
  bool Contains(const void* p) const {
    const auto a = reinterpret_cast<uintptr_t>(p);
    return a - start_ < end_ - start_;
  }
  // Whether p may be a nursery object's address: inside the area, past the first header. The
  // area's first byte is no object's, but may be one past the end of an allow-interior object
  // that ends where the nursery starts.
  bool MayHoldObject(const void* p) const {
    const auto a = reinterpret_cast<uintptr_t>(p);
    return a >= start_ + kHeaderBytes && a < end_;
  }
  // The header word of the object at p (a nursery object's address).
  static uintptr_t& HeaderOf(void* p) { return reinterpret_cast<uintptr_t*>(p)[-1]; }
  static uintptr_t MakeHeader(size_t words, Kind kind) {
    return (uintptr_t{words} << 12) | (uintptr_t{static_cast<uint8_t>(kind)} << 4);
  }
  static bool IsForwarded(uintptr_t header) { return (header & 1) != 0; }
  static size_t BytesOf(uintptr_t header) { return (header >> 12) << 3; }
  static Kind KindOf(uintptr_t header) { return static_cast<Kind>((header >> 4) & 0xff); }
  // Whether `header`, read before p, is a well-formed header of an object that ends at or before
  // the cursor: a cheap test that p is an object's start, which catches most stale and interior
  // pointers (an exact test needs a walk from the start, Check's).
  bool IsObjectHeader(const void* p, uintptr_t header) const {
    const auto a = reinterpret_cast<uintptr_t>(p);
    const size_t bytes = BytesOf(header);
    return (header & 0xe) == 0 && bytes != 0 && bytes <= kMaxObjectBytes + 7 &&
           static_cast<unsigned>(KindOf(header)) < static_cast<unsigned>(kKindCount) && a >= origin_ + kHeaderBytes &&
           a + bytes <= area_->cursor;
  }
  // Records that the object at p now lives at `to`.
  static void Forward(void* p, void* to) {
    HeaderOf(p) |= 1;
    *static_cast<void**>(p) = to;
  }
  // Where a forwarded object at p lives now.
  static void* ForwardedTo(void* p) { return *static_cast<void**>(p); }

  // Calls f(object, header) for every object from start to the cursor, in allocation order.
  template <class F>
  void ForEachObject(F&& f) const {
    for (uintptr_t p = origin_; p < area_->cursor;) {
      const uintptr_t header = *reinterpret_cast<const uintptr_t*>(p);
      f(reinterpret_cast<void*>(p + kHeaderBytes), header);
      p += kHeaderBytes + BytesOf(header);
    }
  }

  // Empties the area after a collection copied out its survivors. `checked` (the checked build,
  // precise.md .sol.checked): what was used is filled with a pattern no pointer check accepts,
  // and the next cycle allocates in the other half of the area, so a stale pointer to a moved
  // object never names a new object at the same address. Either way the area is zeroed again
  // block by block just ahead of the cursor, as allocation reaches it (.sol.nursery: the block
  // is in the cache when its objects are written), not all at once here.
  void Reset(bool checked);

  void Check(Problems& problems) const;

 private:
  // Bytes zeroed ahead of the cursor at a time.
  static constexpr size_t kZeroBlock = size_t{32} << 10;

  static size_t WordsOf(size_t bytes) { return bytes == 0 ? 1 : (bytes + 7) >> 3; }  // room for the forwarding address
  static size_t NeedOf(size_t bytes) { return kHeaderBytes + (WordsOf(bytes) << 3); }
  // The object, if it fits below `limit` (at most zeroed_, so it is zero already).
  void* Bump(size_t bytes, Kind kind, uintptr_t limit) {
    const uintptr_t need = NeedOf(bytes);
    const uintptr_t cur = area_->cursor;
    if (bytes > kMaxObjectBytes || need > limit - cur) [[unlikely]] return nullptr;
    auto* header = reinterpret_cast<uintptr_t*>(cur);
    *header = MakeHeader(WordsOf(bytes), kind);
    area_->cursor = cur + need;
    return header + 1;
  }
  // Zeroes from zeroed_ up to at least `upto` (within the area), a whole block at least.
  void ZeroAhead(uintptr_t upto);

  Heap& heap_;
  PageDesc* run_ = nullptr;  // the heap run holding the area
  uintptr_t start_ = 0;
  uintptr_t origin_ = 0;     // this cycle's first header: start_, or the middle (checked builds)
  uintptr_t alloc_end_ = 0;  // this cycle's objects end before it: end_, or the middle
  uintptr_t zeroed_ = 0;  // [cursor, zeroed_) is zero
  uintptr_t end_ = 0;
  // The cursor, where the next header goes, and the inline path's limit: zeroed_, or the cursor
  // while every allocation is counted or a collection runs. In the owning thread's
  // keel_nursery while it lives, then in own_.
  keel_nursery_area own_{0, 0};
  keel_nursery_area* area_;
};

}  // namespace keel::gc

#endif  // KEEL_GC_NURSERY_H
