// printer.h: pieces of the printer (printer.cpp) that the error formatter shares: how a
// character is escaped inside a written string, and printing cut to a width.
#ifndef KEEL_RUNTIME_PRINTER_H
#define KEEL_RUNTIME_PRINTER_H

#include <cstddef>
#include <cstdint>

#include "scheme.h"

namespace keel::rt {

// Room EscapeStringChar needs.
inline constexpr size_t kMaxEscapedChar = 12;

// Writes c as it appears inside a written string literal ("\n", "\\", "\u0001", or its UTF-8
// encoding) to out; returns the bytes written.
size_t EscapeStringChar(mzchar c, char* out);

// o written (write) or displayed as scheme_write_to_string does, but at most max_chars
// characters (max_chars >= 3): a longer text becomes its first max_chars - 3 characters and
// "...". The printer stops soon after the limit, so the work is bounded too. Returns a
// collectable NUL-terminated string; *len (when not null) gets its length in bytes.
char* PrintLimited(Scheme_Object* o, bool write, size_t max_chars, intptr_t* len);

}  // namespace keel::rt

#endif  // KEEL_RUNTIME_PRINTER_H
