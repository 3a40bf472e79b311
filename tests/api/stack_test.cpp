// stack_test.cpp: which stacks a collection scans, as an extension that runs fibers or
// coroutines sees it: ucontext fibers on mmap'ed and malloc'ed stacks that allocate and collect
// (keel_gc_enter_stack / keel_gc_leave_stack around each switch), objects that only the
// suspended caller's frame holds, a fiber that yields with objects in its frame
// (keel_gc_add_stack), a fiber inside a fiber, a fiber that names its stack the Racket way
// (scheme_set_stack_bounds), and the warning for an impossible scheme_set_stack_base.
// docs/api.md "Fibers and coroutines".
#include <boost/test/unit_test.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "gc.h"
#include "keel_gc.h"
#include "scheme.h"
#include "support/child_process.h"
#include "support/fiber.h"
#include "support/gc_probe.h"
#include "support/registered.h"
#include "support/scheme_values.h"

namespace {

using keel_test::ChildResult;
using keel_test::Fiber;
using keel_test::Hidden;
using keel_test::BuildList;
using keel_test::IsLiveObjectStart;
using keel_test::ListIsIota;
using keel_test::Registered;
using keel_test::StackSource;

constexpr int kLength = 2000;  // pairs: several pages of them

// Three collections from wherever this runs, through scheme.h and gc.h by turns, each after
// some garbage and with stale stack and scratch registers cleared.
KEEL_TEST_NOINLINE void CollectThrice() {
  for (int i = 0; i < 3; ++i) {
    keel_test::AllocateGarbage();
    keel_test::ClearStack();
    keel_test::ZeroScratchRegisters();
    if (i % 2 == 0) {
      scheme_collect_garbage();
    } else {
      GC_gcollect();
    }
  }
}

// The address *slot holds now, disguised: the object's current address (under 3m it moved at
// its first collection and the registered variable was updated). Out of line, so the raw
// address exists only in a dead frame afterwards.
KEEL_TEST_NOINLINE Hidden HiddenNow(Scheme_Object* const* slot) { return Hidden(*slot); }

// Each list below is held by a registered local (keel_test::Registered): the root 3m needs, on
// the GC_variable_stack chain, which a fiber continues from the frame that resumed it (and
// which keeps a yielded fiber's frame until it ends). CGC ignores the registration and finds
// the same local in the stack it scans, which is what these cases are about.

// What a fiber found, kept in the test's frame (addresses disguised).
struct Findings {
  Hidden list;
  uint64_t collections = 0;
  bool list_live = false;
  bool list_intact = false;
  bool heap_sound = false;
};

// A list that only this fiber's frame refers to lives through collections run on the fiber.
void AllocateAndCollect(Fiber& self) {
  auto* f = static_cast<Findings*>(self.data());
  Scheme_Object* list = BuildList(kLength);
  Registered reg(list);
  const uint64_t before = keel_test::CollectionCount();
  CollectThrice();
  f->collections = keel_test::CollectionCount() - before;
  f->list = HiddenNow(&list);
  f->list_live = IsLiveObjectStart(f->list);
  f->list_intact = ListIsIota(list, kLength);
  f->heap_sound = keel_gc_verify_heap() == 0;
}

void CheckFindings(const Findings& f) {
  BOOST_TEST(f.collections >= 3u);
  BOOST_TEST(f.list_live, "the fiber's list was collected while its frame held it");
  BOOST_TEST(f.list_intact);
  BOOST_TEST(f.heap_sound);
}

void CollectOnly(Fiber&) { CollectThrice(); }

// The list lives only in this frame, which is suspended while the fiber collects.
KEEL_TEST_NOINLINE bool HeldWhileFiberCollects(StackSource source) {
  Scheme_Object* held = BuildList(kLength);
  Registered reg(held);
  std::unique_ptr<Fiber> fiber(new Fiber(CollectOnly, nullptr, source));
  fiber->Resume();
  return fiber->done() && IsLiveObjectStart(HiddenNow(&held)) && ListIsIota(held, kLength);
}

struct YieldFindings {
  Scheme_Object* const* list = nullptr;  // the fiber's registered local, on the fiber's stack
  bool intact_after_resume = false;
};

void AllocateYieldCheck(Fiber& self) {
  auto* f = static_cast<YieldFindings*>(self.data());
  Scheme_Object* list = BuildList(kLength);
  Registered reg(list);
  f->list = &list;
  self.Yield();
  f->intact_after_resume = ListIsIota(list, kLength);
}

struct NestedFindings {
  Findings inner;
  bool outer_list_live = false;
};

void InnerFiber(Fiber& self) { AllocateAndCollect(self); }

// Runs a further fiber while its own list waits in this frame.
void OuterFiber(Fiber& self) {
  auto* n = static_cast<NestedFindings*>(self.data());
  Scheme_Object* list = BuildList(kLength);
  Registered reg(list);
  std::unique_ptr<Fiber> inner(new Fiber(InnerFiber, &n->inner, StackSource::kMalloc));
  inner->Resume();
  n->outer_list_live = inner->done() && IsLiveObjectStart(HiddenNow(&list)) && ListIsIota(list, kLength);
}

KEEL_TEST_NOINLINE bool HeldWhileNestedFibersCollect(NestedFindings* n) {
  Scheme_Object* held = BuildList(kLength);
  Registered reg(held);
  std::unique_ptr<Fiber> outer(new Fiber(OuterFiber, n, StackSource::kMmap));
  outer->Resume();
  return outer->done() && IsLiveObjectStart(HiddenNow(&held)) && ListIsIota(held, kLength);
}

BOOST_FIXTURE_TEST_SUITE(stacks, keel_test::CleanStackFixture)

BOOST_AUTO_TEST_CASE(fiber_on_an_mmap_stack_allocates_and_collects) {
  Findings f;
  std::unique_ptr<Fiber> fiber(new Fiber(AllocateAndCollect, &f, StackSource::kMmap));
  fiber->Resume();
  BOOST_TEST(fiber->done());
  CheckFindings(f);
}

BOOST_AUTO_TEST_CASE(fiber_on_a_malloc_stack_allocates_and_collects) {
  Findings f;
  std::unique_ptr<Fiber> fiber(new Fiber(AllocateAndCollect, &f, StackSource::kMalloc));
  fiber->Resume();
  BOOST_TEST(fiber->done());
  CheckFindings(f);
}

BOOST_AUTO_TEST_CASE(suspended_callers_frame_keeps_objects_while_a_fiber_collects) {
  BOOST_TEST(HeldWhileFiberCollects(StackSource::kMmap));
  BOOST_TEST(HeldWhileFiberCollects(StackSource::kMalloc));
}

BOOST_AUTO_TEST_CASE(fibers_nest) {
  NestedFindings n;
  BOOST_TEST(HeldWhileNestedFibersCollect(&n), "the main stack's list did not survive");
  BOOST_TEST(n.outer_list_live, "the outer fiber's list did not survive");
  CheckFindings(n.inner);
}

// The stack is added before the fiber first runs, or right after it yields (keel_gc.h): either
// way what its frame holds survives collections on the main stack, and the main stack's chain
// of frames is the one it had before the switch (under 3m the fiber's frames stay with its
// stack, roots.md .sol.fiber-frames).
BOOST_AUTO_TEST_CASE(yielded_fiber_keeps_its_objects_through_keel_gc_add_stack) {
  for (bool add_first : {true, false}) {
    for (StackSource source : {StackSource::kMmap, StackSource::kMalloc}) {
      BOOST_TEST_CONTEXT((add_first ? "added before it runs" : "added after it yields")
                         << (source == StackSource::kMmap ? ", mmap stack" : ", malloc stack")) {
        YieldFindings f;
        std::unique_ptr<Fiber> fiber(new Fiber(AllocateYieldCheck, &f, source));
        void** const chain = GC_variable_stack;
        if (add_first) keel_gc_add_stack(fiber->lo(), fiber->hi());
        fiber->Resume();
        BOOST_TEST_REQUIRE(!fiber->done());
        if (!add_first) keel_gc_add_stack(fiber->lo(), fiber->hi());
        BOOST_TEST(GC_variable_stack == chain, "the fiber's frames are on the main stack's chain");
        CollectThrice();  // on the main stack, with the fiber suspended
        BOOST_TEST(IsLiveObjectStart(HiddenNow(f.list)), "a list only the yielded fiber holds was collected");
        fiber->Resume();
        keel_gc_remove_stack(fiber->lo());
        BOOST_TEST(fiber->done());
        BOOST_TEST(f.intact_after_resume);
        BOOST_TEST(GC_variable_stack == chain);
      }
    }
  }
}

// Two fibers take turns with the main stack, each yielding several times with its own list
// registered, while the main stack registers and drops frames of its own between the turns and
// every party collects: each sees its own objects intact and each chain stays its own.
struct TurnFindings {
  int turns = 0;
  bool intact = true;
  bool own_chain = true;
};

void TakeTurns(Fiber& self) {
  auto* f = static_cast<TurnFindings*>(self.data());
  Scheme_Object* list = BuildList(kLength);
  Registered reg(list);
  for (int turn = 0; turn < 4; ++turn) {
    Scheme_Object* extra = BuildList(100 + turn);
    Registered reg_extra(extra);
    CollectThrice();
    f->intact = f->intact && ListIsIota(list, kLength) && ListIsIota(extra, 100 + turn);
    self.Yield();
    f->own_chain = f->own_chain && GC_variable_stack == reg_extra.frame();
    f->intact = f->intact && ListIsIota(list, kLength) && ListIsIota(extra, 100 + turn);
    ++f->turns;
  }
}

BOOST_AUTO_TEST_CASE(fibers_taking_turns_keep_their_frames_apart) {
  TurnFindings fa, fb;
  std::unique_ptr<Fiber> a(new Fiber(TakeTurns, &fa, StackSource::kMmap));
  std::unique_ptr<Fiber> b(new Fiber(TakeTurns, &fb, StackSource::kMalloc));
  keel_gc_add_stack(a->lo(), a->hi());
  keel_gc_add_stack(b->lo(), b->hi());
  Scheme_Object* held = BuildList(kLength);
  Registered reg(held);
  for (int round = 0; round < 6 && !(a->done() && b->done()); ++round) {
    if (!a->done()) a->Resume();
    BOOST_TEST(GC_variable_stack == reg.frame(), "the main stack came back to a chain other than its own");
    Scheme_Object* between = BuildList(50);
    {
      Registered reg_between(between);
      CollectThrice();
      BOOST_TEST(ListIsIota(between, 50));
    }
    if (!b->done()) b->Resume();
    BOOST_TEST(GC_variable_stack == reg.frame(), "the main stack came back to a chain other than its own");
    BOOST_TEST(ListIsIota(held, kLength));
  }
  keel_gc_remove_stack(a->lo());
  keel_gc_remove_stack(b->lo());
  BOOST_TEST((a->done() && b->done()));
  BOOST_TEST(fa.turns == 4);
  BOOST_TEST(fb.turns == 4);
  BOOST_TEST(fa.intact);
  BOOST_TEST(fb.intact);
  BOOST_TEST(fa.own_chain, "fiber a resumed with a chain other than its own");
  BOOST_TEST(fb.own_chain, "fiber b resumed with a chain other than its own");
  BOOST_TEST(ListIsIota(held, kLength));
  BOOST_TEST(keel_gc_verify_heap() == 0);
}

// A fiber that yields with a registered frame on a stack nobody added: under 3m its variables
// are not roots while it is suspended, and Keel says so once when the frames are dropped (at
// the next switch); CGC scans no such stack either, but its frames are not its roots, so it is
// silent. Either way the chains stay apart and the fiber ends cleanly.
BOOST_AUTO_TEST_CASE(frames_left_on_a_stack_not_added_are_reported_under_3m) {
  ChildResult r = keel_test::RunInChild([] {
    keel_test::ChildChecks checks;
    for (int i = 0; i < 2; ++i) {
      YieldFindings f;
      std::unique_ptr<Fiber> fiber(new Fiber(AllocateYieldCheck, &f, StackSource::kMalloc));
      void** const chain = GC_variable_stack;
      fiber->Resume();
      KEEL_CHILD_CHECK(checks, !fiber->done());
      KEEL_CHILD_CHECK(checks, GC_variable_stack == chain);
      fiber->Resume();  // no collection in between: the list is still intact
      KEEL_CHILD_CHECK(checks, fiber->done());
      KEEL_CHILD_CHECK(checks, f.intact_after_resume);
      KEEL_CHILD_CHECK(checks, GC_variable_stack == chain);
    }
    return checks.ExitCode();
  });
  BOOST_TEST(r.ExitedWith(0), r.Describe());
  const std::string warning = "not added with keel_gc_add_stack";
  const size_t first = r.err.find(warning);
  if (std::string(keel_gc_variant()) == "3m") {
    BOOST_TEST(first != std::string::npos, r.Describe());
    BOOST_TEST((first == std::string::npos || r.err.find(warning, first + 1) == std::string::npos),
               "warned more than once; " << r.Describe());
  } else {
    BOOST_TEST(first == std::string::npos, r.Describe());
  }
}

// The Racket way: the fiber names its own stack, and the thread's again before switching back.
// The suspended caller is not scanned meanwhile, so it holds nothing.
void NamedBySetStackBounds(Fiber& self) {
  scheme_set_stack_bounds(static_cast<char*>(self.hi()) - sizeof(void*), self.lo(), 0);
  AllocateAndCollect(self);
  scheme_set_stack_base(nullptr, 0);
}

BOOST_AUTO_TEST_CASE(scheme_set_stack_bounds_names_a_fiber_stack) {
  ChildResult r = keel_test::RunInChild([] {
    keel_test::ChildChecks checks;
    keel_shutdown();
    Findings f;
    std::unique_ptr<Fiber> fiber(new Fiber(NamedBySetStackBounds, &f, StackSource::kMmap));
    fiber->Resume(/*tell_keel=*/false);
    KEEL_CHILD_CHECK(checks, fiber->done());
    KEEL_CHILD_CHECK(checks, f.collections >= 3u);
    KEEL_CHILD_CHECK(checks, f.list_live);
    KEEL_CHILD_CHECK(checks, f.list_intact);
    KEEL_CHILD_CHECK(checks, f.heap_sound);
    CollectThrice();  // back on the thread's own stack
    KEEL_CHILD_CHECK(checks, keel_gc_verify_heap() == 0);
    return checks.ExitCode();
  });
  BOOST_TEST(r.ExitedWith(0), r.Describe());
}

// A base far below every stack pointer a collection will have, though on the thread's stack:
// nothing between would be a root. Keel warns once and scans the thread's stack instead.
KEEL_TEST_NOINLINE int CollectWithImpossibleBase() {
  Scheme_Object* list = BuildList(kLength);
  Registered reg(list);
  char here = 0;
  scheme_set_stack_base(reinterpret_cast<void*>(reinterpret_cast<uintptr_t>(&here) - (uintptr_t{256} << 10)), 0);
  CollectThrice();
  return IsLiveObjectStart(HiddenNow(&list)) && ListIsIota(list, kLength) ? 0 : 1;
}

BOOST_AUTO_TEST_CASE(impossible_stack_base_warns_once_and_keeps_stack_roots) {
  ChildResult r = keel_test::RunInChild([] {
    keel_shutdown();
    return CollectWithImpossibleBase();
  });
  BOOST_TEST(r.ExitedWith(0), "a list held by the stack was collected; " << r.Describe());
  const std::string warning = "impossible stack base";
  size_t first = r.err.find(warning);
  // 3m scans no stack (docs/gc3m.md), so no collection meets the base: only CGC warns.
  if (std::string(keel_gc_variant()) == "cgc") BOOST_TEST(first != std::string::npos, r.Describe());
  BOOST_TEST((first == std::string::npos || r.err.find(warning, first + 1) == std::string::npos),
             "warned more than once; " << r.Describe());
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
