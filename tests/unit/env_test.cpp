// env_test.cpp: the strict parsers behind every environment variable (gc/env.h): whole numbers,
// byte counts with K/M/G/T suffixes and decimal numbers, with their edges: signs, junk, spaces
// and overflow. The variables themselves are tested end to end in tests/api/environment_test.cpp.
#include <boost/test/unit_test.hpp>

#include <cstdint>

#include "gc/env.h"

namespace {

using keel::gc::EnvError;
using keel::gc::ParseBytes;
using keel::gc::ParseCount;
using keel::gc::ParseNumber;

BOOST_AUTO_TEST_SUITE(env_parsers)

BOOST_AUTO_TEST_CASE(whole_numbers) {
  uint64_t n = 7;
  BOOST_TEST((ParseCount("0", &n) == EnvError::kNone && n == 0u));
  BOOST_TEST((ParseCount("0042", &n) == EnvError::kNone && n == 42u));
  BOOST_TEST((ParseCount("18446744073709551615", &n) == EnvError::kNone && n == UINT64_MAX));
  n = 7;
  BOOST_TEST((ParseCount("18446744073709551616", &n) == EnvError::kOverflow));
  BOOST_TEST((ParseCount("99999999999999999999999", &n) == EnvError::kOverflow));
  BOOST_TEST((ParseCount("-1", &n) == EnvError::kSign));
  BOOST_TEST((ParseCount("+1", &n) == EnvError::kSign));
  BOOST_TEST((ParseCount("12abc", &n) == EnvError::kJunk));
  BOOST_TEST((ParseCount("1 ", &n) == EnvError::kJunk));
  BOOST_TEST((ParseCount(" 1", &n) == EnvError::kNotNumber));
  BOOST_TEST((ParseCount("", &n) == EnvError::kNotNumber));
  BOOST_TEST((ParseCount("0x10", &n) == EnvError::kJunk));
  BOOST_TEST(n == 7u, "a failed parse must leave the output alone");
}

BOOST_AUTO_TEST_CASE(byte_counts) {
  uint64_t n = 0;
  BOOST_TEST((ParseBytes("4096", &n) == EnvError::kNone && n == 4096u));
  BOOST_TEST((ParseBytes("64k", &n) == EnvError::kNone && n == 65536u));
  BOOST_TEST((ParseBytes("8M", &n) == EnvError::kNone && n == uint64_t{8} << 20));
  BOOST_TEST((ParseBytes("2g", &n) == EnvError::kNone && n == uint64_t{2} << 30));
  BOOST_TEST((ParseBytes("1T", &n) == EnvError::kNone && n == uint64_t{1} << 40));
  BOOST_TEST((ParseBytes("16777215T", &n) == EnvError::kNone && n == uint64_t{16777215} << 40));
  BOOST_TEST((ParseBytes("16777216T", &n) == EnvError::kOverflow));
  BOOST_TEST((ParseBytes("17179869184G", &n) == EnvError::kOverflow));
  BOOST_TEST((ParseBytes("-1", &n) == EnvError::kSign));
  BOOST_TEST((ParseBytes("1MB", &n) == EnvError::kJunk));
  BOOST_TEST((ParseBytes("1X", &n) == EnvError::kJunk));
  BOOST_TEST((ParseBytes("M", &n) == EnvError::kNotNumber));
  BOOST_TEST((ParseBytes("1 M", &n) == EnvError::kJunk));
}

BOOST_AUTO_TEST_CASE(decimal_numbers) {
  double x = 0;
  BOOST_TEST((ParseNumber("0.6", &x) == EnvError::kNone && x == 0.6));
  BOOST_TEST((ParseNumber(".5", &x) == EnvError::kNone && x == 0.5));
  BOOST_TEST((ParseNumber("2", &x) == EnvError::kNone && x == 2.0));
  BOOST_TEST((ParseNumber("1e2", &x) == EnvError::kNone && x == 100.0));
  BOOST_TEST((ParseNumber("1e999", &x) == EnvError::kOverflow));
  BOOST_TEST((ParseNumber("-0.5", &x) == EnvError::kSign));
  BOOST_TEST((ParseNumber("0.5x", &x) == EnvError::kJunk));
  BOOST_TEST((ParseNumber("nan", &x) == EnvError::kNotNumber));
  BOOST_TEST((ParseNumber("inf", &x) == EnvError::kNotNumber));
  BOOST_TEST((ParseNumber(" 1", &x) == EnvError::kNotNumber));
  BOOST_TEST((ParseNumber(".", &x) == EnvError::kNotNumber));
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
