// equal.cpp: scheme_eq, scheme_equal (structural on pairs, vectors, boxes and strings; eqv? on
// numbers) and scheme_list_length. An explicit work stack (no recursion limit) and a visited
// set past kCycleCheckAfter steps makes cyclic data end with Racket's coinductive answer.
#include <cmath>
#include <cstring>
#include <functional>
#include <unordered_set>
#include <utility>
#include <vector>

#include "runtime/objects.h"
#include "scheme.h"

namespace keel::rt {

namespace {

// Acyclic data of any realistic size finishes before this many steps without paying for the
// visited set; past it, every compound pair compared is recorded.
constexpr size_t kCycleCheckAfter = 100000;

using ObjPair = std::pair<Scheme_Object*, Scheme_Object*>;

struct ObjPairHash {
  size_t operator()(const ObjPair& p) const {
    return std::hash<void*>()(p.first) * 31 + std::hash<void*>()(p.second);
  }
};

// eqv? on flonums: the same bits, or both NaN.
bool EqvDouble(double a, double b) {
  if (std::isnan(a) && std::isnan(b)) return true;
  return std::memcmp(&a, &b, sizeof a) == 0;
}

bool EqualBignums(Scheme_Object* a, Scheme_Object* b) {
  intptr_t len = SCHEME_BIGLEN(a);
  if (len != SCHEME_BIGLEN(b) || (SCHEME_BIGPOS(a) != 0) != (SCHEME_BIGPOS(b) != 0)) return false;
  return std::memcmp(SCHEME_BIGDIG(a), SCHEME_BIGDIG(b),
                     static_cast<size_t>(len) * sizeof(uintptr_t)) == 0;
}

// Compares the atoms of two same-typed values; compound values push their parts on `work`.
// Returns false as soon as a difference is certain. Nothing here allocates from the collector,
// so no collection can run while raw pointers sit in `work` (malloc'd, not scanned).
bool Step(Scheme_Object* a, Scheme_Object* b, std::vector<ObjPair>& work) {
  // C pointer objects, plain or with an offset, are equal when they stand for one address.
  if (SCHEME_CPTRP(a) || SCHEME_CPTRP(b)) {
    return SCHEME_CPTRP(a) && SCHEME_CPTRP(b) && keel::rt::CptrAddress(a) == keel::rt::CptrAddress(b);
  }
  Scheme_Type t = SCHEME_TYPE(a);
  if (t != SCHEME_TYPE(b)) return false;
  switch (t) {
    case scheme_pair_type:
    case scheme_mutable_pair_type:
      work.emplace_back(SCHEME_CDR(a), SCHEME_CDR(b));
      work.emplace_back(SCHEME_CAR(a), SCHEME_CAR(b));
      return true;
    case scheme_vector_type: {
      intptr_t n = SCHEME_VEC_SIZE(a);
      if (n != SCHEME_VEC_SIZE(b)) return false;
      for (intptr_t i = n; i-- > 0;) work.emplace_back(SCHEME_VEC_ELS(a)[i], SCHEME_VEC_ELS(b)[i]);
      return true;
    }
    case scheme_box_type:
      work.emplace_back(SCHEME_BOX_VAL(a), SCHEME_BOX_VAL(b));
      return true;
    case scheme_char_string_type: {
      intptr_t n = SCHEME_CHAR_STRLEN_VAL(a);
      return n == SCHEME_CHAR_STRLEN_VAL(b) &&
             std::memcmp(SCHEME_CHAR_STR_VAL(a), SCHEME_CHAR_STR_VAL(b),
                         static_cast<size_t>(n) * sizeof(mzchar)) == 0;
    }
    case scheme_byte_string_type: {
      intptr_t n = SCHEME_BYTE_STRLEN_VAL(a);
      return n == SCHEME_BYTE_STRLEN_VAL(b) &&
             std::memcmp(SCHEME_BYTE_STR_VAL(a), SCHEME_BYTE_STR_VAL(b), static_cast<size_t>(n)) ==
                 0;
    }
    case scheme_flvector_type: {
      const intptr_t n = SCHEME_FLVEC_SIZE(a);
      if (n != SCHEME_FLVEC_SIZE(b)) return false;
      for (intptr_t i = 0; i < n; ++i) {
        if (!EqvDouble(SCHEME_FLVEC_ELS(a)[i], SCHEME_FLVEC_ELS(b)[i])) return false;
      }
      return true;
    }
    case scheme_char_type: return SCHEME_CHAR_VAL(a) == SCHEME_CHAR_VAL(b);
    case scheme_double_type: return EqvDouble(SCHEME_DBL_VAL(a), SCHEME_DBL_VAL(b));
    case scheme_bignum_type: return EqualBignums(a, b);
    default: return false;  // fixnums, symbols, constants and opaque values: eq? only
  }
}

bool IsCompound(Scheme_Object* o) {
  if (SCHEME_INTP(o)) return false;
  Scheme_Type t = _SCHEME_TYPE(o);
  return t == scheme_pair_type || t == scheme_mutable_pair_type || t == scheme_vector_type ||
         t == scheme_box_type;
}

bool Equal(Scheme_Object* a, Scheme_Object* b) {
  std::vector<ObjPair> work;
  std::unordered_set<ObjPair, ObjPairHash> seen;
  work.emplace_back(a, b);
  size_t steps = 0;
  while (!work.empty()) {
    auto [x, y] = work.back();
    work.pop_back();
    if (x == y) continue;
    if (x == nullptr || y == nullptr) return false;
    if (++steps > kCycleCheckAfter && IsCompound(x) && !seen.emplace(x, y).second) {
      continue;  // already being compared: assume equal (bisimulation)
    }
    if (!Step(x, y, work)) return false;
  }
  return true;
}

}  // namespace

}  // namespace keel::rt

extern "C" {

int scheme_eq(Scheme_Object* a, Scheme_Object* b) { return a == b ? 1 : 0; }

int scheme_equal(Scheme_Object* a, Scheme_Object* b) {
  if (a == b) return 1;
  return keel::rt::Equal(a, b) ? 1 : 0;
}

// Floyd's cycle check: a cyclic cdr chain is not a proper list.
intptr_t scheme_list_length(Scheme_Object* list) {
  intptr_t n = 0;
  Scheme_Object* slow = list;
  while (list != nullptr && SCHEME_PAIRP(list)) {
    list = SCHEME_CDR(list);
    ++n;
    if ((n & 1) == 0) {
      slow = SCHEME_CDR(slow);
      if (slow == list) return -1;
    }
  }
  return list == scheme_null ? n : -1;
}

}  // extern "C"
