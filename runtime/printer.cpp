// printer.cpp: scheme_write_to_string and scheme_display_to_string in Racket's notation. The
// text is built in a GcBuffer (collectable), so an escape mid-print leaks nothing. Nesting
// deeper than kMaxDepth and cdr-cycles print as "...", so cyclic data cannot hang or overflow.
#include "runtime/printer.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "runtime/gc_buffer.h"
#include "runtime/utf8.h"
#include "scheme.h"

namespace keel::rt {

namespace {

// Deep enough for any data a person reads; shallow enough for a 256 KiB fiber stack.
constexpr int kMaxDepth = 1000;

constexpr const char* kHex = "0123456789ABCDEF";

size_t HexEscape(char prefix, mzchar c, int digits, char* out) {
  out[0] = '\\';
  out[1] = prefix;
  for (int i = 0; i < digits; ++i) out[2 + i] = kHex[(c >> (4 * (digits - 1 - i))) & 0xF];
  return static_cast<size_t>(2 + digits);
}

// Whether c prints as itself: not a control character, not a surrogate, in range.
bool Printable(mzchar c) {
  return c >= 0x20 && c != 0x7F && !(c >= 0x80 && c < 0xA0) && IsScalarValue(c);
}

const char* CharName(mzchar c) {
  switch (c) {
    case 0: return "nul";
    case 8: return "backspace";
    case 9: return "tab";
    case 10: return "newline";
    case 11: return "vtab";
    case 12: return "page";
    case 13: return "return";
    case 32: return "space";
    case 127: return "rubout";
    default: return nullptr;
  }
}

// Whether a symbol's text would read back as a number (then write puts it in bars).
bool LooksLikeNumber(const char* s, size_t n) {
  std::string_view v(s, n);
  if (v == "+inf.0" || v == "-inf.0" || v == "+nan.0" || v == "-nan.0") return true;
  size_t i = 0;
  if (i < n && (s[i] == '+' || s[i] == '-')) ++i;
  size_t digits = 0;
  bool dot = false;
  for (; i < n; ++i) {
    if (s[i] >= '0' && s[i] <= '9') {
      ++digits;
    } else if (s[i] == '.' && !dot) {
      dot = true;
    } else if (s[i] == '/' && digits != 0 && !dot) {
      digits = 0;
      dot = true;  // a fraction's denominator has no point
    } else {
      break;
    }
  }
  if (digits == 0) return false;
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < n && (s[i] == '+' || s[i] == '-')) ++i;
    if (i == n) return false;
    while (i < n && s[i] >= '0' && s[i] <= '9') ++i;
  }
  return i == n;
}

bool IsDelimiter(unsigned char c) {
  return c <= ' ' || c == 0x7F || std::strchr("()[]{}\",'`;|\\", c) != nullptr;
}

class Printer {
 public:
  explicit Printer(bool write) : write_(write) {}

  void Print(Scheme_Object* o, int depth);
  char* Finish(intptr_t* len) { return buf_.Finish(len); }

 private:
  void PrintSequence(Scheme_Object* o, int depth, Scheme_Type pair_type, char open, char close);
  void PrintVector(Scheme_Object* o, int depth);
  void PrintChar(mzchar c);
  void PrintCharString(Scheme_Object* o);
  void PrintByteString(Scheme_Object* o);
  void PrintSymbol(Scheme_Object* o);
  void PrintDouble(double d);
  void PrintInteger(Scheme_Object* o);
  void PrintOpaque(Scheme_Type type);

  GcBuffer buf_;
  bool write_;
};

void Printer::Print(Scheme_Object* o, int depth) {
  if (o == nullptr) return buf_.Append("#<null>");
  if (depth > kMaxDepth) return buf_.Append("...");
  switch (SCHEME_TYPE(o)) {
    case scheme_integer_type:
    case scheme_bignum_type: return PrintInteger(o);
    case scheme_double_type: return PrintDouble(SCHEME_DBL_VAL(o));
    case scheme_true_type: return buf_.Append("#t");
    case scheme_false_type: return buf_.Append("#f");
    case scheme_null_type: return buf_.Append("()");
    case scheme_void_type: return buf_.Append("#<void>");
    case scheme_eof_type: return buf_.Append("#<eof>");
    case scheme_char_type: return PrintChar(SCHEME_CHAR_VAL(o));
    case scheme_char_string_type: return PrintCharString(o);
    case scheme_byte_string_type: return PrintByteString(o);
    case scheme_symbol_type: return PrintSymbol(o);
    case scheme_pair_type: return PrintSequence(o, depth, scheme_pair_type, '(', ')');
    case scheme_mutable_pair_type:
      return PrintSequence(o, depth, scheme_mutable_pair_type, '{', '}');
    case scheme_vector_type: return PrintVector(o, depth);
    case scheme_box_type:
      buf_.Append("#&");
      return Print(SCHEME_BOX_VAL(o), depth + 1);
    default: return PrintOpaque(SCHEME_TYPE(o));
  }
}

// A proper or dotted list. The cdr chain is followed with a second, half-speed pointer: when
// they meet, the list is cyclic and the rest prints as "...".
void Printer::PrintSequence(Scheme_Object* o, int depth, Scheme_Type pair_type, char open,
                            char close) {
  buf_.Append(open);
  Scheme_Object* slow = o;
  bool first = true;
  for (size_t step = 0;; ++step) {
    if (!first) buf_.Append(' ');
    first = false;
    Print(SCHEME_CAR(o), depth + 1);
    o = SCHEME_CDR(o);
    if (o == nullptr || !SCHEME_OBJ_TYPEP(o, pair_type)) break;
    if (step & 1) slow = SCHEME_CDR(slow);
    if (o == slow) {
      buf_.Append(" ...");
      o = scheme_null;
      break;
    }
  }
  if (o != scheme_null) {
    buf_.Append(" . ");
    Print(o, depth + 1);
  }
  buf_.Append(close);
}

void Printer::PrintVector(Scheme_Object* o, int depth) {
  buf_.Append("#(");
  intptr_t n = SCHEME_VEC_SIZE(o);
  for (intptr_t i = 0; i < n; ++i) {
    if (i != 0) buf_.Append(' ');
    Print(SCHEME_VEC_ELS(o)[i], depth + 1);
  }
  buf_.Append(')');
}

void Printer::PrintChar(mzchar c) {
  char utf8[4];
  if (!write_) return buf_.Append(utf8, static_cast<size_t>(Utf8Encode(c, utf8)));
  buf_.Append("#\\");
  if (const char* name = CharName(c)) return buf_.Append(name);
  if (Printable(c)) return buf_.Append(utf8, static_cast<size_t>(Utf8Encode(c, utf8)));
  char esc[kMaxEscapedChar];
  size_t n = c <= 0xFFFF ? HexEscape('u', c, 4, esc) : HexEscape('U', c, 8, esc);
  buf_.Append(esc + 1, n - 1);  // "#\u0001": the backslash is already there
}

void Printer::PrintCharString(Scheme_Object* o) {
  intptr_t n = SCHEME_CHAR_STRLEN_VAL(o);
  const mzchar* chars = SCHEME_CHAR_STR_VAL(o);
  char tmp[kMaxEscapedChar];
  if (write_) buf_.Append('"');
  for (intptr_t i = 0; i < n; ++i) {
    size_t len =
        write_ ? EscapeStringChar(chars[i], tmp) : static_cast<size_t>(Utf8Encode(chars[i], tmp));
    buf_.Append(tmp, len);
    chars = SCHEME_CHAR_STR_VAL(o);  // reloaded: Append may allocate
  }
  if (write_) buf_.Append('"');
}

void Printer::PrintByteString(Scheme_Object* o) {
  intptr_t n = SCHEME_BYTE_STRLEN_VAL(o);
  if (!write_) return buf_.Append(SCHEME_BYTE_STR_VAL(o), static_cast<size_t>(n));
  buf_.Append("#\"");
  for (intptr_t i = 0; i < n; ++i) {
    const auto* bytes = reinterpret_cast<const unsigned char*>(SCHEME_BYTE_STR_VAL(o));
    unsigned char b = bytes[i];
    if (b >= 0x20 && b < 0x7F) {
      if (b == '"' || b == '\\') buf_.Append('\\');
      buf_.Append(static_cast<char>(b));
    } else if (b == '\n' || b == '\t' || b == '\r' || b == 7 || b == 8 || b == 11 || b == 12 ||
               b == 27) {
      char tmp[kMaxEscapedChar];
      buf_.Append(tmp, EscapeStringChar(b, tmp));
    } else {
      // Octal, as short as the next byte allows (a following digit forces three digits).
      bool next_digit = i + 1 < n && bytes[i + 1] >= '0' && bytes[i + 1] <= '7';
      char tmp[8];
      int len = next_digit ? std::snprintf(tmp, sizeof tmp, "\\%03o", b)
                           : std::snprintf(tmp, sizeof tmp, "\\%o", b);
      buf_.Append(tmp, static_cast<size_t>(len));
    }
  }
  buf_.Append('"');
}

void Printer::PrintSymbol(Scheme_Object* o) {
  const char* s = SCHEME_SYM_VAL(o);
  auto n = static_cast<size_t>(SCHEME_SYM_LEN(o));
  if (!write_) return buf_.Append(s, n);
  bool bars = n == 0 || (n == 1 && s[0] == '.') || (s[0] == '#' && !(n > 1 && s[1] == '%')) ||
              LooksLikeNumber(s, n);
  bool has_bar = false;
  for (size_t i = 0; i < n; ++i) {
    if (IsDelimiter(static_cast<unsigned char>(s[i]))) bars = true;
    if (s[i] == '|') has_bar = true;
  }
  if (!bars) return buf_.Append(s, n);
  if (!has_bar) {
    buf_.Append('|');
    buf_.Append(SCHEME_SYM_VAL(o), n);  // reloaded: Append may allocate
    return buf_.Append('|');
  }
  for (size_t i = 0; i < n; ++i) {  // a bar inside: escape each special character instead
    char c = SCHEME_SYM_VAL(o)[i];
    if (IsDelimiter(static_cast<unsigned char>(c)) || (i == 0 && (c == '#' || n == 1))) {
      buf_.Append('\\');
    }
    buf_.Append(c);
  }
}

// Racket BC's flonum notation: the shortest digits that read back, printed as %g with at least
// 14 significant digits (so 1e21 is "1e+21"), and ".0" added to an integral value.
void Printer::PrintDouble(double d) {
  if (std::isnan(d)) return buf_.Append("+nan.0");
  if (std::isinf(d)) return buf_.Append(d > 0 ? "+inf.0" : "-inf.0");
  char sci[64];
  auto res = std::to_chars(sci, sci + sizeof sci, d, std::chars_format::scientific);
  int digits = 0;
  for (char* p = sci; p < res.ptr && *p != 'e'; ++p) digits += (*p >= '0' && *p <= '9') ? 1 : 0;
  char text[64];
  int n = std::snprintf(text, sizeof text, "%.*g", digits > 14 ? digits : 14, d);
  buf_.Append(text, static_cast<size_t>(n));
  if (std::strpbrk(text, ".e") == nullptr) buf_.Append(".0");
}

void Printer::PrintInteger(Scheme_Object* o) {
  if (SCHEME_INTP(o)) {
    char text[24];
    auto res = std::to_chars(text, text + sizeof text, SCHEME_INT_VAL(o));
    return buf_.Append(text, static_cast<size_t>(res.ptr - text));
  }
  buf_.Append(scheme_bignum_to_string(o, 10));
}

void Printer::PrintOpaque(Scheme_Type type) {
  const char* name = scheme_get_type_name(type);
  if (name == nullptr) {
    char text[32];
    int n = std::snprintf(text, sizeof text, "#<unknown-type:%d>", static_cast<int>(type));
    return buf_.Append(text, static_cast<size_t>(n));
  }
  if (name[0] == '<') {
    buf_.Append('#');
    return buf_.Append(name);
  }
  buf_.Append("#<");
  buf_.Append(name);
  buf_.Append('>');
}

}  // namespace

size_t EscapeStringChar(mzchar c, char* out) {
  const char* simple = nullptr;
  switch (c) {
    case '"': simple = "\\\""; break;
    case '\\': simple = "\\\\"; break;
    case 7: simple = "\\a"; break;
    case 8: simple = "\\b"; break;
    case 9: simple = "\\t"; break;
    case 10: simple = "\\n"; break;
    case 11: simple = "\\v"; break;
    case 12: simple = "\\f"; break;
    case 13: simple = "\\r"; break;
    case 27: simple = "\\e"; break;
    default: break;
  }
  if (simple != nullptr) {
    out[0] = simple[0];
    out[1] = simple[1];
    return 2;
  }
  if (Printable(c)) return static_cast<size_t>(Utf8Encode(c, out));
  return c <= 0xFFFF ? HexEscape('u', c, 4, out) : HexEscape('U', c, 8, out);
}

}  // namespace keel::rt

extern "C" {

char* scheme_write_to_string(Scheme_Object* obj, intptr_t* len) {
  keel::rt::Printer printer(true);
  printer.Print(obj, 0);
  return printer.Finish(len);
}

char* scheme_display_to_string(Scheme_Object* obj, intptr_t* len) {
  keel::rt::Printer printer(false);
  printer.Print(obj, 0);
  return printer.Finish(len);
}

}  // extern "C"
