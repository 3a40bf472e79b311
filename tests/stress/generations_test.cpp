// generations_test.cpp: seeded random old/young object graphs against a shadow model, for the
// generational collector and its write barrier (docs/design/barrier.md). Nodes are scheme_malloc
// blocks (small, a few words to a few hundred bytes, and big ones spanning several 16 KiB pages
// with their child slots spread over the pages) and vectors; roots are a registered static block
// and a traced_allocator vector. Between thousands of keel_gc_collect_minor() calls and a few
// scheme_collect_garbage() ones the graph is mutated mostly by plain stores of young objects
// (made since the last collection) into old ones, the stores the barrier must see. After every
// collection each reachable object is checked against the model and keel_gc_verify_heap() runs.
//
// Runs under every backend (the stress executable is registered with KEEL_GC_BARRIER=mprotect and
// none too). The seed is printed; rerun one with
// `keel_stress_tests --run_test=generations -- --seed N`. Each run is sized to a time budget
// (support/budget.h: at least a floor of steps, at most a nominal count) and prints a "[budget]"
// line with the steps it did and the collections they covered.
#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <memory>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "gc.h"
#include "keel.hpp"
#include "keel_gc.h"
#include "scheme.h"
#include "support/budget.h"
#include "support/gc_probe.h"
#include "support/seed.h"

namespace {

// `--seed N` or `--seed=N` after `--` (the same option random_graph_test.cpp reads); otherwise a
// fresh random seed.
uint64_t GenerationsSeed() { return keel_test::SeedFromCommandLine(); }

constexpr int kStaticRoots = 32;
constexpr int kTracedRoots = 32;
constexpr size_t kHeaderWords = 2;  // word 0: the id as a fixnum; word 1: the payload or NULL
constexpr size_t kMaxLive = 2500;   // above this, stores favour clearing edges

enum class NodeKind : uint8_t { kSmall, kBig, kVector };

struct Node {
  NodeKind kind = NodeKind::kSmall;
  uintptr_t addr = 0;
  size_t words = 0;            // nodes: the block's size in words
  size_t stride = 1;           // words between child slots (big nodes spread them over pages)
  uintptr_t payload = 0;       // an atomic block with a pattern, or 0
  size_t payload_len = 0;
  uint64_t born = 0;           // the collection count when it was made: old once it differs
  std::vector<int64_t> slots;  // child ids, -1 for none
  bool mark = false;
};

void** RegisteredRoots() {
  static void** block = keel_test::NewRegisteredBlock(kStaticRoots);
  return block;
}

class GenerationsStress {
 public:
  struct Options {
    uint64_t seed;
    int steps;        // the nominal count: at most this many steps
    int minor_every;  // steps between explicit minor collections
    int major_every;  // explicit minor collections between explicit major ones
    int floor_steps;  // at least this many steps, whatever the budget (support/budget.h)
    double budget_seconds;  // stop at this deadline once past the floor (scaled by KEEL_TEST_BUDGET_SCALE)
  };

  explicit GenerationsStress(const Options& o) : opt_(o), rng_(o.seed) {
    statics_ = RegisteredRoots();
    for (int i = 0; i < kStaticRoots; ++i) statics_[i] = nullptr;
    traced_.assign(kTracedRoots, nullptr);
    static_ids_.assign(kStaticRoots, -1);
    traced_ids_.assign(kTracedRoots, -1);
    seen_ = keel_test::CollectionCount();
  }
  ~GenerationsStress() { ReleaseRoots(); }

  void Run() {
    keel_test::StepBudget budget(keel_test::CurrentTestName(), opt_.seed, opt_.floor_steps, opt_.steps,
                                 opt_.budget_seconds);
    int minors = 0;
    for (step_ = 0; !failed_ && budget.Continue(step_); ++step_) {
      int op = static_cast<int>(Uniform(100));
      if (op < 30) {
        NewNode();
      } else if (op < 75) {
        OldToYoungStore();
      } else if (op < 90) {
        RandomStore();
      } else {
        Churn();
      }
      if (step_ % opt_.minor_every == opt_.minor_every - 1) {
        if (++minors % opt_.major_every == 0) {
          scheme_collect_garbage();
          ++explicit_major_;
        } else {
          keel_gc_collect_minor();
          ++explicit_minor_;
        }
      }
      AfterPossibleCollection();
    }
    steps_done_ = step_;
    scheme_collect_garbage();
    AfterPossibleCollection();
    budget.Report(steps_done_, failed_);
  }

  void ReleaseRoots() {
    if (statics_ != nullptr) {
      for (int i = 0; i < kStaticRoots; ++i) statics_[i] = nullptr;
    }
    traced_.clear();
    traced_.shrink_to_fit();
  }

  std::vector<keel_test::Hidden> LiveAddresses() const {
    std::vector<keel_test::Hidden> out;
    for (const auto& [id, n] : nodes_) out.push_back(keel_test::Hidden(reinterpret_cast<void*>(n.addr)));
    return out;
  }

  bool failed() const { return failed_; }
  int verifications() const { return verifications_; }
  int steps_done() const { return steps_done_; }
  int explicit_minor() const { return explicit_minor_; }
  int explicit_major() const { return explicit_major_; }
  uint64_t old_to_young_stores() const { return old_to_young_; }
  int64_t created() const { return next_id_; }
  size_t live() const { return nodes_.size(); }

 private:
  uint64_t Uniform(uint64_t n) { return n == 0 ? 0 : rng_() % n; }
  bool Chance(int percent) { return static_cast<int>(Uniform(100)) < percent; }

  void Fail(const std::string& what) {
    if (!failed_) {
      BOOST_ERROR(what << " (seed " << opt_.seed << ", step " << step_ << ", collection " << seen_
                       << ", barrier " << keel_gc_barrier() << "; rerun with --run_test=generations -- --seed "
                       << GenerationsSeed() << ")");
    }
    failed_ = true;
  }

  bool IsOld(const Node& n) const { return n.born != seen_; }

  // --- real memory -----------------------------------------------------------------------------
  void* AddressOf(int64_t id) const { return id < 0 ? nullptr : reinterpret_cast<void*>(nodes_.at(id).addr); }
  static void* Empty(const Node& n) { return n.kind == NodeKind::kVector ? static_cast<void*>(scheme_null) : nullptr; }
  static void** SlotAddress(const Node& n, size_t i) {
    if (n.kind == NodeKind::kVector) {
      return reinterpret_cast<void**>(&SCHEME_VEC_ELS(reinterpret_cast<Scheme_Object*>(n.addr))[1 + i]);
    }
    return reinterpret_cast<void**>(n.addr) + kHeaderWords + i * n.stride;
  }

  // A location: a node's slot, or a root (static when root_static, else traced).
  struct Loc {
    int64_t node = -1;
    size_t slot = 0;
    bool root_static = false;
  };
  void Store(const Loc& l, int64_t target) {
    if (l.node < 0) {
      std::vector<int64_t>& ids = l.root_static ? static_ids_ : traced_ids_;
      if (ids[l.slot] >= 0) dirty_ = true;
      ids[l.slot] = target;
      void** where = l.root_static ? &statics_[l.slot] : &traced_[l.slot];
      *where = AddressOf(target);
      return;
    }
    Node& n = nodes_.at(l.node);
    if (n.slots[l.slot] >= 0) dirty_ = true;
    n.slots[l.slot] = target;
    *SlotAddress(n, l.slot) = target < 0 ? Empty(n) : AddressOf(target);  // a plain store
    if (target >= 0 && IsOld(n) && !IsOld(nodes_.at(target))) ++old_to_young_;
  }
  Loc RootLoc() {
    Loc l;
    l.root_static = Chance(50);
    l.slot = Uniform(l.root_static ? kStaticRoots : kTracedRoots);
    return l;
  }
  // A random slot of a live node with slots, preferring old ones when `want_old`.
  bool NodeLoc(bool want_old, Loc* out) {
    std::vector<int64_t>& pool = want_old ? old_ids_ : live_ids_;
    for (int tries = 0; tries < 8 && !pool.empty(); ++tries) {
      int64_t id = pool[Uniform(pool.size())];
      const Node& n = nodes_.at(id);
      if (n.slots.empty()) continue;
      out->node = id;
      out->slot = Uniform(n.slots.size());
      return true;
    }
    return false;
  }
  int64_t RandomTarget(bool want_young, int null_percent) {
    if (Chance(null_percent)) return -1;
    std::vector<int64_t>& pool = want_young && !young_ids_.empty() ? young_ids_ : live_ids_;
    return pool.empty() ? -1 : pool[Uniform(pool.size())];
  }

  // --- operations ------------------------------------------------------------------------------
  void NewNode() {
    Node n;
    const int64_t id = next_id_++;
    size_t children = Uniform(6);
    int kind = static_cast<int>(Uniform(100));
    n.kind = kind < 65 ? NodeKind::kSmall : kind < 72 ? NodeKind::kBig : NodeKind::kVector;
    void* obj = nullptr;
    if (n.kind == NodeKind::kVector) {
      obj = scheme_make_vector(static_cast<intptr_t>(1 + children), scheme_null);
      SCHEME_VEC_ELS(static_cast<Scheme_Object*>(obj))[0] = scheme_make_integer(id);
    } else {
      if (n.kind == NodeKind::kBig) {
        children = 1 + Uniform(6);
        n.words = (20000 + Uniform(60000)) / sizeof(void*);  // 2 to 6 pages
        n.stride = (n.words - kHeaderWords) / children;
      } else {
        n.words = kHeaderWords + children + (Chance(25) ? Uniform(40) : 0);
      }
      obj = scheme_malloc(n.words * sizeof(void*));
      static_cast<void**>(obj)[0] = scheme_make_integer(id);
      if (Chance(60)) {
        n.payload_len = 1 + Uniform(300);
        void* payload = scheme_malloc_atomic(n.payload_len);  // may collect: obj is on the stack
        keel_test::FillPattern(payload, n.payload_len, static_cast<uint64_t>(id));
        static_cast<void**>(obj)[1] = payload;
        n.payload = reinterpret_cast<uintptr_t>(payload);
      }
    }
    n.addr = reinterpret_cast<uintptr_t>(obj);
    n.slots.assign(children, -1);
    // A collection may have happened inside the allocations above: the model catches up first.
    AfterPossibleCollection();
    n.born = seen_;
    nodes_.emplace(id, std::move(n));
    // Link it in before anything else allocates: preferably into an old node (an old-to-young
    // store), else a root.
    Loc where;
    if (!(Chance(75) && NodeLoc(true, &where))) where = RootLoc();
    Store(where, id);
    live_ids_.push_back(id);
    young_ids_.push_back(id);
    for (size_t i = 0; i < children; ++i) {
      Loc l;
      l.node = id;
      l.slot = i;
      Store(l, RandomTarget(false, 40));
    }
    obj = nullptr;
    if (dirty_) Recompute();
  }

  void OldToYoungStore() {
    Loc l;
    if (!NodeLoc(true, &l)) return;
    bool shrink = nodes_.size() > kMaxLive;
    Store(l, RandomTarget(true, shrink ? 70 : 15));
    if (dirty_) Recompute();
  }

  void RandomStore() {
    Loc l;
    if (Chance(20) || !NodeLoc(false, &l)) l = RootLoc();
    bool shrink = nodes_.size() > kMaxLive;
    Store(l, RandomTarget(false, shrink ? 70 : 25));
    if (dirty_) Recompute();
  }

  // Unlinked garbage, which also triggers allocation-driven collections.
  void Churn() {
    int n = 3 + static_cast<int>(Uniform(40));
    void** chain = nullptr;
    for (int i = 0; i < n; ++i) {
      uint64_t k = Uniform(10);
      if (k < 6) {
        auto** p = static_cast<void**>(scheme_malloc(16 + 8 * Uniform(60)));
        p[0] = chain;
        chain = p;
      } else if (k < 9) {
        std::memset(scheme_malloc_atomic(1 + Uniform(2000)), 0x5A, 1);
      } else {
        scheme_malloc(17000 + Uniform(20000));
      }
    }
  }

  // --- the model ---------------------------------------------------------------------------------
  void Recompute() {
    dirty_ = false;
    for (auto& [id, n] : nodes_) n.mark = false;
    std::vector<int64_t> work;
    auto visit = [&](int64_t id) {
      if (id < 0) return;
      Node& n = nodes_.at(id);
      if (!n.mark) {
        n.mark = true;
        work.push_back(id);
      }
    };
    for (int64_t id : static_ids_) visit(id);
    for (int64_t id : traced_ids_) visit(id);
    while (!work.empty()) {
      int64_t id = work.back();
      work.pop_back();
      for (int64_t c : nodes_.at(id).slots) visit(c);
    }
    for (auto it = nodes_.begin(); it != nodes_.end();) {
      it = it->second.mark ? std::next(it) : nodes_.erase(it);
    }
    RebuildPools();
  }
  void RebuildPools() {
    live_ids_.clear();
    old_ids_.clear();
    young_ids_.clear();
    for (const auto& [id, n] : nodes_) {
      live_ids_.push_back(id);
      (IsOld(n) ? old_ids_ : young_ids_).push_back(id);
    }
  }

  void AfterPossibleCollection() {
    uint64_t now = keel_test::CollectionCount();
    if (now == seen_) return;
    seen_ = now;
    RebuildPools();  // everything that lived through it is old now
    Verify();
  }

  void Verify() {
    ++verifications_;
    size_t problems = keel_gc_verify_heap();
    if (problems != 0) Fail("keel_gc_verify_heap found " + std::to_string(problems) + " problems");
    for (int i = 0; i < kStaticRoots && !failed_; ++i) {
      if (statics_[i] != AddressOf(static_ids_[i])) Fail("static root " + std::to_string(i) + " changed");
    }
    for (int i = 0; i < kTracedRoots && !failed_; ++i) {
      if (traced_[i] != AddressOf(traced_ids_[i])) Fail("traced root " + std::to_string(i) + " changed");
    }
    for (const auto& [id, n] : nodes_) {
      if (failed_) break;
      Check(id, n);
    }
  }

  void Check(int64_t id, const Node& n) {
    void* p = reinterpret_cast<void*>(n.addr);
    std::string name = (n.kind == NodeKind::kVector ? "vector " : n.kind == NodeKind::kBig ? "big node " : "node ") +
                       std::to_string(id);
    if (GC_base(p) != p) return Fail(name + " is no longer an object start (collected while reachable?)");
    if (n.kind == NodeKind::kVector) {
      auto* v = static_cast<Scheme_Object*>(p);
      if (!SCHEME_VECTORP(v) || SCHEME_VEC_SIZE(v) != static_cast<intptr_t>(1 + n.slots.size()) ||
          SCHEME_VEC_ELS(v)[0] != scheme_make_integer(id))
        return Fail(name + ": not the vector made");
    } else {
      void** w = static_cast<void**>(p);
      if (w[0] != scheme_make_integer(id)) return Fail(name + ": id word overwritten");
      if (GC_size(p) < n.words * sizeof(void*)) return Fail(name + ": GC_size below the requested size");
      if (w[1] != reinterpret_cast<void*>(n.payload)) return Fail(name + ": payload pointer changed");
      if (n.payload != 0) {
        void* payload = reinterpret_cast<void*>(n.payload);
        if (GC_base(payload) != payload) return Fail(name + ": payload collected");
        if (!keel_test::HasPattern(payload, n.payload_len, static_cast<uint64_t>(id)))
          return Fail(name + ": payload contents changed");
      }
      if (n.kind == NodeKind::kSmall) {
        size_t used = kHeaderWords + n.slots.size();
        if (!keel_test::AllZero(w + used, (n.words - used) * sizeof(void*)))
          return Fail(name + ": words past the slots are no longer zero");
      }
    }
    for (size_t i = 0; i < n.slots.size(); ++i) {
      void* expected = n.slots[i] < 0 ? Empty(n) : AddressOf(n.slots[i]);
      if (*SlotAddress(n, i) != expected) return Fail(name + ": child slot " + std::to_string(i) + " changed");
    }
  }

  Options opt_;
  std::mt19937_64 rng_;
  int step_ = 0;
  int steps_done_ = 0;
  bool failed_ = false;
  bool dirty_ = false;
  int verifications_ = 0;
  int explicit_minor_ = 0;
  int explicit_major_ = 0;
  uint64_t old_to_young_ = 0;
  uint64_t seen_ = 0;
  int64_t next_id_ = 0;

  std::unordered_map<int64_t, Node> nodes_;  // the reachable nodes only
  std::vector<int64_t> live_ids_, old_ids_, young_ids_;
  void** statics_ = nullptr;
  std::vector<void*, keel::traced_allocator<void*>> traced_;
  std::vector<int64_t> static_ids_, traced_ids_;
};

KEEL_TEST_NOINLINE std::vector<keel_test::Hidden> RunGenerations(const GenerationsStress::Options& o, bool* ok) {
  auto stress = std::make_unique<GenerationsStress>(o);
  keel_gc_stats before{};
  keel_gc_get_stats(&before);
  stress->Run();
  keel_gc_stats after{};
  keel_gc_get_stats(&after);
  const uint64_t minors = after.minor_collections - before.minor_collections;
  BOOST_TEST_MESSAGE("seed " << o.seed << " (barrier " << keel_gc_barrier() << "): " << stress->steps_done()
                             << " steps, " << stress->created()
                             << " nodes, " << stress->live() << " live at the end, " << stress->verifications()
                             << " verified collections (" << minors << " minor), " << stress->old_to_young_stores()
                             << " old-to-young stores");
  *ok = !stress->failed();
  // The run must have exercised what it is for (the floor of kFloorSteps guarantees it).
  BOOST_TEST(stress->steps_done() >= o.floor_steps);
  BOOST_TEST(stress->explicit_minor() >= 1000);
  BOOST_TEST(stress->old_to_young_stores() >= 5000u);
  if (std::strcmp(keel_gc_barrier(), "none") == 0) {
    BOOST_TEST(minors == 0u);
  } else {
    BOOST_TEST(minors >= static_cast<uint64_t>(stress->explicit_minor()));
  }
  std::vector<keel_test::Hidden> live = stress->LiveAddresses();
  stress->ReleaseRoots();
  return live;
}

BOOST_FIXTURE_TEST_SUITE(generations, keel_test::CleanStackFixture)

// Each run does up to kNominalSteps steps, stopping at its budget's deadline once past
// kFloorSteps (support/budget.h). An explicit collection comes every 12 steps, every 40th of
// them major, and allocation adds a few: 40,000 steps are about 3,335 collections (3,250 minor,
// 84 major) and 20,000 old-to-young stores. The floor of 15,000 steps is 1,250 collections
// (1,220 minor, 32 major; all 1,250 major without a barrier) and about 7,500 old-to-young
// stores, above what RunGenerations requires of every run (1,000 explicit minor collections,
// 5,000 old-to-young stores): a run cut at the floor still proves the property, a thousand minor
// collections with old-to-young stores between them and dozens of major ones, each checked
// against the model. The budget keeps each run (one CTest test) under a quarter of CTest's 600 s
// timeout in the sanitizer run on 2 cores, where the nominal count takes 95 to 160 s and the
// floor 35 to 60 s; the Release run does the nominal count in under 10 s.
constexpr int kNominalSteps = 40000;
constexpr int kFloorSteps = 15000;
constexpr double kBudgetSeconds = 75;

KEEL_TEST_NOINLINE size_t CountRetained(const std::vector<keel_test::Hidden>& held) {
  size_t retained = 0;
  for (const keel_test::Hidden& h : held) retained += keel_test::WasFreed(h) ? 0 : 1;
  return retained;
}

// Another clean collection, from a frame whose locals (a zeroed buffer) cover the words the
// first one's callers left above the cleared stack.
KEEL_TEST_NOINLINE void CollectCleanAgain() {
  volatile char pad[4096];
  for (size_t i = 0; i < sizeof pad; ++i) pad[i] = 0;
  keel_test::CollectClean();
  keel_test::CollectClean();
}

// One seeded run, then every root released: nothing may outlive them.
void CheckGenerations(uint64_t seed) {
  std::cout << "generations seed: " << seed << " (rerun: keel_stress_tests --run_test=generations -- --seed "
            << seed << ")" << std::endl;
  bool ok = false;
  std::vector<keel_test::Hidden> held = RunGenerations(
      GenerationsStress::Options{seed, kNominalSteps, 12, 40, kFloorSteps, kBudgetSeconds}, &ok);
  BOOST_TEST(keel_gc_verify_heap() == 0u);
  if (!ok) return;
  keel_test::CollectClean();
  size_t retained = CountRetained(held);
  if (retained != 0) {
    // A conservative collector may keep garbage through one stale word that looks like a
    // pointer (here a node high in the graph keeps most of it); what must not happen is
    // garbage that outlives a second clean collection as well.
    BOOST_TEST_MESSAGE(retained << " of " << held.size() << " nodes outlived the first collection after the release; collecting again");
    CollectCleanAgain();
    retained = CountRetained(held);
  }
  KEEL_CHECK_FREED(retained == 0u, retained << " of " << held.size() << " nodes outlived two collections after the release of every root");
  BOOST_TEST(keel_gc_verify_heap() == 0u);
}

// Two runs (each its own CTest test) rather than one twice as long: the same work, in cases
// short enough for the sanitizer run. The second uses the next seed.
BOOST_AUTO_TEST_CASE(old_to_young_stores_across_minor_collections) { CheckGenerations(GenerationsSeed()); }

BOOST_AUTO_TEST_CASE(old_to_young_stores_across_minor_collections_next_seed) {
  CheckGenerations(GenerationsSeed() + 1);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
