// values.h: Scheme values to C arguments and C values back (docs/design/ffi.md .sol.values), and
// the type tags of the FFI's own C pointer objects.
#ifndef KEEL_FFI_VALUES_H
#define KEEL_FFI_VALUES_H

#include "ffi/call_interface.h"
#include "scheme.h"

namespace keel::ffi {

// The type tags of library handles, signatures and callbacks: static symbols shared by every
// place and in no heap, so no scheme_intern_symbol result is eq to them and a C pointer object
// made outside the FFI is never taken for one.
Scheme_Object* LibraryTag();
Scheme_Object* SignatureTag();
Scheme_Object* CallbackTag();

// The address a pointer value stands for: a C pointer object's VAL + OFFSET, a byte string's
// data, NULL for #f. False for any other value.
bool PointerOf(Scheme_Object* v, void** out);

// Exact integer v as a 64-bit value; false when it is not one or does not fit.
bool ToInt64(Scheme_Object* v, int64_t* out);
bool ToUint64(Scheme_Object* v, uint64_t* out);

// Raises an error (scheme_signal_error) naming `who`, argument `index` (1-based; 0 for a result)
// and the type, unless v is a value of type t in its range. Allocates nothing unless it raises.
void CheckValue(const char* who, int index, CType t, Scheme_Object* v);

// Stores checked v as a C value of type t into *out, allocating nothing. A string/utf-8 value
// must have been converted already (Utf8Copy): `utf8` is that copy, or NULL for #f.
void ToC(CType t, Scheme_Object* v, void* utf8, Value* out);

// A NUL-terminated UTF-8 copy of char string s in memory that does not move (allow-interior
// atomic memory, kept by whoever holds the returned pointer). May collect.
char* Utf8Copy(Scheme_Object* s, const char* who);

// The Scheme value for a C value of type t (an argument a callback receives, at its exact width).
// May allocate. t is not kVoid.
Scheme_Object* FromC(CType t, const void* value);

// The Scheme value for the result a call through ci left in r. May allocate.
Scheme_Object* ResultFromC(const CallInterface& ci, const Value& r);

}  // namespace keel::ffi

#endif  // KEEL_FFI_VALUES_H
