// finalization.cpp: finalizer records, their readiness at each level, and the calls they make
// (finalization.h, docs/design/weak.md .sol.finalizers, .sol.running).
#include "gc/finalization.h"

#include <algorithm>
#include <utility>

#include "gc/collector.h"

namespace keel::gc {

struct Finalization::Record {
  struct Fn {
    FinalizerFn fn;
    void* data;
  };
  // Racket's lists, apart: most records never have them (bdwgc's, the registered slot alone).
  struct Lists {
    std::vector<Fn> chain;  // newest first
    std::vector<Fn> wills;  // newest first
  };
  enum class List : uint8_t { kYoung, kOld, kReady };

  uintptr_t key = 0;         // the object's address in index_
  void* object = nullptr;    // the object's address (ahead of key while a collection moves it)
  Fn registered{nullptr, nullptr};
  Fn ordered{nullptr, nullptr};  // bdwgc's
  std::unique_ptr<Lists> lists;
  size_t pos = 0;            // in young_ or old_
  FinalizerOrder order = FinalizerOrder::kOrdered;
  List list = List::kYoung;
  bool racket = false;       // has had one of Racket's finalizers (counted in racket_records_)

  bool has_chain() const { return lists != nullptr && !lists->chain.empty(); }
  bool has_wills() const { return lists != nullptr && !lists->wills.empty(); }
  std::vector<Fn>& chain() { return Made().chain; }
  std::vector<Fn>& wills() { return Made().wills; }
  Lists& Made() {
    if (lists == nullptr) lists = std::make_unique<Lists>();
    return *lists;
  }

  // Will-like finalizers go first, one per collection that finds the object unreached; bdwgc's
  // after Racket's.
  int level() const {
    if (has_wills()) return 1;
    return (registered.fn != nullptr || has_chain()) ? 2 : 3;
  }
  bool empty() const { return registered.fn == nullptr && ordered.fn == nullptr && !has_chain() && !has_wills(); }
  template <class F>
  void ForEachData(F&& f) {
    if (registered.fn != nullptr) f(&registered.data);
    if (ordered.fn != nullptr) f(&ordered.data);
    if (lists == nullptr) return;
    for (Fn& x : lists->chain) f(&x.data);
    for (Fn& x : lists->wills) f(&x.data);
  }
};

namespace {

using Record = Finalization::Record;

void PushBack(std::vector<Record*>& list, Record* r, Record::List which) {
  r->list = which;
  r->pos = list.size();
  list.push_back(r);
}

void SwapRemove(std::vector<Record*>& list, Record* r) {
  Record* last = list.back();
  list[r->pos] = last;
  last->pos = r->pos;
  list.pop_back();
}

}  // namespace

Finalization::Finalization() = default;
Finalization::~Finalization() = default;

Finalization::Record* Finalization::Find(void* p) const { return index_.Find(reinterpret_cast<uintptr_t>(p)); }

Finalization::Record* Finalization::NewRecord() {
  constexpr size_t kSlabRecords = 1024;
  if (free_records_.empty()) {
    slabs_.push_back(std::make_unique<Record[]>(kSlabRecords));
    Record* slab = slabs_.back().get();
    free_records_.reserve(free_records_.size() + kSlabRecords);
    for (size_t i = kSlabRecords; i-- > 0;) free_records_.push_back(&slab[i]);
  }
  Record* r = free_records_.back();
  free_records_.pop_back();
  return r;
}

// Out of the index and back to the free list, emptied (Racket's lists are let go).
void Finalization::FreeRecord(Record* r) {
  index_.Erase(r->key);
  if (r->racket) --racket_records_;
  *r = Record{};
  free_records_.push_back(r);
}

Finalization::Record* Finalization::FindOrMake(void* p) {
  Record** slot = index_.FindOrInsert(reinterpret_cast<uintptr_t>(p));
  if (Record* r = *slot) {
    MakeYoung(r);
    return r;
  }
  Record* r = NewRecord();
  *slot = r;
  r->key = reinterpret_cast<uintptr_t>(p);
  r->object = p;
  PushBack(young_, r, Record::List::kYoung);
  return r;
}

void Finalization::MakeYoung(Record* r) {
  if (r->list != Record::List::kOld) return;
  SwapRemove(old_, r);
  PushBack(young_, r, Record::List::kYoung);
}

// A ready record stays until TakeCall reaches it, which drops it if it is empty by then.
void Finalization::Forget(Record* r) {
  if (r->list == Record::List::kReady) return;
  SwapRemove(r->list == Record::List::kYoung ? young_ : old_, r);
  FreeRecord(r);
}

template <class Slot>
Finalization::Record* Finalization::Replace(void* p, Slot slot, FinalizerFn f, void* data, FinalizerFn* oldf,
                                            void** olddata) {
  Record* r = f != nullptr ? FindOrMake(p) : Find(p);
  const Record::Fn old = r != nullptr ? r->*slot : Record::Fn{nullptr, nullptr};
  if (oldf != nullptr) *oldf = old.fn;
  if (olddata != nullptr) *olddata = old.data;
  if (r == nullptr) return nullptr;
  r->*slot = f != nullptr ? Record::Fn{f, data} : Record::Fn{nullptr, nullptr};
  if (!r->empty()) return r;
  Forget(r);
  return nullptr;
}

void Finalization::Register(void* p, FinalizerFn f, void* data, FinalizerFn* oldf, void** olddata) {
  MarkRacket(Replace(p, &Record::registered, f, data, oldf, olddata));
}

// Newest first; `once`: not when the pair is there already.
static void AddFront(std::vector<Record::Fn>& list, FinalizerFn f, void* data, bool once) {
  auto same = [&](const Record::Fn& x) { return x.fn == f && x.data == data; };
  if (once && std::any_of(list.begin(), list.end(), same)) return;
  list.insert(list.begin(), Record::Fn{f, data});
}

void Finalization::Add(void* p, FinalizerFn f, void* data, bool once) {
  Record* r = FindOrMake(p);
  MarkRacket(r);
  AddFront(r->chain(), f, data, once);
}

void Finalization::MarkRacket(Record* r) {
  if (r == nullptr || r->racket) return;
  r->racket = true;
  ++racket_records_;
}

void Finalization::Subtract(void* p, FinalizerFn f, void* data) {
  Record* r = Find(p);
  if (r == nullptr) return;
  if (r->has_chain()) {
    std::vector<Record::Fn>& chain = r->chain();
    auto it = std::find_if(chain.begin(), chain.end(), [&](const Record::Fn& x) { return x.fn == f && x.data == data; });
    if (it != chain.end()) chain.erase(it);
  }
  if (r->empty()) Forget(r);
}

void Finalization::AddWill(void* p, FinalizerFn f, void* data, bool once) {
  Record* r = FindOrMake(p);
  MarkRacket(r);
  AddFront(r->wills(), f, data, once);
}

void Finalization::RemoveAll(void* p) {
  Record* r = Find(p);
  if (r == nullptr) return;
  r->registered = Record::Fn{nullptr, nullptr};
  r->ordered = Record::Fn{nullptr, nullptr};
  r->lists.reset();
  Forget(r);
}

void Finalization::RegisterOrdered(void* p, FinalizerFn f, void* data, FinalizerOrder order, FinalizerFn* oldf,
                                   void** olddata) {
  if (Record* r = Replace(p, &Record::ordered, f, data, oldf, olddata)) r->order = order;
}

void Finalization::TraceRoots(Tracer& t, bool major) {
  auto data = [&t](void** slot) { t.VisitSlot(slot, Tracer::Holder::kRoot); };
  for (Record* r : young_) r->ForEachData(data);
  if (major) {
    for (Record* r : old_) r->ForEachData(data);
  }
  for (const std::deque<Record*>* queue : {&ready_, &ordered_ready_}) {
    for (Record* r : *queue) {
      t.VisitSlot(&r->object, Tracer::Holder::kRoot);
      r->ForEachData(data);
    }
  }
}

// Which records are unreached is decided before any is resurrected, so that the order of the
// lists does not matter: every record of the level whose object no root reaches becomes ready,
// though one of them may reach another (Racket's levels are not ordered within a level).
void Finalization::ReadyUnreached(Collector& c, Tracer& t, int level, bool major) {
  if (racket_records_ == 0) return;  // only bdwgc's records: nothing at levels 1 and 2
  std::vector<Record*> found;
  auto scan = [&](const std::vector<Record*>& list) {
    for (Record* r : list) {
      if (r->level() == level && !c.IsMarked(r->object)) found.push_back(r);
    }
  };
  scan(young_);
  if (major) scan(old_);
  if (found.empty()) return;
  for (Record* r : found) MakeReady(t, r, ready_);
  t.Drain();
}

// Leaves its list for `queue`; the object is resurrected (the caller drains).
void Finalization::MakeReady(Tracer& t, Record* r, std::deque<Record*>& queue) {
  SwapRemove(r->list == Record::List::kYoung ? young_ : old_, r);
  r->list = Record::List::kReady;
  queue.push_back(r);
  t.VisitSlot(&r->object, Tracer::Holder::kRoot);
}

// The object's slots are visited as a root's would be, which marks (under 3m: copies) what it
// reaches but not the object itself. For kIgnoreSelf its words that point to itself are hidden
// meanwhile (a stored zero, put back after; the page is opened first if the barrier protects it).
void Finalization::MarkContents(Collector& c, Tracer& t, Record* r) {
  uintptr_t end = 0;
  Kind kind = Kind::kAtomic;
  if (!c.ObjectExtent(r->object, &end, &kind) || !IsPointerful(kind)) return;
  const auto start = reinterpret_cast<uintptr_t>(r->object);
  std::vector<void**> hidden;
  if (r->order == FinalizerOrder::kIgnoreSelf) {
    for (uintptr_t at = start; at < end; at += sizeof(void*)) {
      auto** slot = reinterpret_cast<void**>(at);
      const auto w = reinterpret_cast<uintptr_t>(*slot);
      if (w >= start && w < end) hidden.push_back(slot);
    }
  }
  std::vector<void*> values;
  values.reserve(hidden.size());
  for (void** slot : hidden) {
    values.push_back(*slot);
    c.StoreDuringCollection(slot, nullptr);
  }
  t.VisitObject(start, end, kind, Tracer::Holder::kRoot);
  for (size_t i = 0; i < hidden.size(); ++i) c.StoreDuringCollection(hidden[i], values[i]);
}

// bdwgc's order (finalize.c's GC_finalize, in Keel's phases): first everything that the
// unreached objects of the ordered modes reach is marked, so an object another unreached
// finalizable object reaches is not finalized now (a chain goes outermost first, a cycle never);
// the ordered, ignore-self and no-order ones still unreached are ready; then what the ready
// no-order ones reach is marked, so that an unreachable-mode object they reach waits; the
// unreachable-mode ones still unreached are ready. All the ready objects are resurrected.
void Finalization::ReadyOrdered(Collector& c, Tracer& t, bool major, const std::function<void()>& drain) {
  std::vector<Record*> unreached;
  auto scan = [&](const std::vector<Record*>& list) {
    for (Record* r : list) {
      if (r->level() == 3 && r->ordered.fn != nullptr && !c.IsMarked(r->object)) unreached.push_back(r);
    }
  };
  scan(young_);
  if (major) scan(old_);
  if (unreached.empty()) return;
  bool ordered_modes = false;
  for (Record* r : unreached) {
    if (r->order == FinalizerOrder::kNoOrder) continue;
    MarkContents(c, t, r);
    ordered_modes = true;
  }
  std::vector<Record*> ready;
  std::vector<Record*> waiting;  // unreachable mode
  if (ordered_modes) {
    drain();
    for (Record* r : unreached) {
      if (c.IsMarked(r->object)) continue;
      (r->order == FinalizerOrder::kUnreachable ? waiting : ready).push_back(r);
    }
  } else {
    ready.swap(unreached);  // all no-order: none of them waits for another
  }
  bool marked_more = false;
  for (Record* r : ready) {
    if (r->order == FinalizerOrder::kNoOrder && !waiting.empty()) {
      MarkContents(c, t, r);
      marked_more = true;
    }
  }
  if (marked_more) drain();
  for (Record* r : waiting) {
    if (!c.IsMarked(r->object)) ready.push_back(r);
  }
  for (Record* r : ready) MakeReady(t, r, ordered_ready_);
  drain();
}

void Finalization::Settle(Collector& c, bool major, bool all_old) {
  std::vector<Record*> moved;
  auto follow = [&](Record* r) {
    r->object = c.Forwarded(r->object);
    if (reinterpret_cast<uintptr_t>(r->object) != r->key) moved.push_back(r);
  };
  for (Record* r : young_) follow(r);
  if (major) {
    for (Record* r : old_) follow(r);
  }
  for (Record* r : ready_) follow(r);
  for (Record* r : ordered_ready_) follow(r);
  // Two passes: a moved object's new address may be another moved object's old one.
  for (Record* r : moved) index_.Erase(r->key);
  for (Record* r : moved) {
    r->key = reinterpret_cast<uintptr_t>(r->object);
    index_.Insert(r->key, r);
  }
  // The index follows the records down after a major collection, not at every call run.
  if (major) index_.Shrink();
  if (all_old) {
    for (Record* r : young_) PushBack(old_, r, Record::List::kOld);
    young_.clear();
  }
}

void Finalization::ReadyAll() {
  for (std::vector<Record*>* list : {&young_, &old_}) {
    for (Record* r : *list) {
      r->list = Record::List::kReady;
      (r->level() == 3 ? ordered_ready_ : ready_).push_back(r);
    }
    list->clear();
  }
}

bool Finalization::TakeOrderedCall(FinalizerCall* out) {
  while (!ordered_ready_.empty()) {
    Record* r = ordered_ready_.front();
    ordered_ready_.pop_front();
    const Record::Fn fn = r->ordered;
    void* object = r->object;
    r->ordered = Record::Fn{nullptr, nullptr};  // a finalizer may register another
    if (r->empty()) {
      FreeRecord(r);
    } else {
      PushBack(young_, r, Record::List::kYoung);
    }
    if (fn.fn == nullptr) continue;  // removed while it waited
    *out = FinalizerCall{fn.fn, object, fn.data};
    ++calls_taken_;
    return true;
  }
  return false;
}

bool Finalization::TakeCall(FinalizerCall* out, bool ordered_too) {
  if (ready_.empty()) return ordered_too && TakeOrderedCall(out);
  while (!ready_.empty()) {
    Record* r = ready_.front();
    Record::Fn fn{nullptr, nullptr};
    bool done_with_record = true;
    if (r->has_wills()) {
      // Level 1: the newest will only; the rest wait for the object to be unreached again.
      std::vector<Record::Fn>& wills = r->wills();
      fn = wills.front();
      wills.erase(wills.begin());
    } else if (r->registered.fn != nullptr) {
      // Level 2: the registered finalizer, then the chain, newest first, all in this round.
      fn = r->registered;
      r->registered = Record::Fn{nullptr, nullptr};
      done_with_record = !r->has_chain();
    } else if (r->has_chain()) {
      std::vector<Record::Fn>& chain = r->chain();
      fn = chain.front();
      chain.erase(chain.begin());
      done_with_record = chain.empty();
    }
    void* object = r->object;
    if (done_with_record) {
      ready_.pop_front();
      if (r->empty()) {
        FreeRecord(r);
      } else {
        PushBack(young_, r, Record::List::kYoung);
      }
    }
    if (fn.fn == nullptr) continue;  // everything was removed while it waited
    *out = FinalizerCall{fn.fn, object, fn.data};
    ++calls_taken_;
    return true;
  }
  return ordered_too && TakeOrderedCall(out);
}

}  // namespace keel::gc
