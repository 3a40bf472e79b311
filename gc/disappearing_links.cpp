// disappearing_links.cpp: registering, moving and clearing disappearing links
// (disappearing_links.h, docs/design/weak.md .sol.links).
#include "gc/disappearing_links.h"

#include "gc/collector.h"

namespace keel::gc {

DisappearingLinks::Result DisappearingLinks::Register(void** link, void* obj, bool long_link) {
  const int k = long_link ? 1 : 0;
  if (!links_[k].emplace(link, obj).second) return kDuplicate;
  young_[k].push_back(link);
  return kSuccess;
}

bool DisappearingLinks::Unregister(void** link, bool long_link) { return links_[long_link ? 1 : 0].erase(link) != 0; }

DisappearingLinks::Result DisappearingLinks::Move(void** link, void** new_link, bool long_link) {
  const int k = long_link ? 1 : 0;
  auto it = links_[k].find(link);
  if (it == links_[k].end()) return kNotFound;
  if (new_link == link) return kSuccess;
  if (links_[k].count(new_link) != 0) return kDuplicate;
  void* obj = it->second;
  links_[k].erase(it);
  links_[k].emplace(new_link, obj);
  young_[k].push_back(new_link);
  return kSuccess;
}

// A link inside this heap lives in an object of its own holder; IsMarked answers for the object
// holding an address, and memory the collector does not own always counts as live.
bool DisappearingLinks::Process(Collector& c, void** link, void*& obj) {
  if (!c.IsMarked(link)) return false;  // the object holding the link died with it
  if (!c.IsMarked(obj)) {
    c.StoreDuringCollection(link, nullptr);
    return false;
  }
  void* to = c.Forwarded(obj);
  if (to != obj) {
    // The program keeps the plain address in the link (a hidden one could not be followed).
    if (*link == obj) c.StoreDuringCollection(link, to);
    obj = to;
  }
  return true;
}

// Short links clear before the level-2 and bdwgc finalizers, which may resurrect the object
// holding a link: a link whose holder is not marked then is put aside, not dropped, and looked
// at again at the end of the weak phases (ClearResurrected). Long links clear after the last
// finalizer phase.
void DisappearingLinks::Clear(Collector& c, bool long_link, bool major, bool all_old) {
  const int k = long_link ? 1 : 0;
  auto& table = links_[k];
  auto& young = young_[k];
  if (!long_link) unreached_.clear();
  // False when the link leaves the table.
  auto keep = [&](void** link, void*& obj) {
    if (!long_link && !c.IsMarked(link)) {
      unreached_.emplace_back(link, obj);
      return false;
    }
    return Process(c, link, obj);
  };
  if (major) {
    for (auto it = table.begin(); it != table.end();) {
      it = keep(it->first, it->second) ? std::next(it) : table.erase(it);
    }
    young.clear();
    return;
  }
  size_t kept = 0;
  for (void** link : young) {
    auto it = table.find(link);
    if (it == table.end()) continue;  // unregistered or moved since
    if (!keep(link, it->second)) {
      table.erase(it);
      continue;
    }
    young[kept++] = link;
  }
  young.resize(all_old ? 0 : kept);
}

// A short link put aside whose holder a finalizer reached since is cleared or followed now and
// listed again (young: its object may be young); the others died with their holders.
void DisappearingLinks::ClearResurrected(Collector& c) {
  for (auto& [link, obj] : unreached_) {
    if (!c.IsMarked(link) || !Process(c, link, obj)) continue;
    links_[0].emplace(link, obj);
    young_[0].push_back(link);
  }
  unreached_.clear();
}

}  // namespace keel::gc
