// env.cpp: parsing and reporting of environment variables (env.h). Parsers are strict by hand:
// strtoull takes "-1" as 2^64-1 and stops silently at junk, which is how values used to be
// misread.
#include "gc/env.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "gc/fatal.h"

namespace keel::gc {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Reads the leading digits of *s into *out, advancing *s past them.
EnvError ParseDigits(const char** s, uint64_t* out) {
  const char* p = *s;
  if (*p == '+' || *p == '-') return EnvError::kSign;
  if (!IsDigit(*p)) return EnvError::kNotNumber;
  uint64_t n = 0;
  for (; IsDigit(*p); ++p) {
    auto digit = static_cast<uint64_t>(*p - '0');
    if (n > (UINT64_MAX - digit) / 10) return EnvError::kOverflow;
    n = n * 10 + digit;
  }
  *s = p;
  *out = n;
  return EnvError::kNone;
}

const char* Describe(EnvError e) {
  switch (e) {
    case EnvError::kNotNumber: return "not a number";
    case EnvError::kSign: return "a sign is not allowed";
    case EnvError::kJunk: return "text after the number";
    case EnvError::kOverflow: return "too large";
    case EnvError::kNone: break;
  }
  return "out of range";
}

// One warning per variable and value per process: every thread's collector reads the
// environment when it starts, and a bad value is worth saying once.
void Reject(const char* name, const char* value, const char* problem, const std::string& expected) {
  static std::mutex mu;
  // Never destroyed: a collector may start while the process runs its exit handlers.
  static auto* reported = new std::vector<std::string>;
  std::string key = std::string(name) + "=" + value;
  {
    std::lock_guard<std::mutex> lock(mu);
    for (const std::string& r : *reported) {
      if (r == key) return;
    }
    reported->push_back(key);
  }
  Warn("%s ignored: %s; expected %s", key.c_str(), problem, expected.c_str());
}

}  // namespace

EnvError ParseCount(const char* text, uint64_t* out) {
  uint64_t n = 0;
  EnvError e = ParseDigits(&text, &n);
  if (e != EnvError::kNone) return e;
  if (*text != '\0') return EnvError::kJunk;
  *out = n;
  return EnvError::kNone;
}

EnvError ParseBytes(const char* text, uint64_t* out) {
  uint64_t n = 0;
  EnvError e = ParseDigits(&text, &n);
  if (e != EnvError::kNone) return e;
  unsigned shift = 0;
  switch (*text) {
    case 'k': case 'K': shift = 10; break;
    case 'm': case 'M': shift = 20; break;
    case 'g': case 'G': shift = 30; break;
    case 't': case 'T': shift = 40; break;
    default: break;
  }
  if (shift != 0) ++text;
  if (*text != '\0') return EnvError::kJunk;
  if (n > (UINT64_MAX >> shift)) return EnvError::kOverflow;
  *out = n << shift;
  return EnvError::kNone;
}

EnvError ParseNumber(const char* text, double* out) {
  if (*text == '+' || *text == '-') return EnvError::kSign;
  // A digit or a point first: strtod would also take spaces, "inf", "nan" and hex floats.
  if (!IsDigit(*text) && !(*text == '.' && IsDigit(text[1]))) return EnvError::kNotNumber;
  char* end = nullptr;
  double v = std::strtod(text, &end);
  if (*end != '\0') return EnvError::kJunk;
  if (!std::isfinite(v)) return EnvError::kOverflow;
  *out = v;
  return EnvError::kNone;
}

const char* EnvText(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : nullptr;
}

bool EnvFlag(const char* name) { return EnvText(name) != nullptr; }

namespace {

// Reads an unsigned variable with `parse`. A value that does not parse or lies outside [lo, hi]
// is rejected; the warning expects "<what> from <lo> to <hi><how>".
uint64_t EnvUnsigned(const char* name, uint64_t fallback, uint64_t lo, uint64_t hi,
                     EnvError (*parse)(const char*, uint64_t*), const char* what, const char* how) {
  const char* v = EnvText(name);
  if (v == nullptr) return fallback;
  uint64_t n = 0;
  EnvError e = parse(v, &n);
  if (e == EnvError::kNone && n >= lo && n <= hi) return n;
  char expected[160];
  std::snprintf(expected, sizeof expected, "%s from %llu to %llu%s", what, static_cast<unsigned long long>(lo),
                static_cast<unsigned long long>(hi), how);
  Reject(name, v, Describe(e), expected);
  return fallback;
}

}  // namespace

uint64_t EnvCount(const char* name, uint64_t fallback, uint64_t lo, uint64_t hi) {
  return EnvUnsigned(name, fallback, lo, hi, ParseCount, "a whole number", "");
}

uint64_t EnvBytes(const char* name, uint64_t fallback, uint64_t lo, uint64_t hi) {
  return EnvUnsigned(name, fallback, lo, hi, ParseBytes, "a byte count", " (digits, then optionally K, M, G or T)");
}

double EnvNumber(const char* name, double fallback, double lo, double hi) {
  const char* v = EnvText(name);
  if (v == nullptr) return fallback;
  double x = 0.0;
  EnvError e = ParseNumber(v, &x);
  if (e == EnvError::kNone && x > lo && x <= hi) return x;
  char expected[96];
  std::snprintf(expected, sizeof expected, "a number greater than %g and at most %g", lo, hi);
  Reject(name, v, Describe(e), expected);
  return fallback;
}

int EnvChoice(const char* name, int fallback, std::initializer_list<const char*> choices) {
  const char* v = EnvText(name);
  if (v == nullptr) return fallback;
  int i = 0;
  std::string expected = "one of";
  for (const char* c : choices) {
    if (std::strcmp(v, c) == 0) return i;
    expected += i == 0 ? " " : ", ";
    expected += c;
    ++i;
  }
  Reject(name, v, "not a known choice", expected);
  return fallback;
}

}  // namespace keel::gc
