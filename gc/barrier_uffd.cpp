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

#include "gc/barrier.h"
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

class UffdBarrier final : public Barrier {
 public:
  UffdBarrier(int uffd, int pagemap) : Barrier(BarrierKind::kUffd), uffd_(uffd), pagemap_(pagemap) {}
  ~UffdBarrier() override {
    close(uffd_);
    close(pagemap_);
  }

  bool AttachChunk(Chunk& c) override { return RegisterWp(uffd_, c.base, c.pages << kPageShift); }

  bool Protect(uintptr_t start, size_t bytes) override { return WriteProtect(uffd_, start, bytes); }

  // A write to a protected page costs under a microsecond and is reported at the next scan;
  // nothing needs undoing before the collector reuses a page.
  void Unprotect(uintptr_t, size_t) override {}

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

 private:
  // Reports the written OS pages of [start, end) and write-protects them again in one walk.
  void ScanRun(Chunk& c, uintptr_t start, uintptr_t end) {
    PageRegion regions[64];
    while (start < end) {
      uint64_t walk_end = 0;
      long n = ScanWritten(pagemap_, start, end, regions, 64, &walk_end);
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

  int uffd_;
  int pagemap_;
};

int OpenUserfaultfd() {
  // Plain first (kernel-mode writes such as read() are then tracked too); user-mode-only where
  // vm.unprivileged_userfaultfd allows nothing else.
  int fd = static_cast<int>(syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK));
  if (fd < 0) fd = static_cast<int>(syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY));
  return fd;
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

}  // namespace

std::unique_ptr<Barrier> MakeUffdBarrier() {
  int uffd = OpenUserfaultfd();
  if (uffd < 0) return nullptr;
  uffdio_api api{};
  api.api = UFFD_API;
  api.features = kFeatureWpAsync | kFeatureWpUnpopulated;
  if (ioctl(uffd, UFFDIO_API, &api) != 0 || (api.features & (kFeatureWpAsync | kFeatureWpUnpopulated)) != (kFeatureWpAsync | kFeatureWpUnpopulated)) {
    close(uffd);
    return nullptr;
  }
  int pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
  if (pagemap < 0 || !Probe(uffd, pagemap)) {
    close(uffd);
    if (pagemap >= 0) close(pagemap);
    return nullptr;
  }
  return std::make_unique<UffdBarrier>(uffd, pagemap);
}

}  // namespace keel::gc
