// gc_frame_test.cpp: the runtime's frames on GC_variable_stack (runtime/gc_frame.h): their
// layout, nesting and unwinding, keel_longjmp's restore of the chain (docs/design/roots.md
// .sol.frames), and CheckVariableStack's rules (.sol.frame-audit), including one run where it
// audits the runtime's own frames at every collection.
#include <boost/test/unit_test.hpp>

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "gc/collector.h"
#include "gc/fatal.h"
#include "gc/kind.h"
#include "gc/tracer.h"
#include "gc/variable_stack.h"
#include "runtime/gc_frame.h"
#include "scheme.h"
#include "keel_places.h"
#include "support/scheme_escape.h"

namespace {

using keel::gc::CheckVariableStack;
using keel::gc::Collector;
using keel::gc::Kind;
using keel::rt::GcFrame;

std::string g_warnings;
void RecordWarning(char* msg, unsigned long) { g_warnings += msg; }

// Routes keel::Warn into g_warnings for one test case, and checks that the case leaves the
// chain as it found it.
struct FrameFixture {
  FrameFixture() : previous(keel::GetWarnProc()), chain(GC_variable_stack) {
    g_warnings.clear();
    keel::SetWarnProc(RecordWarning);
  }
  ~FrameFixture() {
    keel::SetWarnProc(previous);
    BOOST_TEST(GC_variable_stack == chain);
    GC_variable_stack = chain;
  }
  keel::WarnProc previous;
  void** chain;
};

// An address below every local of the caller: the caller's live stack starts at or above it.
__attribute__((noinline)) uintptr_t StackPointerHere() {
  volatile char here = 0;
  return reinterpret_cast<uintptr_t>(&here);
}

size_t Check() { return CheckVariableStack(Collector::Current(), StackPointerHere()); }

void* Slots(intptr_t n) { return reinterpret_cast<void*>(n); }

// Racket's MZ_GC_REG on a hand-built frame (out of line: the compiler need not know the
// frame is a local).
__attribute__((noinline)) void Push(void** frame) {
  frame[0] = GC_variable_stack;
  GC_variable_stack = frame;
}

// A hand-built frame pushed for the scope of the object.
struct HandFrame {
  explicit HandFrame(void** f) : frame(f) { Push(frame); }
  ~HandFrame() { GC_variable_stack = static_cast<void**>(frame[0]); }
  void** frame;
};

// An out-of-memory escape from inside the runtime's own frame (scheme_make_sized_byte_string
// registers the caller's bytes before the size check that raises).
void CopyHugeByteString(void* bytes) {
  scheme_make_sized_byte_string(static_cast<char*>(bytes), PTRDIFF_MAX, 1);
}

BOOST_FIXTURE_TEST_SUITE(gc_frame, FrameFixture)

BOOST_AUTO_TEST_CASE(layout_is_racket_s) {
  Scheme_Object* car = scheme_make_integer(1);
  void* cdr = nullptr;
  void** before = GC_variable_stack;
  {
    GcFrame frame(car, cdr);
    static_assert(sizeof frame == 4 * sizeof(void*));
    void** f = GC_variable_stack;
    BOOST_TEST(static_cast<void*>(f) == static_cast<void*>(&frame));
    BOOST_TEST(f[0] == static_cast<void*>(before));
    BOOST_TEST(f[1] == Slots(2));
    BOOST_TEST(f[2] == static_cast<void*>(&car));
    BOOST_TEST(f[3] == static_cast<void*>(&cdr));
  }
  BOOST_TEST(GC_variable_stack == before);
}

// The frame's scope ends on every path out of a function: each return pops exactly its frame.
__attribute__((noinline)) int Nested(int depth, void** outer) {
  const char* text = "x";
  GcFrame frame(text);
  if (static_cast<void*>(GC_variable_stack[0]) != static_cast<void*>(outer)) return -1;
  if (depth == 0) return 0;
  int r = Nested(depth - 1, GC_variable_stack);
  return GC_variable_stack == reinterpret_cast<void**>(&frame) ? r : -2;
}

BOOST_AUTO_TEST_CASE(frames_nest_and_unwind_in_order) {
  void** before = GC_variable_stack;
  Scheme_Object* a = nullptr;
  Scheme_Object* b = nullptr;
  {
    GcFrame outer(a);
    void** outer_frame = GC_variable_stack;
    {
      GcFrame inner(b, a);
      BOOST_TEST(GC_variable_stack[0] == static_cast<void*>(outer_frame));
      BOOST_TEST(GC_variable_stack[1] == Slots(2));
    }
    BOOST_TEST(GC_variable_stack == outer_frame);
    BOOST_TEST(Nested(10, outer_frame) == 0);
    BOOST_TEST(GC_variable_stack == outer_frame);
  }
  BOOST_TEST(GC_variable_stack == before);
}

// Escapes with frames pushed: its GcFrames' destructors never run (the longjmp skips them, as
// it skips an MZ_GC_UNREG); keel_longjmp must drop them.
void** g_deepest = nullptr;
__attribute__((noinline)) void SignalInsideFrames(void* arg) {
  auto* value = static_cast<Scheme_Object*>(arg);
  GcFrame outer(value);
  {
    const char* name = "inner";
    GcFrame inner(name, value);
    g_deepest = GC_variable_stack;
    scheme_signal_error("escape with %d frames pushed", 2);
  }
}

BOOST_AUTO_TEST_CASE(keel_longjmp_restores_the_chain) {
  Scheme_Object* kept = scheme_make_pair(scheme_true, scheme_null);
  GcFrame frame(kept);
  void** at_handler = GC_variable_stack;
  keel_test::EscapeResult r = keel_test::RunWithErrorHandler(SignalInsideFrames, kept);
  BOOST_TEST(r.escaped);
  BOOST_TEST(r.message == "escape with 2 frames pushed");
  BOOST_TEST(g_deepest != at_handler);  // the frames were on the chain when it escaped
  BOOST_TEST(GC_variable_stack == at_handler);
}

BOOST_AUTO_TEST_CASE(an_escape_from_a_runtime_frame_restores_the_chain) {
  char bytes[] = "abc";
  void** before = GC_variable_stack;
  keel_test::EscapeResult r = keel_test::RunWithErrorHandler(CopyHugeByteString, bytes);
  BOOST_TEST(r.escaped);
  BOOST_TEST(r.out_of_memory);
  BOOST_TEST(GC_variable_stack == before);
  BOOST_TEST(Check() == 0u);
}

BOOST_AUTO_TEST_CASE(audit_accepts_good_frames) {
  Collector& c = Collector::Current();
  auto* object = static_cast<char*>(c.Allocate(64, Kind::kNormal));
  Scheme_Object* pair = scheme_make_pair(scheme_true, scheme_null);
  Scheme_Object* fixnum = scheme_make_integer(7);
  void* none = nullptr;
  char* interior = object + 24;
  void* static_object = scheme_true;  // not in any heap
  GcFrame values(pair, fixnum, none, interior, static_object);
  void* a = object;
  void* b = nullptr;
  void* d = pair;
  Scheme_Object* elements[3] = {pair, nullptr, scheme_make_integer(3)};
  // An empty slot at the end, with one and with two slots after a variable.
  void* end1[] = {nullptr, Slots(3), &a, &b, nullptr};
  void* end2[] = {nullptr, Slots(2), &a, nullptr};
  // Empty slots in the middle: before two variables (three slots remain, but the third holds
  // an address, not a length) and before one.
  void* middle3[] = {nullptr, Slots(4), &a, nullptr, &b, &d};
  void* middle2[] = {nullptr, Slots(3), &a, nullptr, &d};
  // An array entry between variables, and one that ends the frame.
  void* array[] = {nullptr, Slots(5), &a, nullptr, elements, Slots(3), &d};
  void* array_end[] = {nullptr, Slots(3), nullptr, elements, Slots(3)};
  void* empty[] = {nullptr, Slots(0)};
  HandFrame f1(end1), f2(end2), f3(middle3), f4(middle2), f5(array), f6(array_end), f7(empty);
  BOOST_TEST(Check() == 0u);
  BOOST_TEST(g_warnings.empty(), g_warnings);
}

// The precise plan's root walk visits exactly the registered variables and array elements,
// each as a slot, across nested frames with empty slots anywhere (precise.md .req.roots).
BOOST_AUTO_TEST_CASE(root_walk_visits_every_registered_slot_once) {
  struct Recorder final : keel::gc::Tracer {
    void VisitSlot(void** slot, Holder holder) override {
      BOOST_TEST((holder == Holder::kRoot));
      slots.push_back(slot);
    }
    void VisitWords(uintptr_t, uintptr_t, bool, Holder) override { BOOST_FAIL("a frame is no word range"); }
    void VisitObject(uintptr_t, uintptr_t, Kind, Holder) override { BOOST_FAIL("a frame is no object"); }
    bool heap_interior() const override { return false; }
    void Drain() override {}
    void Watch(keel::gc::MarkWatch*) override {}
    std::vector<void**> slots;
  } recorder;
  void* a = nullptr;
  void* b = nullptr;
  void* d = nullptr;
  void* elements[3] = {};
  void* outer[] = {nullptr, Slots(4), &a, nullptr, &b, nullptr};  // empty slots inside and last
  void* inner[] = {nullptr, Slots(5), nullptr, elements, Slots(3), nullptr, &d};
  void* empty[] = {nullptr, Slots(0)};
  std::vector<void**> expected = {&d, &elements[0], &elements[1], &elements[2], &a, &b};
  {
    HandFrame f1(outer), f2(inner), f3(empty);
    keel::gc::TraceFrameChain(GC_variable_stack, recorder);
  }
  std::sort(recorder.slots.begin(), recorder.slots.end());
  std::sort(expected.begin(), expected.end());
  BOOST_TEST(recorder.slots == expected, boost::test_tools::per_element());
}

// Leaves GC_variable_stack pointing at a frame in its own, soon dead, stack frame.
__attribute__((noinline)) void RegisterAndReturnWithoutUnreg() {
  void* local = nullptr;
  void* frame[] = {nullptr, Slots(1), &local};
  Push(frame);
}

BOOST_AUTO_TEST_CASE(audit_reports_a_frame_left_by_a_returned_function) {
  Scheme_Object* kept = scheme_null;
  GcFrame live(kept);  // an older, good frame: the walk stops before it
  void** good = GC_variable_stack;
  RegisterAndReturnWithoutUnreg();
  volatile char here = 0;  // above the returned function's frame
  BOOST_TEST(GC_variable_stack != good);
  const size_t problems =
      CheckVariableStack(Collector::Current(), reinterpret_cast<uintptr_t>(&here));
  GC_variable_stack = good;  // what MZ_GC_UNREG would have done
  BOOST_TEST(problems == 1u);
  BOOST_TEST(g_warnings.find("returned without MZ_GC_UNREG") != std::string::npos, g_warnings);
}

BOOST_AUTO_TEST_CASE(audit_reports_a_variable_holding_a_freed_slot) {
  Collector& c = Collector::Current();
  void* keep = c.Allocate(48, Kind::kNormal);  // the slot's page stays in use
  void* freed = c.Allocate(48, Kind::kNormal);
  c.Free(freed, "gc_frame_test");
  BOOST_TEST_REQUIRE(c.IsHeapAddress(freed));
  BOOST_TEST_REQUIRE(c.BaseOf(freed) == nullptr);
  void* fine = keep;
  {
    GcFrame frame(fine, freed);
    BOOST_TEST(Check() == 1u);
    char slot[64];
    std::snprintf(slot, sizeof slot, "slot 1: variable %p holds %p", static_cast<void*>(&freed),
                  freed);
    BOOST_TEST(g_warnings.find(slot) != std::string::npos, g_warnings);
  }
  g_warnings.clear();
  Scheme_Object* elements[2] = {scheme_null, static_cast<Scheme_Object*>(freed)};
  void* array[] = {nullptr, Slots(3), nullptr, elements, Slots(2)};
  HandFrame f(array);
  BOOST_TEST(Check() == 1u);
  BOOST_TEST(g_warnings.find("array element 1") != std::string::npos, g_warnings);
}

// Frames whose last slot is empty, placed at the end of a page followed by an inaccessible one:
// the audit reads nothing past a frame (Racket BC's walker reads two more words here).
BOOST_AUTO_TEST_CASE(audit_reads_no_further_than_the_count) {
  const auto page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  void* map = mmap(nullptr, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  BOOST_TEST_REQUIRE(map != MAP_FAILED);
  BOOST_TEST_REQUIRE(mprotect(static_cast<char*>(map) + page, page, PROT_NONE) == 0);
  void** page_end = reinterpret_cast<void**>(static_cast<char*>(map) + page);
  void* a = scheme_true;
  void* b = nullptr;
  const void* shapes[][5] = {
      {Slots(1), nullptr},
      {Slots(2), &a, nullptr},
      {Slots(3), &a, &b, nullptr},
      {Slots(3), &a, nullptr, nullptr},
      {Slots(2), nullptr, nullptr},
  };
  const size_t lengths[] = {2, 3, 4, 4, 3};  // words after frame[0]
  for (size_t s = 0; s < std::size(shapes); ++s) {
    void** frame = page_end - 1 - lengths[s];
    for (size_t i = 0; i < lengths[s]; ++i) frame[1 + i] = const_cast<void*>(shapes[s][i]);
    HandFrame f(frame);
    BOOST_TEST(Check() == 0u, "shape " << s);
  }
  munmap(map, 2 * page);
}

BOOST_AUTO_TEST_CASE(audit_stops_at_corruption) {
  void* huge[] = {nullptr, Slots(intptr_t{1} << 20)};
  {
    HandFrame f(huge);
    BOOST_TEST(Check() == 1u);
    BOOST_TEST(g_warnings.find("slot count") != std::string::npos, g_warnings);
  }
  g_warnings.clear();
  void* cycle[] = {nullptr, Slots(0)};
  {
    HandFrame f(cycle);
    void* previous = cycle[0];
    cycle[0] = cycle;  // a frame that links to itself
    BOOST_TEST(Check() == 1u);
    BOOST_TEST(g_warnings.find("longer than") != std::string::npos, g_warnings);
    cycle[0] = previous;
  }
  g_warnings.clear();
  void* not_a_variable[] = {nullptr, Slots(1), Slots(12)};
  HandFrame f(not_a_variable);
  BOOST_TEST(Check() == 1u);
  BOOST_TEST(g_warnings.find("not a variable's address") != std::string::npos, g_warnings);
}

BOOST_AUTO_TEST_SUITE_END()

// --- the runtime's frames, audited at every collection ------------------------------------------

BOOST_AUTO_TEST_SUITE(runtime_frames)

struct AuditCounts {
  size_t collections = 0;
  size_t with_frames = 0;  // collections that ran inside a runtime function's frame
  size_t problems = 0;
};

// A weak callback runs inside each collection, with the mutator's frames on the chain.
void AuditDuringCollection(Collector& c, void* data) {
  auto* counts = static_cast<AuditCounts*>(data);
  ++counts->collections;
  if (GC_variable_stack != nullptr) ++counts->with_frames;
  counts->problems += CheckVariableStack(c, c.mutator_stack_top());
}

void PrintSignalled(void* value) {
  scheme_signal_error("bad value: %V", static_cast<Scheme_Object*>(value));
}

// Runtime work that holds heap pointers across allocations: every constructor, the printer on
// shared and cyclic data, bignums, symbols and strings, and escapes mid-way (one from inside a
// runtime frame). Returns whether both escapes were caught (Boost.Test's assertions stay on the
// main thread).
bool ExerciseRuntime() {
  Scheme_Object* list = scheme_null;
  for (int i = 0; i < 40; ++i) {
    Scheme_Object* big = scheme_make_integer_value(intptr_t{1} << 62);
    Scheme_Object* item = scheme_make_pair(big, scheme_box(scheme_make_double(i)));
    list = scheme_make_pair(item, list);
  }
  Scheme_Object* vec = scheme_make_vector(3, list);
  SCHEME_VEC_ELS(vec)[1] = vec;  // a cycle through the vector
  scheme_write_to_string(vec, nullptr);
  Scheme_Object* barred = scheme_intern_symbol("a|b c");
  Scheme_Object* symbols = scheme_make_pair(barred, scheme_intern_symbol("plain"));
  scheme_display_to_string(symbols, nullptr);
  scheme_write_to_string(symbols, nullptr);
  scheme_write_to_string(scheme_make_pair(barred, scheme_intern_symbol("with space")), nullptr);
  Scheme_Object* s = scheme_make_utf8_string("h\xC3\xA9llo \"world\"\n");
  scheme_write_to_string(scheme_append_char_string(s, s), nullptr);
  scheme_write_to_string(scheme_char_string_to_byte_string(s), nullptr);
  Scheme_Object* byte_string = scheme_make_sized_byte_string(const_cast<char*>("by\x01"), 3, 1);
  scheme_display_to_string(byte_string, nullptr);
  scheme_write_to_string(byte_string, nullptr);
  Scheme_Object* bignum = scheme_read_bignum_bytes("-123456789012345678901234567890", 0, 10);
  scheme_write_to_string(bignum, nullptr);
  scheme_write_to_string(scheme_make_cptr(scheme_malloc(16), scheme_intern_symbol("tag")), nullptr);
  scheme_strdup("copy");
  scheme_basic_env();
  keel_test::EscapeResult r = keel_test::RunWithErrorHandler(PrintSignalled, vec);
  char bytes[] = "abc";
  keel_test::EscapeResult oom = keel_test::RunWithErrorHandler(CopyHugeByteString, bytes);
  scheme_write_to_string(list, nullptr);
  return r.escaped && oom.escaped;
}

BOOST_AUTO_TEST_CASE(runtime_frames_pass_the_audit_at_every_collection) {
  // A thread of its own, whose collector collects at every allocation (KEEL_GC_STRESS is read
  // when the collector is made; this thread waits in join meanwhile).
  setenv("KEEL_GC_STRESS", "1", 1);
  AuditCounts counts;
  bool escaped = false;
  bool balanced = false;
  std::thread worker([&] {
    keel_thread_attach();  // a place of its own (scheme_* functions run only on places)
    Collector& c = Collector::Current();
    c.AddWeakCallback(AuditDuringCollection, &counts);
    void** before = GC_variable_stack;
    escaped = ExerciseRuntime();
    balanced = GC_variable_stack == before;
    c.RemoveWeakCallback(AuditDuringCollection, &counts);
  });
  worker.join();
  unsetenv("KEEL_GC_STRESS");
  BOOST_TEST(escaped);
  BOOST_TEST(balanced);
  BOOST_TEST(counts.collections > 100u);
  BOOST_TEST(counts.with_frames > 100u);
  BOOST_TEST(counts.problems == 0u);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
