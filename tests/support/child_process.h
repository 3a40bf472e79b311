// child_process.h: run a piece of a test in a forked child and observe how it ended. Used for
// misuse tests (the child must abort with a message), for code that must run before anything
// else in a process (scheme_main_setup, scheme_set_stack_base), and for environment variables
// read at start-up. Header-only; needs only POSIX.
#ifndef KEEL_TESTS_SUPPORT_CHILD_PROCESS_H
#define KEEL_TESTS_SUPPORT_CHILD_PROCESS_H

#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

namespace keel_test {

// ThreadSanitizer cannot start threads in a child forked from a multi-threaded process; cases
// that do are left out of the tsan run (they run in every other build).
#if defined(__SANITIZE_THREAD__)
inline constexpr bool kThreadsInForkedChildren = false;
#else
inline constexpr bool kThreadsInForkedChildren = true;
#endif
// AddressSanitizer's runtime (GCC 12) takes none of its allocator or thread-registry locks around
// fork(): a child that starts a thread deadlocks when another thread of the parent held one of
// them at the fork (a place thread finishing its exit, say). Cases whose child must start threads
// and that run among places are left out there too.
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
inline constexpr bool kThreadsInForkedChildrenAmongPlaces = false;
#else
inline constexpr bool kThreadsInForkedChildrenAmongPlaces = true;
#endif

// The threads of this process (/proc/self/task), 0 when it cannot be read.
inline size_t ThreadCount() {
  size_t n = 0;
  if (FILE* f = std::fopen("/proc/self/status", "r")) {
    char line[256];
    while (std::fgets(line, sizeof line, f) != nullptr) {
      if (std::strncmp(line, "Threads:", 8) == 0) n = std::strtoul(line + 8, nullptr, 10);
    }
    std::fclose(f);
  }
  return n;
}

// How a child ended, and what it wrote to stderr.
struct ChildResult {
  bool started = false;  // fork and pipe worked
  bool exited = false;   // ended through exit/_exit
  int exit_code = -1;
  bool signaled = false;  // ended by a signal
  int signal = 0;
  std::string err;  // everything written to fd 2

  bool Aborted() const { return signaled && signal == SIGABRT; }
  bool ExitedWith(int code) const { return exited && exit_code == code; }
  // One line for test messages: how it ended plus the captured stderr.
  std::string Describe() const {
    std::string how = !started  ? std::string("child did not start")
                      : exited  ? "exited with " + std::to_string(exit_code)
                      : signaled ? "killed by signal " + std::to_string(signal) + " (" + strsignal(signal) + ")"
                                 : std::string("ended oddly");
    return how + "; stderr: [" + err + "]";
  }
};

// LeakSanitizer, when a child leaves through exit(), stops the threads it knows of; it knows
// the parent's other threads too (Keel's decay thread, docs/design/heap.md .sol.retain), finds
// them absent from the child and says so on stderr. The note is about the sanitizer's own
// bookkeeping, never about the program, and would spoil comparisons of the child's stderr: it
// is removed. A leak the checker finds still fails the child (exit code 23).
inline void DropLeakCheckerThreadNote(std::string* err) {
  const std::string tail = " was not suspended. False leaks are possible.\n";
  size_t at = 0;
  while ((at = err->find(tail, at)) != std::string::npos) {
    size_t begin = err->rfind('\n', at);
    begin = begin == std::string::npos ? 0 : begin + 1;
    if (err->compare(begin, 2, "==") == 0 && err->find("==Running thread ", begin) != std::string::npos &&
        err->find("==Running thread ", begin) < at) {
      err->erase(begin, at + tail.size() - begin);
      at = begin;
    } else {
      at += tail.size();
    }
  }
}

// A child that runs longer than this is killed by SIGALRM, so a hang shows as a failure instead
// of stalling the suite. Generous: it only bounds a broken run, it times nothing.
inline constexpr unsigned kChildAlarmSeconds = 120;

// Runs body() in a forked child. The child's stderr goes into a pipe the parent reads; its exit
// status is body()'s result (the child leaves with _exit, so no atexit handler of the test
// framework runs twice). Core dumps are switched off in the child: aborts are expected here.
template <class Body>
ChildResult RunInChild(Body&& body) {
  ChildResult result;
#if defined(__SANITIZE_ADDRESS__)
  // Threads that are ending (places whose wait has returned) release the sanitizer's locks as
  // they go (see kThreadsInForkedChildrenAmongPlaces): give them up to two seconds to be gone, so
  // the fork finds the main thread and Keel's decay thread alone.
  for (int i = 0; i < 200 && ThreadCount() > 2; ++i) usleep(10000);
#endif
  std::cout.flush();
  std::cerr.flush();
  std::fflush(nullptr);
  int fds[2];
  if (pipe(fds) != 0) return result;
  pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return result;
  }
  if (pid == 0) {
    close(fds[0]);
    dup2(fds[1], STDERR_FILENO);
    close(fds[1]);
    struct rlimit no_core = {0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    // The test framework's handlers (inherited from the parent) would catch an abort and go on
    // running other tests in the child. SIGSEGV and SIGBUS stay as they are: the collector may
    // own them (write barrier).
    for (int sig : {SIGABRT, SIGALRM, SIGFPE, SIGILL, SIGTRAP, SIGSYS}) signal(sig, SIG_DFL);
    alarm(kChildAlarmSeconds);
    int code = body();
    std::fflush(nullptr);
    _exit(code);
  }
  close(fds[1]);
  result.started = true;
  char buf[4096];
  for (;;) {
    ssize_t n = read(fds[0], buf, sizeof buf);
    if (n > 0) {
      result.err.append(buf, static_cast<size_t>(n));
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      break;
    }
  }
  close(fds[0]);
  DropLeakCheckerThreadNote(&result.err);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return result;
  }
  if (WIFEXITED(status)) {
    result.exited = true;
    result.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result.signaled = true;
    result.signal = WTERMSIG(status);
  }
  return result;
}

// Runs a fresh copy of this test program (a new process image, so everything read at start-up
// is read again) with `env` added to the environment and `args` as its arguments.
inline ChildResult RunSelf(const std::vector<std::string>& args,
                           const std::vector<std::pair<std::string, std::string>>& env) {
  return RunInChild([&] {
    for (const auto& [name, value] : env) setenv(name.c_str(), value.c_str(), 1);
    std::vector<char*> argv;
    static char self[] = "/proc/self/exe";
    argv.push_back(self);
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(self, argv.data());
    std::fprintf(stderr, "execv(/proc/self/exe) failed: %s\n", std::strerror(errno));
    return 127;
  });
}

// For checks inside a child, where the test framework's assertions cannot report: prints the
// failed condition to stderr (which the parent shows) and counts it.
struct ChildChecks {
  int failures = 0;
  void Check(bool ok, const char* what, int line) {
    if (!ok) {
      ++failures;
      std::fprintf(stderr, "child check failed (line %d): %s\n", line, what);
    }
  }
  int ExitCode() const { return failures == 0 ? 0 : 10; }
};
#define KEEL_CHILD_CHECK(checks, cond) (checks).Check(static_cast<bool>(cond), #cond, __LINE__)

}  // namespace keel_test

#endif  // KEEL_TESTS_SUPPORT_CHILD_PROCESS_H
