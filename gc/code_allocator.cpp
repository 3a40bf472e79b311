// code_allocator.cpp: size-classed executable blocks carved from read-write-execute mappings;
// big requests get their own mapping (code_allocator.h).
#include "gc/code_allocator.h"

#include <cstdint>
#include <map>
#include <mutex>
#include <vector>

#include "gc/fatal.h"
#include "gc/os_memory.h"

namespace keel::gc {
namespace {

constexpr size_t kAreaBytes = size_t{64} << 10;   // one mapping holds many small blocks
constexpr size_t kMaxPooled = size_t{4} << 10;    // larger blocks get their own mapping
constexpr size_t kGranule = 32;                    // keeps code blocks cache-line friendly

struct CodeHeap {
  std::mutex mu;
  // Block start -> rounded size, for every live block (validates frees).
  std::map<uintptr_t, size_t> live;
  // Free blocks per rounded size.
  std::map<size_t, std::vector<uintptr_t>> free_blocks;
  uintptr_t bump = 0;
  uintptr_t bump_end = 0;
};

CodeHeap& Heap() {
  static CodeHeap* heap = new CodeHeap;  // process-wide, never destroyed: code may outlive places
  return *heap;
}

}  // namespace

void* AllocateCode(size_t size) {
  if (size == 0 || size > (size_t{1} << 40)) return nullptr;
  CodeHeap& h = Heap();
  std::lock_guard<std::mutex> lock(h.mu);
  if (size > kMaxPooled) {
    size_t bytes = (size + os::kOsPageSize - 1) & ~(os::kOsPageSize - 1);
    void* p = os::MapExecutable(bytes);
    if (p == nullptr) return nullptr;
    h.live[reinterpret_cast<uintptr_t>(p)] = bytes;
    return p;
  }
  size_t rounded = (size + kGranule - 1) & ~(kGranule - 1);
  auto& bucket = h.free_blocks[rounded];
  uintptr_t block;
  if (!bucket.empty()) {
    block = bucket.back();
    bucket.pop_back();
  } else {
    if (h.bump + rounded > h.bump_end) {
      void* area = os::MapExecutable(kAreaBytes);
      if (area == nullptr) return nullptr;
      h.bump = reinterpret_cast<uintptr_t>(area);
      h.bump_end = h.bump + kAreaBytes;
    }
    block = h.bump;
    h.bump += rounded;
  }
  h.live[block] = rounded;
  return reinterpret_cast<void*>(block);
}

void FreeCode(void* p) {
  if (p == nullptr) return;
  CodeHeap& h = Heap();
  std::lock_guard<std::mutex> lock(h.mu);
  auto it = h.live.find(reinterpret_cast<uintptr_t>(p));
  if (it == h.live.end()) Fatal("scheme_free_code: %p was not allocated by scheme_malloc_code (freed twice?)", p);
  size_t bytes = it->second;
  h.live.erase(it);
  if (bytes > kMaxPooled) {
    os::Unmap(p, bytes);
  } else {
    h.free_blocks[bytes].push_back(reinterpret_cast<uintptr_t>(p));
  }
}

}  // namespace keel::gc
