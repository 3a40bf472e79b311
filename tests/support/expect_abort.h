// expect_abort.h: the misuse-test helper: run code in a child that is expected to abort, and
// check that it did abort (SIGABRT) with a message naming the problem (DESIGN D12: "a user's
// mistake yields a clear message, not a silent corruption").
#ifndef KEEL_TESTS_SUPPORT_EXPECT_ABORT_H
#define KEEL_TESTS_SUPPORT_EXPECT_ABORT_H

#include <boost/test/unit_test.hpp>

#include <string>
#include <utility>

#include "support/child_process.h"

namespace keel_test {

// What a misuse body returns if the misuse did not stop it.
inline constexpr int kMisuseNotDetected = 77;

// Runs body() in a child; the test passes only if the child aborts and its stderr contains
// `message`. body() should return kMisuseNotDetected after the misuse.
template <class Body>
ChildResult ExpectAbortWithMessage(Body&& body, const std::string& message) {
  ChildResult r = RunInChild(std::forward<Body>(body));
  BOOST_TEST(r.started);
  BOOST_TEST(r.Aborted(), "expected an abort; " << r.Describe());
  BOOST_TEST(r.err.find(message) != std::string::npos,
             "stderr should mention \"" << message << "\"; " << r.Describe());
  return r;
}

// Runs body() in a child that is expected to leave with exit(code) (not a crash) and to say
// `message` on stderr.
template <class Body>
ChildResult ExpectExitWithMessage(Body&& body, int code, const std::string& message) {
  ChildResult r = RunInChild(std::forward<Body>(body));
  BOOST_TEST(r.started);
  BOOST_TEST(r.ExitedWith(code), "expected exit status " << code << "; " << r.Describe());
  BOOST_TEST(r.err.find(message) != std::string::npos,
             "stderr should mention \"" << message << "\"; " << r.Describe());
  return r;
}

}  // namespace keel_test

#endif  // KEEL_TESTS_SUPPORT_EXPECT_ABORT_H
