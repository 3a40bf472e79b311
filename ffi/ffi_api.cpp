// ffi_api.cpp: keel_ffi.h, the FFI's C entry points: libraries and symbols, signatures, calls
// and callbacks (docs/design/ffi.md .sol.call, .sol.callbacks). Each checks its arguments, then
// forwards to CallInterface and the conversions in values.cpp.
#include <dlfcn.h>

#include <cstdlib>
#include <mutex>
#include <unordered_map>

#include "ffi/call_interface.h"
#include "ffi/values.h"
#include "gc/collector.h"
#include "gc/fatal.h"
#include "keel_ffi.h"
#include "runtime/gc_frame.h"
#include "runtime/objects.h"

namespace keel::ffi {

namespace {

// A callback's state, malloc'd: found by its code address when its object is finalized.
struct CallbackRecord {
  ffi_closure* closure;
  void* code;
  const CallInterface* ci;
  Scheme_Closed_Prim* proc;
  void* data;
  gc::Collector* owner;  // the place that made it: the only one that may call it
};

std::mutex g_callbacks_lock;
std::unordered_map<void*, CallbackRecord*>& Callbacks() {
  static auto* records = new std::unordered_map<void*, CallbackRecord*>();
  return *records;
}

bool HasTag(Scheme_Object* v, Scheme_Object* tag) {
  return SCHEME_OBJ_TYPEP(v, scheme_cpointer_type) && SCHEME_CPTR_TYPE(v) == tag;
}

const CallInterface* SignatureOf(Scheme_Object* sig, const char* who) {
  if (sig == nullptr || !HasTag(sig, SignatureTag())) {
    scheme_signal_error("%s: expected a signature from keel_ffi_signature; given: %V", who, sig != nullptr ? sig : scheme_false);
  }
  return static_cast<const CallInterface*>(SCHEME_CPTR_VAL(sig));
}

// The type a symbol names, or an error naming the position.
CType TypeOf(Scheme_Object* sym, const char* who, const char* position) {
  CType t;
  if (!SCHEME_SYMBOLP(sym) || !ParseType(SCHEME_SYM_VAL(sym), &t)) {
    scheme_signal_error("%s: %s: not a type symbol (int8 ... int64, uint8 ... uint64, int, long, intptr, size_t, "
                        "float, double, pointer, bytes, string/utf-8, void); given: %V",
                        who, position, sym);
  }
  return t;
}

// Runs proc for a call through a callback's closure (libffi's closure entry): C arguments to
// Scheme values, the procedure, its result back to C. An error escapes from here to the
// innermost handler, over the C caller's frames (keel_ffi.h).
void RunCallback(ffi_cif*, void* ret, void** args, void* user) {
  auto* rec = static_cast<CallbackRecord*>(user);
  gc::Collector* here = gc::Collector::CurrentOrNull();
  if (here != rec->owner) {
    Fatal("keel_ffi_callback: a callback was called on %s; it runs only on the thread of the place that made it",
          here == nullptr ? "a thread attached to no place" : "another place's thread");
  }
  const CallInterface& ci = *rec->ci;
  const size_t n = ci.arity();
  Scheme_Object* argv[kMaxArgs + 1];
  for (size_t i = 0; i <= n; ++i) argv[i] = nullptr;  // the registered slots: the precise collector reads them
  rt::GcArrayFrame frame(reinterpret_cast<void**>(argv), n + 1);
  for (size_t i = 0; i < n; ++i) argv[i] = FromC(ci.arg(i), args[i]);
  Scheme_Object* r = rec->proc(rec->data, static_cast<int>(n), argv);
  const CType t = ci.result();
  if (t == CType::kVoid) return;
  CheckValue("keel_ffi_callback", 0, t, r);
  Value v;
  ToC(t, r, nullptr, &v);
  if (IsSigned(t)) {
    *static_cast<ffi_sarg*>(ret) = static_cast<ffi_sarg>(t == CType::kInt64 ? v.i64 : t == CType::kInt32 ? v.i32 : t == CType::kInt16 ? v.i16 : v.i8);
  } else if (IsInteger(t)) {
    *static_cast<ffi_arg*>(ret) = static_cast<ffi_arg>(t == CType::kUint64 ? v.u64 : t == CType::kUint32 ? v.u32 : t == CType::kUint16 ? v.u16 : v.u8);
  } else if (t == CType::kFloat) {
    *static_cast<float*>(ret) = v.f;
  } else if (t == CType::kDouble) {
    *static_cast<double*>(ret) = v.d;
  } else {
    *static_cast<void**>(ret) = v.p;
  }
}

// The callback object's finalizer: frees the closure (the object held its code address).
void FreeCallback(void* obj, void*) {
  void* code = SCHEME_CPTR_VAL(static_cast<Scheme_Object*>(obj));
  CallbackRecord* rec = nullptr;
  {
    std::lock_guard<std::mutex> hold(g_callbacks_lock);
    auto it = Callbacks().find(code);
    if (it == Callbacks().end()) return;
    rec = it->second;
    Callbacks().erase(it);
  }
  ffi_closure_free(rec->closure);
  std::free(rec);
}

}  // namespace

}  // namespace keel::ffi

using keel::ffi::CallInterface;
using keel::ffi::CType;
using keel::ffi::kMaxArgs;
using keel::ffi::Value;

extern "C" {

Scheme_Object* keel_ffi_lib(const char* path) {
  void* handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = dlerror();
    scheme_signal_error("keel_ffi_lib: cannot open %q: %s", path != nullptr ? path : "(the program)",
                        why != nullptr ? why : "unknown error");
  }
  return scheme_make_cptr(handle, keel::ffi::LibraryTag());
}

Scheme_Object* keel_ffi_obj(Scheme_Object* lib, const char* name) {
  if (lib == nullptr || !keel::ffi::HasTag(lib, keel::ffi::LibraryTag())) {
    scheme_signal_error("keel_ffi_obj: expected a library from keel_ffi_lib; given: %V", lib != nullptr ? lib : scheme_false);
  }
  if (name == nullptr) scheme_signal_error("keel_ffi_obj: the symbol name is NULL");
  dlerror();  // clears an earlier error: a symbol's value may be NULL
  void* address = dlsym(SCHEME_CPTR_VAL(lib), name);
  const char* why = dlerror();
  if (why != nullptr) scheme_signal_error("keel_ffi_obj: cannot find %q: %s", name, why);
  Scheme_Object* tag = scheme_intern_symbol(name);
  return scheme_make_cptr(address, tag);
}

Scheme_Object* keel_ffi_signature(Scheme_Object* arg_types, Scheme_Object* result_type) {
  const char* who = "keel_ffi_signature";
  if (arg_types == nullptr || result_type == nullptr) scheme_signal_error("%s: a type list or result type is NULL", who);
  const intptr_t n = scheme_list_length(arg_types);
  if (n < 0) scheme_signal_error("%s: the argument types must be a list of type symbols; given: %V", who, arg_types);
  if (static_cast<size_t>(n) > kMaxArgs) {
    scheme_signal_error("%s: %ld argument types; a signature takes at most %d", who, static_cast<long>(n), KEEL_FFI_MAX_ARGS);
  }
  CType types[kMaxArgs];
  char position[40];
  Scheme_Object* rest = arg_types;
  for (intptr_t i = 0; i < n; ++i, rest = SCHEME_CDR(rest)) {
    std::snprintf(position, sizeof position, "argument type %ld", static_cast<long>(i + 1));
    types[i] = keel::ffi::TypeOf(SCHEME_CAR(rest), who, position);
    if (types[i] == CType::kVoid) scheme_signal_error("%s: %s: void is only a result type", who, position);
  }
  const CType result = keel::ffi::TypeOf(result_type, who, "the result type");
  const CallInterface* ci = CallInterface::For(std::span<const CType>(types, static_cast<size_t>(n)), result);
  if (ci == nullptr) scheme_signal_error("%s: libffi cannot prepare the signature %V -> %V", who, arg_types, result_type);
  return scheme_make_cptr(const_cast<CallInterface*>(ci), keel::ffi::SignatureTag());
}

void* keel_ffi_pointer(Scheme_Object* v) {
  void* p;
  if (v == nullptr || !keel::ffi::PointerOf(v, &p)) {
    scheme_signal_error("keel_ffi_pointer: expected a C pointer object, a byte string or #f; given: %V", v != nullptr ? v : scheme_false);
  }
  return p;
}

// Checks every argument, makes the UTF-8 copies (which may collect), then reads every C value
// and calls, allocating nothing between the last read and the call (.sol.call).
Scheme_Object* keel_ffi_call(Scheme_Object* fn, Scheme_Object* signature, int argc, Scheme_Object** argv) {
  const char* who = "keel_ffi_call";
  const CallInterface* ci = keel::ffi::SignatureOf(signature, who);
  if (fn == nullptr || !SCHEME_CPTRP(fn)) {
    scheme_signal_error("%s: the function must be a C pointer object; given: %V", who, fn != nullptr ? fn : scheme_false);
  }
  if (keel::rt::CptrAddress(fn) == nullptr) scheme_signal_error("%s: the function pointer is NULL", who);
  const size_t n = ci->arity();
  if (argc < 0 || static_cast<size_t>(argc) != n) {
    scheme_signal_error("%s: the signature takes %zu arguments; given %d", who, n, argc);
  }
  if (n > 0 && argv == nullptr) scheme_signal_error("%s: argv is NULL", who);
  // The arguments and UTF-8 copies are registered here (the caller's argv need not be).
  // Only the first n + 1 slots are used and registered, so only they are cleared.
  Scheme_Object* args[kMaxArgs + 1];
  void* utf8[kMaxArgs + 1];
  for (size_t i = 0; i < n; ++i) {
    args[i] = argv[i];
    utf8[i] = nullptr;
    keel::ffi::CheckValue(who, static_cast<int>(i + 1), ci->arg(i), args[i]);
  }
  args[n] = nullptr;
  utf8[n] = nullptr;
  keel::rt::GcFrame fn_frame(fn);
  keel::rt::GcArrayFrame args_frame(reinterpret_cast<void**>(args), n + 1);
  keel::rt::GcArrayFrame utf8_frame(utf8, n + 1);
  for (size_t i = 0; i < n; ++i) {
    if (ci->arg(i) == CType::kStringUtf8 && !SCHEME_FALSEP(args[i])) utf8[i] = keel::ffi::Utf8Copy(args[i], who);
  }
  Value values[kMaxArgs + 1];
  void* pointers[kMaxArgs + 1];
  for (size_t i = 0; i < n; ++i) {
    keel::ffi::ToC(ci->arg(i), args[i], utf8[i], &values[i]);
    pointers[i] = &values[i];
  }
  Value result{};
  ci->Call(keel::rt::CptrAddress(fn), pointers, &result);
  return keel::ffi::ResultFromC(*ci, result);
}

Scheme_Object* keel_ffi_callback(Scheme_Closed_Prim* proc, void* data, Scheme_Object* signature) {
  const char* who = "keel_ffi_callback";
  const CallInterface* ci = keel::ffi::SignatureOf(signature, who);
  if (proc == nullptr) scheme_signal_error("%s: the procedure is NULL", who);
  if (ci->result() == CType::kStringUtf8) {
    scheme_signal_error("%s: string/utf-8 cannot be a callback's result: nothing would keep the copy the C caller gets", who);
  }
  // The object first, with its finalizer, so that an error in either leaks nothing; the closure
  // is made last and can only fail without escaping.
  Scheme_Object* obj = scheme_make_cptr(nullptr, keel::ffi::CallbackTag());
  keel::rt::GcFrame frame(obj);
  scheme_add_finalizer(obj, keel::ffi::FreeCallback, nullptr);
  auto* rec = static_cast<keel::ffi::CallbackRecord*>(std::calloc(1, sizeof(keel::ffi::CallbackRecord)));
  void* code = nullptr;
  ffi_closure* closure = rec != nullptr ? static_cast<ffi_closure*>(ffi_closure_alloc(sizeof(ffi_closure), &code)) : nullptr;
  if (closure == nullptr) {
    std::free(rec);
    scheme_raise_out_of_memory(who, "(a libffi closure)");
  }
  *rec = keel::ffi::CallbackRecord{closure, code, ci, proc, data, &keel::gc::Collector::CurrentPlace(who)};
  if (ffi_prep_closure_loc(closure, ci->cif(), keel::ffi::RunCallback, rec, code) != FFI_OK) {
    ffi_closure_free(closure);
    std::free(rec);
    scheme_signal_error("%s: libffi cannot make a closure for the signature", who);
  }
  {
    std::lock_guard<std::mutex> hold(keel::ffi::g_callbacks_lock);
    keel::ffi::Callbacks()[code] = rec;
  }
  SCHEME_CPTR_VAL(obj) = code;
  return obj;
}

}  // extern "C"
