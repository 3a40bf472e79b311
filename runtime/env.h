// env.h: the namespace object (Scheme_Env, opaque in scheme.h). For now it carries only what
// scheme_basic_env needs; evaluation adds its tables later.
#ifndef KEEL_RUNTIME_ENV_H
#define KEEL_RUNTIME_ENV_H

#include "scheme.h"

// A collectable, tagged object (scheme_namespace_type), scanned; the Runtime keeps the basic
// one alive through a registered root.
struct Scheme_Env {
  Scheme_Object so;
  Scheme_Object* name;      // a symbol naming the namespace
  Scheme_Object* bindings;  // top-level bindings: an association list until evaluation exists
};

#endif  // KEEL_RUNTIME_ENV_H
