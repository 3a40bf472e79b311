// fresh_collector.h: a test case's own collector on the calling thread, created fresh (no spare
// chunks of an earlier case's heap: heap.md .sol.spares) and destroyed with everything it holds
// at the end of the case.
#ifndef KEEL_TESTS_UNIT_FRESH_COLLECTOR_H
#define KEEL_TESTS_UNIT_FRESH_COLLECTOR_H

#include "gc/collector.h"

namespace keel_test {

struct FreshCollector {
  static keel::gc::Collector& Fresh() {
    keel::gc::Collector::DestroyCurrent();
    keel::gc::Heap::ReleaseLooseRuns();
    return keel::gc::Collector::Current();
  }
  ~FreshCollector() { keel::gc::Collector::DestroyCurrent(); }
  keel::gc::Collector& c = Fresh();
};

}  // namespace keel_test

#endif  // KEEL_TESTS_UNIT_FRESH_COLLECTOR_H
