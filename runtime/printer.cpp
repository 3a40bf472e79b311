// printer.cpp: scheme_write_to_string and scheme_display_to_string in Racket's notation. The
// text is built in a GcBuffer (collectable), so an escape mid-print leaks nothing. A linear
// pre-pass labels the values that contain themselves, which print as Racket's write prints them
// ("#0=#(#0#)"), so cyclic data cannot hang; nesting deeper than kMaxDepth prints as "...".
// Values and arrays held across an allocation are registered (roots.md .sol.frames).
#include "runtime/printer.h"

#include <bit>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "runtime/alloc.h"
#include "runtime/gc_buffer.h"
#include "runtime/gc_frame.h"
#include "runtime/utf8.h"
#include "gc/collector.h"
#include "scheme.h"

namespace keel::rt {

namespace {

// Deep enough for any data a person reads; shallow enough for a 256 KiB fiber stack.
constexpr int kMaxDepth = 1000;

// Compound values SurelyAcyclic may visit before the marking search takes over: walking a
// tree this size allocates nothing and costs less than printing it, while the search costs a
// map entry (a likely cache miss) per value; a failed walk wastes at most this many steps.
constexpr size_t kWalkSteps = size_t{1} << 22;

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

// The values the printer prints element by element: the only ones data can cycle through.
bool IsCompound(Scheme_Object* o) {
  if (o == nullptr || SCHEME_INTP(o)) return false;
  Scheme_Type t = SCHEME_TYPE(o);
  return t == scheme_pair_type || t == scheme_mutable_pair_type || t == scheme_vector_type ||
         t == scheme_box_type;
}

bool IsAnyPair(Scheme_Object* o) { return SCHEME_PAIRP(o) || SCHEME_MUTABLE_PAIRP(o); }

// A map from objects to small values (open addressing, linear probing) in collectable memory,
// so an escape mid-print leaks nothing. Owned by one printer on the C stack; its frame registers
// the arrays. Keys are compared, never followed; every key is reachable from the value being
// printed. The keys' array is traced, so a collector that moves objects (3m) updates the keys;
// the slots they hash to are then stale, and the first lookup after a collection places every
// entry again (Rehash).
// Invariant: keys_ == nullptr, or keys_ and values_ hold cap_ entries (a power of two) of which
// count_ are used, and count_ <= cap_ * 3 / 4.
template <class V>
class ObjectMap {
 public:
  // The value stored for o, or nullptr.
  V* Find(Scheme_Object* o) {
    if (keys_ == nullptr) return nullptr;
    if (Collections() != epoch_) Rehash();
    for (size_t i = Slot(o);; i = (i + 1) & (cap_ - 1)) {
      if (keys_[i] == o) return &values_[i];
      if (keys_[i] == nullptr) return nullptr;
    }
  }
  // The value stored for o, inserted as V{} when absent; valid until the next Insert. May
  // escape with out of memory.
  V* Insert(Scheme_Object* o) {
    if (4 * (count_ + 1) > 3 * cap_) {
      GcFrame frame(o);
      Grow();
    }
    if (Collections() != epoch_) Rehash();
    return Place(o);
  }
  size_t size() const { return count_; }
  // Calls fn(key, value) for every entry.
  template <class Fn>
  void ForEach(Fn fn) const {
    for (size_t i = 0; i < cap_; ++i) {
      if (keys_[i] != nullptr) fn(keys_[i], values_[i]);
    }
  }

 private:
  static uint64_t Collections() { return gc::Collector::CurrentPlace("scheme_print").collections(); }
  size_t Slot(Scheme_Object* o) const {
    // Fibonacci hashing: the top bits of the product mix every bit of the address.
    uint64_t h = static_cast<uint64_t>(reinterpret_cast<uintptr_t>(o)) * 0x9E3779B97F4A7C15ull;
    return static_cast<size_t>(h >> shift_);
  }
  V* Place(Scheme_Object* o) {
    for (size_t i = Slot(o);; i = (i + 1) & (cap_ - 1)) {
      if (keys_[i] == o) return &values_[i];
      if (keys_[i] == nullptr) {
        keys_[i] = o;
        values_[i] = V{};
        ++count_;
        return &values_[i];
      }
    }
  }
  void Grow();
  void Rehash();

  Scheme_Object** keys_ = nullptr;
  V* values_ = nullptr;
  size_t cap_ = 0;
  int shift_ = 64;  // 64 - log2(cap_)
  size_t count_ = 0;
  uint64_t epoch_ = 0;  // the collector's collection count when the entries were placed
  GcFrame<2> gc_frame_{keys_, values_};
};

template <class V>
void ObjectMap<V>::Grow() {
  // 64 entries hold a typical printed datum without regrowing; doubling keeps insertion
  // amortised O(1).
  size_t cap = cap_ == 0 ? 64 : cap_ * 2;
  auto n = static_cast<intptr_t>(cap);
  size_t key_bytes = ArrayBytes(0, n, sizeof(Scheme_Object*), "keel printer");
  auto* keys = static_cast<Scheme_Object**>(scheme_malloc(key_bytes));  // zeroed; traced
  GcFrame frame(keys);
  auto* values = static_cast<V*>(scheme_malloc_atomic(ArrayBytes(0, n, sizeof(V), "keel printer")));
  // The old keys were updated if that allocation moved them; the new ones are placed now.
  epoch_ = Collections();
  Scheme_Object** old_keys = keys_;
  V* old_values = values_;
  size_t old_cap = cap_;
  keys_ = keys;
  values_ = values;
  cap_ = cap;
  shift_ = 64 - std::countr_zero(cap);
  count_ = 0;
  for (size_t i = 0; i < old_cap; ++i) {
    if (old_keys[i] != nullptr) *Place(old_keys[i]) = old_values[i];
  }
}

// Takes every entry out and places it again by its key's current address. The entries wait in
// malloc memory meanwhile: nothing here allocates from the collector, so nothing moves.
template <class V>
void ObjectMap<V>::Rehash() {
  epoch_ = Collections();
  struct Entry {
    Scheme_Object* key;
    V value;
  };
  auto* entries = static_cast<Entry*>(std::malloc(count_ * sizeof(Entry) + 1));
  if (entries == nullptr) scheme_raise_out_of_memory("keel printer", "(rehashing %zu entries)", count_);
  size_t n = 0;
  for (size_t i = 0; i < cap_; ++i) {
    if (keys_[i] == nullptr) continue;
    entries[n++] = Entry{keys_[i], values_[i]};
    keys_[i] = nullptr;
  }
  count_ = 0;
  for (size_t i = 0; i < n; ++i) *Place(entries[i].key) = entries[i].value;
  std::free(entries);
}

// States of the pre-pass (one byte per value explored).
constexpr uint8_t kOnPath = 1;    // being explored: reaching it again closes a cycle
constexpr uint8_t kDone = 2;      // fully explored: not entered again
constexpr uint8_t kLabelled = 4;  // reached again while on the path: printed with a label

// Depth-first search over the compound values reachable from root, children in print order,
// each entered once (so linear in the graph), marking in `marks` every value reached again
// while it is on the current path. Every cycle holds such a value (the first of its members
// the search enters), so printing that cuts at labels terminates. The explicit stack keeps deep
// data off the C stack; a run of pairs linked by their cdrs shares one frame, so a long list
// costs one frame. Stops after `budget` values (the marks found so far stand); true when a
// value was labelled.
class CycleFinder {
 public:
  explicit CycleFinder(ObjectMap<uint8_t>* marks) : marks_(marks) {}
  bool Run(Scheme_Object* root, size_t budget);

 private:
  // Objects head, cdr(head), ... up to obj are on the path; next is obj's next child.
  struct Frame {
    Scheme_Object* head;
    Scheme_Object* obj;
    intptr_t next;
  };

  static bool NextChild(Frame* f, Scheme_Object** child);
  void Push(Scheme_Object* o);
  void Leave(const Frame& f);

  ObjectMap<uint8_t>* marks_;
  Frame* frames_ = nullptr;  // collectable and traced: a moving collector updates the objects
  size_t depth_ = 0;
  size_t cap_ = 0;
  GcFrame<1> gc_frame_{frames_};
};

bool CycleFinder::NextChild(Frame* f, Scheme_Object** child) {
  Scheme_Object* o = f->obj;
  intptr_t i = f->next++;
  switch (SCHEME_TYPE(o)) {
    case scheme_pair_type:
    case scheme_mutable_pair_type:
      if (i > 1) return false;
      *child = i == 0 ? SCHEME_CAR(o) : SCHEME_CDR(o);
      return true;
    case scheme_vector_type:
      if (i >= SCHEME_VEC_SIZE(o)) return false;
      *child = SCHEME_VEC_ELS(o)[i];
      return true;
    default:  // a box
      if (i > 0) return false;
      *child = SCHEME_BOX_VAL(o);
      return true;
  }
}

void CycleFinder::Push(Scheme_Object* o) {
  if (depth_ == cap_) {
    // 64 frames cover ordinary nesting; doubling keeps pushes amortised O(1).
    size_t cap = cap_ == 0 ? 64 : cap_ * 2;
    size_t bytes = ArrayBytes(0, static_cast<intptr_t>(cap), sizeof(Frame), "keel printer");
    GcFrame frame(o);
    auto* fresh = static_cast<Frame*>(scheme_malloc(bytes));
    if (depth_ != 0) std::memcpy(fresh, frames_, depth_ * sizeof(Frame));
    frames_ = fresh;
    cap_ = cap;
  }
  frames_[depth_++] = Frame{o, o, 0};
}

// The frame's objects leave the path, keeping their labels.
void CycleFinder::Leave(const Frame& f) {
  for (Scheme_Object* p = f.head;; p = SCHEME_CDR(p)) {
    uint8_t* mark = marks_->Find(p);
    *mark = static_cast<uint8_t>((*mark & kLabelled) | kDone);
    if (p == f.obj) break;
  }
}

bool CycleFinder::Run(Scheme_Object* root, size_t budget) {
  if (!IsCompound(root)) return false;
  bool labelled = false;
  Scheme_Object* child = nullptr;
  GcFrame frame(root, child);
  *marks_->Insert(root) = kOnPath;
  Push(root);
  while (depth_ != 0) {
    Frame* f = &frames_[depth_ - 1];
    if (!NextChild(f, &child)) {
      Leave(*f);
      --depth_;
      continue;
    }
    if (!IsCompound(child)) continue;
    uint8_t* mark = marks_->Insert(child);
    f = &frames_[depth_ - 1];  // reloaded: Insert may allocate
    if (*mark == 0) {
      if (marks_->size() > budget) return labelled;
      *mark = kOnPath;
      if (f->next == 2 && IsAnyPair(f->obj) && IsAnyPair(child)) {
        f->obj = child;  // child is f->obj's cdr: the run of pairs grows
        f->next = 0;
      } else {
        Push(child);  // invalidates f
      }
    } else if ((*mark & kOnPath) != 0) {
      *mark |= kLabelled;
      labelled = true;
    }
  }
  return labelled;
}

// Whether o is certainly acyclic, found without marking anything: a walk of every path from o
// that ends within *budget compound values. Any cycle either is a run of pairs linked by their
// cdrs (Brent's cycle check finds it) or passes through a car, element or box and so nests
// deeper than kMaxDepth; either way the answer is false, as it is for shared data that costs
// too many steps. Most printed data is a small tree, and this spares it the search's map.
bool SurelyAcyclic(Scheme_Object* o, int depth, size_t* budget) {
  while (IsCompound(o)) {
    if (depth > kMaxDepth || *budget == 0) return false;
    --*budget;
    if (SCHEME_BOXP(o)) {
      o = SCHEME_BOX_VAL(o);
      ++depth;
    } else if (SCHEME_VECTORP(o)) {
      intptr_t n = SCHEME_VEC_SIZE(o);
      for (intptr_t i = 0; i < n; ++i) {
        if (!SurelyAcyclic(SCHEME_VEC_ELS(o)[i], depth + 1, budget)) return false;
      }
      return true;
    } else {
      Scheme_Object* tortoise = o;
      for (size_t steps = 0, power = 1; IsAnyPair(o); o = SCHEME_CDR(o)) {
        if (*budget == 0 || !SurelyAcyclic(SCHEME_CAR(o), depth + 1, budget)) return false;
        --*budget;
        if (SCHEME_CDR(o) == tortoise) return false;
        if (++steps == power) {
          tortoise = SCHEME_CDR(o);
          power *= 2;
          steps = 0;
        }
      }
    }
  }
  return true;
}

// Prints one value. `max_bytes` bounds the work for a truncated print: once the text is longer,
// the printer stops adding to it (Full()).
class Printer {
 public:
  Printer(bool write, size_t max_bytes) : write_(write), max_bytes_(max_bytes) {}

  // Labels o's cycles, then prints it.
  void PrintTop(Scheme_Object* o);
  char* Finish(intptr_t* len) { return buf_.Finish(len); }

 private:
  void FindLabels(Scheme_Object* o);
  void Print(Scheme_Object* o, int depth);
  bool Full() const { return buf_.size() > max_bytes_; }
  bool Labelled(Scheme_Object* o);
  bool PrintLabel(Scheme_Object* o);
  void PrintSequence(Scheme_Object* o, int depth, Scheme_Type pair_type, char open, char close);
  void PrintVector(Scheme_Object* o, int depth);
  void PrintChar(mzchar c);
  void PrintCharString(Scheme_Object* o);
  void PrintByteString(Scheme_Object* o);
  void PrintSymbol(Scheme_Object* o);
  void PrintDouble(double d);
  void PrintFlvector(Scheme_Object* o);
  void PrintInteger(Scheme_Object* o);
  void PrintOpaque(Scheme_Type type);

  GcBuffer buf_;
  // The labelled values: 0 until "#n=" is printed, then n + 1. Empty unless o is cyclic.
  ObjectMap<intptr_t> labels_;
  intptr_t labels_used_ = 0;
  bool write_;
  size_t max_bytes_;
};

void Printer::PrintTop(Scheme_Object* o) {
  GcFrame frame(o);
  FindLabels(o);
  Print(o, 0);
}

// Out of line, so the search's map (one entry per compound value) is garbage once it returns.
__attribute__((noinline)) void Printer::FindLabels(Scheme_Object* o) {
  // A truncated print shows at most max_bytes_ + 1 compound values, each first met in the same
  // order by the search, so exploring a few times that many finds every label the text can
  // show (bar a deeper-than-kMaxDepth stretch the search enters and the printer does not).
  size_t budget = max_bytes_ > SIZE_MAX / 4 ? SIZE_MAX : 4 * max_bytes_ + 4;
  size_t walk = budget < kWalkSteps ? budget : kWalkSteps;
  if (SurelyAcyclic(o, 0, &walk)) return;
  ObjectMap<uint8_t> marks;
  if (!CycleFinder(&marks).Run(o, budget)) return;
  marks.ForEach([this](Scheme_Object* key, uint8_t mark) {
    if ((mark & kLabelled) != 0) labels_.Insert(key);
  });
}

bool Printer::Labelled(Scheme_Object* o) {
  return labels_.size() != 0 && labels_.Find(o) != nullptr;
}

// For a labelled value: its first occurrence prints "#n=" and returns false (print the value
// next), a later one prints "#n#" and returns true (nothing more to print).
bool Printer::PrintLabel(Scheme_Object* o) {
  intptr_t* label = labels_.Find(o);
  if (label == nullptr) return false;
  bool seen = *label != 0;
  if (!seen) *label = ++labels_used_;
  char text[32];
  int len = std::snprintf(text, sizeof text, "#%jd%c", static_cast<intmax_t>(*label - 1),
                          seen ? '#' : '=');
  buf_.Append(text, static_cast<size_t>(len));
  return seen;
}

void Printer::Print(Scheme_Object* o, int depth) {
  GcFrame frame(o);
  if (Full()) return;
  if (o == nullptr) return buf_.Append("#<null>");
  if (depth > kMaxDepth) return buf_.Append("...");
  if (labels_.size() != 0 && IsCompound(o) && PrintLabel(o)) return;
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
    case scheme_flvector_type: return PrintFlvector(o);
    case scheme_symbol_type: return PrintSymbol(o);
    case scheme_pair_type: return PrintSequence(o, depth, scheme_pair_type, '(', ')');
    case scheme_mutable_pair_type:
      return PrintSequence(o, depth, scheme_mutable_pair_type, '{', '}');
    case scheme_vector_type: return PrintVector(o, depth);
    case scheme_box_type:
      buf_.Append("#&");
      return Print(SCHEME_BOX_VAL(o), depth + 1);
    // Racket names its scheme_rt_* tags only in 3m; Keel's type names stop at the normal tags.
    case scheme_rt_weak_array: return buf_.Append("#<weak-array>");
    default: return PrintOpaque(SCHEME_TYPE(o));
  }
}

// A proper or dotted list. A labelled cdr ends the run after a dot ("(1 . #0=(2 . #0#))"): its
// label needs a datum of its own.
void Printer::PrintSequence(Scheme_Object* o, int depth, Scheme_Type pair_type, char open,
                            char close) {
  GcFrame frame(o);
  buf_.Append(open);
  for (bool first = true;; first = false) {
    if (!first) buf_.Append(' ');
    Print(SCHEME_CAR(o), depth + 1);
    o = SCHEME_CDR(o);
    if (o == nullptr || !SCHEME_OBJ_TYPEP(o, pair_type) || Labelled(o) || Full()) break;
  }
  if (o != scheme_null) {
    buf_.Append(" . ");
    Print(o, depth + 1);
  }
  buf_.Append(close);
}

void Printer::PrintVector(Scheme_Object* o, int depth) {
  GcFrame frame(o);
  buf_.Append("#(");
  intptr_t n = SCHEME_VEC_SIZE(o);
  for (intptr_t i = 0; i < n && !Full(); ++i) {
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
  GcFrame frame(o);
  intptr_t n = SCHEME_CHAR_STRLEN_VAL(o);
  char tmp[kMaxEscapedChar];
  if (write_) buf_.Append('"');
  for (intptr_t i = 0; i < n; ++i) {
    mzchar c = SCHEME_CHAR_STR_VAL(o)[i];  // read from o each time: Append may allocate
    size_t len = write_ ? EscapeStringChar(c, tmp) : static_cast<size_t>(Utf8Encode(c, tmp));
    buf_.Append(tmp, len);
  }
  if (write_) buf_.Append('"');
}

void Printer::PrintByteString(Scheme_Object* o) {
  GcFrame frame(o);
  auto n = static_cast<size_t>(SCHEME_BYTE_STRLEN_VAL(o));
  if (!write_) {
    buf_.Reserve(n);
    return buf_.Append(SCHEME_BYTE_STR_VAL(o), n);  // the bytes read after the Reserve
  }
  buf_.Append("#\"");
  for (size_t i = 0; i < n; ++i) {
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

// s is an interior pointer, good only until the first Append; the chars are appended from o
// after a Reserve.
void Printer::PrintSymbol(Scheme_Object* o) {
  GcFrame frame(o);
  const char* s = SCHEME_SYM_VAL(o);
  auto n = static_cast<size_t>(SCHEME_SYM_LEN(o));
  if (!write_) {
    buf_.Reserve(n);
    return buf_.Append(SCHEME_SYM_VAL(o), n);
  }
  bool bars = n == 0 || (n == 1 && s[0] == '.') || (s[0] == '#' && !(n > 1 && s[1] == '%')) ||
              LooksLikeNumber(s, n);
  bool has_bar = false;
  for (size_t i = 0; i < n; ++i) {
    if (IsDelimiter(static_cast<unsigned char>(s[i]))) bars = true;
    if (s[i] == '|') has_bar = true;
  }
  if (!bars) {
    buf_.Reserve(n);
    return buf_.Append(SCHEME_SYM_VAL(o), n);
  }
  if (!has_bar) {
    buf_.Reserve(n + 2);
    buf_.Append('|');
    buf_.Append(SCHEME_SYM_VAL(o), n);
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
// #fl(1.0 2.5), as Racket writes flonum vectors; the elements are read after each append, which
// may collect (3m moves o).
void Printer::PrintFlvector(Scheme_Object* o) {
  GcFrame frame(o);
  buf_.Append("#fl(");
  for (intptr_t i = 0; i < SCHEME_FLVEC_SIZE(o); ++i) {
    if (i != 0) buf_.Append(' ');
    PrintDouble(SCHEME_FLVEC_ELS(o)[i]);
  }
  buf_.Append(')');
}

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
  char* digits = scheme_bignum_to_string(o, 10);
  GcFrame frame(digits);
  size_t n = std::strlen(digits);
  buf_.Reserve(n);
  buf_.Append(digits, n);
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

char* PrintLimited(Scheme_Object* o, bool write, size_t max_chars, intptr_t* len) {
  // No character takes more than 4 bytes, so a text past 4 * max_chars bytes is too long.
  Printer printer(write, 4 * max_chars);
  printer.PrintTop(o);
  intptr_t n = 0;
  char* s = printer.Finish(&n);
  size_t chars = 0;
  size_t cut = 0;  // where character max_chars - 3 starts
  for (intptr_t i = 0; i < n; ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) continue;  // UTF-8 continuation
    if (chars == max_chars - 3) cut = static_cast<size_t>(i);
    ++chars;
  }
  if (chars > max_chars) {  // at least 4 characters from `cut` on: room for "..." and a NUL
    std::memcpy(s + cut, "...", 4);
    n = static_cast<intptr_t>(cut + 3);
  }
  if (len != nullptr) *len = n;
  return s;
}

}  // namespace keel::rt

extern "C" {

char* scheme_write_to_string(Scheme_Object* obj, intptr_t* len) {
  keel::rt::Printer printer(true, SIZE_MAX);
  printer.PrintTop(obj);
  return printer.Finish(len);
}

char* scheme_display_to_string(Scheme_Object* obj, intptr_t* len) {
  keel::rt::Printer printer(false, SIZE_MAX);
  printer.PrintTop(obj);
  return printer.Finish(len);
}

}  // extern "C"
