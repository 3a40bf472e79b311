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

#include <cstring>
#include <mutex>

#include "gc/barrier.h"
#include "gc/fatal.h"
#include "gc/heap.h"

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

bool WriteProtect(int uffd, uintptr_t start, size_t bytes) {
  uffdio_writeprotect wp{};
  wp.range.start = start;
  wp.range.len = bytes;
  wp.mode = UFFDIO_WRITEPROTECT_MODE_WP;
  return ioctl(uffd, UFFDIO_WRITEPROTECT, &wp) == 0;
}

// Reports into `regions` the written OS pages of [start, end), write-protecting them again in
// the same walk. Returns the number of regions (negative when the kernel refused); *walk_end
// gets where the walk stopped, which is short of `end` when `regions` filled up.
long ScanWritten(int pagemap, uintptr_t start, uintptr_t end, PageRegion* regions, size_t count, uint64_t* walk_end) {
  PmScanArg arg{};
  arg.size = sizeof arg;
  arg.flags = kScanWpMatching | kScanCheckWpAsync;
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
  const size_t len = 4 * 4096;
  void* mem = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) return false;
  auto base = reinterpret_cast<uintptr_t>(mem);
  bool ok = false;
  if (RegisterWp(uffd, base, len) && WriteProtect(uffd, base, len)) {
    static_cast<volatile char*>(mem)[4096] = 1;  // resolved by the kernel, no signal
    PageRegion regions[4];
    uint64_t walk_end = 0;
    long n = ScanWritten(pagemap, base, base + len, regions, 4, &walk_end);
    ok = n == 1 && regions[0].start == base + 4096 && regions[0].end == base + 8192;
  }
  munmap(mem, len);
  return ok;
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
  static inline bool failed_ = false;
};

class UffdBarrier final : public Barrier {
 public:
  explicit UffdBarrier(UffdProcess::Fds fds) : Barrier(BarrierKind::kUffd), fds_(fds) {}

  bool AttachChunk(Chunk& c) override {
    UffdProcess::Fds fds = UffdProcess::Get();
    return fds.uffd >= 0 && RegisterWp(fds.uffd, c.base, c.pages << kPageShift);
  }

  bool Protect(uintptr_t start, size_t bytes) override { return WriteProtect(fds_.uffd, start, bytes); }

  // A write to a protected page costs under a microsecond and is reported at the next scan;
  // nothing needs undoing before the collector reuses a page.
  bool Unprotect(uintptr_t, size_t) override { return true; }

  void CollectWritten(Chunk& c) override {
    size_t i = 0;
    while (i < c.pages) {
      if (!c.IsProtected(i)) {
        ++i;
        continue;
      }
      size_t j = i;
      while (j < c.pages && c.IsProtected(j)) ++j;
      ScanRun(c, c.base + (i << kPageShift), c.base + (j << kPageShift));
      i = j;
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
  // Reports the written OS pages of [start, end) and write-protects them again in one walk.
  void ScanRun(Chunk& c, uintptr_t start, uintptr_t end) {
    PageRegion regions[64];
    while (start < end) {
      uint64_t walk_end = 0;
      long n = fds_.pagemap < 0 ? -1 : ScanWritten(fds_.pagemap, start, end, regions, 64, &walk_end);
      if (n < 0) {
        // The kernel refused the walk: count the whole run as written (safe, only slower).
        for (uintptr_t p = start; p < end; p += kPageSize) c.SetDirty(c.PageIndex(p));
        return;
      }
      for (long r = 0; r < n; ++r) {
        written_pages_ += (regions[r].end - regions[r].start) / 4096;
        for (uintptr_t p = regions[r].start & ~(kPageSize - 1); p < regions[r].end; p += kPageSize) {
          c.SetDirty(c.PageIndex(p));
        }
      }
      if (walk_end <= start) break;
      start = walk_end;
    }
  }

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
