// gc_buffer.h: a growable byte buffer in collectable atomic memory. Its users may escape
// (scheme_signal_error, out of memory) at any allocation without leaking: the collector
// reclaims abandoned storage, and the escape's keel_longjmp drops the buffer's frame (DESIGN
// D10; docs/design/roots.md .sol.frames).
#ifndef KEEL_RUNTIME_GC_BUFFER_H
#define KEEL_RUNTIME_GC_BUFFER_H

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "runtime/gc_frame.h"

namespace keel::rt {

// Lives on the C stack, where the conservative scan keeps data_ alive and its own frame
// registers data_ for a precise one; used by one thread. Not copyable.
// Invariant: data_ == nullptr or data_ holds cap_ bytes, of which size_ are used.
class GcBuffer {
 public:
  GcBuffer() = default;

  // Appends may grow the buffer, which allocates, before they copy: s must not point into the
  // collected heap unless Reserve made room for it first (then read s after the Reserve).
  void Append(const char* s, size_t n) {
    if (n > cap_ - size_) Grow(n);
    std::memcpy(data_ + size_, s, n);
    size_ += n;
  }
  void Append(std::string_view s) { Append(s.data(), s.size()); }
  void Append(char c) {
    if (size_ == cap_) Grow(1);
    data_[size_++] = c;
  }
  // Makes room for n more bytes: appends of up to n bytes in all allocate nothing after it.
  void Reserve(size_t n) {
    if (n > cap_ - size_) Grow(n);
  }
  size_t size() const { return size_; }

  // NUL-terminates and returns the collectable string; *len (when not null) gets its length.
  // The buffer must not be used afterwards.
  char* Finish(intptr_t* len);

 private:
  void Grow(size_t extra);  // out of line: the slow path

  char* data_ = nullptr;
  size_t size_ = 0;
  size_t cap_ = 0;
  GcFrame<1> gc_frame_{data_};  // after data_, which it registers
};

}  // namespace keel::rt

#endif  // KEEL_RUNTIME_GC_BUFFER_H
