// disappearing_links.h: a collector's disappearing links, bdwgc's weak pointers. A link is a
// location the program owns, registered with an object; when a collection finds the object
// unreachable the location is set to NULL. Short links clear with the ordinary weak boxes,
// before the finalizers run; long links with the late ones, only once the object is really gone
// (a finalizer did not resurrect it). Design note: docs/design/weak.md (.sol.links).
#ifndef KEEL_GC_DISAPPEARING_LINKS_H
#define KEEL_GC_DISAPPEARING_LINKS_H

#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <utility>
#include <vector>

namespace keel::gc {

class Collector;

// Owned by a collector; touched only on its thread and by its collections. Each kind (short,
// long) has a table from link to object, and a list of the links registered since the last
// collection after which every survivor is old: a minor collection looks only at those (an old
// object is neither freed nor moved by one, and an old link's holder is old), a major one at
// every link.
class DisappearingLinks {
 public:
  enum Result { kSuccess = 0, kDuplicate = 1, kNotFound = 4 };  // bdwgc's GC_SUCCESS, ...

  // `link` now disappears with `obj` (the start of an object of this collector); kDuplicate
  // when `link` is registered already (then nothing changes).
  Result Register(void** link, void* obj, bool long_link);
  // Forgets `link`; false when it was not registered.
  bool Unregister(void** link, bool long_link);
  // The registration of `link` moves to `new_link` (kNotFound, kDuplicate: nothing changes).
  Result Move(void** link, void** new_link, bool long_link);
  size_t size() const { return links_[0].size() + links_[1].size(); }

  // During a collection, after marking (short links: with the ordinary weak boxes; long ones:
  // with the late boxes): a link whose object was not reached is cleared and forgotten; one in
  // an object that died is forgotten; the others follow their objects (3m).
  void Clear(Collector& c, bool long_link, bool major, bool all_old);
  // At the end of the weak phases: the short links whose holders Clear found unreached and a
  // finalizer has reached since are cleared or followed now and stay registered.
  void ClearResurrected(Collector& c);

 private:
  // Whether this entry stays: clears, follows or drops it.
  static bool Process(Collector& c, void** link, void*& obj);

  std::unordered_map<void**, void*> links_[2];  // [short, long]: link -> object
  std::vector<void**> young_[2];
  std::vector<std::pair<void**, void*>> unreached_;  // during a collection: short links put aside
};

}  // namespace keel::gc

#endif  // KEEL_GC_DISAPPEARING_LINKS_H
