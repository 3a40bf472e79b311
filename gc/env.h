// env.h: the one reader of the environment variables the library honours (README.md
// "Environment variables"). One rule for all of them: unset or empty means the default; a value
// that is not wholly valid is reported once (keel::Warn: the variable, the value, what is
// expected) and the default stays.
#ifndef KEEL_GC_ENV_H
#define KEEL_GC_ENV_H

#include <cstdint>
#include <initializer_list>

namespace keel::gc {

// The value of `name`, or nullptr when it is unset or empty.
const char* EnvText(const char* name);
// Whether `name` is set to a non-empty value (a flag such as PLTDISABLEGC: any value counts).
bool EnvFlag(const char* name);
// A whole decimal number in [lo, hi]: digits only, no sign, no spaces.
uint64_t EnvCount(const char* name, uint64_t fallback, uint64_t lo, uint64_t hi);
// A byte count in [lo, hi]: digits, then optionally one of K, M, G, T (either case; powers of
// 1024), as bdwgc reads its sizes.
uint64_t EnvBytes(const char* name, uint64_t fallback, uint64_t lo, uint64_t hi);
// A decimal number x with lo < x <= hi (strtod syntax, starting with a digit or a point).
double EnvNumber(const char* name, double fallback, double lo, double hi);
// The index of the value among `choices` (exact, case-sensitive match).
int EnvChoice(const char* name, int fallback, std::initializer_list<const char*> choices);

// The parsers behind the readers, without the environment (unit-tested on their own).
enum class EnvError { kNone, kNotNumber, kSign, kJunk, kOverflow };
EnvError ParseCount(const char* text, uint64_t* out);
EnvError ParseBytes(const char* text, uint64_t* out);
EnvError ParseNumber(const char* text, double* out);

}  // namespace keel::gc

#endif  // KEEL_GC_ENV_H
