// types_test.cpp: type tags (scheme_make_type, scheme_get_type_name, the 512-tag limit) and how
// every kind of value prints with scheme_write_to_string and scheme_display_to_string.
// Variant-neutral: every local that holds a Scheme object across an allocation is registered
// (keel_test::Registered), so the tests run on 3m, whose objects move, as on CGC.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "gc.h"
#include "keel_gc.h"
#include "scheme.h"
#include "support/child_process.h"
#include "support/registered.h"
#include "support/scheme_escape.h"
#include "support/scheme_values.h"

namespace {

using keel_test::Registered;
using keel_test::RunInChild;
using keel_test::RunWithErrorHandler;
using keel_test::Written;

std::string Displayed(Scheme_Object* o) { return scheme_display_to_string(o, nullptr); }

Scheme_Object* Str(const char* s) { return scheme_make_utf8_string(s); }
Scheme_Object* Sym(const char* s) { return scheme_intern_symbol(s); }
Scheme_Object* Int(intptr_t i) { return scheme_make_integer(i); }

struct ExhaustState {
  int made = 0;
  Scheme_Type last = 0;
};

void MakeTypesUntilError(void* data) {
  auto* st = static_cast<ExhaustState*>(data);
  for (;;) {
    st->last = scheme_make_type("<exhaust>");
    ++st->made;
  }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(runtime_types)

BOOST_AUTO_TEST_CASE(standard_type_names) {
  BOOST_TEST(std::string(scheme_get_type_name(scheme_pair_type)) == "<pair>");
  BOOST_TEST(std::string(scheme_get_type_name(scheme_symbol_type)) == "<symbol>");
  BOOST_TEST(std::string(scheme_get_type_name(scheme_namespace_type)) == "<namespace>");
  BOOST_TEST(scheme_get_type_name(-1) == nullptr);
  BOOST_TEST(scheme_get_type_name(KEEL_MAX_TYPE_TAGS) == nullptr);
  BOOST_TEST(scheme_get_type_name(_scheme_last_normal_type_ + 1) == nullptr);
}

BOOST_AUTO_TEST_CASE(made_types_are_distinct_and_named) {
  char name[] = "<widget>";
  Scheme_Type t1 = scheme_make_type(name);
  std::strcpy(name, "<gadget>");  // the registry keeps its own copy
  Scheme_Type t2 = scheme_make_type(name);
  BOOST_TEST(t1 >= _scheme_last_type_);
  BOOST_TEST(t1 < KEEL_MAX_TYPE_TAGS);
  BOOST_TEST(t1 != t2);
  BOOST_TEST(std::string(scheme_get_type_name(t1)) == "<widget>");
  BOOST_TEST(std::string(scheme_get_type_name(t2)) == "<gadget>");

  // An object of a new type prints with its name. It holds no pointers, so it is allocated the
  // way Racket allocates such tagged objects (scheme_malloc_small_atomic_tagged): no traversers
  // are needed for its tag, which a precise collection that meets a scanned tagged object asks
  // for (docs/gc3m.md).
  Scheme_Object* o = nullptr;
  Registered reg(o);
  o = static_cast<Scheme_Object*>(scheme_malloc_small_atomic_tagged(sizeof(Scheme_Simple_Object)));
  std::memset(o, 0, sizeof(Scheme_Simple_Object));  // atomic memory is not zeroed
  o->type = t1;
  BOOST_TEST(Written(o) == "#<widget>");
  Scheme_Type plain = scheme_make_type("plain");
  o->type = plain;
  BOOST_TEST(Written(o) == "#<plain>");
}

BOOST_AUTO_TEST_CASE(make_type_from_threads) {
  constexpr int kThreads = 4, kEach = 6;
  std::vector<Scheme_Type> tags(kThreads * kEach);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&tags, t] {
      for (int i = 0; i < kEach; ++i) tags[t * kEach + i] = scheme_make_type("<threaded>");
    });
  }
  for (auto& th : threads) th.join();
  std::set<Scheme_Type> distinct(tags.begin(), tags.end());
  BOOST_TEST(distinct.size() == tags.size());
}

// Exhausting the tags is process-global, so it runs in a child.
BOOST_AUTO_TEST_CASE(tag_limit_is_a_clear_error) {
  auto child = RunInChild([] {
    keel_test::ChildChecks checks;
    ExhaustState st;
    auto r = RunWithErrorHandler(MakeTypesUntilError, &st);
    KEEL_CHILD_CHECK(checks, r.escaped);
    KEEL_CHILD_CHECK(checks, st.made > 0);
    KEEL_CHILD_CHECK(checks, st.last == KEEL_MAX_TYPE_TAGS - 1);
    KEEL_CHILD_CHECK(checks,
                     r.message == "scheme_make_type: no more type tags (limit 512) for <exhaust>");
    KEEL_CHILD_CHECK(checks, std::string(scheme_get_type_name(st.last)) == "<exhaust>");
    auto again = RunWithErrorHandler(MakeTypesUntilError, &st);
    KEEL_CHILD_CHECK(checks, again.escaped);
    return checks.ExitCode();
  });
  BOOST_TEST(child.ExitedWith(0), child.Describe());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(runtime_printing)

BOOST_AUTO_TEST_CASE(atoms) {
  BOOST_TEST(Written(Int(-42)) == "-42");
  BOOST_TEST(Written(scheme_make_integer_value(INTPTR_MIN)) == "-9223372036854775808");
  BOOST_TEST(Written(scheme_true) == "#t");
  BOOST_TEST(Written(scheme_false) == "#f");
  BOOST_TEST(Written(scheme_null) == "()");
  BOOST_TEST(Written(scheme_void) == "#<void>");
  BOOST_TEST(Written(scheme_eof) == "#<eof>");
  BOOST_TEST(Written(scheme_make_cptr(nullptr, nullptr)) == "#<cpointer>");
  BOOST_TEST(Written(reinterpret_cast<Scheme_Object*>(scheme_current_thread)) == "#<thread>");
}

BOOST_AUTO_TEST_CASE(doubles) {
  BOOST_TEST(Written(scheme_make_double(1.0)) == "1.0");
  BOOST_TEST(Written(scheme_make_double(-2.5)) == "-2.5");
  BOOST_TEST(Written(scheme_make_double(0.1)) == "0.1");
  BOOST_TEST(Written(scheme_make_double(-0.0)) == "-0.0");
  BOOST_TEST(Written(scheme_make_double(1e21)) == "1e+21");
  BOOST_TEST(Written(scheme_make_double(1e-7)) == "1e-07");
  BOOST_TEST(Written(scheme_make_double(123456.0)) == "123456.0");
  BOOST_TEST(Written(scheme_make_double(0.1 + 0.2)) == "0.30000000000000004");
  BOOST_TEST(Written(scheme_make_double(INFINITY)) == "+inf.0");
  BOOST_TEST(Written(scheme_make_double(-INFINITY)) == "-inf.0");
  BOOST_TEST(Written(scheme_make_double(NAN)) == "+nan.0");
}

BOOST_AUTO_TEST_CASE(characters) {
  BOOST_TEST(Written(scheme_make_char('a')) == "#\\a");
  BOOST_TEST(Written(scheme_make_char(' ')) == "#\\space");
  BOOST_TEST(Written(scheme_make_char('\n')) == "#\\newline");
  BOOST_TEST(Written(scheme_make_char(0)) == "#\\nul");
  BOOST_TEST(Written(scheme_make_char(1)) == "#\\u0001");
  BOOST_TEST(Written(scheme_make_char(0x3BB)) == "#\\\xCE\xBB");
  BOOST_TEST(Displayed(scheme_make_char(0x3BB)) == "\xCE\xBB");
  BOOST_TEST(Displayed(scheme_make_char('a')) == "a");
}

BOOST_AUTO_TEST_CASE(strings_and_bytes) {
  BOOST_TEST(Written(Str("a\"b\\c\n\t\x01 \xCE\xBB")) == "\"a\\\"b\\\\c\\n\\t\\u0001 \xCE\xBB\"");
  BOOST_TEST(Displayed(Str("a\"b\n")) == "a\"b\n");
  char raw[] = {'a', '"', '\0', '\n', '\xFF', '7'};
  Scheme_Object* b = nullptr;
  Registered reg(b);
  b = scheme_make_sized_byte_string(raw, sizeof raw, 1);
  BOOST_TEST(Written(b) == "#\"a\\\"\\0\\n\\3777\"");
  BOOST_TEST(Displayed(scheme_make_byte_string("xyz")) == "xyz");
  // write of a string with an embedded NUL keeps its length.
  intptr_t len = 0;
  scheme_display_to_string(scheme_make_sized_utf8_string("a\0b", 3), &len);
  BOOST_TEST(len == 3);
}

BOOST_AUTO_TEST_CASE(symbols) {
  BOOST_TEST(Written(Sym("hello")) == "hello");
  BOOST_TEST(Written(Sym("a b")) == "|a b|");
  BOOST_TEST(Written(Sym("")) == "||");
  BOOST_TEST(Written(Sym("42")) == "|42|");
  BOOST_TEST(Written(Sym("-1.5e3")) == "|-1.5e3|");
  BOOST_TEST(Written(Sym("+")) == "+");
  BOOST_TEST(Written(Sym("...")) == "...");
  BOOST_TEST(Written(Sym("#%app")) == "#%app");
  BOOST_TEST(Written(Sym("#x")) == "|#x|");
  BOOST_TEST(Written(Sym("a|b")) == "a\\|b");
  BOOST_TEST(Displayed(Sym("a b")) == "a b");
}

BOOST_AUTO_TEST_CASE(compound) {
  Scheme_Object *l = nullptr, *item = nullptr, *v = nullptr;
  Registered reg(l, item, v);
  // One allocation per statement: an argument evaluated before another argument's allocation
  // would be stale by the call.
  item = Sym("three");
  l = scheme_make_pair(item, scheme_null);
  item = Str("two");
  l = scheme_make_pair(item, l);
  l = scheme_make_pair(Int(1), l);
  BOOST_TEST(Written(l) == "(1 \"two\" three)");
  BOOST_TEST(Displayed(l) == "(1 two three)");
  BOOST_TEST(Written(scheme_make_pair(Int(1), Int(2))) == "(1 . 2)");
  BOOST_TEST(Written(scheme_make_pair(Int(1), scheme_make_pair(Int(2), Int(3)))) == "(1 2 . 3)");
  BOOST_TEST(Written(scheme_make_mutable_pair(Int(1), Int(2))) == "{1 . 2}");
  v = scheme_make_vector(3, Int(0));
  item = scheme_make_pair(scheme_null, scheme_null);
  SCHEME_VEC_ELS(v)[1] = item;
  BOOST_TEST(Written(v) == "#(0 (()) 0)");
  BOOST_TEST(Written(scheme_make_vector(0, nullptr)) == "#()");
  BOOST_TEST(Written(scheme_box(scheme_make_char('x'))) == "#&#\\x");
}

BOOST_AUTO_TEST_CASE(cycles_and_depth_are_bounded) {
  Scheme_Object *cyc = nullptr, *box = nullptr, *deep = scheme_null;
  Registered reg(cyc, box, deep);
  cyc = scheme_make_pair(Int(1), scheme_make_pair(Int(2), scheme_null));
  SCHEME_CDR(SCHEME_CDR(cyc)) = cyc;
  BOOST_TEST(Written(cyc) == "#0=(1 2 . #0#)");

  box = scheme_box(scheme_null);
  SCHEME_SET_BOX(box, box);
  BOOST_TEST(Written(box) == "#0=#&#0#");

  for (int i = 0; i < 100000; ++i) deep = scheme_make_pair(deep, scheme_null);
  BOOST_TEST(Written(deep).find("...") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
