// printer_test.cpp: how scheme_write_to_string, scheme_display_to_string and the %S / %V / %D
// directives of scheme_signal_error print cyclic and shared data: labels for values that
// contain themselves (Racket's "#0=" / "#0#"), shared acyclic data in full, and values in
// error messages cut to Racket's error-print-width (256 characters, ending in "...").
// Variant-neutral: every local and argument that holds a Scheme object across an allocation is
// registered (keel_test::Registered), so the tests run on 3m, whose objects move, as on CGC.
#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <cstring>
#include <string>

#include "scheme.h"
#include "support/registered.h"
#include "support/scheme_escape.h"
#include "support/scheme_values.h"

namespace {

using keel_test::Registered;
using keel_test::RunWithErrorHandler;
using keel_test::Written;

std::string Displayed(Scheme_Object* o) {
  intptr_t len = -1;
  char* s = scheme_display_to_string(o, &len);
  return std::string(s, static_cast<size_t>(len));
}

Scheme_Object* Int(intptr_t i) { return scheme_make_integer(i); }

Scheme_Object* Vector2(Scheme_Object* a, Scheme_Object* b) {
  Scheme_Object* v = nullptr;
  Registered reg(a, b, v);
  v = scheme_make_vector(2, a);
  SCHEME_VEC_ELS(v)[1] = b;
  return v;
}

// #(v v) around v, `depth` times over `leaf`: 2^depth paths through depth + 1 objects.
Scheme_Object* DoublingDag(int depth, Scheme_Object* leaf) {
  Scheme_Object* v = leaf;
  Registered reg(leaf, v);
  for (int i = 0; i < depth; ++i) v = Vector2(v, v);
  return v;
}

// The written form of DoublingDag(depth, ()), up to `limit` bytes.
void ExpectedDag(int depth, std::string* out, size_t limit) {
  if (out->size() >= limit) return;
  if (depth == 0) {
    *out += "()";
    return;
  }
  *out += "#(";
  ExpectedDag(depth - 1, out, limit);
  *out += ' ';
  ExpectedDag(depth - 1, out, limit);
  *out += ')';
}

// The message of scheme_signal_error(fmt, value), caught.
struct SignalArgs {
  const char* fmt;
  Scheme_Object* value;
};
void SignalWithValue(void* data) {
  auto* a = static_cast<SignalArgs*>(data);
  scheme_signal_error(a->fmt, a->value);
}
std::string MessageFor(const char* fmt, Scheme_Object* value) {
  SignalArgs args{fmt, value};
  Registered reg(args.value);  // the struct's slot is what SignalWithValue reads
  auto r = RunWithErrorHandler(SignalWithValue, &args);
  BOOST_TEST(r.escaped);
  return r.message;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(printer_cycles)

BOOST_AUTO_TEST_CASE(vector_containing_itself_twice) {
  Scheme_Object* v = nullptr;
  Registered reg(v);
  v = Vector2(scheme_false, scheme_false);
  SCHEME_VEC_ELS(v)[0] = v;
  SCHEME_VEC_ELS(v)[1] = v;
  BOOST_TEST(Written(v) == "#0=#(#0# #0#)");
  BOOST_TEST(Displayed(v) == "#0=#(#0# #0#)");
  BOOST_TEST(MessageFor("bad: %S", v) == "bad: #0=#(#0# #0#)");
  BOOST_TEST(MessageFor("%V|", v) == "#0=#(#0# #0#)|");
  BOOST_TEST(MessageFor("%D", v) == "#0=#(#0# #0#)");
}

BOOST_AUTO_TEST_CASE(mutually_cyclic_pairs_vectors_and_boxes) {
  Scheme_Object *a = nullptr, *b = nullptr, *c = nullptr, *d = nullptr, *v1 = nullptr, *v2 = nullptr;
  Scheme_Object *b1 = nullptr, *b2 = nullptr, *self = nullptr, *both = nullptr, *mixed = nullptr;
  Scheme_Object *box = nullptr, *str = nullptr, *tmp = nullptr;
  Registered reg(a, b, c, d, v1, v2, b1, b2, self, both, mixed, box, str, tmp);
  // Through the cars: a = (b), b = (a).
  a = scheme_make_pair(scheme_null, scheme_null);
  b = scheme_make_pair(a, scheme_null);
  SCHEME_CAR(a) = b;
  BOOST_TEST(Written(a) == "#0=((#0#))");

  // Through the cdrs: c = (1 . d), d = (2 . c).
  c = scheme_make_pair(Int(1), scheme_null);
  d = scheme_make_pair(Int(2), c);
  SCHEME_CDR(c) = d;
  BOOST_TEST(Written(c) == "#0=(1 2 . #0#)");
  BOOST_TEST(Written(d) == "#0=(2 1 . #0#)");

  v1 = Vector2(Int(1), scheme_false);
  v2 = Vector2(Int(2), v1);
  SCHEME_VEC_ELS(v1)[1] = v2;
  BOOST_TEST(Written(v1) == "#0=#(1 #(2 #0#))");
  // The label stays on v1 when v2 is met again outside the cycle.
  tmp = scheme_make_pair(v2, scheme_null);
  tmp = scheme_make_pair(v1, tmp);
  BOOST_TEST(Written(tmp) == "(#0=#(1 #(2 #0#)) #(2 #0#))");

  b1 = scheme_box(scheme_null);
  b2 = scheme_box(b1);
  SCHEME_SET_BOX(b1, b2);
  BOOST_TEST(Written(b1) == "#0=#&#&#0#");

  // A labelled value met again after its cycle is done prints as a reference.
  self = scheme_box(scheme_null);
  SCHEME_SET_BOX(self, self);
  tmp = scheme_make_pair(self, scheme_null);
  tmp = scheme_make_pair(self, tmp);
  BOOST_TEST(Written(tmp) == "(#0=#&#0# #0#)");

  // Two separate cycles get two labels, numbered in print order.
  both = Vector2(self, b1);
  BOOST_TEST(Written(both) == "#(#0=#&#0# #1=#&#&#1#)");

  // Mixed kinds: a vector in a string list in a box, back to the vector.
  mixed = scheme_make_vector(1, scheme_null);
  box = scheme_box(mixed);
  tmp = scheme_make_pair(box, scheme_null);
  str = scheme_make_utf8_string("s");
  tmp = scheme_make_pair(str, tmp);
  SCHEME_VEC_ELS(mixed)[0] = tmp;
  BOOST_TEST(Written(mixed) == "#0=#((\"s\" #&#0#))");
  BOOST_TEST(Displayed(mixed) == "#0=#((s #&#0#))");
}

BOOST_AUTO_TEST_CASE(cycle_through_the_cdr_of_a_long_list) {
  constexpr int kLength = 1000;
  constexpr int kLoopStart = 500;
  Scheme_Object* list = scheme_null;
  Scheme_Object* last = nullptr;
  Scheme_Object* loop_start = nullptr;
  Scheme_Object *m1 = nullptr, *m2 = nullptr, *m3 = nullptr;
  Registered reg(list, last, loop_start, m1, m2, m3);
  for (int i = kLength - 1; i >= 0; --i) {
    list = scheme_make_pair(Int(i), list);
    if (last == nullptr) last = list;
    if (i == kLoopStart) loop_start = list;
  }
  SCHEME_CDR(last) = loop_start;
  std::string expected = "(";
  for (int i = 0; i < kLoopStart; ++i) expected += std::to_string(i) + " ";
  expected += ". #0=(";
  for (int i = kLoopStart; i < kLength; ++i) expected += std::to_string(i) + " ";
  expected += ". #0#))";
  BOOST_TEST(Written(list) == expected);

  // Mutable pairs the same way.
  m3 = scheme_make_mutable_pair(Int(3), scheme_null);
  m2 = scheme_make_mutable_pair(Int(2), m3);
  m1 = scheme_make_mutable_pair(Int(1), m2);
  SCHEME_CDR(m3) = m2;
  BOOST_TEST(Written(m1) == "{1 . #0={2 3 . #0#}}");
}

BOOST_AUTO_TEST_CASE(cycle_deeper_than_the_depth_limit_ends) {
  // 5000 nested boxes, the innermost holding the outermost: labelled, then cut by depth.
  Scheme_Object *inner = nullptr, *outer = nullptr;
  Registered reg(inner, outer);
  inner = scheme_box(scheme_null);
  outer = inner;
  for (int i = 0; i < 5000; ++i) outer = scheme_box(outer);
  SCHEME_SET_BOX(inner, outer);
  std::string s = Written(outer);
  BOOST_TEST(s.rfind("#0=#&#&", 0) == 0u);
  BOOST_TEST(s.size() < 3000u);
  BOOST_TEST(s.substr(s.size() - 3) == "...");
}

BOOST_AUTO_TEST_CASE(acyclic_sharing_prints_in_full) {
  Scheme_Object *shared = nullptr, *tmp = nullptr, *box = nullptr, *v = nullptr, *l = nullptr;
  Registered reg(shared, tmp, box, v, l);
  shared = scheme_make_pair(Int(1), scheme_make_pair(Int(2), scheme_null));
  tmp = scheme_make_pair(shared, scheme_null);
  tmp = scheme_make_pair(shared, tmp);
  BOOST_TEST(Written(tmp) == "((1 2) (1 2))");
  box = scheme_box(scheme_make_utf8_string("x"));
  v = scheme_make_vector(3, box);
  BOOST_TEST(Written(v) == "#(#&\"x\" #&\"x\" #&\"x\")");
  // A shared tail.
  l = scheme_make_pair(shared, shared);
  BOOST_TEST(Written(l) == "((1 2) 1 2)");
  BOOST_TEST(Written(DoublingDag(3, scheme_null)) ==
             "#(#(#(() ()) #(() ())) #(#(() ()) #(() ())))");
  BOOST_TEST(MessageFor("%S", DoublingDag(2, scheme_null)) == "#(#(() ()) #(() ()))");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(error_print_width)

BOOST_AUTO_TEST_CASE(doubling_dag_sixty_deep_is_cut) {
  // 2^60 leaves in full: the message must stop at the width instead.
  Scheme_Object* dag = nullptr;
  Registered reg(dag);
  dag = DoublingDag(60, scheme_null);
  std::string prefix;
  ExpectedDag(60, &prefix, 253);
  prefix.resize(253);
  BOOST_TEST(MessageFor("dag: %S!", dag) == "dag: " + prefix + "...!");
  BOOST_TEST(MessageFor("%D", dag) == prefix + "...");
}

BOOST_AUTO_TEST_CASE(width_is_256_characters) {
  // A written string of 254 characters plus its quotes is exactly 256: kept whole.
  std::string fits(254, 'a');
  BOOST_TEST(MessageFor("%S", scheme_make_utf8_string(fits.c_str())) == "\"" + fits + "\"");
  // One more character: 253 of the 257 kept, then "...".
  std::string over(255, 'a');
  std::string cut = ("\"" + over).substr(0, 253) + "...";
  BOOST_TEST(MessageFor("%S", scheme_make_utf8_string(over.c_str())) == cut);
  // Characters, not bytes: 256 two-byte lambdas displayed are kept whole.
  std::string lambdas;
  for (int i = 0; i < 256; ++i) lambdas += "\xCE\xBB";
  BOOST_TEST(MessageFor("%D", scheme_make_utf8_string(lambdas.c_str())) == lambdas);
  BOOST_TEST(MessageFor("%D", scheme_make_utf8_string((lambdas + "\xCE\xBB").c_str())) ==
             lambdas.substr(0, 2 * 253) + "...");
  // scheme_write_to_string itself is not cut.
  BOOST_TEST(Written(scheme_make_utf8_string(over.c_str())).size() == 257u);
}

BOOST_AUTO_TEST_CASE(long_list_in_a_message_is_cut) {
  Scheme_Object *l = scheme_null, *cyc = nullptr;
  Registered reg(l, cyc);
  for (int i = 999; i >= 0; --i) l = scheme_make_pair(Int(i), l);
  std::string full = Written(l);
  BOOST_TEST(MessageFor("%V", l) == full.substr(0, 253) + "...");
  // A cyclic value in a message keeps its labels as far as it is shown.
  cyc = scheme_make_pair(Int(7), scheme_null);
  SCHEME_CDR(cyc) = cyc;
  BOOST_TEST(MessageFor("cyc %S", cyc) == "cyc #0=(7 . #0#)");
}

BOOST_AUTO_TEST_SUITE_END()
