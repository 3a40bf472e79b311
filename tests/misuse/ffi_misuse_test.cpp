// ffi_misuse_test.cpp: misuse of GC callbacks and FFI callbacks (docs/design/ffi.md): a GC
// callback's function that calls Keel, and a callback called on the wrong thread, stop the
// program with a message that names the mistake.
#include <boost/test/unit_test.hpp>

#include <thread>

#include "keel_ffi.h"
#include "keel_gc.h"
#include "keel_places.h"
#include "scheme.h"
#include "support/expect_abort.h"

namespace {

using keel_test::ExpectAbortWithMessage;
using keel_test::kMisuseNotDetected;

extern "C" void AllocatesInside(void*, void*, void*) {
  void* volatile p = scheme_malloc(1 << 20);
  (void)p;
}
extern "C" void CollectsInside(void*, void*, void*) { scheme_collect_garbage(); }

// Registers #(#(ptr_ptr_ptr->void fn #f #f #f)) as the pre- or post-description, then collects.
int RegisterAndCollect(void (*fn)(void*, void*, void*), bool post) {
  Scheme_Object* call = scheme_make_vector(5, scheme_false);
  SCHEME_VEC_ELS(call)[0] = scheme_intern_symbol("ptr_ptr_ptr->void");
  SCHEME_VEC_ELS(call)[1] = scheme_make_cptr(reinterpret_cast<void*>(fn), nullptr);
  Scheme_Object* desc = scheme_make_vector(1, call);
  Scheme_Object* empty = scheme_make_vector(0, scheme_false);
  Scheme_Object* volatile key = post ? scheme_add_gc_callback(empty, desc) : scheme_add_gc_callback(desc, empty);
  scheme_collect_garbage();
  (void)key;
  return kMisuseNotDetected;
}

Scheme_Object* Identity(void*, int, Scheme_Object** argv) { return argv[0]; }

}  // namespace

BOOST_AUTO_TEST_SUITE(gc_callback_misuse)

BOOST_AUTO_TEST_CASE(a_pre_callback_that_allocates) {
  ExpectAbortWithMessage([] { return RegisterAndCollect(AllocatesInside, false); },
                         "an allocation inside a GC callback (scheme_add_gc_callback)");
}

BOOST_AUTO_TEST_CASE(a_post_callback_that_collects) {
  ExpectAbortWithMessage([] { return RegisterAndCollect(CollectsInside, true); },
                         "a collection inside a GC callback (scheme_add_gc_callback)");
}

BOOST_AUTO_TEST_CASE(an_ffi_callback_called_on_a_thread_of_no_place) {
  ExpectAbortWithMessage(
      [] {
        Scheme_Object* types = scheme_make_pair(scheme_intern_symbol("int"), scheme_null);
        Scheme_Object* sig = keel_ffi_signature(types, scheme_intern_symbol("int"));
        Scheme_Object* cb = keel_ffi_callback(Identity, nullptr, sig);
        auto fn = reinterpret_cast<int (*)(int)>(keel_ffi_pointer(cb));
        std::thread t([fn] { fn(1); });
        t.join();
        return kMisuseNotDetected;
      },
      "keel_ffi_callback: a callback was called on a thread attached to no place");
}

BOOST_AUTO_TEST_SUITE_END()
