// decay.h: the decay thread, which gives back free heap pages that stayed unused for a while,
// whether or not the program still calls into Keel (docs/design/heap.md .sol.retain).
#ifndef KEEL_GC_DECAY_H
#define KEEL_GC_DECAY_H

#include <cstdint>

namespace keel::gc {

class Heap;

class DecayThread {
 public:
  // Default period (KEEL_GC_DECAY_MS): a free page goes back to the OS after staying unused for
  // between one and two periods. One second keeps memory that a program reuses within its
  // collection rhythm (milliseconds to tenths of a second) and still gives an idle program's
  // free memory back within two seconds.
  static constexpr uint64_t kDefaultPeriodMs = 1000;

  // The period in force (read once per process).
  static uint64_t PeriodMs();
  // A heap joins or leaves the thread's list; Leave waits for a tick in progress to finish.
  static void Join(Heap* heap);
  static void Leave(Heap* heap);
  // A heap retains committed free pages: ticks must run. Starts the thread the first time (and
  // in a forked child, where it does not exist). False when it cannot be started now; a call a
  // period later tries again, and meanwhile what a major collection keeps stays bounded by its
  // own rule (docs/design/heap.md .sol.retain).
  static bool Wake();
};

}  // namespace keel::gc

#endif  // KEEL_GC_DECAY_H
