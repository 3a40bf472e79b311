// stack_bounds_test.cpp: which part of which stack Roots::LiveStack hands a collection
// (docs/design/roots.md .sol.bounds, .sol.unknown-stack, .sol.impossible-base), how
// EnterStack / LeaveStack nest (.sol.switch), and that keel_gc_enter_stack stores the caller's
// callee-saved registers and stack pointer where Roots::Trace scans them.
#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <string>

#include "gc/fatal.h"
#include "gc/roots.h"
#include "keel_gc.h"

namespace {

using keel::gc::Range;
using keel::gc::Roots;

std::string g_warnings;
void RecordWarning(char* msg, unsigned long) { g_warnings += msg; }

// Routes keel::Warn into g_warnings for one test case.
struct WarningsCaptured {
  WarningsCaptured() : previous(keel::GetWarnProc()) {
    g_warnings.clear();
    keel::SetWarnProc(RecordWarning);
  }
  ~WarningsCaptured() { keel::SetWarnProc(previous); }
  keel::WarnProc previous;
};

__attribute__((noinline)) uintptr_t StackPointerHere() {
  volatile char here = 0;
  return reinterpret_cast<uintptr_t>(&here);
}

char g_not_a_stack[4096];

BOOST_FIXTURE_TEST_SUITE(stack_bounds, WarningsCaptured)

BOOST_AUTO_TEST_CASE(thread_stack_by_default) {
  Roots roots;
  const Range t = roots.thread_stack();
  const uintptr_t sp = StackPointerHere();
  BOOST_TEST_REQUIRE((t.lo < sp && sp < t.hi));
  Range live{};
  BOOST_TEST(roots.LiveStack(sp, &live));
  BOOST_TEST((live.lo == sp && live.hi == t.hi));
  BOOST_TEST(!roots.LiveStack(reinterpret_cast<uintptr_t>(g_not_a_stack), &live));
}

BOOST_AUTO_TEST_CASE(a_base_on_the_thread_stack_keeps_its_low_end) {
  Roots roots;
  const uintptr_t sp = StackPointerHere();
  const uintptr_t base = sp + 4096;
  roots.SetStackBase(reinterpret_cast<void*>(base));
  BOOST_TEST(roots.stack_bounds().lo == roots.thread_stack().lo);
  Range live{};
  BOOST_TEST(roots.LiveStack(sp, &live));
  BOOST_TEST((live.lo == sp && live.hi == base));
  roots.SetStackBase(nullptr);
  BOOST_TEST(roots.stack_base() == roots.thread_stack().hi);
  BOOST_TEST(g_warnings.empty());
}

BOOST_AUTO_TEST_CASE(an_impossible_base_warns_once_and_scans_the_thread_stack) {
  Roots roots;
  const uintptr_t sp = StackPointerHere();
  roots.SetStackBase(reinterpret_cast<void*>(sp - 65536));
  Range live{};
  BOOST_TEST(roots.LiveStack(sp, &live));
  BOOST_TEST((live.lo == sp && live.hi == roots.thread_stack().hi));
  BOOST_TEST(g_warnings.find("impossible stack base") != std::string::npos);
  const std::string first = g_warnings;
  BOOST_TEST(roots.LiveStack(sp, &live));
  BOOST_TEST(g_warnings == first);  // once per base
}

BOOST_AUTO_TEST_CASE(bounds_elsewhere_hold_only_their_own_stack_pointers) {
  Roots roots;
  char* lo = g_not_a_stack;
  char* hi = g_not_a_stack + sizeof g_not_a_stack;
  roots.SetStackBounds(hi - sizeof(void*), lo + 1024);
  Range live{};
  const auto inside = reinterpret_cast<uintptr_t>(lo + 2048);
  BOOST_TEST(roots.LiveStack(inside, &live));
  BOOST_TEST((live.lo == inside && live.hi == reinterpret_cast<uintptr_t>(hi - sizeof(void*))));
  // Below the end, within Racket's overflow margin: still this stack.
  BOOST_TEST(roots.LiveStack(reinterpret_cast<uintptr_t>(lo + 16), &live));
  // Back on the thread's stack, whose stack pointers the base cannot serve: warn and scan the
  // thread's stack.
  BOOST_TEST(roots.LiveStack(StackPointerHere(), &live));
  BOOST_TEST(live.hi == roots.thread_stack().hi);
  BOOST_TEST(g_warnings.find("impossible stack base") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(entered_stacks_are_exact_and_nest) {
  Roots roots;
  static char first[4096], second[4096];
  Roots::StackSwitch a{}, b{};
  a.sp = StackPointerHere();
  roots.EnterStack(reinterpret_cast<uintptr_t>(first), reinterpret_cast<uintptr_t>(first + sizeof first), &a);
  BOOST_TEST(a.suspended.hi == roots.thread_stack().hi);
  Range live{};
  BOOST_TEST(!roots.LiveStack(StackPointerHere(), &live));  // the thread's stack is suspended
  b.sp = reinterpret_cast<uintptr_t>(first + 100);
  roots.EnterStack(reinterpret_cast<uintptr_t>(second), reinterpret_cast<uintptr_t>(second + sizeof second), &b);
  BOOST_TEST((b.suspended.lo == b.sp && b.suspended.hi == reinterpret_cast<uintptr_t>(first + sizeof first)));
  BOOST_TEST(roots.LiveStack(reinterpret_cast<uintptr_t>(second + 8), &live));
  roots.LeaveStack(&b);
  roots.LeaveStack(&a);
  BOOST_TEST(roots.LiveStack(StackPointerHere(), &live));
  BOOST_TEST(live.hi == roots.thread_stack().hi);
}

#if defined(__x86_64__)
// The callee-saved registers keel_gc_enter_stack stores are those of its caller: rbx and
// r12-r15 hold a marker across the call (rbp may be the frame pointer, so it is left alone).
BOOST_AUTO_TEST_CASE(enter_stack_stores_the_callers_registers) {
  static char fiber[4096];
  keel_gc_stack_switch save{};
  const uintptr_t marker = 0x5eed'cafe'f00d'0001ull;
  uintptr_t m = marker;
  void* lo = fiber;
  void* hi = fiber + sizeof fiber;
  void* record = &save;
  uintptr_t sp_at_call = 0;
  // 128 bytes step over the red zone and keep the stack 16-byte aligned for the call; rcx gets
  // the stack pointer the call was made with.
  asm volatile(
      "movq %%rax, %%rbx\n\tmovq %%rax, %%r12\n\tmovq %%rax, %%r13\n\tmovq %%rax, %%r14\n\t"
      "movq %%rax, %%r15\n\tsubq $128, %%rsp\n\tcall keel_gc_enter_stack\n\tmovq %%rsp, %%rcx\n\t"
      "addq $128, %%rsp"
      : "=c"(sp_at_call), "+a"(m), "+D"(lo), "+S"(hi), "+d"(record)
      :
      : "r8", "r9", "r10", "r11", "rbx", "r12", "r13", "r14", "r15", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4",
        "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "memory",
        "cc");
  const auto* s = reinterpret_cast<const Roots::StackSwitch*>(&save);
  keel_gc_leave_stack(&save);
  BOOST_TEST(s->registers[0] == marker);  // rbx
  for (int i = 2; i < 6; ++i) BOOST_TEST(s->registers[i] == marker);  // r12-r15
  for (size_t i = 6; i < Roots::StackSwitch::kRegisters; ++i) BOOST_TEST(s->registers[i] == 0u);
  BOOST_TEST(s->sp == sp_at_call);
}
#endif

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
