// keel.hpp: C++ conveniences over Keel's C API.
#ifndef KEEL_HPP
#define KEEL_HPP

#include <cstddef>
#include <cstdint>
#include <limits>
#include <new>

#include "gc.h"
#include "scheme.h"

namespace keel {

// An allocator whose memory is never collected but is scanned for pointers, so a container
// that uses it keeps the collectable objects it holds alive:
//   std::vector<Scheme_Object*, keel::traced_allocator<Scheme_Object*>> v;
// Memory is released when the container frees it (GC_free), as with any allocator.
template <class T>
class traced_allocator {
 public:
  using value_type = T;

  traced_allocator() noexcept = default;
  template <class U>
  traced_allocator(const traced_allocator<U>&) noexcept {}

  T* allocate(std::size_t n) {
    if (n > std::numeric_limits<std::size_t>::max() / sizeof(T)) throw std::bad_array_new_length();
    void* p = GC_malloc_uncollectable(n * sizeof(T));
    if (p == nullptr) throw std::bad_alloc();
    return static_cast<T*>(p);
  }
  void deallocate(T* p, std::size_t) noexcept { GC_free(p); }

  template <class U>
  bool operator==(const traced_allocator<U>&) const noexcept { return true; }
  template <class U>
  bool operator!=(const traced_allocator<U>&) const noexcept { return false; }
};

// Pins p for the scope's lifetime (scheme_dont_gc_ptr / scheme_gc_ptr_ok).
// Under 3m the object may move meanwhile (a pin keeps it alive, it does not stop it moving, as
// in Racket): the scope registers its copy of the pointer on GC_variable_stack, as MZ_GC_* frames
// do, so it releases the pin under the object's current address. A scope lives on the stack and
// scopes nest.
class DontGcScope {
 public:
  explicit DontGcScope(void* p) : p_(p), frame_{GC_variable_stack, reinterpret_cast<void*>(intptr_t{1}), &p_} {
    GC_variable_stack = frame_;
    scheme_dont_gc_ptr(p_);
  }
  ~DontGcScope() {
    scheme_gc_ptr_ok(p_);
    GC_variable_stack = static_cast<void**>(frame_[0]);
  }
  DontGcScope(const DontGcScope&) = delete;
  DontGcScope& operator=(const DontGcScope&) = delete;

 private:
  void* p_;
  void* frame_[3];
};

}  // namespace keel

#endif  // KEEL_HPP
