// channel.h: place channels (docs/design/places.md .sol.channels). A channel is two queues, one
// per direction; an end sends into one and receives from the other. Queues and ends are plain
// C++ objects shared by reference counts: the Scheme values that stand for an end (in any
// place's heap) and the messages in flight that carry one each hold a reference.
#ifndef KEEL_PLACES_CHANNEL_H
#define KEEL_PLACES_CHANNEL_H

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>

#include <vector>

#include <boost/lockfree/stack.hpp>

namespace keel::places {

struct Message;

// Messages from any number of senders to any number of receivers, first in, first out: a
// message put after another (by the same sender, or by one that heard of the first) is taken
// after it. Senders push onto a boost::lockfree::stack; a receiver takes the whole stack at once,
// oldest first, into its batch, and serves the following takes from that (.sol.queue). A
// receiver that finds both empty spins briefly (a reply often arrives within microseconds), then
// parks on a condition variable until a sender wakes it (.sol.parking).
class Queue {
 public:
  Queue();
  ~Queue();  // destroys the messages still queued
  Queue(const Queue&) = delete;
  Queue& operator=(const Queue&) = delete;

  void AddRef() { refs_.fetch_add(1, std::memory_order_relaxed); }
  void Release();

  // Queues m; false when memory for it cannot be had (m stays the caller's).
  bool Put(Message* m);
  Message* TryTake();
  // Puts back m, which a receiver took and could not rebuild (it ran out of memory), as the next
  // message to be taken.
  void Unget(Message* m);

  // What stops a blocked Take early: the calling place was asked to end (keel_place_kill).
  using Interrupted = bool (*)();
  // Waits for a message until `deadline` (nullptr: no limit) or until `interrupted()` says so
  // (checked on every wake-up); nullptr then. A master collection requested while it waits
  // wakes it: it calls `safe_point` with no lock held and waits on (places.md .sol.master-cycle).
  Message* Take(const std::chrono::steady_clock::time_point* deadline, Interrupted interrupted, void (*safe_point)());
  // Wakes every receiver parked here, so that each checks whether it was interrupted.
  void WakeAll();

 private:
  // Appends a message taken from incoming_ to the batch (taking_ held).
  void Keep(Message* m);
  // Takes taking_ (a spin, yielding after 100 tries).
  void LockBatch();

  boost::lockfree::stack<Message*> incoming_;
  // Each on a cache line of its own: the senders read sleepers_ after every push, the receivers
  // own taking_ and the batch.
  alignas(64) std::atomic<int> sleepers_{0};
  alignas(64) std::atomic_flag taking_ = ATOMIC_FLAG_INIT;  // one receiver at a time in the batch
  std::vector<Message*> batch_;  // taken from incoming_, oldest first; served from batch_at_ on
  size_t batch_at_ = 0;
  alignas(64) std::atomic<int> refs_{1};
  std::mutex mu_;
  std::condition_variable cv_;
};

// One end of a channel: sends into `out`, receives from `in`. The other end has them swapped.
class End {
 public:
  // A new channel; both ends start with one reference each.
  static void NewPair(End** a, End** b);
  End(Queue* out, Queue* in);  // takes a reference on each queue
  ~End();

  void AddRef() { refs_.fetch_add(1, std::memory_order_relaxed); }
  void Release();

  Queue& out() { return *out_; }
  Queue& in() { return *in_; }

 private:
  std::atomic<int> refs_{1};
  Queue* out_;
  Queue* in_;
};

}  // namespace keel::places

#endif  // KEEL_PLACES_CHANNEL_H
