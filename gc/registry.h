// registry.h: every collector instance of the process, with its role and number (DESIGN D1:
// the master, one per place, and the one-per-thread collectors of gc.h programs). The registry
// names collectors in reports ("place 3 wrote into memory of place 1") and is the list a
// master collection walks. Design note: docs/design/places.md (.sol.registry, .sol.attach).
#ifndef KEEL_GC_REGISTRY_H
#define KEEL_GC_REGISTRY_H

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <vector>

namespace keel::gc {

class Collector;

// What a collector is for (.sol.attach). A thread's collector starts as kThread (gc.h's implicit
// one per thread) and becomes kPlace when the thread is attached to a place of its own; the
// scheme_* functions run only on place (or, before scheme_basic_env, master) collectors.
enum class CollectorRole : uint8_t {
  kThread = 0,  // created implicitly by gc.h calls on a thread attached to no place
  kPlace = 1,   // a place's: the initial place, a keel_place_create place, keel_thread_attach
  kMaster = 2,  // the process's master collector: shared objects, never moved or protected
};

const char* RoleName(CollectorRole role);

// A collector's role and number in one word, readable from any thread (a chunk record keeps a
// copy for the fault handler, which must not touch another thread's collector).
struct CollectorLabel {
  uint64_t bits = 0;

  static CollectorLabel Make(CollectorRole role, uint64_t id) {
    return CollectorLabel{(uint64_t{static_cast<uint8_t>(role)} << 56) | (id & ((uint64_t{1} << 56) - 1))};
  }
  CollectorRole role() const { return static_cast<CollectorRole>(bits >> 56); }
  uint64_t id() const { return bits & ((uint64_t{1} << 56) - 1); }
  bool is_place() const { return role() == CollectorRole::kPlace; }
  // "place 3", "the master collector", "the gc.h collector 5 (a thread attached to no place)";
  // async-signal-safe (formats into `buf`, which it returns).
  const char* Describe(char* buf, size_t size) const;
};

class Registry {
 public:
  // Adds c and returns its number: 1, 2, ... in order of creation, never reused.
  static uint64_t Add(Collector* c);
  static void Remove(Collector* c);
  // How many collectors exist (orphans of exited threads included).
  static size_t Count();
  // Calls f(Collector&) for every registered collector, with the registry locked: f must not
  // create or destroy collectors.
  template <class F>
  static void ForEach(F&& f) {
    std::lock_guard<std::mutex> lock(mu_);
    for (Collector* c : List()) f(*c);
  }
  // fork(): the child's registry keeps only the collectors whose thread survived (the caller's).
  static void Lock() { mu_.lock(); }
  static void Unlock() { mu_.unlock(); }
  static void AfterForkInChild();

 private:
  // Never destroyed: collectors may be destroyed while static destructors run at exit.
  static std::vector<Collector*>& List() {
    static auto* list = new std::vector<Collector*>;
    return *list;
  }
  static inline std::mutex mu_;
  static inline uint64_t next_id_ = 1;
};

}  // namespace keel::gc

#endif  // KEEL_GC_REGISTRY_H
