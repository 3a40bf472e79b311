// gc_callbacks.cpp: scheme_add_gc_callback and scheme_remove_gc_callback, and running the
// registered calls around each of a place's collections (docs/design/ffi.md .sol.gc-callbacks).
// The protocols are rows of one table; each row becomes a prepared call interface.
#include <cstring>
#include <mutex>

#include "ffi/call_interface.h"
#include "ffi/values.h"
#include "gc/collector.h"
#include "gc/fatal.h"
#include "runtime/gc_frame.h"
#include "runtime/objects.h"
#include "runtime/runtime.h"
#include "scheme.h"

namespace keel::ffi {

namespace {

// How a description's value becomes a C argument.
enum class Arg : uint8_t {
  kPtr,     // a C pointer object (its address), a byte string (its data) or #f (NULL)
  kInt,     // a fixnum in C int's range
  kLong,    // a fixnum, as a C long
  kFloat,   // a flonum, as a C float
  kDouble,  // a flonum
};

inline constexpr size_t kMaxProtocolArgs = 12;

// One protocol: `save_in` calls with the description's saved pointer first (and only when it is
// not NULL); `save_out` makes the result the saved pointer.
struct Protocol {
  const char* name;
  bool save_in;
  bool save_out;
  size_t count;  // arguments the call vector gives after the function
  Arg args[kMaxProtocolArgs];
};

using enum Arg;
// Racket BC's protocols (reference/racket_bc.md §3.2). The osapi_ ones use the platform's
// ordinary C calling convention, which is the OS API's on every platform Keel supports.
constexpr Protocol kProtocols[] = {
    {"int->void", false, false, 1, {kInt}},
    {"ptr_ptr_ptr->void", false, false, 3, {kPtr, kPtr, kPtr}},
    {"ptr_ptr->save", false, true, 2, {kPtr, kPtr}},
    {"save!_ptr->void", true, false, 1, {kPtr}},
    {"ptr_ptr_ptr_int->void", false, false, 4, {kPtr, kPtr, kPtr, kInt}},
    {"ptr_ptr_float->void", false, false, 3, {kPtr, kPtr, kFloat}},
    {"ptr_ptr_double->void", false, false, 3, {kPtr, kPtr, kDouble}},
    {"float_float_float_float->void", false, false, 4, {kFloat, kFloat, kFloat, kFloat}},
    {"ptr_ptr_ptr_int_int_int_int_int_int_int_int_int->void", false, false, 12,
     {kPtr, kPtr, kPtr, kInt, kInt, kInt, kInt, kInt, kInt, kInt, kInt, kInt}},
    {"osapi_ptr_int->void", false, false, 2, {kPtr, kInt}},
    {"osapi_ptr_ptr->void", false, false, 2, {kPtr, kPtr}},
    {"osapi_ptr_int_int_int_int_ptr_int_int_long->void", false, false, 9,
     {kPtr, kInt, kInt, kInt, kInt, kPtr, kInt, kInt, kLong}},
};
inline constexpr size_t kProtocolCount = sizeof kProtocols / sizeof kProtocols[0];

CType CTypeOf(Arg a) {
  switch (a) {
    case kPtr: return CType::kPointer;
    case kInt: return CType::kInt32;
    case kLong: return sizeof(long) == 8 ? CType::kInt64 : CType::kInt32;
    case kFloat: return CType::kFloat;
    case kDouble: return CType::kDouble;
  }
  return CType::kPointer;
}

// Each row's prepared interface, made once for the process.
const CallInterface* g_interfaces[kProtocolCount];

void PrepareInterfaces() {
  static std::once_flag once;
  std::call_once(once, [] {
    for (size_t i = 0; i < kProtocolCount; ++i) {
      const Protocol& p = kProtocols[i];
      CType types[kMaxProtocolArgs + 1];
      size_t n = 0;
      if (p.save_in) types[n++] = CType::kPointer;
      for (size_t j = 0; j < p.count; ++j) types[n++] = CTypeOf(p.args[j]);
      g_interfaces[i] = CallInterface::For(std::span<const CType>(types, n), p.save_out ? CType::kPointer : CType::kVoid);
      if (g_interfaces[i] == nullptr) Fatal("scheme_add_gc_callback: libffi cannot prepare the protocol %s", p.name);
    }
  });
}

const char* kWho = "scheme_add_gc_callback";

// The table row of the protocol `name` names; kProtocolCount for anything else.
size_t ProtocolRow(Scheme_Object* name) {
  for (size_t i = 0; SCHEME_SYMBOLP(name) && i < kProtocolCount; ++i) {
    if (std::strcmp(SCHEME_SYM_VAL(name), kProtocols[i].name) == 0) return i;
  }
  return kProtocolCount;
}

// Raises an error unless `call` is a call vector this table can run, every value of the kind
// its protocol takes.
void CheckCall(Scheme_Object* call, const char* which, intptr_t index) {
  if (!SCHEME_VECTORP(call) || SCHEME_VEC_SIZE(call) < 2) {
    scheme_signal_error("%s: %s call %ld must be a vector #(protocol function argument ...); given: %V", kWho, which,
                        static_cast<long>(index), call);
  }
  Scheme_Object* name = SCHEME_VEC_ELS(call)[0];
  const size_t row = ProtocolRow(name);
  if (row == kProtocolCount) {
    scheme_signal_error("%s: %s call %ld: unknown protocol %V", kWho, which, static_cast<long>(index), name);
  }
  const Protocol& p = kProtocols[row];
  const intptr_t given = SCHEME_VEC_SIZE(call) - 2;
  if (given != static_cast<intptr_t>(p.count)) {
    scheme_signal_error("%s: %s call %ld (%s) takes %zu arguments after the function; given %ld", kWho, which,
                        static_cast<long>(index), p.name, p.count, static_cast<long>(given));
  }
  Scheme_Object* fn = SCHEME_VEC_ELS(call)[1];
  if (!SCHEME_CPTRP(fn) || rt::CptrAddress(fn) == nullptr) {
    scheme_signal_error("%s: %s call %ld (%s): the function must be a C pointer object that is not NULL; given: %V", kWho,
                        which, static_cast<long>(index), p.name, fn);
  }
  Scheme_Object* tag = SCHEME_CPTR_TYPE(fn);
  if (tag == CallbackTag() || tag == SignatureTag() || tag == LibraryTag()) {
    scheme_signal_error("%s: %s call %ld (%s): the function must be a C function that does not call Keel; given %s", kWho,
                        which, static_cast<long>(index), p.name,
                        tag == CallbackTag() ? "a keel_ffi_callback, which does" : "an FFI object that is no function");
  }
  for (size_t j = 0; j < p.count; ++j) {
    Scheme_Object* v = SCHEME_VEC_ELS(call)[2 + j];
    const char* wanted = nullptr;
    switch (p.args[j]) {
      case kPtr: {
        void* address;
        if (!PointerOf(v, &address)) wanted = "a C pointer object, a byte string or #f";
        break;
      }
      case kInt:
        if (!SCHEME_INTP(v) || SCHEME_INT_VAL(v) < INT32_MIN || SCHEME_INT_VAL(v) > INT32_MAX) wanted = "a fixnum in C int's range";
        break;
      case kLong:
        if (!SCHEME_INTP(v)) wanted = "a fixnum";
        break;
      case kFloat:
      case kDouble:
        if (!SCHEME_DBLP(v)) wanted = "a flonum";
        break;
    }
    if (wanted != nullptr) {
      scheme_signal_error("%s: %s call %ld (%s): argument %zu must be %s; given: %V", kWho, which, static_cast<long>(index),
                          p.name, j + 1, wanted, v);
    }
  }
}

void CheckDescription(Scheme_Object* desc, const char* which) {
  if (desc == nullptr || !SCHEME_VECTORP(desc)) {
    scheme_signal_error("%s: %s must be a vector of call vectors; given: %V", kWho, which, desc != nullptr ? desc : scheme_false);
  }
  for (intptr_t i = 0; i < SCHEME_VEC_SIZE(desc); ++i) CheckCall(SCHEME_VEC_ELS(desc)[i], which, i + 1);
}

// The checked description's private copy: a vector of #(row fn arg ...), the protocol symbol
// replaced by its row. Later changes to the caller's vectors cannot reach it. May collect (the
// caller's vectors are read again after each allocation).
Scheme_Object* CompileDescription(Scheme_Object* desc) {
  Scheme_Object* out = nullptr;
  Scheme_Object* copy = nullptr;
  rt::GcFrame frame(desc, out, copy);
  out = scheme_make_vector(SCHEME_VEC_SIZE(desc), scheme_false);
  for (intptr_t i = 0; i < SCHEME_VEC_SIZE(desc); ++i) {
    copy = scheme_make_vector(SCHEME_VEC_SIZE(SCHEME_VEC_ELS(desc)[i]), scheme_false);
    Scheme_Object* call = SCHEME_VEC_ELS(desc)[i];
    SCHEME_VEC_ELS(copy)[0] = scheme_make_integer(static_cast<intptr_t>(ProtocolRow(SCHEME_VEC_ELS(call)[0])));
    for (intptr_t j = 1; j < SCHEME_VEC_SIZE(call); ++j) SCHEME_VEC_ELS(copy)[j] = SCHEME_VEC_ELS(call)[j];
    SCHEME_VEC_ELS(out)[i] = copy;
  }
  return out;
}

// Runs one compiled description; `save` starts NULL for each (as Racket CS does). Allocates
// nothing: every value was checked when the description was added.
void RunDescription(Scheme_Object* calls) {
  void* save = nullptr;
  for (intptr_t i = 0; i < SCHEME_VEC_SIZE(calls); ++i) {
    Scheme_Object* call = SCHEME_VEC_ELS(calls)[i];
    const size_t row = static_cast<size_t>(SCHEME_INT_VAL(SCHEME_VEC_ELS(call)[0]));
    const Protocol& p = kProtocols[row];
    if (p.save_in && save == nullptr) continue;
    Value values[kMaxProtocolArgs + 1];
    void* pointers[kMaxProtocolArgs + 1];
    size_t n = 0;
    if (p.save_in) values[n++].p = save;
    for (size_t j = 0; j < p.count; ++j, ++n) {
      Scheme_Object* v = SCHEME_VEC_ELS(call)[2 + j];
      switch (p.args[j]) {
        case kPtr: PointerOf(v, &values[n].p); break;
        case kInt: values[n].i32 = static_cast<int32_t>(SCHEME_INT_VAL(v)); break;
        case kLong: values[n].i64 = SCHEME_INT_VAL(v); break;
        case kFloat: values[n].f = static_cast<float>(SCHEME_DBL_VAL(v)); break;
        case kDouble: values[n].d = SCHEME_DBL_VAL(v); break;
      }
    }
    for (size_t k = 0; k < n; ++k) pointers[k] = &values[k];
    void* fn = nullptr;
    PointerOf(SCHEME_VEC_ELS(call)[1], &fn);
    Value result{};
    g_interfaces[row]->Call(fn, pointers, &result);
    if (p.save_out) save = result.p;
  }
}

// A registration: #(weak-box-of-key pre-calls post-calls).
enum { kKeyBox = 0, kPre = 1, kPost = 2, kEntrySize = 3 };

// The collector's hook: every live registration's pre- or post-calls, newest first. A
// registration whose key is gone is unlinked (its post-calls do not run after the collection
// that found it gone).
void RunCallbacks(gc::Collector&, void* data, bool after) {
  auto* rt = static_cast<rt::Runtime*>(data);
  Scheme_Object** link = &rt->gc_callbacks();
  while (SCHEME_PAIRP(*link)) {
    Scheme_Object* pair = *link;
    Scheme_Object* entry = SCHEME_CAR(pair);
    if (SCHEME_WEAK_BOX_VAL(SCHEME_VEC_ELS(entry)[kKeyBox]) == nullptr) {
      *link = SCHEME_CDR(pair);
      continue;
    }
    RunDescription(SCHEME_VEC_ELS(entry)[after ? kPost : kPre]);
    link = &SCHEME_CDR(pair);
  }
}

}  // namespace

}  // namespace keel::ffi

extern "C" {

Scheme_Object* scheme_add_gc_callback(Scheme_Object* pre_desc, Scheme_Object* post_desc) {
  using namespace keel::ffi;
  keel::rt::Runtime& rt = keel::rt::Runtime::Current(kWho);
  if (rt.collector().role() == keel::gc::CollectorRole::kMaster) {
    scheme_signal_error("%s: the calling thread is served by the master collector until scheme_basic_env returns; GC "
                        "callbacks belong to a place, so register them after it",
                        kWho);
  }
  CheckDescription(pre_desc, "pre_desc");
  CheckDescription(post_desc, "post_desc");
  PrepareInterfaces();
  Scheme_Object* key = nullptr;
  Scheme_Object* entry = nullptr;
  Scheme_Object* compiled = nullptr;
  keel::rt::GcFrame frame(pre_desc, post_desc, key, entry, compiled);
  key = scheme_make_vector(1, scheme_false);
  entry = scheme_make_vector(kEntrySize, scheme_false);
  compiled = scheme_make_weak_box(key);
  SCHEME_VEC_ELS(entry)[kKeyBox] = compiled;
  compiled = CompileDescription(pre_desc);
  SCHEME_VEC_ELS(entry)[kPre] = compiled;
  compiled = CompileDescription(post_desc);
  SCHEME_VEC_ELS(entry)[kPost] = compiled;
  compiled = scheme_make_pair(entry, rt.gc_callbacks());
  rt.gc_callbacks() = compiled;
  rt.collector().SetCollectionHook(RunCallbacks, &rt);
  return key;
}

void scheme_remove_gc_callback(Scheme_Object* key) {
  keel::rt::Runtime& rt = keel::rt::Runtime::Current("scheme_remove_gc_callback");
  if (key == nullptr) scheme_signal_error("scheme_remove_gc_callback: the key is NULL");
  Scheme_Object** link = &rt.gc_callbacks();
  while (SCHEME_PAIRP(*link)) {
    Scheme_Object* entry = SCHEME_CAR(*link);
    if (SCHEME_WEAK_BOX_VAL(SCHEME_VEC_ELS(entry)[keel::ffi::kKeyBox]) == key) {
      *link = SCHEME_CDR(*link);
    } else {
      link = &SCHEME_CDR(*link);
    }
  }
}

}  // extern "C"
