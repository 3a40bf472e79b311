// printer.h: pieces of the printer (printer.cpp) that the error formatter shares: how a
// character is escaped inside a written string.
#ifndef KEEL_RUNTIME_PRINTER_H
#define KEEL_RUNTIME_PRINTER_H

#include <cstddef>

#include "scheme.h"

namespace keel::rt {

// Room EscapeStringChar needs.
inline constexpr size_t kMaxEscapedChar = 12;

// Writes c as it appears inside a written string literal ("\n", "\\", "\u0001", or its UTF-8
// encoding) to out; returns the bytes written.
size_t EscapeStringChar(mzchar c, char* out);

}  // namespace keel::rt

#endif  // KEEL_RUNTIME_PRINTER_H
