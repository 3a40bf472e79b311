// keel.hpp: C++ conveniences over Keel's C API (docs/api.md "keel.hpp"). C++17 or later.
#ifndef KEEL_HPP
#define KEEL_HPP

#include <cstddef>
#include <cstdint>
#include <limits>
#include <new>
#include <type_traits>

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

// bdwgc's four finalizer orders (gc.h, GC_register_finalizer and its kinds; the boehm_gc crate's
// FinalizerMode), for keel::register_finalizer. A finalizer runs once a collection finds its
// object unreachable, with the object intact (docs/design/weak.md .sol.ordered).
enum class finalizer_mode {
  ordered,      // GC_register_finalizer: not while another unreachable finalizable object reaches
                // obj; a chain goes outermost first, one link per collection, a cycle never
  ignore_self,  // GC_register_finalizer_ignore_self: ordered, but obj's pointers to itself do not count
  no_order,     // GC_register_finalizer_no_order: whatever reaches obj (its cycles are finalized too)
  unreachable,  // GC_register_finalizer_unreachable: ordered, and not while a no_order object reaches obj
};

// A finalizer as gc.h registers it: the function and its client data. What the registrations
// below return is the finalizer they replaced ({nullptr, nullptr} if none); its mode is not
// recorded (gc.h does not report it). data is a plain pointer: under 3m, a copy held across an
// allocation must be registered like any other local, or it may go stale.
struct finalizer {
  GC_finalization_proc fn = nullptr;
  void* data = nullptr;

  explicit operator bool() const noexcept { return fn != nullptr; }  // there was one
};

namespace internal {

// The type of GC_register_finalizer and its kinds.
using RegisterFinalizerFn = void (*)(void*, GC_finalization_proc, void*, GC_finalization_proc*, void**);

// The gc.h function of each mode (an out-of-range value gets ordered's).
inline RegisterFinalizerFn RegisterFinalizerFor(finalizer_mode mode) noexcept {
  switch (mode) {
    case finalizer_mode::ignore_self:
      return &GC_register_finalizer_ignore_self;
    case finalizer_mode::no_order:
      return &GC_register_finalizer_no_order;
    case finalizer_mode::unreachable:
      return &GC_register_finalizer_unreachable;
    case finalizer_mode::ordered:
      break;
  }
  return &GC_register_finalizer;
}

// D of a finalizer function void(T*, D*): the default data type of register_finalizer<Fn>, so
// that its data argument converts (nullptr included) instead of being deduced.
template <class F>
struct FinalizerData {};
template <class T, class D>
struct FinalizerData<void (*)(T*, D*)> {
  using type = D;
};
template <class T, class D>
struct FinalizerData<void (*)(T*, D*) noexcept> {
  using type = D;
};
template <auto Fn>
using FinalizerDataOf = typename FinalizerData<decltype(Fn)>::type;

// A non-deduced context (std::type_identity_t before C++20).
template <class T>
struct Identity {
  using type = T;
};

// The void* that gc.h takes for any object or data pointer, const or not.
template <class T>
void* AsVoid(T* p) noexcept {
  return const_cast<void*>(static_cast<const volatile void*>(p));
}

// Calls Fn with the pointers gc.h passes, converted back to the types they were registered with,
// so nothing calls Fn through a pointer of another function type. noexcept: an exception must
// not unwind through the collector's finalizer loop, so one that leaves Fn ends the program.
template <auto Fn, class T, class D>
void CallFinalizer(void* obj, void* data) noexcept {
  Fn(static_cast<T*>(obj), static_cast<D*>(data));
}

}  // namespace internal

// The GC_finalization_proc that register_finalizer<Fn> registers for a T* object and D* data:
// compare a returned finalizer's fn with it, or hand it to C code that takes a
// GC_finalization_proc.
template <auto Fn, class T, class D>
inline constexpr GC_finalization_proc finalizer_proc = &internal::CallFinalizer<Fn, T, D>;

// Registers fn(obj, data) as obj's finalizer in `mode`, replacing any it had (one per object, of
// any mode), and returns the one it replaced; a null fn removes it (see unregister_finalizer).
// obj must be the start of one of this thread's collectable objects, or gc.h warns and nothing
// is registered ({nullptr, nullptr} is returned). data is kept alive until fn runs (under 3m,
// fn gets the current addresses of obj and data).
inline finalizer register_finalizer(void* obj, GC_finalization_proc fn, void* data,
                                    finalizer_mode mode = finalizer_mode::ordered) {
  finalizer old;
  internal::RegisterFinalizerFor(mode)(obj, fn, data, &old.fn, &old.data);
  return old;
}

// The typed form: Fn, a function void(T*, D*) given as a template argument, is called with obj
// and data as their own types through finalizer_proc<Fn, T, D>, a function instantiated at
// compile time (nothing is allocated to wrap Fn):
//   void CloseFile(File* f, Log* log);
//   keel::register_finalizer<&CloseFile>(file, log);  // ordered
//   keel::register_finalizer<&CloseFile>(file, nullptr, keel::finalizer_mode::no_order);
// D defaults to Fn's second parameter's pointee (so data converts, nullptr too); give it
// explicitly for an Fn that is not a plain function pointer. Otherwise as the untyped form.
template <auto Fn, class T, class D = internal::FinalizerDataOf<Fn>>
finalizer register_finalizer(T* obj, typename internal::Identity<D>::type* data,
                             finalizer_mode mode = finalizer_mode::ordered) {
  static_assert(std::is_invocable_r_v<void, decltype(Fn), T*, D*>,
                "keel::register_finalizer<Fn>: Fn must be callable as Fn(obj, data)");
  return register_finalizer(internal::AsVoid(obj), finalizer_proc<Fn, T, D>, internal::AsVoid(data), mode);
}

// Removes obj's finalizer, whichever mode registered it, and says whether it had one (false too
// for memory that is not one of this thread's objects, after gc.h's warning).
inline bool unregister_finalizer(const void* obj) {
  GC_finalization_proc old = nullptr;
  GC_register_finalizer(const_cast<void*>(obj), nullptr, nullptr, &old, nullptr);
  return old != nullptr;
}

}  // namespace keel

#endif  // KEEL_HPP
