// budget.h: step loops sized to a time budget, for the heavy suites (tests/stress).
//
// A seeded stress run does `nominal` steps on a fast host. On a slow one (and under the
// sanitizers) the same steps can take many times longer, so a run is given a time budget
// instead: it does at least `floor` steps, then stops at the deadline or at `nominal` steps,
// whichever comes first. The floor is mandatory: it is chosen so that the run still proves what
// the test is for (enough collections of each kind; each test says why its floor suffices), and
// a run whose floor takes longer than its whole budget still runs it to the end and reports
// that it overran its budget. Nothing stops silently: every run prints one line, starting with
// "[budget]", with the steps done out of the nominal count, the floor, the time against the
// budget, the collections (minor and major) the run covered and its seed.
//
// Environment (read once per process):
//   KEEL_TEST_BUDGET_SCALE=X    multiplies every test's budget (default 1; 0 runs just the
//                               floors, "inf" always the nominal counts). A slower host sets it
//                               below 1 to keep its total time, a longer soak above 1.
//   KEEL_TEST_BUDGET_SECONDS=S  replaces every run's budget by S seconds (the scale does not
//                               apply then).
//   KEEL_TEST_BUDGET_LOG=path   also appends each report line to this file (scripts/test.sh sets
//                               it and prints the runs that stopped early or overran).
// A value that is not a non-negative number is reported on stderr and in every report line, and
// the default applies.
#ifndef KEEL_TESTS_SUPPORT_BUDGET_H
#define KEEL_TESTS_SUPPORT_BUDGET_H

#include <boost/test/unit_test.hpp>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <string>
#include <utility>

#include "keel_gc.h"

namespace keel_test {

// What the environment says about budgets.
struct BudgetSettings {
  double scale = 1.0;
  bool has_seconds = false;  // KEEL_TEST_BUDGET_SECONDS is set (and valid)
  double seconds = 0.0;
  std::string log_path;      // KEEL_TEST_BUDGET_LOG, or empty
  std::string problems;      // messages about values that were ignored, or empty
};

// A non-negative decimal number (or "inf"), the whole string; false for anything else.
inline bool ParseBudgetNumber(const char* text, double* out) {
  if (text == nullptr || *text == '\0') return false;
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(text, &end);
  if (end == text || *end != '\0' || errno == ERANGE || std::isnan(v) || v < 0) return false;
  *out = v;
  return true;
}

inline const BudgetSettings& GetBudgetSettings() {
  static const BudgetSettings settings = [] {
    BudgetSettings s;
    if (const char* v = std::getenv("KEEL_TEST_BUDGET_SCALE"); v != nullptr) {
      if (!ParseBudgetNumber(v, &s.scale)) {
        s.scale = 1.0;
        s.problems += std::string("KEEL_TEST_BUDGET_SCALE='") + v +
                      "' is not a non-negative number (such as 0.5, 2 or inf); using the default 1. ";
      }
    }
    if (const char* v = std::getenv("KEEL_TEST_BUDGET_SECONDS"); v != nullptr) {
      if (ParseBudgetNumber(v, &s.seconds)) {
        s.has_seconds = true;
      } else {
        s.problems += std::string("KEEL_TEST_BUDGET_SECONDS='") + v +
                      "' is not a non-negative number of seconds; using each test's own budget. ";
      }
    }
    if (const char* v = std::getenv("KEEL_TEST_BUDGET_LOG"); v != nullptr) s.log_path = v;
    if (!s.problems.empty()) {
      if (s.problems.back() == ' ') s.problems.pop_back();
      std::cerr << "keel tests: " << s.problems << std::endl;
    }
    return s;
  }();
  return settings;
}

// Formats seconds for the report: "12.3 s", "unlimited".
inline std::string FormatSeconds(double s) {
  if (!(s < 1e9)) return "unlimited";
  std::ostringstream o;
  o.setf(std::ios::fixed);
  o.precision(s < 10 ? 2 : 1);
  o << s << " s";
  return o.str();
}

// One budgeted run. Typical use:
//
//   keel_test::StepBudget budget("random_graph/default_policy", seed, 10000, 30000, 40);
//   int step = 0;
//   for (; !failed && budget.Continue(step); ++step) DoStep();
//   budget.Report(step, failed);
class StepBudget {
 public:
  using Clock = std::chrono::steady_clock;

  // `what` names the run in the report; `floor` and `nominal` are step counts (floor <= nominal);
  // `budget_seconds` is the run's budget at scale 1. The clock starts now.
  StepBudget(std::string what, uint64_t seed, int floor, int nominal, double budget_seconds)
      : what_(std::move(what)), seed_(seed), floor_(floor < nominal ? floor : nominal), nominal_(nominal),
        base_seconds_(budget_seconds), start_(Clock::now()) {
    const BudgetSettings& s = GetBudgetSettings();
    budget_seconds_ = s.has_seconds ? s.seconds : budget_seconds * s.scale;
    unlimited_ = !(budget_seconds_ < 1e9);  // inf, or so large that the clock could not hold it
    if (!unlimited_) {
      deadline_ = start_ + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(budget_seconds_));
    }
    keel_gc_get_stats(&before_);
  }

  // Whether to do another step after `done` steps: always below the floor, never at the nominal
  // count, and in between while the deadline has not passed; if it had already passed when the
  // floor was done, the run overran its budget and stops there. Call it before every step.
  bool Continue(int done) {
    if (done < floor_) return true;
    const Clock::time_point now = Clock::now();
    if (!floor_done_) {  // the floor is done: was the deadline already past?
      floor_done_ = true;
      floor_seconds_ = std::chrono::duration<double>(now - start_).count();
      overran_ = !unlimited_ && now >= deadline_;
    }
    if (done >= nominal_) return false;
    if (!overran_ && (unlimited_ || now < deadline_)) return true;
    stopped_ = true;
    return false;
  }

  // Prints the run's report line on stdout (and appends it to KEEL_TEST_BUDGET_LOG) and returns
  // it. `done`: the steps done; `failed`: the run stopped at a failure.
  std::string Report(int done, bool failed = false) {
    const double elapsed = std::chrono::duration<double>(Clock::now() - start_).count();
    keel_gc_stats after{};
    keel_gc_get_stats(&after);
    std::ostringstream line;
    line << "[budget] " << what_ << " (seed " << seed_ << "): ";
    if (failed) {
      line << "stopped by a failure after " << done << " of " << nominal_ << " steps";
    } else if (overran_) {
      line << "BUDGET OVERRUN: the mandatory floor of " << floor_ << " steps took " << FormatSeconds(floor_seconds_)
           << ", past its budget of " << BudgetText() << "; ran " << done << " of " << nominal_ << " steps in "
           << FormatSeconds(elapsed);
    } else if (done < nominal_) {
      line << "stopped at the deadline after " << done << " of " << nominal_ << " steps (floor " << floor_ << ") in "
           << FormatSeconds(elapsed) << ", budget " << BudgetText();
    } else {
      line << "ran all " << done << " of " << nominal_ << " steps (floor " << floor_ << ") in "
           << FormatSeconds(elapsed) << ", budget " << BudgetText();
    }
    line << "; " << (after.collections - before_.collections) << " collections ("
         << (after.minor_collections - before_.minor_collections) << " minor, "
         << (after.major_collections - before_.major_collections) << " major)";
    const BudgetSettings& s = GetBudgetSettings();
    if (!s.problems.empty()) line << " [" << s.problems << "]";
    const std::string text = line.str();
    std::cout << text << std::endl;
    if (!s.log_path.empty()) {
      // One fwrite of a short line to a file opened for appending: lines of tests running in
      // parallel do not interleave.
      if (std::FILE* f = std::fopen(s.log_path.c_str(), "a"); f != nullptr) {
        const std::string with_newline = text + "\n";
        std::fwrite(with_newline.data(), 1, with_newline.size(), f);
        std::fclose(f);
      }
    }
    return text;
  }

  int floor() const { return floor_; }
  int nominal() const { return nominal_; }
  bool stopped_at_deadline() const { return stopped_; }
  bool overran() const { return overran_; }
  double budget_seconds() const { return budget_seconds_; }

 private:
  // "40 s", "0.40 s (40 s x KEEL_TEST_BUDGET_SCALE 0.01)", "30 s (KEEL_TEST_BUDGET_SECONDS)".
  std::string BudgetText() const {
    const BudgetSettings& s = GetBudgetSettings();
    std::ostringstream o;
    o << FormatSeconds(budget_seconds_);
    if (s.has_seconds) {
      o << " (KEEL_TEST_BUDGET_SECONDS)";
    } else if (s.scale != 1.0) {
      o << " (" << FormatSeconds(base_seconds_) << " x KEEL_TEST_BUDGET_SCALE " << s.scale << ")";
    }
    return o.str();
  }

  std::string what_;
  uint64_t seed_;
  int floor_;
  int nominal_;
  double base_seconds_;
  double budget_seconds_ = 0;
  bool unlimited_ = false;
  Clock::time_point start_;
  Clock::time_point deadline_{};
  keel_gc_stats before_{};
  bool floor_done_ = false;
  double floor_seconds_ = 0;
  bool stopped_ = false;   // stopped before the nominal count: at the deadline or after an overrun
  bool overran_ = false;   // the deadline passed before the floor was done
};

// The full name of the running Boost.Test case ("suite/case"), to name a budgeted run.
inline std::string CurrentTestName() { return boost::unit_test::framework::current_test_case().full_name(); }

}  // namespace keel_test

#endif  // KEEL_TESTS_SUPPORT_BUDGET_H
