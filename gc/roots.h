// roots.h: a collector's root set: the stacks it scans, registered static ranges, the data and
// bss of every loaded object, immobile boxes and pinned pointers. Design note:
// docs/design/roots.md (.sol.stacks, .sol.statics, .sol.boxes, .sol.pins).
#ifndef KEEL_GC_ROOTS_H
#define KEEL_GC_ROOTS_H

#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <vector>

namespace keel::gc {

class Marker;

struct Range {
  uintptr_t lo;
  uintptr_t hi;
};

// Owned by its collector; used only on the collector's thread.
class Roots {
 public:
  Roots();
  ~Roots();
  Roots(const Roots&) = delete;
  Roots& operator=(const Roots&) = delete;

  // --- stacks (docs/design/roots.md .sol.stacks) -----------------------------------------------
  // The deepest address of the calling thread's stack that may hold a pointer ("base": stacks
  // grow down, so the highest address). Set from pthread attributes at creation.
  void SetStackBase(void* base) { stack_base_ = reinterpret_cast<uintptr_t>(base); }
  uintptr_t stack_base() const { return stack_base_; }
  void SetStackLimit(void* limit) { stack_limit_ = reinterpret_cast<uintptr_t>(limit); }
  uintptr_t stack_limit() const { return stack_limit_; }
  // Other suspended stacks to scan as a whole (green threads come later); [lo, hi).
  void AddStack(void* lo, void* hi);
  void RemoveStack(void* lo);

  // --- static ranges ----------------------------------------------------------------------------
  // Registers [lo, hi) as a root. `unique`: abort if a range starting at lo is already
  // registered (scheme_register_static's rule); otherwise a duplicate is ignored.
  void AddRange(const void* lo, const void* hi, bool unique, const char* who);
  // Removes every registered range that lies inside [lo, hi) (GC_remove_roots).
  void RemoveRanges(const void* lo, const void* hi);
  void ClearRanges() { ranges_.clear(); }
  // Whether the data and bss of the program and its shared objects are scanned.
  void set_auto_statics(bool on) { auto_statics_ = on; }
  bool auto_statics() const { return auto_statics_; }

  // --- immobile boxes ---------------------------------------------------------------------------
  void** NewImmobileBox(void* p);
  void FreeImmobileBox(void** box);  // aborts on a box that is not live

  // --- pins (scheme_dont_gc_ptr, reference counted) ---------------------------------------------
  void Pin(void* p);
  void Unpin(void* p);  // aborts when p is not pinned
  size_t pin_count(void* p) const;

  // Scans every root but the current stack and the uncollectable objects (the marker does
  // those), with each source's interior-pointer rule.
  void Trace(Marker& m);

 private:
  void RefreshDataSegments();

  uintptr_t stack_base_ = 0;
  uintptr_t stack_limit_ = 0;
  std::vector<Range> stacks_;
  std::vector<Range> ranges_;
  bool auto_statics_ = true;
  std::vector<Range> data_segments_;
  unsigned long long dl_adds_ = ~0ull;  // loader counters when data_segments_ was built
  unsigned long long dl_subs_ = ~0ull;

  struct BoxSlab;
  std::vector<BoxSlab*> box_slabs_;
  uintptr_t free_box_ = 0;  // tagged free-list head (docs/design/roots.md .sol.boxes)

  std::unordered_map<void*, size_t> pins_;
};

}  // namespace keel::gc

#endif  // KEEL_GC_ROOTS_H
