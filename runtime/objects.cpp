// objects.cpp: constructors of the basic values: pairs, characters, byte strings, vectors,
// boxes, doubles and C pointers (reference/racket_bc.md §6). Objects holding pointers are
// tagged (scanned); payloads without pointers are atomic so their bits never retain anything.
// Arguments stored after an allocation are registered across it (roots.md .sol.frames).
#include <cstring>

#include "gc/collector.h"
#include "runtime/alloc.h"
#include "runtime/gc_frame.h"
#include "runtime/objects.h"
#include "scheme.h"

namespace keel::rt {

namespace {

Scheme_Object* MakePair(Scheme_Type type, Scheme_Object* car, Scheme_Object* cdr) {
  GcFrame frame(car, cdr);
  auto* p = NewTagged<Scheme_Simple_Object>(type);
  p->u.pair_val.car = car;
  p->u.pair_val.cdr = cdr;
  return reinterpret_cast<Scheme_Object*>(p);
}

}  // namespace

Scheme_Object* WrapByteString(char* data, intptr_t len) {
  GcFrame frame(data);
  auto* s = NewTagged<Scheme_Simple_Object>(scheme_byte_string_type);
  s->u.byte_str_val.string_val = data;
  s->u.byte_str_val.tag_val = len;
  return reinterpret_cast<Scheme_Object*>(s);
}

}  // namespace keel::rt

using keel::rt::ArrayBytes;
using keel::rt::GcFrame;
using keel::rt::NewAtomic;
using keel::rt::NewAtomicArray;
using keel::rt::NewTagged;
using keel::rt::WrapByteString;

extern "C" {

// --- pairs ------------------------------------------------------------------------------------

Scheme_Object* scheme_make_pair(Scheme_Object* car, Scheme_Object* cdr) {
  return keel::rt::MakePair(scheme_pair_type, car, cdr);
}

Scheme_Object* scheme_make_mutable_pair(Scheme_Object* car, Scheme_Object* cdr) {
  return keel::rt::MakePair(scheme_mutable_pair_type, car, cdr);
}

// --- characters -------------------------------------------------------------------------------

Scheme_Object* scheme_make_char(mzchar ch) {
  if (ch < keel::rt::kStaticChars) return keel::rt::StaticChar(ch);
  // A character has no pointers: atomic, like Racket's.
  auto* c = NewAtomic<Scheme_Small_Object>(scheme_char_type);
  c->u.char_val = ch;
  return reinterpret_cast<Scheme_Object*>(c);
}

// --- byte strings -----------------------------------------------------------------------------

Scheme_Object* scheme_make_sized_byte_string(char* chars, intptr_t len, int copy) {
  if (len < 0) len = chars == nullptr ? 0 : static_cast<intptr_t>(std::strlen(chars));
  if (chars == nullptr && len != 0) {
    scheme_signal_error("scheme_make_sized_byte_string: the bytes are NULL");
  }
  if (!copy && chars != nullptr) return WrapByteString(chars, len);
  GcFrame frame(chars);  // the caller's bytes may be collectable
  char* data = NewAtomicArray<char>(len, "scheme_make_sized_byte_string");
  if (len != 0) std::memcpy(data, chars, static_cast<size_t>(len));
  return WrapByteString(data, len);
}

Scheme_Object* scheme_make_byte_string(const char* chars) {
  if (chars == nullptr) scheme_signal_error("scheme_make_byte_string: the string is NULL");
  // copy = 1: the const input is only read.
  return scheme_make_sized_byte_string(const_cast<char*>(chars), -1, 1);
}

Scheme_Object* scheme_alloc_byte_string(intptr_t size, char fill) {
  char* data = NewAtomicArray<char>(size, "scheme_alloc_byte_string");
  std::memset(data, fill, static_cast<size_t>(size));
  return WrapByteString(data, size);
}

// --- vectors ----------------------------------------------------------------------------------

Scheme_Object* scheme_make_vector(intptr_t size, Scheme_Object* fill) {
  size_t bytes = ArrayBytes(offsetof(Scheme_Vector, els), size, sizeof(Scheme_Object*),
                            "scheme_make_vector", sizeof(Scheme_Vector));
  GcFrame frame(fill);
  auto* v = NewTagged<Scheme_Vector>(scheme_vector_type, bytes);
  v->size = size;
  Scheme_Object** els = v->els;
  for (intptr_t i = 0; i < size; ++i) els[i] = fill;
  return reinterpret_cast<Scheme_Object*>(v);
}

// --- boxes, doubles, C pointers ---------------------------------------------------------------

Scheme_Object* scheme_box(Scheme_Object* v) {
  GcFrame frame(v);
  auto* b = NewTagged<Scheme_Small_Object>(scheme_box_type);
  b->u.ptr_val = v;
  return reinterpret_cast<Scheme_Object*>(b);
}

// A weak box is atomic, so no collector traces its value; the collector's table of weak boxes
// clears or updates the value after marking (docs/design/weak.md .sol.boxes). The value is
// registered across the allocation, which may collect (and, under 3m, move it).
static Scheme_Object* MakeWeakBox(Scheme_Object* v, bool late) {
  GcFrame frame(v);
  auto* b = NewAtomic<Scheme_Small_Object>(scheme_weak_box_type);
  b->u.ptr_val = v;
  static_assert(offsetof(Scheme_Small_Object, u.ptr_val) == offsetof(keel::gc::WeakBoxLayout, value));
  keel::gc::Collector::CurrentPlace(late ? "scheme_make_late_weak_box" : "scheme_make_weak_box").AddWeakBox(b, late);
  return reinterpret_cast<Scheme_Object*>(b);
}

Scheme_Object* scheme_make_weak_box(Scheme_Object* v) { return MakeWeakBox(v, false); }
Scheme_Object* scheme_make_late_weak_box(Scheme_Object* v) { return MakeWeakBox(v, true); }

// A weak array is atomic too, and listed in the collector's table of weak arrays, which
// replaces or updates its slots after marking and keeps its replacement value alive
// (docs/design/weak.md .sol.arrays). Racket's count, size_in_bytes / word size, and zeroed
// slots; the size check raises out of memory instead of wrapping. The replacement value is
// registered across the allocation, which may collect (and, under 3m, move it).
void* GC_malloc_weak_array(size_t size_in_bytes, void* replace_val) {
  static_assert(offsetof(GC_Weak_Array, data) == 4 * sizeof(void*), "data is the 5th word, as in Racket");
  static_assert(offsetof(GC_Weak_Array, count) == offsetof(keel::gc::WeakArrayLayout, count));
  static_assert(offsetof(GC_Weak_Array, replace_val) == offsetof(keel::gc::WeakArrayLayout, replace_val));
  static_assert(offsetof(GC_Weak_Array, data) == offsetof(keel::gc::WeakArrayLayout, data));
  const auto count = static_cast<intptr_t>(size_in_bytes / sizeof(void*));  // at most 2^61
  const size_t bytes = ArrayBytes(offsetof(GC_Weak_Array, data), count, sizeof(void*), "GC_malloc_weak_array",
                                  sizeof(GC_Weak_Array));
  GcFrame frame(replace_val);
  auto* w = NewAtomic<GC_Weak_Array>(scheme_rt_weak_array, bytes);
  w->count = count;
  w->replace_val = replace_val;
  w->next = nullptr;
  std::memset(w->data, 0, bytes - offsetof(GC_Weak_Array, data));
  keel::gc::Collector::CurrentPlace("GC_malloc_weak_array").AddWeakArray(w);
  return w;
}

// An ephemeron is atomic too: the collector keeps its value only while its key is reached by
// other paths, and clears both when the key is not (docs/design/weak.md .sol.ephemerons).
Scheme_Object* scheme_make_ephemeron(Scheme_Object* key, Scheme_Object* val) {
  GcFrame frame(key, val);
  auto* e = NewAtomic<keel::gc::EphemeronLayout>(scheme_ephemeron_type);
  e->key = key;
  e->value = val;
  keel::gc::Collector::CurrentPlace("scheme_make_ephemeron").AddEphemeron(e);
  return reinterpret_cast<Scheme_Object*>(e);
}

static keel::gc::EphemeronLayout* EphemeronOf(Scheme_Object* o, const char* who) {
  if (o == nullptr || SCHEME_INTP(o) || SCHEME_TYPE(o) != scheme_ephemeron_type) {
    scheme_signal_error("%s: expected an ephemeron", who);
  }
  return reinterpret_cast<keel::gc::EphemeronLayout*>(o);
}

Scheme_Object* scheme_ephemeron_key(Scheme_Object* o) {
  return static_cast<Scheme_Object*>(EphemeronOf(o, "scheme_ephemeron_key")->key);
}

Scheme_Object* scheme_ephemeron_value(Scheme_Object* o) {
  return static_cast<Scheme_Object*>(EphemeronOf(o, "scheme_ephemeron_value")->value);
}

Scheme_Object* scheme_make_double(double d) {
  auto* o = NewAtomic<Scheme_Double>(scheme_double_type);
  o->double_val = d;
  return reinterpret_cast<Scheme_Object*>(o);
}

// Both fields may be collectable (the tag is a Scheme value), so the object is scanned.
Scheme_Object* scheme_make_cptr(void* cptr, Scheme_Object* typetag) {
  GcFrame frame(cptr, typetag);
  auto* o = NewTagged<Scheme_Simple_Object>(scheme_cpointer_type);
  o->u.cptr_val.val = cptr;
  o->u.cptr_val.type = typetag;
  return reinterpret_cast<Scheme_Object*>(o);
}

Scheme_Object* scheme_make_offset_cptr(void* cptr, intptr_t offset, Scheme_Object* typetag) {
  GcFrame frame(cptr, typetag);
  auto* o = NewTagged<Scheme_Offset_Cptr>(scheme_offset_cpointer_type);
  o->cptr.u.cptr_val.val = cptr;
  o->cptr.u.cptr_val.type = typetag;
  o->offset = offset;
  return reinterpret_cast<Scheme_Object*>(o);
}

}  // extern "C"
