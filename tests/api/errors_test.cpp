// errors_test.cpp: errors and escapes as extension code sees them: scheme_signal_error's
// printf-style formatting (standard directives and Racket's extras), the error_buf protocol,
// out-of-memory escapes, the message and exit without a handler, and keel_current_thread.
#include <boost/test/unit_test.hpp>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>

#include "gc.h"
#include "keel_gc.h"
#include "scheme.h"
#include "support/child_process.h"
#include "support/registered.h"
#include "support/scheme_escape.h"

namespace {

using keel_test::RunInChild;
using keel_test::RunWithErrorHandler;

// Each case formats one message; the body runs under RunWithErrorHandler.
#define KEEL_SIGNAL_CASE(name, ...) \
  void name(void*) { scheme_signal_error(__VA_ARGS__); }

KEEL_SIGNAL_CASE(Integers, "%d|%5d|%-5d|%05d|%+d|%i|%u|%x|%X|%#o|%o", -7, 42, 42, 42, 3, 9,
                 4000000000u, 255u, 255u, 8u, 8u)
KEEL_SIGNAL_CASE(Lengths, "%hhd|%hd|%ld|%lld|%jd|%zu|%td|%llx|%hu", 300, 70000, -5L, -6LL,
                 static_cast<intmax_t>(-7), static_cast<size_t>(8), static_cast<ptrdiff_t>(-9),
                 0xABCDEF0123ULL, 65537)
KEEL_SIGNAL_CASE(Floats, "%.2f|%8.3f|%E|%g|%G|%a|%Lf", 3.14159, 2.5, 1500.0, 0.0001, 1e-10, 1.0,
                 static_cast<long double>(0.5))
KEEL_SIGNAL_CASE(StarsAndStrings, "%*d|%-*d|%.*s|%s|%10s|%-4s|%%|%.1s", 4, 7, 4, 7, 3, "abcdef",
                 "plain", "right", "l", "xyz")
KEEL_SIGNAL_CASE(Chars, "%c%c%c|%3c", static_cast<mzchar>('a'), static_cast<mzchar>(0x3BB),
                 static_cast<mzchar>(0x1F600), static_cast<mzchar>('z'))
KEEL_SIGNAL_CASE(Errno, "open: %e", ENOENT)
KEEL_SIGNAL_CASE(Quoted, "name %q", "a\"b\n")
KEEL_SIGNAL_CASE(UnknownDirective, "odd %k and %")

// Each value is made and registered before the next allocation (3m moves unregistered ones).
void Values(void*) {
  Scheme_Object* s = nullptr;
  Scheme_Object* l = nullptr;
  Scheme_Object* hi = nullptr;
  keel_test::Registered reg(s, l, hi);
  l = scheme_make_pair(scheme_intern_symbol("x"), scheme_null);
  s = scheme_make_utf8_string("s");
  l = scheme_make_pair(s, l);
  hi = scheme_make_utf8_string("hi");
  scheme_signal_error("V=%V S=%S D=%D", l, hi, hi);
}

void Pointer(void* p) { scheme_signal_error("%p", p); }

struct Counts {
  int n = -1;
  long ln = -1;
};
void CountWritten(void* data) {
  auto* c = static_cast<Counts*>(data);
  scheme_signal_error("abc%n%s%ln", &c->n, "defg", &c->ln);
}

void OutOfMemory(void*) { scheme_raise_out_of_memory("my_alloc", "wanted %d bytes", 100); }
void OutOfMemoryPlain(void*) { scheme_raise_out_of_memory(nullptr, nullptr); }
void Plain(void*) { scheme_signal_error("plain error"); }

std::string Message(void (*fn)(void*), void* arg = nullptr) {
  auto r = RunWithErrorHandler(fn, arg);
  BOOST_TEST(r.escaped);
  return r.message;
}

// A nested handler: the inner escape must not disturb the outer buffer.
void Nested(void* data) {
  auto* inner_message = static_cast<std::string*>(data);
  *inner_message = Message(Plain);
  scheme_signal_error("outer after inner");
}

}  // namespace

BOOST_AUTO_TEST_SUITE(runtime_errors)

BOOST_AUTO_TEST_CASE(current_thread) {
  Scheme_Thread* t = keel_current_thread();
  BOOST_TEST(t != nullptr);
  BOOST_TEST(t == scheme_current_thread);
  BOOST_TEST(SCHEME_TYPE(reinterpret_cast<Scheme_Object*>(t)) == scheme_thread_type);
  BOOST_TEST(t->error_buf == nullptr);  // no handler outside RunWithErrorHandler
}

BOOST_AUTO_TEST_CASE(standard_conversions) {
  BOOST_TEST(Message(Integers) == "-7|   42|42   |00042|+3|9|4000000000|ff|FF|010|10");
  BOOST_TEST(Message(Lengths) == "44|4464|-5|-6|-7|8|-9|abcdef0123|1");
  BOOST_TEST(Message(Floats) == "3.14|   2.500|1.500000E+03|0.0001|1E-10|0x1p+0|0.500000");
  BOOST_TEST(Message(StarsAndStrings) == "   7|7   |abc|plain|     right|l   |%|x");
  char expect[32];
  std::snprintf(expect, sizeof expect, "%p", static_cast<void*>(expect));
  BOOST_TEST(Message(Pointer, expect) == expect);
  Counts c;
  BOOST_TEST(Message(CountWritten, &c) == "abcdefg");
  BOOST_TEST(c.n == 3);
  BOOST_TEST(c.ln == 7);
}

BOOST_AUTO_TEST_CASE(racket_directives) {
  BOOST_TEST(Message(Chars) == "a\xCE\xBB\xF0\x9F\x98\x80|  z");
  BOOST_TEST(Message(Values) == "V=(\"s\" x) S=\"hi\" D=hi");
  std::string e = Message(Errno);
  BOOST_TEST(e.find(std::strerror(ENOENT)) != std::string::npos, e);
  BOOST_TEST(e.find("errno=2") != std::string::npos, e);
  BOOST_TEST(Message(Quoted) == "name \"a\\\"b\\n\"");
  BOOST_TEST(Message(UnknownDirective) == "odd %k and %");
}

BOOST_AUTO_TEST_CASE(out_of_memory_is_flagged) {
  auto oom = RunWithErrorHandler(OutOfMemory, nullptr);
  BOOST_TEST(oom.escaped);
  BOOST_TEST(oom.out_of_memory);
  BOOST_TEST(oom.message == "my_alloc: out of memory wanted 100 bytes");
  auto plain_oom = RunWithErrorHandler(OutOfMemoryPlain, nullptr);
  BOOST_TEST(plain_oom.message == "out of memory");
  auto plain = RunWithErrorHandler(Plain, nullptr);
  BOOST_TEST(!plain.out_of_memory);
  BOOST_TEST(keel_last_error_was_out_of_memory() == 0);
  BOOST_TEST(std::string(keel_last_error_message()) == "plain error");
}

BOOST_AUTO_TEST_CASE(nested_handlers) {
  std::string inner;
  auto outer = RunWithErrorHandler(Nested, &inner);
  BOOST_TEST(inner == "plain error");
  BOOST_TEST(outer.escaped);
  BOOST_TEST(outer.message == "outer after inner");
  BOOST_TEST(scheme_current_thread->error_buf == nullptr);
}

BOOST_AUTO_TEST_CASE(no_handler_prints_and_exits) {
  auto child = RunInChild([] {
    scheme_signal_error("fatal %s %d", "thing", 5);
    return 0;  // not reached
  });
  BOOST_TEST(child.ExitedWith(1), child.Describe());
  BOOST_TEST(child.err == "fatal thing 5\n", child.Describe());
}

BOOST_AUTO_TEST_CASE(shutdown_starts_a_fresh_runtime) {
  auto child = RunInChild([] {
    keel_test::ChildChecks checks;
    Scheme_Object* sym = scheme_intern_symbol("before");
    KEEL_CHILD_CHECK(checks, SCHEME_SYMBOLP(sym));
    auto r = RunWithErrorHandler(Plain, nullptr);
    KEEL_CHILD_CHECK(checks, r.escaped);
    keel_shutdown();
    KEEL_CHILD_CHECK(checks, scheme_current_thread->error_buf == nullptr);
    KEEL_CHILD_CHECK(checks, std::string(keel_last_error_message()).empty());
    Scheme_Object* again = scheme_intern_symbol("before");
    KEEL_CHILD_CHECK(checks, std::string(SCHEME_SYM_VAL(again)) == "before");
    KEEL_CHILD_CHECK(checks, scheme_basic_env() != nullptr);
    return checks.ExitCode();
  });
  BOOST_TEST(child.ExitedWith(0), child.Describe());
}

BOOST_AUTO_TEST_SUITE_END()
