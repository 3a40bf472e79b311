// scheme_escape.h: run code under an error handler, the way extension code catches
// scheme_signal_error (Inside Racket's scheme_setjmp(scheme_error_buf) pattern).
#ifndef KEEL_TESTS_SUPPORT_SCHEME_ESCAPE_H
#define KEEL_TESTS_SUPPORT_SCHEME_ESCAPE_H

#include <string>

#include "scheme.h"

namespace keel_test {

// What happened under the handler.
struct EscapeResult {
  bool escaped = false;
  bool out_of_memory = false;  // keel_last_error_was_out_of_memory() after the escape
  std::string message;         // keel_last_error_message() after the escape
};

// Calls fn(arg) with a fresh error handler installed and the previous one restored afterwards.
// fn must be plain C-like code: the escape longjmps over it, so it must not own anything with a
// destructor.
inline EscapeResult RunWithErrorHandler(void (*fn)(void*), void* arg) {
  EscapeResult r;
  mz_jmp_buf* volatile save = scheme_current_thread->error_buf;
  mz_jmp_buf fresh;
  void (*volatile call)(void*) = fn;
  void* volatile data = arg;
  volatile bool escaped = false;
  scheme_current_thread->error_buf = &fresh;
  if (scheme_setjmp(scheme_error_buf)) {
    escaped = true;
  } else {
    call(data);
  }
  scheme_current_thread->error_buf = save;
  r.escaped = escaped;
  if (r.escaped) {
    r.out_of_memory = keel_last_error_was_out_of_memory() != 0;
    const char* m = keel_last_error_message();
    r.message = m != nullptr ? m : "";
  }
  return r;
}

// Whether `part` occurs in an escape's message (or any text).
inline bool Contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace keel_test

#endif  // KEEL_TESTS_SUPPORT_SCHEME_ESCAPE_H
