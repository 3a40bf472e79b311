// copier_test.cpp: the precise plan's minor-collection copier (gc/copier.h, docs/design/
// precise.md .sol.copy, .sol.traversers) on seeded random graphs in a nursery: tagged objects
// traced by registered mark procedures written with gcMARK, untagged arrays of slots holding
// references, NULL, fixnums and foreign pointers, and atomic blobs. Prints its seed; accepts
// KEEL_TEST_SEED.
#define MZ_PRECISE_GC 1  // the traverser API, as a 3m client sees it
#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <random>
#include <vector>

#include "gc/collector.h"
#include "gc/copier.h"
#include "gc/mark_sweep_space.h"
#include "gc/nursery.h"
#include "gc/page_map.h"
#include "schemegc2.h"
#include "tests/unit/fresh_collector.h"

namespace {

using keel::gc::ByteCounts;
using keel::gc::Copier;
using keel::gc::Kind;
using keel::gc::MarkStack;
using keel::gc::MarkSweepSpace;
using keel::gc::Nursery;
using keel::gc::PageMap;
using keel::gc::Tracer;
using keel_test::FreshCollector;

constexpr short kPairTag = 311;

// A tagged object with two traced fields and an untraced id.
struct TPair {
  short tag;
  short pad;
  int id;
  void* a;
  void* b;
};

int PairSize(void*) { return gcBYTES_TO_WORDS(sizeof(TPair)); }
int PairMark(void* p) {
  auto* o = static_cast<TPair*>(p);
  gcMARK(o->a);
  gcMARK(o->b);
  return gcBYTES_TO_WORDS(sizeof(TPair));
}

int g_foreign[4];  // memory the collector does not own

enum class Shape { kPair, kArray, kBlob };

// The model: per object its shape, and per slot what it must hold after the copy.
struct Edge {
  enum { kObject, kNull, kFixnum, kForeign } what;
  int target;  // kObject: the target's id
  intptr_t fixnum;
};
struct Node {
  Shape shape;
  std::vector<Edge> slots;  // pair: a, b; array: slots after the id word; blob: none
  size_t blob_bytes = 0;
  void* original = nullptr;
};

uint64_t Seed() {
  const char* s = std::getenv("KEEL_TEST_SEED");
  return s != nullptr ? std::strtoull(s, nullptr, 10) : std::random_device{}();
}

void* ValueOf(const Edge& e, const std::vector<Node>& nodes) {
  switch (e.what) {
    case Edge::kObject: return nodes[e.target].original;
    case Edge::kNull: return nullptr;
    case Edge::kFixnum: return reinterpret_cast<void*>(e.fixnum);
    case Edge::kForeign: return &g_foreign[1];
  }
  return nullptr;
}

// Checks that `value` (found in a copy) is what edge e asks for, with `copies` mapping ids to the
// addresses seen so far (one copy per object).
void CheckEdge(const Edge& e, void* value, std::vector<void*>& copies, const Nursery& n, std::deque<int>& todo) {
  switch (e.what) {
    case Edge::kNull: BOOST_TEST_REQUIRE(value == nullptr); return;
    case Edge::kFixnum: BOOST_TEST_REQUIRE(value == reinterpret_cast<void*>(e.fixnum)); return;
    case Edge::kForeign: BOOST_TEST_REQUIRE(value == static_cast<void*>(&g_foreign[1])); return;
    case Edge::kObject:
      BOOST_TEST_REQUIRE(value != nullptr);
      BOOST_TEST_REQUIRE(!n.Contains(value), "a reference into the nursery survived the copy");
      if (copies[e.target] == nullptr) {
        copies[e.target] = value;
        todo.push_back(e.target);
      }
      BOOST_TEST_REQUIRE(copies[e.target] == value, "object " << e.target << " copied twice");
      return;
  }
}

// What a copier works on, over a fresh collector's heap: an old space of its own, a nursery of
// `nursery_bytes` and a grey stack; the pair tag's traversers are registered.
struct CopierSetup {
  explicit CopierSetup(size_t nursery_bytes) {
    GC_register_traversers(kPairTag, PairSize, PairMark, PairMark, 1, 0);
    BOOST_TEST_REQUIRE(n.Resize(nursery_bytes));
  }
  FreshCollector f;
  ByteCounts bytes;
  MarkSweepSpace old{f.c.heap(), f.c.generations(), bytes};
  Nursery n{f.c.heap()};
  MarkStack stack;
  // The copier of one collection over these parts; `checked` validates every slot.
  Copier MakeCopier(bool checked = false) {
    return Copier(f.c, n, old, stack, f.c.heap().lo(), f.c.heap().hi(), true, checked);
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(copier)

BOOST_AUTO_TEST_CASE(copies_exactly_the_reachable_graph_once) {
  const uint64_t seed = Seed();
  BOOST_TEST_MESSAGE("copier seed " << seed << " (KEEL_TEST_SEED=" << seed << " repeats it)");
  std::mt19937_64 rng(seed);
  CopierSetup s(2 << 20);
  Nursery& n = s.n;

  // Objects first, then their slots (so an edge may point at any object, cycles included).
  constexpr int kObjects = 6000;
  std::vector<Node> nodes(kObjects);
  for (int id = 0; id < kObjects; ++id) {
    Node& node = nodes[id];
    node.shape = static_cast<Shape>(rng() % 3);
    size_t size = 0;
    Kind kind = Kind::kNormal;
    switch (node.shape) {
      case Shape::kPair: size = sizeof(TPair); kind = Kind::kTagged; node.slots.resize(2); break;
      case Shape::kArray: node.slots.resize(rng() % 12); size = (node.slots.size() + 1) * sizeof(void*); break;
      case Shape::kBlob: node.blob_bytes = 8 + rng() % 200; size = node.blob_bytes; kind = Kind::kAtomic; break;
    }
    node.original = n.AllocateInline(size, kind);
    BOOST_TEST_REQUIRE(node.original != nullptr);
  }
  for (int id = 0; id < kObjects; ++id) {
    Node& node = nodes[id];
    for (Edge& e : node.slots) {
      const unsigned r = rng() % 100;
      if (r < 55) e = Edge{Edge::kObject, static_cast<int>(rng() % kObjects), 0};
      else if (r < 70) e = Edge{Edge::kNull, 0, 0};
      else if (r < 90) e = Edge{Edge::kFixnum, 0, static_cast<intptr_t>((rng() % 100000) * 2 + 1)};
      else e = Edge{Edge::kForeign, 0, 0};
    }
    switch (node.shape) {
      case Shape::kPair: {
        auto* o = static_cast<TPair*>(node.original);
        o->tag = kPairTag;
        o->id = id;
        o->a = ValueOf(node.slots[0], nodes);
        o->b = ValueOf(node.slots[1], nodes);
        break;
      }
      case Shape::kArray: {
        auto** w = static_cast<void**>(node.original);
        w[0] = reinterpret_cast<void*>(static_cast<intptr_t>(id) * 2 + 1);  // a fixnum: the id
        for (size_t k = 0; k < node.slots.size(); ++k) w[k + 1] = ValueOf(node.slots[k], nodes);
        break;
      }
      case Shape::kBlob: {
        auto* b = static_cast<unsigned char*>(node.original);
        std::memcpy(b, &id, sizeof id);
        for (size_t k = sizeof id; k < node.blob_bytes; ++k) b[k] = static_cast<unsigned char>(id + k);
        break;
      }
    }
  }
  // Roots: slots the collector is told about, some empty, some shared.
  std::vector<Edge> root_edges(40);
  std::vector<void*> roots(root_edges.size());
  for (size_t i = 0; i < roots.size(); ++i) {
    root_edges[i] = i % 7 == 3 ? Edge{Edge::kNull, 0, 0} : Edge{Edge::kObject, static_cast<int>(rng() % kObjects), 0};
    roots[i] = ValueOf(root_edges[i], nodes);
  }

  Copier copier = s.MakeCopier();
  for (void*& root : roots) copier.VisitSlot(&root, Tracer::Holder::kRoot);
  copier.Drain();

  // Walk the copies from the roots, checking every slot against the model.
  std::vector<void*> copies(kObjects, nullptr);
  std::deque<int> todo;
  for (size_t i = 0; i < roots.size(); ++i) CheckEdge(root_edges[i], roots[i], copies, n, todo);
  size_t reached = 0;
  while (!todo.empty()) {
    const int id = todo.front();
    todo.pop_front();
    ++reached;
    const Node& node = nodes[id];
    void* copy = copies[id];
    BOOST_TEST_REQUIRE(s.f.c.BaseOf(copy) == copy);
    const keel::gc::PageDesc* d = PageMap::Lookup(reinterpret_cast<uintptr_t>(copy));
    BOOST_TEST_REQUIRE(d->IsMarked(d->IndexOf(reinterpret_cast<uintptr_t>(copy) - d->start)));
    BOOST_TEST_REQUIRE(copier.Resolve(node.original) == copy);
    switch (node.shape) {
      case Shape::kPair: {
        const auto* o = static_cast<const TPair*>(copy);
        BOOST_TEST_REQUIRE(o->tag == kPairTag);
        BOOST_TEST_REQUIRE(o->id == id);
        CheckEdge(node.slots[0], o->a, copies, n, todo);
        CheckEdge(node.slots[1], o->b, copies, n, todo);
        break;
      }
      case Shape::kArray: {
        void* const* w = static_cast<void* const*>(copy);
        BOOST_TEST_REQUIRE(w[0] == reinterpret_cast<void*>(static_cast<intptr_t>(id) * 2 + 1));
        for (size_t k = 0; k < node.slots.size(); ++k) CheckEdge(node.slots[k], w[k + 1], copies, n, todo);
        break;
      }
      case Shape::kBlob: {
        const auto* b = static_cast<const unsigned char*>(copy);
        int stored = -1;
        std::memcpy(&stored, b, sizeof stored);
        BOOST_TEST_REQUIRE(stored == id);
        for (size_t k = sizeof id; k < node.blob_bytes; ++k) BOOST_TEST_REQUIRE(b[k] == static_cast<unsigned char>(id + k));
        break;
      }
    }
  }
  BOOST_TEST(reached > 100u);  // the roots reach a good part of the graph
  BOOST_TEST(copier.copied_objects() == reached);  // and nothing else was copied
  for (int id = 0; id < kObjects; ++id) {
    if (copies[id] == nullptr) BOOST_TEST_REQUIRE(copier.Resolve(nodes[id].original) == nodes[id].original);
  }
  n.Reset(false);
}

// An old object on a written page is a minor collection's root: its slots are visited
// precisely (every word of an untagged array, the mark procedure's of a tagged one) and updated.
BOOST_AUTO_TEST_CASE(old_objects_are_traced_precisely_by_kind) {
  CopierSetup s(64 << 10);
  Nursery& n = s.n;
  MarkSweepSpace& old = s.old;
  void* young_a = n.AllocateInline(16, Kind::kNormal);
  void* young_b = n.AllocateInline(16, Kind::kAtomic);
  auto** array = static_cast<void**>(old.AllocateWithoutCollecting(4 * sizeof(void*), Kind::kNormal));
  array[0] = young_a;
  array[1] = reinterpret_cast<void*>(intptr_t{7});
  array[2] = young_b;
  array[3] = young_a;
  auto* pair = static_cast<TPair*>(old.AllocateWithoutCollecting(sizeof(TPair), Kind::kTagged));
  pair->tag = kPairTag;
  pair->id = 5;
  pair->a = young_b;
  pair->b = nullptr;

  Copier copier = s.MakeCopier();
  const auto at = [](const void* p) { return reinterpret_cast<uintptr_t>(p); };
  copier.VisitObject(at(array), at(array + 4), Kind::kNormal, Tracer::Holder::kOld);
  copier.VisitObject(at(pair), at(pair + 1), Kind::kTagged, Tracer::Holder::kOld);
  copier.Drain();
  BOOST_TEST(copier.copied_objects() == 2u);
  BOOST_TEST(!n.Contains(array[0]));
  BOOST_TEST(array[0] == array[3]);  // one copy, both slots updated
  BOOST_TEST(array[1] == reinterpret_cast<void*>(intptr_t{7}));
  BOOST_TEST(!n.Contains(array[2]));
  BOOST_TEST(pair->a == array[2]);  // the mark procedure's slot, updated to the same copy
  BOOST_TEST(pair->b == nullptr);
  BOOST_TEST(pair->id == 5);
}

BOOST_AUTO_TEST_SUITE_END()
