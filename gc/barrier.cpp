// barrier.cpp: choosing the write-barrier backend (barrier.h, docs/design/barrier.md
// .sol.choice), and the "none" backend.
#include "gc/barrier.h"

#include <cstdlib>
#include <cstring>

#include "gc/fatal.h"

namespace keel::gc {

const char* BarrierName(BarrierKind kind) {
  switch (kind) {
    case BarrierKind::kNone: return "none";
    case BarrierKind::kMprotect: return "mprotect";
    case BarrierKind::kUffd: return "uffd";
  }
  return "unknown";
}

namespace {

// Protects nothing: the collector then runs only major collections.
class NoBarrier final : public Barrier {
 public:
  NoBarrier() : Barrier(BarrierKind::kNone) {}
  bool AttachChunk(Chunk&) override { return true; }
  bool Protect(uintptr_t, size_t) override { return false; }
  void Unprotect(uintptr_t, size_t) override {}
  void CollectWritten(Chunk&) override {}
  bool WritesFault() const override { return false; }
};

}  // namespace

std::unique_ptr<Barrier> MakeNoBarrier() { return std::make_unique<NoBarrier>(); }

std::unique_ptr<Barrier> MakeBarrier(Collector&) {
  const char* want = std::getenv("KEEL_GC_BARRIER");
  if (want != nullptr && *want != '\0') {
    if (std::strcmp(want, "none") == 0) return MakeNoBarrier();
    if (std::strcmp(want, "mprotect") == 0) {
      if (auto b = MakeMprotectBarrier()) return b;
      Warn("KEEL_GC_BARRIER=mprotect: cannot install the fault handler; collecting without a barrier");
      return MakeNoBarrier();
    }
    if (std::strcmp(want, "uffd") == 0) {
      if (auto b = MakeUffdBarrier()) return b;
      Warn("KEEL_GC_BARRIER=uffd: this kernel offers no asynchronous userfaultfd write-protect; using mprotect");
    } else {
      Warn("KEEL_GC_BARRIER=%s is not one of uffd, mprotect, none; choosing automatically", want);
    }
  }
  if (auto b = MakeUffdBarrier()) return b;
  if (auto b = MakeMprotectBarrier()) return b;
  return MakeNoBarrier();
}

}  // namespace keel::gc
