// ordered_finalization_test.cpp: bdwgc's finalizers through gc.h (GC_register_finalizer and its
// _ignore_self, _no_order and _unreachable kinds, the boehm_gc crate's four FinalizerModes),
// against CGC and 3m from one source: chains go outermost first, one per collection; cycles
// never in ordered mode and at once without order; self-cycles with _ignore_self; what
// _unreachable waits for; finalize-on-demand with its notifier; and the order against
// disappearing links (docs/design/weak.md .sol.ordered). Objects expected to go are made in
// helpers; a test keeps them only in registered places.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "gc.h"
#include "keel_gc.h"
#include "scheme.h"
#include "support/gc_probe.h"
#include "support/registered.h"

namespace {

using keel_test::CollectClean;
using keel_test::Registered;

// A node: word 0 the next node (or itself, or NULL), word 1 its number as a fixnum.
struct Node {
  Node* next;
  intptr_t number;
};

std::vector<intptr_t> g_log;
void Log(void* obj, void* cd) {
  auto* n = static_cast<Node*>(obj);
  // The object is intact when its finalizer runs, and cd is its number too.
  g_log.push_back(n->number == reinterpret_cast<intptr_t>(cd) ? n->number >> 1 : -1);
}

Node* NewNode(intptr_t i) {
  auto* n = static_cast<Node*>(GC_MALLOC(sizeof(Node)));
  n->number = (i << 1) | 1;  // fixnum-shaped: never an address
  return n;
}

void* NumberOf(intptr_t i) { return reinterpret_cast<void*>((i << 1) | 1); }

using Register = void (*)(void*, GC_finalization_proc, void*, GC_finalization_proc*, void**);

// A chain of n nodes 0 -> 1 -> ... -> n-1, each finalizable with `reg`; nothing keeps it.
KEEL_TEST_NOINLINE void MakeChain(int n, Register reg) {
  Node *head = nullptr, *node = nullptr;
  Registered frame(head, node);
  for (intptr_t i = n - 1; i >= 0; --i) {
    node = NewNode(i);
    node->next = head;
    head = node;
    reg(node, &Log, NumberOf(i), nullptr, nullptr);
  }
}

// Two nodes a <-> b (or, with `self`, one node pointing to itself), finalizable with `reg`.
KEEL_TEST_NOINLINE void MakeCycle(Register reg, bool self) {
  Node *a = nullptr, *b = nullptr;
  Registered frame(a, b);
  a = NewNode(1);
  if (self) {
    a->next = a;
  } else {
    b = NewNode(2);
    a->next = b;
    b->next = a;
    reg(b, &Log, NumberOf(2), nullptr, nullptr);
  }
  reg(a, &Log, NumberOf(1), nullptr, nullptr);
}

// Under the sanitizers, unoptimized builds and GC stress a stale stack word may keep what a test
// dropped (gc_probe.h); there these tests stop with a message where a finalizer did not run.
#define REQUIRE_LOG(expected)                                                   \
  do {                                                                          \
    if (keel_test::FreedChecksAreStrict()) {                                    \
      BOOST_TEST_REQUIRE((g_log == std::vector<intptr_t>(expected)));           \
    } else if (g_log != std::vector<intptr_t>(expected)) {                      \
      BOOST_TEST_MESSAGE("finalizers not as expected (objects retained?)");    \
      return;                                                                   \
    }                                                                           \
  } while (0)

struct Reset {
  Reset() {
    CollectClean();
    g_log.clear();
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(bdwgc_finalization, Reset)

BOOST_AUTO_TEST_CASE(an_ordered_chain_is_finalized_outermost_first_one_per_collection) {
  MakeChain(4, &GC_register_finalizer);
  CollectClean();
  REQUIRE_LOG((std::vector<intptr_t>{0}));
  CollectClean();
  REQUIRE_LOG((std::vector<intptr_t>{0, 1}));
  CollectClean();
  CollectClean();
  REQUIRE_LOG((std::vector<intptr_t>{0, 1, 2, 3}));
}

BOOST_AUTO_TEST_CASE(an_unordered_chain_is_finalized_at_once) {
  MakeChain(4, &GC_register_finalizer_no_order);
  CollectClean();
  std::sort(g_log.begin(), g_log.end());
  REQUIRE_LOG((std::vector<intptr_t>{0, 1, 2, 3}));
}

BOOST_AUTO_TEST_CASE(an_ordered_cycle_is_never_finalized) {
  MakeCycle(&GC_register_finalizer, false);
  for (int i = 0; i < 3; ++i) CollectClean();
  BOOST_TEST(g_log.empty());
  MakeCycle(&GC_register_finalizer_unreachable, false);
  for (int i = 0; i < 2; ++i) CollectClean();
  BOOST_TEST(g_log.empty());
}

BOOST_AUTO_TEST_CASE(an_unordered_cycle_is_finalized) {
  MakeCycle(&GC_register_finalizer_no_order, false);
  CollectClean();
  std::sort(g_log.begin(), g_log.end());
  REQUIRE_LOG((std::vector<intptr_t>{1, 2}));
}

BOOST_AUTO_TEST_CASE(a_self_cycle_counts_unless_ignored) {
  MakeCycle(&GC_register_finalizer, true);
  for (int i = 0; i < 2; ++i) CollectClean();
  BOOST_TEST(g_log.empty());
  MakeCycle(&GC_register_finalizer_ignore_self, true);
  CollectClean();
  REQUIRE_LOG((std::vector<intptr_t>{1}));
}

// n (no order) -> u (unreachable mode) and n -> o (ordered): o goes with n, since n imposes no
// order, but u waits until n is gone.
KEEL_TEST_NOINLINE void MakeUnreachableCase() {
  Node *n = nullptr, *u = nullptr, *o = nullptr;
  Registered frame(n, u, o);
  n = NewNode(1);
  u = NewNode(2);
  o = NewNode(3);
  auto** pair = static_cast<Node**>(GC_MALLOC(2 * sizeof(Node*)));
  pair[0] = u;
  pair[1] = o;
  n->next = reinterpret_cast<Node*>(pair);
  GC_register_finalizer_no_order(n, &Log, NumberOf(1), nullptr, nullptr);
  GC_register_finalizer_unreachable(u, &Log, NumberOf(2), nullptr, nullptr);
  GC_register_finalizer(o, &Log, NumberOf(3), nullptr, nullptr);
}

BOOST_AUTO_TEST_CASE(unreachable_mode_waits_for_unordered_objects_that_reach_it) {
  MakeUnreachableCase();
  CollectClean();
  std::sort(g_log.begin(), g_log.end());
  REQUIRE_LOG((std::vector<intptr_t>{1, 3}));
  CollectClean();
  REQUIRE_LOG((std::vector<intptr_t>{1, 3, 2}));
}

BOOST_AUTO_TEST_CASE(registering_returns_the_previous_finalizer_and_null_removes_it) {
  Node* n = nullptr;
  Registered frame(n);
  n = NewNode(7);
  GC_finalization_proc ofn = &Log;
  void* ocd = &ofn;
  GC_register_finalizer(n, &Log, NumberOf(7), &ofn, &ocd);
  BOOST_TEST(ofn == nullptr);
  BOOST_TEST(ocd == nullptr);
  GC_register_finalizer_no_order(n, &Log, NumberOf(8), &ofn, &ocd);
  BOOST_TEST(ofn == &Log);
  BOOST_TEST(ocd == NumberOf(7));
  GC_register_finalizer(n, nullptr, nullptr, &ofn, &ocd);
  BOOST_TEST(ocd == NumberOf(8));
  n = nullptr;
  CollectClean();
  BOOST_TEST(g_log.empty());
  static int not_heap = 0;
  ofn = &Log;
  GC_register_finalizer(&not_heap, &Log, nullptr, &ofn, nullptr);  // a warning, nothing registered
  BOOST_TEST(ofn == nullptr);
}

int g_notified = 0;
void Notify() { ++g_notified; }

BOOST_AUTO_TEST_CASE(finalize_on_demand_waits_for_invoke_finalizers) {
  GC_set_finalize_on_demand(1);
  GC_set_finalizer_notifier(&Notify);
  BOOST_TEST(GC_get_finalize_on_demand() == 1);
  BOOST_TEST(GC_get_finalizer_notifier() == &Notify);
  g_notified = 0;
  MakeChain(1, &GC_register_finalizer);
  CollectClean();
  const bool ran = GC_should_invoke_finalizers() != 0;
  if (keel_test::FreedChecksAreStrict()) BOOST_TEST(ran);
  if (ran) {
    BOOST_TEST(g_log.empty());  // waits
    BOOST_TEST(g_notified == 1);
    BOOST_TEST(GC_invoke_finalizers() == 1);
    BOOST_TEST((g_log == std::vector<intptr_t>{0}));
    BOOST_TEST(GC_should_invoke_finalizers() == 0);
  }
  GC_set_finalize_on_demand(0);
  GC_set_finalizer_notifier(nullptr);
}

// While an ordered finalizer runs, a short link to its object reads NULL and a long one still
// holds it (the object is kept for the finalizer).
void** g_links = nullptr;
void LinksDuringFinalizer(void* obj, void*) { g_log.push_back(g_links[0] == nullptr && g_links[1] == obj ? 1 : -1); }

KEEL_TEST_NOINLINE void MakeLinked() {
  Node* n = NewNode(9);
  g_links[0] = n;
  g_links[1] = n;
  GC_general_register_disappearing_link(&g_links[0], n);
  GC_register_long_link(&g_links[1], n);
  GC_register_finalizer(n, &LinksDuringFinalizer, nullptr, nullptr, nullptr);
}

BOOST_AUTO_TEST_CASE(short_links_clear_before_ordered_finalizers_and_long_ones_after) {
  g_links = static_cast<void**>(std::calloc(2, sizeof(void*)));
  MakeLinked();
  CollectClean();
  REQUIRE_LOG((std::vector<intptr_t>{1}));
  CollectClean();
  KEEL_CHECK_FREED(g_links[1] == nullptr);
  GC_unregister_long_link(&g_links[1]);
  std::free(g_links);
}

BOOST_AUTO_TEST_SUITE_END()
