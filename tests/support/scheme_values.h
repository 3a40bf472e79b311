// scheme_values.h: building and checking Scheme values in tests: iota lists built out of line
// (so their addresses stay out of the caller's frame) and the written form of a value.
#ifndef KEEL_TESTS_SUPPORT_SCHEME_VALUES_H
#define KEEL_TESTS_SUPPORT_SCHEME_VALUES_H

#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <cstring>
#include <string>

#include "scheme.h"
#include "support/gc_probe.h"

namespace keel_test {

// The list (start start+1 ... start+n-1).
KEEL_TEST_NOINLINE inline Scheme_Object* BuildList(int n, int start = 0) {
  Scheme_Object* list = scheme_null;
  for (int i = n - 1; i >= 0; --i) list = scheme_make_pair(scheme_make_integer(start + i), list);
  return list;
}

// Whether `list` is exactly what BuildList(n, start) built.
KEEL_TEST_NOINLINE inline bool ListIsIota(Scheme_Object* list, int n, int start = 0) {
  for (int i = 0; i < n; ++i) {
    if (!SCHEME_PAIRP(list) || SCHEME_CAR(list) != scheme_make_integer(start + i)) return false;
    list = SCHEME_CDR(list);
  }
  return SCHEME_NULLP(list);
}

// scheme_write_to_string's result, checked against the length it reports.
inline std::string Written(Scheme_Object* o) {
  intptr_t len = -1;
  char* s = scheme_write_to_string(o, &len);
  BOOST_TEST(static_cast<size_t>(len) == std::strlen(s));
  return std::string(s, static_cast<size_t>(len));
}

}  // namespace keel_test

#endif  // KEEL_TESTS_SUPPORT_SCHEME_VALUES_H
