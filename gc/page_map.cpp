// page_map.cpp: leaf creation and updates of the global page map (page_map.h).
#include "gc/page_map.h"

#include <algorithm>
#include <mutex>

#include "gc/os_memory.h"

namespace keel::gc {

namespace {
std::once_flag g_root_once;
}  // namespace

std::atomic<std::atomic<PageDesc*>*>* PageMap::root_ = nullptr;

// The root array lives in its own mapping (not in static data, which the conservative scanner
// reads) and is never freed: it describes the process's address space, not one collector.
bool PageMap::Init() {
  std::call_once(g_root_once, [] {
    void* p = os::MapAligned(kRootEntries * sizeof(void*), os::kOsPageSize);
    root_ = p != nullptr ? static_cast<std::atomic<std::atomic<PageDesc*>*>*>(p) : nullptr;
  });
  return root_ != nullptr;
}

// Clearing gives back the OS pages of leaf entries that the cleared range covers whole: they
// are all null now and read as null (zero) afterwards, so the bookkeeping of a freed big object
// does not stay resident (docs/design/heap.md .sol.page-map). The leaf itself stays mapped:
// other threads may be reading it.
bool PageMap::Set(uintptr_t page_addr, size_t pages, PageDesc* desc) {
  if (root_ == nullptr && !Init()) return false;
  constexpr size_t kEntriesPerOsPage = os::kOsPageSize / sizeof(void*);
  size_t i = 0;
  while (i < pages) {
    uintptr_t addr = page_addr + (i << kPageShift);
    uintptr_t root_index = addr >> kLeafShift;
    if (root_index >= kRootEntries) return false;
    size_t first = (addr >> kPageShift) & (kLeafEntries - 1);
    size_t count = std::min(pages - i, kLeafEntries - first);
    i += count;
    std::atomic<PageDesc*>* leaf = root_[root_index].load(std::memory_order_acquire);
    if (leaf == nullptr) {
      if (desc == nullptr) continue;  // nothing to clear
      void* p = os::MapAligned(kLeafEntries * sizeof(void*), os::kOsPageSize);
      if (p == nullptr) return false;
      auto* fresh = static_cast<std::atomic<PageDesc*>*>(p);
      if (!root_[root_index].compare_exchange_strong(leaf, fresh, std::memory_order_acq_rel)) {
        os::Unmap(p, kLeafEntries * sizeof(void*));  // another collector made it first
      } else {
        leaf = fresh;
      }
    }
    for (size_t k = first; k < first + count; ++k) leaf[k].store(desc, std::memory_order_release);
    if (desc != nullptr) continue;
    size_t whole_lo = (first + kEntriesPerOsPage - 1) / kEntriesPerOsPage * kEntriesPerOsPage;
    size_t whole_hi = (first + count) / kEntriesPerOsPage * kEntriesPerOsPage;
    if (whole_lo < whole_hi) os::Decommit(&leaf[whole_lo], (whole_hi - whole_lo) * sizeof(void*));
  }
  return true;
}

}  // namespace keel::gc
