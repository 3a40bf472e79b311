// alloc.h: how the runtime allocates Scheme objects: size arithmetic that never wraps, and typed
// wrappers over the public scheme_malloc family, whose failures escape (DESIGN D10).
#ifndef KEEL_RUNTIME_ALLOC_H
#define KEEL_RUNTIME_ALLOC_H

#include <cstddef>
#include <cstdint>

#include "scheme.h"

namespace keel::rt {

// The largest object the runtime asks for. Anything bigger cannot be indexed by intptr_t
// lengths anyway, so it is reported as out of memory instead of wrapping.
inline constexpr size_t kMaxObjectBytes = static_cast<size_t>(PTRDIFF_MAX) / 2;

// Bytes for `header` bytes followed by `count` elements of `elem_size` bytes (at least
// `minimum`). A negative count is a caller error (scheme_signal_error naming `who`); a total
// past kMaxObjectBytes raises out of memory. Never returns a wrapped size.
size_t ArrayBytes(size_t header, intptr_t count, size_t elem_size, const char* who,
                  size_t minimum = 0);

// Installs the header of a freshly allocated object: the tag first, before anything else can
// run (the spec's rule for tagged objects), and no flags.
inline void InitHeader(void* p, Scheme_Type type) {
  auto* o = static_cast<Scheme_Object*>(p);
  o->type = type;
  o->keyex = 0;
}

// A pointerful object of `bytes` bytes (zeroed) with its tag installed.
template <class T>
T* NewTagged(Scheme_Type type, size_t bytes = sizeof(T)) {
  void* p = scheme_malloc_tagged(bytes);
  InitHeader(p, type);
  return static_cast<T*>(p);
}

// An object without pointers (never scanned, not zeroed past the header): symbols, doubles.
template <class T>
T* NewAtomic(Scheme_Type type, size_t bytes = sizeof(T)) {
  void* p = scheme_malloc_atomic(bytes);
  InitHeader(p, type);
  return static_cast<T*>(p);
}

// Raw atomic data of `count` elements of T plus one zeroed terminator element.
template <class T>
T* NewAtomicArray(intptr_t count, const char* who) {
  size_t bytes = ArrayBytes(0, count, sizeof(T), who, 0) + sizeof(T);
  T* data = static_cast<T*>(scheme_malloc_atomic(bytes));
  data[count] = T{};
  return data;
}

}  // namespace keel::rt

#endif  // KEEL_RUNTIME_ALLOC_H
