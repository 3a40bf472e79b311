// weak_boxes.cpp: clearing and updating weak boxes after marking (weak_boxes.h,
// docs/design/weak.md .sol.boxes).
#include "gc/weak_boxes.h"

#include "gc/collector.h"

namespace keel::gc {

void WeakBoxes::Add(void* box, bool late) { young_[late ? 1 : 0].push_back(box); }

// Ordinary boxes clear before the level-2 and bdwgc finalizers, which may resurrect a box that
// was not reached: such a box is put aside, not dropped, and looked at again once nothing can
// resurrect any more (ClearResurrected). Late boxes clear after the last finalizer phase.
void WeakBoxes::Clear(Collector& c, bool late, bool major, bool all_old) {
  const int k = late ? 1 : 0;
  std::vector<void*>* unreached = late ? nullptr : &unreached_;
  if (!late) unreached_.clear();
  if (major) Sweep(c, old_[k], nullptr, unreached);
  Sweep(c, young_[k], all_old ? &old_[k] : nullptr, unreached);
}

// A box put aside that a finalizer reached since is swept now, against the marks of this
// moment, and listed young again (its value may be young); the others are garbage.
void WeakBoxes::ClearResurrected(Collector& c) {
  std::vector<void*> reached;
  for (void* box : unreached_) {
    if (c.IsMarked(box)) reached.push_back(box);
  }
  unreached_.clear();
  Sweep(c, reached, nullptr, nullptr);
  young_[0].insert(young_[0].end(), reached.begin(), reached.end());
}

size_t WeakBoxes::size() const { return young_[0].size() + young_[1].size() + old_[0].size() + old_[1].size(); }

void WeakBoxes::Sweep(Collector& c, std::vector<void*>& list, std::vector<void*>* old, std::vector<void*>* unreached) {
  size_t kept = 0;
  for (void* box : list) {
    if (!c.IsMarked(box)) {  // the box itself is garbage, unless a finalizer resurrects it
      if (unreached != nullptr) unreached->push_back(box);
      continue;
    }
    box = c.Forwarded(box);
    void** slot = &static_cast<WeakBoxLayout*>(box)->value;
    void* value = *slot;
    // NULL and fixnums never die: the box needs no more watching.
    if (value == nullptr || (reinterpret_cast<uintptr_t>(value) & 1) != 0) continue;
    if (!c.IsMarked(value)) {
      c.StoreDuringCollection(slot, nullptr);
      continue;
    }
    void* to = c.Forwarded(value);
    if (to != value) c.StoreDuringCollection(slot, to);
    if (old != nullptr) {
      old->push_back(box);
    } else {
      list[kept++] = box;
    }
  }
  list.resize(old != nullptr ? 0 : kept);
}

}  // namespace keel::gc
