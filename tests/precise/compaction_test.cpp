// compaction_test.cpp: 3m compacts a fragmented old generation (docs/design/precise.md
// .sol.compact). Objects promoted together and then mostly dropped leave sparse pages; the next
// major collection copies the survivors off them and frees the pages, and every kind of root
// and every old object that referred to a moved object sees its new address: registered locals,
// a registered static, immobile boxes, a big non-moving array, old untagged objects and tagged
// objects traced by their mark procedures. Objects that never move (allow-interior blocks) stay.
#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <vector>

#include "keel_gc.h"
#include "scheme.h"

namespace {

constexpr Scheme_Type kLinkTag = 3650;  // above the runtime's tags, below the table's end

// A tagged object: a tag, an id, and a reference to another object (a gcMARK slot).
struct Link {
  Scheme_Type tag;
  intptr_t id;
  void* other;
};

int LinkSize(void*) { return gcBYTES_TO_WORDS(sizeof(Link)); }
int LinkMark(void* p) {
  gcMARK(static_cast<Link*>(p)->other);
  return gcBYTES_TO_WORDS(sizeof(Link));
}
int LinkFixup(void* p) {
  gcFIXUP(static_cast<Link*>(p)->other);
  return gcBYTES_TO_WORDS(sizeof(Link));
}

struct Registration {
  Registration() { GC_register_traversers(kLinkTag, LinkSize, LinkMark, LinkFixup, 1, 0); }
} g_registration;

// A registered static that holds a kept object (scheme_register_static).
void* g_static_root = nullptr;

// An untagged object: word 0 a fixnum id, word 1 the previous kept object, words 2-3 filler.
constexpr size_t kWords = 4;

intptr_t IdOf(void* obj) { return SCHEME_INT_VAL(static_cast<Scheme_Object*>(static_cast<void**>(obj)[0])); }

struct LastMajor {
  uint64_t compacted_objects = 0;
  uint64_t evacuated_pages = 0;
  uint64_t in_use_bytes = 0;  // heap pages that hold objects: committed and not free
};

LastMajor ReadLastRecord() {
  keel_gc_record r{};
  const size_t n = keel_gc_record_count();
  BOOST_REQUIRE(n > 0);
  BOOST_REQUIRE(keel_gc_get_record(n - 1, &r));
  BOOST_REQUIRE(r.kind == KEEL_GC_MAJOR);
  keel_gc_stats s{};
  keel_gc_get_stats(&s);
  return LastMajor{r.compacted_objects, r.evacuated_pages, s.committed_bytes - s.free_committed_bytes};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(compaction)

BOOST_AUTO_TEST_CASE(sparse_pages_are_evacuated_and_every_reference_follows) {
  constexpr intptr_t kObjects = 1 << 16;  // 2 MiB of 32-byte objects: 128 pages
  constexpr intptr_t kKeep = 8;           // one object in 8 survives
  static bool registered = false;
  if (!registered) {
    scheme_register_static(&g_static_root, sizeof g_static_root);
    registered = true;
  }
  void** table = nullptr;  // a big object: it never moves, and its slots are traced
  void* local = nullptr;   // a registered local holding one kept object
  void* tagged = nullptr;  // a tagged object that refers to a kept object
  void* block = nullptr;   // an allow-interior block: never moves, refers to a kept object
  MZ_GC_DECL_REG(4);
  MZ_GC_VAR_IN_REG(0, table);
  MZ_GC_VAR_IN_REG(1, local);
  MZ_GC_VAR_IN_REG(2, tagged);
  MZ_GC_VAR_IN_REG(3, block);
  MZ_GC_REG();

  table = static_cast<void**>(scheme_malloc(sizeof(void*) * kObjects));
  for (intptr_t i = 0; i < kObjects; ++i) {
    void** obj = static_cast<void**>(scheme_malloc(sizeof(void*) * kWords));
    obj[0] = scheme_make_integer(i);
    if (i >= kKeep) obj[1] = table[i - kKeep];  // the previous object that will be kept
    table[i] = obj;
  }
  keel_gc_collect_minor();  // every object is old now, in allocation order
  for (intptr_t i = 0; i < kObjects; ++i) {
    if (i % kKeep != 0) table[i] = nullptr;
  }
  local = table[kKeep * 100];
  g_static_root = table[kKeep * 200];
  void** box = scheme_malloc_immobile_box(table[kKeep * 300]);
  tagged = scheme_malloc_small_tagged(sizeof(Link));
  static_cast<Link*>(tagged)->tag = kLinkTag;
  static_cast<Link*>(tagged)->id = -1;
  static_cast<Link*>(tagged)->other = table[kKeep * 400];
  block = scheme_malloc_allow_interior(sizeof(void*) * 2);
  static_cast<void**>(block)[0] = table[kKeep * 500];
  const uintptr_t block_at = reinterpret_cast<uintptr_t>(block);
  std::vector<uintptr_t> before(kObjects / kKeep);
  for (intptr_t i = 0; i < kObjects; i += kKeep) before[i / kKeep] = reinterpret_cast<uintptr_t>(table[i]);

  scheme_collect_garbage();  // sweeps: the pages keep one object in eight
  const LastMajor swept = ReadLastRecord();
  scheme_collect_garbage();  // finds them sparse and evacuates them
  const LastMajor compacted = ReadLastRecord();

  BOOST_TEST(compacted.compacted_objects >= static_cast<uint64_t>(kObjects / kKeep) / 2,
             "compacted " << compacted.compacted_objects << " objects");
  BOOST_TEST(compacted.evacuated_pages >= 64u, "evacuated " << compacted.evacuated_pages << " pages");
  BOOST_TEST(compacted.in_use_bytes + 48 * 16384u <= swept.in_use_bytes,
             "pages in use: " << swept.in_use_bytes << " -> " << compacted.in_use_bytes << " bytes");

  size_t moved = 0;
  bool intact = true;
  bool linked = true;
  for (intptr_t i = 0; i < kObjects; i += kKeep) {
    void** obj = static_cast<void**>(table[i]);
    if (reinterpret_cast<uintptr_t>(obj) != before[i / kKeep]) ++moved;
    intact = intact && obj != nullptr && IdOf(obj) == i;
    if (i >= kKeep) linked = linked && obj[1] == table[i - kKeep];
  }
  BOOST_TEST(moved >= static_cast<size_t>(kObjects / kKeep) / 2, moved << " of " << kObjects / kKeep << " moved");
  BOOST_TEST(intact, "a kept object lost its contents");
  BOOST_TEST(linked, "an old object still refers to where a moved object was");
  BOOST_TEST(local == table[kKeep * 100]);
  BOOST_TEST(g_static_root == table[kKeep * 200]);
  BOOST_TEST(*box == table[kKeep * 300]);
  BOOST_TEST(static_cast<Link*>(tagged)->other == table[kKeep * 400]);
  BOOST_TEST(reinterpret_cast<uintptr_t>(block) == block_at, "an allow-interior block moved");
  BOOST_TEST(static_cast<void**>(block)[0] == table[kKeep * 500]);
  BOOST_TEST(keel_gc_verify_heap() == 0u);

  // The copies are ordinary old objects: more collections keep them, and a dense heap is not
  // compacted again.
  scheme_collect_garbage();
  const LastMajor again = ReadLastRecord();
  BOOST_TEST(again.evacuated_pages == 0u);
  bool still = true;
  for (intptr_t i = kKeep; i < kObjects; i += kKeep) {
    still = still && IdOf(table[i]) == i && static_cast<void**>(table[i])[1] == table[i - kKeep];
  }
  BOOST_TEST(still);
  scheme_free_immobile_box(box);
  g_static_root = nullptr;
  MZ_GC_UNREG();
}

BOOST_AUTO_TEST_SUITE_END()
