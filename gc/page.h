// page.h: the page descriptor. Every 16 KiB heap page has one, outside the page, reached through
// the page map (page_map.h). Design note: docs/design/heap.md (.sol.desc, .inv.bits).
#ifndef KEEL_GC_PAGE_H
#define KEEL_GC_PAGE_H

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>

#include "gc/kind.h"
#include "gc/size_classes.h"

namespace keel::gc {

// Set bits of a word, in a handful of inline instructions. std::popcount compiles to a call
// into libgcc (__popcountdi2) for the x86-64 baseline Debian builds for, which has no POPCNT;
// the sweep counts bits of every page it visits.
inline unsigned PopCount(uint64_t x) {
  x = x - ((x >> 1) & 0x5555555555555555ull);
  x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
  x = (x + (x >> 4)) & 0x0F0F0F0F0F0F0F0Full;
  return static_cast<unsigned>((x * 0x0101010101010101ull) >> 56);
}

class Collector;
struct Chunk;

enum class PageState : uint8_t {
  kFree = 0,   // in its chunk's free set; bits all zero
  kSmall,      // holds objects of one size class and kind
  kBigHead,    // first page of a big object's run; the descriptor of the whole run
  kBigTail,    // a later page of a run; the page map points at the head's descriptor instead
  kNursery,    // first page of a nursery's run (docs/design/precise.md .sol.nursery); its later
               // pages are kBigTail
};

inline constexpr size_t kBitmapWords = kMaxObjectsPerPage / 64;

// Per-object state in three bits (docs/design/heap.md .inv.bits):
//   alloc mark age
//     0    0    0   free slot
//     1    0    0   allocated since the last collection (young), not yet proven live
//     1    0    1   survived one minor collection, still young (aged: .sol.age)
//     0    1    0   old: survived a major collection or two minor ones
//     1    1    0   while marking: young, proven live (a minor collection ages it)
//     1    1    1   while marking a minor collection: aged and proven live (it becomes old)
// Words are interleaved so a lookup touches one cache line for all three.
struct SlotBits {
  uint64_t alloc;
  uint64_t mark;
  uint64_t age;
};

// One page (kSmall) or one big object's page run (kBigHead). Owned by the collector whose
// chunk holds it; only that collector's thread changes it. Other threads find descriptors of
// pages they do not own through the page map (a stack word pointing into another thread's heap,
// a write fault, GC_base): they read `owner` alone, atomically, and go no further unless it is
// their own collector. Descriptors are type-stable (docs/design/heap.md .sol.type-stable): a
// descriptor's memory is never freed, only reused for another page, so such a read never
// touches freed memory. Hot marking fields come first.
struct PageDesc {
  uintptr_t start = 0;      // first byte of the page or run
  uint32_t obj_size = 0;    // small: class size; big: the object's rounded size
  uint32_t magic = 0;       // small: reciprocal of obj_size (size_classes.h)
  uint16_t objects = 0;     // objects the page holds (1 for a big run, 0 when free)
  Kind kind = Kind::kNormal;
  PageState state = PageState::kFree;
  uint8_t size_class = 0;
  bool needs_zeroing = false;  // free slots may hold stale bytes (not fresh from the OS)
  bool young_listed = false;   // on the collector's list of pages allocated into this cycle
  bool refilled = false;       // small: the allocator claimed free slots among old objects this cycle
  bool on_partial = false;     // small: on its class's partial list
  uint16_t scan_cursor = 0;    // small: where the allocator looks for the next free run
  uint32_t run_pages = 0;      // big: pages in the run
  uint64_t big_bytes = 0;      // big: the object's size (rounded to 16 bytes)
  uint16_t live_objects = 0;   // small: marked objects after the last sweep
  // small, during a compacting major collection: the page is evacuated, and entry i is where
  // object i was copied (0: not yet reached). nullptr otherwise (precise.md .sol.compact).
  uintptr_t* forward = nullptr;
  // The owning collector; nullptr while the descriptor describes no mapped page. Stored with
  // release before the page map points at the descriptor, cleared after the map stops doing so.
  std::atomic<Collector*> owner{nullptr};
  Chunk* chunk = nullptr;  // the chunk record holding the descriptor: fixed for its lifetime
  PageDesc* next = nullptr;  // partial-page list or big-object list
  PageDesc* prev = nullptr;  // partial-page list or big-object list
  SlotBits bits[kBitmapWords] = {};

  Collector* Owner() const { return owner.load(std::memory_order_acquire); }
  // Back to the state of a fresh descriptor (a reused chunk record), owner and chunk aside.
  void Recycle();

  uintptr_t end() const { return start + (state == PageState::kSmall ? kPageSize : size_t{run_pages} << kPageShift); }
  // Index of the object holding `offset` bytes into a small page.
  uint32_t IndexOf(uintptr_t offset) const {
    return static_cast<uint32_t>((static_cast<uint64_t>(offset) * magic) >> 32);
  }
  uintptr_t ObjectStart(uint32_t index) const { return start + uintptr_t{index} * obj_size; }

  // Whether a is one past the end of an allocated allow-interior object of this page (small or
  // big): such a pointer keeps the object (docs/design/marking.md .sol.interior).
  bool IsEndOfInteriorObject(uintptr_t a) const {
    if (!AllowsInterior(kind) || a <= start) return false;
    if (state == PageState::kSmall) {
      const uint32_t last = IndexOf(a - 1 - start);  // the slot holding the byte before a
      return last < objects && ObjectStart(last) + obj_size == a && IsAllocated(last);
    }
    return state == PageState::kBigHead && start + big_bytes == a && IsAllocated(0);
  }

  bool IsAllocated(uint32_t i) const {
    const SlotBits& b = bits[i >> 6];
    return ((b.alloc | b.mark) >> (i & 63)) & 1;
  }
  bool IsMarked(uint32_t i) const { return (bits[i >> 6].mark >> (i & 63)) & 1; }
  bool IsAged(uint32_t i) const { return (bits[i >> 6].age >> (i & 63)) & 1; }
  // Sets the mark bit; returns true when it was clear.
  bool TestAndMark(uint32_t i) {
    uint64_t bit = uint64_t{1} << (i & 63);
    uint64_t& m = bits[i >> 6].mark;
    if (m & bit) return false;
    m |= bit;
    return true;
  }
  size_t CountMarked() const {
    size_t n = 0;
    for (const SlotBits& b : bits) n += static_cast<size_t>(PopCount(b.mark));
    return n;
  }
  size_t CountAged() const {
    size_t n = 0;
    for (const SlotBits& b : bits) n += static_cast<size_t>(PopCount(b.age));
    return n;
  }
  size_t CountAllocated() const {
    size_t n = 0;
    for (const SlotBits& b : bits) n += static_cast<size_t>(PopCount(b.alloc | b.mark));
    return n;
  }
  void ClearBits() {
    for (SlotBits& b : bits) b = SlotBits{0, 0, 0};
  }
  // Sets alloc bits [from, to).
  void SetAllocRange(uint32_t from, uint32_t to);
  void ClearAllocRange(uint32_t from, uint32_t to);
  // The minor-collection sweep of this page's bits (docs/design/heap.md .inv.bits): marked young
  // objects age (or, when `ages` is false, become old at once), marked aged objects become old,
  // unmarked young and aged objects are freed.
  struct MinorCounts {
    uint32_t old;             // old objects after the sweep
    uint32_t aged;            // young objects that survived and were aged
    uint32_t promoted;        // objects that became old in this sweep
    uint32_t aged_survivors;  // of those, the ones that were aged before it
  };
  MinorCounts SweepMinor(bool ages);
  // Finds the next run of free slots at or after `from`; returns false when none.
  bool NextFreeRun(uint32_t from, uint32_t* run_begin, uint32_t* run_end) const;
};

}  // namespace keel::gc

#endif  // KEEL_GC_PAGE_H
