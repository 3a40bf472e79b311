// errors.cpp: errors and escapes (DESIGN D10): the current Scheme thread, scheme_signal_error,
// scheme_raise_out_of_memory and keel_longjmp. An error formats its message into the Runtime,
// then jumps to the thread's error_buf, or prints the message and exits when there is none.
#include <cstdarg>
#include <cstdio>
#include <cstdlib>

#include "runtime/format.h"
#include "runtime/runtime.h"
#include "scheme.h"

namespace keel::rt {

namespace {

// No C++ object with a destructor is live in this frame or its callers inside the runtime
// (the message lives in the Runtime), bar GcFrames, whose pops keel_longjmp does instead, so
// the jump skips no cleanup.
[[noreturn]] void Escape(Runtime& rt) {
  mz_jmp_buf* buf = rt.thread()->error_buf;
  if (buf == nullptr) {
    std::fprintf(stderr, "%s\n", rt.error_message().c_str());
    std::fflush(stderr);
    std::exit(1);
  }
  keel_longjmp(buf, 1);
}

}  // namespace

}  // namespace keel::rt

using keel::rt::Runtime;

extern "C" {

Scheme_Thread* keel_current_thread(void) { return Runtime::Current().thread(); }

// In both variants: the runtime's own frames (runtime/gc_frame.h) are on GC_variable_stack in
// CGC too, and an escape out of a runtime function skips their destructors, so the chain goes
// back to where the handler's scheme_setjmp found it (docs/design/roots.md .sol.frames).
void keel_longjmp(mz_jmp_buf* b, int v) {
  GC_variable_stack = reinterpret_cast<void**>(b->gcvs);
  siglongjmp(b->jb, v == 0 ? 1 : v);
}

void scheme_signal_error(const char* msg, ...) {
  Runtime& rt = Runtime::Current();
  rt.BeginError(false);
  va_list ap;
  va_start(ap, msg);
  keel::rt::FormatV(rt.error_message(), msg, &ap);
  va_end(ap);
  keel::rt::Escape(rt);
}

void scheme_raise_out_of_memory(const char* where, const char* fmt, ...) {
  Runtime& rt = Runtime::Current();
  rt.BeginError(true);
  std::string& message = rt.error_message();
  if (where != nullptr && *where != '\0') {
    message += where;
    message += ": ";
  }
  message += "out of memory";
  if (fmt != nullptr && *fmt != '\0') {
    message += ' ';
    va_list ap;
    va_start(ap, fmt);
    keel::rt::FormatV(message, fmt, &ap);
    va_end(ap);
  }
  keel::rt::Escape(rt);
}

const char* keel_last_error_message(void) { return Runtime::Current().error_message().c_str(); }

int keel_last_error_was_out_of_memory(void) {
  return Runtime::Current().error_was_out_of_memory() ? 1 : 0;
}

}  // extern "C"
