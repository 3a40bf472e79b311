// weak_boxes.cpp: clearing and updating weak boxes after marking (weak_boxes.h,
// docs/design/weak.md .sol.boxes).
#include "gc/weak_boxes.h"

#include "gc/collector.h"

namespace keel::gc {

void WeakBoxes::Add(void* box, bool late) { young_[late ? 1 : 0].push_back(box); }

void WeakBoxes::Clear(Collector& c, bool late, bool major, bool all_old) {
  const int k = late ? 1 : 0;
  if (major) Sweep(c, old_[k], nullptr);
  Sweep(c, young_[k], all_old ? &old_[k] : nullptr);
}

size_t WeakBoxes::size() const { return young_[0].size() + young_[1].size() + old_[0].size() + old_[1].size(); }

void WeakBoxes::Sweep(Collector& c, std::vector<void*>& list, std::vector<void*>* old) {
  size_t kept = 0;
  for (void* box : list) {
    if (!c.IsMarked(box)) continue;  // the box itself is garbage
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
