// page_map.h: the global radix map from any address to the descriptor of the heap page that
// holds it (docs/design/heap.md .sol.page-map). Two loads answer "is this a heap address, whose,
// and where does its object start". Shared by every collector instance of the process: the
// address space is one; each collector writes only the entries of its own pages.
#ifndef KEEL_GC_PAGE_MAP_H
#define KEEL_GC_PAGE_MAP_H

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "gc/page.h"

namespace keel::gc {

class PageMap {
 public:
  static constexpr unsigned kAddressBits = 47;  // x86-64 and AArch64 user space
  static constexpr unsigned kLeafShift = 30;    // one leaf covers 1 GiB
  static constexpr size_t kRootEntries = size_t{1} << (kAddressBits - kLeafShift);
  static constexpr size_t kLeafEntries = size_t{1} << (kLeafShift - kPageShift);

  // The descriptor of the page holding `addr`, or nullptr for any address outside every heap.
  static PageDesc* Lookup(uintptr_t addr) {
    uintptr_t root_index = addr >> kLeafShift;
    if (root_index >= kRootEntries) return nullptr;
    std::atomic<PageDesc*>* leaf = root_[root_index].load(std::memory_order_acquire);
    if (leaf == nullptr) return nullptr;
    // Acquire: pairs with Set's release, so a descriptor of another thread's chunk is seen whole
    // (heap.md .sol.type-stable).
    return leaf[(addr >> kPageShift) & (kLeafEntries - 1)].load(std::memory_order_acquire);
  }

  // Maps the root array; every collector calls it before its first lookup. Returns false when
  // the OS refuses the mapping.
  static bool Init();

  // Points the entries of `pages` pages from `page_addr` at `desc` (nullptr to clear). Creates
  // leaves as needed; returns false if a leaf cannot be mapped.
  static bool Set(uintptr_t page_addr, size_t pages, PageDesc* desc);

 private:
  static std::atomic<std::atomic<PageDesc*>*>* root_;
};

}  // namespace keel::gc

#endif  // KEEL_GC_PAGE_MAP_H
