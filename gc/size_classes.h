// size_classes.h: the small-object size classes. A small object takes exactly its class size
// (16-byte objects take 16 bytes); objects above kMaxSmallSize get their own page runs.
#ifndef KEEL_GC_SIZE_CLASSES_H
#define KEEL_GC_SIZE_CLASSES_H

#include <array>
#include <cstddef>
#include <cstdint>

namespace keel::gc {

inline constexpr size_t kPageShift = 14;
inline constexpr size_t kPageSize = size_t{1} << kPageShift;  // 16 KiB (DESIGN D2)
inline constexpr size_t kMinObjectSize = 16;
inline constexpr size_t kMaxSmallSize = 8192;  // half a page: above it, a page run wastes less
inline constexpr int kSizeClassCount = 30;
// Most objects a page can hold: 16 KiB of 16-byte objects.
inline constexpr size_t kMaxObjectsPerPage = kPageSize / kMinObjectSize;

struct SizeClass {
  uint32_t size;     // bytes per object
  uint32_t magic;    // offset * magic >> 32 == offset / size for every offset in a page
  uint16_t objects;  // objects per page
};

namespace internal {

// Sizes: 8-byte steps where pairs and small records live (24 bytes holds a pair), then about
// four classes per doubling; the largest classes cut a page into 6, 5, 4, 3 or 2 equal parts.
// A 24-byte object is only 8-aligned; no type of size 17-24 needs more.
inline constexpr uint32_t kSizes[kSizeClassCount] = {
    16,   24,   32,   48,   64,   80,   96,   112,  128,  160,  192,  224,  256,  320,  384,
    448,  512,  640,  768,  896,  1024, 1280, 1536, 1792, 2048, 2720, 3264, 4096, 5456, 8192};

constexpr std::array<SizeClass, kSizeClassCount> MakeClasses() {
  std::array<SizeClass, kSizeClassCount> out{};
  for (int i = 0; i < kSizeClassCount; ++i) {
    uint32_t size = kSizes[i];
    // floor(2^32 / size) + 1 makes offset * magic >> 32 exact for offsets below 2^14: the
    // error term offset * (magic - 2^32/size) / 2^32 stays under 1/size.
    uint32_t magic = static_cast<uint32_t>((uint64_t{1} << 32) / size + 1);
    out[i] = SizeClass{size, magic, static_cast<uint16_t>(kPageSize / size)};
  }
  return out;
}

constexpr std::array<uint8_t, (kMaxSmallSize >> 3) + 1> MakeLookup() {
  std::array<uint8_t, (kMaxSmallSize >> 3) + 1> out{};
  int cls = 0;
  for (size_t words = 0; words < out.size(); ++words) {
    while (kSizes[cls] < words * 8) ++cls;
    out[words] = static_cast<uint8_t>(cls);
  }
  return out;
}

}  // namespace internal

inline constexpr std::array<SizeClass, kSizeClassCount> kSizeClasses = internal::MakeClasses();
// Class index for each request size in 8-byte steps.
inline constexpr std::array<uint8_t, (kMaxSmallSize >> 3) + 1> kClassOfWords = internal::MakeLookup();

inline int SizeClassFor(size_t n) { return kClassOfWords[(n + 7) >> 3]; }

}  // namespace keel::gc

#endif  // KEEL_GC_SIZE_CLASSES_H
