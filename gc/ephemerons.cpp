// ephemerons.cpp: the ephemeron fixpoint and clearing (ephemerons.h, docs/design/weak.md
// .sol.ephemerons).
#include "gc/ephemerons.h"

#include <utility>

#include "gc/collector.h"
#include "gc/page_map.h"

namespace keel::gc {

namespace {

// NULL and fixnums never die: a key that is one is always reached.
bool NeverDies(const void* p) { return p == nullptr || (reinterpret_cast<uintptr_t>(p) & 1) != 0; }

EphemeronLayout* Fields(Collector& c, void* e) { return static_cast<EphemeronLayout*>(c.Forwarded(e)); }

}  // namespace

void Ephemerons::Add(void* e) { young_.push_back(e); }

// Nursery objects are always reached at their start (the slot rule); a key into the middle of
// an allow-interior object is reported by the object's start.
uintptr_t Ephemerons::ObjectOf(const void* p) const {
  const auto a = reinterpret_cast<uintptr_t>(p);
  PageDesc* d = PageMap::Lookup(a);
  if (d == nullptr || d->state == PageState::kNursery) return a;
  void* base = c_->BaseOf(p);
  return base != nullptr ? reinterpret_cast<uintptr_t>(base) : a;
}

void Ephemerons::Begin(Collector& c, Tracer& t, bool major) {
  c_ = &c;
  looked_.clear();
  ready_.clear();
  waiting_.clear();
  for (void* e : young_) looked_.push_back(Entry{e, State::kWaiting});
  young_.clear();
  if (major) {
    for (void* e : old_) looked_.push_back(Entry{e, State::kWaiting});
    old_.clear();
  }
  for (size_t i = 0; i < looked_.size(); ++i) {
    CheckReady(i);
    if (looked_[i].state != State::kWaiting) continue;
    // Indexed under what it waits for: itself, its key, or both.
    void* e = looked_[i].e;
    void* key = Fields(c, e)->key;
    if (!c.IsMarked(e)) waiting_.emplace(ObjectOf(e), i);
    if (!NeverDies(key) && !c.IsMarked(key)) waiting_.emplace(ObjectOf(key), i);
  }
  if (!waiting_.empty()) t.Watch(this);
}

void Ephemerons::CheckReady(size_t i) {
  Entry& entry = looked_[i];
  if (entry.state != State::kWaiting || !c_->IsMarked(entry.e)) return;
  void* key = Fields(*c_, entry.e)->key;
  if (!NeverDies(key) && !c_->IsMarked(key)) return;
  entry.state = State::kReady;
  ready_.push_back(i);
}

// Called by the tracer as it marks: no visiting or draining here, only bookkeeping.
void Ephemerons::Marked(uintptr_t object) {
  auto range = waiting_.equal_range(object);
  if (range.first == range.second) return;
  for (auto it = range.first; it != range.second; ++it) CheckReady(it->second);
  waiting_.erase(range.first, range.second);
}

// The value is visited in a local and stored back, so the ephemeron's page, which the barrier
// may protect, is opened only when the value moved (precise.md .sol.own-writes).
void Ephemerons::Propagate(Tracer& t) {
  while (!ready_.empty()) {
    std::vector<size_t> batch;
    batch.swap(ready_);
    for (size_t i : batch) {
      Entry& entry = looked_[i];
      EphemeronLayout* fields = Fields(*c_, entry.e);
      void* value = fields->value;
      t.VisitSlot(&value, Tracer::Holder::kRoot);
      c_->StoreDuringCollection(&fields->value, value);
      entry.state = State::kKept;
    }
    t.Drain();
  }
}

void Ephemerons::ClearUnready() {
  for (Entry& entry : looked_) {
    if (entry.state != State::kWaiting || !c_->IsMarked(entry.e)) continue;
    EphemeronLayout* fields = Fields(*c_, entry.e);
    c_->StoreDuringCollection(&fields->key, nullptr);
    c_->StoreDuringCollection(&fields->value, nullptr);
    entry.state = State::kCleared;
  }
}

void Ephemerons::End(Tracer& t, bool all_old) {
  t.Watch(nullptr);
  std::vector<void*>& keep = all_old ? old_ : young_;
  for (Entry& entry : looked_) {
    if (!c_->IsMarked(entry.e)) continue;  // the ephemeron itself died
    EphemeronLayout* fields = Fields(*c_, entry.e);
    if (entry.state != State::kKept) {
      // Reached only after the weak phase (a level-2 finalizer's object holds it) without its
      // key: cleared, so that its value, which nothing traced, is never read.
      c_->StoreDuringCollection(&fields->key, nullptr);
      c_->StoreDuringCollection(&fields->value, nullptr);
      continue;
    }
    if (!NeverDies(fields->key)) c_->StoreDuringCollection(&fields->key, c_->Forwarded(fields->key));
    if (NeverDies(fields->key) && NeverDies(fields->value)) continue;  // nothing left to watch
    keep.push_back(fields);
  }
  looked_.clear();
  waiting_.clear();
  c_ = nullptr;
}

}  // namespace keel::gc
