// kind.cpp: names of allocation kinds for reports (kind.h).
#include "gc/kind.h"

namespace keel::gc {

const char* KindName(Kind k) {
  switch (k) {
    case Kind::kNormal: return "normal";
    case Kind::kAtomic: return "atomic";
    case Kind::kInterior: return "allow-interior";
    case Kind::kAtomicInterior: return "atomic allow-interior";
    case Kind::kUncollectable: return "uncollectable";
    case Kind::kAtomicUncollectable: return "atomic uncollectable";
    case Kind::kTagged: return "tagged";
  }
  return "unknown";
}

}  // namespace keel::gc
