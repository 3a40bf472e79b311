// env.cpp: scheme_basic_env: the calling thread's basic namespace, made once per Runtime.
#include "runtime/env.h"

#include "runtime/alloc.h"
#include "runtime/gc_frame.h"
#include "runtime/runtime.h"

// On the master's thread (scheme_main_stack_setup), the master is switched out and the thread
// becomes the initial place, with the stack bounds and statics mode the master had
// (places.md .sol.master); otherwise the calling thread becomes a place (.sol.attach).
extern "C" Scheme_Env* scheme_basic_env(void) {
  using keel::gc::Collector;
  Collector* current = Collector::CurrentOrNull();
  if (current != nullptr && current->role() == keel::gc::CollectorRole::kMaster) {
    const keel::gc::Roots::StackBounds bounds = current->roots().stack_bounds();
    const bool auto_statics = current->roots().auto_statics();
    current->SwitchOutMaster();
    Collector& place = Collector::AttachCurrentThread();
    place.roots().RestoreStackBounds(bounds);
    place.roots().set_auto_statics(auto_statics);
  }
  Collector::AttachCurrentThread();  // the calling thread becomes a place (places.md .sol.attach)
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
