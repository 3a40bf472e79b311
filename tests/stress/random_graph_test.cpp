// random_graph_test.cpp: seeded random object graphs against a shadow model. Builds graphs of
// scheme_malloc nodes (pointer arrays, some allow-interior and referenced through interior and
// one-past-the-end words), pairs and vectors, rooted in a registered static block, immobile
// boxes, a traced_allocator vector and pins; mutates them between many collections (explicit
// and allocation-triggered), and after each collection checks every reachable object against
// the model and runs keel_gc_verify_heap().
//
// The model lives in malloc'd memory, which the collector never scans; it holds addresses only
// as integers. The seed is printed; rerun one with `keel_stress_tests -- --seed N`. Each run is
// sized to a time budget (support/budget.h: at least a floor of steps, at most a nominal count)
// and prints a "[budget]" line with the steps it did and the collections they covered.
#define BOOST_TEST_MODULE keel_stress_tests
#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "gc.h"
#include "keel.hpp"
#include "keel_gc.h"
#include "scheme.h"
#include "support/budget.h"
#include "support/gc_probe.h"
#include "support/seed.h"

namespace {

// --- the seed ------------------------------------------------------------------------------------

// `--seed N` or `--seed=N` after `--` on the command line; otherwise a fresh random seed.
uint64_t BaseSeed() { return keel_test::SeedFromCommandLine(); }

struct PrintSeed {
  PrintSeed() {
    std::cout << "keel_stress_tests seed: " << BaseSeed() << " (rerun: keel_stress_tests -- --seed " << BaseSeed()
              << ")" << std::endl;
  }
};
BOOST_TEST_GLOBAL_FIXTURE(PrintSeed);

// --- the model -------------------------------------------------------------------------------

enum class ObjKind : uint8_t { kNode, kInteriorNode, kPair, kVector };

const char* KindName(ObjKind k) {
  switch (k) {
    case ObjKind::kNode: return "node";
    case ObjKind::kInteriorNode: return "interior node";
    case ObjKind::kPair: return "pair";
    default: return "vector";
  }
}

// An edge: the target object's id and the byte offset the pointer has into it (non-zero only
// for allow-interior nodes). target -1 is "no object".
struct Edge {
  int32_t target = -1;
  uint32_t offset = 0;
};

struct ShadowObj {
  ObjKind kind = ObjKind::kNode;
  size_t bytes = 0;          // requested size (nodes)
  uintptr_t addr = 0;        // valid while reachable
  uintptr_t payload = 0;     // nodes: an atomic block, or 0
  size_t payload_len = 0;
  std::vector<Edge> slots;   // the child slots
  bool reachable = false;
};

// Node layout: word 0 the id as a fixnum, word 1 the payload, words 2.. the child slots, then
// zeros up to `bytes`. Pairs: car the id, cdr the one child. Vectors: element 0 the id, then
// the children; an empty child is scheme_null in pairs and vectors, NULL in nodes.
constexpr size_t kNodeHeaderWords = 2;
constexpr int kStaticRoots = 16;
constexpr int kBoxRoots = 8;
constexpr int kTracedRoots = 16;

// Root locations are encoded as negative "objects": kRootStatic etc. with the slot index.
enum class RootKind { kStatic, kBox, kTraced };

struct Location {
  bool is_root = false;
  RootKind root = RootKind::kStatic;
  int32_t obj = -1;
  int slot = 0;
};

void** RegisteredRootBlock() {
  // Memory the collector would not scan by itself, registered once per process.
  static void** block = keel_test::NewRegisteredBlock(kStaticRoots);
  return block;
}

class GraphStress {
 public:
  struct Options {
    uint64_t seed;
    int steps;                   // the nominal count: at most this many steps
    int explicit_collect_every;  // steps between explicit collections
    int floor_steps;             // at least this many steps, whatever the budget (support/budget.h)
    double budget_seconds;       // stop at this deadline once past the floor (scaled by KEEL_TEST_BUDGET_SCALE)
  };

  explicit GraphStress(const Options& o) : opt_(o), rng_(o.seed) {
    static_roots_ = RegisteredRootBlock();
    for (int i = 0; i < kStaticRoots; ++i) static_roots_[i] = nullptr;
    for (int i = 0; i < kBoxRoots; ++i) boxes_.push_back(scheme_malloc_immobile_box(nullptr));
    traced_.assign(kTracedRoots, nullptr);
    static_edges_.assign(kStaticRoots, Edge{});
    box_edges_.assign(kBoxRoots, Edge{});
    traced_edges_.assign(kTracedRoots, Edge{});
    seen_collections_ = keel_test::CollectionCount();
  }

  ~GraphStress() { ReleaseRoots(); }

  void Run() {
    keel_test::StepBudget budget(keel_test::CurrentTestName(), opt_.seed, opt_.floor_steps, opt_.steps,
                                 opt_.budget_seconds);
    for (step_ = 0; !failed_ && budget.Continue(step_); ++step_) {
      int op = static_cast<int>(Uniform(100));
      if (op < 35) {
        NewObject();
      } else if (op < 65) {
        SetRandomEdge();
      } else if (op < 72) {
        PinOrUnpin();
      } else if (op < 77) {
        ReplaceBox();
      } else {
        Churn();
      }
      if (dirty_) Recompute();
      if (opt_.explicit_collect_every > 0 && step_ % opt_.explicit_collect_every == opt_.explicit_collect_every - 1) {
        scheme_collect_garbage();
        ++explicit_collections_;
      }
      uint64_t now = keel_test::CollectionCount();
      if (now != seen_collections_) {
        seen_collections_ = now;
        Verify();
      }
    }
    steps_done_ = step_;
    scheme_collect_garbage();
    seen_collections_ = keel_test::CollectionCount();
    Verify();
    budget.Report(steps_done_, failed_);
  }

  // Lets go of every root; afterwards nothing the test made is reachable.
  void ReleaseRoots() {
    for (void** b : boxes_) scheme_free_immobile_box(b);
    boxes_.clear();
    for (auto& [id, count] : pins_) {
      for (int i = 0; i < count; ++i) scheme_gc_ptr_ok(reinterpret_cast<void*>(objs_[id].addr));
    }
    pins_.clear();
    if (static_roots_ != nullptr) {
      for (int i = 0; i < kStaticRoots; ++i) static_roots_[i] = nullptr;
    }
    traced_.clear();
    traced_.shrink_to_fit();
  }

  // Addresses of every object reachable at the end (to check they are freed once released).
  std::vector<keel_test::Hidden> ReachableAddresses() const {
    std::vector<keel_test::Hidden> out;
    for (const ShadowObj& o : objs_) {
      if (o.reachable) out.push_back(keel_test::Hidden(reinterpret_cast<void*>(o.addr)));
    }
    return out;
  }

  bool failed() const { return failed_; }
  int verifications() const { return verifications_; }
  int steps_done() const { return steps_done_; }
  int explicit_collections() const { return explicit_collections_; }
  size_t objects_created() const { return objs_.size(); }
  size_t reachable_count() const { return reachable_.size(); }

 private:
  uint64_t Uniform(uint64_t n) { return n == 0 ? 0 : rng_() % n; }
  bool Chance(int percent) { return static_cast<int>(Uniform(100)) < percent; }

  std::string Where() const {
    std::ostringstream s;
    s << "seed " << opt_.seed << ", step " << step_;
    return s.str();
  }

  void Fail(const std::string& what) {
    if (!failed_) BOOST_ERROR(what << " (" << Where() << "; rerun with -- --seed " << BaseSeed() << ")");
    failed_ = true;
  }

  // --- real memory -----------------------------------------------------------------------------
  void* Pointer(const Edge& e) const {
    if (e.target < 0) return nullptr;
    return reinterpret_cast<char*>(objs_[e.target].addr) + e.offset;
  }
  static void* EmptyValue(ObjKind k) {
    return (k == ObjKind::kPair || k == ObjKind::kVector) ? static_cast<void*>(scheme_null) : nullptr;
  }
  void** SlotAddress(int32_t id, int slot) const {
    const ShadowObj& o = objs_[id];
    switch (o.kind) {
      case ObjKind::kPair: return reinterpret_cast<void**>(&SCHEME_CDR(reinterpret_cast<Scheme_Object*>(o.addr)));
      case ObjKind::kVector:
        return reinterpret_cast<void**>(&SCHEME_VEC_ELS(reinterpret_cast<Scheme_Object*>(o.addr))[1 + slot]);
      default: return reinterpret_cast<void**>(o.addr) + kNodeHeaderWords + slot;
    }
  }
  void** RootAddress(RootKind r, int slot) {
    switch (r) {
      case RootKind::kStatic: return &static_roots_[slot];
      case RootKind::kBox: return boxes_[slot];
      default: return &traced_[slot];
    }
  }
  Edge& ShadowAt(const Location& l) {
    if (!l.is_root) return objs_[l.obj].slots[l.slot];
    switch (l.root) {
      case RootKind::kStatic: return static_edges_[l.slot];
      case RootKind::kBox: return box_edges_[l.slot];
      default: return traced_edges_[l.slot];
    }
  }
  // Stores e at l, in memory and in the model.
  void Store(const Location& l, const Edge& e) {
    Edge& shadow = ShadowAt(l);
    if (shadow.target >= 0) dirty_ = true;  // an edge went away: reachability may shrink
    shadow = e;
    if (l.is_root) {
      *RootAddress(l.root, l.slot) = Pointer(e);
    } else {
      void* v = e.target < 0 ? EmptyValue(objs_[l.obj].kind) : Pointer(e);
      *SlotAddress(l.obj, l.slot) = v;
    }
  }

  // --- choices ---------------------------------------------------------------------------------
  Edge RandomTarget(int null_percent) {
    Edge e;
    if (reachable_.empty() || Chance(null_percent)) return e;
    e.target = reachable_[Uniform(reachable_.size())];
    const ShadowObj& t = objs_[e.target];
    if (t.kind == ObjKind::kInteriorNode) {
      switch (Uniform(4)) {
        case 0: e.offset = 0; break;
        case 1: e.offset = static_cast<uint32_t>(t.bytes); break;  // one past the end
        default: e.offset = static_cast<uint32_t>(8 * Uniform(t.bytes / 8)); break;
      }
    }
    return e;
  }
  Location RandomLocation() {
    Location l;
    if (reachable_.empty() || Chance(30)) {
      l.is_root = true;
      switch (Uniform(3)) {
        case 0: l.root = RootKind::kStatic; l.slot = static_cast<int>(Uniform(kStaticRoots)); break;
        case 1: l.root = RootKind::kBox; l.slot = static_cast<int>(Uniform(kBoxRoots)); break;
        default: l.root = RootKind::kTraced; l.slot = static_cast<int>(Uniform(kTracedRoots)); break;
      }
      return l;
    }
    for (int tries = 0; tries < 8; ++tries) {
      int32_t id = reachable_[Uniform(reachable_.size())];
      if (!objs_[id].slots.empty()) {
        l.obj = id;
        l.slot = static_cast<int>(Uniform(objs_[id].slots.size()));
        return l;
      }
    }
    l.is_root = true;
    l.root = RootKind::kTraced;
    l.slot = static_cast<int>(Uniform(kTracedRoots));
    return l;
  }

  // --- operations ------------------------------------------------------------------------------
  void NewObject() {
    ShadowObj o;
    int kind = static_cast<int>(Uniform(100));
    o.kind = kind < 40 ? ObjKind::kNode : kind < 55 ? ObjKind::kInteriorNode : kind < 80 ? ObjKind::kPair : ObjKind::kVector;
    const int32_t id = static_cast<int32_t>(objs_.size());
    size_t children = o.kind == ObjKind::kPair ? 1 : Uniform(7);
    void* obj = nullptr;
    switch (o.kind) {
      case ObjKind::kNode:
      case ObjKind::kInteriorNode: {
        o.bytes = (kNodeHeaderWords + children) * sizeof(void*);
        if (Chance(5)) o.bytes += 9000 + 8 * Uniform(2000);  // a big object
        else if (Chance(20)) o.bytes += 8 * Uniform(40);
        obj = o.kind == ObjKind::kNode ? scheme_malloc(o.bytes) : scheme_malloc_allow_interior(o.bytes);
        static_cast<void**>(obj)[0] = scheme_make_integer(id);
        if (Chance(70)) {
          o.payload_len = Chance(5) ? 4000 + Uniform(20000) : 1 + Uniform(200);
          void* payload = scheme_malloc_atomic(o.payload_len);  // may collect: obj is on the stack
          keel_test::FillPattern(payload, o.payload_len, static_cast<uint64_t>(id));
          static_cast<void**>(obj)[1] = payload;
          o.payload = reinterpret_cast<uintptr_t>(payload);
        }
        break;
      }
      case ObjKind::kPair:
        obj = scheme_make_pair(scheme_make_integer(id), scheme_null);
        break;
      case ObjKind::kVector:
        obj = scheme_make_vector(static_cast<intptr_t>(1 + children), scheme_null);
        SCHEME_VEC_ELS(static_cast<Scheme_Object*>(obj))[0] = scheme_make_integer(id);
        break;
    }
    o.addr = reinterpret_cast<uintptr_t>(obj);
    o.slots.assign(children, Edge{});
    o.reachable = true;
    objs_.push_back(std::move(o));
    for (size_t i = 0; i < children; ++i) {
      Location l;
      l.obj = id;
      l.slot = static_cast<int>(i);
      Store(l, RandomTarget(25));
    }
    // Link it in; until now only this frame knew it.
    Location where = RandomLocation();
    Edge e;
    e.target = id;
    if (objs_[id].kind == ObjKind::kInteriorNode && Chance(50)) {
      e.offset = Chance(50) ? static_cast<uint32_t>(objs_[id].bytes) : static_cast<uint32_t>(sizeof(void*));
    }
    Store(where, e);
    reachable_.push_back(id);
    obj = nullptr;
  }

  void SetRandomEdge() {
    if (reachable_.empty()) return;
    Store(RandomLocation(), RandomTarget(20));
  }

  void PinOrUnpin() {
    if (!pins_.empty() && Chance(50)) {
      auto it = pins_.begin();
      std::advance(it, static_cast<long>(Uniform(pins_.size())));
      scheme_gc_ptr_ok(reinterpret_cast<void*>(objs_[it->first].addr));
      if (--it->second == 0) pins_.erase(it);
      dirty_ = true;
    } else if (!reachable_.empty()) {
      int32_t id = reachable_[Uniform(reachable_.size())];
      scheme_dont_gc_ptr(reinterpret_cast<void*>(objs_[id].addr));
      ++pins_[id];
    }
  }

  void ReplaceBox() {
    int i = static_cast<int>(Uniform(kBoxRoots));
    Edge e = RandomTarget(20);
    void** fresh = scheme_malloc_immobile_box(Pointer(e));
    scheme_free_immobile_box(boxes_[i]);
    boxes_[i] = fresh;
    if (box_edges_[i].target >= 0) dirty_ = true;
    box_edges_[i] = e;
  }

  // Garbage of every kind, never linked; its allocations trigger collections.
  void Churn() {
    int n = 5 + static_cast<int>(Uniform(75));
    Scheme_Object* chain = scheme_null;
    for (int i = 0; i < n; ++i) {
      uint64_t k = Uniform(20);
      if (k < 5) {
        chain = scheme_make_pair(scheme_make_integer(i), chain);
      } else if (k < 10) {
        chain = scheme_make_vector(static_cast<intptr_t>(1 + Uniform(30)), chain);
      } else if (k < 15) {
        void** p = static_cast<void**>(scheme_malloc(16 + 8 * Uniform(100)));
        p[0] = chain;
      } else if (k < 19) {
        std::memset(scheme_malloc_atomic(1 + Uniform(3000)), 0x5A, 1);
      } else {
        scheme_malloc(9000 + Uniform(30000));  // a big object
      }
    }
  }

  // --- the model's reachability --------------------------------------------------------------
  void Recompute() {
    dirty_ = false;
    for (ShadowObj& o : objs_) o.reachable = false;
    std::vector<int32_t> work;
    auto visit = [&](const Edge& e) {
      if (e.target >= 0 && !objs_[e.target].reachable) {
        objs_[e.target].reachable = true;
        work.push_back(e.target);
      }
    };
    for (const Edge& e : static_edges_) visit(e);
    for (const Edge& e : box_edges_) visit(e);
    for (const Edge& e : traced_edges_) visit(e);
    for (const auto& [id, count] : pins_) visit(Edge{id, 0});
    while (!work.empty()) {
      int32_t id = work.back();
      work.pop_back();
      for (const Edge& e : objs_[id].slots) visit(e);
    }
    reachable_.clear();
    for (int32_t id = 0; id < static_cast<int32_t>(objs_.size()); ++id) {
      if (objs_[id].reachable) {
        reachable_.push_back(id);
      } else {
        objs_[id].slots.clear();  // dead for good: it can never be reached again
        objs_[id].slots.shrink_to_fit();
      }
    }
  }

  // --- checking --------------------------------------------------------------------------------
  void Verify() {
    ++verifications_;
    size_t problems = keel_gc_verify_heap();
    if (problems != 0) Fail("keel_gc_verify_heap found " + std::to_string(problems) + " problems");
    for (int i = 0; i < kStaticRoots && !failed_; ++i) CheckRoot(static_roots_[i], static_edges_[i], "static root", i);
    for (int i = 0; i < kBoxRoots && !failed_; ++i) CheckRoot(*boxes_[i], box_edges_[i], "immobile box", i);
    for (int i = 0; i < kTracedRoots && !failed_; ++i) CheckRoot(traced_[i], traced_edges_[i], "traced root", i);
    for (int32_t id : reachable_) {
      if (failed_) break;
      CheckObject(id);
    }
  }

  void CheckRoot(void* actual, const Edge& e, const char* what, int i) {
    if (actual != Pointer(e)) Fail(std::string(what) + " " + std::to_string(i) + " changed");
  }

  void CheckObject(int32_t id) {
    const ShadowObj& o = objs_[id];
    void* p = reinterpret_cast<void*>(o.addr);
    std::string name = std::string(KindName(o.kind)) + " " + std::to_string(id);
    if (GC_base(p) != p) return Fail(name + " is no longer an object start (collected while reachable?)");
    auto* obj = static_cast<Scheme_Object*>(p);
    switch (o.kind) {
      case ObjKind::kNode:
      case ObjKind::kInteriorNode: {
        void** words = static_cast<void**>(p);
        if (words[0] != scheme_make_integer(id)) return Fail(name + ": id word overwritten");
        if (GC_size(p) < o.bytes) return Fail(name + ": GC_size below the requested size");
        if (words[1] != reinterpret_cast<void*>(o.payload)) return Fail(name + ": payload pointer changed");
        if (o.payload != 0) {
          void* payload = reinterpret_cast<void*>(o.payload);
          if (GC_base(payload) != payload) return Fail(name + ": payload collected");
          if (!keel_test::HasPattern(payload, o.payload_len, static_cast<uint64_t>(id)))
            return Fail(name + ": payload contents changed");
        }
        size_t used = (kNodeHeaderWords + o.slots.size()) * sizeof(void*);
        if (!keel_test::AllZero(static_cast<char*>(p) + used, o.bytes - used))
          return Fail(name + ": bytes past the slots are no longer zero");
        break;
      }
      case ObjKind::kPair:
        if (!SCHEME_PAIRP(obj) || SCHEME_CAR(obj) != scheme_make_integer(id)) return Fail(name + ": not the pair made");
        break;
      case ObjKind::kVector:
        if (!SCHEME_VECTORP(obj) || SCHEME_VEC_SIZE(obj) != static_cast<intptr_t>(1 + o.slots.size()) ||
            SCHEME_VEC_ELS(obj)[0] != scheme_make_integer(id))
          return Fail(name + ": not the vector made");
        break;
    }
    for (size_t i = 0; i < o.slots.size(); ++i) {
      const Edge& e = o.slots[i];
      void* expected = e.target < 0 ? EmptyValue(o.kind) : Pointer(e);
      if (*SlotAddress(id, static_cast<int>(i)) != expected)
        return Fail(name + ": child slot " + std::to_string(i) + " changed");
    }
  }

  Options opt_;
  std::mt19937_64 rng_;
  int step_ = 0;
  int steps_done_ = 0;
  bool failed_ = false;
  bool dirty_ = false;
  int verifications_ = 0;
  int explicit_collections_ = 0;
  uint64_t seen_collections_ = 0;

  std::vector<ShadowObj> objs_;
  std::vector<int32_t> reachable_;

  void** static_roots_ = nullptr;
  std::vector<void**> boxes_;
  std::vector<void*, keel::traced_allocator<void*>> traced_;
  std::vector<Edge> static_edges_, box_edges_, traced_edges_;
  std::map<int32_t, int> pins_;
};

// Runs one stress configuration, then releases every root and checks that everything the graph
// held is freed.
KEEL_TEST_NOINLINE std::vector<keel_test::Hidden> RunStress(const GraphStress::Options& o, bool* ok) {
  auto stress = std::make_unique<GraphStress>(o);
  stress->Run();
  BOOST_TEST_MESSAGE("seed " << o.seed << ": " << stress->steps_done() << " steps, " << stress->objects_created()
                             << " objects, "
                             << stress->reachable_count() << " reachable at the end, " << stress->verifications()
                             << " verified collections (" << stress->explicit_collections() << " explicit)");
  BOOST_TEST(stress->steps_done() >= o.floor_steps);
  BOOST_TEST(stress->verifications() >= stress->explicit_collections());
  *ok = !stress->failed();
  std::vector<keel_test::Hidden> reachable = stress->ReachableAddresses();
  stress->ReleaseRoots();
  return reachable;
}

void RunAndCheckRelease(const GraphStress::Options& o) {
  bool ok = false;
  std::vector<keel_test::Hidden> held = RunStress(o, &ok);
  if (!ok) return;
  keel_test::CollectClean();
  size_t retained = 0;
  for (const keel_test::Hidden& h : held) retained += keel_test::WasFreed(h) ? 0 : 1;
  BOOST_TEST(retained == 0u, retained << " of " << held.size() << " objects outlived the release of every root (seed "
                                      << o.seed << ")");
  BOOST_TEST(keel_gc_verify_heap() == 0u);
}

BOOST_FIXTURE_TEST_SUITE(random_graph, keel_test::CleanStackFixture)

// Both cases run in one CTest test (keel_stress_tests_random_graph), so their budgets together
// keep it under a quarter of CTest's 600 s timeout in the sanitizer run on 2 cores; the Release
// run does the nominal counts in a few seconds. Each run does up to its nominal count of steps,
// stopping at its deadline once past its floor (support/budget.h).

// About one collection every 35 steps, and an explicit major one every 600: the nominal 30,000
// steps are about 880 collections (50 explicit). The floor of 10,000 steps is about 300
// collections, 16 of them explicit majors and the rest allocation-triggered (minor ones with a
// write barrier, major ones without), each checked against the model: hundreds of collections
// of both kinds over a graph of thousands of objects. In the sanitizer run the nominal count
// takes about 55 s (20 s without a barrier), the floor about 18 s.
BOOST_AUTO_TEST_CASE(default_policy) {
  RunAndCheckRelease(GraphStress::Options{BaseSeed(), 30000, 600, 10000, 40});
}

// Growth 0.1 and 256 KiB: all collections allocation-triggered. With a write barrier they are
// minor (one every 35 steps) until the old generation has grown enough for major ones, which
// start after 10,900 to 13,300 steps (12 seeds measured); from then on most collections are major: the
// nominal 20,000 steps are about 570 collections, 170 to 240 of them major, and the floor of
// 15,000 steps covers the first majors with a margin (dozens of them). Without a barrier every
// collection is major and they come every 5 steps: the floor of 5,000 steps is about 1,000 of
// them. In the sanitizer run the nominal count takes about 17 s (67 s without a barrier).
BOOST_AUTO_TEST_CASE(frequent_collections) {
  keel_gc_set_growth(0.1, size_t{256} << 10);  // many allocation-triggered collections
  const int floor_steps = std::strcmp(keel_gc_barrier(), "none") == 0 ? 5000 : 15000;
  RunAndCheckRelease(GraphStress::Options{BaseSeed() + 1, 20000, 0, floor_steps, 40});
  keel_gc_set_growth(0.6, size_t{4} << 20);  // the documented defaults
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
