// utf8.cpp: the UTF-8 codec of utf8.h (RFC 3629 well-formedness; each invalid byte becomes
// U+FFFD, as Racket's permissive decoding does).
#include "runtime/utf8.h"

namespace keel::rt {

namespace {

constexpr bool IsContinuation(unsigned char b) { return (b & 0xC0) == 0x80; }

}  // namespace

size_t Utf8DecodeOne(const unsigned char* s, size_t n, mzchar* c) {
  unsigned char b0 = s[0];
  if (b0 < 0x80) {
    *c = b0;
    return 1;
  }
  size_t need;
  mzchar value;
  unsigned char lo = 0x80, hi = 0xBF;  // the range allowed for the second byte
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    need = 1;
    value = b0 & 0x1F;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    need = 2;
    value = b0 & 0x0F;
    if (b0 == 0xE0) lo = 0xA0;  // no overlong forms
    if (b0 == 0xED) hi = 0x9F;  // no surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    need = 3;
    value = b0 & 0x07;
    if (b0 == 0xF0) lo = 0x90;  // no overlong forms
    if (b0 == 0xF4) hi = 0x8F;  // nothing past U+10FFFF
  } else {
    *c = kReplacementChar;
    return 1;
  }
  if (n <= need || s[1] < lo || s[1] > hi) {
    *c = kReplacementChar;
    return 1;
  }
  for (size_t i = 1; i <= need; ++i) {
    if (!IsContinuation(s[i])) {
      *c = kReplacementChar;
      return 1;
    }
    value = (value << 6) | (s[i] & 0x3F);
  }
  *c = value;
  return need + 1;
}

size_t Utf8CountChars(const char* s, size_t n) {
  auto* p = reinterpret_cast<const unsigned char*>(s);
  size_t count = 0;
  size_t i = 0;
  while (i < n) {
    if (p[i] < 0x80) {  // ASCII fast path
      ++i;
    } else {
      mzchar c;
      i += Utf8DecodeOne(p + i, n - i, &c);
    }
    ++count;
  }
  return count;
}

void Utf8Decode(const char* s, size_t n, mzchar* out) {
  auto* p = reinterpret_cast<const unsigned char*>(s);
  size_t i = 0;
  while (i < n) {
    if (p[i] < 0x80) {
      *out++ = p[i++];
    } else {
      i += Utf8DecodeOne(p + i, n - i, out++);
    }
  }
}

int Utf8Encode(mzchar c, char* out) {
  if (!IsScalarValue(c)) c = kReplacementChar;
  auto* o = reinterpret_cast<unsigned char*>(out);
  if (c < 0x80) {
    o[0] = static_cast<unsigned char>(c);
    return 1;
  }
  if (c < 0x800) {
    o[0] = static_cast<unsigned char>(0xC0 | (c >> 6));
    o[1] = static_cast<unsigned char>(0x80 | (c & 0x3F));
    return 2;
  }
  if (c < 0x10000) {
    o[0] = static_cast<unsigned char>(0xE0 | (c >> 12));
    o[1] = static_cast<unsigned char>(0x80 | ((c >> 6) & 0x3F));
    o[2] = static_cast<unsigned char>(0x80 | (c & 0x3F));
    return 3;
  }
  o[0] = static_cast<unsigned char>(0xF0 | (c >> 18));
  o[1] = static_cast<unsigned char>(0x80 | ((c >> 12) & 0x3F));
  o[2] = static_cast<unsigned char>(0x80 | ((c >> 6) & 0x3F));
  o[3] = static_cast<unsigned char>(0x80 | (c & 0x3F));
  return 4;
}

}  // namespace keel::rt
