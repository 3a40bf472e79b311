// os_memory.cpp: mmap/munmap/madvise wrappers (os_memory.h).
#include "gc/os_memory.h"

#include <sys/mman.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>

namespace keel::gc::os {

void* MapAligned(size_t bytes, size_t alignment) {
  size_t span = bytes + alignment;
  if (span < bytes) return nullptr;
  void* raw = mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (raw == MAP_FAILED) return nullptr;
  uintptr_t start = reinterpret_cast<uintptr_t>(raw);
  uintptr_t aligned = (start + alignment - 1) & ~(alignment - 1);
  if (aligned > start) munmap(raw, aligned - start);
  uintptr_t end = aligned + bytes;
  uintptr_t raw_end = start + span;
  if (raw_end > end) munmap(reinterpret_cast<void*>(end), raw_end - end);
  return reinterpret_cast<void*>(aligned);
}

void Unmap(void* p, size_t bytes) { munmap(p, bytes); }

void Decommit(void* p, size_t bytes) { madvise(p, bytes, MADV_DONTNEED); }

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23  // Linux 5.14; older headers lack the name
#endif

bool Populate(void* p, size_t bytes) { return madvise(p, bytes, MADV_POPULATE_WRITE) == 0; }

void* MapExecutable(size_t bytes) {
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? nullptr : p;
}

size_t CurrentRss() {
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  unsigned long size = 0, resident = 0;
  int n = std::fscanf(f, "%lu %lu", &size, &resident);
  std::fclose(f);
  return n == 2 ? resident * static_cast<size_t>(sysconf(_SC_PAGESIZE)) : 0;
}

bool AllMapped(uintptr_t lo, uintptr_t hi, uintptr_t* first_unmapped) {
  const auto page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  unsigned char vec[4096];  // one byte per page: 16 MiB of range per call with 4 KiB pages
  uintptr_t p = lo & ~(page - 1);
  while (p < hi) {
    uintptr_t n = std::min<uintptr_t>((hi - p - 1) / page + 1, sizeof vec);
    if (mincore(reinterpret_cast<void*>(p), n * page, vec) == 0) {
      p += n * page;
      continue;
    }
    if (errno != ENOMEM) return true;  // the kernel cannot tell now (EAGAIN): assume mapped
    // Some page of this step is unmapped: find the first, one page at a time.
    for (uintptr_t i = 0; i < n; ++i, p += page) {
      if (mincore(reinterpret_cast<void*>(p), page, vec) != 0 && errno == ENOMEM) {
        *first_unmapped = p;
        return false;
      }
    }
  }
  return true;
}

size_t BackableBytes() {
  static const size_t bytes = [] {
    struct sysinfo si {};
    if (sysinfo(&si) != 0) return SIZE_MAX;  // unknown: no bound beyond the address space
    unsigned __int128 total = static_cast<unsigned __int128>(si.totalram) + si.totalswap;
    total *= si.mem_unit;
    return total > SIZE_MAX ? SIZE_MAX : static_cast<size_t>(total);
  }();
  return bytes;
}

}  // namespace keel::gc::os
