// env.cpp: scheme_basic_env: the calling thread's basic namespace, made once per Runtime.
#include "runtime/env.h"

#include "runtime/alloc.h"
#include "runtime/gc_frame.h"
#include "runtime/runtime.h"

extern "C" Scheme_Env* scheme_basic_env(void) {
  keel::gc::Collector::AttachCurrentThread();  // the calling thread becomes a place (places.md .sol.attach)
  keel::rt::Runtime& rt = keel::rt::Runtime::Current("scheme_basic_env");
  if (rt.env() != nullptr) return rt.env();
  Scheme_Object* name = scheme_intern_symbol("basic");
  keel::rt::GcFrame frame(name);  // roots.md .sol.frames
  auto* env = keel::rt::NewTagged<Scheme_Env>(scheme_namespace_type);
  env->name = name;
  env->bindings = scheme_null;
  rt.set_env(env);
  return env;
}
