// type_traversers.cpp: traversers of the runtime's tagged types (type_traversers.h). Each
// procedure visits the object's reference slots through GC_mark, which also serves as its fixup
// procedure: both hand the slot to the running collection, which updates it when its referent
// moved (docs/design/precise.md .sol.traversers). Sizes are in words, as Racket's are.
#include "runtime/type_traversers.h"

#include <cstddef>
#include <mutex>

#include "gc/traversers.h"
#include "runtime/env.h"
#include "scheme.h"
#include "schemegc2.h"


namespace keel::rt {
namespace {

template <class T>
void Visit(T*& slot) {
  GC_mark(reinterpret_cast<void**>(&slot));
}

constexpr int Words(size_t bytes) { return static_cast<int>(gcBYTES_TO_WORDS(bytes)); }

int SimpleSize(void*) { return Words(sizeof(Scheme_Simple_Object)); }
int SmallSize(void*) { return Words(sizeof(Scheme_Small_Object)); }
int BignumSize(void*) { return Words(sizeof(Scheme_Bignum)); }
int EnvSize(void*) { return Words(sizeof(Scheme_Env)); }
int VectorSize(void* p) {
  const intptr_t n = static_cast<Scheme_Vector*>(p)->size;
  return Words(offsetof(Scheme_Vector, els) + static_cast<size_t>(n > 0 ? n : 1) * sizeof(Scheme_Object*));
}

int PairVisit(void* p) {
  auto* o = static_cast<Scheme_Simple_Object*>(p);
  Visit(o->u.pair_val.car);
  Visit(o->u.pair_val.cdr);
  return SimpleSize(p);
}
// Byte and char strings: the data is a separate atomic object; tag_val is the length.
int ByteStringVisit(void* p) {
  Visit(static_cast<Scheme_Simple_Object*>(p)->u.byte_str_val.string_val);
  return SimpleSize(p);
}
int CharStringVisit(void* p) {
  Visit(static_cast<Scheme_Simple_Object*>(p)->u.char_str_val.string_val);
  return SimpleSize(p);
}
int VectorVisit(void* p) {
  auto* v = static_cast<Scheme_Vector*>(p);
  for (intptr_t i = 0; i < v->size; ++i) Visit(v->els[i]);
  return VectorSize(p);
}
int BoxVisit(void* p) {
  Visit(static_cast<Scheme_Small_Object*>(p)->u.ptr_val);
  return SmallSize(p);
}
int BignumVisit(void* p) {
  Visit(static_cast<Scheme_Bignum*>(p)->digits);
  return BignumSize(p);
}
// The value may point anywhere (memory the collector does not own is ignored); the type tag is
// a Scheme value.
int CptrVisit(void* p) {
  auto* o = static_cast<Scheme_Simple_Object*>(p);
  Visit(o->u.cptr_val.val);
  Visit(o->u.cptr_val.type);
  return SimpleSize(p);
}
int OffsetCptrSize(void*) { return Words(sizeof(Scheme_Offset_Cptr)); }
int OffsetCptrVisit(void* p) {
  CptrVisit(p);
  return OffsetCptrSize(p);
}
int EnvVisit(void* p) {
  auto* env = static_cast<Scheme_Env*>(p);
  Visit(env->name);
  Visit(env->bindings);
  return EnvSize(p);
}

void Register(short tag, Size_Proc size, Mark_Proc visit, bool constant_size) {
  gc::TraverserTable::Register(tag, gc::Traversers{size, visit, visit, constant_size, false});
}

}  // namespace

void RegisterTypeTraversers() {
  static std::once_flag once;
  std::call_once(once, [] {
    Register(scheme_pair_type, SimpleSize, PairVisit, true);
    Register(scheme_mutable_pair_type, SimpleSize, PairVisit, true);
    Register(scheme_byte_string_type, SimpleSize, ByteStringVisit, true);
    Register(scheme_char_string_type, SimpleSize, CharStringVisit, true);
    Register(scheme_vector_type, VectorSize, VectorVisit, false);
    Register(scheme_box_type, SmallSize, BoxVisit, true);
    Register(scheme_bignum_type, BignumSize, BignumVisit, true);
    Register(scheme_cpointer_type, SimpleSize, CptrVisit, true);
    Register(scheme_offset_cpointer_type, OffsetCptrSize, OffsetCptrVisit, true);
    Register(scheme_namespace_type, EnvSize, EnvVisit, true);
  });
}

}  // namespace keel::rt
