// seed.h: the seed of the seeded stress tests: `--seed N` or `--seed=N` after `--` on the
// command line, otherwise a fresh random one. Every stress test prints the seed it used.
#ifndef KEEL_TESTS_SUPPORT_SEED_H
#define KEEL_TESTS_SUPPORT_SEED_H

#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <cstdlib>
#include <random>
#include <string>

namespace keel_test {

// One seed per test program, drawn once.
inline uint64_t SeedFromCommandLine() {
  static uint64_t seed = []() -> uint64_t {
    auto& suite = boost::unit_test::framework::master_test_suite();
    for (int i = 1; i < suite.argc; ++i) {
      std::string arg = suite.argv[i];
      if (arg == "--seed" && i + 1 < suite.argc) return std::strtoull(suite.argv[i + 1], nullptr, 0);
      if (arg.rfind("--seed=", 0) == 0) return std::strtoull(arg.c_str() + 7, nullptr, 0);
    }
    std::random_device rd;
    return (static_cast<uint64_t>(rd()) << 32) ^ rd();
  }();
  return seed;
}

// xorshift64: the seeded tests' stream of numbers, the same for the same seed on any host.
class XorShift {
 public:
  explicit XorShift(uint64_t seed) : x_(seed | 1) {}
  uint64_t Next() {
    x_ ^= x_ << 13;
    x_ ^= x_ >> 7;
    x_ ^= x_ << 17;
    return x_;
  }
  // A number in [0, n).
  uint64_t Below(uint64_t n) { return Next() % n; }

 private:
  uint64_t x_;
};

}  // namespace keel_test

#endif  // KEEL_TESTS_SUPPORT_SEED_H
