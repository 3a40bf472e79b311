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
// Maps memory that is readable, writable and executable (scheme_malloc_code).
void* MapExecutable(size_t bytes);

// Resident set size of the process now, in bytes (from /proc/self/statm).
size_t CurrentRss();

}  // namespace keel::gc::os

#endif  // KEEL_GC_OS_MEMORY_H
