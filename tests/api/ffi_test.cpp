// ffi_test.cpp: the FFI layer (keel_ffi.h; docs/design/ffi.md): calls across every C type at
// its bounds, pointers, byte strings and UTF-8 strings both ways, callbacks from C into a C
// function, prepared interfaces shared by signature and calls that allocate nothing, and the
// errors for libraries, symbols, signatures and values, raised before anything is called. Black
// box, against CGC and 3m, plain and under GC stress.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>

#include "keel_ffi.h"
#include "keel_gc.h"
#include "scheme.h"
#include "support/ffi_lib.h"
#include "support/gc_probe.h"
#include "support/registered.h"
#include "support/scheme_escape.h"
#include "support/scheme_values.h"

namespace {

using keel_test::CallTestFn;
using keel_test::Contains;
using keel_test::Registered;
using keel_test::RunWithErrorHandler;
using keel_test::Signature;
using keel_test::TestCFn;
using keel_test::TestFn;
using keel_test::Written;

// id_<type>(v) through the FFI, written.
std::string RoundTrip(const char* type, Scheme_Object* v) {
  Registered reg(v);
  Scheme_Object* sig = Signature({type}, type);
  std::string fn = std::string("id_") + type;
  return Written(CallTestFn(fn.c_str(), sig, {v}));
}

// What escapes from calling the library's `name` with `sig` and `args` (by the test's handler).
struct CallAttempt {
  const char* name;
  Scheme_Object* sig;
  std::vector<Scheme_Object*> args;
};

keel_test::EscapeResult TryCall(const char* name, Scheme_Object* sig, std::vector<Scheme_Object*> args) {
  CallAttempt a{name, sig, std::move(args)};
  Registered reg(a.sig);
  keel_test::RegisteredArray reg_args(reinterpret_cast<void**>(a.args.data()), a.args.size());
  return RunWithErrorHandler([](void* p) {
    auto* at = static_cast<CallAttempt*>(p);
    keel_test::CallTestFnWith(at->name, at->sig, at->args.data(), at->args.size());
  }, &a);
}

int VoidCalls() { return TestCFn<int (*)()>("void_calls")(); }

}  // namespace

BOOST_AUTO_TEST_SUITE(ffi)

BOOST_AUTO_TEST_CASE(integers_cross_at_their_bounds_and_one_past_them_is_an_error) {
  BOOST_TEST(RoundTrip("int8", scheme_make_integer(-128)) == "-128");
  BOOST_TEST(RoundTrip("int8", scheme_make_integer(127)) == "127");
  BOOST_TEST(RoundTrip("int16", scheme_make_integer(-32768)) == "-32768");
  BOOST_TEST(RoundTrip("int16", scheme_make_integer(32767)) == "32767");
  BOOST_TEST(RoundTrip("int32", scheme_make_integer(INT32_MIN)) == "-2147483648");
  BOOST_TEST(RoundTrip("int32", scheme_make_integer(INT32_MAX)) == "2147483647");
  BOOST_TEST(RoundTrip("int64", scheme_make_integer_value(INT64_MIN)) == "-9223372036854775808");
  BOOST_TEST(RoundTrip("int64", scheme_make_integer_value(INT64_MAX)) == "9223372036854775807");
  BOOST_TEST(RoundTrip("uint8", scheme_make_integer(255)) == "255");
  BOOST_TEST(RoundTrip("uint16", scheme_make_integer(65535)) == "65535");
  BOOST_TEST(RoundTrip("uint32", scheme_make_integer_value_from_unsigned(UINT32_MAX)) == "4294967295");
  BOOST_TEST(RoundTrip("uint64", scheme_make_integer_value_from_unsigned(UINT64_MAX)) == "18446744073709551615");
  BOOST_TEST(RoundTrip("uint64", scheme_make_integer(0)) == "0");

  struct OutOfRange {
    const char* type;
    const char* value;  // decimal
    const char* range;
  };
  const OutOfRange cases[] = {
      {"int8", "128", "[-128, 127]"},
      {"int8", "-129", "[-128, 127]"},
      {"int16", "32768", "[-32768, 32767]"},
      {"int32", "-2147483649", "[-2147483648, 2147483647]"},
      {"int64", "9223372036854775808", "[-9223372036854775808, 9223372036854775807]"},
      {"uint8", "-1", "[0, 255]"},
      {"uint32", "4294967296", "[0, 4294967295]"},
      {"uint64", "18446744073709551616", "[0, 18446744073709551615]"},
      {"uint64", "-1", "[0, 18446744073709551615]"},
  };
  const int before = VoidCalls();
  for (const OutOfRange& c : cases) {
    Scheme_Object* v = scheme_read_bignum_bytes(c.value, 0, 10);
    Scheme_Object* sig = nullptr;
    Registered reg(v, sig);
    sig = Signature({c.type}, c.type);
    std::string fn = std::string("id_") + c.type;
    keel_test::EscapeResult r = TryCall(fn.c_str(), sig, {v});
    BOOST_TEST_CONTEXT(c.type << " " << c.value) {
      BOOST_TEST(r.escaped);
      BOOST_TEST(r.message == std::string("keel_ffi_call: argument 1 (") + c.type + ") is out of range " + c.range +
                                  "; given: " + c.value);
    }
  }
  BOOST_TEST(VoidCalls() == before);
}

BOOST_AUTO_TEST_CASE(the_platform_names_are_aliases_of_the_fixed_widths) {
  Scheme_Object* a = Signature({"int", "long", "intptr", "size_t"}, "int");
  Registered reg(a);
  Scheme_Object* b = Signature({"int32", "int64", "int64", "uint64"}, "int32");
  BOOST_TEST(SCHEME_CPTR_VAL(a) == SCHEME_CPTR_VAL(b));
}

BOOST_AUTO_TEST_CASE(flonums_cross_as_float_and_double) {
  BOOST_TEST(RoundTrip("double", scheme_make_double(1.0e308)) == "1e+308");
  BOOST_TEST(RoundTrip("double", scheme_make_double(-0.0)) == "-0.0");
  BOOST_TEST(RoundTrip("double", scheme_make_double(std::numeric_limits<double>::infinity())) == "+inf.0");
  BOOST_TEST(RoundTrip("double", scheme_make_double(std::nan(""))) == "+nan.0");
  BOOST_TEST(RoundTrip("float", scheme_make_double(1.5)) == "1.5");
  BOOST_TEST(RoundTrip("float", scheme_make_double(-std::numeric_limits<double>::infinity())) == "-inf.0");
  // 0.1 is not a float: it comes back as the nearest one.
  BOOST_TEST(RoundTrip("float", scheme_make_double(0.1)) == Written(scheme_make_double(static_cast<double>(0.1f))));

  Scheme_Object* sig = Signature({"float"}, "float");
  Scheme_Object* big = nullptr;
  Registered reg(sig, big);
  big = scheme_make_double(1.0e39);
  keel_test::EscapeResult r = TryCall("id_float", sig, {big});
  BOOST_TEST(r.escaped);
  BOOST_TEST(r.message == "keel_ffi_call: argument 1 (float) is outside float's finite range; given: 1e+39");
  r = TryCall("id_float", sig, {scheme_make_integer(1)});
  BOOST_TEST(r.message == "keel_ffi_call: argument 1 (float) must be a flonum; given: 1");
}

BOOST_AUTO_TEST_CASE(mixed_arguments_keep_their_order_and_widths) {
  Scheme_Object* sig = Signature({"int8", "uint16", "int32", "int64", "uint8", "double", "float"}, "int64");
  Scheme_Object* d = nullptr;
  Scheme_Object* f = nullptr;
  Registered reg(sig, d, f);
  d = scheme_make_double(0.5);
  f = scheme_make_double(2.0);
  Scheme_Object* r = CallTestFn("mix", sig,
                                {scheme_make_integer(-3), scheme_make_integer(65535), scheme_make_integer(-100000),
                                 scheme_make_integer_value(INT64_C(1) << 40), scheme_make_integer(200), d, f});
  const int64_t expected = -3 + 2 * 65535 + 3 * -100000 + 4 * (INT64_C(1) << 40) + 5 * 200 + 3 + 14;
  BOOST_TEST(Written(r) == std::to_string(expected));

  Scheme_Object* sig12 = Signature({"int64", "int64", "int64", "int64", "int64", "int64", "int64", "int64", "int64",
                                    "int64", "int64", "int64"},
                                   "int64");
  std::vector<Scheme_Object*> args;
  int64_t sum = 0;
  for (int i = 1; i <= 12; ++i) {
    args.push_back(scheme_make_integer(i * 1000 + i));
    sum += i * (i * 1000 + i);
  }
  BOOST_TEST(Written(CallTestFn("sum12", sig12, args)) == std::to_string(sum));
}

BOOST_AUTO_TEST_CASE(pointers_pass_as_addresses_and_come_back_as_c_pointer_objects) {
  static char buffer[64];
  Scheme_Object* sig = Signature({"pointer"}, "pointer");
  Scheme_Object* p = nullptr;
  Scheme_Object* r = nullptr;
  Registered reg(sig, p, r);
  p = scheme_make_cptr(buffer, nullptr);
  r = CallTestFn("id_pointer", sig, {p});
  BOOST_TEST(SCHEME_CPTRP(r));
  BOOST_TEST(keel_ffi_pointer(r) == static_cast<void*>(buffer));
  BOOST_TEST(scheme_equal(p, r));
  // An offset pointer passes its address; #f passes NULL, and NULL comes back as #f.
  p = scheme_make_offset_cptr(buffer, 10, nullptr);
  r = CallTestFn("id_pointer", sig, {p});
  BOOST_TEST(keel_ffi_pointer(r) == static_cast<void*>(buffer + 10));
  BOOST_TEST(CallTestFn("id_pointer", sig, {scheme_false}) == scheme_false);
  Scheme_Object* none = Signature({}, "pointer");
  BOOST_TEST(CallTestFn("null_pointer", none, {}) == scheme_false);
  // A byte string passes its data.
  p = scheme_make_byte_string("abc");
  r = CallTestFn("id_pointer", sig, {p});
  BOOST_TEST(keel_ffi_pointer(r) == static_cast<void*>(SCHEME_BYTE_STR_VAL(p)));
  // An offset from a pointer, computed in C.
  Scheme_Object* off = Signature({"pointer", "long"}, "pointer");
  Registered reg_off(off);
  p = scheme_make_cptr(buffer, nullptr);
  r = CallTestFn("offset_of", off, {p, scheme_make_integer(24)});
  BOOST_TEST(keel_ffi_pointer(r) == static_cast<void*>(buffer + 24));
}

BOOST_AUTO_TEST_CASE(offset_c_pointers_stand_for_their_address_and_follow_the_object_they_point_into) {
  static char buffer[32];
  Scheme_Object* p = scheme_make_offset_cptr(buffer, 10, nullptr);
  Scheme_Object* q = nullptr;
  Scheme_Object* text = nullptr;
  Scheme_Object* sig = nullptr;
  Registered reg(p, q, text, sig);
  BOOST_TEST(SCHEME_CPTRP(p));
  BOOST_TEST(SCHEME_CPTR_OFFSET(p) == 10);
  BOOST_TEST(Written(p) == "#<cpointer>");
  q = scheme_make_cptr(buffer + 10, nullptr);
  BOOST_TEST(SCHEME_CPTR_OFFSET(q) == 0);
  BOOST_TEST(scheme_equal(p, q));
  q = scheme_make_cptr(buffer, nullptr);
  BOOST_TEST(!scheme_equal(p, q));
  // Into a byte string's data (a collectable object, which 3m moves): the pointer follows it.
  text = scheme_make_byte_string("hello world");
  p = scheme_make_offset_cptr(SCHEME_BYTE_STR_VAL(text), 6, nullptr);
  keel_test::CollectMinorClean();
  keel_test::CollectClean();
  BOOST_TEST(keel_ffi_pointer(p) == static_cast<void*>(SCHEME_BYTE_STR_VAL(text) + 6));
  sig = Signature({"pointer"}, "size_t");
  BOOST_TEST(Written(CallTestFn("text_length", sig, {p})) == "5");
}

BOOST_AUTO_TEST_CASE(byte_strings_pass_their_data_and_c_may_write_into_them) {
  Scheme_Object* bytes = scheme_alloc_byte_string(8, 'a');
  Scheme_Object* sig = nullptr;
  Registered reg(bytes, sig);
  sig = Signature({"bytes", "int", "int"}, "void");
  BOOST_TEST(CallTestFn("fill", sig, {bytes, scheme_make_integer(3), scheme_make_integer('z')}) == scheme_void);
  BOOST_TEST(std::string(SCHEME_BYTE_STR_VAL(bytes), 8) == "zzzaaaaa");
  sig = Signature({"bytes"}, "size_t");
  BOOST_TEST(Written(CallTestFn("text_length", sig, {bytes})) == "8");
  // #f passes NULL (text_length answers SIZE_MAX for NULL).
  BOOST_TEST(Written(CallTestFn("text_length", sig, {scheme_false})) == "18446744073709551615");
  // A bytes result is a fresh byte string of the C string.
  sig = Signature({"bytes"}, "bytes");
  Scheme_Object* back = CallTestFn("same_text", sig, {bytes});
  BOOST_TEST(SCHEME_BYTE_STRINGP(back));
  BOOST_TEST(back != bytes);
  BOOST_TEST(scheme_equal(back, bytes));
}

BOOST_AUTO_TEST_CASE(strings_cross_as_utf8) {
  Scheme_Object* sig = Signature({}, "string/utf-8");
  Scheme_Object* s = nullptr;
  Registered reg(sig, s);
  s = CallTestFn("greeting", sig, {});
  BOOST_TEST(SCHEME_CHAR_STRINGP(s));
  BOOST_TEST(SCHEME_CHAR_STRLEN_VAL(s) == 9);
  BOOST_TEST(SCHEME_CHAR_STR_VAL(s)[2] == 0xFCu);  // ü
  BOOST_TEST(SCHEME_CHAR_STR_VAL(s)[3] == 0xDFu);  // ß
  // A string argument is a NUL-terminated UTF-8 copy: 9 characters, 11 bytes.
  sig = Signature({"string/utf-8"}, "size_t");
  BOOST_TEST(Written(CallTestFn("text_length", sig, {s})) == "11");
  sig = Signature({"string/utf-8"}, "string/utf-8");
  Scheme_Object* back = CallTestFn("same_text", sig, {s});
  BOOST_TEST(scheme_equal(back, s));
  BOOST_TEST(CallTestFn("same_text", sig, {scheme_false}) == scheme_false);
}

BOOST_AUTO_TEST_CASE(signatures_with_the_same_types_share_one_prepared_interface) {
  Scheme_Object* a = Signature({"double", "pointer"}, "int64");
  Scheme_Object* b = nullptr;
  Registered reg(a, b);
  b = Signature({"double", "pointer"}, "int64");
  BOOST_TEST(a != b);
  BOOST_TEST(SCHEME_CPTR_VAL(a) == SCHEME_CPTR_VAL(b));
  b = Signature({"double", "pointer"}, "int32");
  BOOST_TEST(SCHEME_CPTR_VAL(a) != SCHEME_CPTR_VAL(b));
  b = Signature({"pointer", "double"}, "int64");
  BOOST_TEST(SCHEME_CPTR_VAL(a) != SCHEME_CPTR_VAL(b));
}

BOOST_AUTO_TEST_CASE(a_call_with_fixnums_and_pointers_allocates_no_gc_memory) {
  Scheme_Object* sig = Signature({"int32"}, "int32");
  Scheme_Object* fn = nullptr;
  Scheme_Object* psig = nullptr;
  Scheme_Object* pfn = nullptr;
  Scheme_Object* ptr = nullptr;
  Registered reg(sig, fn, psig, pfn, ptr);
  fn = TestFn("id_int32");
  psig = Signature({"bytes", "int", "int"}, "void");
  pfn = TestFn("fill");
  ptr = scheme_alloc_byte_string(16, 0);
  keel_gc_stats before{};
  keel_gc_stats after{};
  keel_gc_get_stats(&before);
  int64_t sum = 0;
  for (int i = 0; i < 10000; ++i) {
    Scheme_Object* arg = scheme_make_integer(i);
    sum += SCHEME_INT_VAL(keel_ffi_call(fn, sig, 1, &arg));
    Scheme_Object* fill_args[3] = {ptr, scheme_make_integer(16), scheme_make_integer(i & 0x7f)};
    keel_ffi_call(pfn, psig, 3, fill_args);
  }
  keel_gc_get_stats(&after);
  BOOST_TEST(sum == INT64_C(10000) * 9999 / 2);
  BOOST_TEST(after.total_allocated_bytes == before.total_allocated_bytes);
  BOOST_TEST(SCHEME_BYTE_STR_VAL(ptr)[15] == static_cast<char>(9999 & 0x7f));
}

BOOST_AUTO_TEST_CASE(wrong_arity_and_wrong_kinds_are_errors_raised_before_the_call) {
  Scheme_Object* sig = Signature({}, "void");
  Scheme_Object* isig = nullptr;
  Scheme_Object* str = nullptr;
  Registered reg(sig, isig, str);
  isig = Signature({"int32", "pointer"}, "void");
  str = scheme_make_utf8_string("x");
  const int before = VoidCalls();
  keel_test::EscapeResult r = TryCall("void_call", sig, {scheme_make_integer(1)});
  BOOST_TEST(r.message == "keel_ffi_call: the signature takes 0 arguments; given 1");
  r = TryCall("void_call", isig, {str, scheme_false});
  BOOST_TEST(r.message == "keel_ffi_call: argument 1 (int32) must be an exact integer; given: \"x\"");
  r = TryCall("void_call", isig, {scheme_make_integer(1), scheme_make_integer(5)});
  BOOST_TEST(r.message == "keel_ffi_call: argument 2 (pointer) must be a C pointer object, a byte string or #f; given: 5");
  r = TryCall("void_call", isig, {scheme_make_integer(1), str});
  BOOST_TEST(Contains(r.message, "argument 2 (pointer) must be"));
  BOOST_TEST(VoidCalls() == before);
  // The function and the signature themselves.
  struct Bad {
    Scheme_Object* fn;
    Scheme_Object* sig;
  } bad{scheme_make_integer(3), sig};
  Registered reg_bad(bad.fn, bad.sig);
  auto call = [](void* p) {
    auto* b = static_cast<Bad*>(p);
    keel_ffi_call(b->fn, b->sig, 0, nullptr);
  };
  r = RunWithErrorHandler(call, &bad);
  BOOST_TEST(r.message == "keel_ffi_call: the function must be a C pointer object; given: 3");
  bad.fn = scheme_make_cptr(nullptr, nullptr);
  r = RunWithErrorHandler(call, &bad);
  BOOST_TEST(r.message == "keel_ffi_call: the function pointer is NULL");
  // A C pointer object tagged with the interned symbol of the same name is no signature.
  bad.fn = TestFn("void_call");
  bad.sig = scheme_make_cptr(SCHEME_CPTR_VAL(sig), scheme_intern_symbol("ffi-signature"));
  r = RunWithErrorHandler(call, &bad);
  BOOST_TEST(Contains(r.message, "keel_ffi_call: expected a signature from keel_ffi_signature"));
  BOOST_TEST(VoidCalls() == before);
  bad.sig = sig;
  r = RunWithErrorHandler(call, &bad);
  BOOST_TEST(!r.escaped);
  BOOST_TEST(VoidCalls() == before + 1);
}

BOOST_AUTO_TEST_CASE(bad_signatures_are_errors) {
  struct Case {
    Scheme_Object* args;
    Scheme_Object* result;
  } c{scheme_make_integer(1), nullptr};
  Registered reg(c.args, c.result);
  c.result = scheme_intern_symbol("void");
  auto make = [](void* p) {
    auto* k = static_cast<Case*>(p);
    keel_ffi_signature(k->args, k->result);
  };
  keel_test::EscapeResult r = RunWithErrorHandler(make, &c);
  BOOST_TEST(r.message == "keel_ffi_signature: the argument types must be a list of type symbols; given: 1");
  c.args = keel_test::SymbolList({"int32", "int33"});
  r = RunWithErrorHandler(make, &c);
  BOOST_TEST(Contains(r.message, "keel_ffi_signature: argument type 2: not a type symbol"));
  BOOST_TEST(Contains(r.message, "given: int33"));
  c.args = keel_test::SymbolList({"void"});
  r = RunWithErrorHandler(make, &c);
  BOOST_TEST(r.message == "keel_ffi_signature: argument type 1: void is only a result type");
  c.args = scheme_null;
  c.result = scheme_make_utf8_string("int");
  r = RunWithErrorHandler(make, &c);
  BOOST_TEST(Contains(r.message, "keel_ffi_signature: the result type: not a type symbol"));
  c.result = scheme_intern_symbol("int");
  c.args = scheme_null;
  for (int i = 0; i <= KEEL_FFI_MAX_ARGS; ++i) c.args = scheme_make_pair(scheme_intern_symbol("int"), c.args);
  r = RunWithErrorHandler(make, &c);
  BOOST_TEST(r.message == "keel_ffi_signature: 65 argument types; a signature takes at most 64");
}

BOOST_AUTO_TEST_CASE(libraries_and_symbols_that_do_not_exist_are_errors_with_dlerror_text) {
  keel_test::EscapeResult r = RunWithErrorHandler([](void*) { keel_ffi_lib("/nonexistent/libkeel-nope.so"); }, nullptr);
  BOOST_TEST(Contains(r.message, "keel_ffi_lib: cannot open \"/nonexistent/libkeel-nope.so\": "));
  BOOST_TEST(Contains(r.message, "No such file or directory"));
  r = RunWithErrorHandler([](void*) { TestFn("no_such_function_here"); }, nullptr);
  BOOST_TEST(Contains(r.message, "keel_ffi_obj: cannot find \"no_such_function_here\": "));
  BOOST_TEST(Contains(r.message, "undefined symbol"));
  r = RunWithErrorHandler([](void*) { keel_ffi_obj(scheme_make_cptr(nullptr, nullptr), "x"); }, nullptr);
  BOOST_TEST(Contains(r.message, "keel_ffi_obj: expected a library from keel_ffi_lib"));
  // NULL opens the program: its own libraries' exported functions are there.
  Scheme_Object* self = keel_ffi_lib(nullptr);
  Registered reg(self);
  Scheme_Object* fn = keel_ffi_obj(self, "keel_ffi_call");
  BOOST_TEST(SCHEME_CPTR_VAL(fn) == reinterpret_cast<void*>(&keel_ffi_call));
  BOOST_TEST(Written(SCHEME_CPTR_TYPE(fn)) == "keel_ffi_call");
}

// --- callbacks -----------------------------------------------------------------------------------

namespace {

// (x) -> x * k + an allocation, so that callbacks collect under GC stress.
Scheme_Object* Scale(void* data, int argc, Scheme_Object** argv) {
  BOOST_REQUIRE(argc == 1);
  Scheme_Object* x = argv[0];
  Registered reg(x);
  scheme_make_pair(x, x);  // garbage
  return scheme_make_integer_value(SCHEME_INT_VAL(x) * *static_cast<int*>(data));
}

Scheme_Object* Hypot(void*, int argc, Scheme_Object** argv) {
  BOOST_REQUIRE(argc == 2);
  return scheme_make_double(std::hypot(SCHEME_DBL_VAL(argv[0]), SCHEME_DBL_VAL(argv[1])));
}

// (string) -> the byte string of its UTF-8 twice.
Scheme_Object* Doubled(void*, int, Scheme_Object** argv) {
  Scheme_Object* s = argv[0];
  Registered reg(s);
  Scheme_Object* b = scheme_char_string_to_byte_string(s);
  Registered reg_b(b);
  std::string twice = std::string(SCHEME_BYTE_STR_VAL(b)) + SCHEME_BYTE_STR_VAL(b);
  return scheme_make_sized_byte_string(twice.data(), static_cast<intptr_t>(twice.size()), 1);
}

Scheme_Object* ReturnsThreeHundred(void*, int, Scheme_Object**) { return scheme_make_integer(300); }

Scheme_Object* Escapes(void*, int, Scheme_Object** argv) { scheme_signal_error("callback failed on %V", argv[0]); }

}  // namespace

BOOST_AUTO_TEST_CASE(c_calls_back_into_a_c_function_through_a_callback) {
  static int factor = 3;
  Scheme_Object* cb = nullptr;
  Scheme_Object* sig = nullptr;
  Registered reg(cb, sig);
  sig = Signature({"int32"}, "int32");
  cb = keel_ffi_callback(Scale, &factor, sig);
  BOOST_TEST(SCHEME_CPTRP(cb));
  BOOST_TEST(TestCFn<int (*)(int (*)(int), int)>("apply_int")(reinterpret_cast<int (*)(int)>(keel_ffi_pointer(cb)), 14) == 43);
  // Through keel_ffi_call too: a callback is a pointer argument.
  Scheme_Object* apply_sig = Signature({"pointer", "int32"}, "int32");
  BOOST_TEST(Written(CallTestFn("apply_int", apply_sig, {cb, scheme_make_integer(-5)})) == "-14");

  sig = Signature({"int64"}, "int64");
  cb = keel_ffi_callback(Scale, &factor, sig);
  auto sum_calls = TestCFn<int64_t (*)(int64_t (*)(int64_t), int)>("sum_calls");
  BOOST_TEST(sum_calls(reinterpret_cast<int64_t (*)(int64_t)>(keel_ffi_pointer(cb)), 5000) == INT64_C(3) * 5000 * 4999 / 2);

  sig = Signature({"double", "double"}, "double");
  cb = keel_ffi_callback(Hypot, nullptr, sig);
  auto apply_dd = TestCFn<double (*)(double (*)(double, double), double, double)>("apply_dd");
  BOOST_TEST(apply_dd(reinterpret_cast<double (*)(double, double)>(keel_ffi_pointer(cb)), 3.0, 4.0) == 10.0);

  sig = Signature({"string/utf-8"}, "bytes");
  cb = keel_ffi_callback(Doubled, nullptr, sig);
  auto apply_text = TestCFn<size_t (*)(const char* (*)(const char*), const char*)>("apply_text");
  BOOST_TEST(apply_text(reinterpret_cast<const char* (*)(const char*)>(keel_ffi_pointer(cb)), "gr\xc3\xbc\xc3\x9f") == 12u);
}

BOOST_AUTO_TEST_CASE(a_callback_result_of_the_wrong_range_or_an_error_inside_escapes_to_the_handler) {
  Scheme_Object* sig = Signature({"uint8"}, "uint8");
  Scheme_Object* cb = nullptr;
  Registered reg(sig, cb);
  cb = keel_ffi_callback(ReturnsThreeHundred, nullptr, sig);
  // The callback travels to the handler's function through &cb, a registered variable.
  auto apply = [](void* p) {
    Scheme_Object* callback = *static_cast<Scheme_Object**>(p);
    auto fn = TestCFn<uint8_t (*)(uint8_t (*)(uint8_t), uint8_t)>("apply_u8");  // may collect
    callback = *static_cast<Scheme_Object**>(p);
    fn(reinterpret_cast<uint8_t (*)(uint8_t)>(keel_ffi_pointer(callback)), 7);
  };
  keel_test::EscapeResult r = RunWithErrorHandler(apply, &cb);
  BOOST_TEST(r.escaped);
  BOOST_TEST(r.message == "keel_ffi_callback: the result (uint8) is out of range [0, 255]; given: 300");
  cb = keel_ffi_callback(Escapes, nullptr, sig);
  r = RunWithErrorHandler(apply, &cb);
  BOOST_TEST(r.message == "callback failed on 7");
  // The place goes on: a good callback afterwards.
  static int factor = 2;
  cb = keel_ffi_callback(Scale, &factor, sig);
  auto apply_u8 = TestCFn<uint8_t (*)(uint8_t (*)(uint8_t), uint8_t)>("apply_u8");
  BOOST_TEST(apply_u8(reinterpret_cast<uint8_t (*)(uint8_t)>(keel_ffi_pointer(cb)), 100) == 200);
}

BOOST_AUTO_TEST_CASE(callbacks_are_checked_when_made) {
  keel_test::EscapeResult r = RunWithErrorHandler([](void*) {
    keel_ffi_callback(Hypot, nullptr, Signature({}, "string/utf-8"));
  }, nullptr);
  BOOST_TEST(Contains(r.message, "keel_ffi_callback: string/utf-8 cannot be a callback's result"));
  r = RunWithErrorHandler([](void*) { keel_ffi_callback(nullptr, nullptr, Signature({}, "void")); }, nullptr);
  BOOST_TEST(r.message == "keel_ffi_callback: the procedure is NULL");
  r = RunWithErrorHandler([](void*) { keel_ffi_callback(Hypot, nullptr, scheme_false); }, nullptr);
  BOOST_TEST(r.message == "keel_ffi_callback: expected a signature from keel_ffi_signature; given: #f");
}

BOOST_AUTO_TEST_CASE(dropped_callbacks_are_collected_and_live_ones_keep_working) {
  static int factor = 5;
  Scheme_Object* sig = Signature({"int32"}, "int32");
  Scheme_Object* keep = nullptr;
  Registered reg(sig, keep);
  keep = keel_ffi_callback(Scale, &factor, sig);
  for (int i = 0; i < 2000; ++i) keel_ffi_callback(Scale, &factor, sig);  // dropped at once
  keel_test::CollectClean();
  keel_test::CollectClean();
  auto apply_int = TestCFn<int (*)(int (*)(int), int)>("apply_int");
  BOOST_TEST(apply_int(reinterpret_cast<int (*)(int)>(keel_ffi_pointer(keep)), 8) == 41);
}

BOOST_AUTO_TEST_SUITE_END()
