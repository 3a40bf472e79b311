// copier.cpp: copying nursery survivors and tracing the copies (copier.h,
// docs/design/precise.md .sol.copy, .sol.traversers).
#include "gc/copier.h"

#include <cstring>

#include "gc/fatal.h"
#include "gc/page_map.h"
#include "gc/traversers.h"

namespace keel::gc {

void Copier::VisitSlot(void** slot, Holder) {
  void* p = *slot;
  if (InNursery(p)) *slot = Evacuate(p);
}

void Copier::VisitWords(uintptr_t lo, uintptr_t hi, bool, Holder) {
  for (uintptr_t at = FirstAlignedWord(lo); at + sizeof(uintptr_t) <= hi; at += sizeof(uintptr_t)) {
    const auto w = *reinterpret_cast<const uintptr_t*>(at);
    if (nursery_.Contains(reinterpret_cast<void*>(w))) {
      Fatal("precise collection: the conservative word at %p holds %p, an object of the nursery, which "
            "moves; register the location as a root slot instead",
            reinterpret_cast<void*>(at), reinterpret_cast<void*>(w));
    }
  }
}

void* Copier::Resolve(void* p) const {
  if (!InNursery(p)) return p;
  return Nursery::IsForwarded(Nursery::HeaderOf(p)) ? Nursery::ForwardedTo(p) : p;
}

// The header has the size and kind; the copy is marked so that the old space's minor sweep
// keeps it as old, and queued if it may hold references.
void* Copier::Evacuate(void* p) {
  const uintptr_t header = Nursery::HeaderOf(p);
  if (Nursery::IsForwarded(header)) return Nursery::ForwardedTo(p);
  const size_t bytes = Nursery::BytesOf(header);
  const Kind kind = Nursery::KindOf(header);
  void* q = old_.AllocateWithoutCollecting(bytes, kind);
  if (q == nullptr) {
    Fatal("precise collection: out of memory while copying a %zu-byte %s object out of the nursery", bytes,
          KindName(kind));
  }
  std::memcpy(q, p, bytes);
  Nursery::Forward(p, q);
  const auto a = reinterpret_cast<uintptr_t>(q);
  PageDesc* d = PageMap::Lookup(a);
  d->TestAndMark(d->IndexOf(a - d->start));
  ++copied_objects_;
  copied_bytes_ += bytes;
  if (IsPointerful(kind)) {
    MarkCursor c = stack_.Take();
    stack_.Push(c, a, a + bytes);
    stack_.Put(c);
  }
  return q;
}

void Copier::Drain() {
  for (;;) {
    MarkCursor c = stack_.Take();
    MarkEntry e;
    const bool more = MarkStack::Pop(c, &e);
    stack_.Put(c);
    if (!more) return;
    TraceObject(e.start, e.end, PageMap::Lookup(e.start)->kind);
  }
}

void Copier::VisitObject(uintptr_t start, uintptr_t end, Kind kind, Holder) {
  if (IsPointerful(kind)) TraceObject(start, end, kind);
}

// A tagged object is traced by its tag's mark procedure, whose gcMARK calls come back to
// VisitSlot; an untagged one is an array of slots (precise.md .req.slots).
void Copier::TraceObject(uintptr_t start, uintptr_t end, Kind kind) {
  if (kind != Kind::kTagged) {
    for (uintptr_t at = start; at < end; at += sizeof(void*)) VisitSlot(reinterpret_cast<void**>(at), Holder::kOld);
    return;
  }
  const short tag = *reinterpret_cast<const short*>(start);
  const Traversers* t = TraverserTable::Find(tag);
  if (t == nullptr) {
    Fatal("precise collection: tagged object %p has tag %d, for which no traversers are registered "
          "(GC_register_traversers)",
          reinterpret_cast<void*>(start), tag);
  }
  if (t->atomic) return;
  TraversalScope scope(*this, Holder::kOld);
  t->mark(reinterpret_cast<void*>(start));
}

}  // namespace keel::gc
