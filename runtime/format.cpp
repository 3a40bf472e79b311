// format.cpp: the scheme_signal_error formatter (format.h). Each standard directive is parsed,
// its argument fetched with the type its length modifier names, and the directive handed alone
// to snprintf; Racket's directives are done here.
#include "runtime/format.h"

#include <cerrno>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "runtime/gc_frame.h"
#include "runtime/printer.h"
#include "runtime/utf8.h"
#include "scheme.h"

namespace keel::rt {

namespace {

enum class Length { kNone, kChar, kShort, kLong, kLongLong, kIntMax, kSize, kPtrDiff, kLongDouble };

// Racket's default error-print-width (the spec gives none): a value inserted by %S, %V or %D
// takes at most this many characters, a longer one its first 253 and "...", as Racket's
// default error value->string handler does. It also bounds the printing work for huge data.
constexpr size_t kErrorPrintWidth = 256;

// Larger widths and precisions are clamped: nobody means a gigabyte of padding in an error
// message, and clamping keeps snprintf's int result from overflowing.
constexpr int kMaxFieldWidth = 1 << 20;

struct Directive {
  char flags[8] = {};
  int nflags = 0;
  int width = -1;      // -1: none
  int precision = -1;  // -1: none
  Length length = Length::kNone;
  char conv = 0;
};

const char* LengthText(Length l) {
  switch (l) {
    case Length::kChar: return "hh";
    case Length::kShort: return "h";
    case Length::kLong: return "l";
    case Length::kLongLong: return "ll";
    case Length::kIntMax: return "j";
    case Length::kSize: return "z";
    case Length::kPtrDiff: return "t";
    case Length::kLongDouble: return "L";
    case Length::kNone: break;
  }
  return "";
}

// "%<flags><width>.<precision><length><conv>" for snprintf.
void BuildSpec(const Directive& d, char* spec, size_t size) {
  int n = std::snprintf(spec, size, "%%%.*s", d.nflags, d.flags);
  if (d.width >= 0) n += std::snprintf(spec + n, size - n, "%d", d.width);
  if (d.precision >= 0) n += std::snprintf(spec + n, size - n, ".%d", d.precision);
  std::snprintf(spec + n, size - n, "%s%c", LengthText(d.length), d.conv);
}

template <class T>
void AppendOne(std::string& out, const Directive& d, T value) {
  char spec[48];
  BuildSpec(d, spec, sizeof spec);
  char small[256];
  int n = std::snprintf(small, sizeof small, spec, value);
  if (n < 0) return;
  if (static_cast<size_t>(n) < sizeof small) {
    out.append(small, static_cast<size_t>(n));
    return;
  }
  size_t old = out.size();
  out.resize(old + static_cast<size_t>(n) + 1);
  std::snprintf(&out[old], static_cast<size_t>(n) + 1, spec, value);
  out.resize(old + static_cast<size_t>(n));
}

void AppendSigned(std::string& out, const Directive& d, va_list* ap) {
  switch (d.length) {
    case Length::kLong: return AppendOne(out, d, va_arg(*ap, long));
    case Length::kLongLong:
    case Length::kLongDouble: return AppendOne(out, d, va_arg(*ap, long long));
    case Length::kIntMax: return AppendOne(out, d, va_arg(*ap, intmax_t));
    case Length::kSize: return AppendOne(out, d, va_arg(*ap, std::make_signed_t<size_t>));
    case Length::kPtrDiff: return AppendOne(out, d, va_arg(*ap, ptrdiff_t));
    default: return AppendOne(out, d, va_arg(*ap, int));  // hh and h arrive promoted
  }
}

void AppendUnsigned(std::string& out, const Directive& d, va_list* ap) {
  switch (d.length) {
    case Length::kLong: return AppendOne(out, d, va_arg(*ap, unsigned long));
    case Length::kLongLong:
    case Length::kLongDouble: return AppendOne(out, d, va_arg(*ap, unsigned long long));
    case Length::kIntMax: return AppendOne(out, d, va_arg(*ap, uintmax_t));
    case Length::kSize: return AppendOne(out, d, va_arg(*ap, size_t));
    case Length::kPtrDiff: return AppendOne(out, d, va_arg(*ap, std::make_unsigned_t<ptrdiff_t>));
    default: return AppendOne(out, d, va_arg(*ap, unsigned int));
  }
}

// %n: stores the bytes produced so far by this call.
void StoreCount(const Directive& d, size_t count, va_list* ap) {
  switch (d.length) {
    case Length::kChar: *va_arg(*ap, signed char*) = static_cast<signed char>(count); break;
    case Length::kShort: *va_arg(*ap, short*) = static_cast<short>(count); break;
    case Length::kLong: *va_arg(*ap, long*) = static_cast<long>(count); break;
    case Length::kLongLong:
    case Length::kLongDouble: *va_arg(*ap, long long*) = static_cast<long long>(count); break;
    case Length::kIntMax: *va_arg(*ap, intmax_t*) = static_cast<intmax_t>(count); break;
    case Length::kSize: *va_arg(*ap, size_t*) = count; break;
    case Length::kPtrDiff: *va_arg(*ap, ptrdiff_t*) = static_cast<ptrdiff_t>(count); break;
    case Length::kNone: *va_arg(*ap, int*) = static_cast<int>(count); break;
  }
}

// Pads text to the directive's width (left-justified with '-').
void AppendPadded(std::string& out, const Directive& d, const char* text, size_t len) {
  size_t width = d.width > 0 ? static_cast<size_t>(d.width) : 0;
  bool left = std::memchr(d.flags, '-', static_cast<size_t>(d.nflags)) != nullptr;
  if (!left && width > len) out.append(width - len, ' ');
  out.append(text, len);
  if (left && width > len) out.append(width - len, ' ');
}

void AppendValue(std::string& out, Scheme_Object* v, bool write) {
  if (v == nullptr) {
    out += "#<null>";
    return;
  }
  intptr_t len = 0;
  char* s = PrintLimited(v, write, kErrorPrintWidth, &len);
  out.append(s, static_cast<size_t>(len));
}

[[maybe_unused]] const char* StrerrorText(int result, const char* buf) {
  return result == 0 ? buf : "unknown error";
}
[[maybe_unused]] const char* StrerrorText(const char* result, const char*) { return result; }

void AppendErrno(std::string& out, int err) {
  char buf[256];
  // The XSI strerror_r fills buf; the GNU one returns a string. Both are handled.
  out += StrerrorText(strerror_r(err, buf, sizeof buf), buf);
  out += "; errno=";
  out += std::to_string(err);
}

// Parses flags, width, precision and length after a '%'; returns the position of the
// conversion character.
const char* ParseDirective(const char* p, Directive* d, va_list* ap) {
  while (std::strchr("-+ #0'", *p) != nullptr && *p != '\0') {
    if (d->nflags < static_cast<int>(sizeof d->flags)) d->flags[d->nflags++] = *p;
    ++p;
  }
  if (*p == '*') {
    int w = va_arg(*ap, int);
    if (w < 0) {  // a negative '*' width means left-justify
      if (d->nflags < static_cast<int>(sizeof d->flags)) d->flags[d->nflags++] = '-';
      w = w == INT_MIN ? kMaxFieldWidth : -w;
    }
    d->width = w > kMaxFieldWidth ? kMaxFieldWidth : w;
    ++p;
  } else {
    for (; *p >= '0' && *p <= '9'; ++p) {
      int w = d->width < 0 ? 0 : d->width;
      d->width = w >= kMaxFieldWidth ? kMaxFieldWidth : w * 10 + (*p - '0');
    }
  }
  if (*p == '.') {
    ++p;
    d->precision = 0;
    if (*p == '*') {
      int prec = va_arg(*ap, int);
      d->precision = prec < 0 ? -1 : (prec > kMaxFieldWidth ? kMaxFieldWidth : prec);
      ++p;
    } else {
      for (; *p >= '0' && *p <= '9'; ++p) {
        d->precision =
            d->precision >= kMaxFieldWidth ? kMaxFieldWidth : d->precision * 10 + (*p - '0');
      }
    }
  }
  switch (*p) {
    case 'h':
      d->length = p[1] == 'h' ? Length::kChar : Length::kShort;
      p += p[1] == 'h' ? 2 : 1;
      break;
    case 'l':
      d->length = p[1] == 'l' ? Length::kLongLong : Length::kLong;
      p += p[1] == 'l' ? 2 : 1;
      break;
    case 'j': d->length = Length::kIntMax; ++p; break;
    case 'z': d->length = Length::kSize; ++p; break;
    case 't': d->length = Length::kPtrDiff; ++p; break;
    case 'L': d->length = Length::kLongDouble; ++p; break;
    default: break;
  }
  d->conv = *p;
  return p;
}

}  // namespace

void AppendQuoted(std::string& out, const char* s) {
  out += '"';
  size_t n = std::strlen(s);
  auto* bytes = reinterpret_cast<const unsigned char*>(s);
  for (size_t i = 0; i < n;) {
    mzchar c;
    i += Utf8DecodeOne(bytes + i, n - i, &c);
    char buf[kMaxEscapedChar];
    out.append(buf, EscapeStringChar(c, buf));
  }
  out += '"';
}

namespace {

// The Scheme values a format's %V, %S and %D directives print. A first pass reads them all from
// the arguments before anything is printed, and the second prints them from here, registered:
// printing one may allocate, and a moving collector then moves the others, which the va_list
// cannot follow (roots.md .sol.frames).
// The %s and %q strings are copied in the first pass too: one may lie in a collectable object.
struct FormatValues {
  bool collecting = true;  // the first pass: read the values, print nothing that lasts
  std::vector<Scheme_Object*> values;  // malloc memory: stays put while registered
  std::vector<std::string> texts;      // copies of the %s and %q strings (NULL: none)
  std::vector<bool> null_texts;
  size_t next = 0;
  size_t next_text = 0;
  Scheme_Object* Take(va_list* ap) {
    Scheme_Object* v = va_arg(*ap, Scheme_Object*);
    if (collecting) {
      values.push_back(v);
      return nullptr;
    }
    return values[next++];
  }
  const char* TakeText(va_list* ap) {
    const char* text = va_arg(*ap, const char*);
    if (collecting) {
      null_texts.push_back(text == nullptr);
      texts.emplace_back(text != nullptr ? text : "");
      return text;
    }
    const size_t k = next_text++;
    return null_texts[k] ? nullptr : texts[k].c_str();
  }
};

void FormatPass(std::string& out, const char* fmt, va_list* ap, FormatValues& values) {
  const size_t start = out.size();
  for (const char* p = fmt; *p != '\0'; ++p) {
    if (*p != '%') {
      const char* q = p;
      while (q[1] != '\0' && q[1] != '%') ++q;
      out.append(p, static_cast<size_t>(q - p + 1));
      p = q;
      continue;
    }
    const char* begin = p;
    Directive d;
    p = ParseDirective(p + 1, &d, ap);
    switch (d.conv) {
      case 'd': case 'i': AppendSigned(out, d, ap); break;
      case 'o': case 'u': case 'x': case 'X': AppendUnsigned(out, d, ap); break;
      case 'f': case 'F': case 'E': case 'g': case 'G': case 'a': case 'A':
        if (d.length == Length::kLongDouble) {
          AppendOne(out, d, va_arg(*ap, long double));
        } else {
          AppendOne(out, d, va_arg(*ap, double));
        }
        break;
      case 'c': {
        char buf[4];
        int len = Utf8Encode(static_cast<mzchar>(va_arg(*ap, unsigned int)), buf);
        AppendPadded(out, d, buf, static_cast<size_t>(len));
        break;
      }
      case 's':
        if (d.length == Length::kLong) {
          AppendOne(out, d, va_arg(*ap, const wchar_t*));
        } else {
          AppendOne(out, d, values.TakeText(ap));
        }
        break;
      case 'p': AppendOne(out, d, va_arg(*ap, void*)); break;
      case 'n':
        if (values.collecting) {
          (void)va_arg(*ap, void*);
        } else {
          StoreCount(d, out.size() - start, ap);
        }
        break;
      case '%': out += '%'; break;
      case 'V': case 'S': case 'D': {
        Scheme_Object* v = values.Take(ap);
        if (!values.collecting) AppendValue(out, v, d.conv != 'D');
        break;
      }
      case 'e': AppendErrno(out, va_arg(*ap, int)); break;
      case 'q': {
        const char* s = values.TakeText(ap);
        if (s == nullptr) {
          out += "(null)";
        } else {
          AppendQuoted(out, s);
        }
        break;
      }
      case '\0':  // a lone '%' at the end
        out.append(begin, static_cast<size_t>(p - begin));
        return;
      default:  // unknown: copied as it stands, consuming no argument
        out.append(begin, static_cast<size_t>(p - begin + 1));
        break;
    }
  }
}

}  // namespace

void FormatV(std::string& out, const char* fmt, va_list* ap) {
  if (fmt == nullptr) return;
  FormatValues values;
  {
    va_list copy;
    va_copy(copy, *ap);
    std::string scratch;
    FormatPass(scratch, fmt, &copy, values);
    va_end(copy);
  }
  values.collecting = false;
  GcArrayFrame frame(reinterpret_cast<void**>(values.values.data()), values.values.size());
  FormatPass(out, fmt, ap, values);
}

}  // namespace keel::rt
