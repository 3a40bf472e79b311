// objects_test.cpp: the value constructors of scheme.h as extension code uses them (constants,
// pairs, chars, strings, vectors, boxes, doubles, C pointers, symbols, integers, equal?, the
// basic namespace), and what each payload keeps alive across collections. Locals that hold
// objects across an allocation are registered (keel_test::Registered), so the same tests run on
// 3m, whose objects move, as on CGC (docs/gc3m.md).
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "gc.h"
#include "keel_gc.h"
#include "scheme.h"
#include "support/gc_probe.h"
#include "support/registered.h"
#include "support/scheme_escape.h"

namespace {

using keel_test::CollectClean;
using keel_test::Hidden;
using keel_test::Registered;
using keel_test::RunWithErrorHandler;
using keel_test::WasFreed;

std::string Written(Scheme_Object* o) {
  intptr_t len = 0;
  char* s = scheme_write_to_string(o, &len);
  return std::string(s, static_cast<size_t>(len));
}

Scheme_Object* List3(Scheme_Object* a, Scheme_Object* b, Scheme_Object* c) {
  Scheme_Object* l = nullptr;
  Registered reg(a, b, c, l);
  l = scheme_make_pair(c, scheme_null);
  l = scheme_make_pair(b, l);
  l = scheme_make_pair(a, l);
  return l;
}

// scheme_equal of two fresh objects, the first kept registered while the second is made.
template <class MakeA, class MakeB>
bool EqualOf(MakeA make_a, MakeB make_b) {
  Scheme_Object *a = nullptr, *b = nullptr;
  Registered reg(a, b);
  a = make_a();
  b = make_b();
  return scheme_equal(a, b) != 0;
}

// Builds and drops `n` symbols named prefix0, prefix1, ...; every 100th is recorded (hidden)
// in `samples` when given.
KEEL_TEST_NOINLINE void InternAndDrop(const char* prefix, int n,
                                      std::vector<Hidden>* samples = nullptr) {
  for (int i = 0; i < n; ++i) {
    std::string name = prefix + std::to_string(i);
    Scheme_Object* sym = scheme_intern_symbol(name.c_str());
    if (samples != nullptr && i % 100 == 0) samples->push_back(Hidden(sym));
  }
}

// An atomic payload holding the only copy of an address must not keep its target alive. The
// target first lives through a collection (registered): under 3m it then has left the nursery,
// so the probe tests an address a collection could have kept (a nursery address reads as freed
// after any collection); the payload gets the target's current address.
KEEL_TEST_NOINLINE Scheme_Object* ByteStringHoldingAddress(Hidden* target) {
  void* t = nullptr;
  Scheme_Object* s = nullptr;
  Registered reg(t, s);
  t = scheme_malloc(64);
  s = scheme_alloc_byte_string(sizeof(void*), 0);
  scheme_collect_garbage();
  std::memcpy(SCHEME_BYTE_STR_VAL(s), &t, sizeof t);
  *target = Hidden(t);
  return s;
}

KEEL_TEST_NOINLINE Scheme_Object* BignumHoldingAddress(Hidden* target) {
  void* t = nullptr;
  Registered reg(t);
  t = scheme_malloc(64);
  scheme_collect_garbage();
  // 2^64 + address: the low limb is the address.
  unsigned __int128 v = (static_cast<unsigned __int128>(1) << 64) + reinterpret_cast<uintptr_t>(t);
  char digits[48];
  int n = 0;
  for (; v != 0; v /= 10) digits[n++] = static_cast<char>('0' + static_cast<int>(v % 10));
  char text[48];
  for (int i = 0; i < n; ++i) text[i] = digits[n - 1 - i];
  text[n] = '\0';
  Scheme_Object* big = scheme_read_bignum_bytes(text, 0, 10);
  *target = Hidden(t);
  return big;
}

// (list "x" (vector 1.5 1.5) (box #"b")), each part registered while the next is made.
Scheme_Object* MakeSample() {
  Scheme_Object *x = nullptr, *v = nullptr, *bx = nullptr;
  Registered reg(x, v, bx);
  x = scheme_make_utf8_string("x");
  bx = scheme_make_double(1.5);
  v = scheme_make_vector(2, bx);
  bx = scheme_make_byte_string("b");
  bx = scheme_box(bx);
  return List3(x, v, bx);
}

void MakeNegativeVector(void*) { scheme_make_vector(-1, scheme_null); }
void MakeHugeVector(void*) { scheme_make_vector(PTRDIFF_MAX / 4, scheme_null); }
void AppendNonString(void*) { scheme_append_char_string(scheme_null, scheme_null); }
void ReadBignumNullBytes(void*) { scheme_read_bignum_bytes(nullptr, 0, 10); }
void ReadBignumNullChars(void*) { scheme_read_bignum(nullptr, 0, 10); }
void ReadBignumNegativeOffset(void*) { scheme_read_bignum_bytes("12", -1, 10); }

}  // namespace

BOOST_FIXTURE_TEST_SUITE(runtime_objects, keel_test::CleanStackFixture)

BOOST_AUTO_TEST_CASE(constants_have_their_tags) {
  BOOST_TEST(SCHEME_TYPE(scheme_true) == scheme_true_type);
  BOOST_TEST(SCHEME_TYPE(scheme_false) == scheme_false_type);
  BOOST_TEST(SCHEME_TYPE(scheme_null) == scheme_null_type);
  BOOST_TEST(SCHEME_TYPE(scheme_void) == scheme_void_type);
  BOOST_TEST(SCHEME_TYPE(scheme_eof) == scheme_eof_type);
  BOOST_TEST(SCHEME_FALSEP(scheme_make_boolean(0)));
  BOOST_TEST(SCHEME_TRUEP(scheme_null));  // only #f is false
  BOOST_TEST(SCHEME_INT_VAL(scheme_make_integer(-42)) == -42);
  BOOST_TEST(SCHEME_TYPE(scheme_make_integer(7)) == scheme_integer_type);
}

BOOST_AUTO_TEST_CASE(pairs_and_lists) {
  Scheme_Object *l = nullptr, *m = nullptr, *cyc = nullptr;
  Registered reg(l, m, cyc);
  l = List3(scheme_make_integer(1), scheme_make_integer(2), scheme_make_integer(3));
  BOOST_TEST(SCHEME_PAIRP(l));
  BOOST_TEST(SCHEME_INT_VAL(SCHEME_CADR(l)) == 2);
  BOOST_TEST(scheme_list_length(l) == 3);
  BOOST_TEST(scheme_list_length(scheme_null) == 0);
  BOOST_TEST(scheme_list_length(scheme_make_pair(scheme_true, scheme_false)) == -1);
  m = scheme_make_mutable_pair(scheme_true, scheme_null);
  BOOST_TEST(SCHEME_MUTABLE_PAIRP(m));
  BOOST_TEST(!SCHEME_PAIRP(m));
  cyc = List3(scheme_true, scheme_true, scheme_true);
  SCHEME_CDR(SCHEME_CDDR(cyc)) = cyc;
  BOOST_TEST(scheme_list_length(cyc) == -1);
}

BOOST_AUTO_TEST_CASE(long_list_survives_collections) {
  Scheme_Object* l = scheme_null;
  Registered reg(l);
  for (int i = 0; i < 100000; ++i) l = scheme_make_pair(scheme_make_integer(i), l);
  keel_test::AllocateGarbage();
  scheme_collect_garbage();
  BOOST_TEST(scheme_list_length(l) == 100000);
  intptr_t expect = 99999;
  bool ok = true;
  for (Scheme_Object* p = l; SCHEME_PAIRP(p); p = SCHEME_CDR(p))
    ok = ok && SCHEME_INT_VAL(SCHEME_CAR(p)) == expect--;
  BOOST_TEST(ok);
}

BOOST_AUTO_TEST_CASE(characters) {
  BOOST_TEST(scheme_make_char('a') == scheme_make_char('a'));  // static below 256
  BOOST_TEST(SCHEME_CHAR_VAL(scheme_make_char(0xFF)) == 0xFFu);
  Scheme_Object* lambda = nullptr;
  Registered reg(lambda);
  lambda = scheme_make_char(0x3BB);
  BOOST_TEST(SCHEME_CHARP(lambda));
  BOOST_TEST(SCHEME_CHAR_VAL(lambda) == 0x3BBu);
  BOOST_TEST(EqualOf([&] { return lambda; }, [] { return scheme_make_char(0x3BB); }));
}

BOOST_AUTO_TEST_CASE(utf8_strings_decode) {
  Scheme_Object *s = nullptr, *bad = nullptr, *nul = nullptr;
  Registered reg(s, bad, nul);
  s = scheme_make_utf8_string("h\xC3\xA9llo \xCE\xBB \xF0\x9F\x98\x80");
  BOOST_TEST(SCHEME_CHAR_STRINGP(s));
  BOOST_TEST(SCHEME_CHAR_STRLEN_VAL(s) == 9);
  const mzchar* c = SCHEME_CHAR_STR_VAL(s);
  BOOST_TEST(c[1] == 0xE9u);
  BOOST_TEST(c[6] == 0x3BBu);
  BOOST_TEST(c[8] == 0x1F600u);
  BOOST_TEST(c[9] == 0u);  // NUL-terminated

  // Invalid input: a stray continuation, an overlong '/', a surrogate, a truncated sequence.
  bad = scheme_make_sized_utf8_string(
      "a\x80"
      "b\xC0\xAF"
      "c\xED\xA0\x80"
      "d\xE2\x82",
      12);
  const mzchar expect[] = {'a',    0xFFFD, 'b',    0xFFFD, 0xFFFD, 'c',
                           0xFFFD, 0xFFFD, 0xFFFD, 'd',    0xFFFD, 0xFFFD};
  BOOST_TEST(SCHEME_CHAR_STRLEN_VAL(bad) == 12);
  BOOST_TEST(std::memcmp(SCHEME_CHAR_STR_VAL(bad), expect, sizeof expect) == 0);

  nul = scheme_make_sized_utf8_string("a\0b", 3);
  BOOST_TEST(SCHEME_CHAR_STRLEN_VAL(nul) == 3);
  BOOST_TEST(SCHEME_CHAR_STR_VAL(nul)[1] == 0u);
}

BOOST_AUTO_TEST_CASE(char_strings) {
  mzchar text[] = {'a', 0x3BB, 'z', 0};
  Scheme_Object *copied = nullptr, *shared = nullptr, *filled = nullptr, *both = nullptr, *bytes = nullptr;
  Registered reg(copied, shared, filled, both, bytes);
  copied = scheme_make_sized_char_string(text, 3, 1);
  shared = scheme_make_sized_char_string(text, -1, 0);
  BOOST_TEST(SCHEME_CHAR_STR_VAL(copied) != text);
  BOOST_TEST(SCHEME_CHAR_STR_VAL(shared) == text);
  BOOST_TEST(SCHEME_CHAR_STRLEN_VAL(shared) == 3);
  BOOST_TEST(EqualOf([&] { return copied; }, [&] { return scheme_make_char_string(text); }));

  filled = scheme_alloc_char_string(4, 'x');
  BOOST_TEST(Written(filled) == "\"xxxx\"");
  both = scheme_append_char_string(copied, filled);
  BOOST_TEST(SCHEME_CHAR_STRLEN_VAL(both) == 7);
  BOOST_TEST(SCHEME_CHAR_STR_VAL(both)[7] == 0u);
  bytes = scheme_char_string_to_byte_string(both);
  BOOST_TEST(SCHEME_BYTE_STRINGP(bytes));
  // A copy of the text: a pointer into `bytes` would be stale once an allocation moved it.
  const std::string utf8 = SCHEME_BYTE_STR_VAL(bytes);
  BOOST_TEST(utf8 == "a\xCE\xBBzxxxx");
  BOOST_TEST(EqualOf([&] { return scheme_make_utf8_string(utf8.c_str()); }, [&] { return both; }));
  BOOST_TEST(SCHEME_CHAR_STRLEN_VAL(scheme_alloc_char_string(0, 'q')) == 0);

  auto r = RunWithErrorHandler(AppendNonString, nullptr);
  BOOST_TEST(r.escaped);
  BOOST_TEST(r.message.find("scheme_append_char_string") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(byte_strings) {
  Scheme_Object *b = nullptr, *sized = nullptr, *filled = nullptr;
  Registered reg(b, sized, filled);
  b = scheme_make_byte_string("hello");
  BOOST_TEST(SCHEME_BYTE_STRLEN_VAL(b) == 5);
  BOOST_TEST(SCHEME_BYTE_STR_VAL(b)[5] == '\0');
  char raw[] = {'x', '\0', 'y'};
  sized = scheme_make_sized_byte_string(raw, 3, 1);
  BOOST_TEST(SCHEME_BYTE_STRLEN_VAL(sized) == 3);
  BOOST_TEST(static_cast<void*>(SCHEME_BYTE_STR_VAL(sized)) != static_cast<void*>(raw));
  BOOST_TEST(SCHEME_BYTE_STR_VAL(sized)[2] == 'y');
  filled = scheme_alloc_byte_string(3, 'z');
  BOOST_TEST(std::string(SCHEME_BYTE_STR_VAL(filled)) == "zzz");
}

BOOST_AUTO_TEST_CASE(vectors) {
  Scheme_Object *empty = nullptr, *v = nullptr, *s = nullptr;
  Registered reg(empty, v, s);
  empty = scheme_make_vector(0, scheme_null);
  BOOST_TEST(SCHEME_VECTORP(empty));
  BOOST_TEST(SCHEME_VEC_SIZE(empty) == 0);
  v = scheme_make_vector(1000, scheme_true);
  BOOST_TEST(SCHEME_VEC_SIZE(v) == 1000);
  BOOST_TEST(SCHEME_VEC_ELS(v)[999] == scheme_true);
  for (int i = 0; i < 1000; ++i) {
    s = scheme_make_utf8_string(std::to_string(i).c_str());
    SCHEME_VEC_ELS(v)[i] = s;  // v read after the allocation: its current address
  }
  s = nullptr;
  keel_test::AllocateGarbage();
  scheme_collect_garbage();
  BOOST_TEST(Written(SCHEME_VEC_ELS(v)[123]) == "\"123\"");

  auto neg = RunWithErrorHandler(MakeNegativeVector, nullptr);
  BOOST_TEST(neg.escaped);
  BOOST_TEST(!neg.out_of_memory);
  BOOST_TEST(neg.message.find("scheme_make_vector") != std::string::npos);
  auto huge = RunWithErrorHandler(MakeHugeVector, nullptr);
  BOOST_TEST(huge.escaped);
  BOOST_TEST(huge.out_of_memory);
}

BOOST_AUTO_TEST_CASE(boxes_doubles_cpointers) {
  Scheme_Object *b = nullptr, *d = nullptr, *tag = nullptr, *p = nullptr;
  Registered reg(b, d, tag, p);
  b = scheme_box(scheme_make_integer(5));
  BOOST_TEST(SCHEME_BOXP(b));
  SCHEME_SET_BOX(b, scheme_false);
  BOOST_TEST(SCHEME_BOX_VAL(b) == scheme_false);
  d = scheme_make_double(2.5);
  BOOST_TEST(SCHEME_DBLP(d));
  BOOST_TEST(SCHEME_DBL_VAL(d) == 2.5);
  int x = 0;
  tag = scheme_intern_symbol("my-tag");
  p = scheme_make_cptr(&x, tag);
  BOOST_TEST(SCHEME_CPTRP(p));
  BOOST_TEST(SCHEME_CPTR_VAL(p) == &x);
  BOOST_TEST(SCHEME_CPTR_TYPE(p) == tag);
}

BOOST_AUTO_TEST_CASE(symbols_are_interned) {
  Scheme_Object *a = nullptr, *with_nul = nullptr;
  Registered reg(a, with_nul);
  a = scheme_intern_symbol("apple");
  BOOST_TEST(SCHEME_SYMBOLP(a));
  BOOST_TEST(std::string(SCHEME_SYM_VAL(a)) == "apple");
  BOOST_TEST(SCHEME_SYM_LEN(a) == 5);
  BOOST_TEST(scheme_intern_exact_symbol("apple", 5) == a);
  with_nul = scheme_intern_exact_symbol("app\0le", 6);
  BOOST_TEST(with_nul != a);
  BOOST_TEST(SCHEME_SYM_LEN(with_nul) == 6);
  BOOST_TEST(scheme_intern_exact_symbol("", 0) == scheme_intern_symbol(""));
}

BOOST_AUTO_TEST_CASE(symbol_table_is_weak) {
  std::vector<Hidden> samples;
  InternAndDrop("weak-sym-", 20000, &samples);
  CollectClean();
  // A stale stack slot may retain one symbol by accident; the table must retain none.
  size_t freed = 0;
  for (const Hidden& h : samples) freed += WasFreed(h) ? 1 : 0;
  BOOST_TEST(freed + 2 >= samples.size(), "the symbol table kept unreachable symbols alive");
  // Held symbols stay eq; dropped names intern afresh with the right text.
  Scheme_Object* held = nullptr;
  Registered reg(held);
  held = scheme_intern_symbol("held-symbol");
  InternAndDrop("weak-sym-", 20000);
  CollectClean();
  InternAndDrop("other-sym-", 20000);
  CollectClean();
  BOOST_TEST(scheme_intern_symbol("held-symbol") == held);
  bool ok = true;
  for (int i = 0; i < 20000; i += 97) {
    std::string name = "weak-sym-" + std::to_string(i);
    Scheme_Object* s = nullptr;
    Registered reg_s(s);
    s = scheme_intern_symbol(name.c_str());
    // A stale table entry would hand back a freed slot: GC_base says whether it is live.
    ok = ok && GC_base(s) == s && name == SCHEME_SYM_VAL(s) &&
         SCHEME_SYM_LEN(s) == static_cast<intptr_t>(name.size()) &&
         scheme_intern_symbol(name.c_str()) == s;
  }
  BOOST_TEST(ok);
}

BOOST_AUTO_TEST_CASE(atomic_payloads_retain_nothing) {
  Hidden via_bytes, via_bignum;
  Scheme_Object *bytes = nullptr, *big = nullptr;
  Registered reg(bytes, big);
  bytes = ByteStringHoldingAddress(&via_bytes);
  big = BignumHoldingAddress(&via_bignum);
  BOOST_TEST(SCHEME_BIGNUMP(big));
  CollectClean();
  KEEL_CHECK_FREED(WasFreed(via_bytes), "byte string data was scanned for pointers");
  KEEL_CHECK_FREED(WasFreed(via_bignum), "bignum digits were scanned for pointers");
  BOOST_TEST(SCHEME_BYTE_STRLEN_VAL(bytes) == static_cast<intptr_t>(sizeof(void*)));
  BOOST_TEST(SCHEME_BIGLEN(big) == 2);
}

BOOST_AUTO_TEST_CASE(integers_and_bignums) {
  BOOST_TEST(SCHEME_INTP(scheme_make_integer_value(SCHEME_MAX_FIXNUM)));
  BOOST_TEST(SCHEME_INTP(scheme_make_integer_value(SCHEME_MIN_FIXNUM)));
  Scheme_Object *big = nullptr, *small = nullptr, *umax = nullptr, *r = nullptr, *w = nullptr;
  Registered reg(big, small, umax, r, w);
  big = scheme_make_integer_value(INTPTR_MAX);
  small = scheme_make_integer_value(INTPTR_MIN);
  BOOST_TEST(SCHEME_BIGNUMP(big));
  BOOST_TEST(SCHEME_BIGNUMP(small));
  BOOST_TEST(!SCHEME_BIGPOS(small));
  intptr_t v = 0;
  BOOST_TEST(scheme_get_int_val(big, &v));
  BOOST_TEST(v == INTPTR_MAX);
  BOOST_TEST(scheme_get_int_val(small, &v));
  BOOST_TEST(v == INTPTR_MIN);
  BOOST_TEST(std::string(scheme_bignum_to_string(small, 10)) == "-9223372036854775808");
  umax = scheme_make_integer_value_from_unsigned(UINTPTR_MAX);
  BOOST_TEST(!scheme_get_int_val(umax, &v));
  BOOST_TEST(std::string(scheme_bignum_to_string(umax, 16)) == "ffffffffffffffff");
  BOOST_TEST(SCHEME_INTP(scheme_make_integer_value_from_unsigned(12)));

  const char* text = "-123456789012345678901234567890123456789";
  r = scheme_read_bignum_bytes(text, 0, 10);
  BOOST_TEST(SCHEME_BIGNUMP(r));
  BOOST_TEST(std::string(scheme_bignum_to_string(r, 10)) == text);
  BOOST_TEST(EqualOf([&] { return r; }, [&] { return scheme_read_bignum_bytes(text, 0, 10); }));
  BOOST_TEST(!EqualOf([&] { return r; }, [&] { return scheme_read_bignum_bytes(text + 1, 0, 10); }));
  BOOST_TEST(scheme_read_bignum_bytes("xx+42", 2, 10) == scheme_make_integer(42));  // normalized
  BOOST_TEST(scheme_read_bignum_bytes("-000", 0, 10) == scheme_make_integer(0));
  BOOST_TEST(scheme_read_bignum_bytes("1F", 0, 16) == scheme_make_integer(31));
  BOOST_TEST(scheme_read_bignum_bytes("777", 0, 8) == scheme_make_integer(511));
  BOOST_TEST(scheme_read_bignum_bytes("12", 0, 2) == scheme_false);
  BOOST_TEST(scheme_read_bignum_bytes("", 0, 10) == scheme_false);
  BOOST_TEST(scheme_read_bignum_bytes("-", 0, 10) == scheme_false);
  BOOST_TEST(scheme_read_bignum_bytes("1 2", 0, 10) == scheme_false);
  mzchar wide[] = {'-', '1', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0',
                   '0', '0', '0', '0', '0', '0', 0};
  w = scheme_read_bignum(wide, 0, 10);
  BOOST_TEST(std::string(scheme_bignum_to_string(w, 10)) == "-100000000000000000000");
  BOOST_TEST(std::string(scheme_bignum_to_string(w, 2)).size() == 68u);  // '-' and 67 bits
  BOOST_TEST(std::string(scheme_bignum_to_string(scheme_make_integer(-255), 16)) == "-ff");
  BOOST_TEST(std::string(scheme_bignum_to_string(scheme_make_integer(0), 10)) == "0");
}

// docs/api.md: a NULL string is a caller error that raises; only text that is not an integer
// gives #f.
BOOST_AUTO_TEST_CASE(reading_a_bignum_from_null_raises) {
  auto bytes = RunWithErrorHandler(ReadBignumNullBytes, nullptr);
  BOOST_TEST(bytes.escaped);
  BOOST_TEST(!bytes.out_of_memory);
  BOOST_TEST(bytes.message == "scheme_read_bignum_bytes: the string is NULL");
  auto chars = RunWithErrorHandler(ReadBignumNullChars, nullptr);
  BOOST_TEST(chars.escaped);
  BOOST_TEST(chars.message == "scheme_read_bignum: the string is NULL");
  auto offset = RunWithErrorHandler(ReadBignumNegativeOffset, nullptr);
  BOOST_TEST(offset.escaped);
  BOOST_TEST(offset.message == "scheme_read_bignum_bytes: offset must be non-negative, given -1");
}

BOOST_AUTO_TEST_CASE(equal_is_structural) {
  Scheme_Object *a = nullptr, *b = nullptr, *c1 = nullptr, *c2 = nullptr;
  Registered reg(a, b, c1, c2);
  a = MakeSample();
  b = MakeSample();
  BOOST_TEST(!scheme_eq(a, b));
  BOOST_TEST(scheme_equal(a, b));
  Scheme_Object* c = nullptr;
  Registered reg_c(c);
  c = scheme_make_byte_string("c");
  SCHEME_SET_BOX(SCHEME_CAR(SCHEME_CDDR(b)), c);
  BOOST_TEST(!scheme_equal(a, b));
  BOOST_TEST(EqualOf([] { return scheme_make_double(NAN); }, [] { return scheme_make_double(NAN); }));
  BOOST_TEST(!EqualOf([] { return scheme_make_double(0.0); }, [] { return scheme_make_double(-0.0); }));
  BOOST_TEST(!EqualOf([] { return scheme_make_integer(1); }, [] { return scheme_make_double(1.0); }));
  BOOST_TEST(!EqualOf([] { return scheme_make_utf8_string("ab"); }, [] { return scheme_make_utf8_string("abc"); }));

  // Cyclic structures terminate.
  c1 = List3(scheme_true, scheme_true, scheme_true);
  c2 = List3(scheme_true, scheme_true, scheme_true);
  SCHEME_CDR(SCHEME_CDDR(c1)) = c1;
  SCHEME_CDR(SCHEME_CDDR(c2)) = c2;
  BOOST_TEST(scheme_equal(c1, c2));
}

BOOST_AUTO_TEST_CASE(basic_env_is_one_namespace) {
  Scheme_Env* env = nullptr;
  Registered reg(env);
  env = scheme_basic_env();
  BOOST_TEST(env != nullptr);
  BOOST_TEST(SCHEME_NAMESPACEP(reinterpret_cast<Scheme_Object*>(env)));
  keel_test::AllocateGarbage();
  CollectClean();
  BOOST_TEST(scheme_basic_env() == env);
  BOOST_TEST(SCHEME_NAMESPACEP(reinterpret_cast<Scheme_Object*>(env)));
  BOOST_TEST(Written(reinterpret_cast<Scheme_Object*>(env)) == "#<namespace>");
}

// A big vector (a tagged big object) that is old when young values are stored into several of
// its pages: the minor collections that scan those written pages trace it with its mark
// procedure, as a whole, and keep and update every value (3m once traced only the written
// page's part, as if it were an object of its own).
BOOST_AUTO_TEST_CASE(a_big_old_vector_keeps_young_values_written_into_it) {
  constexpr intptr_t kSize = 50000;  // 400 KB: a big object
  constexpr intptr_t kStep = 997;
  Scheme_Object *v = nullptr, *x = nullptr;
  Registered reg(v, x);
  v = scheme_make_vector(kSize, scheme_null);
  scheme_collect_garbage();
  for (int round = 0; round < 3; ++round) {
    for (intptr_t i = round; i < kSize; i += kStep) {
      x = scheme_make_pair(scheme_make_integer(i), scheme_make_integer(round));
      SCHEME_VEC_ELS(v)[i] = x;
    }
    keel_gc_collect_minor();
    keel_test::AllocateGarbage();
    keel_gc_collect_minor();
    for (intptr_t i = round; i < kSize; i += kStep) {
      Scheme_Object* e = SCHEME_VEC_ELS(v)[i];
      BOOST_TEST_REQUIRE(SCHEME_PAIRP(e), "round " << round << " index " << i);
      BOOST_TEST_REQUIRE(SCHEME_INT_VAL(SCHEME_CAR(e)) == i);
      BOOST_TEST_REQUIRE(SCHEME_INT_VAL(SCHEME_CDR(e)) == round);
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
