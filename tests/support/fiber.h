// fiber.h: a minimal ucontext fiber, for tests that run Keel code on another stack: its stack
// comes from mmap (with a guard page below) or from malloc, and Resume tells Keel about each
// switch with keel_gc_enter_stack / keel_gc_leave_stack (unless asked not to, for misuse tests).
// Tests make Fibers with new, so both contexts live in memory Keel does not scan, as in a
// typical fiber library. Header-only; needs only the public headers and POSIX.
#ifndef KEEL_TESTS_SUPPORT_FIBER_H
#define KEEL_TESTS_SUPPORT_FIBER_H

#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>

#include "keel_gc.h"

namespace keel_test {

enum class StackSource { kMmap, kMalloc };

class Fiber {
 public:
  using Body = void (*)(Fiber& self);
  // Room for the collector's frames and the 16 KiB that ClearStack overwrites, many times over.
  static constexpr size_t kDefaultStackBytes = size_t{256} << 10;

  Fiber(Body body, void* data, StackSource source, size_t stack_bytes = kDefaultStackBytes)
      : body_(body), data_(data), source_(source) {
    const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    if (source == StackSource::kMmap) {
      mapped_bytes_ = stack_bytes + page;
      void* m = mmap(nullptr, mapped_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (m == MAP_FAILED) std::abort();
      mapping_ = static_cast<char*>(m);
      mprotect(mapping_, page, PROT_NONE);  // a guard page below the stack, left out of [lo, hi)
      lo_ = mapping_ + page;
    } else {
      mapping_ = static_cast<char*>(std::malloc(stack_bytes));
      if (mapping_ == nullptr) std::abort();
      lo_ = mapping_;
    }
    hi_ = lo_ + stack_bytes;
    getcontext(&context_);
    context_.uc_stack.ss_sp = lo_;
    context_.uc_stack.ss_size = stack_bytes;
    context_.uc_link = &caller_;
    makecontext(&context_, &Fiber::Entry, 0);
  }
  ~Fiber() {
    if (source_ == StackSource::kMmap) {
      munmap(mapping_, mapped_bytes_);
    } else {
      std::free(mapping_);
    }
  }
  Fiber(const Fiber&) = delete;
  Fiber& operator=(const Fiber&) = delete;

  // From the caller's stack: runs the fiber until it yields or its body returns.
  __attribute__((noinline)) void Resume(bool tell_keel = true) {
    t_starting_ = this;
    keel_gc_stack_switch save;
    if (tell_keel) keel_gc_enter_stack(lo_, hi_, &save);
    swapcontext(&caller_, &context_);
    if (tell_keel) keel_gc_leave_stack(&save);
  }
  // From inside the fiber: back to the Resume that ran it.
  __attribute__((noinline)) void Yield() { swapcontext(&context_, &caller_); }

  bool done() const { return done_; }
  void* data() const { return data_; }
  void* lo() const { return lo_; }
  void* hi() const { return hi_; }

 private:
  static void Entry() {
    Fiber* self = t_starting_;
    self->body_(*self);
    self->done_ = true;
  }  // uc_link returns to the caller's Resume

  static inline thread_local Fiber* t_starting_ = nullptr;
  Body body_;
  void* data_;
  StackSource source_;
  char* mapping_ = nullptr;
  size_t mapped_bytes_ = 0;
  char* lo_ = nullptr;
  char* hi_ = nullptr;
  bool done_ = false;
  ucontext_t context_;
  ucontext_t caller_;
};

}  // namespace keel_test

#endif  // KEEL_TESTS_SUPPORT_FIBER_H
