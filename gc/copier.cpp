// copier.cpp: copying nursery survivors, marking non-moving objects in place, and tracing both
// (copier.h, docs/design/precise.md .sol.copy, .sol.major, .sol.traversers, .sol.checked).
#include "gc/copier.h"

#include <cstdio>
#include <cstring>

#include "gc/collector.h"
#include "gc/fatal.h"
#include "gc/page_map.h"
#include "gc/size_classes.h"
#include "gc/traversers.h"

namespace keel::gc {

// Every nursery object fits a size class: a copy never needs a page run of its own.
static_assert(Nursery::kMaxObjectBytes <= kMaxSmallSize);

Copier::Copier(const Collector& owner, Nursery& nursery, MarkSweepSpace& old, MarkStack& stack, uintptr_t heap_lo,
               uintptr_t heap_hi, bool mark_in_place, bool checked)
    : owner_(&owner), master_(owner.master_marks()), nursery_(nursery), old_(old), stack_(stack), lo_(heap_lo),
      span_(heap_hi > heap_lo ? heap_hi - heap_lo : 0), mark_in_place_(mark_in_place), checked_(checked),
      cursor_(stack.Take()) {}

void Copier::VisitSlot(void** slot, Holder) {
  void* p = *slot;
  const auto a = reinterpret_cast<uintptr_t>(p);
  if ((a & 1) != 0) return;  // a fixnum
  if (a - lo_ >= span_) {      // NULL, or not this heap's: perhaps the master's (places.md .sol.master-marks)
    if (master_ != nullptr) [[unlikely]] master_->Visit(a);
    return;
  }
  if (checked_) [[unlikely]] CheckSlot(slot, a);
  if (nursery_.MayHoldObject(p)) {
    *slot = Evacuate(p, slot);
  } else if (mark_in_place_ && !MarkOldSmall(a)) {
    MarkInPlace(a, slot);
  }
}

inline bool Copier::MarkOldSmall(uintptr_t a) {
  PageDesc* d = PageMap::Lookup(a);
  if (d == nullptr || d->Owner() != owner_ || d->state != PageState::kSmall || d->forward != nullptr ||
      AllowsInterior(d->kind) || IsUncollectable(d->kind) || (a & (kPageSize - 1)) == 0) [[unlikely]] {
    return false;
  }
  const uint32_t idx = d->IndexOf(a - d->start);
  if (idx < d->objects) [[likely]] MarkSmall(d, idx);
  return true;
}

void Copier::VisitWords(uintptr_t lo, uintptr_t hi, bool, Holder) {
  for (uintptr_t at = FirstAlignedWord(lo); at + sizeof(uintptr_t) <= hi; at += sizeof(uintptr_t)) {
    const auto w = *reinterpret_cast<const uintptr_t*>(at);
    if (nursery_.MayHoldObject(reinterpret_cast<void*>(w))) {
      Fatal("precise collection: the conservative word at %p holds %p, an object of the nursery, which "
            "moves; register the location as a root slot instead",
            reinterpret_cast<void*>(at), reinterpret_cast<void*>(w));
    }
    if (w - lo_ < span_) {
      if (mark_in_place_) MarkInPlace(w, nullptr);
    } else if (master_ != nullptr) [[unlikely]] {
      master_->Visit(w);
    }
  }
}

void* Copier::Resolve(void* p) const {
  if (InNursery(p)) return Nursery::IsForwarded(Nursery::HeaderOf(p)) ? Nursery::ForwardedTo(p) : p;
  return old_.Relocated(owner_, p);
}

// Nursery sizes and size classes are whole words; a word loop beats a memcpy call for these
// small objects.
inline uintptr_t Copier::CopyToOld(const void* p, size_t bytes, Kind kind, const char* what) {
  void* q = old_.AllocateMarked(bytes, kind);
  if (q == nullptr) Fatal("precise collection: out of memory while %s a %zu-byte %s object", what, bytes, KindName(kind));
  auto* to = static_cast<uintptr_t*>(q);
  const auto* from = static_cast<const uintptr_t*>(p);
  for (size_t i = 0; i < bytes / sizeof(uintptr_t); ++i) to[i] = from[i];
  ++copied_objects_;
  copied_bytes_ += bytes;
  const auto copy = reinterpret_cast<uintptr_t>(q);
  if (IsPointerful(kind)) Queue(copy, copy + bytes, kind);
  return copy;
}

// The header has the size and kind of the object to copy (CopyToOld).
void* Copier::Evacuate(void* p, const void* slot) {
  const uintptr_t header = Nursery::HeaderOf(p);
  if (Nursery::IsForwarded(header)) return Nursery::ForwardedTo(p);
  if (!nursery_.IsObjectHeader(p, header)) [[unlikely]] {
    char holder[64];
    DescribeHolder(holder, sizeof holder);
    Fatal("precise collection: slot %p (%s) holds %p, which is not the start of a nursery object "
          "(header %#llx): an interior pointer into a moving object, or a stale pointer that a missing "
          "MZ_GC_VAR_IN_REG left behind (docs/gc3m.md)",
          slot, holder, p, static_cast<unsigned long long>(header));
  }
  void* q = reinterpret_cast<void*>(
      CopyToOld(p, Nursery::BytesOf(header), Nursery::KindOf(header), "copying out of the nursery"));
  Nursery::Forward(p, q);
  if (watch_ != nullptr) [[unlikely]] watch_->Marked(reinterpret_cast<uintptr_t>(p));
  return q;
}

void Copier::MarkInPlace(uintptr_t a, void** slot) {
  PageDesc* d = PageMap::Lookup(a);
  if (d == nullptr) return;
  if (d->Owner() != owner_) {
    if (master_ != nullptr) [[unlikely]] master_->Visit(a);
    return;
  }
  if (d->state == PageState::kSmall) {
    if (d->forward != nullptr) [[unlikely]] {
      *slot = reinterpret_cast<void*>(Relocate(d, a, slot));
      return;
    }
    const uint32_t idx = d->IndexOf(a - d->start);
    // One past the end of an allow-interior object is its pointer too (marking.md .sol.interior).
    if (AllowsInterior(d->kind) && idx > 0 && d->ObjectStart(idx) == a) MarkSmall(d, idx - 1);
    if (idx < d->objects) MarkSmall(d, idx);
  } else if (d->state == PageState::kBigHead) {
    MarkBig(d);
  }
  // A page-aligned address one past the end of an allow-interior object on the previous page.
  if ((a & (kPageSize - 1)) == 0) {
    PageDesc* prev = PageMap::Lookup(a - 1);
    if (prev == nullptr || prev->Owner() != owner_ || !AllowsInterior(prev->kind)) return;
    if (prev->state == PageState::kSmall && prev->objects > 0 && prev->ObjectStart(prev->objects) == a) {
      MarkSmall(prev, prev->objects - 1u);
    } else if (prev->state == PageState::kBigHead && prev->start + prev->big_bytes == a) {
      MarkBig(prev);
    }
  }
}

// An evacuated page holds only objects of kinds that move, which only a pointer to their start
// keeps (the slot rule); the first visit copies the whole slot, as for a nursery object, and
// the page's forwarding table answers every later one. The original stays as it was (it is
// only read, so a protected page needs no opening) and its mark bit says it lives on as its
// copy (.sol.compact).
uintptr_t Copier::Relocate(PageDesc* d, uintptr_t a, void** slot) {
  const uint32_t idx = d->IndexOf(a - d->start);
  if (slot == nullptr) [[unlikely]] {
    Fatal("precise collection: a conservative word holds %p, an old object that this collection moves; "
          "register the location as a root slot instead",
          reinterpret_cast<void*>(a));
  }
  if (idx >= d->objects || d->ObjectStart(idx) != a || !d->IsAllocated(idx)) [[unlikely]] {
    char holder[64];
    DescribeHolder(holder, sizeof holder);
    Fatal("precise collection: slot %p (%s) holds %p, which is not the start of an allocated old object on a "
          "page being compacted: an interior pointer into a moving object, or a stale pointer that a missing "
          "MZ_GC_VAR_IN_REG left behind (docs/gc3m.md)",
          static_cast<void*>(slot), holder, reinterpret_cast<void*>(a));
  }
  if (d->forward[idx] != 0) return d->forward[idx];
  const uintptr_t copy = CopyToOld(reinterpret_cast<const void*>(a), d->obj_size, d->kind, "compacting");
  d->forward[idx] = copy;
  d->bits[idx >> 6].mark |= uint64_t{1} << (idx & 63);
  if (watch_ != nullptr) [[unlikely]] watch_->Marked(a);
  ++compacted_objects_;
  compacted_bytes_ += d->obj_size;
  return copy;
}

// Uncollectable objects are roots, traced with the roots; free slots are not objects.
inline void Copier::MarkSmall(PageDesc* d, uint32_t idx) {
  if (IsUncollectable(d->kind)) return;
  SlotBits& b = d->bits[idx >> 6];
  const uint64_t bit = uint64_t{1} << (idx & 63);
  if ((b.mark & bit) != 0 || (b.alloc & bit) == 0) return;  // old, marked already, or free
  b.mark |= bit;
  ++marked_objects_;
  if (watch_ != nullptr) [[unlikely]] watch_->Marked(d->ObjectStart(idx));
  if (IsPointerful(d->kind)) {
    const uintptr_t obj = d->ObjectStart(idx);
    Queue(obj, obj + d->obj_size, d->kind);
  }
}

void Copier::MarkBig(PageDesc* d) {
  if (IsUncollectable(d->kind)) return;
  SlotBits& b = d->bits[0];
  if ((b.mark & 1) != 0 || (b.alloc & 1) == 0) return;
  b.mark |= 1;
  ++marked_objects_;
  if (watch_ != nullptr) [[unlikely]] watch_->Marked(d->start);
  if (IsPointerful(d->kind)) Queue(d->start, d->start + d->big_bytes, d->kind);
}

// An object's end is a whole word, so its low bit is free to say whether it is tagged, the one
// thing about its kind that tracing needs: the drain does not look up its page.
inline void Copier::Queue(uintptr_t start, uintptr_t end, Kind kind) {
  stack_.Push(cursor_, start, end | (kind == Kind::kTagged ? 1u : 0u));
}

void Copier::Drain() {
  MarkEntry e;
  while (MarkStack::Pop(cursor_, &e)) {
    TraceObject(e.start, e.end & ~uintptr_t{1}, (e.end & 1) != 0 ? Kind::kTagged : Kind::kNormal);
  }
  stack_.Put(cursor_);
}

// A written page of a big tagged object comes as that page's part of it, but only the tag's
// mark procedure knows where its slots are: the whole object is traced, once for all of its
// written pages (they come one after another).
void Copier::VisitObject(uintptr_t start, uintptr_t end, Kind kind, Holder) {
  if (!IsPointerful(kind)) return;
  if (kind == Kind::kTagged) {
    PageDesc* d = PageMap::Lookup(start);
    if (d != nullptr && d->state == PageState::kBigHead) {
      if (d->start == last_big_) return;
      last_big_ = d->start;
      start = d->start;
      end = d->start + d->big_bytes;
    }
  }
  TraceObject(start, end, kind);
}

// A tagged object is traced by its tag's mark procedure, whose gcMARK calls come back to
// VisitSlot; an untagged one is an array of slots (precise.md .req.slots).
void Copier::TraceObject(uintptr_t start, uintptr_t end, Kind kind) {
  const uintptr_t saved = tracing_;
  tracing_ = start;
  if (kind != Kind::kTagged) {
    for (uintptr_t at = start; at < end; at += sizeof(void*)) VisitSlot(reinterpret_cast<void**>(at), Holder::kOld);
    tracing_ = saved;
    return;
  }
  const short tag = *reinterpret_cast<const short*>(start);
  const Traversers* t = TraverserTable::Find(tag);
  if (t == nullptr) {
    Fatal("precise collection: tagged object %p has tag %d, for which no traversers are registered "
          "(GC_register_traversers)",
          reinterpret_cast<void*>(start), tag);
  }
  if (!t->atomic) {
    TraversalScope scope(*this, Holder::kOld);
    t->mark(reinterpret_cast<void*>(start));
  }
  tracing_ = saved;
}

// precise.md .req.slots: a heap address in a slot is a nursery object's start (Evacuate checks
// that), or lies in an allocated non-moving object, at its start unless the object allows
// interior pointers, or is one past the end of an allow-interior object (on its page, or at the
// start of the next page, whatever that page holds: the rule MarkInPlace follows).
void Copier::CheckSlot(const void* slot, uintptr_t a) const {
  PageDesc* d = PageMap::Lookup(a);
  if (d == nullptr || d->Owner() != owner_) return;
  if (owner_->IsEndOfInteriorObject(reinterpret_cast<void*>(a))) return;
  const char* problem = nullptr;
  if (d->state == PageState::kNursery) {
    if (a < nursery_.origin() + Nursery::kHeaderBytes || a >= nursery_.cursor()) {
      problem = "points outside the nursery's objects of this cycle (a stale pointer into emptied space)";
    }
  } else if (d->state == PageState::kSmall) {
    const uint32_t idx = d->IndexOf(a - d->start);
    if (idx >= d->objects || !d->IsAllocated(idx)) {
      problem = "points at a free slot (a stale pointer to an object the collector freed)";
    } else if (d->ObjectStart(idx) != a && !AllowsInterior(d->kind)) {
      problem = "points into the middle of an object that does not allow interior pointers";
    }
  } else if (d->state == PageState::kBigHead) {
    if (!d->IsAllocated(0)) {
      problem = "points at a freed big object";
    } else if (a != d->start && !AllowsInterior(d->kind)) {
      problem = "points into the middle of a big object that does not allow interior pointers";
    }
  } else {
    problem = "points at a free page of the heap";
  }
  if (problem == nullptr) return;
  char holder[64];
  DescribeHolder(holder, sizeof holder);
  Fatal("precise collection (checked): slot %p (%s) holds %p, which %s; a variable that is not "
        "registered with MZ_GC_VAR_IN_REG keeps such stale values (docs/gc3m.md)",
        slot, holder, reinterpret_cast<void*>(a), problem);
}

// "a root", or the object being traced with its tag when it is tagged.
void Copier::DescribeHolder(char* out, size_t size) const {
  if (tracing_ == 0) {
    std::snprintf(out, size, "a root");
    return;
  }
  const PageDesc* d = PageMap::Lookup(tracing_);
  if (d != nullptr && d->kind == Kind::kTagged) {
    std::snprintf(out, size, "in object %p, tag %d", reinterpret_cast<void*>(tracing_), *reinterpret_cast<const short*>(tracing_));
  } else {
    std::snprintf(out, size, "in object %p", reinterpret_cast<void*>(tracing_));
  }
}

}  // namespace keel::gc
