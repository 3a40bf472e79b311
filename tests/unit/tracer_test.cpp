// tracer_test.cpp: what the roots hand to the tracing visitor (gc/tracer.h, docs/design/
// marking.md .sol.visitor): live immobile boxes as precise slots that a moving plan may update,
// registered ranges and pins as conservative words that it must not write.
#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <vector>

#include "gc/collector.h"
#include "gc/tracer.h"

namespace {

using keel::gc::Collector;
using keel::gc::Kind;
using keel::gc::Tracer;

// Records every visit; a slot holding `from` is rewritten to `to`, as a copier would.
class RecordingTracer final : public Tracer {
 public:
  struct Words {
    uintptr_t lo, hi;
    bool interior;
  };
  void VisitSlot(void** slot, Holder holder) override {
    BOOST_TEST((holder == Holder::kRoot));
    slots.push_back(slot);
    if (*slot == from) *slot = to;
  }
  void VisitWords(uintptr_t lo, uintptr_t hi, bool interior, Holder holder) override {
    BOOST_TEST((holder == Holder::kRoot));
    words.push_back(Words{lo, hi, interior});
  }
  void VisitObject(uintptr_t start, uintptr_t end, keel::gc::Kind, Holder holder) override {
    VisitWords(start, end, false, holder);
  }
  bool heap_interior() const override { return false; }
  bool moves_objects() const override { return moves; }
  void Drain() override {}
  void Watch(keel::gc::MarkWatch*) override {}

  bool Covers(const void* p, size_t bytes) const {
    const auto a = reinterpret_cast<uintptr_t>(p);
    for (const Words& w : words) {
      if (w.lo <= a && a + bytes <= w.hi) return true;
    }
    return false;
  }

  std::vector<void**> slots;
  std::vector<Words> words;
  void* from = nullptr;
  void* to = nullptr;
  bool moves = false;
};

void* g_static_words[4];

}  // namespace

BOOST_AUTO_TEST_SUITE(tracer)

BOOST_AUTO_TEST_CASE(roots_visit_boxes_as_slots_and_ranges_as_words) {
  Collector::DestroyCurrent();
  Collector& c = Collector::Current();
  void* object = c.Allocate(32, Kind::kNormal);
  void* moved = c.Allocate(32, Kind::kNormal);
  void** box = c.roots().NewImmobileBox(object);
  void** freed_box = c.roots().NewImmobileBox(object);
  c.roots().FreeImmobileBox(freed_box);
  c.roots().set_auto_statics(false);  // so only the registered range covers the array
  c.roots().AddRange(g_static_words, g_static_words + 4, false, "test");
  void* pinned = c.Allocate(48, Kind::kNormal);
  c.roots().Pin(pinned);

  RecordingTracer t;
  t.from = object;
  t.to = moved;
  c.roots().Trace(t);

  // The live box, and only it, is a slot; the tracer's store reaches the box's user.
  BOOST_TEST(t.slots.size() == 1u);
  BOOST_TEST_REQUIRE(!t.slots.empty());
  BOOST_TEST(t.slots[0] == box);
  BOOST_TEST(*box == moved);
  // The registered range is handed over whole, by the heap's rule; the pin by the interior rule.
  BOOST_TEST(t.Covers(g_static_words, sizeof g_static_words));
  bool pin_seen = false;
  for (const RecordingTracer::Words& w : t.words) {
    if (w.hi - w.lo == sizeof(void*) && *reinterpret_cast<void* const*>(w.lo) == pinned) pin_seen = w.interior;
  }
  BOOST_TEST(pin_seen);

  c.roots().Unpin(pinned);
  c.roots().FreeImmobileBox(box);
  Collector::DestroyCurrent();
}

// A tracer that moves objects gets registered statics and pins as slots: a static word and a
// pin follow their object to its new address, as a copier moves it.
BOOST_AUTO_TEST_CASE(a_moving_tracer_updates_statics_and_pins) {
  Collector::DestroyCurrent();
  Collector& c = Collector::Current();
  void* object = c.Allocate(32, Kind::kNormal);
  void* moved = c.Allocate(32, Kind::kNormal);
  void* other = c.Allocate(32, Kind::kNormal);
  c.roots().set_auto_statics(false);
  g_static_words[0] = object;
  g_static_words[1] = reinterpret_cast<void*>(intptr_t{9});
  g_static_words[2] = other;
  g_static_words[3] = nullptr;
  c.roots().AddRange(g_static_words, g_static_words + 4, false, "test");
  c.roots().Pin(object);
  c.roots().Pin(object);  // counted twice
  c.roots().Pin(other);

  RecordingTracer t;
  t.moves = true;
  t.from = object;
  t.to = moved;
  c.roots().Trace(t);

  BOOST_TEST(t.words.empty());  // nothing conservative: every registered root was a slot
  BOOST_TEST(g_static_words[0] == moved);
  BOOST_TEST(g_static_words[1] == reinterpret_cast<void*>(intptr_t{9}));
  BOOST_TEST(g_static_words[2] == other);
  BOOST_TEST(c.roots().pin_count(moved) == 2u);  // the pin moved with its object, count kept
  BOOST_TEST(c.roots().pin_count(object) == 0u);
  BOOST_TEST(c.roots().pin_count(other) == 1u);
  c.roots().Unpin(moved);
  c.roots().Unpin(moved);
  c.roots().Unpin(other);
  c.roots().RemoveRanges(g_static_words, g_static_words + 4);
  Collector::DestroyCurrent();
}

BOOST_AUTO_TEST_SUITE_END()
