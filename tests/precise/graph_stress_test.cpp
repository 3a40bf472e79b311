// graph_stress_test.cpp: seeded random object graphs mutated between thousands of minor and
// major 3m collections and checked against a shadow model after every collection (docs/design/
// precise.md .req.slots, .req.never-move, .sol.copy, .sol.major, .sol.traversers). The graph
// mixes tagged objects of four registered types (a fixed slot count; a count stored in the
// object; a count stored in a separate, movable "shape" object that the traversers read through
// GC_resolve; atomic data), untagged scheme_malloc arrays, allow-interior blocks held only by
// interior and one-past-the-end pointers, slots that point at malloc memory, and immobile boxes.
// Roots are a registered array on GC_variable_stack and the boxes.
//
// The model lives in malloc memory and knows objects by id. Every address the test stores was
// read from a registered slot or a heap object after the last collection: it relearns them all
// by walking the graph after each one (precise.md .req.roots: no stack is scanned, so a copy in a
// local would be stale). The seed is printed; rerun one with
// `keel_precise_tests --run_test=graph_stress -- --seed N`. The run is sized to a time budget
// (support/budget.h) and prints a "[budget]" line.
#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <iterator>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "keel_gc.h"
#include "scheme.h"
#include "support/budget.h"
#include "support/seed.h"

namespace {

// --- the tagged types ----------------------------------------------------------------------------

// Far above scheme_make_type's tags (up to 512), below the traverser table's 4096.
constexpr Scheme_Type kFixedTag = 3600;
constexpr Scheme_Type kCountedTag = 3601;
constexpr Scheme_Type kShapedTag = 3602;
constexpr Scheme_Type kBlobTag = 3603;

constexpr int kFixedSlots = 3;
constexpr int kMaxSlots = 12;  // keeps every movable object far below the nursery's 8 KiB limit

// Every tagged object starts with its tag, as Racket's traversers expect, and its id.
struct Head {
  Scheme_Type tag;
  short keyex;
  int32_t id;
};
struct FixedNode {
  Head head;
  void* slots[kFixedSlots];
};
struct CountedNode {  // then `count` slots
  Head head;
  intptr_t count;
};
struct ShapedNode {  // then as many slots as its shape says
  Head head;
  void* shape;
};
struct Blob {  // then `bytes` bytes of plain data
  Head head;
  intptr_t bytes;
};
// A shape is untagged atomic memory: word 0 the slot count, word 1 its id. Word 0 is where the
// copier leaves the forwarding address (gc/nursery.h), so a traverser that read the count through
// a shape pointer the collection had already moved would read an address instead.
constexpr size_t kShapeBytes = 2 * sizeof(intptr_t);

template <class T>
void** TrailingSlots(T* n) {
  return reinterpret_cast<void**>(n + 1);
}

int Words(size_t bytes) { return static_cast<int>(gcBYTES_TO_WORDS(bytes)); }

// Where the shape lives now: during a collection it may have been copied already.
intptr_t ShapeCount(void* shape) { return static_cast<intptr_t*>(GC_resolve(shape))[0]; }

// Shaped nodes traced while their shape had already been copied: the case GC_resolve is for.
uint64_t g_shapes_seen_moved = 0;
// Calls of the atomic type's mark and fixup procedures, which the collector must never make.
uint64_t g_blob_traversals = 0;

template <bool kFixup>
void Visit(void*& slot) {
  if constexpr (kFixup) {
    gcFIXUP(slot);
  } else {
    gcMARK(slot);
  }
}

int FixedSize(void*) { return Words(sizeof(FixedNode)); }
template <bool kFixup>
int FixedTraverse(void* p) {
  for (void*& s : static_cast<FixedNode*>(p)->slots) Visit<kFixup>(s);
  return FixedSize(p);
}

int CountedSize(void* p) {
  return Words(sizeof(CountedNode) + static_cast<size_t>(static_cast<CountedNode*>(p)->count) * sizeof(void*));
}
template <bool kFixup>
int CountedTraverse(void* p) {
  auto* n = static_cast<CountedNode*>(p);
  void** slots = TrailingSlots(n);
  for (intptr_t i = 0; i < n->count; ++i) Visit<kFixup>(slots[i]);
  return CountedSize(p);
}

int ShapedSize(void* p) {
  const intptr_t count = ShapeCount(static_cast<ShapedNode*>(p)->shape);
  return Words(sizeof(ShapedNode) + static_cast<size_t>(count) * sizeof(void*));
}
// The size is read before the shape's slot is visited, while it may still hold the address the
// shape had before this collection.
template <bool kFixup>
int ShapedTraverse(void* p) {
  auto* n = static_cast<ShapedNode*>(p);
  if (GC_resolve(n->shape) != n->shape) ++g_shapes_seen_moved;
  const int size = ShapedSize(p);
  const intptr_t count = ShapeCount(n->shape);
  Visit<kFixup>(n->shape);
  void** slots = TrailingSlots(n);
  for (intptr_t i = 0; i < count; ++i) Visit<kFixup>(slots[i]);
  return size;
}

int BlobSize(void* p) { return Words(sizeof(Blob) + static_cast<size_t>(static_cast<Blob*>(p)->bytes)); }
int BlobTraverse(void* p) {
  ++g_blob_traversals;
  return BlobSize(p);
}

void RegisterTypes() {
  GC_register_traversers(kFixedTag, FixedSize, FixedTraverse<false>, FixedTraverse<true>, 1, 0);
  GC_register_traversers(kCountedTag, CountedSize, CountedTraverse<false>, CountedTraverse<true>, 0, 0);
  GC_register_traversers(kShapedTag, ShapedSize, ShapedTraverse<false>, ShapedTraverse<true>, 0, 0);
  GC_register_traversers(kBlobTag, BlobSize, BlobTraverse, BlobTraverse, 0, 1);
}

// --- the model -----------------------------------------------------------------------------------

enum class Type : uint8_t { kFixed, kCounted, kShaped, kBlob, kArray, kInterior, kShape };

const char* TypeName(Type t) {
  switch (t) {
    case Type::kFixed: return "fixed node";
    case Type::kCounted: return "counted node";
    case Type::kShaped: return "shaped node";
    case Type::kBlob: return "blob";
    case Type::kArray: return "array";
    case Type::kInterior: return "allow-interior block";
    default: return "shape";
  }
}

// What a slot holds: NULL, a fixnum, an object (at a byte offset, non-zero only into an
// allow-interior block), or one of the test's malloc blocks (at a byte offset).
struct Value {
  enum class Kind : uint8_t { kNull, kFixnum, kObject, kForeign };
  Kind kind = Kind::kNull;
  int32_t target = -1;  // kObject: the object's id; kForeign: the block's index
  uint32_t offset = 0;
  intptr_t fixnum = 0;
};

struct Node {
  Type type = Type::kFixed;
  int32_t shape = -1;       // kShaped: its shape's id
  uint32_t count = 0;       // kShape: the slot count it gives
  uint32_t bytes = 0;       // kInterior: its size, the offset of its one-past-the-end pointer
  uint64_t born = 0;        // movable objects: the collection count when it was allocated
  std::vector<Value> slots; // its reference slots, in memory order
  std::vector<unsigned char> data;  // kBlob: its bytes
  bool reachable = true;
};

// A slot the test stores into: a root, a box or an object's slot.
constexpr int32_t kRootHolder = -1;
constexpr int32_t kBoxHolder = -2;
struct Location {
  int32_t holder = kRootHolder;  // an object's id, or kRootHolder / kBoxHolder
  size_t index = 0;
};

constexpr int kRoots = 48;
constexpr int kScratch = 2;  // a node and its new shape, between their allocation and linking
constexpr int kBoxes = 8;
constexpr int kForeignBlocks = 8;
constexpr size_t kForeignBytes = 64;
// Exact size classes (gc/size_classes.h), so that offset `bytes` is one past the block's end.
// The large ones fill a page in a few blocks, so the last block of a page is often reached
// through its one-past-the-end pointer: the page's unused tail (2720, 5456) or the next page
// (4096, 8192).
constexpr uint32_t kSmallInteriorSizes[] = {32, 48, 64, 96, 160, 192, 256};
constexpr uint32_t kLargeInteriorSizes[] = {2720, 4096, 5456, 8192};
// An allow-interior block's words after its id that the graph uses as slots; the rest hold a
// fixed pattern of fixnums, checked after every collection but not kept in the model.
constexpr size_t kInteriorSlots = 16;

// The fixnum in word i of allow-interior block id, past its slots.
Scheme_Object* InteriorPattern(int32_t id, size_t i) {
  return scheme_make_integer(static_cast<intptr_t>(id) * 4096 + static_cast<intptr_t>(i));
}

Scheme_Type TagOf(Type t) {
  switch (t) {
    case Type::kFixed: return kFixedTag;
    case Type::kCounted: return kCountedTag;
    case Type::kShaped: return kShapedTag;
    default: return kBlobTag;
  }
}

uintptr_t Address(const void* p) { return reinterpret_cast<uintptr_t>(p); }

uint64_t Collections() {
  keel_gc_stats s{};
  keel_gc_get_stats(&s);
  return s.collections;
}

class GraphStress {
 public:
  explicit GraphStress(uint64_t seed) : seed_(seed), rng_(seed) {
    for (int i = 0; i < kForeignBlocks; ++i) {
      auto* block = static_cast<unsigned char*>(std::malloc(kForeignBytes));
      for (size_t j = 0; j < kForeignBytes; ++j) block[j] = ForeignByte(i, j);
      foreign_.push_back(block);
    }
    root_values_.assign(kRoots, Value{});
    box_values_.assign(kBoxes, Value{});
  }
  ~GraphStress() {
    for (unsigned char* block : foreign_) std::free(block);
  }
  GraphStress(const GraphStress&) = delete;
  GraphStress& operator=(const GraphStress&) = delete;

  // Steps until the budget says stop, an explicit collection (alternately minor and major)
  // every kCollectEvery of them; then lets go of every root.
  void Run(int floor_steps, int nominal_steps, double budget_seconds) {
    void* roots[kRoots] = {};
    void* scratch[kScratch] = {};
    MZ_GC_DECL_REG(6);
    MZ_GC_ARRAY_VAR_IN_REG(0, roots, kRoots);
    MZ_GC_ARRAY_VAR_IN_REG(3, scratch, kScratch);
    MZ_GC_REG();
    roots_ = roots;
    scratch_ = scratch;
    for (int i = 0; i < kBoxes; ++i) boxes_.push_back(scheme_malloc_immobile_box(nullptr));
    seen_ = Collections();

    keel_test::StepBudget budget(keel_test::CurrentTestName(), seed_, floor_steps, nominal_steps, budget_seconds);
    for (step_ = 0; !failed_ && budget.Continue(step_); ++step_) {
      Step();
      if (step_ % kCollectEvery == kCollectEvery - 1) Collect(explicit_collections_++ % 2 == 1);
    }
    if (!failed_) Collect(true);
    budget.Report(step_, failed_);

    for (void** b : boxes_) scheme_free_immobile_box(b);
    boxes_.clear();
    MZ_GC_UNREG();
    roots_ = scratch_ = nullptr;
  }

  bool failed() const { return failed_; }
  int steps() const { return step_; }
  uint64_t minor_checked() const { return minor_checked_; }
  uint64_t major_checked() const { return major_checked_; }
  uint64_t verifications() const { return verifications_; }
  uint64_t young_moved() const { return young_moved_; }
  uint64_t copied_objects() const { return copied_objects_; }
  size_t objects_made() const { return nodes_.size(); }
  size_t largest_graph() const { return largest_graph_; }

 private:
  static constexpr int kCollectEvery = 20;

  static unsigned char ForeignByte(int block, size_t j) { return static_cast<unsigned char>(block * 37 + j * 11 + 5); }
  uint64_t Uniform(uint64_t n) { return n == 0 ? 0 : rng_() % n; }
  bool Chance(int percent) { return static_cast<int>(Uniform(100)) < percent; }

  void Fail(const std::string& what) {
    if (!failed_) {
      BOOST_ERROR(what << " (seed " << seed_ << ", step " << step_ << ", after collection " << seen_
                       << "; rerun with -- --seed " << seed_ << ")");
    }
    failed_ = true;
  }

  // --- real memory ------------------------------------------------------------------------------

  // Valid from the walk after the last collection (or the object's allocation) to the next one.
  void* At(int32_t id) const { return reinterpret_cast<void*>(addr_[id]); }

  void* Pointer(const Value& v) const {
    switch (v.kind) {
      case Value::Kind::kNull: return nullptr;
      case Value::Kind::kFixnum: return scheme_make_integer(v.fixnum);
      case Value::Kind::kForeign: return foreign_[v.target] + v.offset;
      default: return static_cast<char*>(At(v.target)) + v.offset;
    }
  }

  // The first reference slot of an object; blobs and shapes have none.
  void** SlotsOf(int32_t id) const {
    void* p = At(id);
    switch (nodes_[id].type) {
      case Type::kFixed: return static_cast<FixedNode*>(p)->slots;
      case Type::kCounted: return TrailingSlots(static_cast<CountedNode*>(p));
      case Type::kShaped: return TrailingSlots(static_cast<ShapedNode*>(p));
      case Type::kArray:
      case Type::kInterior: return static_cast<void**>(p) + 1;  // after the id
      default: return nullptr;
    }
  }

  void** SlotAt(const Location& l) const {
    if (l.holder == kRootHolder) return &roots_[l.index];
    if (l.holder == kBoxHolder) return boxes_[l.index];
    return SlotsOf(l.holder) + l.index;
  }
  Value& ModelAt(const Location& l) {
    if (l.holder == kRootHolder) return root_values_[l.index];
    if (l.holder == kBoxHolder) return box_values_[l.index];
    return nodes_[l.holder].slots[l.index];
  }

  // Stores v at l, in memory and in the model. Old objects' slots take young objects here: the
  // write barrier's work.
  void Store(const Location& l, const Value& v) {
    Value& m = ModelAt(l);
    if (m.kind == Value::Kind::kObject) dirty_ = true;  // an edge went away: reachability may shrink
    m = v;
    *SlotAt(l) = Pointer(v);
  }

  // --- choices ----------------------------------------------------------------------------------

  static Value ObjectValue(int32_t id) {
    Value v;
    v.kind = Value::Kind::kObject;
    v.target = id;
    return v;
  }
  // A reference to object id: an allow-interior block only ever at an offset past its start, a
  // third of the time one past its end.
  Value Reference(int32_t id) {
    Value v = ObjectValue(id);
    const Node& n = nodes_[id];
    if (n.type == Type::kInterior) {
      v.offset = Chance(33) ? n.bytes : 2 * static_cast<uint32_t>(1 + Uniform(n.bytes / 2 - 1));
    }
    return v;
  }
  Value Fixnum() {
    Value v;
    v.kind = Value::Kind::kFixnum;
    v.fixnum = static_cast<intptr_t>(Uniform(1u << 20)) - (1 << 19);
    return v;
  }
  // What an object's slot gets.
  Value RandomValue() {
    const int r = static_cast<int>(Uniform(100));
    if (r < 10 || reachable_.empty()) return Value{};
    if (r < 20) return Fixnum();
    if (r < 26) {
      Value v;
      v.kind = Value::Kind::kForeign;
      v.target = static_cast<int32_t>(Uniform(kForeignBlocks));
      v.offset = static_cast<uint32_t>(Chance(25) ? kForeignBytes : 8 * Uniform(kForeignBytes / 8));
      return v;
    }
    return Reference(reachable_[Uniform(reachable_.size())]);
  }
  // What a root or a box gets: never an allow-interior block, which only interior pointers from
  // other objects hold.
  Value RandomRootValue() {
    if (reachable_.empty() || Chance(20)) return Value{};
    for (int tries = 0; tries < 8; ++tries) {
      const int32_t id = reachable_[Uniform(reachable_.size())];
      if (nodes_[id].type != Type::kInterior) return Reference(id);
    }
    return Value{};
  }
  Value ValueFor(const Location& l) { return l.holder < 0 ? RandomRootValue() : RandomValue(); }

  // A slot of a reachable object, or holder kRootHolder when none was found.
  Location RandomObjectSlot() {
    for (int tries = 0; tries < 8 && !reachable_.empty(); ++tries) {
      const int32_t id = reachable_[Uniform(reachable_.size())];
      if (!nodes_[id].slots.empty()) return Location{id, Uniform(nodes_[id].slots.size())};
    }
    return Location{};
  }
  Location RandomLocation(int root_percent) {
    if (!Chance(root_percent)) {
      const Location l = RandomObjectSlot();
      if (l.holder >= 0) return l;
    }
    if (Chance(80)) return Location{kRootHolder, Uniform(kRoots)};
    return Location{kBoxHolder, Uniform(kBoxes)};
  }

  // --- operations -------------------------------------------------------------------------------

  void Step() {
    const int op = static_cast<int>(Uniform(100));
    if (op < 30) {
      NewNode();
    } else if (op < 38) {
      NewInterior();
    } else if (op < 68) {
      const Location l = RandomLocation(10);
      Store(l, ValueFor(l));
    } else if (op < 76) {
      MoveInterior();
    } else if (op < 80) {
      Store(Location{kRootHolder, Uniform(kRoots)}, Value{});
    } else if (op < 85) {
      ReplaceBox();
    } else {
      Churn();
    }
    if (dirty_) Recompute();
  }

  // After an allocation: if it collected, check the whole graph, which also relearns where every
  // reachable object is.
  void Sync() {
    if (Collections() != seen_) Verify();
  }

  // A movable node of a random type. Its allocations come first, each result parked in a
  // registered scratch slot at once; then the node is filled and linked in, allocating nothing.
  void NewNode() {
    Node n;
    const int kind = static_cast<int>(Uniform(100));
    n.type = kind < 25 ? Type::kFixed : kind < 45 ? Type::kCounted : kind < 65 ? Type::kShaped
           : kind < 90 ? Type::kArray : Type::kBlob;
    const bool new_shape = n.type == Type::kShaped && (shapes_.empty() || Chance(30));
    // Half the time the newest shape, which is likely young: nodes sharing a young shape are
    // traced after it moved, the case their traversers read it through GC_resolve for.
    if (n.type == Type::kShaped) {
      n.shape = new_shape ? NewShape() : Chance(50) ? shapes_.back() : shapes_[Uniform(shapes_.size())];
    }
    const auto id = static_cast<int32_t>(nodes_.size());
    scratch_[0] = AllocateNode(n, id);
    n.born = Collections();
    Sync();
    void* p = scratch_[0];
    if (new_shape) addr_[n.shape] = Address(scratch_[1]);
    if (n.type == Type::kShaped) static_cast<ShapedNode*>(p)->shape = At(n.shape);
    if (n.type == Type::kBlob) FillBlob(n, static_cast<Blob*>(p));
    for (Value& v : n.slots) v = RandomValue();
    addr_.push_back(Address(p));
    nodes_.push_back(std::move(n));
    for (size_t i = 0; i < nodes_[id].slots.size(); ++i) SlotsOf(id)[i] = Pointer(nodes_[id].slots[i]);
    Store(RandomLocation(25), Reference(id));
    reachable_.push_back(id);
    if (new_shape) {
      reachable_.push_back(nodes_[id].shape);
      // Roots are visited first: a young shape a root holds is copied before its node is traced.
      if (Chance(50)) Store(Location{kRootHolder, Uniform(kRoots)}, ObjectValue(nodes_[id].shape));
    }
    scratch_[0] = scratch_[1] = nullptr;
  }

  // A new shape, parked in scratch slot 1 and in the model, where nothing reaches it yet.
  int32_t NewShape() {
    Node s;
    s.type = Type::kShape;
    s.count = static_cast<uint32_t>(Uniform(kMaxSlots + 1));
    const auto id = static_cast<int32_t>(nodes_.size());
    auto* words = static_cast<intptr_t*>(scheme_malloc_atomic(kShapeBytes));
    words[0] = s.count;
    words[1] = id;
    scratch_[1] = words;
    s.born = Collections();
    nodes_.push_back(std::move(s));
    addr_.push_back(0);  // known after the node's allocation
    shapes_.push_back(id);
    return id;
  }

  // Allocates node n (its shape, if any, chosen), with its tag, id and size filled in and as
  // many (still empty) slots in the model as it has in memory.
  void* AllocateNode(Node& n, int32_t id) {
    size_t slots = 0;
    void* p = nullptr;
    switch (n.type) {
      case Type::kFixed:
        slots = kFixedSlots;
        p = scheme_malloc_tagged(sizeof(FixedNode));
        break;
      case Type::kCounted:
        slots = Uniform(kMaxSlots + 1);
        p = scheme_malloc_tagged(sizeof(CountedNode) + slots * sizeof(void*));
        static_cast<CountedNode*>(p)->count = static_cast<intptr_t>(slots);
        break;
      case Type::kShaped:
        slots = nodes_[n.shape].count;
        p = scheme_malloc_tagged(sizeof(ShapedNode) + slots * sizeof(void*));
        break;
      case Type::kBlob: {
        const size_t bytes = 1 + Uniform(320);
        p = scheme_malloc_tagged(sizeof(Blob) + bytes);
        static_cast<Blob*>(p)->bytes = static_cast<intptr_t>(bytes);
        n.data.resize(bytes);
        break;
      }
      default:
        slots = 1 + Uniform(kMaxSlots);
        p = scheme_malloc((1 + slots) * sizeof(void*));
        static_cast<void**>(p)[0] = scheme_make_integer(id);
        break;
    }
    if (n.type != Type::kArray) {
      auto* head = static_cast<Head*>(p);
      head->tag = TagOf(n.type);
      head->id = id;
    }
    n.slots.resize(slots);
    return p;
  }

  // Plain bytes, some words of which are the addresses of live objects: the collector must not
  // take them for references, so they keep their values when those objects move.
  void FillBlob(Node& n, Blob* b) {
    for (unsigned char& c : n.data) c = static_cast<unsigned char>(Uniform(256));
    for (size_t w = 0; (w + 1) * sizeof(void*) <= n.data.size() && !reachable_.empty(); ++w) {
      if (!Chance(25)) continue;
      const uintptr_t a = addr_[reachable_[Uniform(reachable_.size())]];
      std::memcpy(&n.data[w * sizeof(void*)], &a, sizeof a);
    }
    std::memcpy(b + 1, n.data.data(), n.data.size());
  }

  // An allow-interior block, linked in only through an interior or one-past-the-end pointer in
  // another object's slot. It never moves, so it needs no registered slot while it is filled.
  void NewInterior() {
    const Location where = RandomObjectSlot();
    if (where.holder < 0) return;
    Node n;
    n.type = Type::kInterior;
    const int size = static_cast<int>(Uniform(100));
    n.bytes = size < 3    ? static_cast<uint32_t>(8192 + 16 * (1 + Uniform(64)))  // a big object
              : size < 25 ? kLargeInteriorSizes[Uniform(std::size(kLargeInteriorSizes))]
                          : kSmallInteriorSizes[Uniform(std::size(kSmallInteriorSizes))];
    auto* words = static_cast<void**>(scheme_malloc_allow_interior(n.bytes));
    Sync();
    const auto id = static_cast<int32_t>(nodes_.size());
    const size_t count = n.bytes / sizeof(void*);
    words[0] = scheme_make_integer(id);
    for (size_t i = 1; i < count; ++i) {
      if (i <= kInteriorSlots) {
        n.slots.push_back(RandomValue());
        words[i] = Pointer(n.slots.back());
      } else {
        words[i] = InteriorPattern(id, i);
      }
    }
    addr_.push_back(Address(words));
    nodes_.push_back(std::move(n));
    Store(where, Reference(id));
    reachable_.push_back(id);
  }

  // Moves an interior pointer to another offset of its block, or to another block.
  void MoveInterior() {
    for (int tries = 0; tries < 16; ++tries) {
      const Location l = RandomObjectSlot();
      if (l.holder < 0) return;
      const Value& v = ModelAt(l);
      if (v.kind != Value::Kind::kObject || nodes_[v.target].type != Type::kInterior) continue;
      int32_t target = v.target;
      const int32_t other = reachable_[Uniform(reachable_.size())];
      if (nodes_[other].type == Type::kInterior) target = other;
      Store(l, Reference(target));
      return;
    }
  }

  // A fresh immobile box in place of an old one.
  void ReplaceBox() {
    const Location l{kBoxHolder, Uniform(kBoxes)};
    Store(l, Value{});
    scheme_free_immobile_box(boxes_[l.index]);
    boxes_[l.index] = scheme_malloc_immobile_box(nullptr);
    Store(l, RandomRootValue());
  }

  // Garbage, some of it pointing into the graph. Explicit collections empty the nursery long
  // before it fills, so now and then a burst of about 12 MiB, in few allocations (each one is a
  // whole-graph check under KEEL_GC_STRESS=25), fills it a few times over: those collections
  // come from the allocation path.
  void Churn() {
    const bool burst = Chance(2);
    const int n = burst ? 3000 : 20 + static_cast<int>(Uniform(80));
    for (int i = 0; i < n; ++i) {
      const uint64_t k = burst ? 9 : Uniform(10);
      if (k < 6) {
        const size_t words = 2 + Uniform(30);
        auto* g = static_cast<void**>(scheme_malloc(words * sizeof(void*)));
        Sync();
        g[Uniform(words)] = reachable_.empty() ? nullptr : Pointer(Reference(reachable_[Uniform(reachable_.size())]));
      } else if (k < 8) {
        auto* g = static_cast<FixedNode*>(scheme_malloc_tagged(sizeof(FixedNode)));
        g->head.tag = kFixedTag;
        Sync();
      } else {
        std::memset(scheme_malloc_atomic(1 + Uniform(burst ? 8192 : 2000)), 0x5A, 1);
        Sync();
      }
    }
  }

  // --- the model's reachability ----------------------------------------------------------------

  void Recompute() {
    dirty_ = false;
    for (Node& n : nodes_) n.reachable = false;
    std::vector<int32_t> work;
    auto reach = [&](int32_t id) {
      if (id >= 0 && !nodes_[id].reachable) {
        nodes_[id].reachable = true;
        work.push_back(id);
      }
    };
    auto target = [](const Value& v) { return v.kind == Value::Kind::kObject ? v.target : -1; };
    for (const Value& v : root_values_) reach(target(v));
    for (const Value& v : box_values_) reach(target(v));
    while (!work.empty()) {
      const int32_t id = work.back();
      work.pop_back();
      for (const Value& v : nodes_[id].slots) reach(target(v));
      reach(nodes_[id].shape);
    }
    reachable_.clear();
    for (int32_t id = 0; id < static_cast<int32_t>(nodes_.size()); ++id) {
      Node& n = nodes_[id];
      if (n.reachable) {
        reachable_.push_back(id);
      } else {
        std::vector<Value>().swap(n.slots);  // dead for good: no value can reach it again
        std::vector<unsigned char>().swap(n.data);
      }
    }
    std::erase_if(shapes_, [this](int32_t s) { return !nodes_[s].reachable; });
    if (reachable_.size() > largest_graph_) largest_graph_ = reachable_.size();
  }

  // --- checking ---------------------------------------------------------------------------------

  // An explicit collection, then the graph is checked and every reachable object's address
  // compared with the one it had before: survivors of the nursery must have moved, allow-interior
  // blocks never, and old objects not in a minor collection (precise.md .sol.copy, .sol.compact).
  void Collect(bool major) {
    const std::vector<uintptr_t> before = addr_;
    const uint64_t count = Collections();
    if (major) {
      scheme_collect_garbage();
    } else {
      keel_gc_collect_minor();
    }
    if (Collections() != count + 1) return Fail("an explicit collection did not run");
    keel_gc_record r{};
    keel_gc_get_record(keel_gc_record_count() - 1, &r);
    if (const size_t problems = keel_gc_verify_heap(); problems != 0) {
      return Fail("keel_gc_verify_heap found " + std::to_string(problems) + " problems");
    }
    Verify();
    if (failed_) return;
    const bool minor = r.kind == KEEL_GC_MINOR;
    ++(minor ? minor_checked_ : major_checked_);
    uint64_t moved = 0;
    for (int32_t id : reachable_) {
      const Node& n = nodes_[id];
      const bool changed = addr_[id] != before[id];
      std::string problem;
      if (n.type == Type::kInterior) {
        if (changed) problem = "moved, though allow-interior objects never move";
      } else if (n.born == count) {
        if (!changed) problem = "was allocated since the last collection but did not move out of the nursery";
        ++moved;
      } else if (minor && changed) {
        problem = "is old but moved in a minor collection";
      }
      if (!problem.empty()) {
        std::ostringstream s;
        s << TypeName(n.type) << " " << id << " (" << std::hex << before[id] << " -> " << addr_[id] << ") " << problem
          << " (" << (minor ? "minor" : "major") << " collection " << r.index << ")";
        return Fail(s.str());
      }
    }
    if (r.copied_objects < moved) {
      Fail("the record counts " + std::to_string(r.copied_objects) + " copied objects, fewer than the " +
           std::to_string(moved) + " young objects of the graph that moved");
    }
    young_moved_ += moved;
    copied_objects_ += r.copied_objects;
  }

  // Walks the graph from the roots and boxes, comparing every slot, id, count, payload and offset
  // with the model, and relearns every reachable object's address. Each object must be reached
  // at one address only: a second copy of it would show as two.
  void Verify() {
    seen_ = Collections();
    ++verifications_;
    addr_.assign(nodes_.size(), 0);
    work_.clear();
    size_t reached = 0;
    for (size_t i = 0; i < kRoots; ++i) CheckValue(roots_[i], root_values_[i], kRootHolder, i);
    for (size_t i = 0; i < kBoxes; ++i) CheckValue(*boxes_[i], box_values_[i], kBoxHolder, i);
    while (!work_.empty() && !failed_) {
      const int32_t id = work_.back();
      work_.pop_back();
      ++reached;
      CheckNode(id);
    }
    if (failed_) return;
    if (reached != reachable_.size()) {
      return Fail("the walk reached " + std::to_string(reached) + " objects, the model " +
                  std::to_string(reachable_.size()));
    }
    for (int i = 0; i < kForeignBlocks; ++i) {
      for (size_t j = 0; j < kForeignBytes; ++j) {
        if (foreign_[i][j] != ForeignByte(i, j)) return Fail("malloc block " + std::to_string(i) + " was written");
      }
    }
  }

  std::string Describe(int32_t holder, size_t index) const {
    std::ostringstream s;
    if (holder == kRootHolder) {
      s << "root " << index;
    } else if (holder == kBoxHolder) {
      s << "immobile box " << index;
    } else if (index == SIZE_MAX) {
      s << "the shape slot of " << TypeName(nodes_[holder].type) << " " << holder;
    } else {
      s << "slot " << index << " of " << TypeName(nodes_[holder].type) << " " << holder;
    }
    return s.str();
  }
  std::string Expected(const Value& v) const {
    std::ostringstream s;
    switch (v.kind) {
      case Value::Kind::kNull: s << "NULL"; break;
      case Value::Kind::kFixnum: s << "fixnum " << v.fixnum; break;
      case Value::Kind::kForeign: s << "malloc block " << v.target << " + " << v.offset; break;
      default:
        s << TypeName(nodes_[v.target].type) << " " << v.target << " + " << v.offset;
        if (addr_[v.target] != 0) s << " (at " << At(v.target) << ")";
        break;
    }
    return s.str();
  }

  // Checks one slot's value; an object reached for the first time is queued.
  void CheckValue(void* actual, const Value& v, int32_t holder, size_t index) {
    bool ok = true;
    if (v.kind != Value::Kind::kObject) {
      ok = actual == Pointer(v);
    } else if (addr_[v.target] != 0) {
      ok = Address(actual) == addr_[v.target] + v.offset;
    } else if (Address(actual) <= v.offset || (Address(actual) & 1) != 0) {
      ok = false;
    } else {
      addr_[v.target] = Address(actual) - v.offset;
      work_.push_back(v.target);
    }
    if (!ok) {
      std::ostringstream s;
      s << Describe(holder, index) << " holds " << actual << ", expected " << Expected(v);
      Fail(s.str());
    }
  }

  void CheckNode(int32_t id) {
    const Node& n = nodes_[id];
    void* p = At(id);
    auto fail = [&](const std::string& what) { Fail(TypeName(n.type) + (" " + std::to_string(id)) + ": " + what); };
    switch (n.type) {
      case Type::kShape: {
        const auto* words = static_cast<const intptr_t*>(p);
        if (words[0] != static_cast<intptr_t>(n.count) || words[1] != id) return fail("count or id changed");
        return;
      }
      case Type::kArray:
      case Type::kInterior:
        if (static_cast<void**>(p)[0] != scheme_make_integer(id)) return fail("id word changed");
        break;
      default: {
        const auto* head = static_cast<const Head*>(p);
        if (head->tag != TagOf(n.type) || head->id != id) return fail("tag or id changed");
        break;
      }
    }
    if (n.type == Type::kCounted && static_cast<CountedNode*>(p)->count != static_cast<intptr_t>(n.slots.size())) {
      return fail("slot count changed");
    }
    if (n.type == Type::kShaped) CheckValue(static_cast<ShapedNode*>(p)->shape, ObjectValue(n.shape), id, SIZE_MAX);
    if (n.type == Type::kInterior) {
      void** words = static_cast<void**>(p);
      for (size_t i = 1 + kInteriorSlots; i < n.bytes / sizeof(void*); ++i) {
        if (words[i] != InteriorPattern(id, i)) return fail("word " + std::to_string(i) + " changed");
      }
    }
    if (n.type == Type::kBlob) {
      const auto* b = static_cast<const Blob*>(p);
      if (b->bytes != static_cast<intptr_t>(n.data.size()) || std::memcmp(b + 1, n.data.data(), n.data.size()) != 0) {
        return fail("its atomic data changed");
      }
    }
    void** slots = SlotsOf(id);
    for (size_t i = 0; i < n.slots.size() && !failed_; ++i) CheckValue(slots[i], n.slots[i], id, i);
  }

  const uint64_t seed_;
  std::mt19937_64 rng_;
  int step_ = 0;
  bool failed_ = false;
  bool dirty_ = false;
  uint64_t seen_ = 0;  // the collection count the addresses in addr_ belong to
  int explicit_collections_ = 0;
  uint64_t minor_checked_ = 0;
  uint64_t major_checked_ = 0;
  uint64_t verifications_ = 0;
  uint64_t young_moved_ = 0;
  uint64_t copied_objects_ = 0;
  size_t largest_graph_ = 0;

  std::vector<Node> nodes_;
  std::vector<int32_t> reachable_;
  std::vector<int32_t> shapes_;  // reachable shapes, for new shaped nodes to share
  std::vector<uintptr_t> addr_;  // by id: where the walk last found each object (0: not reached)
  std::vector<int32_t> work_;

  void** roots_ = nullptr;    // registered by Run's frame
  void** scratch_ = nullptr;  // registered by Run's frame
  std::vector<void**> boxes_;
  std::vector<Value> root_values_, box_values_;
  std::vector<unsigned char*> foreign_;
};

BOOST_AUTO_TEST_SUITE(graph_stress)

// One explicit collection every 20 steps, alternately minor and major, and allocation-triggered
// ones (about 60 minor ones in the nominal run with the default 4 MiB nursery; about 6,000 under
// KEEL_GC_STRESS=25). The nominal 8,000 steps are 400 explicit collections over a graph that
// grows to about 2,500 reachable objects; the floor of 2,000 steps is 100 of them, 50 of each
// kind, every one checked against the model, which is enough for the graph to hold old objects
// that point at young ones, shapes shared across generations, and blocks reached only from the
// middle or the end. Measured: the nominal run takes about 0.5 s in Release (1.7 s under GC
// stress), 6 s in the sanitizer build (20 s under GC stress, stopped at the budget: 7,700 steps).
BOOST_AUTO_TEST_CASE(random_graphs_survive_minor_and_major_collections) {
  const uint64_t seed = keel_test::SeedFromCommandLine();
  std::cout << "graph_stress seed: " << seed << " (rerun: keel_precise_tests --run_test=graph_stress -- --seed "
            << seed << ")" << std::endl;
  RegisterTypes();
  g_shapes_seen_moved = 0;
  g_blob_traversals = 0;
  GraphStress stress(seed);
  stress.Run(2000, 8000, 20);
  BOOST_TEST_MESSAGE("graph_stress: " << stress.steps() << " steps, " << stress.objects_made() << " objects made, "
                                      << stress.largest_graph() << " reachable at most, " << stress.verifications()
                                      << " collections checked (" << stress.minor_checked() << " explicit minor, "
                                      << stress.major_checked() << " explicit major), " << stress.young_moved()
                                      << " young objects seen to move, " << g_shapes_seen_moved
                                      << " shapes resolved to their copy");
  if (stress.failed()) return;
  BOOST_TEST(stress.steps() >= 2000);
  BOOST_TEST(stress.young_moved() > 0u, "no young object of the graph moved: the nursery copied nothing");
  BOOST_TEST(stress.copied_objects() >= stress.young_moved());
  BOOST_TEST(g_shapes_seen_moved > 0u, "no shaped node was traced after its shape moved: GC_resolve went untested");
  BOOST_TEST(g_blob_traversals == 0u, "the atomic type's mark or fixup procedure was called");
  scheme_collect_garbage();  // the graph is garbage now
  BOOST_TEST(keel_gc_verify_heap() == 0u);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
