// format.h: the printf-style formatter behind scheme_signal_error: every standard conversion
// and length modifier (delegated to vsnprintf one directive at a time) plus Racket's extras.
#ifndef KEEL_RUNTIME_FORMAT_H
#define KEEL_RUNTIME_FORMAT_H

#include <cstdarg>
#include <string>

namespace keel::rt {

// Appends fmt formatted with the arguments in *ap to out. Racket's directives:
//   %c  an mzchar, written as UTF-8 (%lc too)
//   %V, %S  a Scheme value, written;  %D  a Scheme value, displayed
//   %e  an int errno value: its strerror text and "; errno=N" (%E stays the double one)
//   %q  a char* written as a quoted string
// Standard: d i o u x X f F E g G a A s p n % with flags, width, precision ('*' included) and
// hh h l ll j z t L. An unknown directive is copied as it stands. May allocate collectable
// memory (only for %V, %S and %D) and so may escape with out of memory; out is left valid.
void FormatV(std::string& out, const char* fmt, va_list* ap);

// Appends s as Racket writes a string: in double quotes, with backslash escapes.
void AppendQuoted(std::string& out, const char* s);

}  // namespace keel::rt

#endif  // KEEL_RUNTIME_FORMAT_H
