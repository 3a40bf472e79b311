// misuse_test.cpp: under 3m a local that holds a collectable pointer across a collection without
// MZ_GC_VAR_IN_REG is left behind when its object moves. When such a stale pointer reaches a
// traced slot, the next collection stops with a report naming the slot and the stale value
// (docs/gc3m.md), not a crash much later; the checked build catches it at once in any slot
// (docs/design/precise.md .sol.checked).
#include <boost/test/unit_test.hpp>

#include <stdlib.h>

#include "keel_gc.h"
#include "scheme.h"
#include "support/expect_abort.h"

namespace {

// Leaves the nursery's cursor well past where the next cycle's first objects go, so the stale
// address below lies beyond them.
void FillNursery() {
  for (int i = 0; i < 2000; ++i) scheme_make_pair(scheme_true, scheme_false);
}

// The case needs collections exactly where it asks for them: a stress collection (the suite's
// KEEL_GC_STRESS run) just before `forgotten` is allocated would empty the nursery, and the next
// object would then be allocated at the stale address itself, a valid object again.
void FreshCollectorWithoutStress() {
  keel_shutdown();
  unsetenv("KEEL_GC_STRESS");
}

}  // namespace

BOOST_AUTO_TEST_SUITE(precise_misuse)

BOOST_AUTO_TEST_CASE(an_unregistered_local_stored_after_a_collection_is_reported) {
  keel_test::ExpectAbortWithMessage(
      [] {
        FreshCollectorWithoutStress();
        Scheme_Object* holder = nullptr;
        MZ_GC_DECL_REG(1);
        MZ_GC_VAR_IN_REG(0, holder);
        MZ_GC_REG();
        FillNursery();
        Scheme_Object* forgotten = scheme_make_pair(scheme_true, scheme_null);  // not registered
        keel_gc_collect_minor();  // moves nothing: `forgotten` was not a root, so it died
        holder = scheme_make_pair(forgotten, scheme_null);
        keel_gc_collect_minor();  // traces holder's car: the stale value
        MZ_GC_UNREG();
        return keel_test::kMisuseNotDetected;
      },
      "MZ_GC_VAR_IN_REG");
}

BOOST_AUTO_TEST_CASE(a_tagged_object_without_traversers_is_reported) {
  keel_test::ExpectAbortWithMessage(
      [] {
        void* obj = nullptr;
        MZ_GC_DECL_REG(1);
        MZ_GC_VAR_IN_REG(0, obj);
        MZ_GC_REG();
        obj = scheme_malloc_tagged(32);
        *static_cast<short*>(obj) = 3999;  // a tag nobody registered
        keel_gc_collect_minor();
        MZ_GC_UNREG();
        return keel_test::kMisuseNotDetected;
      },
      "tag 3999, for which no traversers are registered");
}

BOOST_AUTO_TEST_SUITE_END()
