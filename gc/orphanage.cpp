// orphanage.cpp: retired collectors of exited threads (orphanage.h, docs/design/heap.md
// .sol.orphans).
#include "gc/orphanage.h"

#include <algorithm>
#include <mutex>
#include <vector>

#include "gc/collector.h"
#include "gc/page_map.h"

namespace keel::gc {

namespace {

struct Orphan {
  Collector* collector;
  bool changed;
};

std::mutex g_mu;
std::vector<Orphan> g_orphans;  // under g_mu

constexpr size_t kNone = ~size_t{0};

// The index of the orphan owning heap address p, or kNone; g_mu held.
size_t FindOwner(const void* p) {
  PageDesc* d = PageMap::Lookup(reinterpret_cast<uintptr_t>(p));
  if (d == nullptr) return kNone;
  for (size_t i = 0; i < g_orphans.size(); ++i) {
    if (g_orphans[i].collector == d->Owner()) return i;
  }
  return kNone;
}

}  // namespace

bool Orphanage::CollectOrDestroy(Collector* c) {
  c->Collect(KEEL_GC_REASON_EXPLICIT);
  c->ReleaseMemory();
  if (c->HoldsMemory()) return false;
  delete c;
  return true;
}

// With no explicit root left (uncollectable object, immobile box, pin), only statics can keep
// anything, so the orphan is collected now and destroyed if empty; otherwise at the next major
// collection of any thread.
void Orphanage::AfterFree(size_t i) {
  Orphan& o = g_orphans[i];
  o.changed = true;
  if (o.collector->HasExplicitRoots()) return;
  o.changed = false;
  if (CollectOrDestroy(o.collector)) g_orphans.erase(g_orphans.begin() + static_cast<std::ptrdiff_t>(i));
}

void Orphanage::Adopt(Collector* c) {
  std::lock_guard<std::mutex> lock(g_mu);
  g_orphans.push_back(Orphan{c, false});
}

bool Orphanage::Free(void* p, const char* who) {
  std::lock_guard<std::mutex> lock(g_mu);
  size_t i = FindOwner(p);
  if (i == kNone) return false;
  g_orphans[i].collector->Free(p, who);
  AfterFree(i);
  return true;
}

bool Orphanage::FreeImmobileBox(void** box) {
  std::lock_guard<std::mutex> lock(g_mu);
  for (size_t i = 0; i < g_orphans.size(); ++i) {
    Roots& roots = g_orphans[i].collector->roots();
    if (!roots.HoldsBox(box)) continue;
    roots.FreeImmobileBox(box);
    AfterFree(i);
    return true;
  }
  return false;
}

bool Orphanage::Unpin(void* p) {
  std::lock_guard<std::mutex> lock(g_mu);
  for (size_t i = 0; i < g_orphans.size(); ++i) {
    Roots& roots = g_orphans[i].collector->roots();
    if (roots.pin_count(p) == 0) continue;
    roots.Unpin(p);
    AfterFree(i);
    return true;
  }
  return false;
}

void Orphanage::CollectChanged() {
  std::lock_guard<std::mutex> lock(g_mu);
  std::erase_if(g_orphans, [](Orphan& o) {
    if (!o.changed) return false;
    o.changed = false;
    return CollectOrDestroy(o.collector);
  });
}

size_t Orphanage::CountForTesting() {
  std::lock_guard<std::mutex> lock(g_mu);
  return g_orphans.size();
}

}  // namespace keel::gc
