// utf8.h: UTF-8 decoding and encoding for char strings, the printer and error messages.
// Decoding never fails: each byte that does not start a well-formed sequence (overlong forms,
// surrogates and values past U+10FFFF included) becomes one U+FFFD.
#ifndef KEEL_RUNTIME_UTF8_H
#define KEEL_RUNTIME_UTF8_H

#include <cstddef>
#include <cstdint>

#include "scheme.h"

namespace keel::rt {

inline constexpr mzchar kReplacementChar = 0xFFFD;

// Decodes the sequence at s (n > 0 bytes available) into *c; returns the bytes consumed.
size_t Utf8DecodeOne(const unsigned char* s, size_t n, mzchar* c);

// The number of code points in the n bytes at s.
size_t Utf8CountChars(const char* s, size_t n);

// Decodes n bytes at s into out (room for Utf8CountChars(s, n) code points).
void Utf8Decode(const char* s, size_t n, mzchar* out);

// Whether c is a Unicode scalar value (not a surrogate, at most U+10FFFF).
constexpr bool IsScalarValue(mzchar c) { return c < 0xD800 || (c > 0xDFFF && c <= 0x10FFFF); }

// Bytes of c's encoding (U+FFFD's for a value that is not a scalar value).
constexpr int Utf8Length(mzchar c) {
  if (!IsScalarValue(c)) return 3;
  return c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
}

// Writes c's encoding (at most 4 bytes) to out; returns its length.
int Utf8Encode(mzchar c, char* out);

}  // namespace keel::rt

#endif  // KEEL_RUNTIME_UTF8_H
