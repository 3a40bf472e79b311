// constants.cpp: the static, non-collected objects every place shares: #t, #f, (), #<void>,
// #<eof> and the characters below U+0100 (reference/racket_bc.md §6, "Constants").
#include <array>

#include "runtime/objects.h"
#include "scheme.h"

extern "C" {

Scheme_Object scheme_true[1] = {{scheme_true_type, 0}};
Scheme_Object scheme_false[1] = {{scheme_false_type, 0}};
Scheme_Object scheme_null[1] = {{scheme_null_type, 0}};
Scheme_Object scheme_void[1] = {{scheme_void_type, 0}};
Scheme_Object scheme_eof[1] = {{scheme_eof_type, 0}};

}  // extern "C"

namespace keel::rt {

namespace {

constexpr std::array<Scheme_Small_Object, kStaticChars> MakeCharTable() {
  std::array<Scheme_Small_Object, kStaticChars> table{};
  for (mzchar c = 0; c < kStaticChars; ++c) {
    table[c].iso.so.type = scheme_char_type;
    table[c].iso.so.keyex = 0;
    table[c].u.char_val = c;
  }
  return table;
}

// Built at compile time: usable before any runtime exists, and never written. Not const only
// because the API hands out Scheme_Object*, as Racket does.
constinit std::array<Scheme_Small_Object, kStaticChars> g_chars = MakeCharTable();

}  // namespace

Scheme_Object* StaticChar(mzchar c) { return reinterpret_cast<Scheme_Object*>(&g_chars[c]); }

}  // namespace keel::rt
