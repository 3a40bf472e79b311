// os_memory.h: the collector's only door to the OS for memory: aligned reservations,
// commit/decommit of page runs, and process memory figures. DESIGN D2.
#ifndef KEEL_GC_OS_MEMORY_H
#define KEEL_GC_OS_MEMORY_H

#include <cstddef>
#include <cstdint>

namespace keel::gc::os {

inline constexpr size_t kOsPageSize = 4096;

// Maps `bytes` of zeroed read-write memory aligned to `alignment` (a power of two, at least
// kOsPageSize). Returns nullptr when the OS refuses.
void* MapAligned(size_t bytes, size_t alignment);
void Unmap(void* p, size_t bytes);
// Gives the pages back to the OS; they read as zero afterwards and cost no RSS.
void Decommit(void* p, size_t bytes);
// Backs the pages now, writable, without a fault per page (MADV_POPULATE_WRITE, Linux 5.14);
// false when the kernel cannot (the pages then fault in on first touch as before).
bool Populate(void* p, size_t bytes);
// Maps memory that is readable, writable and executable (scheme_malloc_code).
void* MapExecutable(size_t bytes);

// Resident set size of the process now, in bytes (from /proc/self/statm).
size_t CurrentRss();
// Whether every page of [lo, hi) is mapped; if not, *first_unmapped gets the first page that is
// not (mincore(2), a few calls per 16 MiB). Mapped says nothing about readability.
bool AllMapped(uintptr_t lo, uintptr_t hi, uintptr_t* first_unmapped);
// Physical memory plus swap, as sysinfo(2) reports them when first asked: the most memory the
// machine could ever back (docs/design/heap.md .sol.too-big).
size_t BackableBytes();

}  // namespace keel::gc::os

#endif  // KEEL_GC_OS_MEMORY_H
