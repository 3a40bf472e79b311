// code_allocator.h: executable memory for scheme_malloc_code. Not collected: blocks live until
// scheme_free_code. Process-wide like malloc (code may be called from any place), under a lock.
#ifndef KEEL_GC_CODE_ALLOCATOR_H
#define KEEL_GC_CODE_ALLOCATOR_H

#include <cstddef>

namespace keel::gc {

// Returns nullptr when size is not positive or memory cannot be had.
void* AllocateCode(size_t size);
// Aborts with a message when p was not returned by AllocateCode or was freed already.
void FreeCode(void* p);

}  // namespace keel::gc

#endif  // KEEL_GC_CODE_ALLOCATOR_H
