// stack_switch.cpp: keel_gc.h's calls for fibers and coroutines (keel_gc_enter_stack,
// keel_gc_leave_stack, keel_gc_add_stack, keel_gc_remove_stack), a facade over Roots. Kept out of
// api_keel.cpp because keel_gc_enter_stack's entry is assembly. Design note:
// docs/design/roots.md (.sol.switch).
#include <cstddef>
#include <cstdint>
#include <utility>

#include "gc/collector.h"
#include "gc/fatal.h"
#include "gc/plan.h"
#include "keel_gc.h"

using keel::Fatal;
using keel::gc::Collector;
using StackSwitch = keel::gc::Roots::StackSwitch;

static_assert(sizeof(StackSwitch) <= sizeof(keel_gc_stack_switch), "keel_gc_stack_switch is too small");
static_assert(alignof(StackSwitch) <= alignof(keel_gc_stack_switch));
// The entries below store the registers from offset 0 and the caller's stack pointer here.
static_assert(offsetof(StackSwitch, registers) == 0 && StackSwitch::kRegisters == 12);
static_assert(offsetof(StackSwitch, sp) == 96);

namespace {

// Frames a fiber left registered when it yielded, on a stack that was not added: under a plan
// whose roots are the frames, the variables in them were not roots while it was suspended and
// the fiber resumes without them on its chain (roots.md .sol.fiber-frames). Said once a thread.
void WarnDroppedFrames(void** chain) {
  if (!keel::gc::Plan::kMovesObjects || chain == nullptr) return;
  static thread_local bool warned = false;
  if (std::exchange(warned, true)) return;
  keel::Warn("a fiber switched away with registered frames (GC_variable_stack %p) on a stack that is not "
             "added with keel_gc_add_stack: their variables are not roots while it is suspended. Add a fiber's "
             "stack before it first yields, or right after the switch back (keel_gc.h, \"Fibers and coroutines\")",
             static_cast<void*>(chain));
}

}  // namespace

// Where every entry of keel_gc_enter_stack goes once the registers are in *save.
extern "C" __attribute__((used)) void keel_gc_enter_stack_spilled(void* lo, void* hi, keel_gc_stack_switch* save) {
  if (save == nullptr) Fatal("keel_gc_enter_stack: save is NULL");
  WarnDroppedFrames(Collector::Current().roots().EnterStack(
      reinterpret_cast<uintptr_t>(lo), reinterpret_cast<uintptr_t>(hi), reinterpret_cast<StackSwitch*>(save)));
}

// keel_gc_enter_stack is a few instructions of assembly: the caller's callee-saved registers
// must be stored before any compiled code could reuse them, which no C++ function can promise
// (.sol.switch). It stores them (zeros in the unused slots) and the caller's stack pointer into
// *save, unless save is NULL, then jumps to keel_gc_enter_stack_spilled with its arguments as
// they came. One entry per architecture; others get the C++ fallback at the end.
#if defined(__x86_64__)
// System V: rbx, rbp, r12-r15; save arrives in rdx; the caller's sp is just above the return
// address. endbr64 is a no-op where CET is off.
asm(R"(
  .pushsection .text
  .globl keel_gc_enter_stack
  .type keel_gc_enter_stack, @function
  .p2align 4
keel_gc_enter_stack:
  endbr64
  testq %rdx, %rdx
  jz 1f
  movq %rbx, 0(%rdx)
  movq %rbp, 8(%rdx)
  movq %r12, 16(%rdx)
  movq %r13, 24(%rdx)
  movq %r14, 32(%rdx)
  movq %r15, 40(%rdx)
  xorl %eax, %eax
  movq %rax, 48(%rdx)
  movq %rax, 56(%rdx)
  movq %rax, 64(%rdx)
  movq %rax, 72(%rdx)
  movq %rax, 80(%rdx)
  movq %rax, 88(%rdx)
  leaq 8(%rsp), %rax
  movq %rax, 96(%rdx)
1:
  jmp keel_gc_enter_stack_spilled
  .size keel_gc_enter_stack, .-keel_gc_enter_stack
  .popsection
)");
#elif defined(__aarch64__)
// AAPCS64: x19-x28 and the frame pointer x29; save arrives in x2; bl pushes nothing, so sp is
// the caller's. hint #34 is BTI C (a no-op without BTI).
asm(R"(
  .pushsection .text
  .globl keel_gc_enter_stack
  .type keel_gc_enter_stack, %function
  .p2align 2
keel_gc_enter_stack:
  hint #34
  cbz x2, 1f
  stp x19, x20, [x2, #0]
  stp x21, x22, [x2, #16]
  stp x23, x24, [x2, #32]
  stp x25, x26, [x2, #48]
  stp x27, x28, [x2, #64]
  stp x29, xzr, [x2, #80]
  mov x9, sp
  str x9, [x2, #96]
1:
  b keel_gc_enter_stack_spilled
  .size keel_gc_enter_stack, .-keel_gc_enter_stack
  .popsection
)");
#else
// No entry for this architecture: the stack pointer only. Registers are roots where the switch
// itself stores them in scanned memory (a ucontext_t on a stack or in static data).
extern "C" KEEL_API __attribute__((noinline)) void keel_gc_enter_stack(void* lo, void* hi, keel_gc_stack_switch* save) {
  if (save != nullptr) {
    auto* s = reinterpret_cast<StackSwitch*>(save);
    for (uintptr_t& r : s->registers) r = 0;
    s->sp = reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
  }
  keel_gc_enter_stack_spilled(lo, hi, save);
}
#endif

extern "C" {

KEEL_API void keel_gc_leave_stack(keel_gc_stack_switch* save) {
  if (save == nullptr) Fatal("keel_gc_leave_stack: save is NULL");
  WarnDroppedFrames(Collector::Current().roots().LeaveStack(reinterpret_cast<StackSwitch*>(save)));
}

KEEL_API void keel_gc_add_stack(void* lo, void* hi) {
  if (lo == nullptr || reinterpret_cast<uintptr_t>(hi) <= reinterpret_cast<uintptr_t>(lo)) {
    Fatal("keel_gc_add_stack: empty or inverted stack [%p, %p)", lo, hi);
  }
  Collector::Current().roots().AddStack(lo, hi);
}

KEEL_API void keel_gc_remove_stack(void* lo) {
  if (!Collector::Current().roots().RemoveStack(lo)) {
    Fatal("keel_gc_remove_stack: no stack starting at %p is registered (keel_gc_add_stack)", lo);
  }
}

}  // extern "C"
