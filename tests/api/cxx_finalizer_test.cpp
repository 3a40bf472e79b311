// cxx_finalizer_test.cpp: keel.hpp's finalizers (keel::register_finalizer, typed and untyped,
// keel::unregister_finalizer, keel::finalizer_mode) against CGC and 3m from one source: each mode
// gives its gc.h function's order (a few of ordered_finalization_test.cpp's cases again, through
// the C++ API; docs/design/weak.md .sol.ordered), the default is ordered, a typed finalizer gets
// its object and data as their own types, and removal. Objects expected to go are made in
// helpers; a test keeps them only in registered places.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <vector>

#include "gc.h"
#include "keel.hpp"
#include "scheme.h"
#include "support/gc_probe.h"
#include "support/registered.h"

namespace {

using keel::finalizer_mode;
using keel_test::CollectClean;
using keel_test::Registered;

// A node: word 0 the next node (or itself, or NULL), word 1 its number as a fixnum.
struct Node {
  Node* next;
  intptr_t number;
};

// A finalizer's data: static, so it needs no registration; tag i belongs to node i.
struct Tag {
  intptr_t number;
};
const Tag kTags[8] = {{0}, {1}, {2}, {3}, {4}, {5}, {6}, {7}};

std::vector<intptr_t> g_log;

// The typed finalizer of most cases: the node's number, or -1 if its object or data is not the
// one registered with it (the object is intact when its finalizer runs). noexcept and const data
// on purpose: register_finalizer<Fn> takes both.
void Log(Node* n, const Tag* tag) noexcept {
  g_log.push_back((n->number >> 1) == tag->number ? tag->number : -1);
}

Node* NewNode(intptr_t i) {
  auto* n = static_cast<Node*>(GC_MALLOC(sizeof(Node)));
  n->number = (i << 1) | 1;  // fixnum-shaped: never an address
  return n;
}

// Registers Log for node i in `mode`, or without a mode argument (the default) if none.
void Register(Node* n, intptr_t i, std::optional<finalizer_mode> mode) {
  if (mode) {
    keel::register_finalizer<&Log>(n, &kTags[i], *mode);
  } else {
    keel::register_finalizer<&Log>(n, &kTags[i]);
  }
}

// A chain of n nodes 0 -> 1 -> ... -> n-1, each finalizable in `mode`; nothing keeps it.
KEEL_TEST_NOINLINE void MakeChain(int n, std::optional<finalizer_mode> mode) {
  Node *head = nullptr, *node = nullptr;
  Registered frame(head, node);
  for (intptr_t i = n - 1; i >= 0; --i) {
    node = NewNode(i);
    node->next = head;
    head = node;
    Register(node, i, mode);
  }
}

// Node `first` pointing to itself, or two nodes first <-> first + 1, finalizable in `mode`.
KEEL_TEST_NOINLINE void MakeCycle(intptr_t first, bool self, std::optional<finalizer_mode> mode) {
  Node *a = nullptr, *b = nullptr;
  Registered frame(a, b);
  a = NewNode(first);
  if (self) {
    a->next = a;
  } else {
    b = NewNode(first + 1);
    a->next = b;
    b->next = a;
    Register(b, first + 1, mode);
  }
  Register(a, first, mode);
}

// Node 1 (no_order) -> node 2 (`mode`): an unordered object reaching one of `mode`.
KEEL_TEST_NOINLINE void MakeBehindUnordered(std::optional<finalizer_mode> mode) {
  Node *n = nullptr, *x = nullptr;
  Registered frame(n, x);
  n = NewNode(1);
  x = NewNode(2);
  n->next = x;
  Register(n, 1, finalizer_mode::no_order);
  Register(x, 2, mode);
}

std::vector<intptr_t> SortedLog() {
  std::vector<intptr_t> v = g_log;
  std::sort(v.begin(), v.end());
  return v;
}

// Under the sanitizers, unoptimized builds and GC stress a stale stack word may keep what a test
// dropped (gc_probe.h); there these tests stop with a message where a finalizer did not run.
#define REQUIRE_LOG(log, expected)                                                         \
  do {                                                                                     \
    if (!keel_test::FreedChecksAreStrict() && (log) != std::vector<intptr_t>(expected)) {  \
      BOOST_TEST_MESSAGE("finalizers not as expected (objects retained?)");               \
      return;                                                                              \
    }                                                                                      \
    BOOST_TEST_REQUIRE(((log) == std::vector<intptr_t>(expected)));                        \
  } while (0)

struct Reset {
  Reset() {
    CollectClean();
    g_log.clear();
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(cxx_finalizers, Reset)

BOOST_AUTO_TEST_CASE(ordered_finalizes_a_chain_outermost_first_one_per_collection) {
  MakeChain(2, finalizer_mode::ordered);
  CollectClean();
  REQUIRE_LOG(g_log, (std::vector<intptr_t>{0}));
  CollectClean();
  REQUIRE_LOG(g_log, (std::vector<intptr_t>{0, 1}));
}

BOOST_AUTO_TEST_CASE(no_order_finalizes_a_chain_at_once) {
  MakeChain(2, finalizer_mode::no_order);
  CollectClean();
  REQUIRE_LOG(SortedLog(), (std::vector<intptr_t>{0, 1}));
}

BOOST_AUTO_TEST_CASE(a_cycle_is_never_finalized_when_ordered_but_is_with_no_order) {
  MakeCycle(1, false, finalizer_mode::ordered);  // nodes 1 and 2: never
  for (int i = 0; i < 3; ++i) CollectClean();
  BOOST_TEST(g_log.empty());
  MakeCycle(3, false, finalizer_mode::no_order);  // nodes 3 and 4
  CollectClean();
  REQUIRE_LOG(SortedLog(), (std::vector<intptr_t>{3, 4}));
}

BOOST_AUTO_TEST_CASE(ignore_self_finalizes_an_object_that_points_to_itself) {
  MakeCycle(1, true, finalizer_mode::ordered);  // never
  for (int i = 0; i < 2; ++i) CollectClean();
  BOOST_TEST(g_log.empty());
  MakeCycle(2, true, finalizer_mode::ignore_self);
  CollectClean();
  REQUIRE_LOG(g_log, (std::vector<intptr_t>{2}));
}

BOOST_AUTO_TEST_CASE(unreachable_waits_while_a_no_order_object_reaches_it) {
  MakeBehindUnordered(finalizer_mode::unreachable);
  CollectClean();
  REQUIRE_LOG(g_log, (std::vector<intptr_t>{1}));
  CollectClean();
  REQUIRE_LOG(g_log, (std::vector<intptr_t>{1, 2}));
}

BOOST_AUTO_TEST_CASE(ordered_goes_with_a_no_order_object_that_reaches_it) {
  MakeBehindUnordered(finalizer_mode::ordered);
  CollectClean();
  REQUIRE_LOG(SortedLog(), (std::vector<intptr_t>{1, 2}));
}

// Without a mode argument: a chain goes one link per collection (not no_order), a self-cycle
// never (not ignore_self), and behind a no_order object at once (not unreachable).
BOOST_AUTO_TEST_CASE(the_default_mode_is_ordered) {
  MakeCycle(5, true, std::nullopt);
  MakeChain(2, std::nullopt);
  CollectClean();
  REQUIRE_LOG(g_log, (std::vector<intptr_t>{0}));
  CollectClean();
  REQUIRE_LOG(g_log, (std::vector<intptr_t>{0, 1}));
  g_log.clear();
  MakeBehindUnordered(std::nullopt);
  CollectClean();
  REQUIRE_LOG(SortedLog(), (std::vector<intptr_t>{1, 2}));
}

// A typed finalizer with collectable data of its own type, reachable only through the
// registration (which keeps it, so it must not reach the object): both arrive intact, with what
// the data reaches (under 3m at their current addresses).
struct Payload {
  intptr_t magic;  // fixnum-shaped, as Node::number
  Node* other;     // node 9, reached only through the data
};
struct Seen {
  intptr_t number = -1;
  intptr_t magic = -1;
  intptr_t other = -1;
};
Seen g_seen;
int g_typed_calls = 0;
void TypedFinalizer(Node* n, Payload* p) {
  ++g_typed_calls;
  g_seen = Seen{n->number >> 1, p->magic >> 1, p->other->number >> 1};
}

KEEL_TEST_NOINLINE void MakeWithPayload() {
  Node *n = nullptr, *other = nullptr;
  Payload* p = nullptr;
  Registered frame(n, other, p);
  n = NewNode(6);
  other = NewNode(9);
  p = static_cast<Payload*>(GC_MALLOC(sizeof(Payload)));
  p->magic = (2121 << 1) | 1;
  p->other = other;
  const keel::finalizer old = keel::register_finalizer<&TypedFinalizer>(n, p, finalizer_mode::no_order);
  BOOST_TEST(!old);
  BOOST_TEST(old.data == nullptr);
}

BOOST_AUTO_TEST_CASE(a_typed_finalizer_gets_its_object_and_data) {
  g_seen = Seen{};
  g_typed_calls = 0;
  MakeWithPayload();
  CollectClean();
  if (!keel_test::FreedChecksAreStrict() && g_typed_calls == 0) {
    BOOST_TEST_MESSAGE("finalizer not run (object retained)");
    return;
  }
  BOOST_TEST_REQUIRE(g_typed_calls == 1);
  BOOST_TEST(g_seen.number == 6);
  BOOST_TEST(g_seen.magic == 2121);
  BOOST_TEST(g_seen.other == 9);
  CollectClean();
  BOOST_TEST(g_typed_calls == 1);
}

// Replacing a finalizer returns the one replaced, whichever mode registered either; the typed
// form registers finalizer_proc<Fn, T, D> with its data.
BOOST_AUTO_TEST_CASE(registering_returns_the_previous_finalizer) {
  Node* n = nullptr;
  Registered frame(n);
  n = NewNode(3);
  const keel::finalizer none = keel::register_finalizer<&Log>(n, &kTags[3], finalizer_mode::ignore_self);
  BOOST_TEST(!none);
  const keel::finalizer typed = keel::register_finalizer(n, nullptr, nullptr, finalizer_mode::unreachable);
  BOOST_TEST(bool(typed));
  BOOST_TEST((typed.fn == keel::finalizer_proc<&Log, Node, const Tag>));
  BOOST_TEST(typed.data == &kTags[3]);
  BOOST_TEST(!keel::unregister_finalizer(n));  // the null fn removed it
  keel::register_finalizer(n, typed.fn, typed.data, finalizer_mode::no_order);  // restored
  BOOST_TEST(keel::unregister_finalizer(n));
}

// Nodes 1 and 2, both finalizable in `mode`; node 1's finalizer removed again. `first` and
// `second`: what the two removals returned.
KEEL_TEST_NOINLINE void MakeUnregistered(finalizer_mode mode, bool& first, bool& second) {
  Node *removed = nullptr, *kept = nullptr;
  Registered frame(removed, kept);
  removed = NewNode(1);
  kept = NewNode(2);
  Register(removed, 1, mode);
  Register(kept, 2, mode);
  first = keel::unregister_finalizer(removed);
  second = keel::unregister_finalizer(removed);
}

BOOST_AUTO_TEST_CASE(unregister_says_whether_there_was_one_and_the_finalizer_does_not_run) {
  for (finalizer_mode mode : {finalizer_mode::ordered, finalizer_mode::ignore_self, finalizer_mode::no_order,
                              finalizer_mode::unreachable}) {
    BOOST_TEST_CONTEXT("mode " << static_cast<int>(mode)) {
      g_log.clear();
      bool first = false, second = true;
      MakeUnregistered(mode, first, second);
      BOOST_TEST(first);
      BOOST_TEST(!second);
      CollectClean();
      // The kept node's finalizer ran, so the collection did find both unreachable.
      REQUIRE_LOG(g_log, (std::vector<intptr_t>{2}));
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
