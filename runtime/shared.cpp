// shared.cpp: objects of the master heap, which every place may use (keel_places.h,
// docs/design/places.md .sol.master), and the flonum vectors of a place's own heap. A shared
// object is one atomic block, header and data together: the master never traces into it, and a
// place's reference anywhere inside it keeps it.
#include <cstddef>
#include <cstring>

#include "gc/collector.h"
#include "gc/master.h"
#include "keel_places.h"
#include "runtime/alloc.h"
#include "scheme.h"

namespace {

using keel::gc::Collector;
using keel::gc::Kind;

constexpr short kSharedFlag = 0x2;  // SCHEME_SHARED_ALLOCATEDP

// `bytes` bytes in the master heap for the calling place, the header installed; escapes when the
// caller is not a place or the master still serves a thread, or when memory cannot be had.
void* AllocateShared(size_t bytes, Scheme_Type type, const char* who) {
  Collector& self = Collector::CurrentPlace(who);
  if (self.role() != keel::gc::CollectorRole::kPlace || keel::gc::master::ThreadBound()) {
    scheme_signal_error("%s: shared memory is allocated once scheme_basic_env has returned (until then the master "
                        "collector serves this thread)",
                        who);
  }
  void* p = keel::gc::master::Allocate(bytes, Kind::kAtomic, who);
  if (p == nullptr) scheme_raise_out_of_memory(who, "cannot allocate %zu bytes of shared memory", bytes);
  keel::rt::InitHeader(p, type);
  static_cast<Scheme_Object*>(p)->keyex = kSharedFlag;
  return p;
}

}  // namespace

extern "C" {

KEEL_API Scheme_Object* scheme_alloc_shared_byte_string(intptr_t size, char fill) {
  constexpr const char* kWho = "scheme_alloc_shared_byte_string";
  const size_t bytes = keel::rt::ArrayBytes(sizeof(Scheme_Simple_Object), size, 1, kWho) + 1;
  auto* s = static_cast<Scheme_Simple_Object*>(AllocateShared(bytes, scheme_byte_string_type, kWho));
  char* data = reinterpret_cast<char*>(s + 1);
  std::memset(data, fill, static_cast<size_t>(size));
  data[size] = 0;
  s->u.byte_str_val.string_val = data;
  s->u.byte_str_val.tag_val = size;
  return reinterpret_cast<Scheme_Object*>(s);
}

KEEL_API Scheme_Object* keel_alloc_shared_char_string(intptr_t size, mzchar fill) {
  constexpr const char* kWho = "keel_alloc_shared_char_string";
  const size_t bytes = keel::rt::ArrayBytes(sizeof(Scheme_Simple_Object), size, sizeof(mzchar), kWho) + sizeof(mzchar);
  auto* s = static_cast<Scheme_Simple_Object*>(AllocateShared(bytes, scheme_char_string_type, kWho));
  auto* data = reinterpret_cast<mzchar*>(s + 1);
  for (intptr_t i = 0; i < size; ++i) data[i] = fill;
  data[size] = 0;
  s->u.char_str_val.string_val = data;
  s->u.char_str_val.tag_val = size;
  return reinterpret_cast<Scheme_Object*>(s);
}

KEEL_API Scheme_Object* keel_alloc_shared_flvector(intptr_t size) {
  constexpr const char* kWho = "keel_alloc_shared_flvector";
  const size_t bytes = keel::rt::ArrayBytes(offsetof(Scheme_Double_Vector, els), size, sizeof(double), kWho,
                                            sizeof(Scheme_Double_Vector));
  auto* v = static_cast<Scheme_Double_Vector*>(AllocateShared(bytes, scheme_flvector_type, kWho));
  v->size = size;
  for (intptr_t i = 0; i < size; ++i) v->els[i] = 0.0;
  return reinterpret_cast<Scheme_Object*>(v);
}

KEEL_API Scheme_Object* scheme_alloc_flvector(intptr_t size) {
  const size_t bytes = keel::rt::ArrayBytes(offsetof(Scheme_Double_Vector, els), size, sizeof(double),
                                            "scheme_alloc_flvector", sizeof(Scheme_Double_Vector));
  auto* v = keel::rt::NewAtomic<Scheme_Double_Vector>(scheme_flvector_type, bytes);
  v->size = size;
  for (intptr_t i = 0; i < size; ++i) v->els[i] = 0.0;
  return reinterpret_cast<Scheme_Object*>(v);
}

KEEL_API void keel_place_collect_master(void) {
  Collector& self = Collector::CurrentPlace("keel_place_collect_master");
  if (self.role() != keel::gc::CollectorRole::kPlace || keel::gc::master::ThreadBound()) {
    scheme_signal_error("keel_place_collect_master: the master collector still serves this thread (scheme_basic_env "
                        "has not returned)");
  }
  keel::gc::master::Collect("keel_place_collect_master");
}

KEEL_API void keel_place_master_stats(keel_gc_stats* out) {
  if (out == nullptr) scheme_signal_error("keel_place_master_stats: out is NULL");
  keel::gc::master::FillStats(out);
}

}  // extern "C"
