// registry.cpp: the process's list of collectors (registry.h, docs/design/places.md .sol.registry).
#include "gc/registry.h"

#include <algorithm>
#include <cstdio>

#include <pthread.h>

#include "gc/collector.h"
#include "gc/fatal.h"

namespace keel::gc {

const char* RoleName(CollectorRole role) {
  switch (role) {
    case CollectorRole::kThread:
      return "gc.h thread collector";
    case CollectorRole::kPlace:
      return "place";
    case CollectorRole::kMaster:
      return "master collector";
  }
  return "collector";
}

const char* CollectorLabel::Describe(char* buf, size_t size) const {
  if (bits == 0) {
    std::snprintf(buf, size, "no collector");
  } else if (role() == CollectorRole::kMaster) {
    std::snprintf(buf, size, "the master collector");
  } else if (role() == CollectorRole::kPlace) {
    std::snprintf(buf, size, "place %llu", static_cast<unsigned long long>(id()));
  } else {
    std::snprintf(buf, size, "the gc.h collector %llu (of a thread attached to no place)",
                  static_cast<unsigned long long>(id()));
  }
  return buf;
}

namespace {

pthread_once_t g_atfork_once = PTHREAD_ONCE_INIT;

}  // namespace

// Only the forking thread goes on in the child: the collectors of the others stay in memory but
// will never run again, so they leave the list (a master collection must not wait for them).
// Orphans (collectors of threads that had already exited) stay: any thread may still free their
// memory. So does the master, which serves no thread once scheme_basic_env has returned.
void Registry::AfterForkInChild() {
  Collector* survivor = Collector::CurrentOrNull();
  std::erase_if(List(), [survivor](Collector* c) {
    return c != survivor && !c->orphan() && c->role() != CollectorRole::kMaster;
  });
  mu_.unlock();
}

uint64_t Registry::Add(Collector* c) {
  pthread_once(&g_atfork_once, [] {
    pthread_atfork([] { Registry::Lock(); }, [] { Registry::Unlock(); }, [] { Registry::AfterForkInChild(); });
  });
  std::lock_guard<std::mutex> lock(mu_);
  try {
    List().push_back(c);
  } catch (const std::bad_alloc&) {
    Fatal("out of memory registering a collector");
  }
  return next_id_++;
}

void Registry::Remove(Collector* c) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Collector*>& list = List();
  auto it = std::find(list.begin(), list.end(), c);
  if (it != list.end()) list.erase(it);
}

size_t Registry::Count() {
  std::lock_guard<std::mutex> lock(mu_);
  return List().size();
}

}  // namespace keel::gc
