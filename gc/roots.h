// roots.h: a collector's root set: the stacks it scans, registered static ranges, the data and
// bss of every loaded object, immobile boxes and pinned pointers. Design note:
// docs/design/roots.md (.sol.stacks, .sol.bounds, .sol.switch, .sol.statics, .sol.boxes, .sol.pins).
#ifndef KEEL_GC_ROOTS_H
#define KEEL_GC_ROOTS_H

#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <utility>
#include <vector>

namespace keel::gc {

class Heap;
class Tracer;

struct Range {
  uintptr_t lo;
  uintptr_t hi;
  bool Overlaps(uintptr_t l, uintptr_t h) const { return lo < h && l < hi; }
};

// Owned by its collector; used only on the collector's thread.
class Roots {
 public:
  Roots();
  ~Roots();
  Roots(const Roots&) = delete;
  Roots& operator=(const Roots&) = delete;

  // --- stacks (docs/design/roots.md .sol.stacks, .sol.bounds, .sol.switch) ---------------------
  // The bounds of the stack the thread runs on: [lo, hi), growing down from hi, the base (one
  // past the deepest word that may hold a pointer). lo == 0: unknown. `exact`: set by
  // keel_gc_enter_stack, so a collection must run inside them (.sol.bounds).
  struct StackBounds {
    uintptr_t lo = 0;
    uintptr_t hi = 0;
    bool exact = false;
  };
  const StackBounds& stack_bounds() const { return current_; }
  uintptr_t stack_base() const { return current_.hi; }
  // The thread's own stack, from pthread attributes when the Roots were made ({0, 0} if unknown).
  Range thread_stack() const { return thread_; }
  // scheme_set_stack_base: a new base; nullptr means the thread's own. The low end stays known
  // when the base lies on the current stack or on the thread's (.sol.bounds).
  void SetStackBase(void* base);
  // scheme_set_stack_bounds: base and end (nullptr end: as SetStackBase). The end is Racket's
  // overflow mark, not the real end; a margin below it still counts as this stack.
  void SetStackBounds(void* base, void* end);
  // Puts back bounds read from stack_bounds() (scheme_main_stack_setup on return).
  void RestoreStackBounds(const StackBounds& b) { current_ = b; }
  // The part of the current stack that a collection (or a switch) with stack pointer sp must
  // scan, [sp, base), in *out. Warns once per base, and scans to the thread stack's base instead,
  // when the base is impossible (.sol.impossible-base). False when sp lies on no stack Keel
  // knows (.sol.unknown-stack).
  bool LiveStack(uintptr_t sp, Range* out);

  // Switching stacks (keel_gc_enter_stack / keel_gc_leave_stack, .sol.switch). The record lives
  // in the caller's keel_gc_stack_switch; its registers and sp are filled in before EnterStack.
  struct StackSwitch {
    static constexpr size_t kRegisters = 12;  // callee-saved general registers: 6 on x86-64, 11 on AArch64
    uintptr_t registers[kRegisters];          // as they were at keel_gc_enter_stack
    uintptr_t sp;                             // the caller's stack pointer then
    StackSwitch* prev;                        // the switch in force before this one
    StackBounds suspended_bounds;             // the bounds in force before (the suspended stack's)
    Range suspended;                          // the suspended stack's live part, scanned meanwhile
    void** suspended_chain;                   // the suspended stack's GC_variable_stack (.sol.fiber-frames)
    uintptr_t check;                          // kSwitchCheck ^ this while pushed
  };
  // Pushes s and makes [lo, hi) the current stack; aborts on bad bounds or an unknown stack.
  // The thread's GC_variable_stack becomes the chain an added stack overlapping [lo, hi) kept
  // when it was last left, or empty; the suspended one is kept in s (.sol.fiber-frames).
  // Returns the frames dropped (see LeaveStack), or nullptr.
  void** EnterStack(uintptr_t lo, uintptr_t hi, StackSwitch* s);
  // Pops s, which must be the most recent switch, and puts its bounds back. The chain left on
  // the stack being left is kept by the added stack that overlaps it; if none does, by the
  // next AddStack if it comes before the next switch, and otherwise it is dropped. s's
  // suspended chain becomes the thread's GC_variable_stack again. Returns the frames dropped,
  // or nullptr: those of the previously left stack that no AddStack took.
  void** LeaveStack(StackSwitch* s);

  // Other suspended stacks to scan as a whole (keel_gc_add_stack; green threads later); [lo, hi).
  // Takes the frames of the stack just left when [lo, hi) overlaps it (.sol.fiber-frames).
  void AddStack(void* lo, void* hi);
  // False when no stack starting at lo is registered.
  bool RemoveStack(void* lo);
  // Forgets every stack but the running one's bounds: switches and added stacks (the thread
  // that owned them has exited, heap.md .sol.orphans).
  void ForgetStacks() {
    switches_ = nullptr;
    stacks_.clear();
    left_ = AddedStack{};
  }

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
  // Whether the program's data is this collector's to scan at all (docs/design/places.md
  // .sol.statics): a place that did not claim it scans only the ranges it registered.
  void set_owns_program_statics(bool on) { owns_program_statics_ = on; }
  bool owns_program_statics() const { return owns_program_statics_; }

  // --- immobile boxes ---------------------------------------------------------------------------
  void** NewImmobileBox(void* p);
  void FreeImmobileBox(void** box);  // aborts on a box that is not live
  // Whether `box` points into one of this collector's box slabs.
  bool HoldsBox(void** box) const;
  size_t live_boxes() const;

  // --- pins (scheme_dont_gc_ptr, reference counted) ---------------------------------------------
  void Pin(void* p);
  void Unpin(void* p);  // aborts when p is not pinned
  size_t pin_count(void* p) const;
  size_t pinned() const { return pins_.size(); }
  template <class F>
  void ForEachPin(F&& f) const {
    for (const auto& pin : pins_) f(pin.first);
  }

  // Visits every root but the current stack and the uncollectable objects (the plan does
  // those), with each source's interior-pointer rule: live boxes as slots, the rest as words.
  // A moving tracer gets the registered roots only, all as slots: ranges, boxes and pins, and
  // the frame chains of suspended stacks (no stacks, saved registers or data segments;
  // precise.md .req.roots).
  void Trace(Tracer& t);
  // Calls f(void** chain) for every non-empty GC_variable_stack chain of a suspended stack: the
  // switches' and the added stacks' (.sol.fiber-frames). The current chain is not among them.
  template <class F>
  void ForEachSuspendedChain(F&& f) const {
    for (const StackSwitch* s = switches_; s != nullptr; s = s->prev) {
      if (s->suspended_chain != nullptr) f(s->suspended_chain);
    }
    for (const AddedStack& a : stacks_) {
      if (a.chain != nullptr) f(a.chain);
    }
  }

 private:
  void RefreshDataSegments();

  Range thread_{0, 0};
  StackBounds current_;
  uintptr_t warned_base_ = 0;  // the impossible base last warned about
  StackSwitch* switches_ = nullptr;
  struct AddedStack {
    Range range;
    void** chain;  // its GC_variable_stack when it was last left, until it is entered again
  };
  // The added stack overlapping [lo, hi), or nullptr.
  AddedStack* AddedStackOverlapping(uintptr_t lo, uintptr_t hi);
  // Forgets the frames of the stack last left (returned) unless an AddStack took them.
  void** DropLeftChain() { return std::exchange(left_.chain, nullptr); }
  std::vector<AddedStack> stacks_;
  AddedStack left_{};  // the stack last left with frames on it that no added stack keeps
  std::vector<Range> ranges_;
  bool auto_statics_ = true;
  bool owns_program_statics_ = true;
  std::vector<Range> data_segments_;
  unsigned long long dl_adds_ = ~0ull;  // loader counters when data_segments_ was built
  unsigned long long dl_subs_ = ~0ull;

  struct BoxSlab;
  // The slab whose boxes cover byte address addr, or nullptr.
  BoxSlab* SlabHolding(uintptr_t addr) const;
  std::vector<BoxSlab*> box_slabs_;
  uintptr_t free_box_ = 0;  // tagged free-list head (docs/design/roots.md .sol.boxes)

  std::unordered_map<void*, size_t> pins_;
};

// Uncollectable objects carry no mark bit: their contents are roots of every plan, visited as
// whole objects (Tracer::VisitObject).
void TraceUncollectable(const Heap& heap, Tracer& t);

}  // namespace keel::gc

#endif  // KEEL_GC_ROOTS_H
