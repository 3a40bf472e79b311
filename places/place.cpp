// place.cpp: starting, ending and waiting for places, and the channel functions of
// keel_places.h (docs/design/places.md .sol.place-life, .sol.channels).
#include <pthread.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>

#include "gc/collector.h"
#include "gc/master.h"
#include "keel_places.h"
#include "places/channel.h"
#include "places/message.h"
#include "runtime/gc_frame.h"
#include "scheme.h"

namespace keel::places {

namespace {

using keel::gc::Collector;

// A place started by keel_place_create. Shared by the place's thread and the descriptors that
// name it (one reference each); the last to let go deletes it.
struct PlaceRecord {
  std::atomic<int> refs{2};
  void (*main)(Scheme_Object*) = nullptr;
  End* end = nullptr;  // the place's own end, handed to main; released by the thread at the start

  std::mutex mu;
  std::condition_variable done_cv;
  bool done = false;
  int exit_code = 0;

  // keel_place_kill (.sol.place-life): the place ends at its next channel operation or
  // safe point; one blocked in a channel operation is woken through the queue it waits on.
  std::atomic<bool> killed{false};
  std::mutex waiting_mu;
  Queue* waiting_on = nullptr;  // under waiting_mu

  void Release() {
    if (refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }
};

// The calling thread's place record and the escape point its main runs under; nullptr on the
// initial place and on threads attached with keel_thread_attach.
thread_local PlaceRecord* t_place = nullptr;
thread_local mz_jmp_buf* t_place_base = nullptr;
thread_local int t_exit_code = 0;

constexpr int kEscapedExit = 2;  // keel_longjmp value: keel_place_exit or a kill, code in t_exit_code

bool CurrentPlaceKilled() { return t_place != nullptr && t_place->killed.load(std::memory_order_seq_cst); }

[[noreturn]] void EndCurrentPlace(int code) {
  t_exit_code = code;
  keel_longjmp(t_place_base, kEscapedExit);
}

void EndIfKilled() {
  if (CurrentPlaceKilled()) EndCurrentPlace(1);
}

// A safe point (places.md .sol.master-cycle): the place ends if it was killed, and takes part
// in a master collection if one is requested. Under 3m its collection moves objects: the
// caller's Scheme values must be registered. `who` is the caller, named if the place is in a
// blocking section, where it may not call Keel.
void AtSafePoint(const char* who) {
  if (const keel::gc::Collector* c = keel::gc::Collector::CurrentOrNull()) keel::gc::master::CheckNotBlocking(*c, who);
  EndIfKilled();
  if (keel::gc::master::Requested()) [[unlikely]] keel::gc::master::SafePoint();
}

End& CheckedEnd(Scheme_Object* ch, const char* who) {
  End* end = EndOf(ch);
  if (end == nullptr) scheme_signal_error("%s: expects a place channel or a place, given %V", who, ch);
  return *end;
}

// The message for msg, or nullptr with the reason in `why` (no C++ object with a destructor
// outlives this call: the caller's escape would skip it).
Message* SerializeOrExplain(Scheme_Object* msg, char* why, size_t size) {
  std::string reason;
  Message* m = Serialize(msg, &reason);
  if (m == nullptr) std::snprintf(why, size, "%s", reason.c_str());
  return m;
}

// Copies msg into the channel; an escape (after everything is freed) when msg may not be sent.
void Put(Scheme_Object* ch, Scheme_Object* msg, const char* who) {
  {
    keel::rt::GcFrame frame(ch, msg);
    AtSafePoint(who);
  }
  End& end = CheckedEnd(ch, who);
  char why[512];
  Message* m = SerializeOrExplain(msg, why, sizeof why);
  if (m == nullptr) scheme_signal_error("%s: the message may not be sent: %s", who, why);  // nothing was sent
  if (!end.out().Put(m)) {
    DestroyMessage(m);
    scheme_raise_out_of_memory(who, "cannot queue the message");
  }
}

// The value of m, taken from the incoming queue of the end that `ch` stands for. An escape out
// of the rebuild (out of memory) puts m back as the queue's next message before it goes on, so
// a receive that fails loses nothing and a later one can take it again. `ch` stays registered
// meanwhile (a collection in the rebuild must not finalize the end, and the queue with it).
// Nothing with a destructor but that frame is live across the setjmp (DESIGN D10).
Scheme_Object* Receive(Scheme_Object* ch, Queue& q, Message* m) {
  keel::rt::GcFrame frame(ch);
  Scheme_Thread* thread = scheme_current_thread;
  mz_jmp_buf* const outer = thread->error_buf;
  if (outer == nullptr) {  // no handler: an escape ends the process, and the message with it
    Scheme_Object* v = Deserialize(m);
    DestroyMessage(m);
    return v;
  }
  mz_jmp_buf own;
  thread->error_buf = &own;
  if (scheme_setjmp(own) != 0) {
    thread->error_buf = outer;
    q.Unget(m);
    scheme_longjmp(*outer, 1);
  }
  Scheme_Object* v = Deserialize(m);
  thread->error_buf = outer;
  DestroyMessage(m);
  return v;
}

// Blocks on the end's incoming queue; nullptr on timeout. A kill wakes it and ends the place.
Scheme_Object* Get(Scheme_Object* ch, const std::chrono::steady_clock::time_point* deadline, const char* who) {
  {
    keel::rt::GcFrame frame(ch);
    AtSafePoint(who);
  }
  End& end = CheckedEnd(ch, who);
  if (Message* m = end.in().TryTake()) return Receive(ch, end.in(), m);
  Queue& q = end.in();
  if (t_place != nullptr) {
    std::lock_guard<std::mutex> lock(t_place->waiting_mu);
    t_place->waiting_on = &q;
  }
  Message* m = q.Take(deadline, CurrentPlaceKilled, keel::gc::master::SafePoint);
  if (t_place != nullptr) {
    std::lock_guard<std::mutex> lock(t_place->waiting_mu);
    t_place->waiting_on = nullptr;
  }
  if (m == nullptr) {
    EndIfKilled();
    return nullptr;
  }
  return Receive(ch, q, m);
}

// Runs main under an escape point; the place's exit code.
int RunMain(PlaceRecord* rec) {
  Scheme_Object* channel = NewChannelObject(rec->end, nullptr);
  rec->end->Release();  // the channel object holds it now
  rec->end = nullptr;
  keel::rt::GcFrame frame(channel);
  mz_jmp_buf base;
  mz_jmp_buf* volatile saved = scheme_current_thread->error_buf;
  scheme_current_thread->error_buf = &base;
  t_place_base = &base;
  volatile int code = 0;
  const int how = scheme_setjmp(base);
  if (how == 0) {
    rec->main(channel);
  } else if (how == kEscapedExit) {
    code = t_exit_code;
  } else {
    // An error escaped main with no handler: the place ends, the others go on.
    std::fprintf(stderr, "keel: place %llu ends: an error escaped its main function: %s\n",
                 static_cast<unsigned long long>(Collector::CurrentPlace("keel_place_create").label().id()),
                 keel_last_error_message());
    std::fflush(stderr);
    code = 1;
  }
  scheme_current_thread->error_buf = saved;
  t_place_base = nullptr;
  return code;
}

void* PlaceThread(void* arg) {
  auto* rec = static_cast<PlaceRecord*>(arg);
  t_place = rec;
  keel_thread_attach();
  const int code = RunMain(rec);
  // Place exit (.sol.place-life): every finalizer runs, reachable or not (the heap is going),
  // so foreign resources and the channel ends it held are released; then the heap goes.
  if (Collector* c = Collector::CurrentOrNull()) c->set_finalize_all_on_exit(true);
  keel_thread_detach();
  t_place = nullptr;
  {
    std::lock_guard<std::mutex> lock(rec->mu);
    rec->done = true;
    rec->exit_code = code;
  }
  rec->done_cv.notify_all();
  rec->Release();
  return nullptr;
}

PlaceRecord* RecordOf(Scheme_Object* place, const char* who) {
  if (SCHEME_INTP(place) || place == nullptr || place->type != scheme_place_type) {
    scheme_signal_error("%s: expects a place, given %V", who, place);
  }
  return static_cast<PlaceRecord*>(reinterpret_cast<ChannelObject*>(place)->place);
}

}  // namespace

void ReleasePlaceRecord(void* place) { static_cast<PlaceRecord*>(place)->Release(); }

}  // namespace keel::places

using keel::places::ChannelObject;
using keel::places::End;
using keel::places::PlaceRecord;

extern "C" {

KEEL_API Scheme_Object* keel_place_create(void (*main)(Scheme_Object* channel), Scheme_Object* init) {
  if (main == nullptr) scheme_signal_error("keel_place_create: main is NULL");
  if (keel::gc::master::ThreadBound()) {
    scheme_signal_error("keel_place_create: places start once scheme_basic_env has returned (until then the master "
                        "collector serves the main thread)");
  }
  // Making the descriptor allocates, and 3m may move init meanwhile: it is registered first.
  keel::rt::GcFrame init_frame(init);
  End* mine = nullptr;
  End* theirs = nullptr;
  End::NewPair(&mine, &theirs);
  auto* rec = new PlaceRecord;
  rec->main = main;
  rec->end = theirs;
  Scheme_Object* place = keel::places::NewChannelObject(mine, rec);
  mine->Release();  // the descriptor holds it now
  keel::rt::GcFrame frame(place);
  if (init != nullptr) keel::places::Put(place, init, "keel_place_create");
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_t thread;
  const int err = pthread_create(&thread, &attr, keel::places::PlaceThread, rec);
  pthread_attr_destroy(&attr);
  if (err != 0) {
    rec->end->Release();
    rec->end = nullptr;
    rec->Release();  // the thread's reference
    scheme_signal_error("keel_place_create: cannot start a thread (error %d)", err);
  }
  return place;
}

// Waiting is a safe point: a master collection requested meanwhile wakes the waiter, which
// takes part and waits on (places.md .sol.master-cycle).
KEEL_API int keel_place_wait(Scheme_Object* place) {
  PlaceRecord* rec = keel::places::RecordOf(place, "keel_place_wait");
  keel::gc::master::SleepScope sleep(rec->mu, rec->done_cv);
  std::unique_lock<std::mutex> lock(rec->mu);
  for (;;) {
    rec->done_cv.wait(lock, [rec] { return rec->done || keel::gc::master::Requested(); });
    if (rec->done) break;
    lock.unlock();
    keel::gc::master::SafePoint();
    lock.lock();
  }
  return rec->exit_code;
}

KEEL_API void keel_place_kill(Scheme_Object* place) {
  PlaceRecord* rec = keel::places::RecordOf(place, "keel_place_kill");
  if (rec == keel::places::t_place) keel::places::EndCurrentPlace(1);
  rec->killed.store(true, std::memory_order_seq_cst);
  {
    std::lock_guard<std::mutex> lock(rec->waiting_mu);
    if (rec->waiting_on != nullptr) rec->waiting_on->WakeAll();
  }
  keel_place_wait(place);
}

KEEL_API void keel_place_exit(int code) {
  if (keel::places::t_place_base == nullptr) {
    std::fflush(nullptr);
    std::exit(code);  // the initial place (or an attached thread): the process ends
  }
  keel::places::EndCurrentPlace(code);
}

KEEL_API void keel_place_safepoint(void) { keel::places::AtSafePoint("keel_place_safepoint"); }

// places.md .sol.blocking
KEEL_API void keel_place_blocking_begin(void) {
  const char* who = "keel_place_blocking_begin";
  keel::gc::master::BeginBlocking(keel::gc::Collector::CurrentPlace(who), who);
}

KEEL_API void keel_place_blocking_end(void) {
  const char* who = "keel_place_blocking_end";
  keel::gc::master::EndBlocking(keel::gc::Collector::CurrentPlace(who), who);
  keel::places::EndIfKilled();
}

KEEL_API void keel_place_channel_put(Scheme_Object* ch, Scheme_Object* msg) {
  keel::places::Put(ch, msg, "keel_place_channel_put");
}

KEEL_API Scheme_Object* keel_place_channel_get(Scheme_Object* ch) {
  return keel::places::Get(ch, nullptr, "keel_place_channel_get");
}

KEEL_API Scheme_Object* keel_place_channel_try_get(Scheme_Object* ch) {
  {
    keel::rt::GcFrame frame(ch);
    keel::places::AtSafePoint("keel_place_channel_try_get");
  }
  End& end = keel::places::CheckedEnd(ch, "keel_place_channel_try_get");
  keel::places::Message* m = end.in().TryTake();
  return m != nullptr ? keel::places::Receive(ch, end.in(), m) : nullptr;
}

KEEL_API Scheme_Object* keel_place_channel_get_timeout(Scheme_Object* ch, double seconds) {
  if (!(seconds >= 0) || !std::isfinite(seconds)) {
    scheme_signal_error("keel_place_channel_get_timeout: the timeout must be a finite number of seconds >= 0, given %g", seconds);
  }
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(seconds));
  return keel::places::Get(ch, &deadline, "keel_place_channel_get_timeout");
}

KEEL_API void keel_place_channel_pair(Scheme_Object** a, Scheme_Object** b) {
  if (a == nullptr || b == nullptr) scheme_signal_error("keel_place_channel_pair: a result location is NULL");
  End* x = nullptr;
  End* y = nullptr;
  End::NewPair(&x, &y);
  Scheme_Object* first = keel::places::NewChannelObject(x, nullptr);
  x->Release();
  keel::rt::GcFrame frame(first);
  Scheme_Object* second = keel::places::NewChannelObject(y, nullptr);
  y->Release();
  *a = first;
  *b = second;
}

KEEL_API int keel_place_message_allowed(Scheme_Object* v) {
  std::string why;
  keel::places::Message* m = keel::places::Serialize(v, &why);
  if (m == nullptr) return 0;
  keel::places::DestroyMessage(m);
  return 1;
}

}  // extern "C"
