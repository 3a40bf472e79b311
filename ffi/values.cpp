// values.cpp: conversions between Scheme values and C values (docs/design/ffi.md .sol.values).
#include "ffi/values.h"

#include <cmath>
#include <cstdio>
#include <cstring>

#include "runtime/gc_frame.h"
#include "runtime/objects.h"
#include "runtime/utf8.h"

namespace keel::ffi {

namespace {

// A symbol object outside every heap (the layout of Scheme_Symbol with room for the name).
template <size_t N>
struct StaticSymbol {
  Scheme_Inclhash_Object iso;
  intptr_t len;
  char s[N];
};

template <size_t N>
constexpr StaticSymbol<N> MakeStaticSymbol(const char (&name)[N]) {
  StaticSymbol<N> sym{};
  sym.iso.so.type = scheme_symbol_type;
  sym.iso.so.keyex = 0;
  sym.len = N - 1;
  for (size_t i = 0; i < N; ++i) sym.s[i] = name[i];
  return sym;
}

constinit StaticSymbol<8> g_library_tag = MakeStaticSymbol("ffi-lib");
constinit StaticSymbol<14> g_signature_tag = MakeStaticSymbol("ffi-signature");
constinit StaticSymbol<13> g_callback_tag = MakeStaticSymbol("ffi-callback");

const char* KindOf(CType t) {
  switch (t) {
    case CType::kFloat:
    case CType::kDouble: return "a flonum";
    case CType::kPointer: return "a C pointer object, a byte string or #f";
    case CType::kBytes: return "a byte string or #f";
    case CType::kStringUtf8: return "a string or #f";
    default: return "an exact integer";
  }
}

// "argument 3" or "the result", for messages.
struct Position {
  char text[32];
  explicit Position(int index) {
    if (index > 0) {
      std::snprintf(text, sizeof text, "argument %d", index);
    } else {
      std::snprintf(text, sizeof text, "the result");
    }
  }
};

[[noreturn]] void Reject(const char* who, int index, CType t, Scheme_Object* v) {
  Position at(index);
  scheme_signal_error("%s: %s (%s) must be %s; given: %V", who, at.text, TypeName(t), KindOf(t), v);
}

[[noreturn]] void RejectRange(const char* who, int index, CType t, Scheme_Object* v) {
  Position at(index);
  if (IsSigned(t)) {
    scheme_signal_error("%s: %s (%s) is out of range [%lld, %lld]; given: %V", who, at.text, TypeName(t),
                        static_cast<long long>(MinOf(t)), static_cast<long long>(MaxOf(t)), v);
  }
  if (IsInteger(t)) {
    scheme_signal_error("%s: %s (%s) is out of range [0, %llu]; given: %V", who, at.text, TypeName(t),
                        static_cast<unsigned long long>(MaxOf(t)), v);
  }
  scheme_signal_error("%s: %s (float) is outside float's finite range; given: %V", who, at.text, v);
}

// Bytes up to the NUL at p, or NULL.
Scheme_Object* ByteStringFromC(const char* p) {
  if (p == nullptr) return scheme_false;
  return scheme_make_sized_byte_string(const_cast<char*>(p), static_cast<intptr_t>(std::strlen(p)), 1);
}

Scheme_Object* StringFromC(const char* p) {
  if (p == nullptr) return scheme_false;
  return scheme_make_sized_utf8_string(p, static_cast<intptr_t>(std::strlen(p)));
}

Scheme_Object* PointerFromC(void* p) { return p == nullptr ? scheme_false : scheme_make_cptr(p, nullptr); }

}  // namespace

Scheme_Object* LibraryTag() { return reinterpret_cast<Scheme_Object*>(&g_library_tag); }
Scheme_Object* SignatureTag() { return reinterpret_cast<Scheme_Object*>(&g_signature_tag); }
Scheme_Object* CallbackTag() { return reinterpret_cast<Scheme_Object*>(&g_callback_tag); }

bool PointerOf(Scheme_Object* v, void** out) {
  if (SCHEME_FALSEP(v)) {
    *out = nullptr;
  } else if (SCHEME_CPTRP(v)) {
    *out = rt::CptrAddress(v);
  } else if (SCHEME_BYTE_STRINGP(v)) {
    *out = SCHEME_BYTE_STR_VAL(v);
  } else {
    return false;
  }
  return true;
}

bool ToInt64(Scheme_Object* v, int64_t* out) {
  if (SCHEME_INTP(v)) {
    *out = SCHEME_INT_VAL(v);
    return true;
  }
  if (!SCHEME_BIGNUMP(v) || SCHEME_BIGLEN(v) > 1) return false;
  const uint64_t magnitude = SCHEME_BIGLEN(v) == 0 ? 0 : SCHEME_BIGDIG(v)[0];
  if (SCHEME_BIGPOS(v)) {
    if (magnitude > static_cast<uint64_t>(INT64_MAX)) return false;
    *out = static_cast<int64_t>(magnitude);
  } else {
    if (magnitude > static_cast<uint64_t>(INT64_MAX) + 1) return false;
    *out = static_cast<int64_t>(0 - magnitude);
  }
  return true;
}

bool ToUint64(Scheme_Object* v, uint64_t* out) {
  if (SCHEME_INTP(v)) {
    if (SCHEME_INT_VAL(v) < 0) return false;
    *out = static_cast<uint64_t>(SCHEME_INT_VAL(v));
    return true;
  }
  if (!SCHEME_BIGNUMP(v) || SCHEME_BIGLEN(v) > 1) return false;
  const uint64_t magnitude = SCHEME_BIGLEN(v) == 0 ? 0 : SCHEME_BIGDIG(v)[0];
  if (!SCHEME_BIGPOS(v) && magnitude != 0) return false;
  *out = magnitude;
  return true;
}

void CheckValue(const char* who, int index, CType t, Scheme_Object* v) {
  if (IsInteger(t)) {
    if (!SCHEME_EXACT_INTEGERP(v)) Reject(who, index, t, v);
    if (IsSigned(t)) {
      int64_t x;
      if (!ToInt64(v, &x) || x < MinOf(t) || x > static_cast<int64_t>(MaxOf(t))) RejectRange(who, index, t, v);
    } else {
      uint64_t x;
      if (!ToUint64(v, &x) || x > MaxOf(t)) RejectRange(who, index, t, v);
    }
    return;
  }
  switch (t) {
    case CType::kFloat:
      if (!SCHEME_DBLP(v)) Reject(who, index, t, v);
      if (std::isfinite(SCHEME_DBL_VAL(v)) && std::fabs(SCHEME_DBL_VAL(v)) > 3.4028234663852886e38) {
        RejectRange(who, index, t, v);
      }
      return;
    case CType::kDouble:
      if (!SCHEME_DBLP(v)) Reject(who, index, t, v);
      return;
    case CType::kPointer: {
      void* p;
      if (!PointerOf(v, &p)) Reject(who, index, t, v);
      return;
    }
    case CType::kBytes:
      if (!SCHEME_FALSEP(v) && !SCHEME_BYTE_STRINGP(v)) Reject(who, index, t, v);
      return;
    case CType::kStringUtf8:
      if (!SCHEME_FALSEP(v) && !SCHEME_CHAR_STRINGP(v)) Reject(who, index, t, v);
      return;
    default:
      if (!SCHEME_VOIDP(v)) Reject(who, index, t, v);
      return;
  }
}

void ToC(CType t, Scheme_Object* v, void* utf8, Value* out) {
  int64_t s = 0;
  uint64_t u = 0;
  if (IsInteger(t)) {
    if (IsSigned(t)) {
      ToInt64(v, &s);
    } else {
      ToUint64(v, &u);
    }
  }
  switch (t) {
    case CType::kInt8: out->i8 = static_cast<int8_t>(s); break;
    case CType::kInt16: out->i16 = static_cast<int16_t>(s); break;
    case CType::kInt32: out->i32 = static_cast<int32_t>(s); break;
    case CType::kInt64: out->i64 = s; break;
    case CType::kUint8: out->u8 = static_cast<uint8_t>(u); break;
    case CType::kUint16: out->u16 = static_cast<uint16_t>(u); break;
    case CType::kUint32: out->u32 = static_cast<uint32_t>(u); break;
    case CType::kUint64: out->u64 = u; break;
    case CType::kFloat: out->f = static_cast<float>(SCHEME_DBL_VAL(v)); break;
    case CType::kDouble: out->d = SCHEME_DBL_VAL(v); break;
    case CType::kPointer: PointerOf(v, &out->p); break;
    case CType::kBytes: out->p = SCHEME_FALSEP(v) ? nullptr : SCHEME_BYTE_STR_VAL(v); break;
    case CType::kStringUtf8: out->p = utf8; break;
    case CType::kVoid: out->p = nullptr; break;
  }
}

char* Utf8Copy(Scheme_Object* s, const char* who) {
  rt::GcFrame frame(s);
  const intptr_t len = SCHEME_CHAR_STRLEN_VAL(s);
  size_t bytes = 0;
  for (intptr_t i = 0; i < len; ++i) bytes += static_cast<size_t>(rt::Utf8Length(SCHEME_CHAR_STR_VAL(s)[i]));
  if (bytes >= SIZE_MAX / 2) scheme_raise_out_of_memory(who, "(a %zu-byte UTF-8 copy)", bytes);
  char* out = static_cast<char*>(scheme_malloc_atomic_allow_interior(bytes + 1));
  const mzchar* chars = SCHEME_CHAR_STR_VAL(s);  // reloaded after the allocation (3m moves s)
  char* at = out;
  for (intptr_t i = 0; i < len; ++i) at += rt::Utf8Encode(chars[i], at);
  *at = '\0';
  return out;
}

Scheme_Object* FromC(CType t, const void* value) {
  switch (t) {
    case CType::kInt8: return scheme_make_integer(*static_cast<const int8_t*>(value));
    case CType::kInt16: return scheme_make_integer(*static_cast<const int16_t*>(value));
    case CType::kInt32: return scheme_make_integer(*static_cast<const int32_t*>(value));
    case CType::kInt64: return scheme_make_integer_value(*static_cast<const int64_t*>(value));
    case CType::kUint8: return scheme_make_integer(*static_cast<const uint8_t*>(value));
    case CType::kUint16: return scheme_make_integer(*static_cast<const uint16_t*>(value));
    case CType::kUint32: return scheme_make_integer(*static_cast<const uint32_t*>(value));
    case CType::kUint64: return scheme_make_integer_value_from_unsigned(*static_cast<const uint64_t*>(value));
    case CType::kFloat: return scheme_make_double(*static_cast<const float*>(value));
    case CType::kDouble: return scheme_make_double(*static_cast<const double*>(value));
    case CType::kPointer: return PointerFromC(*static_cast<void* const*>(value));
    case CType::kBytes: return ByteStringFromC(*static_cast<const char* const*>(value));
    case CType::kStringUtf8: return StringFromC(*static_cast<const char* const*>(value));
    case CType::kVoid: return scheme_void;
  }
  return scheme_void;
}

Scheme_Object* ResultFromC(const CallInterface& ci, const Value& r) {
  const CType t = ci.result();
  if (IsSigned(t)) return scheme_make_integer_value(ci.SignedResult(r));
  if (IsInteger(t)) return scheme_make_integer_value_from_unsigned(ci.UnsignedResult(r));
  switch (t) {
    case CType::kFloat: return scheme_make_double(r.f);
    case CType::kDouble: return scheme_make_double(r.d);
    case CType::kPointer: return PointerFromC(r.p);
    case CType::kBytes: return ByteStringFromC(static_cast<const char*>(r.p));
    case CType::kStringUtf8: return StringFromC(static_cast<const char*>(r.p));
    default: return scheme_void;
  }
}

}  // namespace keel::ffi
