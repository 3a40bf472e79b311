// numbers.cpp: exact integers: fixnums, and bignums on GMP's mpn layer with limb arrays in our
// own atomic memory (Scheme_Bignum in scheme.h). Every result is normalized: a value that fits
// a fixnum is returned as one, so eq? and the printer never see a small bignum. Pointers read
// after an allocation are registered across it (roots.md .sol.frames).
#include <gmp.h>

#include <cstring>
#include <type_traits>

#include "runtime/alloc.h"
#include "runtime/gc_frame.h"
#include "runtime/objects.h"
#include "scheme.h"

namespace keel::rt {

static_assert(sizeof(mp_limb_t) == sizeof(uintptr_t) && GMP_NAIL_BITS == 0,
              "Scheme_Bignum digits are GMP limbs");

namespace {

constexpr int kLimbBits = static_cast<int>(sizeof(uintptr_t) * 8);
// The magnitude of SCHEME_MIN_FIXNUM, the largest negative fixnum magnitude.
constexpr uintptr_t kMinFixnumMagnitude = static_cast<uintptr_t>(SCHEME_MAX_FIXNUM) + 1;

// The integer with magnitude {limbs, len} (collectable atomic memory, high zero limbs
// allowed) and the given sign, as a fixnum when it fits. limbs becomes the bignum's digits.
Scheme_Object* Normalize(uintptr_t* limbs, intptr_t len, bool positive) {
  while (len > 0 && limbs[len - 1] == 0) --len;
  if (len == 0) return scheme_make_integer(0);
  if (len == 1) {
    uintptr_t mag = limbs[0];
    if (positive && mag <= static_cast<uintptr_t>(SCHEME_MAX_FIXNUM)) {
      return scheme_make_integer(static_cast<intptr_t>(mag));
    }
    if (!positive && mag <= kMinFixnumMagnitude) {
      return scheme_make_integer(-static_cast<intptr_t>(mag));
    }
  }
  GcFrame frame(limbs);
  auto* b = NewTagged<Scheme_Bignum>(scheme_bignum_type);
  b->len = len;
  b->pos = positive ? 1 : 0;
  b->digits = limbs;
  return reinterpret_cast<Scheme_Object*>(b);
}

}  // namespace

Scheme_Object* MakeIntegerFromLimbs(uintptr_t* limbs, intptr_t len, bool positive) {
  return Normalize(limbs, len, positive);
}

namespace {

Scheme_Object* OneLimb(uintptr_t mag, bool positive) {
  auto* limbs = static_cast<uintptr_t*>(scheme_malloc_atomic(sizeof(uintptr_t)));
  limbs[0] = mag;
  return Normalize(limbs, 1, positive);
}

// The value of a digit character in radix, or -1.
int DigitValue(uint32_t ch, int radix) {
  int v;
  if (ch >= '0' && ch <= '9') {
    v = static_cast<int>(ch - '0');
  } else if (ch >= 'a' && ch <= 'z') {
    v = static_cast<int>(ch - 'a') + 10;
  } else if (ch >= 'A' && ch <= 'Z') {
    v = static_cast<int>(ch - 'A') + 10;
  } else {
    return -1;
  }
  return v < radix ? v : -1;
}

void CheckRadix(int radix, const char* who) {
  if (radix < 2 || radix > 36)
    scheme_signal_error("%s: radix must be 2 to 36, given %d", who, radix);
}

// Bits one digit of radix can carry, rounded up (an upper bound for sizing limb arrays).
int BitsPerDigit(int radix) {
  int bits = 1;
  while ((1 << bits) < radix) ++bits;
  return bits;
}

// Parses [+-]?digit+ (radix) from str + offset up to the terminating NUL; #f when the text is
// not an integer. A NULL string or a negative offset is a caller error and raises (docs/api.md).
template <class Ch>
Scheme_Object* ReadInteger(const Ch* str, int offset, int radix, const char* who) {
  CheckRadix(radix, who);
  if (str == nullptr) scheme_signal_error("%s: the string is NULL", who);
  if (offset < 0) scheme_signal_error("%s: offset must be non-negative, given %d", who, offset);
  auto start = static_cast<size_t>(offset);
  bool positive = true;
  if (str[start] == '+' || str[start] == '-') positive = str[start++] == '+';
  const Ch* p = str + start;
  size_t n = 0;
  for (; p[n] != 0; ++n) {
    if (DigitValue(static_cast<uint32_t>(static_cast<std::make_unsigned_t<Ch>>(p[n])), radix) < 0) {
      return scheme_false;
    }
  }
  if (n == 0) return scheme_false;
  if (n > kMaxObjectBytes / 8) scheme_raise_out_of_memory(who, "(%zu digits)", n);

  // Digit values, most significant first, without leading zeros (mpn_set_str's input).
  unsigned char* digits = nullptr;
  GcFrame frame(str, digits);  // the caller's string may be collectable
  digits = static_cast<unsigned char*>(scheme_malloc_atomic(n));
  p = str + start;  // reloaded after the allocation
  size_t nd = 0;
  for (size_t i = 0; i < n; ++i) {
    int v = DigitValue(static_cast<uint32_t>(static_cast<std::make_unsigned_t<Ch>>(p[i])), radix);
    if (nd == 0 && v == 0) continue;
    digits[nd++] = static_cast<unsigned char>(v);
  }
  if (nd == 0) return scheme_make_integer(0);
  // mpn_set_str needs room for the largest nd-digit number plus one limb.
  size_t nlimbs = (nd * static_cast<size_t>(BitsPerDigit(radix)) + kLimbBits - 1) / kLimbBits + 1;
  auto* limbs = static_cast<uintptr_t*>(scheme_malloc_atomic(nlimbs * sizeof(uintptr_t)));
  mp_size_t len = mpn_set_str(reinterpret_cast<mp_limb_t*>(limbs), digits, nd, radix);
  return Normalize(limbs, static_cast<intptr_t>(len), positive);
}

}  // namespace

}  // namespace keel::rt

extern "C" {

Scheme_Object* scheme_make_integer_value(intptr_t i) {
  if (i >= SCHEME_MIN_FIXNUM && i <= SCHEME_MAX_FIXNUM) return scheme_make_integer(i);
  // The magnitude of a negative value, INTPTR_MIN included, in unsigned arithmetic.
  uintptr_t mag = i < 0 ? 0 - static_cast<uintptr_t>(i) : static_cast<uintptr_t>(i);
  return keel::rt::OneLimb(mag, i >= 0);
}

Scheme_Object* scheme_make_integer_value_from_unsigned(uintptr_t i) {
  if (i <= static_cast<uintptr_t>(SCHEME_MAX_FIXNUM)) {
    return scheme_make_integer(static_cast<intptr_t>(i));
  }
  return keel::rt::OneLimb(i, true);
}

int scheme_get_int_val(Scheme_Object* o, intptr_t* v) {
  if (SCHEME_INTP(o)) {
    *v = SCHEME_INT_VAL(o);
    return 1;
  }
  if (!SCHEME_BIGNUMP(o) || SCHEME_BIGLEN(o) != 1) return 0;
  uintptr_t mag = SCHEME_BIGDIG(o)[0];
  if (SCHEME_BIGPOS(o)) {
    if (mag > static_cast<uintptr_t>(INTPTR_MAX)) return 0;
    *v = static_cast<intptr_t>(mag);
  } else {
    if (mag > static_cast<uintptr_t>(INTPTR_MAX) + 1) return 0;
    *v = static_cast<intptr_t>(0 - mag);  // two's complement (C++20): INTPTR_MIN included
  }
  return 1;
}

Scheme_Object* scheme_read_bignum(const mzchar* str, int offset, int radix) {
  return keel::rt::ReadInteger(str, offset, radix, "scheme_read_bignum");
}

Scheme_Object* scheme_read_bignum_bytes(const char* str, int offset, int radix) {
  return keel::rt::ReadInteger(str, offset, radix, "scheme_read_bignum_bytes");
}

char* scheme_bignum_to_string(const Scheme_Object* n, int radix) {
  using keel::rt::kLimbBits;
  auto* obj = const_cast<Scheme_Object*>(n);
  keel::rt::CheckRadix(radix, "scheme_bignum_to_string");
  if (obj == nullptr || !SCHEME_EXACT_INTEGERP(obj)) {
    scheme_signal_error("scheme_bignum_to_string: expected an exact integer, given %V",
                        obj == nullptr ? scheme_void : obj);
  }
  bool positive;
  intptr_t len;
  // mpn_get_str clobbers its input and needs a non-zero top limb: work on a copy.
  uintptr_t* work = nullptr;
  keel::rt::GcFrame frame(obj, work);
  if (SCHEME_INTP(obj)) {
    intptr_t v = SCHEME_INT_VAL(obj);
    if (v == 0) {
      char* zero = static_cast<char*>(scheme_malloc_atomic(2));
      zero[0] = '0';
      zero[1] = '\0';
      return zero;
    }
    positive = v > 0;
    len = 1;
    work = static_cast<uintptr_t*>(scheme_malloc_atomic(2 * sizeof(uintptr_t)));
    work[0] = v > 0 ? static_cast<uintptr_t>(v) : 0 - static_cast<uintptr_t>(v);
  } else {
    positive = SCHEME_BIGPOS(obj) != 0;
    len = SCHEME_BIGLEN(obj);
    size_t bytes = keel::rt::ArrayBytes(0, len + 1, sizeof(uintptr_t), "scheme_bignum_to_string");
    work = static_cast<uintptr_t*>(scheme_malloc_atomic(bytes));
    std::memcpy(work, SCHEME_BIGDIG(obj), static_cast<size_t>(len) * sizeof(uintptr_t));
  }
  // At most ceil(bits / floor(log2 radix)) digits, plus mpn_get_str's extra one, sign and NUL.
  int floor_bits = 1;
  while ((2 << floor_bits) <= radix) ++floor_bits;
  size_t max_digits = (static_cast<size_t>(len) * kLimbBits + floor_bits - 1) / floor_bits + 1;
  auto* out = static_cast<char*>(scheme_malloc_atomic(max_digits + 2));
  auto* raw = reinterpret_cast<unsigned char*>(out + 1);
  size_t count = mpn_get_str(raw, radix, reinterpret_cast<mp_limb_t*>(work), len);
  size_t skip = 0;
  while (skip + 1 < count && raw[skip] == 0) ++skip;  // mpn_get_str may emit leading zeros
  char* w = out;
  if (!positive) *w++ = '-';
  for (size_t i = skip; i < count; ++i) {
    unsigned char d = raw[i];
    *w++ = static_cast<char>(d < 10 ? '0' + d : 'a' + (d - 10));
  }
  *w = '\0';
  return out;
}

}  // extern "C"
