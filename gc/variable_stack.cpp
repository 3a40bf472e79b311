// variable_stack.cpp: GC_variable_stack's definition, and CheckVariableStack, which audits the
// calling thread's chain of registered frames (docs/design/roots.md .sol.frames,
// .sol.frame-audit).
#include "gc/variable_stack.h"

#include <cinttypes>
#include <cstdarg>
#include <cstdio>

#include "gc/collector.h"
#include "gc/fatal.h"
#include "gc/tracer.h"

// One chain per thread (per place), like Racket's (reference/racket_bc.md §2.3). Defined in
// every variant: in CGC the runtime's own frames are on it.
extern "C" {
KEEL_API __thread void** GC_variable_stack __attribute__((tls_model("initial-exec"))) =
    nullptr;
}

namespace keel::gc {

namespace {

// A longer chain is cyclic or corrupt: one frame per active registering call, and 2^20 of them
// would fill an 8 MiB stack with frames alone.
constexpr size_t kMaxFrames = size_t{1} << 20;
// Problems printed in full: enough to diagnose; the rest are only counted.
constexpr size_t kMaxPrinted = 50;

class VariableStackCheck {
 public:
  VariableStackCheck(const Collector& c, const Roots::StackBounds& stack, uintptr_t live_lo)
      : c_(c), stack_(stack), live_lo_(live_lo) {}

  size_t Run(void** head) {
    size_t depth = 0;
    for (void** frame = head; frame != nullptr;
         frame = static_cast<void**>(frame[0])) {
      if (++depth > kMaxFrames) {
        Problem("the chain is longer than %zu frames (cyclic or corrupt); stopped", kMaxFrames);
        break;
      }
      if (!CheckFrame(frame, depth)) break;
    }
    return problems_;
  }

 private:
  // False when the walk must stop at this frame.
  bool CheckFrame(void** frame, size_t depth) {
    auto addr = reinterpret_cast<uintptr_t>(frame);
    if (addr < kMinVariableAddress || addr % alignof(void*) != 0) {
      Problem("frame %zu is at %p, not a frame's address (corrupt chain); stopped", depth,
              static_cast<void*>(frame));
      return false;
    }
    if (stack_.lo <= live_lo_ && live_lo_ < stack_.hi && stack_.lo <= addr && addr < live_lo_) {
      Problem("frame %p (depth %zu) lies below the stack pointer %p: a frame registered by a "
              "function that returned without MZ_GC_UNREG; stopped",
              static_cast<void*>(frame), depth, reinterpret_cast<void*>(live_lo_));
      return false;
    }
    auto count = reinterpret_cast<intptr_t>(frame[1]);
    if (count < 0 || count > kMaxFrameSlots) {
      Problem("frame %p (depth %zu) has slot count %" PRIdPTR " (corrupt); stopped",
              static_cast<void*>(frame), depth, count);
      return false;
    }
    ForEachFrameEntry(frame, count, [&](const FrameEntry& e) {
      if (!e.array) {
        CheckVariable(frame, depth, e.slot, -1, e.first);
      } else if (e.length != 0 && reinterpret_cast<uintptr_t>(e.first) < kMinVariableAddress) {
        Problem("frame %p (depth %zu), slot %" PRIdPTR ": array entry of length %" PRIdPTR
                " at %p, not an array's address",
                static_cast<void*>(frame), depth, e.slot, e.length, static_cast<void*>(e.first));
      } else {
        for (intptr_t k = 0; k < e.length; ++k) CheckVariable(frame, depth, e.slot, k, &e.first[k]);
      }
    });
    return true;
  }

  // The variable at var, registered in slot `slot` (element `element` of an array entry, or -1).
  void CheckVariable(void** frame, size_t depth, intptr_t slot, intptr_t element, void* var) {
    auto addr = reinterpret_cast<uintptr_t>(var);
    if (addr < kMinVariableAddress || addr % alignof(void*) != 0) {
      Problem("frame %p (depth %zu), slot %" PRIdPTR ": %p is not a variable's address",
              static_cast<void*>(frame), depth, slot, var);
      return;
    }
    void* value = *static_cast<void**>(var);
    if (value == nullptr || (reinterpret_cast<uintptr_t>(value) & 1) != 0) return;  // NULL, fixnum
    // Not ours, an object, or one past the end of an allow-interior object.
    if (!c_.IsHeapAddress(value) || c_.BaseOf(value) != nullptr || c_.IsEndOfInteriorObject(value)) return;
    if (element < 0) {
      Problem("frame %p (depth %zu), slot %" PRIdPTR ": variable %p holds %p, which points at "
              "no allocated object (a free slot of the heap)",
              static_cast<void*>(frame), depth, slot, var, value);
    } else {
      Problem("frame %p (depth %zu), slot %" PRIdPTR ", array element %" PRIdPTR
              " at %p holds %p, which points at no allocated object (a free slot of the heap)",
              static_cast<void*>(frame), depth, slot, element, var, value);
    }
  }

  void Problem(const char* fmt, ...) __attribute__((format(printf, 2, 3))) {
    if (++problems_ > kMaxPrinted) return;
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    std::vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    Warn("variable stack check: %s", text);
  }

  const Collector& c_;
  const Roots::StackBounds stack_;
  const uintptr_t live_lo_;
  size_t problems_ = 0;
};

}  // namespace

void TraceFrameChain(void** head, Tracer& t) {
  size_t depth = 0;
  for (void** frame = head; frame != nullptr && ++depth <= kMaxFrames;
       frame = static_cast<void**>(frame[0])) {
    const auto count = reinterpret_cast<intptr_t>(frame[1]);
    if (count < 0 || count > kMaxFrameSlots) return;
    ForEachFrameEntry(frame, count, [&t](const FrameEntry& e) {
      const auto at = reinterpret_cast<uintptr_t>(e.first);
      if (at < kMinVariableAddress || at % alignof(void*) != 0) return;
      for (intptr_t k = 0; k < e.length; ++k) t.VisitSlot(&e.first[k], Tracer::Holder::kRoot);
    });
  }
}

size_t CheckVariableStack(const Collector& c, uintptr_t live_stack_lo) {
  size_t problems = VariableStackCheck(c, c.roots().stack_bounds(), live_stack_lo).Run(GC_variable_stack);
  // A suspended stack's frames are checked as frames; which of them are stale is not known.
  c.roots().ForEachSuspendedChain([&](void** chain) {
    problems += VariableStackCheck(c, Roots::StackBounds{}, 0).Run(chain);
  });
  return problems;
}

}  // namespace keel::gc
