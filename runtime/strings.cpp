// strings.cpp: char strings (UCS-4 code points in a separate atomic block, NUL-terminated,
// length in tag_val) and their UTF-8 conversions (reference/racket_bc.md §6). Pointers read
// after an allocation are registered across it (roots.md .sol.frames).
#include <cstring>

#include "runtime/alloc.h"
#include "runtime/gc_frame.h"
#include "runtime/objects.h"
#include "runtime/utf8.h"
#include "scheme.h"

namespace keel::rt {

Scheme_Object* WrapCharString(mzchar* data, intptr_t len) {
  GcFrame frame(data);  // data is stored after the header's allocation
  auto* s = NewTagged<Scheme_Simple_Object>(scheme_char_string_type);
  s->u.char_str_val.string_val = data;
  s->u.char_str_val.tag_val = len;
  return reinterpret_cast<Scheme_Object*>(s);
}

namespace {

intptr_t MzcharLength(const mzchar* chars) {
  intptr_t n = 0;
  while (chars[n] != 0) ++n;
  return n;
}

void CheckCharString(Scheme_Object* s, const char* who) {
  if (s == nullptr || !SCHEME_CHAR_STRINGP(s)) {
    scheme_signal_error("%s: expected a char string, given %V", who,
                        s == nullptr ? scheme_void : s);
  }
}

}  // namespace

}  // namespace keel::rt

using keel::rt::GcFrame;
using keel::rt::NewAtomicArray;
using keel::rt::WrapCharString;

extern "C" {

Scheme_Object* scheme_make_sized_utf8_string(const char* chars, intptr_t len) {
  if (chars == nullptr) {
    if (len > 0) scheme_signal_error("scheme_make_sized_utf8_string: the bytes are NULL");
    len = 0;
  } else if (len < 0) {
    len = static_cast<intptr_t>(std::strlen(chars));
  }
  size_t bytes = static_cast<size_t>(len);
  auto count = static_cast<intptr_t>(keel::rt::Utf8CountChars(chars, bytes));
  GcFrame frame(chars);  // the caller's bytes may be collectable
  mzchar* data = NewAtomicArray<mzchar>(count, "scheme_make_utf8_string");
  if (bytes != 0) keel::rt::Utf8Decode(chars, bytes, data);
  return WrapCharString(data, count);
}

Scheme_Object* scheme_make_utf8_string(const char* chars) {
  if (chars == nullptr) scheme_signal_error("scheme_make_utf8_string: the string is NULL");
  return scheme_make_sized_utf8_string(chars, -1);
}

Scheme_Object* scheme_make_sized_char_string(mzchar* chars, intptr_t len, int copy) {
  if (chars == nullptr) {
    if (len > 0) scheme_signal_error("scheme_make_sized_char_string: the chars are NULL");
    len = 0;
  } else if (len < 0) {
    len = keel::rt::MzcharLength(chars);
  }
  // Without copy the caller's array becomes the string's (Racket's rule: it should be
  // collectable atomic memory with room for the terminator).
  if (!copy && chars != nullptr) return WrapCharString(chars, len);
  GcFrame frame(chars);  // the caller's array may be collectable
  mzchar* data = NewAtomicArray<mzchar>(len, "scheme_make_sized_char_string");
  if (len != 0) std::memcpy(data, chars, static_cast<size_t>(len) * sizeof(mzchar));
  return WrapCharString(data, len);
}

Scheme_Object* scheme_make_char_string(const mzchar* chars) {
  if (chars == nullptr) scheme_signal_error("scheme_make_char_string: the chars are NULL");
  // copy = 1: the const input is only read.
  return scheme_make_sized_char_string(const_cast<mzchar*>(chars), -1, 1);
}

Scheme_Object* scheme_alloc_char_string(intptr_t size, mzchar fill) {
  mzchar* data = NewAtomicArray<mzchar>(size, "scheme_alloc_char_string");
  for (intptr_t i = 0; i < size; ++i) data[i] = fill;
  return WrapCharString(data, size);
}

Scheme_Object* scheme_append_char_string(Scheme_Object* a, Scheme_Object* b) {
  keel::rt::CheckCharString(a, "scheme_append_char_string");
  keel::rt::CheckCharString(b, "scheme_append_char_string");
  intptr_t la = SCHEME_CHAR_STRLEN_VAL(a);
  intptr_t lb = SCHEME_CHAR_STRLEN_VAL(b);
  if (lb > PTRDIFF_MAX - la) {
    scheme_raise_out_of_memory("scheme_append_char_string", "(string too long)");
  }
  GcFrame frame(a, b);  // read after the allocation
  mzchar* data = NewAtomicArray<mzchar>(la + lb, "scheme_append_char_string");
  std::memcpy(data, SCHEME_CHAR_STR_VAL(a), static_cast<size_t>(la) * sizeof(mzchar));
  std::memcpy(data + la, SCHEME_CHAR_STR_VAL(b), static_cast<size_t>(lb) * sizeof(mzchar));
  return WrapCharString(data, la + lb);
}

Scheme_Object* scheme_char_string_to_byte_string(Scheme_Object* s) {
  keel::rt::CheckCharString(s, "scheme_char_string_to_byte_string");
  GcFrame frame(s);
  intptr_t len = SCHEME_CHAR_STRLEN_VAL(s);
  const mzchar* chars = SCHEME_CHAR_STR_VAL(s);
  size_t bytes = 0;
  for (intptr_t i = 0; i < len; ++i) bytes += static_cast<size_t>(keel::rt::Utf8Length(chars[i]));
  if (bytes > keel::rt::kMaxObjectBytes) {
    scheme_raise_out_of_memory("scheme_char_string_to_byte_string", "(%zu bytes)", bytes);
  }
  char* data = NewAtomicArray<char>(static_cast<intptr_t>(bytes),
                                    "scheme_char_string_to_byte_string");
  chars = SCHEME_CHAR_STR_VAL(s);  // reloaded after the allocation, from the registered s
  char* out = data;
  for (intptr_t i = 0; i < len; ++i) out += keel::rt::Utf8Encode(chars[i], out);
  return keel::rt::WrapByteString(data, static_cast<intptr_t>(bytes));
}

}  // extern "C"
