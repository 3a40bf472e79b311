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

void DisappearingLinks::Clear(Collector& c, bool long_link, bool major, bool all_old) {
  const int k = long_link ? 1 : 0;
  auto& table = links_[k];
  auto& young = young_[k];
  if (major) {
    for (auto it = table.begin(); it != table.end();) {
      it = Process(c, it->first, it->second) ? std::next(it) : table.erase(it);
    }
    young.clear();
    return;
  }
  size_t kept = 0;
  for (void** link : young) {
    auto it = table.find(link);
    if (it == table.end()) continue;  // unregistered or moved since
    if (!Process(c, link, it->second)) {
      table.erase(it);
      continue;
    }
    young[kept++] = link;
  }
  young.resize(all_old ? 0 : kept);
}

}  // namespace keel::gc
