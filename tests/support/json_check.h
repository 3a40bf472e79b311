// json_check.h: a small strict JSON syntax checker (RFC 8259 grammar), enough to tell whether a
// trace file the collector wrote is a complete, well-formed document.
#ifndef KEEL_TESTS_SUPPORT_JSON_CHECK_H
#define KEEL_TESTS_SUPPORT_JSON_CHECK_H

#include <cstddef>
#include <string>

namespace keel_test {

class JsonChecker {
 public:
  explicit JsonChecker(const std::string& text) : s_(text) {}

  // True when the whole text is exactly one JSON value (surrounded by optional whitespace).
  // On failure, error() says where.
  bool Valid() {
    pos_ = 0;
    depth_ = 0;
    SkipSpace();
    if (!Value()) return false;
    SkipSpace();
    if (pos_ != s_.size()) return Fail("trailing characters");
    return true;
  }
  const std::string& error() const { return error_; }

 private:
  bool Fail(const char* what) {
    error_ = std::string(what) + " at offset " + std::to_string(pos_);
    return false;
  }
  bool AtEnd() const { return pos_ >= s_.size(); }
  char Peek() const { return AtEnd() ? '\0' : s_[pos_]; }
  void SkipSpace() {
    while (!AtEnd() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) ++pos_;
  }
  bool Literal(const char* word) {
    for (const char* w = word; *w != '\0'; ++w, ++pos_) {
      if (Peek() != *w) return Fail("bad literal");
    }
    return true;
  }
  static bool IsDigit(char c) { return c >= '0' && c <= '9'; }
  static bool IsHex(char c) { return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

  bool Value() {
    if (++depth_ > 512) return Fail("nesting too deep");
    bool ok;
    switch (Peek()) {
      case '{': ok = Object(); break;
      case '[': ok = Array(); break;
      case '"': ok = String(); break;
      case 't': ok = Literal("true"); break;
      case 'f': ok = Literal("false"); break;
      case 'n': ok = Literal("null"); break;
      default: ok = Number(); break;
    }
    --depth_;
    return ok;
  }
  bool Object() {
    ++pos_;  // {
    SkipSpace();
    if (Peek() == '}') {
      ++pos_;
      return true;
    }
    for (;;) {
      SkipSpace();
      if (Peek() != '"') return Fail("expected a member name");
      if (!String()) return false;
      SkipSpace();
      if (Peek() != ':') return Fail("expected ':'");
      ++pos_;
      SkipSpace();
      if (!Value()) return false;
      SkipSpace();
      if (Peek() == ',') {
        ++pos_;
        continue;
      }
      if (Peek() == '}') {
        ++pos_;
        return true;
      }
      return Fail("expected ',' or '}'");
    }
  }
  bool Array() {
    ++pos_;  // [
    SkipSpace();
    if (Peek() == ']') {
      ++pos_;
      return true;
    }
    for (;;) {
      SkipSpace();
      if (!Value()) return false;
      SkipSpace();
      if (Peek() == ',') {
        ++pos_;
        continue;
      }
      if (Peek() == ']') {
        ++pos_;
        return true;
      }
      return Fail("expected ',' or ']'");
    }
  }
  bool String() {
    ++pos_;  // "
    while (!AtEnd()) {
      char c = s_[pos_++];
      if (c == '"') return true;
      if (static_cast<unsigned char>(c) < 0x20) return Fail("control character in string");
      if (c == '\\') {
        char e = Peek();
        ++pos_;
        if (e == 'u') {
          for (int i = 0; i < 4; ++i, ++pos_) {
            if (!IsHex(Peek())) return Fail("bad \\u escape");
          }
        } else if (e != '"' && e != '\\' && e != '/' && e != 'b' && e != 'f' && e != 'n' && e != 'r' &&
                   e != 't') {
          return Fail("bad escape");
        }
      }
    }
    return Fail("unterminated string");
  }
  bool Number() {
    size_t start = pos_;
    if (Peek() == '-') ++pos_;
    if (Peek() == '0') {
      ++pos_;
    } else if (IsDigit(Peek())) {
      while (IsDigit(Peek())) ++pos_;
    } else {
      return Fail(pos_ == start ? "expected a value" : "bad number");
    }
    if (Peek() == '.') {
      ++pos_;
      if (!IsDigit(Peek())) return Fail("bad fraction");
      while (IsDigit(Peek())) ++pos_;
    }
    if (Peek() == 'e' || Peek() == 'E') {
      ++pos_;
      if (Peek() == '+' || Peek() == '-') ++pos_;
      if (!IsDigit(Peek())) return Fail("bad exponent");
      while (IsDigit(Peek())) ++pos_;
    }
    return true;
  }

  const std::string& s_;
  size_t pos_ = 0;
  int depth_ = 0;
  std::string error_;
};

// Number of non-overlapping occurrences of needle in text.
inline size_t CountOccurrences(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + needle.size())) ++n;
  return n;
}

}  // namespace keel_test

#endif  // KEEL_TESTS_SUPPORT_JSON_CHECK_H
