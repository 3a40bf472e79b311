// registered.h: C++ tests' form of Racket's MZ_GC_DECL_REG / MZ_GC_VAR_IN_REG / MZ_GC_REG /
// MZ_GC_UNREG: a scope that registers local variables (or a C array) on GC_variable_stack in
// Racket's frame layout and unregisters them when it ends. Under 3m the collector updates the
// variables when their objects move (docs/gc3m.md); under CGC it scans the stack anyway and
// only the checked build's frame audit reads the frame. An escape (scheme_signal_error) that
// leaves the scope drops the frame with the chain scheme_setjmp saved, as MZ_GC_* frames are
// dropped. Only the public headers are used.
#ifndef KEEL_TESTS_SUPPORT_REGISTERED_H
#define KEEL_TESTS_SUPPORT_REGISTERED_H

#include <cstddef>
#include <cstdint>

#include "scheme.h"

namespace keel_test {

// keel_test::Registered reg(a, b, c);  registers the pointer variables a, b and c.
template <class... T>
class Registered {
 public:
  explicit Registered(T&... vars)
      : frame_{static_cast<void*>(GC_variable_stack), reinterpret_cast<void*>(intptr_t{sizeof...(T)}),
               static_cast<void*>(&vars)...} {
    static_assert(((sizeof(T) == sizeof(void*)) && ...), "only pointer variables can be registered");
    GC_variable_stack = frame_;
  }
  ~Registered() { GC_variable_stack = static_cast<void**>(frame_[0]); }
  Registered(const Registered&) = delete;
  // The frame, as GC_variable_stack names it while this scope is the innermost.
  void** frame() { return frame_; }
  Registered& operator=(const Registered&) = delete;

 private:
  void* frame_[2 + sizeof...(T)];
};
template <class... T>
Registered(T&...) -> Registered<T...>;

// keel_test::RegisteredArray reg(items);  registers every element of the C array `items`
// (MZ_GC_ARRAY_VAR_IN_REG), or of `count` elements from `first`.
class RegisteredArray {
 public:
  template <class T, size_t N>
  explicit RegisteredArray(T* (&items)[N]) : RegisteredArray(reinterpret_cast<void**>(items), N) {}
  RegisteredArray(void** first, size_t count)
      : frame_{static_cast<void*>(GC_variable_stack), reinterpret_cast<void*>(intptr_t{3}), nullptr,
               static_cast<void*>(first), reinterpret_cast<void*>(static_cast<intptr_t>(count))} {
    GC_variable_stack = frame_;
  }
  ~RegisteredArray() { GC_variable_stack = static_cast<void**>(frame_[0]); }
  RegisteredArray(const RegisteredArray&) = delete;
  RegisteredArray& operator=(const RegisteredArray&) = delete;

 private:
  void* frame_[5];
};

}  // namespace keel_test

#endif  // KEEL_TESTS_SUPPORT_REGISTERED_H
