// variable_stack.cpp: GC_variable_stack's definition, and CheckVariableStack, which audits the
// calling thread's chain of registered frames (docs/design/roots.md .sol.frames,
// .sol.frame-audit).
#include "gc/variable_stack.h"

#include <cinttypes>
#include <cstdarg>
#include <cstdio>

#include "gc/collector.h"
#include "gc/fatal.h"

// One chain per thread (per place), like Racket's (reference/racket_bc.md §2.3). Defined in
// every variant: in CGC the runtime's own frames are on it.
extern "C" {
KEEL_API __thread void** GC_variable_stack __attribute__((tls_model("initial-exec"))) =
    nullptr;
}

namespace keel::gc {

namespace {

// A frame with more slots is corrupt: a frame holds one function's locals, a few hundred at most.
constexpr intptr_t kMaxFrameSlots = intptr_t{1} << 16;
// A longer chain is cyclic or corrupt: one frame per active registering call, and 2^20 of them
// would fill an 8 MiB stack with frames alone.
constexpr size_t kMaxFrames = size_t{1} << 20;
// No variable lies below this address (Linux keeps the first 64 KiB unmapped: the default
// vm.mmap_min_addr), and no array entry is this long, so the third slot of `0, &array, length`
// tells an array entry from an empty slot followed by variables (.sol.frame-audit).
constexpr uintptr_t kMinAddress = uintptr_t{1} << 16;
// Problems printed in full: enough to diagnose; the rest are only counted.
constexpr size_t kMaxPrinted = 50;

class VariableStackCheck {
 public:
  VariableStackCheck(const Collector& c, const Roots::StackBounds& stack, uintptr_t live_lo)
      : c_(c), stack_(stack), live_lo_(live_lo) {}

  size_t Run() {
    size_t depth = 0;
    for (void** frame = GC_variable_stack; frame != nullptr;
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
    if (addr < kMinAddress || addr % alignof(void*) != 0) {
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
    void** slots = frame + 2;
    for (intptr_t i = 0; i < count;) {
      if (slots[i] != nullptr) {
        CheckVariable(frame, depth, i, -1, slots[i]);
        ++i;
        continue;
      }
      // `0, &array, length` needs three slots and a length where an empty slot followed by a
      // variable would have an address; otherwise the 0 is an empty slot (MZ_GC_NO_VAR_IN_REG).
      // Racket BC's walker always reads an array here, past the frame's end if need be.
      if (count - i < 3 || reinterpret_cast<uintptr_t>(slots[i + 2]) >= kMinAddress) {
        ++i;
        continue;
      }
      auto* array = static_cast<void**>(slots[i + 1]);
      auto len = reinterpret_cast<intptr_t>(slots[i + 2]);
      if (len != 0 && reinterpret_cast<uintptr_t>(array) < kMinAddress) {
        Problem("frame %p (depth %zu), slot %" PRIdPTR ": array entry of length %" PRIdPTR
                " at %p, not an array's address",
                static_cast<void*>(frame), depth, i, len, static_cast<void*>(array));
      } else {
        for (intptr_t k = 0; k < len; ++k) CheckVariable(frame, depth, i, k, &array[k]);
      }
      i += 3;
    }
    return true;
  }

  // The variable at var, registered in slot `slot` (element `element` of an array entry, or -1).
  void CheckVariable(void** frame, size_t depth, intptr_t slot, intptr_t element, void* var) {
    auto addr = reinterpret_cast<uintptr_t>(var);
    if (addr < kMinAddress || addr % alignof(void*) != 0) {
      Problem("frame %p (depth %zu), slot %" PRIdPTR ": %p is not a variable's address",
              static_cast<void*>(frame), depth, slot, var);
      return;
    }
    void* value = *static_cast<void**>(var);
    if (value == nullptr || (reinterpret_cast<uintptr_t>(value) & 1) != 0) return;  // NULL, fixnum
    if (!c_.IsHeapAddress(value) || c_.BaseOf(value) != nullptr) return;  // not ours, or an object
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

size_t CheckVariableStack(const Collector& c, uintptr_t live_stack_lo) {
  return VariableStackCheck(c, c.roots().stack_bounds(), live_stack_lo).Run();
}

}  // namespace keel::gc
