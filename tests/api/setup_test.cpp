// setup_test.cpp: embedding start-up (scheme_main_setup, scheme_main_stack_setup,
// scheme_set_stack_bounds, scheme_basic_env, scheme_register_tls_space) and MZ_REGISTER_STATIC
// with no_auto_statics. Start-up must come before any other use of the runtime, so each case
// runs in a forked child that first discards the runtime it inherited (keel_shutdown).
#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <cstring>
#include <string>

#include "gc.h"
#include "keel_gc.h"
#include "scheme.h"
#include "support/child_process.h"
#include "support/gc_probe.h"
#include "support/registered.h"
#include "support/scheme_values.h"

namespace {

using keel_test::ChildChecks;
using keel_test::ChildResult;
using keel_test::CollectClean;
using keel_test::HasPatternAt;
using keel_test::Hidden;
using keel_test::BuildList;
using keel_test::IsLiveObjectStart;
using keel_test::ListIsIota;
using keel_test::Registered;
using keel_test::RunInChild;
using keel_test::WasFreed;

BOOST_FIXTURE_TEST_SUITE(startup, keel_test::CleanStackFixture)

// --- scheme_main_setup ---------------------------------------------------------------------------

struct MainSeen {
  int calls = 0;
  int argc = -1;
  char** argv = nullptr;
  bool env_is_namespace = false;
  bool allocation_works = false;
};
MainSeen g_main_seen;

int RecordingMain(Scheme_Env* env, int argc, char** argv) {
  g_main_seen.calls++;
  g_main_seen.argc = argc;
  g_main_seen.argv = argv;
  g_main_seen.env_is_namespace = env != nullptr && SCHEME_NAMESPACEP(reinterpret_cast<Scheme_Object*>(env));
  Scheme_Object* list = BuildList(2000);
  Registered reg(list);
  CollectClean();
  g_main_seen.allocation_works = ListIsIota(list, 2000) && keel_gc_verify_heap() == 0;
  return 40 + argc;  // a result that depends on the arguments
}

BOOST_AUTO_TEST_CASE(scheme_main_setup_passes_arguments_and_returns_mains_result) {
  ChildResult r = RunInChild([] {
    ChildChecks checks;
    keel_shutdown();
    char arg0[] = "host", arg1[] = "--flag", arg2[] = "value";
    char* argv[] = {arg0, arg1, arg2, nullptr};
    int result = scheme_main_setup(0, RecordingMain, 3, argv);
    KEEL_CHILD_CHECK(checks, result == 43);
    KEEL_CHILD_CHECK(checks, g_main_seen.calls == 1);
    KEEL_CHILD_CHECK(checks, g_main_seen.argc == 3);
    KEEL_CHILD_CHECK(checks, g_main_seen.argv == argv);
    KEEL_CHILD_CHECK(checks, std::strcmp(argv[1], "--flag") == 0);  // not inspected or changed
    KEEL_CHILD_CHECK(checks, g_main_seen.env_is_namespace);
    KEEL_CHILD_CHECK(checks, g_main_seen.allocation_works);
    return checks.ExitCode();
  });
  BOOST_TEST(r.ExitedWith(0), r.Describe());
}

// --- no_auto_statics and MZ_REGISTER_STATIC --------------------------------------------------------

// Two statics: only the registered one may keep its object alive once automatic scanning of
// static data is off.
Scheme_Object* g_registered_static = nullptr;
Scheme_Object* g_unregistered_static = nullptr;

KEEL_TEST_NOINLINE Hidden StoreNewIn(Scheme_Object** slot, size_t n, uint64_t seed) {
  void* p = scheme_malloc(n);
  keel_test::FillPattern(p, n, seed);
  *slot = static_cast<Scheme_Object*>(p);
  return Hidden(p);
}

// The address *slot holds now, disguised; out of line, so the raw address exists only in a dead
// frame afterwards (CollectClean clears it before a conservative collection could see it).
KEEL_TEST_NOINLINE Hidden HiddenNow(Scheme_Object* const* slot) { return Hidden(*slot); }

struct StaticsSeen {
  bool registered_survived = false;
  bool unregistered_freed = false;
  bool registered_freed_when_cleared = false;
};
StaticsSeen g_statics_seen;

// Under 3m the registered static's object moves at its first collection and the static is
// updated: survival is checked at the address the static holds now, and the address probed for
// "freed" is the one it held last. The unregistered static's object never moves (nothing
// reaches it), so its first address stays the one to probe.
int NoAutoStaticsMain(Scheme_Env*, int, char**) {
  MZ_REGISTER_STATIC(g_registered_static);
  (void)StoreNewIn(&g_registered_static, 72, 1);
  Hidden lost = StoreNewIn(&g_unregistered_static, 72, 2);
  bool survived = true;
  for (int i = 0; i < 3; ++i) {
    keel_test::AllocateGarbage();
    CollectClean();
    const Hidden now = HiddenNow(&g_registered_static);
    survived = survived && IsLiveObjectStart(now) && HasPatternAt(now, 72, 1);
  }
  g_statics_seen.registered_survived = survived;
  g_statics_seen.unregistered_freed = WasFreed(lost);
  const Hidden kept = HiddenNow(&g_registered_static);
  g_registered_static = nullptr;
  CollectClean();
  g_statics_seen.registered_freed_when_cleared = WasFreed(kept);
  return 0;
}

BOOST_AUTO_TEST_CASE(no_auto_statics_needs_mz_register_static) {
  ChildResult r = RunInChild([] {
    ChildChecks checks;
    keel_shutdown();
    char arg0[] = "host";
    char* argv[] = {arg0, nullptr};
    int result = scheme_main_setup(1, NoAutoStaticsMain, 1, argv);
    KEEL_CHILD_CHECK(checks, result == 0);
    KEEL_CHILD_CHECK(checks, g_statics_seen.registered_survived);
    KEEL_CHILD_CHECK(checks, g_statics_seen.unregistered_freed);
    KEEL_CHILD_CHECK(checks, g_statics_seen.registered_freed_when_cleared);
    return checks.ExitCode();
  });
  BOOST_TEST(r.ExitedWith(0), r.Describe());
}

// With automatic statics (no_auto_statics = 0) an unregistered static is a root, under CGC.
int AutoStaticsMain(Scheme_Env*, int, char**) {
  Hidden kept = StoreNewIn(&g_unregistered_static, 56, 3);
  CollectClean();
  int ok = IsLiveObjectStart(kept) && HasPatternAt(kept, 56, 3);
  g_unregistered_static = nullptr;
  // 3m scans no static data whatever no_auto_statics says (docs/gc3m.md): only CGC retains it.
  if (std::string(keel_gc_variant()) != "cgc") return 7;
  return ok ? 7 : 8;
}

BOOST_AUTO_TEST_CASE(auto_statics_are_scanned) {
  ChildResult r = RunInChild([] {
    keel_shutdown();
    char arg0[] = "host";
    char* argv[] = {arg0, nullptr};
    return scheme_main_setup(0, AutoStaticsMain, 1, argv);
  });
  BOOST_TEST(r.ExitedWith(7), r.Describe());
}

// --- scheme_main_stack_setup -------------------------------------------------------------------

struct NestedData {
  int magic = 0;
  bool allocation_before_env_works = false;
  bool env_is_namespace = false;
  bool list_survived_env_creation = false;
};

int NestedMain(void* data) {
  auto* d = static_cast<NestedData*>(data);
  // Garbage-collected work before the namespace exists (what this variant is for).
  Scheme_Object* early = BuildList(500);
  Scheme_Object* late = nullptr;
  Registered reg(early, late);
  CollectClean();
  d->allocation_before_env_works = ListIsIota(early, 500);
  Scheme_Env* env = scheme_basic_env();
  d->env_is_namespace = env != nullptr && SCHEME_NAMESPACEP(reinterpret_cast<Scheme_Object*>(env));
  late = BuildList(300);
  CollectClean();
  d->list_survived_env_creation = ListIsIota(late, 300) && ListIsIota(early, 500);
  return d->magic * 2;
}

BOOST_AUTO_TEST_CASE(scheme_main_stack_setup_passes_data_and_returns_result) {
  ChildResult r = RunInChild([] {
    ChildChecks checks;
    keel_shutdown();
    NestedData data;
    data.magic = 21;
    int result = scheme_main_stack_setup(0, NestedMain, &data);
    KEEL_CHILD_CHECK(checks, result == 42);
    KEEL_CHILD_CHECK(checks, data.allocation_before_env_works);
    KEEL_CHILD_CHECK(checks, data.env_is_namespace);
    KEEL_CHILD_CHECK(checks, data.list_survived_env_creation);
    return checks.ExitCode();
  });
  BOOST_TEST(r.ExitedWith(0), r.Describe());
}

// --- scheme_set_stack_bounds -------------------------------------------------------------------

KEEL_TEST_NOINLINE int WorkAfterStackBounds() {
  Scheme_Env* env = scheme_basic_env();
  if (env == nullptr) return 1;
  Scheme_Object* list = BuildList(1000);
  Registered reg(list);
  for (int i = 0; i < 3; ++i) {
    keel_test::AllocateGarbage();
    CollectClean();
  }
  if (!ListIsIota(list, 1000)) return 2;
  return keel_gc_verify_heap() == 0 ? 0 : 3;
}

KEEL_TEST_NOINLINE int WithStackBounds(bool explicit_end) {
  int dummy = 0;
  // An end well inside the usual 8 MiB stack, far above anything this test uses.
  char* end = explicit_end ? reinterpret_cast<char*>(&dummy) - (size_t{1} << 20) : nullptr;
  scheme_set_stack_bounds(&dummy, end, 0);
  return WorkAfterStackBounds();
}

BOOST_AUTO_TEST_CASE(scheme_set_stack_bounds_with_automatic_end) {
  ChildResult r = RunInChild([] {
    keel_shutdown();
    return WithStackBounds(false);
  });
  BOOST_TEST(r.ExitedWith(0), r.Describe());
}

BOOST_AUTO_TEST_CASE(scheme_set_stack_bounds_with_explicit_end) {
  ChildResult r = RunInChild([] {
    keel_shutdown();
    return WithStackBounds(true);
  });
  BOOST_TEST(r.ExitedWith(0), r.Describe());
}

// --- scheme_register_tls_space, scheme_basic_env -------------------------------------------------

void* g_tls_space = nullptr;

BOOST_AUTO_TEST_CASE(scheme_register_tls_space_is_a_no_op) {
  ChildResult r = RunInChild([] {
    ChildChecks checks;
    keel_shutdown();
    static void* const kMarker = reinterpret_cast<void*>(uintptr_t{0x1234});
    g_tls_space = kMarker;
    scheme_register_tls_space(&g_tls_space, 0);
    KEEL_CHILD_CHECK(checks, g_tls_space == kMarker);  // the variable is not used by Keel
    char arg0[] = "host";
    char* argv[] = {arg0, nullptr};
    KEEL_CHILD_CHECK(checks, scheme_main_setup(0, RecordingMain, 1, argv) == 41);
    KEEL_CHILD_CHECK(checks, g_main_seen.allocation_works);
    KEEL_CHILD_CHECK(checks, g_tls_space == kMarker);
    return checks.ExitCode();
  });
  BOOST_TEST(r.ExitedWith(0), r.Describe());
}

BOOST_AUTO_TEST_CASE(scheme_basic_env_returns_a_namespace) {
  ChildResult r = RunInChild([] {
    ChildChecks checks;
    keel_shutdown();
    Scheme_Env* env = scheme_basic_env();
    KEEL_CHILD_CHECK(checks, env != nullptr);
    KEEL_CHILD_CHECK(checks, env != nullptr && SCHEME_NAMESPACEP(reinterpret_cast<Scheme_Object*>(env)));
    Scheme_Object* list = BuildList(100);
    Registered reg(list);
    CollectClean();
    KEEL_CHILD_CHECK(checks, ListIsIota(list, 100));
    return checks.ExitCode();
  });
  BOOST_TEST(r.ExitedWith(0), r.Describe());
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
