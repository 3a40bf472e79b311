// ffi_lib.h: the FFI suites' access to tests/ffi_lib/ffi_testlib.c through keel_ffi.h: its
// functions as C pointer objects, signatures from type names, calls with Scheme values, and its
// log.
#ifndef KEEL_TESTS_SUPPORT_FFI_LIB_H
#define KEEL_TESTS_SUPPORT_FFI_LIB_H

#include <initializer_list>
#include <string>
#include <vector>

#include "keel_ffi.h"
#include "scheme.h"
#include "support/registered.h"

namespace keel_test {

// The test library (loaded once per process by dlopen; each call returns a fresh handle object).
inline Scheme_Object* TestLib() { return keel_ffi_lib(KEEL_FFI_TESTLIB); }

// The library's function `name` as a C pointer object.
inline Scheme_Object* TestFn(const char* name) {
  Scheme_Object* lib = TestLib();
  Registered reg(lib);
  return keel_ffi_obj(lib, name);
}

// The library's function `name` as a C function pointer of type F, for calling it directly.
template <class F>
F TestCFn(const char* name) {
  return reinterpret_cast<F>(SCHEME_CPTR_VAL(TestFn(name)));
}

// A list of the interned symbols in `names`.
inline Scheme_Object* SymbolList(std::initializer_list<const char*> names) {
  std::vector<const char*> v(names);
  Scheme_Object* list = scheme_null;
  Scheme_Object* sym = nullptr;
  Registered reg(list, sym);
  for (size_t i = v.size(); i-- > 0;) {
    sym = scheme_intern_symbol(v[i]);
    list = scheme_make_pair(sym, list);
  }
  return list;
}

// The signature (args...) -> result, from type names.
inline Scheme_Object* Signature(std::initializer_list<const char*> args, const char* result) {
  Scheme_Object* list = SymbolList(args);
  Registered reg(list);
  return keel_ffi_signature(list, scheme_intern_symbol(result));
}

// Calls the library's function `name` with the signature and the n arguments at args (each
// registered here while the call allocates). Owns nothing, so an escape leaks nothing.
inline Scheme_Object* CallTestFnWith(const char* name, Scheme_Object* sig, Scheme_Object** args, size_t n) {
  Scheme_Object* fn = nullptr;
  Registered reg(sig, fn);
  RegisteredArray reg_args(reinterpret_cast<void**>(args), n);
  fn = TestFn(name);
  return keel_ffi_call(fn, sig, static_cast<int>(n), args);
}

inline Scheme_Object* CallTestFn(const char* name, Scheme_Object* sig, std::vector<Scheme_Object*> args) {
  return CallTestFnWith(name, sig, args.data(), args.size());
}

// The library's call log, and clearing it. Both functions are looked up together, once, so that
// reading the log never allocates (an allocation may collect, and a collection logs its GC
// callbacks' calls).
struct TestLogFunctions {
  const char* (*log)();
  void (*reset)();
};
inline const TestLogFunctions& LogFunctions() {
  static const TestLogFunctions fns{TestCFn<const char* (*)()>("testlib_log"), TestCFn<void (*)()>("testlib_reset")};
  return fns;
}
inline std::string TestLog() { return LogFunctions().log(); }
inline void ResetTestLog() { LogFunctions().reset(); }

}  // namespace keel_test

#endif  // KEEL_TESTS_SUPPORT_FFI_LIB_H
