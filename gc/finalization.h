// finalization.h: a collector's finalizers, in Racket's two levels: will-like finalizers (level
// 1) run one at a time, before ordinary weak boxes clear; the registered finalizer and the added
// chain (level 2) after them, before late weak boxes clear; and bdwgc's finalizers with their
// four orders (level 3, after level 2). Design note: docs/design/weak.md (.sol.phases,
// .sol.finalizers, .sol.running, .sol.ordered).
#ifndef KEEL_GC_FINALIZATION_H
#define KEEL_GC_FINALIZATION_H

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <vector>

#include "gc/address_map.h"
#include "gc/tracer.h"

namespace keel::gc {

class Collector;

using FinalizerFn = void (*)(void* p, void* data);

// bdwgc's finalizer modes (the boehm_gc crate's FinalizerMode), weak.md .sol.ordered.
enum class FinalizerOrder : uint8_t {
  kOrdered,     // GC_register_finalizer: not while another unreached finalizable object reaches it
  kIgnoreSelf,  // _ignore_self: the same, but pointers from the object to itself do not count
  kNoOrder,     // _no_order: whatever reaches it; cycles are finalized too
  kUnreachable  // _unreachable: ordered, and not while a _no_order object reaches it either
};

// One call to make: fn(object, data).
struct FinalizerCall {
  FinalizerFn fn = nullptr;
  void* object = nullptr;
  void* data = nullptr;
};

// Owned by a collector; touched only on its thread. Every finalizable object has one record:
// its registered finalizer (one slot), the added chain and the will-like finalizers (newest
// first, as Racket keeps them). A record is young while its object or its data may be young;
// a collection after which every survivor is old moves the records it looked at to the old
// list, which only major collections look at again (.sol.finalizers).
class Finalization {
 public:
  Finalization();
  ~Finalization();
  Finalization(const Finalization&) = delete;
  Finalization& operator=(const Finalization&) = delete;

  // The object's registered finalizer becomes f with data (f NULL: none); the previous one goes
  // to *oldf and *olddata where they are not NULL.
  void Register(void* p, FinalizerFn f, void* data, FinalizerFn* oldf, void** olddata);
  // Adds (f, data) to the front of the object's chain (`once`: unless the pair is in it).
  void Add(void* p, FinalizerFn f, void* data, bool once);
  // Removes (f, data) from the chain, if there.
  void Subtract(void* p, FinalizerFn f, void* data);
  // Adds a will-like finalizer (`once`: unless the pair is one of its wills already).
  void AddWill(void* p, FinalizerFn f, void* data, bool once);
  // Drops every finalizer of p (bdwgc's too).
  void RemoveAll(void* p);
  // bdwgc's one finalizer of p (f NULL: none), with its order; the previous one goes to *oldf,
  // *olddata where they are not NULL.
  void RegisterOrdered(void* p, FinalizerFn f, void* data, FinalizerOrder order, FinalizerFn* oldf, void** olddata);

  // --- during a collection ---------------------------------------------------------------------
  // With the roots: the data of the records this collection looks at, and the objects and data
  // of the calls waiting to run, which stay alive (and followed) until they run.
  void TraceRoots(Tracer& t, bool major);
  // After the drain: every record of `level` (1 or 2) this collection looks at whose object was
  // not reached becomes ready, and its object, resurrected, is traced with what it reaches.
  void ReadyUnreached(Collector& c, Tracer& t, int level, bool major);
  // Level 3, after level 2: bdwgc's finalizers in their orders (.sol.ordered). `drain` drains
  // the tracer and runs the ephemeron fixpoint.
  void ReadyOrdered(Collector& c, Tracer& t, bool major, const std::function<void()>& drain);
  // After the last level: the looked-at records follow their objects (3m), and move to the old
  // list when `all_old`.
  void Settle(Collector& c, bool major, bool all_old);

  // --- after a collection ------------------------------------------------------------------------
  // Takes the next call to make, in the order the records became ready; the record is
  // registered again when it has finalizers left (.sol.running). False when none waits.
  // `ordered_too`: bdwgc's calls as well, after Racket's (without it they wait for
  // TakeOrderedCall: GC_set_finalize_on_demand).
  bool TakeCall(FinalizerCall* out, bool ordered_too);
  bool TakeOrderedCall(FinalizerCall* out);
  // At exit, with keel_gc_finalize_all_on_exit (.sol.exit): every record, reached or not,
  // becomes ready (bdwgc's on their own queue), outside any collection.
  void ReadyAll();
  // Calls taken since the collector began (the exit path's measure of progress).
  uint64_t calls_taken() const { return calls_taken_; }
  size_t waiting() const { return ready_.size() + ordered_ready_.size(); }
  size_t ordered_waiting() const { return ordered_ready_.size(); }
  size_t records() const { return index_.size(); }

  struct Record;  // one object's finalizers (finalization.cpp)

 private:
  Record* Find(void* p) const;
  Record* FindOrMake(void* p);
  // Records come from slabs and go back to a free list: no allocation per registration.
  Record* NewRecord();
  void FreeRecord(Record* r);
  // Sets one of p's single finalizers (`slot`: the registered or bdwgc's), giving back the
  // previous one; the record, or nullptr when p has none left.
  template <class Slot>
  Record* Replace(void* p, Slot slot, FinalizerFn f, void* data, FinalizerFn* oldf, void** olddata);
  // Puts a record that changed back on the young list (its data may be young).
  void MakeYoung(Record* r);
  // Visits what the object holds without marking it (kIgnoreSelf: not its pointers to itself).
  void MarkContents(Collector& c, Tracer& t, Record* r);
  void MakeReady(Tracer& t, Record* r, std::deque<Record*>& queue);
  // Counts r among the records that have had Racket's finalizers (levels 1 and 2).
  void MarkRacket(Record* r);
  void Forget(Record* r);

  std::vector<Record*> young_;
  std::vector<Record*> old_;
  std::deque<Record*> ready_;  // reached by no root at their level; their calls wait
  std::deque<Record*> ordered_ready_;  // the same for bdwgc's finalizers
  AddressMap<Record> index_;  // by object address
  std::vector<std::unique_ptr<Record[]>> slabs_;
  std::vector<Record*> free_records_;
  // Records that have had Racket's finalizers: while none has, the level-1 and level-2 passes
  // have nothing to look at (a program that only uses bdwgc's finalizers).
  size_t racket_records_ = 0;
  uint64_t calls_taken_ = 0;
};

}  // namespace keel::gc

#endif  // KEEL_GC_FINALIZATION_H
