// roots.cpp: stack bounds and switches, registered ranges, data segments, immobile boxes, pins
// (roots.h, docs/design/roots.md).
#include "gc/roots.h"

#include <link.h>
#include <pthread.h>

#include <algorithm>
#include <bit>
#include <new>
#include <utility>
#include <vector>

#include "gc/fatal.h"
#include "gc/heap.h"
#include "gc/variable_stack.h"
#include "gc/os_memory.h"
#include "gc/page.h"
#include "gc/tracer.h"

namespace keel::gc {

// A slab of immobile boxes. A live box holds the user's pointer; a free box holds the address of
// the next free box with bit 0 set, which no object start can equal (.sol.boxes).
struct Roots::BoxSlab {
  static constexpr size_t kBoxes = 510;  // the slab with its live mask fits in 4 KiB
  uintptr_t words[kBoxes];
  uint64_t live[(kBoxes + 63) / 64];
};

namespace {

// The calling thread's stack, [lowest address, base), from its pthread attributes.
Range ThreadStack() {
  pthread_attr_t attr;
  void* addr = nullptr;
  size_t size = 0;
  if (pthread_getattr_np(pthread_self(), &attr) != 0) return Range{0, 0};
  pthread_attr_getstack(&attr, &addr, &size);
  pthread_attr_destroy(&attr);
  auto lo = reinterpret_cast<uintptr_t>(addr);
  return Range{lo, lo + size};
}

bool Within(uintptr_t p, uintptr_t lo, uintptr_t hi) { return lo <= p && p < hi; }

// Racket asks for scheme_set_stack_bounds' end to lie about 50000 bytes above the real end of
// the stack, room for its overflow handling; a collection may still run there (.sol.bounds).
constexpr uintptr_t kStackEndMargin = 64 << 10;

// Marks a StackSwitch as pushed, so leaving with a stale or foreign record is caught.
constexpr uintptr_t kSwitchCheck = 0x6b65656c'73776974ull;

}  // namespace

Roots::Roots() : thread_(ThreadStack()) { current_ = StackBounds{thread_.lo, thread_.hi, false}; }

Roots::~Roots() {
  for (BoxSlab* s : box_slabs_) delete s;
}

// A base on the current stack keeps its low end, one on the thread's stack gets the thread's;
// anywhere else the low end is unknown (.sol.bounds).
void Roots::SetStackBase(void* base) {
  auto hi = reinterpret_cast<uintptr_t>(base);
  if (hi == 0) {
    current_ = StackBounds{thread_.lo, thread_.hi, false};
  } else if (current_.lo != 0 && current_.lo < hi && hi <= current_.hi) {
    current_.hi = hi;
  } else if (thread_.lo < hi && hi <= thread_.hi) {
    current_ = StackBounds{thread_.lo, hi, false};
  } else {
    current_ = StackBounds{0, hi, false};
  }
}

void Roots::SetStackBounds(void* base, void* end) {
  SetStackBase(base);
  auto lo = reinterpret_cast<uintptr_t>(end);
  if (lo == 0 || lo >= current_.hi) return;
  current_.lo = lo > kStackEndMargin ? lo - kStackEndMargin : 1;
  current_.exact = false;
}

// Which stack sp is on decides what is scanned (.sol.unknown-stack, .sol.impossible-base).
bool Roots::LiveStack(uintptr_t sp, Range* out) {
  const StackBounds& b = current_;
  if (b.exact || !Within(sp, thread_.lo, thread_.hi)) {
    bool inside = b.lo != 0 ? Within(sp, b.lo, b.hi) : sp < b.hi;
    if (!inside) return false;
    *out = Range{sp, b.hi};
    return true;
  }
  // On the thread's own stack, which is mapped from sp to its base whatever the bounds say.
  if (sp < b.hi && b.hi <= thread_.hi) {
    *out = Range{sp, b.hi};
    return true;
  }
  if (warned_base_ != b.hi) {
    warned_base_ = b.hi;
    Warn("impossible stack base %p (scheme_set_stack_base): %s the stack pointer %p, so no stack word would "
         "be a root; scanning this thread's stack up to its base %p instead",
         reinterpret_cast<void*>(b.hi), b.hi <= sp ? "it lies below" : "it is not on this thread's stack, which holds",
         reinterpret_cast<void*>(sp), reinterpret_cast<void*>(thread_.hi));
  }
  *out = Range{sp, thread_.hi};
  return true;
}

void** Roots::EnterStack(uintptr_t lo, uintptr_t hi, StackSwitch* s) {
  if (lo == 0 || hi <= lo) {
    Fatal("keel_gc_enter_stack: empty or inverted stack [%p, %p)", reinterpret_cast<void*>(lo), reinterpret_cast<void*>(hi));
  }
  Range live;
  if (!LiveStack(s->sp, &live)) {
    Fatal("keel_gc_enter_stack: called on a stack Keel does not know: stack pointer %p is outside [%p, %p)",
          reinterpret_cast<void*>(s->sp), reinterpret_cast<void*>(current_.lo), reinterpret_cast<void*>(current_.hi));
  }
  s->prev = switches_;
  s->suspended_bounds = current_;
  s->suspended = live;
  s->check = kSwitchCheck ^ reinterpret_cast<uintptr_t>(s);
  switches_ = s;
  current_ = StackBounds{lo, hi, true};
  // The entered stack's frames, not the suspended one's, are the chain from here on
  // (.sol.fiber-frames): a resumed fiber finds the chain it left.
  s->suspended_chain = GC_variable_stack;
  AddedStack* entered = AddedStackOverlapping(lo, hi);
  GC_variable_stack = entered != nullptr ? std::exchange(entered->chain, nullptr) : nullptr;
  return DropLeftChain();
}

void** Roots::LeaveStack(StackSwitch* s) {
  if (s != switches_ || s->check != (kSwitchCheck ^ reinterpret_cast<uintptr_t>(s))) {
    Fatal("keel_gc_leave_stack: %p is not the record of the most recent keel_gc_enter_stack still in force "
          "(leave stacks in the reverse order of entering them, once each)", static_cast<void*>(s));
  }
  // A fiber that yielded with frames registered keeps them as roots through its added stack
  // (.sol.fiber-frames); on a stack not added yet they wait for the next AddStack, untraced,
  // until the next switch.
  void** dropped = DropLeftChain();
  if (AddedStack* added = AddedStackOverlapping(current_.lo, current_.hi)) {
    added->chain = GC_variable_stack;
  } else if (GC_variable_stack != nullptr) {
    left_ = AddedStack{Range{current_.lo, current_.hi}, GC_variable_stack};
  }
  GC_variable_stack = s->suspended_chain;
  s->check = 0;
  current_ = s->suspended_bounds;
  switches_ = s->prev;
  return dropped;
}

Roots::AddedStack* Roots::AddedStackOverlapping(uintptr_t lo, uintptr_t hi) {
  for (AddedStack& a : stacks_) {
    if (a.range.Overlaps(lo, hi)) return &a;
  }
  return nullptr;
}

void Roots::AddStack(void* lo, void* hi) {
  const Range range{reinterpret_cast<uintptr_t>(lo), reinterpret_cast<uintptr_t>(hi)};
  void** chain = nullptr;
  if (left_.range.Overlaps(range.lo, range.hi)) chain = DropLeftChain();
  stacks_.push_back(AddedStack{range, chain});
}

bool Roots::RemoveStack(void* lo) {
  auto key = reinterpret_cast<uintptr_t>(lo);
  return std::erase_if(stacks_, [key](const AddedStack& a) { return a.range.lo == key; }) != 0;
}

void Roots::AddRange(const void* lo, const void* hi, bool unique, const char* who) {
  auto l = reinterpret_cast<uintptr_t>(lo);
  auto h = reinterpret_cast<uintptr_t>(hi);
  if (h <= l) Fatal("%s: empty or inverted range [%p, %p)", who, lo, hi);
  // A range with unmapped pages would crash the next collection with a bare SIGSEGV, far from
  // the call that registered it; say so here instead.
  uintptr_t hole = 0;
  if (!os::AllMapped(l, h, &hole)) {
    Fatal("%s: the range [%p, %p) is not mapped memory (nothing is mapped at %p)", who, lo, hi, reinterpret_cast<void*>(hole));
  }
  for (const Range& r : ranges_) {
    if (r.lo != l) continue;
    if (unique) Fatal("%s: address %p is already registered as a root (register each static once)", who, lo);
    if (r.hi >= h) return;
  }
  ranges_.push_back(Range{l, h});
}

void Roots::RemoveRanges(const void* lo, const void* hi) {
  auto l = reinterpret_cast<uintptr_t>(lo);
  auto h = reinterpret_cast<uintptr_t>(hi);
  std::erase_if(ranges_, [l, h](const Range& r) { return r.lo >= l && r.hi <= h; });
}

void** Roots::NewImmobileBox(void* p) {
  if (free_box_ == 0) {
    auto* slab = new BoxSlab;
    for (size_t i = 0; i < BoxSlab::kBoxes; ++i) {
      uintptr_t next = i + 1 < BoxSlab::kBoxes ? reinterpret_cast<uintptr_t>(&slab->words[i + 1]) : free_box_;
      slab->words[i] = next | 1;
    }
    std::fill(std::begin(slab->live), std::end(slab->live), 0);
    free_box_ = reinterpret_cast<uintptr_t>(&slab->words[0]);
    box_slabs_.push_back(slab);
  }
  auto* box = reinterpret_cast<uintptr_t*>(free_box_);
  free_box_ = *box & ~uintptr_t{1};
  BoxSlab* s = SlabHolding(reinterpret_cast<uintptr_t>(box));
  size_t i = static_cast<size_t>(box - s->words);
  s->live[i >> 6] |= uint64_t{1} << (i & 63);
  *box = reinterpret_cast<uintptr_t>(p);
  return reinterpret_cast<void**>(box);
}

void Roots::FreeImmobileBox(void** b) {
  // Compared as addresses, not as uintptr_t*: b may be misaligned, and only an exact box start
  // may be freed (anything else would put a misaligned box on the free list).
  auto addr = reinterpret_cast<uintptr_t>(b);
  if (BoxSlab* s = SlabHolding(addr)) {
    auto lo = reinterpret_cast<uintptr_t>(s->words);
    size_t i = (addr - lo) / sizeof(uintptr_t);
    if ((addr - lo) % sizeof(uintptr_t) != 0) {
      Fatal("scheme_free_immobile_box: %p is not the start of an immobile box (it points %zu bytes into box %p)",
            static_cast<void*>(b), static_cast<size_t>((addr - lo) % sizeof(uintptr_t)),
            static_cast<void*>(&s->words[i]));
    }
    uintptr_t* box = &s->words[i];
    uint64_t bit = uint64_t{1} << (i & 63);
    if ((s->live[i >> 6] & bit) == 0) {
      Fatal("scheme_free_immobile_box: immobile box %p is not allocated (freed twice?)", static_cast<void*>(b));
    }
    s->live[i >> 6] &= ~bit;
    *box = free_box_ | 1;
    free_box_ = reinterpret_cast<uintptr_t>(box);
    return;
  }
  Fatal("scheme_free_immobile_box: %p is not an immobile box of this place", static_cast<void*>(b));
}

bool Roots::HoldsBox(void** b) const { return SlabHolding(reinterpret_cast<uintptr_t>(b)) != nullptr; }

Roots::BoxSlab* Roots::SlabHolding(uintptr_t addr) const {
  for (BoxSlab* s : box_slabs_) {
    auto lo = reinterpret_cast<uintptr_t>(s->words);
    if (addr >= lo && addr < lo + sizeof s->words) return s;
  }
  return nullptr;
}

size_t Roots::live_boxes() const {
  size_t n = 0;
  for (const BoxSlab* s : box_slabs_) {
    for (uint64_t w : s->live) n += static_cast<size_t>(PopCount(w));
  }
  return n;
}

void Roots::Pin(void* p) { ++pins_[p]; }

void Roots::Unpin(void* p) {
  auto it = pins_.find(p);
  if (it == pins_.end()) {
    Fatal("scheme_gc_ptr_ok: %p is not pinned (no matching scheme_dont_gc_ptr)", p);
  }
  if (--it->second == 0) pins_.erase(it);
}

size_t Roots::pin_count(void* p) const {
  auto it = pins_.find(p);
  return it == pins_.end() ? 0 : it->second;
}

namespace {

struct SegmentScan {
  std::vector<Range>* out;
};

int CollectSegments(dl_phdr_info* info, size_t, void* data) {
  auto* scan = static_cast<SegmentScan*>(data);
  for (ElfW(Half) i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD || (ph.p_flags & PF_W) == 0) continue;
    uintptr_t lo = info->dlpi_addr + ph.p_vaddr;
    scan->out->push_back(Range{lo, lo + ph.p_memsz});
  }
  return 0;
}

int ReadLoaderCounters(dl_phdr_info* info, size_t size, void* data) {
  auto* counters = static_cast<unsigned long long*>(data);
  if (size >= offsetof(dl_phdr_info, dlpi_subs) + sizeof(info->dlpi_subs)) {
    counters[0] = info->dlpi_adds;
    counters[1] = info->dlpi_subs;
  }
  return 1;  // the counters are the same in every entry; one is enough
}

}  // namespace

void Roots::RefreshDataSegments() {
  unsigned long long counters[2] = {0, 0};
  dl_iterate_phdr(ReadLoaderCounters, counters);
  if (counters[0] == dl_adds_ && counters[1] == dl_subs_ && !data_segments_.empty()) return;
  data_segments_.clear();
  SegmentScan scan{&data_segments_};
  dl_iterate_phdr(CollectSegments, &scan);
  dl_adds_ = counters[0];
  dl_subs_ = counters[1];
}

void Roots::Trace(Tracer& t) {
  using Holder = Tracer::Holder;
  const bool heap_rule = t.heap_interior();
  // A moving tracer is a precise plan's: its roots are only what the program registered, so
  // stacks, saved registers and the data of loaded objects are not scanned (precise.md
  // .req.roots).
  const bool moves = t.moves_objects();
  if (!moves) {
    for (const AddedStack& a : stacks_) t.VisitWords(a.range.lo, a.range.hi, true, Holder::kRoot);
    for (const StackSwitch* s = switches_; s != nullptr; s = s->prev) {  // .sol.switch
      t.VisitWords(s->suspended.lo, s->suspended.hi, true, Holder::kRoot);
      t.VisitWords(reinterpret_cast<uintptr_t>(s->registers),
                   reinterpret_cast<uintptr_t>(s->registers + StackSwitch::kRegisters), true, Holder::kRoot);
    }
  }
  // The frames of suspended stacks are a moving tracer's roots (.sol.fiber-frames).
  if (moves) ForEachSuspendedChain([&t](void** chain) { TraceFrameChain(chain, t); });
  for (const Range& r : ranges_) {
    if (!moves) {
      t.VisitWords(r.lo, r.hi, heap_rule, Holder::kRoot);
      continue;
    }
    // Registered statics are slots to a moving tracer (.sol.statics).
    for (uintptr_t at = FirstAlignedWord(r.lo); at + sizeof(void*) <= r.hi; at += sizeof(void*)) {
      t.VisitSlot(reinterpret_cast<void**>(at), Holder::kRoot);
    }
  }
  if (auto_statics_ && owns_program_statics_ && !moves) {
    RefreshDataSegments();
    for (const Range& r : data_segments_) t.VisitWords(r.lo, r.hi, heap_rule, Holder::kRoot);
  }
  // A live box is a precise slot (.sol.boxes): a moving plan updates it when its target moves.
  for (BoxSlab* s : box_slabs_) {
    for (size_t w = 0; w < std::size(s->live); ++w) {
      for (uint64_t bits = s->live[w]; bits != 0; bits &= bits - 1) {
        const size_t i = w * 64 + static_cast<size_t>(std::countr_zero(bits));
        t.VisitSlot(reinterpret_cast<void**>(&s->words[i]), Holder::kRoot);
      }
    }
  }
  // A pin keeps its object alive: as a conservative word by the interior rule, or, for a moving
  // tracer, as a slot whose new address re-keys the pin (.sol.pins).
  if (!moves) {
    for (const auto& pin : pins_) {
      const auto at = reinterpret_cast<uintptr_t>(&pin.first);
      t.VisitWords(at, at + sizeof(void*), true, Holder::kRoot);
    }
    return;
  }
  std::vector<std::pair<void*, void*>> moved;
  for (const auto& pin : pins_) {
    void* slot = pin.first;
    t.VisitSlot(&slot, Holder::kRoot);
    if (slot != pin.first) moved.emplace_back(pin.first, slot);
  }
  for (const auto& [from, to] : moved) {
    auto node = pins_.extract(from);
    node.key() = to;
    pins_.insert(std::move(node));
  }
}

void TraceUncollectable(const Heap& heap, Tracer& t) {
  heap.ForEachInUse([&t](PageDesc& d) {
    if (!IsUncollectable(d.kind) || !IsPointerful(d.kind)) return;
    if (d.state == PageState::kBigHead) {
      if (d.IsAllocated(0)) t.VisitObject(d.start, d.start + d.big_bytes, d.kind, Tracer::Holder::kRoot);
      return;
    }
    for (uint32_t i = 0; i < d.objects; ++i) {
      const uintptr_t obj = d.ObjectStart(i);
      if (d.IsAllocated(i)) t.VisitObject(obj, obj + d.obj_size, d.kind, Tracer::Holder::kRoot);
    }
  });
}

}  // namespace keel::gc
