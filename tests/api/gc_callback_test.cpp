// gc_callback_test.cpp: scheme_add_gc_callback and scheme_remove_gc_callback (docs/design/ffi.md
// .sol.gc-callbacks) with tests/ffi_lib's recording functions: every protocol with its exact
// arguments, the save chain, pre before post around minor and major collections, newest first,
// a dropped key and an explicit removal, byte strings that move between the pre- and post-calls
// (3m), every kind of bad description, and registrations that run only in their own place.
// Black box, against CGC and 3m, plain and under GC stress.
#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "keel_ffi.h"
#include "keel_gc.h"
#include "keel_places.h"
#include "scheme.h"
#include "support/ffi_lib.h"
#include "support/gc_probe.h"
#include "support/registered.h"
#include "support/scheme_escape.h"

namespace {

using keel_test::CollectClean;
using keel_test::Contains;
using keel_test::CollectMinorClean;
using keel_test::Registered;
using keel_test::ResetTestLog;
using keel_test::RunWithErrorHandler;
using keel_test::TestFn;
using keel_test::TestLog;

// A value to build, described in plain data: the values of a description are made one at a
// time into a registered vector (under 3m a value held in a temporary while the next one is
// allocated would be left behind when it moves).
struct V {
  enum Kind { kFixnum, kBignum, kPointer, kOffsetPointer, kFalse, kFlonum, kBytes, kString, kSymbol, kTestFn, kObject, kDataOffset, kVector };
  Kind kind = kFalse;
  intptr_t i = 0;
  double d = 0;
  const char* text = nullptr;
  Scheme_Object** object = nullptr;  // a registered variable, read when the value is made
  std::vector<V> items;
};
V Of(V::Kind kind, intptr_t i = 0, double d = 0, const char* text = nullptr) {
  V v;
  v.kind = kind;
  v.i = i;
  v.d = d;
  v.text = text;
  return v;
}
V Fix(intptr_t i) { return Of(V::kFixnum, i); }
V Big(const char* decimal) { return Of(V::kBignum, 0, 0, decimal); }
V Ptr(uintptr_t address) { return Of(V::kPointer, static_cast<intptr_t>(address)); }
V OffsetPtr(uintptr_t address, intptr_t offset) { return Of(V::kOffsetPointer, offset, static_cast<double>(address)); }
V False() { return Of(V::kFalse); }
V Flo(double d) { return Of(V::kFlonum, 0, d); }
V Bytes(const char* text) { return Of(V::kBytes, 0, 0, text); }
V Str(const char* text) { return Of(V::kString, 0, 0, text); }
V Sym(const char* text) { return Of(V::kSymbol, 0, 0, text); }
V Fn(const char* name) { return Of(V::kTestFn, 0, 0, name); }
V Obj(Scheme_Object** registered) {
  V v = Of(V::kObject);
  v.object = registered;
  return v;
}
// An offset C pointer into the data of the byte string in a registered variable.
V DataOffset(Scheme_Object** registered, intptr_t offset) {
  V v = Obj(registered);
  v.kind = V::kDataOffset;
  v.i = offset;
  return v;
}
V Vec(std::vector<V> items) {
  V v = Of(V::kVector);
  v.items = std::move(items);
  return v;
}
// #(protocol fn args...), the function from the test library.
V Call(const char* protocol, const char* fn, std::vector<V> args) {
  std::vector<V> items{Sym(protocol), Fn(fn)};
  for (V& a : args) items.push_back(std::move(a));
  return Vec(std::move(items));
}

Scheme_Object* Make(const V& v) {
  switch (v.kind) {
    case V::kFixnum: return scheme_make_integer(v.i);
    case V::kBignum: return scheme_read_bignum_bytes(v.text, 0, 10);
    case V::kPointer: return scheme_make_cptr(reinterpret_cast<void*>(v.i), nullptr);
    case V::kOffsetPointer: return scheme_make_offset_cptr(reinterpret_cast<void*>(static_cast<uintptr_t>(v.d)), v.i, nullptr);
    case V::kFalse: return scheme_false;
    case V::kFlonum: return scheme_make_double(v.d);
    case V::kBytes: return scheme_make_byte_string(v.text);
    case V::kString: return scheme_make_utf8_string(v.text);
    case V::kSymbol: return scheme_intern_symbol(v.text);
    case V::kTestFn: return TestFn(v.text);
    case V::kObject: return *v.object;
    case V::kDataOffset: return scheme_make_offset_cptr(SCHEME_BYTE_STR_VAL(*v.object), v.i, nullptr);
    case V::kVector: break;
  }
  Scheme_Object* out = nullptr;
  Scheme_Object* item = nullptr;
  Registered reg(out, item);
  out = scheme_make_vector(static_cast<intptr_t>(v.items.size()), scheme_false);
  for (size_t i = 0; i < v.items.size(); ++i) {
    item = Make(v.items[i]);
    SCHEME_VEC_ELS(out)[i] = item;
  }
  return out;
}

// A description of the given calls.
Scheme_Object* Desc(std::vector<V> calls) { return Make(Vec(std::move(calls))); }

// The description #(#(int->void rec_int n)).
Scheme_Object* IntDesc(int n) { return Desc({Call("int->void", "rec_int", {Fix(n)})}); }

// Registers pre int(pre) and post int(post); the key.
Scheme_Object* AddInts(int pre, int post) {
  Scheme_Object* a = IntDesc(pre);
  Registered reg(a);
  Scheme_Object* b = IntDesc(post);
  return scheme_add_gc_callback(a, b);
}

// Registers and drops the key at once (the frame that held it is gone by the caller's next step).
KEEL_TEST_NOINLINE void AddIntsAndDropTheKey(int pre, int post) { AddInts(pre, post); }

std::string Repeat(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(gc_callbacks, keel_test::CleanStackFixture)

BOOST_AUTO_TEST_CASE(every_protocol_gets_its_exact_arguments_in_order) {
  Scheme_Object* pre = nullptr;
  Scheme_Object* post = nullptr;
  Scheme_Object* key = nullptr;
  Scheme_Object* text = nullptr;
  Scheme_Object* f = nullptr;
  Scheme_Object* d = nullptr;
  Registered reg(pre, post, key, text, f, d);
  text = scheme_make_byte_string("label");
  f = scheme_make_double(1.5);
  d = scheme_make_double(-0.25);
  pre = Desc({
      Call("int->void", "rec_int", {Fix(-7)}),
      Call("ptr_ptr_ptr->void", "rec_ppp", {Ptr(0x1000), OffsetPtr(0x2000, 0x10), False()}),
      Call("ptr_ptr_ptr->void", "rec_text", {Obj(&text), False(), Ptr(0x30)}),
      Call("ptr_ptr->save", "rec_pp_save", {Ptr(0x4000), Ptr(0x4001)}),
      Call("save!_ptr->void", "rec_save_p", {Ptr(0x5000)}),
      Call("ptr_ptr_ptr_int->void", "rec_pppi", {Ptr(1), Ptr(2), Ptr(3), Fix(INT32_MIN)}),
      Call("ptr_ptr_float->void", "rec_ppf", {Ptr(4), Ptr(5), Obj(&f)}),
      Call("ptr_ptr_double->void", "rec_ppd", {Ptr(6), Ptr(7), Obj(&d)}),
      Call("float_float_float_float->void", "rec_ffff", {Obj(&f), Obj(&d), Flo(1.5), Flo(-0.25)}),
      Call("ptr_ptr_ptr_int_int_int_int_int_int_int_int_int->void", "rec_ppp9i",
           {Ptr(8), Ptr(9), Ptr(10), Fix(1), Fix(2), Fix(3), Fix(4), Fix(5), Fix(6), Fix(7), Fix(8), Fix(INT32_MAX)}),
      Call("osapi_ptr_int->void", "rec_os_pi", {Ptr(11), Fix(12)}),
      Call("osapi_ptr_ptr->void", "rec_os_pp", {Ptr(13), False()}),
      Call("osapi_ptr_int_int_int_int_ptr_int_int_long->void", "rec_os_piiiipiil",
           {Ptr(14), Fix(15), Fix(16), Fix(17), Fix(18), Ptr(19), Fix(20), Fix(21), Fix(SCHEME_MAX_FIXNUM)}),
  });
  // The post description's save starts NULL again: its save!_ptr->void call does not run.
  post = Desc({Call("save!_ptr->void", "rec_save_p", {Ptr(0x6000)}), Call("int->void", "rec_int", {Fix(99)})});
  key = scheme_add_gc_callback(pre, post);
  keel_test::TestCFn<void (*)(void*)>("testlib_set_save")(reinterpret_cast<void*>(0xabc));
  ResetTestLog();
  CollectClean();
  const std::string expected =
      "int(-7)\n"
      "ppp(1000,2010,0)\n"
      "text(label,0,30)\n"
      "pp_save(4000,4001)\n"
      "save_p(abc,5000)\n"
      "pppi(1,2,3,-2147483648)\n"
      "ppf(4,5,1.5)\n"
      "ppd(6,7,-0.25)\n"
      "ffff(1.5,-0.25,1.5,-0.25)\n"
      "ppp9i(8,9,a,1,2,3,4,5,6,7,8,2147483647)\n"
      "os_pi(b,12)\n"
      "os_pp(d,0)\n"
      "os_piiiipiil(e,15,16,17,18,13,20,21,4611686018427387903)\n"
      "int(99)\n";
  BOOST_TEST(TestLog() == expected);
  // A NULL save skips the save!_ptr->void call that follows.
  keel_test::TestCFn<void (*)(void*)>("testlib_set_save")(nullptr);
  ResetTestLog();
  CollectClean();
  BOOST_TEST(!Contains(TestLog(), "save_p("));
  BOOST_TEST(Contains(TestLog(), "pp_save(4000,4001)\npppi("));
  scheme_remove_gc_callback(key);
}

BOOST_AUTO_TEST_CASE(pre_calls_run_before_post_calls_around_minor_and_major_collections) {
  Scheme_Object* key = AddInts(1, 2);
  Registered reg(key);
  keel_gc_stats before{};
  keel_gc_stats after{};
  ResetTestLog();
  keel_gc_get_stats(&before);
  CollectMinorClean();
  CollectClean();
  CollectMinorClean();
  keel_gc_get_stats(&after);
  const int collections = static_cast<int>(after.collections - before.collections);
  BOOST_TEST(collections >= 3);
  BOOST_TEST(TestLog() == Repeat("int(1)\nint(2)\n", collections));
  scheme_remove_gc_callback(key);
  // Collections that allocation starts run them too (counted: under GC stress there are many).
  auto count_of = keel_test::TestCFn<unsigned long (*)(int)>("count_of");
  Scheme_Object* pre = Desc({Call("int->void", "count_call", {Fix(20)})});
  Scheme_Object* post = nullptr;
  Registered reg2(pre, post);
  post = Desc({Call("int->void", "count_call", {Fix(21)})});
  key = scheme_add_gc_callback(pre, post);
  const unsigned long pres = count_of(20);
  const unsigned long posts = count_of(21);
  keel_gc_get_stats(&before);
  for (int i = 0; i < 10000000 && after.collections <= before.collections + 2; ++i) {
    scheme_make_pair(scheme_true, scheme_null);
    if (i % 1000 == 0) keel_gc_get_stats(&after);
  }
  keel_gc_get_stats(&after);
  BOOST_TEST(after.collections > before.collections + 2);
  BOOST_TEST(count_of(20) - pres == after.collections - before.collections);
  BOOST_TEST(count_of(21) - posts == after.collections - before.collections);
  scheme_remove_gc_callback(key);
}

BOOST_AUTO_TEST_CASE(several_registrations_run_newest_first) {
  Scheme_Object* a = AddInts(1, 10);
  Scheme_Object* b = nullptr;
  Scheme_Object* c = nullptr;
  Registered reg(a, b, c);
  b = AddInts(2, 20);
  c = AddInts(3, 30);
  ResetTestLog();
  CollectClean();
  BOOST_TEST(TestLog() == "int(3)\nint(2)\nint(1)\nint(30)\nint(20)\nint(10)\n");
  scheme_remove_gc_callback(b);
  ResetTestLog();
  CollectClean();
  BOOST_TEST(TestLog() == "int(3)\nint(1)\nint(30)\nint(10)\n");
  scheme_remove_gc_callback(a);
  scheme_remove_gc_callback(c);
}

BOOST_AUTO_TEST_CASE(explicit_removal_takes_effect_at_once_and_a_second_one_does_nothing) {
  Scheme_Object* key = AddInts(5, 6);
  Registered reg(key);
  scheme_remove_gc_callback(key);
  ResetTestLog();
  CollectClean();
  CollectMinorClean();
  BOOST_TEST(TestLog() == "");
  scheme_remove_gc_callback(key);
  scheme_remove_gc_callback(scheme_make_vector(1, scheme_false));
  keel_test::EscapeResult r = RunWithErrorHandler([](void*) { scheme_remove_gc_callback(nullptr); }, nullptr);
  BOOST_TEST(r.message == "scheme_remove_gc_callback: the key is NULL");
}

// The collection that finds the key gone has run the pre-calls and runs no post-calls; none
// run after it.
BOOST_AUTO_TEST_CASE(a_dropped_key_removes_its_callbacks) {
  AddIntsAndDropTheKey(7, 8);
  ResetTestLog();
  for (int i = 0; i < 4; ++i) CollectClean();
  const std::string log = TestLog();
  // Under CGC a stale copy of the key on the stack may keep it for a collection or two.
  size_t kept = 0;
  while (log.compare(kept * 14, 14, "int(7)\nint(8)\n") == 0) ++kept;
  BOOST_TEST_MESSAGE("collections that still found the key: " << kept);
  BOOST_TEST(kept < 4u);
  BOOST_TEST(log.substr(kept * 14) == "int(7)\n");
  if (std::string(keel_gc_variant()) == "3m") BOOST_TEST(kept == 0u);
  ResetTestLog();
  CollectClean();
  CollectMinorClean();
  BOOST_TEST(TestLog() == "");
}

BOOST_AUTO_TEST_CASE(byte_string_arguments_follow_their_strings_and_later_changes_to_the_vectors_do_not_count) {
  Scheme_Object* text = nullptr;
  Scheme_Object* pre = nullptr;
  Scheme_Object* post = nullptr;
  Scheme_Object* key = nullptr;
  Registered reg(text, pre, post, key);
  text = scheme_make_byte_string("moving");  // young: a 3m minor collection moves it
  pre = Desc({Call("ptr_ptr_ptr->void", "rec_text", {Obj(&text), False(), False()}),
              Call("ptr_ptr_ptr->void", "rec_text", {DataOffset(&text, 2), False(), False()})});
  post = Desc({Call("ptr_ptr_ptr->void", "rec_text", {Obj(&text), False(), Ptr(1)}),
               Call("ptr_ptr_ptr->void", "rec_text", {DataOffset(&text, 3), False(), Ptr(1)})});
  key = scheme_add_gc_callback(pre, post);
  // Changing the caller's vectors afterwards changes nothing: the registration holds a copy.
  SCHEME_VEC_ELS(SCHEME_VEC_ELS(pre)[0])[2] = scheme_make_integer(1);
  SCHEME_VEC_ELS(pre)[1] = scheme_false;
  SCHEME_VEC_ELS(pre)[0] = scheme_false;
  ResetTestLog();
  CollectMinorClean();
  CollectClean();
  BOOST_TEST(TestLog() == Repeat("text(moving,0,0)\ntext(ving,0,0)\ntext(moving,0,1)\ntext(ing,0,1)\n", 2));
  scheme_remove_gc_callback(key);
}

namespace {

struct BadCase {
  const char* what;
  Scheme_Object* pre;
  Scheme_Object* post;
  std::string expected;  // a part of the message
};

std::string AddFails(Scheme_Object** pre, Scheme_Object** post) {
  Scheme_Object* descs[2] = {*pre, *post};
  keel_test::RegisteredArray reg(descs);
  keel_test::EscapeResult r = RunWithErrorHandler([](void* p) {
    auto* d = static_cast<Scheme_Object**>(p);
    scheme_add_gc_callback(d[0], d[1]);
  }, descs);
  return r.escaped ? r.message : std::string("(no error)");
}

}  // namespace

BOOST_AUTO_TEST_CASE(every_kind_of_bad_description_is_an_error_naming_it_and_registers_nothing) {
  Scheme_Object* empty = scheme_make_vector(0, scheme_false);
  Scheme_Object* bad = nullptr;
  Scheme_Object* cb = nullptr;
  Registered reg(empty, bad, cb);
  auto check = [&](const char* expected) {
    std::string m = AddFails(&bad, &empty);
    BOOST_TEST_CONTEXT(expected) { BOOST_TEST(Contains(m, expected), m); }
  };
  bad = scheme_make_integer(1);
  check("scheme_add_gc_callback: pre_desc must be a vector of call vectors; given: 1");
  bad = Desc({Fix(2)});
  check("pre_desc call 1 must be a vector #(protocol function argument ...); given: 2");
  bad = Desc({Call("int->void", "rec_int", {Fix(1)}), Call("int_int->void", "rec_int", {Fix(1)})});
  check("pre_desc call 2: unknown protocol int_int->void");
  bad = Desc({Vec({Str("int->void"), Fn("rec_int"), Fix(1)})});
  check("pre_desc call 1: unknown protocol \"int->void\"");
  bad = Desc({Call("ptr_ptr_ptr->void", "rec_ppp", {False(), False()})});
  check("pre_desc call 1 (ptr_ptr_ptr->void) takes 3 arguments after the function; given 2");
  bad = Desc({Vec({Sym("int->void"), False(), Fix(1)})});
  check("pre_desc call 1 (int->void): the function must be a C pointer object that is not NULL; given: #f");
  bad = Desc({Vec({Sym("int->void"), Ptr(0), Fix(1)})});
  check("the function must be a C pointer object that is not NULL");
  bad = Desc({Vec({Sym("int->void"), Bytes("code"), Fix(1)})});
  check("the function must be a C pointer object that is not NULL; given: #\"code\"");
  cb = keel_test::Signature({"int"}, "void");
  cb = keel_ffi_callback([](void*, int, Scheme_Object**) { return scheme_void; }, nullptr, cb);
  bad = Desc({Vec({Sym("int->void"), Obj(&cb), Fix(1)})});
  check("the function must be a C function that does not call Keel; given a keel_ffi_callback");
  bad = Desc({Call("ptr_ptr_ptr->void", "rec_ppp", {False(), Fix(3), False()})});
  check("pre_desc call 1 (ptr_ptr_ptr->void): argument 2 must be a C pointer object, a byte string or #f; given: 3");
  bad = Desc({Call("int->void", "rec_int", {Flo(1.0)})});
  check("(int->void): argument 1 must be a fixnum in C int's range; given: 1.0");
  bad = Desc({Call("int->void", "rec_int", {Fix(INT64_C(1) << 40)})});
  check("argument 1 must be a fixnum in C int's range; given: 1099511627776");
  bad = Desc({Call("ptr_ptr_float->void", "rec_ppf", {False(), False(), Fix(1)})});
  check("(ptr_ptr_float->void): argument 3 must be a flonum; given: 1");
  bad = Desc({Call("ptr_ptr_double->void", "rec_ppd", {False(), False(), Fix(1)})});
  check("(ptr_ptr_double->void): argument 3 must be a flonum; given: 1");
  bad = Desc({Call("osapi_ptr_int_int_int_int_ptr_int_int_long->void", "rec_os_piiiipiil",
                   {False(), Fix(1), Fix(1), Fix(1), Fix(1), False(), Fix(1), Fix(1), Big("100000000000000000000")})});
  check("argument 9 must be a fixnum; given: 100000000000000000000");
  // The post description is checked too, and NULL is an error.
  std::string m = AddFails(&empty, &bad);
  BOOST_TEST(Contains(m, "scheme_add_gc_callback: post_desc call 1"), m);
  Scheme_Object* null_desc = nullptr;
  m = AddFails(&empty, &null_desc);
  BOOST_TEST(m == "scheme_add_gc_callback: post_desc must be a vector of call vectors; given: #f");
  // None of them registered anything.
  ResetTestLog();
  CollectClean();
  BOOST_TEST(TestLog() == "");
}

// --- places --------------------------------------------------------------------------------------

namespace {

// Receives its counter index i; counts pre-calls under i and post-calls under i + 1 around a
// few dozen collections of its own, checks them against its own collection count, removes the
// registration and answers #t (or a message).
void CountingPlaceMain(Scheme_Object* ch) {
  Registered reg(ch);
  const int index = static_cast<int>(SCHEME_INT_VAL(keel_place_channel_get(ch)));
  Scheme_Object* pre = Desc({Call("int->void", "count_call", {Fix(index)})});
  Scheme_Object* post = nullptr;
  Scheme_Object* key = nullptr;
  Registered reg2(pre, post, key);
  post = Desc({Call("int->void", "count_call", {Fix(index + 1)})});
  auto count_of = keel_test::TestCFn<unsigned long (*)(int)>("count_of");
  key = scheme_add_gc_callback(pre, post);
  keel_gc_stats before{};
  keel_gc_stats after{};
  keel_gc_get_stats(&before);
  const unsigned long pre_before = count_of(index);
  const unsigned long post_before = count_of(index + 1);
  for (int i = 0; i < 20; ++i) {
    for (int j = 0; j < 2000; ++j) scheme_make_pair(scheme_null, scheme_null);
    if (i % 2 == 0) {
      keel_gc_collect_minor();
    } else {
      scheme_collect_garbage();
    }
  }
  keel_gc_get_stats(&after);
  const unsigned long pres = count_of(index) - pre_before;
  const unsigned long posts = count_of(index + 1) - post_before;
  scheme_remove_gc_callback(key);
  char message[160];
  if (pres != after.collections - before.collections || posts != pres) {
    std::snprintf(message, sizeof message, "place %d: %lu pre-calls and %lu post-calls for %lu collections", index, pres,
                  posts, static_cast<unsigned long>(after.collections - before.collections));
    keel_place_channel_put(ch, scheme_make_utf8_string(message));
  } else {
    keel_place_channel_put(ch, scheme_true);
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(registrations_run_only_for_their_own_place) {
  auto count_of = keel_test::TestCFn<unsigned long (*)(int)>("count_of");
  auto count_shared = keel_test::TestCFn<int (*)(int)>("count_shared");
  const int first = 10;  // indices 10, 11 and 12, 13: this case's own
  const int second = 12;
  Scheme_Object* a = keel_place_create(CountingPlaceMain, scheme_make_integer(first));
  Scheme_Object* b = nullptr;
  Registered reg(a, b);
  b = keel_place_create(CountingPlaceMain, scheme_make_integer(second));
  // The initial place collects meanwhile: it has no registration of its own.
  const unsigned long before = count_of(first) + count_of(second);
  for (int i = 0; i < 5; ++i) CollectClean();
  Scheme_Object* ra = keel_place_channel_get(a);
  Registered reg_ra(ra);
  Scheme_Object* rb = keel_place_channel_get(b);
  BOOST_TEST(ra == scheme_true, scheme_write_to_string(ra, nullptr));
  BOOST_TEST(rb == scheme_true, scheme_write_to_string(rb, nullptr));
  BOOST_TEST(keel_place_wait(a) == 0);
  BOOST_TEST(keel_place_wait(b) == 0);
  BOOST_TEST(count_of(first) >= 20u);
  BOOST_TEST(count_of(second) >= 20u);
  BOOST_TEST(count_of(first) + count_of(second) >= before);
  for (int i = first; i < second + 2; ++i) BOOST_TEST(count_shared(i) == 0, "counter " << i << " counted on two threads");
}

BOOST_AUTO_TEST_SUITE_END()
