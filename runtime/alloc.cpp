// alloc.cpp: the out-of-line halves of alloc.h and gc_buffer.h: checked size arithmetic and
// buffer growth. Both report failures through the public escapes (DESIGN D10).
#include "runtime/alloc.h"

#include <cinttypes>
#include <cstring>

#include "runtime/gc_buffer.h"

namespace keel::rt {

size_t ArrayBytes(size_t header, intptr_t count, size_t elem_size, const char* who,
                  size_t minimum) {
  if (count < 0) {
    scheme_signal_error("%s: size must be non-negative, given %" PRIdPTR, who, count);
  }
  size_t n = static_cast<size_t>(count);
  if (elem_size != 0 && n > (kMaxObjectBytes - header) / elem_size) {
    scheme_raise_out_of_memory(who, "(%" PRIdPTR " elements of %zu bytes)", count,
                               elem_size);
  }
  size_t bytes = header + n * elem_size;
  return bytes < minimum ? minimum : bytes;
}

void GcBuffer::Grow(size_t extra) {
  if (extra > kMaxObjectBytes - size_) {
    scheme_raise_out_of_memory("keel string buffer", "(%zu bytes)", extra);
  }
  size_t need = size_ + extra;
  // Doubling keeps appends amortised O(1); 64 bytes covers most printed atoms in one block.
  size_t cap = cap_ < 64 ? 64 : cap_;
  while (cap < need) cap = cap > kMaxObjectBytes / 2 ? kMaxObjectBytes : cap * 2;
  char* fresh = static_cast<char*>(scheme_malloc_atomic(cap));
  if (size_ != 0) std::memcpy(fresh, data_, size_);
  data_ = fresh;
  cap_ = cap;
}

char* GcBuffer::Finish(intptr_t* len) {
  Append('\0');
  if (len != nullptr) *len = static_cast<intptr_t>(size_ - 1);
  return data_;
}

}  // namespace keel::rt
