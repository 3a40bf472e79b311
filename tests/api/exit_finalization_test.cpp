// exit_finalization_test.cpp: finalizers at exit (docs/design/weak.md .sol.exit). keel_shutdown
// and scheme_main_setup's return run the finalizers that are pending or become ready in full
// collections, and, with keel_gc_finalize_all_on_exit, those of objects still reachable, so a C
// library's resources are released. Each case runs in a forked child that starts from a fresh
// runtime (keel_shutdown first), against CGC and 3m from one source.
#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <string>

#include "gc.h"
#include "keel_gc.h"
#include "scheme.h"
#include "support/child_process.h"
#include "support/gc_probe.h"

namespace {

using keel_test::ChildChecks;
using keel_test::ChildResult;
using keel_test::RunInChild;

// Calls per finalizer tag, in the child.
int g_plain = 0;     // scheme_add_finalizer on dropped objects
int g_kept = 0;      // finalizers of objects a static root still holds
int g_wills = 0;
int g_bdwgc = 0;
int g_escaped = 0;   // finalizers that escaped
int g_later = 0;     // finalizers registered by a finalizer at exit

void CountPlain(void*, void*) { ++g_plain; }
void CountKept(void* p, void* data) {
  // The object is intact (3m: at its current address) and the data is what was registered.
  auto* o = static_cast<Scheme_Object*>(p);
  if (SCHEME_PAIRP(o) && SCHEME_INT_VAL(SCHEME_CAR(o)) == reinterpret_cast<intptr_t>(data)) ++g_kept;
}
void CountWill(void*, void*) { ++g_wills; }
void CountBdwgc(void*, void*) { ++g_bdwgc; }
void CountLater(void*, void*) { ++g_later; }
void Escapes(void*, void*) {
  ++g_escaped;
  scheme_signal_error("finalizer-escape-test");
}
// At exit, registers a finalizer on a fresh object that nothing keeps.
void RegistersAnother(void*, void*) {
  Scheme_Object* fresh = scheme_make_pair(scheme_make_integer(1), scheme_null);
  scheme_add_finalizer(fresh, &CountLater, nullptr);
}

// `n` pairs with a counting finalizer, dropped when the frame returns. Collection is disabled
// meanwhile, so that none runs before exit, also under GC stress.
KEEL_TEST_NOINLINE void DropFinalizable(int n) {
  scheme_enable_garbage_collection(0);
  for (int i = 0; i < n; ++i) {
    Scheme_Object* p = scheme_make_pair(scheme_make_integer(i), scheme_null);
    scheme_add_finalizer(p, &CountPlain, nullptr);
  }
  scheme_enable_garbage_collection(1);
}

// Held from static roots in the child.
Scheme_Object* g_held[4];

// A pair (n . ()) held in g_held[slot].
KEEL_TEST_NOINLINE Scheme_Object* Hold(int slot, intptr_t n) {
  g_held[slot] = scheme_make_pair(scheme_make_integer(n), scheme_null);
  return g_held[slot];
}

// A conservative scan may keep one dropped object through a stale stack word (gc_probe.h);
// sanitizer, Debug and stress builds allow for that, release builds check exactly.
bool AllOrNearly(int ran, int of) { return keel_test::FreedChecksAreStrict() ? ran == of : ran + 2 >= of; }

void Fresh() {
  keel_shutdown();
  scheme_register_static(g_held, sizeof g_held);
}

constexpr int kDropped = 200;

}  // namespace

BOOST_AUTO_TEST_SUITE(finalization_at_exit)

BOOST_AUTO_TEST_CASE(shutdown_runs_the_finalizers_of_unreachable_objects_only) {
  ChildResult r = RunInChild([] {
    ChildChecks checks;
    Fresh();
    KEEL_CHILD_CHECK(checks, keel_gc_finalize_all_on_exit(0) == 0);  // off by default
    scheme_add_finalizer(Hold(0, 7), &CountKept, reinterpret_cast<void*>(intptr_t{7}));
    DropFinalizable(kDropped);
    KEEL_CHILD_CHECK(checks, g_plain == 0);  // nothing collected yet
    keel_shutdown();
    KEEL_CHILD_CHECK(checks, AllOrNearly(g_plain, kDropped));
    KEEL_CHILD_CHECK(checks, g_kept == 0);  // still reachable, and not asked for
    return checks.ExitCode();
  });
  BOOST_TEST(r.ExitedWith(0), r.Describe());
}

BOOST_AUTO_TEST_CASE(finalize_all_on_exit_also_runs_those_of_reachable_objects) {
  ChildResult r = RunInChild([] {
    ChildChecks checks;
    Fresh();
    KEEL_CHILD_CHECK(checks, keel_gc_finalize_all_on_exit(1) == 0);
    KEEL_CHILD_CHECK(checks, keel_gc_finalize_all_on_exit(1) == 1);
    DropFinalizable(kDropped);
    // Each kind, on objects a static root keeps: the registered finalizer and the chain; three
    // will-like finalizers (one per round); bdwgc's, waiting for GC_invoke_finalizers.
    scheme_register_finalizer(Hold(0, 10), &CountKept, reinterpret_cast<void*>(intptr_t{10}), nullptr, nullptr);
    scheme_add_finalizer(g_held[0], &CountKept, reinterpret_cast<void*>(intptr_t{10}));
    Hold(1, 11);
    for (int i = 0; i < 3; ++i) scheme_add_scheme_finalizer(g_held[1], &CountWill, nullptr);
    GC_set_finalize_on_demand(1);
    GC_register_finalizer(Hold(2, 12), &CountBdwgc, nullptr, nullptr, nullptr);
    scheme_add_finalizer(Hold(3, 13), &RegistersAnother, nullptr);
    keel_shutdown();
    KEEL_CHILD_CHECK(checks, AllOrNearly(g_plain, kDropped));
    KEEL_CHILD_CHECK(checks, g_kept == 2);
    KEEL_CHILD_CHECK(checks, g_wills == 3);
    KEEL_CHILD_CHECK(checks, g_bdwgc == 1);
    KEEL_CHILD_CHECK(checks, g_later == 1);
    // The new runtime starts with the default again, and its own exit finalizes nothing twice.
    KEEL_CHILD_CHECK(checks, keel_gc_finalize_all_on_exit(0) == 0);
    keel_shutdown();
    KEEL_CHILD_CHECK(checks, g_kept == 2 && g_wills == 3 && g_bdwgc == 1);
    return checks.ExitCode();
  });
  BOOST_TEST(r.ExitedWith(0), r.Describe());
}

BOOST_AUTO_TEST_CASE(a_finalizer_that_escapes_at_exit_does_not_stop_the_others) {
  ChildResult r = RunInChild([] {
    ChildChecks checks;
    Fresh();
    keel_gc_finalize_all_on_exit(1);
    scheme_add_finalizer(Hold(0, 20), &CountKept, reinterpret_cast<void*>(intptr_t{20}));
    scheme_add_finalizer(Hold(1, 21), &Escapes, nullptr);
    scheme_add_finalizer(Hold(2, 22), &CountKept, reinterpret_cast<void*>(intptr_t{22}));
    scheme_add_finalizer(Hold(3, 23), &Escapes, nullptr);
    keel_shutdown();  // returns: the escapes are reported, not passed on
    KEEL_CHILD_CHECK(checks, g_escaped == 2);
    KEEL_CHILD_CHECK(checks, g_kept == 2);
    return checks.ExitCode();
  });
  BOOST_TEST(r.ExitedWith(0), r.Describe());
  BOOST_TEST(r.err.find("finalizer-escape-test") != std::string::npos, r.err);
}

namespace {

int g_main_result_seen = 0;

// main makes finalizable objects it drops and one a static root keeps, collects nothing, and
// returns; the finalizers run before scheme_main_setup returns.
int MainThatDropsThings(Scheme_Env*, int, char**) {
  scheme_register_static(g_held, sizeof g_held);
  scheme_add_finalizer(Hold(0, 30), &CountKept, reinterpret_cast<void*>(intptr_t{30}));
  DropFinalizable(kDropped);
  g_main_result_seen = g_plain;
  return 5;
}

}  // namespace

BOOST_AUTO_TEST_CASE(scheme_main_setup_runs_pending_finalizers_when_main_returns) {
  for (bool all : {false, true}) {
    ChildResult r = RunInChild([all] {
      ChildChecks checks;
      keel_shutdown();
      keel_gc_finalize_all_on_exit(all ? 1 : 0);
      const int result = scheme_main_setup(1, &MainThatDropsThings, 0, nullptr);
      KEEL_CHILD_CHECK(checks, result == 5);
      KEEL_CHILD_CHECK(checks, g_main_result_seen == 0);
      KEEL_CHILD_CHECK(checks, AllOrNearly(g_plain, kDropped));
      KEEL_CHILD_CHECK(checks, g_kept == (all ? 1 : 0));
      return checks.ExitCode();
    });
    BOOST_TEST(r.ExitedWith(0), (all ? "finalize all: " : "pending only: ") << r.Describe());
  }
}

BOOST_AUTO_TEST_SUITE_END()
