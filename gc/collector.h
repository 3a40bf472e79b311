// collector.h: one collector instance: its heap, plan (spaces and allocation fast path),
// generations, roots, policy and records, and the prologue and epilogue every collection
// shares. The calling thread's instance is reached through one thread-local pointer (DESIGN
// D1); nothing here is a process singleton, so tests create and destroy instances freely.
// Design notes: docs/design/heap.md (.sol.spaces), docs/design/marking.md, docs/design/roots.md.
#ifndef KEEL_GC_COLLECTOR_H
#define KEEL_GC_COLLECTOR_H

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "gc/barrier.h"
#include "gc/disappearing_links.h"
#include "gc/ephemerons.h"
#include "gc/finalization.h"
#include "gc/generations.h"
#include "gc/heap.h"
#include "gc/kind.h"
#include "gc/mark_stack.h"
#include "gc/master.h"
#include "gc/page.h"
#include "gc/plan.h"
#include "gc/policy.h"
#include "gc/registry.h"
#include "gc/roots.h"
#include "gc/space.h"
#include "gc/stats.h"
#include "gc/weak_arrays.h"
#include "gc/weak_boxes.h"
#include "keel_gc.h"

namespace keel::gc {

class Marker;
class MasterMarks;

class Collector {
 public:
  // The calling thread's collector, created (with the thread's stack as its stack) on first use.
  static Collector& Current() {
    Collector* c = t_current_;
    return c != nullptr ? *c : CreateCurrent();
  }
  static Collector* CurrentOrNull() { return t_current_; }
  // The calling thread's collector for the scheme_* functions, which run only on a thread
  // attached to a place (docs/design/places.md .sol.attach): a place's or, before
  // scheme_basic_env, the master. The process's main thread is attached implicitly, as the
  // initial place, at its first call; any other thread attached to no place stops the program
  // with a message naming `who` and what to do.
  static Collector& CurrentPlace(const char* who) {
    Collector* c = t_current_;
    if (c != nullptr && c->label_.role() != CollectorRole::kThread) [[likely]] return *c;
    return AttachImplicitly(who);
  }
  // Attaches the calling thread to a place of its own (keel_thread_attach, the stack-setup
  // functions): its gc.h collector, if it has one, becomes the place's, with what it holds.
  // Returns the place's collector; a thread already attached keeps its place.
  static Collector& AttachCurrentThread();
  // Destroys the calling thread's collector and every object it allocated.
  static void DestroyCurrent();
  // On thread exit: a last collection without the dying stack, then the collector is destroyed,
  // or, when memory documented to outlive collections is still held (uncollectable objects,
  // immobile boxes, pins, and what they reach), handed to the orphanage (docs/design/heap.md
  // .sol.orphans).
  static void RetireCurrent();

  // --- the master collector (docs/design/places.md .sol.master) -------------------------------
  // The process's master collector: `on_this_thread`, the calling thread's collector until
  // SwitchOutMaster (scheme_main_stack_setup on a thread without one); otherwise a collector of
  // no thread. Its objects never move.
  static Collector& CreateMaster(bool on_this_thread);
  // scheme_basic_env, on the master's thread: a last collection with the thread's stack, then
  // the master serves no thread: its pages stay unprotected, it collects only in master
  // collections, and the thread has no collector until it attaches to its initial place.
  void SwitchOutMaster();
  // A master collection's parts on the master (master.cpp): Begin before any place marks,
  // Finish (mark from the master's own roots, keep what the places marked, sweep) after all have,
  // Abandon instead when a place could not mark (everything stays).
  void BeginExternalMajor();
  void FinishExternalMajor();
  void AbandonExternalMajor();
  // A place's part in a master collection: a major collection of its own whose trace marks the
  // master objects it reaches through `marks`. False when this collector cannot collect now
  // (collection disabled, inside a collection, an orphan).
  bool CollectForMaster(MasterMarks& marks);
  // During a place's part in a master collection: where its trace reports words that lie
  // outside its heap; nullptr otherwise.
  MasterMarks* master_marks() const { return master_marks_; }
  // The shared objects this place refers to, for the master collections it sits out in a
  // blocking section (master.h, places.md .sol.blocking); changed only on the place's thread.
  MasterRefs& master_refs() { return master_refs_; }
  const MasterRefs& master_refs() const { return master_refs_; }
  // Whether the place is between keel_place_blocking_begin and keel_place_blocking_end; set by
  // master.cpp under its lock.
  bool blocking() const { return blocking_; }
  void set_blocking(bool on) { blocking_ = on; }
  // Whether collections scan a thread's stack and frames: not for an orphan, whose thread has
  // exited, nor for the master once it serves no thread.
  bool scans_thread() const { return !orphan_ && !detached_; }

  Collector(const Collector&) = delete;
  Collector& operator=(const Collector&) = delete;

  // --- allocation -----------------------------------------------------------------------------
  // Memory for `bytes` bytes of `kind`; zeroed unless the kind is atomic. nullptr when memory
  // cannot be had (the caller decides between NULL, the OOM function and an escape).
  void* Allocate(size_t bytes, Kind kind) {
    if (void* p = plan_.AllocateInline(bytes, kind)) [[likely]] return p;
    return AllocateSlow(bytes, kind);
  }
  // The atomic object of `bytes` bytes that a loose run holds (Heap::TakeLooseRun): the run
  // joins this heap whole, nothing copied (docs/design/places.md .sol.adopt). nullptr when the
  // heap cannot record one more chunk; the run stays loose then.
  void* AdoptLooseRun(void* start, size_t bytes);
  // Frees an object explicitly (GC_free). Aborts with a message on a pointer that is not the
  // start of a live object of this collector.
  void Free(void* p, const char* who);
  // Frees p whether the calling thread's collector or an exited thread's (an orphan) holds it.
  static void FreeAnywhere(void* p, const char* who);
  // The start of the object holding p (interior pointers included), or nullptr.
  void* BaseOf(const void* p) const;
  // Usable bytes of the object starting at p; 0 if p is not an object start.
  size_t SizeOf(const void* p) const;
  // Whether p is one past the end of an allocated allow-interior object of this heap (on the
  // object's last page, or the first byte of the page after it), which keeps the object.
  bool IsEndOfInteriorObject(const void* p) const;
  // The kind of the object holding p; false if p is not in this collector's heap.
  bool KindOf(const void* p, Kind* kind) const;
  bool IsHeapAddress(const void* p) const;

  // --- collection -----------------------------------------------------------------------------
  // A major (full) collection, unless collection is disabled.
  void Collect(keel_gc_reason reason);
  // A minor collection where the barrier allows one (a major one otherwise).
  void CollectMinor();
  // For the plan's allocation slow path: collects when `upcoming` more bytes would take the
  // allocation past the policy's trigger (docs/design/barrier.md .sol.policy).
  void CollectIfDue(size_t upcoming);
  // For the plan's allocation slow path when the heap has no pages to give: a major collection
  // if one may run now. Returns whether it ran.
  bool CollectForHeapLimit();
  // For a moving plan's slow path when its nursery is full: a collection (minor unless the
  // policy makes it major) if one may run now. Returns whether it ran.
  bool CollectWhenFull();
  void Disable() { ++disabled_; }
  // Returns false when called more often than Disable.
  bool Enable();
  bool disabled() const { return disabled_ > 0; }
  bool in_collection() const { return in_collection_; }

  // Weak references held by runtime tables: run after marking and before sweeping; the callback
  // may consult IsMarked and drop entries. It must not allocate.
  using WeakCallback = void (*)(Collector& c, void* data);
  void AddWeakCallback(WeakCallback fn, void* data);
  void RemoveWeakCallback(WeakCallback fn, void* data);
  // During a weak callback: whether the object holding p survives (non-heap addresses do).
  bool IsMarked(const void* p) const;
  // Whether p is the start of an allocated object of this collector's heap.
  bool IsObjectStart(const void* p) const;
  // The end and kind of the object starting at p (false if p starts none).
  bool ObjectExtent(const void* p, uintptr_t* end, Kind* kind) const;
  // During a weak callback: where the object at p lives after this collection (3m moves
  // objects; p itself otherwise).
  void* Forwarded(void* p) const { return plan_.Forwarded(p); }
  // During a collection: stores v into a heap slot of this collector's, opening its page first
  // if the barrier protects it, without marking it written (precise.md .sol.own-writes).
  void StoreDuringCollection(void** slot, void* v);

  // The runtime's GC callbacks (scheme_add_gc_callback; docs/design/ffi.md .sol.gc-callbacks):
  // hook(c, data, false) runs at the start of every collection of this collector, minor or
  // major, before anything is marked; hook(c, data, true) once the heap is consistent again,
  // before finalizers run. Both on the collecting thread, only while the collector serves one.
  // Inside, allocating past the thread's buffer or collecting stops the program with a message.
  using CollectionHook = void (*)(Collector& c, void* data, bool after);
  void SetCollectionHook(CollectionHook hook, void* data) {
    collection_hook_ = hook;
    collection_hook_data_ = data;
  }

  // The weak boxes (docs/design/weak.md .sol.boxes): `box` has a WeakBoxLayout and its value is
  // set; from now on each collection clears the value once nothing else keeps it, before the
  // level-2 finalizers (`late`: after them), and updates it when it moves.
  void AddWeakBox(void* box, bool late) { weak_boxes_.Add(box, late); }
  size_t weak_boxes() const { return weak_boxes_.size(); }
  // The weak arrays (weak.md .sol.arrays): `array` has a WeakArrayLayout, count, replacement
  // value and slots set; from now on each collection, minor or major, replaces the slots whose
  // objects nothing else keeps, with the ordinary weak boxes, and updates those that move.
  void AddWeakArray(void* array) { weak_arrays_.Add(array); }
  size_t weak_arrays() const { return weak_arrays_.size(); }
  // The ephemerons (weak.md .sol.ephemerons): `e` has an EphemeronLayout, key and value set.
  void AddEphemeron(void* e) { ephemerons_.Add(e); }
  // The disappearing links (weak.md .sol.links); RegisterLink checks its arguments first and
  // stops with a message naming what is wrong (bdwgc aborts on them too).
  DisappearingLinks::Result RegisterLink(void** link, void* obj, bool long_link, const char* who);
  DisappearingLinks& links() { return links_; }

  // --- finalization (docs/design/weak.md .sol.finalizers, .sol.running) ------------------------
  Finalization& finalization() { return finalization_; }
  // Called by the plan's trace with its other roots: the finalizers' data and the calls
  // waiting to run, and the object an allocation holds while finalizers run.
  void TraceOwnRoots(Tracer& t, bool major);
  // Called by the plan's trace after its drain: the weak phases in DESIGN D6's order
  // (.sol.phases), which may resurrect objects through t and drain it again.
  void RunWeakPhases(Tracer& t, bool major, bool ages);
  // Makes the finalizer calls that wait, unless finalizers are running already (they never run
  // re-entrantly); the runtime's runner lets an escape out of one leave the others waiting.
  void RunFinalizers();
  // The runner's loop: the next call to make (bdwgc's wait for InvokeOrderedFinalizers while
  // finalize-on-demand is set).
  bool TakeFinalizerCall(FinalizerCall* out) { return finalization_.TakeCall(out, !finalize_on_demand_); }
  // At exit (keel_shutdown, scheme_main_setup returning; weak.md .sol.exit): full collections
  // and their finalizers until a collection readies nothing, bdwgc's calls included whatever
  // finalize-on-demand says; then, with finalize_all_on_exit, the finalizers of every object
  // still registered, reachable or not. A finalizer that escapes then is reported and the others
  // still run. Rounds are bounded, so finalizers that keep registering new ones cannot hold the
  // exit forever.
  void FinalizeAtExit();
  bool at_exit() const { return at_exit_; }
  void set_finalize_all_on_exit(bool on) { finalize_all_on_exit_ = on; }
  bool finalize_all_on_exit() const { return finalize_all_on_exit_; }
  // GC_invoke_finalizers: makes the waiting bdwgc calls; returns how many (0 while finalizers
  // run already on this thread).
  int InvokeOrderedFinalizers();
  // GC_set_finalize_on_demand, GC_set_finalizer_notifier (weak.md .sol.ordered).
  void set_finalize_on_demand(bool on) { finalize_on_demand_ = on; }
  bool finalize_on_demand() const { return finalize_on_demand_; }
  using FinalizerNotifier = void (*)();
  void set_finalizer_notifier(FinalizerNotifier f) { notifier_ = f; }
  FinalizerNotifier finalizer_notifier() const { return notifier_; }
  // The runner's escape path: a finalizer escaped (scheme_signal_error) past the runner, which
  // passes the escape on; the calls still waiting run at the next chance.
  void FinalizerEscaped() {
    running_finalizers_ = false;
    held_ = nullptr;
  }
  // The runtime installs its runner (escape-safe) once; the default makes the calls directly.
  using FinalizerRunner = void (*)(Collector& c);
  static void SetFinalizerRunner(FinalizerRunner runner);

  // --- roots and barrier ----------------------------------------------------------------------
  Roots& roots() { return roots_; }
  const Roots& roots() const { return roots_; }
  Barrier& barrier() { return *barrier_; }
  Generations& generations() { return generations_; }
  Plan& plan() { return plan_; }

  // --- configuration and figures ---------------------------------------------------------------
  Policy& policy() { return policy_; }
  Heap& heap() { return heap_; }
  const Heap& heap() const { return heap_; }
  Stats& stats() { return stats_; }
  void set_all_interior_pointers(bool on) { all_interior_ = on; }
  // The interior-pointer mode of collectors created from now on (GC_set_all_interior_pointers
  // is process-wide in bdwgc).
  static void SetDefaultAllInteriorPointers(bool on);
  static bool DefaultAllInteriorPointers();
  bool all_interior_pointers() const { return all_interior_; }
  uint64_t bytes_since_gc() const { return bytes_.since_gc + plan_.pending_bytes(); }
  uint64_t total_allocated_bytes() const { return total_allocated_ + bytes_since_gc(); }
  // Old, aged and uncollectable bytes after the last collection, less explicit frees.
  uint64_t live_bytes() const { return bytes_.live + bytes_.aged + bytes_.uncollectable; }
  uint64_t collections() const { return stats_.collections(); }
  // KEEL_GC_STRESS is set: collections come every N allocations, and plans do what they can
  // to move and free objects early.
  bool stressed() const { return stress_every_ != 0; }
  void FillStats(keel_gc_stats* out) const;
  // Gives free pages back to the OS, keeping what the next cycle will use.
  void ReleaseMemory();

  // Checks the heap's invariants; returns the number of problems (each printed). `strict` also
  // checks that no word of a live object points at the start of a free slot, which holds right
  // after a collection unless the program keeps pointers to objects it freed explicitly.
  size_t Verify(bool strict = false) const;

  // During a collection: the lowest stack address that belongs to the mutator. The collector's
  // own frames lie below it and are not roots (docs/design/roots.md .sol.stacks).
  uintptr_t mutator_stack_top() const { return mutator_stack_top_; }

  // An exited thread's collector kept for the memory it still holds (.sol.orphans): its
  // collections are major, scan no stack and protect nothing.
  bool orphan() const { return orphan_; }
  // Whether memory documented to outlive collections remains: uncollectable objects, live
  // immobile boxes, pins, and whatever the last collection found reachable from the roots.
  bool HoldsMemory() const;
  // Whether uncollectable objects, live immobile boxes or pins remain.
  bool HasExplicitRoots() const;

  // Role and number (registry.h): the name reports give this collector.
  CollectorLabel label() const { return label_; }
  CollectorRole role() const { return label_.role(); }
  // Whether this collector scans the data and bss of the program and its libraries (CGC): the
  // gc.h thread collectors do, and of the places only the one that claimed the program's statics
  // first (places.md .sol.statics); other places scan only what they registered.
  bool scans_program_statics() const { return roots_.auto_statics() && roots_.owns_program_statics(); }

  // The runtime layer attached to this collector, destroyed with it.
  void SetClient(void* client, void (*destroy)(void*)) {
    client_ = client;
    client_destroy_ = destroy;
  }
  void* client() const { return client_; }

 private:
  friend class Verifier;
  friend class Orphanage;

  // `bind_thread`: the plan keeps its thread-local allocation state (3m's inline nursery) in the
  // constructing thread's; a collector of no thread leaves that thread's state alone.
  // `place`: made for a place (MakeBarrier's choice in the checked build).
  explicit Collector(bool bind_thread = true, bool place = false);
  ~Collector();
  static Collector& CreateCurrent(bool place = false);
  static Collector& AttachImplicitly(const char* who);
  void SetRole(CollectorRole role);
  void ServeNoThread();

  void* AllocateSlow(size_t bytes, Kind kind);
  void* AllocateSlowImpl(size_t bytes, Kind kind);
  bool MayCollectNow() const { return disabled_ == 0 && !in_collection_; }

  void CollectNow(keel_gc_reason reason, bool want_major);
  void CollectNowImpl(keel_gc_reason reason, bool want_major);
  // Whether this collection may leave old pages protected: under mprotect not while the thread
  // blocks SIGSEGV, since its next write to one would kill the process (.sol.sigmask).
  bool MayProtect();

  std::unique_ptr<Barrier> barrier_;  // declared before heap_: chunks go first
  Heap heap_;
  Generations generations_;
  ByteCounts bytes_;
  Plan plan_;  // its spaces (docs/design/heap.md .sol.spaces)
  Roots roots_;
  MarkStack mark_stack_;
  Policy policy_;
  Stats stats_;

  uint64_t total_allocated_ = 0;  // before the current cycle
  uint64_t budget_ = 0;           // bytes to allocate before the next collection
  uint64_t major_threshold_ = 0;  // old bytes that make the next collection a major one
  uint64_t heap_limit_ = 0;       // old + aged + young bytes that make a collection major
  uint64_t cycle_peak_in_use_ = 0;  // most heap bytes in use at a collection since the last major one
  uint64_t peak_in_use_ = 0;        // the recent cycles' highest peak (heap.md .sol.retain)
  unsigned full_collections_left_ = 0;  // of a stretch while generations do not pay (barrier.md .sol.payoff)
  uint64_t stress_every_ = 0;     // KEEL_GC_STRESS
  uint64_t stress_count_ = 0;
  int disabled_ = 0;
  bool in_collection_ = false;
  bool in_allocator_ = false;      // AllocateSlow is running (re-entry from a signal handler)
  bool in_weak_callbacks_ = false;
  bool orphan_ = false;
  bool detached_ = false;           // the master, serving no thread (scans_thread)
  bool external_prepared_ = false;  // BeginExternalMajor ran; FinishExternalMajor comes next
  MasterMarks* master_marks_ = nullptr;
  MasterRefs master_refs_;
  bool blocking_ = false;
  bool warned_sigsegv_ = false;
  bool pages_open_ = false;  // a collection left old pages unprotected: the next one is major
  bool last_was_major_ = true;       // live_bytes_ is exact only after a major collection
  uintptr_t mutator_stack_top_ = 0;  // during a collection (mutator_stack_top())
  bool all_interior_ = false;
  int verify_each_ = 0;  // KEEL_GC_VERIFY: 1 structural, 2 strict

  struct WeakEntry {
    WeakCallback fn;
    void* data;
  };
  std::vector<WeakEntry> weak_callbacks_;
  WeakBoxes weak_boxes_;
  WeakArrays weak_arrays_;
  Ephemerons ephemerons_;
  DisappearingLinks links_;
  Finalization finalization_;
  bool running_finalizers_ = false;
  bool finalize_on_demand_ = false;
  bool finalize_all_on_exit_ = false;
  bool at_exit_ = false;
  FinalizerNotifier notifier_ = nullptr;
  size_t notified_ = 0;  // bdwgc calls waiting when the notifier was last called
  void* held_ = nullptr;  // a new object, a root while finalizers run before its allocation returns

  void* client_ = nullptr;
  void (*client_destroy_)(void*) = nullptr;
  CollectionHook collection_hook_ = nullptr;
  void* collection_hook_data_ = nullptr;
  bool in_collection_hook_ = false;
  void RunCollectionHook(bool after);
  void CheckNotInCollectionHook(const char* what) const;

  CollectorLabel label_;

  static constinit thread_local Collector* t_current_ __attribute__((tls_model("initial-exec")));
};

}  // namespace keel::gc

#endif  // KEEL_GC_COLLECTOR_H
