// barrier_uffd.cpp: the userfaultfd backend (docs/design/barrier.md .sol.uffd). Chunks are
// registered for asynchronous write-protect: the kernel resolves a write to a protected page by
// itself, with no signal and no handler, and PAGEMAP_SCAN later reports (and re-protects) the
// pages written since. Kernel writes (read() into a protected page) are tracked the same way.
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <mutex>

#include "gc/barrier.h"
#include "gc/fatal.h"
#include "gc/heap.h"
#include "gc/stats.h"

namespace keel::gc {
namespace {

// The PAGEMAP_SCAN ABI (Linux 6.7), which the installed kernel headers predate.
struct PageRegion {
  uint64_t start;
  uint64_t end;
  uint64_t categories;
};
struct PmScanArg {
  uint64_t size;
  uint64_t flags;
  uint64_t start;
  uint64_t end;
  uint64_t walk_end;
  uint64_t vec;
  uint64_t vec_len;
  uint64_t max_pages;
  uint64_t category_inverted;
  uint64_t category_mask;
  uint64_t category_anyof_mask;
  uint64_t return_mask;
};
static_assert(sizeof(PmScanArg) == 96 && sizeof(PageRegion) == 24, "PAGEMAP_SCAN ABI");
constexpr unsigned long kPagemapScan = _IOWR('f', 16, PmScanArg);
constexpr uint64_t kPageIsWritten = 1u << 1;
constexpr uint64_t kScanWpMatching = 1;
constexpr uint64_t kScanCheckWpAsync = 2;
constexpr uint64_t kFeatureWpUnpopulated = 1u << 13;
constexpr uint64_t kFeatureWpAsync = 1u << 15;

// The three calls the backend makes, shared by the backend and the start-up probe.
bool RegisterWp(int uffd, uintptr_t start, size_t bytes) {
  uffdio_register reg{};
  reg.range.start = start;
  reg.range.len = bytes;
  reg.mode = UFFDIO_REGISTER_MODE_WP;
  return ioctl(uffd, UFFDIO_REGISTER, &reg) == 0;
}

bool WriteProtect(int uffd, uintptr_t start, size_t bytes, bool protect = true) {
  uffdio_writeprotect wp{};
  wp.range.start = start;
  wp.range.len = bytes;
  wp.mode = protect ? UFFDIO_WRITEPROTECT_MODE_WP : 0;
  return ioctl(uffd, UFFDIO_WRITEPROTECT, &wp) == 0;
}

// Reports into `regions` the written (not write-protected) OS pages of [start, end), and with
// `rearm` write-protects them again in the same walk. Returns the number of regions (negative
// when the kernel refused); *walk_end gets where the walk stopped, which is short of `end` when
// `regions` filled up.
long ScanWritten(int pagemap, uintptr_t start, uintptr_t end, PageRegion* regions, size_t count, uint64_t* walk_end,
                 bool rearm) {
  PmScanArg arg{};
  arg.size = sizeof arg;
  arg.flags = (rearm ? kScanWpMatching : 0) | kScanCheckWpAsync;
  arg.start = start;
  arg.end = end;
  arg.vec = reinterpret_cast<uintptr_t>(regions);
  arg.vec_len = count;
  arg.category_mask = kPageIsWritten;
  arg.return_mask = kPageIsWritten;
  long n = ioctl(pagemap, kPagemapScan, &arg);
  *walk_end = arg.walk_end;
  return n;
}

int OpenUserfaultfd() {
  // Plain first (kernel-mode writes such as read() are then tracked too); user-mode-only where
  // vm.unprivileged_userfaultfd allows nothing else.
  int fd = static_cast<int>(syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK));
  if (fd < 0) fd = static_cast<int>(syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY));
  return fd;
}

// Asks for asynchronous write-protect, also of pages not yet populated.
bool EnableAsyncWp(int uffd) {
  constexpr uint64_t kWanted = kFeatureWpAsync | kFeatureWpUnpopulated;
  uffdio_api api{};
  api.api = UFFD_API;
  api.features = kWanted;
  return ioctl(uffd, UFFDIO_API, &api) == 0 && (api.features & kWanted) == kWanted;
}

// Checks on a scratch mapping that the kernel accepts every call the backend makes.
bool Probe(int uffd, int pagemap) {
  CountBarrierProbe();
  const size_t len = 4 * 4096;
  void* mem = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) return false;
  auto base = reinterpret_cast<uintptr_t>(mem);
  bool ok = false;
  if (RegisterWp(uffd, base, len) && WriteProtect(uffd, base, len)) {
    static_cast<volatile char*>(mem)[4096] = 1;  // resolved by the kernel, no signal
    PageRegion regions[4];
    uint64_t walk_end = 0;
    long n = ScanWritten(pagemap, base, base + len, regions, 4, &walk_end, true);
    ok = n == 1 && regions[0].start == base + 4096 && regions[0].end == base + 8192;
  }
  munmap(mem, len);
  return ok;
}

// The cost of a first write into a protected page and of one protection call on this machine
// (.sol.payoff): 16 of each on a scratch mapping, the medians. Once per process.
struct Costs {
  uint64_t write_ns = 0;
  uint64_t call_ns = 0;
};
Costs Calibrate(int uffd) {
  constexpr size_t kProbes = 16;
  const size_t len = 2 * kProbes * 4096;
  Costs out;
  void* mem = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) return out;
  auto base = reinterpret_cast<uintptr_t>(mem);
  if (RegisterWp(uffd, base, len)) {
    uint64_t writes[kProbes], calls[kProbes];
    for (size_t k = 0; k < kProbes; ++k) static_cast<volatile char*>(mem)[2 * k * 4096] = 1;  // resident
    for (size_t k = 0; k < kProbes; ++k) {
      auto* page = reinterpret_cast<volatile char*>(base + 2 * k * 4096);
      uint64_t t0 = NowNs();
      WriteProtect(uffd, reinterpret_cast<uintptr_t>(page), 4096);
      uint64_t t1 = NowNs();
      *page = 2;  // resolved by the kernel
      uint64_t t2 = NowNs();
      calls[k] = t1 - t0;
      writes[k] = t2 - t1;
    }
    std::sort(writes, writes + kProbes);
    std::sort(calls, calls + kProbes);
    out = Costs{writes[kProbes / 2], calls[kProbes / 2]};
  }
  munmap(mem, len);
  return out;
}

// The process's userfaultfd and pagemap descriptors, shared by every collector (.sol.uffd):
// asynchronous write-protect raises no events, so one descriptor serves every registered range,
// and a process with hundreds of threads holds two descriptors, not two per thread. After a
// fork the child's copies still describe the parent's address space; the child closes them and
// opens its own on first use (.sol.fork).
struct UffdFds {
  int uffd = -1;
  int pagemap = -1;
};

class UffdProcess {
 public:
  using Fds = UffdFds;
  // The descriptors of this process, opened (and the first time probed) on first use; -1 when
  // the kernel offers no asynchronous write-protect or descriptors cannot be had.
  static Fds Get() {
    std::lock_guard<std::mutex> lock(mu_);
    if (fds_.uffd < 0 && !failed_) Open();
    return fds_;
  }
  static void Lock() { mu_.lock(); }
  static void Unlock() { mu_.unlock(); }
  // In the child, single-threaded, with mu_ held since Lock in the parent.
  static void ForgetInChild() {
    if (fds_.uffd >= 0) close(fds_.uffd);
    if (fds_.pagemap >= 0) close(fds_.pagemap);
    fds_ = Fds{};
    failed_ = false;
    mu_.unlock();
  }

 private:
  static void Open();

  static inline std::mutex mu_;
  static inline Fds fds_;
  static inline bool probed_ = false;  // the probe passed once: the kernel supports the backend
 public:
  static inline Costs costs_;  // measured with the probe, then read only
 private:
  static inline bool failed_ = false;
};

class UffdBarrier final : public Barrier {
 public:
  explicit UffdBarrier(UffdProcess::Fds fds) : Barrier(BarrierKind::kUffd), fds_(fds) {
    event_cost_ns_ = UffdProcess::costs_.write_ns;
    call_cost_ns_ = UffdProcess::costs_.call_ns;
  }

  bool AttachChunk(Chunk& c) override {
    UffdProcess::Fds fds = UffdProcess::Get();
    return fds.uffd >= 0 && RegisterWp(fds.uffd, c.base, c.pages << kPageShift);
  }

  bool Protect(uintptr_t start, size_t bytes) override { return WriteProtect(fds_.uffd, start, bytes); }

  // A write to a protected page is resolved by the kernel and reported at the next scan, so
  // the allocator's stores need nothing undone; but each first write is still a fault, so pages
  // that will be written anyway (freed ones, hot ones) are opened in runs (.sol.hot).
  bool Unprotect(uintptr_t start, size_t bytes) override { return WriteProtect(fds_.uffd, start, bytes, false); }

  // One walk of the whole chunk reports every OS page that is not write-protected (.sol.hot):
  // those inside pages whose protected bit is set were written since. They are marked dirty and
  // their bit cleared, as the mprotect handler does; the collection's reconciliation then
  // protects them again in runs, or leaves them open if they are hot.
  // The walk covers the chunk's protected pages only, from the first to the last: written
  // pages elsewhere are open already and count for nothing.
  void CollectWritten(Chunk& c) override {
    size_t first = c.pages;
    size_t last = 0;
    for (size_t w = 0; w < c.MaskWords(); ++w) {
      uint64_t bits = __atomic_load_n(&c.protected_mask[w], __ATOMIC_RELAXED);
      if (bits == 0) continue;
      first = std::min(first, w * 64 + static_cast<size_t>(std::countr_zero(bits)));
      last = w * 64 + 63 - static_cast<size_t>(std::countl_zero(bits));
    }
    if (first >= c.pages) return;
    uintptr_t start = c.base + (first << kPageShift);
    const uintptr_t end = c.base + (std::min(last + 1, c.pages) << kPageShift);
    while (start < end) {
      uint64_t walk_end = 0;
      long n = fds_.pagemap < 0 ? -1 : ScanWritten(fds_.pagemap, start, end, regions_, kRegions, &walk_end, false);
      ++scans_;
      if (n < 0) {
        RearmAll(c);
        return;
      }
      for (long r = 0; r < n; ++r) NoteWritten(c, regions_[r].start, regions_[r].end);
      if (walk_end <= start) break;
      start = walk_end;
    }
  }

  bool WritesFault() const override { return false; }

  bool RenewsAfterFork() const override { return true; }

  void Renew() override {
    Barrier::Renew();
    fds_ = UffdProcess::Get();
    if (fds_.uffd < 0) Warn("write barrier (uffd): this process cannot open a userfaultfd after fork; every old page counts as written");
  }

 private:
  // The written OS pages [lo, hi) that lie in protected heap pages.
  void NoteWritten(Chunk& c, uintptr_t lo, uintptr_t hi) {
    for (uintptr_t p = lo & ~(kPageSize - 1); p < hi; p += kPageSize) {
      size_t i = c.PageIndex(p);
      if (!c.IsProtected(i)) continue;
      written_pages_ += (std::min(hi, p + kPageSize) - std::max(lo, p)) / 4096;
      // Already open in the kernel: the bit follows (.inv.masks).
      c.SetDirty(i);
      c.ClearProtected(i);
    }
  }

  // The kernel refused the walk: every protected page counts as written, and is protected
  // again so that nothing written later is missed (safe, only slower).
  void RearmAll(Chunk& c) {
    size_t i = 0;
    while (i < c.pages) {
      if (!c.IsProtected(i)) {
        ++i;
        continue;
      }
      size_t j = i;
      while (j < c.pages && c.IsProtected(j)) c.SetDirty(j++);
      CountCalls(1);
      if (!WriteProtect(fds_.uffd, c.base + (i << kPageShift), (j - i) << kPageShift)) c.untracked = true;
      i = j;
    }
  }

  static constexpr size_t kRegions = 256;
  PageRegion regions_[kRegions];
  UffdProcess::Fds fds_;
};

void UffdProcess::Open() {
  int uffd = OpenUserfaultfd();
  if (uffd >= 0 && !EnableAsyncWp(uffd)) {
    close(uffd);
    uffd = -1;
  }
  int pagemap = uffd < 0 ? -1 : open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
  if (uffd < 0 || pagemap < 0 || (!probed_ && !Probe(uffd, pagemap))) {
    if (uffd >= 0) close(uffd);
    if (pagemap >= 0) close(pagemap);
    failed_ = true;
    return;
  }
  if (!probed_) costs_ = Calibrate(uffd);
  probed_ = true;
  fds_ = Fds{uffd, pagemap};
}


}  // namespace

std::unique_ptr<Barrier> MakeUffdBarrier() {
  UffdProcess::Fds fds = UffdProcess::Get();
  if (fds.uffd < 0) return nullptr;
  return std::make_unique<UffdBarrier>(fds);
}

void UffdBeforeFork() { UffdProcess::Lock(); }
void UffdAfterForkInParent() { UffdProcess::Unlock(); }
void UffdAfterForkInChild() { UffdProcess::ForgetInChild(); }

}  // namespace keel::gc
