// channel.cpp: queues and channel ends (channel.h, docs/design/places.md .sol.channels,
// .sol.parking).
#include "places/channel.h"

#include <thread>

#include "gc/fatal.h"
#include "gc/master.h"
#include "places/message.h"

namespace keel::places {

namespace {

// Tries before a receiver parks: a round trip between two places on two cores takes a few
// microseconds, well inside the spin, while parking and waking cost tens of microseconds.
constexpr int kSpinTries = 2000;

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

}  // namespace

// A few nodes up front; a busier queue allocates more as it needs them and keeps them (the
// lock-free stack recycles its nodes) until it goes. A place's channel so costs about a
// kilobyte until the values for its ends are collected.
Queue::Queue() : incoming_(4) {}

Queue::~Queue() {
  for (size_t i = batch_at_; i < batch_.size(); ++i) DestroyMessage(batch_[i]);
  incoming_.consume_all([](Message* m) { DestroyMessage(m); });
}

void Queue::Release() {
  if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
}

bool Queue::Put(Message* m) {
  try {
    if (!incoming_.push(m)) return false;
  } catch (const std::bad_alloc&) {
    return false;
  }
  // A read-modify-write of the sleeper count after the push, as the receiver makes one before
  // its last try: the two are ordered, so either the receiver's try comes after this one and
  // sees the message, or this sees the receiver counted as asleep (.sol.parking).
  if (sleepers_.fetch_add(0, std::memory_order_seq_cst) > 0) {
    std::lock_guard<std::mutex> lock(mu_);
    cv_.notify_one();
  }
  return true;
}

// The stack hands its messages over newest last; a message that cannot be kept would be lost,
// and so is reported as the fatal shortage of memory it is.
void Queue::Keep(Message* m) {
  try {
    batch_.push_back(m);
  } catch (const std::bad_alloc&) {
    keel::Fatal("out of memory taking place-channel messages (%zu in one batch)", batch_.size() + 1);
  }
}

void Queue::LockBatch() {
  for (int spins = 0; taking_.test_and_set(std::memory_order_acquire); ++spins) {
    if (spins < 100) {
      CpuRelax();
    } else {
      std::this_thread::yield();  // another receiver of this queue was preempted in here
    }
  }
}

void Queue::Unget(Message* m) {
  LockBatch();
  if (batch_at_ > 0) {
    batch_[--batch_at_] = m;  // its own slot, unless another receiver has refilled the batch
  } else {
    try {
      batch_.insert(batch_.begin(), m);
    } catch (const std::bad_alloc&) {
      keel::Fatal("out of memory putting back a place-channel message");
    }
  }
  taking_.clear(std::memory_order_release);
}

Message* Queue::TryTake() {
  LockBatch();
  if (batch_at_ == batch_.size()) {
    batch_.clear();
    batch_at_ = 0;
    incoming_.consume_all_atomic_reversed([this](Message* m) { Keep(m); });
  }
  Message* m = batch_at_ < batch_.size() ? batch_[batch_at_++] : nullptr;
  taking_.clear(std::memory_order_release);
  return m;
}

Message* Queue::Take(const std::chrono::steady_clock::time_point* deadline, Interrupted interrupted,
                     void (*safe_point)()) {
  for (int i = 0; i < kSpinTries; ++i) {
    if (Message* m = TryTake()) return m;
    if ((i & 63) == 63 && interrupted()) return nullptr;
    CpuRelax();
  }
  // Declared before the lock, so that it registers and unregisters with mu_ not held (the
  // master wakes sleepers with their mutex taken after its own).
  keel::gc::master::SleepScope sleep(mu_, cv_);
  std::unique_lock<std::mutex> lock(mu_);
  sleepers_.fetch_add(1, std::memory_order_seq_cst);
  Message* m = nullptr;
  while ((m = TryTake()) == nullptr) {
    if (interrupted()) break;
    if (keel::gc::master::Requested()) {
      lock.unlock();
      safe_point();
      lock.lock();
      continue;
    }
    if (deadline == nullptr) {
      cv_.wait(lock);
    } else if (cv_.wait_until(lock, *deadline) == std::cv_status::timeout) {
      m = TryTake();
      break;
    }
  }
  sleepers_.fetch_sub(1, std::memory_order_relaxed);
  return m;
}

void Queue::WakeAll() {
  std::lock_guard<std::mutex> lock(mu_);
  cv_.notify_all();
}

void End::NewPair(End** a, End** b) {
  auto* q1 = new Queue();
  auto* q2 = new Queue();
  *a = new End(q1, q2);
  *b = new End(q2, q1);
  q1->Release();  // the ends hold them now
  q2->Release();
}

End::End(Queue* out, Queue* in) : out_(out), in_(in) {
  out_->AddRef();
  in_->AddRef();
}

End::~End() {
  out_->Release();
  in_->Release();
}

void End::Release() {
  if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
}

}  // namespace keel::places
