// objects.h: constructor helpers shared inside the runtime (constants, strings, numbers):
// the static character objects and string objects over data the caller already allocated.
#ifndef KEEL_RUNTIME_OBJECTS_H
#define KEEL_RUNTIME_OBJECTS_H

#include <cstdint>

#include "scheme.h"

namespace keel::rt {

// Characters below this are preallocated static objects shared by every place (not in any
// heap, like scheme_true); scheme_make_char allocates the others.
inline constexpr mzchar kStaticChars = 256;

// The static object for c < kStaticChars.
Scheme_Object* StaticChar(mzchar c);

// The address a C pointer object stands for, plain or with an offset.
inline void* CptrAddress(Scheme_Object* cptr) {
  return static_cast<char*>(SCHEME_CPTR_VAL(cptr)) + SCHEME_CPTR_OFFSET(cptr);
}

// A char string over `data`: len code points in collectable atomic memory (NUL-terminated
// when the runtime allocated it). May collect; registers `data` meanwhile (roots.md
// .sol.frames), so a caller that uses `data` afterwards registers its own copy.
Scheme_Object* WrapCharString(mzchar* data, intptr_t len);

// A byte string over `data`, as WrapCharString.
Scheme_Object* WrapByteString(char* data, intptr_t len);

// The integer with magnitude {limbs, len} (collectable atomic memory, which becomes the
// bignum's digits) and the sign, as a fixnum when it fits (place messages, places/message.cpp).
Scheme_Object* MakeIntegerFromLimbs(uintptr_t* limbs, intptr_t len, bool positive);

}  // namespace keel::rt

#endif  // KEEL_RUNTIME_OBJECTS_H
