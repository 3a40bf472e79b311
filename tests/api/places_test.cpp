// places_test.cpp: places and place channels (keel_places.h; docs/design/places.md
// .sol.place-life, .sol.channels, .sol.messages), black-box, against CGC and 3m: ping-pong,
// fan-out and fan-in, deep, cyclic and shared messages, channels sent through channels, messages
// that may not be sent, kill and wait, many places one after another, and a place whose main
// escapes with an error. Every place's main registers what it keeps across allocations (3m).
#include <boost/test/unit_test.hpp>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "gc.h"
#include "keel_gc.h"
#include "keel_places.h"
#include "scheme.h"
#include "support/gc_probe.h"
#include "support/place_mains.h"
#include "support/registered.h"
#include "support/scheme_escape.h"
#include "support/scheme_values.h"

namespace {

using keel_test::EchoMain;
using keel_test::Registered;


// Receives n (a fixnum) and a list of fixnums; answers with their sum plus n.
void SumMain(Scheme_Object* ch) {
  Registered reg(ch);
  Scheme_Object* n = keel_place_channel_get(ch);
  Scheme_Object* list = keel_place_channel_get(ch);
  intptr_t sum = SCHEME_INT_VAL(n);
  for (Scheme_Object* p = list; SCHEME_PAIRP(p); p = SCHEME_CDR(p)) sum += SCHEME_INT_VAL(SCHEME_CAR(p));
  keel_place_channel_put(ch, scheme_make_integer(sum));
}

void ExitWith7Main(Scheme_Object*) { keel_place_exit(7); }

void ErrorMain(Scheme_Object*) { scheme_signal_error("this place fails on purpose"); }

// Blocks forever on its channel (until killed).
void BlockMain(Scheme_Object* ch) { keel_place_channel_get(ch); }

// Gets a channel end, then puts 'hello on it, then the number it receives from its own channel.
void RelayMain(Scheme_Object* ch) {
  Scheme_Object* other = keel_place_channel_get(ch);
  Registered reg(ch, other);
  keel_place_channel_put(other, scheme_intern_symbol("hello"));
  keel_place_channel_put(other, keel_place_channel_get(ch));
}

// Allocates garbage and collects while it echoes, so messages meet collections in both places.
void ChurnEchoMain(Scheme_Object* ch) {
  Registered reg(ch);
  for (;;) {
    Scheme_Object* msg = keel_place_channel_get(ch);
    Registered keep(msg);
    if (msg == scheme_false) return;
    keel_test::AllocateGarbage(64 << 10);
    scheme_collect_garbage();
    keel_place_channel_put(ch, msg);
  }
}

Scheme_Object* Sym(const char* s) { return scheme_intern_symbol(s); }

// A message with everything that may be sent, sharing and a cycle:
// #(1 2.5 #\x #\U+1F600 "str" #"bytes" sym <bignum> -7 #t #f () #<void> (shared) (shared) #&cycle)
// where the box holds the vector itself.
Scheme_Object* RichMessage() {
  Scheme_Object* v = scheme_make_vector(16, scheme_false);
  Scheme_Object* shared = nullptr;
  Scheme_Object* tmp = nullptr;
  Registered reg(v, shared, tmp);
  SCHEME_VEC_ELS(v)[0] = scheme_make_integer(1);
  tmp = scheme_make_double(2.5);
  SCHEME_VEC_ELS(v)[1] = tmp;
  tmp = scheme_make_char('x');
  SCHEME_VEC_ELS(v)[2] = tmp;
  tmp = scheme_make_char(0x1F600);
  SCHEME_VEC_ELS(v)[3] = tmp;
  tmp = scheme_make_utf8_string("str");
  SCHEME_VEC_ELS(v)[4] = tmp;
  tmp = scheme_make_byte_string("bytes");
  SCHEME_VEC_ELS(v)[5] = tmp;
  tmp = Sym("sym");
  SCHEME_VEC_ELS(v)[6] = tmp;
  tmp = scheme_read_bignum_bytes("123456789012345678901234567890", 0, 10);
  SCHEME_VEC_ELS(v)[7] = tmp;
  SCHEME_VEC_ELS(v)[8] = scheme_make_integer(-7);
  SCHEME_VEC_ELS(v)[9] = scheme_true;
  SCHEME_VEC_ELS(v)[10] = scheme_false;
  SCHEME_VEC_ELS(v)[11] = scheme_null;
  SCHEME_VEC_ELS(v)[12] = scheme_void;
  shared = keel_test::BuildList(3, 40);
  SCHEME_VEC_ELS(v)[13] = shared;
  SCHEME_VEC_ELS(v)[14] = shared;
  tmp = scheme_box(v);
  SCHEME_VEC_ELS(v)[15] = tmp;
  return v;
}

bool IsRichMessage(Scheme_Object* v) {
  if (!SCHEME_VECTORP(v) || SCHEME_VEC_SIZE(v) != 16) return false;
  Scheme_Object* sym = nullptr;
  Registered reg(v, sym);
  // Both allocate, and 3m may move v: the elements are read after them.
  char* big = scheme_bignum_to_string(SCHEME_VEC_ELS(v)[7], 10);
  sym = Sym("sym");
  Scheme_Object** e = SCHEME_VEC_ELS(v);
  const bool ok = e[0] == scheme_make_integer(1) && SCHEME_DBLP(e[1]) && SCHEME_DBL_VAL(e[1]) == 2.5 &&
                  SCHEME_CHARP(e[2]) && SCHEME_CHAR_VAL(e[2]) == 'x' && SCHEME_CHARP(e[3]) &&
                  SCHEME_CHAR_VAL(e[3]) == 0x1F600 && SCHEME_CHAR_STRINGP(e[4]) && SCHEME_CHAR_STRTAG_VAL(e[4]) == 3 &&
                  SCHEME_CHAR_STR_VAL(e[4])[2] == 'r' && SCHEME_BYTE_STRINGP(e[5]) &&
                  std::string(SCHEME_BYTE_STR_VAL(e[5]), 5) == "bytes" && e[6] == sym &&
                  std::string(big) == "123456789012345678901234567890" && e[8] == scheme_make_integer(-7) &&
                  e[9] == scheme_true && e[10] == scheme_false && e[11] == scheme_null && e[12] == scheme_void &&
                  e[13] == e[14] && keel_test::ListIsIota(e[13], 3, 40) && SCHEME_BOXP(e[15]) &&
                  SCHEME_BOX_VAL(e[15]) == v;
  return ok;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(places, keel_test::CleanStackFixture)

BOOST_AUTO_TEST_CASE(ping_pong) {
  Scheme_Object* p = keel_place_create(EchoMain, nullptr);
  Scheme_Object* reply = nullptr;
  Registered reg(p, reply);
  const int rounds = static_cast<int>(keel_test::ScaledCount(1000, 200));
  for (int i = 0; i < rounds; ++i) {
    keel_place_channel_put(p, scheme_make_integer(i));
    reply = keel_place_channel_get(p);
    if (reply != scheme_make_integer(i)) {
      BOOST_TEST(false, "round " << i << ": wrong reply");
      break;
    }
  }
  keel_place_channel_put(p, scheme_false);
  BOOST_TEST(keel_place_wait(p) == 0);
  BOOST_TEST(keel_place_wait(p) == 0);  // again: the same code
}

BOOST_AUTO_TEST_CASE(init_is_the_first_message_and_fan_in) {
  constexpr int kPlaces = 4;
  Scheme_Object* ps[kPlaces] = {};
  keel_test::RegisteredArray reg(ps);
  Scheme_Object* list = keel_test::BuildList(100, 1);  // 1..100: 5050
  Registered keep(list);
  for (int i = 0; i < kPlaces; ++i) {
    ps[i] = keel_place_create(SumMain, scheme_make_integer(1000 * i));
    keel_place_channel_put(ps[i], list);
  }
  for (int i = 0; i < kPlaces; ++i) {
    Scheme_Object* sum = keel_place_channel_get(ps[i]);
    BOOST_TEST(sum == scheme_make_integer(5050 + 1000 * i));
    BOOST_TEST(keel_place_wait(ps[i]) == 0);
  }
}

namespace {

// Gets a channel end, then its number k and a count n; puts (k . i) for i in 0..n-1 on the end,
// then #t on its own channel.
void SenderMain(Scheme_Object* ch) {
  Scheme_Object* end = nullptr;
  Scheme_Object* msg = nullptr;
  Registered reg(ch, end, msg);
  end = keel_place_channel_get(ch);
  const intptr_t k = SCHEME_INT_VAL(keel_place_channel_get(ch));
  const intptr_t n = SCHEME_INT_VAL(keel_place_channel_get(ch));
  for (intptr_t i = 0; i < n; ++i) {
    msg = scheme_make_pair(scheme_make_integer(k), scheme_make_integer(i));
    keel_place_channel_put(end, msg);
  }
  keel_place_channel_put(ch, scheme_true);
}

// Gets a channel end, then takes fixnums from it until #f; answers on its own channel with
// (count . sum), or with #f when the fixnums it took were not increasing.
void TakerMain(Scheme_Object* ch) {
  Scheme_Object* end = nullptr;
  Scheme_Object* msg = nullptr;
  Registered reg(ch, end, msg);
  end = keel_place_channel_get(ch);
  intptr_t count = 0, sum = 0, last = -1;
  bool increasing = true;
  while ((msg = keel_place_channel_get(end)) != scheme_false) {
    const intptr_t v = SCHEME_INT_VAL(msg);
    increasing = increasing && v > last;
    last = v;
    ++count;
    sum += v;
  }
  msg = increasing ? scheme_make_pair(scheme_make_integer(count), scheme_make_integer(sum)) : scheme_false;
  keel_place_channel_put(ch, msg);
}

}  // namespace

// Several places send on one end at once: each sender's messages arrive in the order it sent
// them, none lost or doubled; a message sent after the receiver could have heard of another
// (here: main's own, after every sender reported done) comes after it.
BOOST_AUTO_TEST_CASE(several_senders_keep_their_order) {
  constexpr int kSenders = 3;
  const intptr_t n = keel_test::ScaledCount(20000, 2000);
  Scheme_Object* ps[kSenders] = {};
  keel_test::RegisteredArray reg(ps);
  Scheme_Object* a = nullptr;
  Scheme_Object* b = nullptr;
  Scheme_Object* msg = nullptr;
  Registered keep(a, b, msg);
  keel_place_channel_pair(&a, &b);
  for (int k = 0; k < kSenders; ++k) {
    ps[k] = keel_place_create(SenderMain, a);
    keel_place_channel_put(ps[k], scheme_make_integer(k));
    keel_place_channel_put(ps[k], scheme_make_integer(n));
  }
  intptr_t next[kSenders] = {};
  bool in_order = true;
  for (intptr_t got = 0; got < kSenders * n; ++got) {
    msg = keel_place_channel_get(b);
    const intptr_t k = SCHEME_INT_VAL(SCHEME_CAR(msg));
    in_order = in_order && k >= 0 && k < kSenders && SCHEME_INT_VAL(SCHEME_CDR(msg)) == next[k];
    if (k >= 0 && k < kSenders) ++next[k];
  }
  BOOST_TEST(in_order);
  for (int k = 0; k < kSenders; ++k) {
    BOOST_TEST(next[k] == n);
    BOOST_TEST(keel_place_channel_get(ps[k]) == scheme_true);
    BOOST_TEST(keel_place_wait(ps[k]) == 0);
  }
  keel_place_channel_put(a, scheme_make_integer(-1));
  BOOST_TEST(keel_place_channel_try_get(b) == scheme_make_integer(-1));
  BOOST_TEST(keel_place_channel_try_get(b) == nullptr);
}

// Several places take from one end at once: every message is taken exactly once, and each
// taker sees the ones it gets in the order they were sent.
BOOST_AUTO_TEST_CASE(several_receivers_share_one_end) {
  constexpr int kTakers = 3;
  const intptr_t n = keel_test::ScaledCount(30000, 3000);
  Scheme_Object* ps[kTakers] = {};
  keel_test::RegisteredArray reg(ps);
  Scheme_Object* a = nullptr;
  Scheme_Object* b = nullptr;
  Scheme_Object* answer = nullptr;
  Registered keep(a, b, answer);
  keel_place_channel_pair(&a, &b);
  for (int k = 0; k < kTakers; ++k) ps[k] = keel_place_create(TakerMain, b);
  for (intptr_t i = 0; i < n; ++i) keel_place_channel_put(a, scheme_make_integer(i));
  for (int k = 0; k < kTakers; ++k) keel_place_channel_put(a, scheme_false);
  intptr_t count = 0, sum = 0;
  for (int k = 0; k < kTakers; ++k) {
    answer = keel_place_channel_get(ps[k]);
    BOOST_REQUIRE(SCHEME_PAIRP(answer));  // #f: a taker saw its messages out of order
    count += SCHEME_INT_VAL(SCHEME_CAR(answer));
    sum += SCHEME_INT_VAL(SCHEME_CDR(answer));
    BOOST_TEST(keel_place_wait(ps[k]) == 0);
  }
  BOOST_TEST(count == n);
  BOOST_TEST(sum == n * (n - 1) / 2);
}

BOOST_AUTO_TEST_CASE(rich_messages_keep_their_shape_sharing_and_cycles) {
  Scheme_Object* p = keel_place_create(EchoMain, nullptr);
  Scheme_Object* msg = nullptr;
  Scheme_Object* back = nullptr;
  Registered reg(p, msg, back);
  msg = RichMessage();
  BOOST_TEST_REQUIRE(IsRichMessage(msg));
  BOOST_TEST(keel_place_message_allowed(msg) == 1);
  keel_place_channel_put(p, msg);
  back = keel_place_channel_get(p);
  BOOST_TEST(back != msg);  // a copy
  BOOST_TEST(IsRichMessage(back));
  keel_place_channel_put(p, scheme_false);
  BOOST_TEST(keel_place_wait(p) == 0);
}

BOOST_AUTO_TEST_CASE(deep_lists_travel) {
  Scheme_Object* p = keel_place_create(EchoMain, nullptr);
  Scheme_Object* list = nullptr;
  Scheme_Object* back = nullptr;
  Registered reg(p, list, back);
  // Under GC stress each receiving allocation collects a heap that holds the whole table of the
  // message's objects: 2,000 links say as much there as 100,000 do elsewhere.
  const int n = std::getenv("KEEL_GC_STRESS") != nullptr ? 2000 : static_cast<int>(keel_test::ScaledCount(100000, 10000));
  list = keel_test::BuildList(n, 5);
  keel_place_channel_put(p, list);
  back = keel_place_channel_get(p);
  BOOST_TEST(keel_test::ListIsIota(back, n, 5));
  // The next message holds objects of the previous one: the writer's index of the first must
  // not number them (it forgets each message's entries), and sharing within the new one holds.
  back = scheme_make_vector(2, scheme_false);
  SCHEME_VEC_ELS(back)[0] = SCHEME_CDR(list);
  SCHEME_VEC_ELS(back)[1] = SCHEME_CDR(list);
  keel_place_channel_put(p, back);
  back = keel_place_channel_get(p);
  BOOST_TEST((SCHEME_VEC_ELS(back)[0] == SCHEME_VEC_ELS(back)[1]));
  BOOST_TEST(keel_test::ListIsIota(SCHEME_VEC_ELS(back)[0], n - 1, 6));
  keel_place_channel_put(p, scheme_false);
  BOOST_TEST(keel_place_wait(p) == 0);
}

BOOST_AUTO_TEST_CASE(messages_survive_collections_on_both_sides) {
  Scheme_Object* p = keel_place_create(ChurnEchoMain, nullptr);
  Scheme_Object* msg = nullptr;
  Scheme_Object* back = nullptr;
  Registered reg(p, msg, back);
  const int rounds = std::getenv("KEEL_GC_STRESS") != nullptr ? 5 : 20;
  for (int i = 0; i < rounds; ++i) {
    msg = keel_test::BuildList(200, i);
    keel_place_channel_put(p, msg);
    keel_test::AllocateGarbage(64 << 10);
    scheme_collect_garbage();
    back = keel_place_channel_get(p);
    if (!keel_test::ListIsIota(back, 200, i)) {
      BOOST_TEST(false, "round " << i << ": the echo differs");
      break;
    }
  }
  keel_place_channel_put(p, scheme_false);
  BOOST_TEST(keel_place_wait(p) == 0);
}

BOOST_AUTO_TEST_CASE(channels_travel_through_channels) {
  Scheme_Object* p = keel_place_create(RelayMain, nullptr);
  Scheme_Object* a = nullptr;
  Scheme_Object* b = nullptr;
  Scheme_Object* got = nullptr;
  Registered reg(p, a, b, got);
  keel_place_channel_pair(&a, &b);
  keel_place_channel_put(p, b);  // the place sends on b; we read from a
  keel_place_channel_put(p, scheme_make_integer(99));
  got = keel_place_channel_get(a);
  BOOST_TEST(got == Sym("hello"));
  got = keel_place_channel_get(a);
  BOOST_TEST(got == scheme_make_integer(99));
  BOOST_TEST(keel_place_wait(p) == 0);
  // Both ends here too: a pair works within one place.
  keel_place_channel_put(b, scheme_make_integer(3));
  BOOST_TEST(keel_place_channel_get(a) == scheme_make_integer(3));
}

// A fixnum or a constant travels as the queue's word itself, without a message buffer: each
// comes back as itself, and a channel dropped with such words still queued frees cleanly.
BOOST_AUTO_TEST_CASE(immediate_messages_travel_as_themselves) {
  Scheme_Object* p = keel_place_create(EchoMain, nullptr);
  Scheme_Object* a = nullptr;
  Scheme_Object* b = nullptr;
  Registered reg(p, a, b);
  Scheme_Object* const values[] = {scheme_null, scheme_true, scheme_void, scheme_eof,
                                   scheme_make_integer(0), scheme_make_integer(-1),
                                   scheme_make_integer(INTPTR_MAX >> 1), scheme_make_integer(-(INTPTR_MAX >> 1) - 1)};
  for (Scheme_Object* v : values) {
    BOOST_TEST(keel_place_message_allowed(v) == 1);
    keel_place_channel_put(p, v);
    BOOST_TEST(keel_place_channel_get(p) == v);
  }
  keel_place_channel_put(p, scheme_false);
  BOOST_TEST(keel_place_wait(p) == 0);
  keel_place_channel_pair(&a, &b);
  for (Scheme_Object* v : values) keel_place_channel_put(a, v);
  keel_place_channel_put(a, keel_test::BuildList(3, 1));
  BOOST_TEST(keel_place_channel_try_get(b) == scheme_null);
  a = b = nullptr;  // the queues go with the ends' finalizers, words still in them
  keel_test::CollectClean();
  keel_test::CollectClean();
}

// A byte string or string of 256 KiB or more travels in a loose run that the receiver's heap
// adopts (places.md .sol.adopt): it arrives whole, terminated, with its immutability, as an
// object of the receiver's heap, through collections on both sides; a run reused for a later
// message holds that message's bytes only.
namespace {

Scheme_Object* BigBytes(intptr_t len, int seed) {
  Scheme_Object* s = scheme_alloc_byte_string(len, 0);
  char* b = SCHEME_BYTE_STR_VAL(s);
  for (intptr_t i = 0; i < len; ++i) b[i] = static_cast<char>((i * 7 + seed) & 0xFF);
  return s;
}

bool IsBigBytes(Scheme_Object* s, intptr_t len, int seed) {
  if (!SCHEME_BYTE_STRINGP(s) || SCHEME_BYTE_STRTAG_VAL(s) != len) return false;
  const char* b = SCHEME_BYTE_STR_VAL(s);
  for (intptr_t i = 0; i < len; ++i) {
    if (b[i] != static_cast<char>((i * 7 + seed) & 0xFF)) return false;
  }
  return b[len] == 0;
}

Scheme_Object* BigChars(intptr_t len, int seed) {
  Scheme_Object* s = scheme_alloc_char_string(len, 0);
  mzchar* c = SCHEME_CHAR_STR_VAL(s);
  for (intptr_t i = 0; i < len; ++i) c[i] = static_cast<mzchar>(0x10000 + (i * 13 + seed) % 0x1000);
  return s;
}

bool IsBigChars(Scheme_Object* s, intptr_t len, int seed) {
  if (!SCHEME_CHAR_STRINGP(s) || SCHEME_CHAR_STRTAG_VAL(s) != len) return false;
  const mzchar* c = SCHEME_CHAR_STR_VAL(s);
  for (intptr_t i = 0; i < len; ++i) {
    if (c[i] != static_cast<mzchar>(0x10000 + (i * 13 + seed) % 0x1000)) return false;
  }
  return c[len] == 0;
}

// Whether the payload of a received string is an object of this place's heap, starting there.
bool OwnObject(const void* payload) { return GC_base(const_cast<void*>(payload)) == payload; }

}  // namespace

BOOST_AUTO_TEST_CASE(big_strings_are_adopted_whole) {
  Scheme_Object* p = keel_place_create(ChurnEchoMain, nullptr);
  Scheme_Object* msg = nullptr;
  Scheme_Object* tmp = nullptr;
  Scheme_Object* back = nullptr;
  Registered reg(p, msg, tmp, back);
  const intptr_t byte_len = (1 << 20) + 3;  // a whole run and a little more
  const intptr_t char_len = 70000;          // 280,000 bytes of code points
  const int rounds = std::getenv("KEEL_GC_STRESS") != nullptr ? 3 : 8;
  for (int round = 0; round < rounds; ++round) {
    msg = scheme_make_vector(3, scheme_false);
    tmp = BigBytes(byte_len + round, round);
    SCHEME_VEC_ELS(msg)[0] = tmp;
    tmp = BigChars(char_len, round);
    SCHEME_SET_IMMUTABLE(tmp);
    SCHEME_VEC_ELS(msg)[1] = tmp;
    SCHEME_VEC_ELS(msg)[2] = SCHEME_VEC_ELS(msg)[0];  // shared: one copy arrives, twice referred to
    keel_place_channel_put(p, msg);
    msg = tmp = nullptr;
    back = keel_place_channel_get(p);
    keel_test::AllocateGarbage(256 << 10);
    scheme_collect_garbage();
    Scheme_Object** e = SCHEME_VEC_ELS(back);
    BOOST_TEST(IsBigBytes(e[0], byte_len + round, round), "round " << round);
    BOOST_TEST(IsBigChars(e[1], char_len, round), "round " << round);
    BOOST_TEST(SCHEME_IMMUTABLEP(e[1]));
    BOOST_TEST(!SCHEME_IMMUTABLEP(e[0]));
    BOOST_TEST((e[2] == e[0]));
    BOOST_TEST(OwnObject(SCHEME_BYTE_STR_VAL(e[0])));
    BOOST_TEST(OwnObject(SCHEME_CHAR_STR_VAL(e[1])));
    back = nullptr;  // dies here: its runs come back as spares for the next round
    scheme_collect_garbage();
  }
  keel_place_channel_put(p, scheme_false);
  BOOST_TEST(keel_place_wait(p) == 0);
  BOOST_TEST(keel_gc_verify_heap() == 0);
}

// Big messages that no place ever receives: the channel goes, its messages with it, and their
// runs are kept as spares up to a bound, then given back (keel_gc_release_memory drops them all).
BOOST_AUTO_TEST_CASE(undelivered_big_messages_are_given_back) {
  Scheme_Object* a = nullptr;
  Scheme_Object* b = nullptr;
  Scheme_Object* big = nullptr;
  Registered reg(a, b, big);
  keel_gc_release_memory();
  const size_t rss_before = keel_test::ResidentBytes();
  keel_place_channel_pair(&a, &b);
  big = BigBytes(2 << 20, 1);
  const int messages = std::getenv("KEEL_GC_STRESS") != nullptr ? 8 : 48;  // 96 MiB in flight
  for (int i = 0; i < messages; ++i) keel_place_channel_put(a, big);
  a = b = big = nullptr;
  keel_test::CollectClean();
  keel_test::CollectClean();
  keel_gc_release_memory();
  const size_t rss_after = keel_test::ResidentBytes();
  BOOST_TEST_MESSAGE("RSS before " << (rss_before >> 20) << " MiB, after " << (rss_after >> 20) << " MiB");
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
  BOOST_TEST(rss_after < rss_before + (16u << 20));
#endif
}

namespace {

// Gets a size in MiB; keeps that much in 4 KiB pointerful blocks, makes as much garbage, collects,
// and answers with (fresh pages handed out . problems the heap verifier found).
void FootprintMain(Scheme_Object* ch) {
  Scheme_Object* keep = nullptr;
  Scheme_Object* block = nullptr;
  Registered reg(ch, keep, block);
  const intptr_t mib = SCHEME_INT_VAL(keel_place_channel_get(ch));
  for (intptr_t i = 0; i < mib * 256; ++i) {
    block = scheme_make_vector(500, scheme_false);
    SCHEME_VEC_ELS(block)[0] = keep;
    keep = block;
  }
  keel_test::AllocateGarbage(static_cast<size_t>(mib) << 20);
  scheme_collect_garbage();
  uint64_t fresh = 0;
  for (size_t i = 0; i < keel_gc_record_count(); ++i) {
    keel_gc_record r{};
    if (keel_gc_get_record(i, &r) != 0) fresh += r.pages_fresh;
  }
  const int problems = keel_gc_verify_heap();
  keep = block = nullptr;
  block = scheme_make_pair(scheme_make_integer(static_cast<intptr_t>(fresh)), scheme_make_integer(problems));
  keel_place_channel_put(ch, block);
}

}  // namespace

// A place that follows one that ended takes that place's chunks (heap.md .sol.spares): its pages
// come backed, not fresh, and its heap is sound.
BOOST_AUTO_TEST_CASE(a_place_reuses_the_memory_of_one_that_ended) {
  Scheme_Object* p = nullptr;
  Scheme_Object* answer = nullptr;
  Registered reg(p, answer);
  keel_gc_release_memory();  // no spares from earlier cases
  const intptr_t mib = std::getenv("KEEL_GC_STRESS") != nullptr ? 2 : 12;
  intptr_t fresh[2] = {};
  for (int round = 0; round < 2; ++round) {
    p = keel_place_create(FootprintMain, scheme_make_integer(mib));
    answer = keel_place_channel_get(p);
    BOOST_TEST(keel_place_wait(p) == 0);
    BOOST_REQUIRE(SCHEME_PAIRP(answer));
    fresh[round] = SCHEME_INT_VAL(SCHEME_CAR(answer));
    BOOST_TEST(SCHEME_CDR(answer) == scheme_make_integer(0), "round " << round << ": the heap verifier found problems");
    p = answer = nullptr;
  }
  BOOST_TEST_MESSAGE("fresh 4 KiB pages handed out: " << fresh[0] << " by the first place, " << fresh[1] << " by the second");
  // Without spares the two would take about as many (the same work); here about half of the
  // first place's pages come back backed (the rest it had given back or never touched).
  BOOST_TEST(fresh[0] > 0);
  BOOST_TEST(fresh[1] * 4 <= fresh[0] * 3);
  keel_gc_release_memory();
}

BOOST_AUTO_TEST_CASE(try_get_and_timeout) {
  Scheme_Object* a = nullptr;
  Scheme_Object* b = nullptr;
  Registered reg(a, b);
  keel_place_channel_pair(&a, &b);
  BOOST_TEST(keel_place_channel_try_get(a) == nullptr);
  BOOST_TEST(keel_place_channel_get_timeout(a, 0.01) == nullptr);
  keel_place_channel_put(b, scheme_true);
  BOOST_TEST(keel_place_channel_try_get(a) == scheme_true);
  keel_place_channel_put(b, scheme_null);
  BOOST_TEST(keel_place_channel_get_timeout(a, 1.0) == scheme_null);
}

namespace {
struct PutArgs {
  Scheme_Object* ch;
  Scheme_Object* msg;
};
void PutCall(void* p) {
  auto* args = static_cast<PutArgs*>(p);
  keel_place_channel_put(args->ch, args->msg);
}
void TimeoutCall(void* p) { keel_place_channel_get_timeout(static_cast<Scheme_Object*>(p), -1.0); }
void GetCall(void* p) { keel_place_channel_get(*static_cast<Scheme_Object**>(p)); }
}  // namespace

// A receive that runs out of memory while it rebuilds the value raises out of memory and loses
// nothing: the message stays the next one to be taken, and arrives whole once memory allows.
BOOST_AUTO_TEST_CASE(a_receive_out_of_memory_loses_nothing) {
  Scheme_Object* a = nullptr;
  Scheme_Object* b = nullptr;
  Scheme_Object* v = nullptr;
  Registered reg(a, b, v);
  constexpr intptr_t kElements = intptr_t{1} << 20;  // 8 MiB of elements, and as much of table
  keel_place_channel_pair(&a, &b);
  v = scheme_make_vector(kElements, scheme_false);
  for (intptr_t i = 0; i < kElements; ++i) SCHEME_VEC_ELS(v)[i] = scheme_make_integer(i);
  keel_place_channel_put(a, v);
  keel_place_channel_put(a, scheme_make_integer(7));  // behind it
  v = nullptr;
  keel_test::CollectClean();
  keel_gc_stats st{};
  keel_gc_get_stats(&st);
  GC_set_max_heap_size(static_cast<GC_word>(st.heap_bytes + (4u << 20)));
  const keel_test::EscapeResult r = keel_test::RunWithErrorHandler(GetCall, &b);
  GC_set_max_heap_size(0);
  BOOST_TEST(r.escaped);
  BOOST_TEST(r.out_of_memory, r.message);
  v = keel_place_channel_get(b);
  bool whole = SCHEME_VECTORP(v) && SCHEME_VEC_SIZE(v) == kElements;
  for (intptr_t i = 0; whole && i < kElements; ++i) whole = SCHEME_VEC_ELS(v)[i] == scheme_make_integer(i);
  BOOST_TEST(whole);
  BOOST_TEST(keel_place_channel_get(b) == scheme_make_integer(7));
}

BOOST_AUTO_TEST_CASE(a_message_that_may_not_be_sent_is_an_error_and_nothing_is_sent) {
  Scheme_Object* a = nullptr;
  Scheme_Object* b = nullptr;
  Scheme_Object* msg = nullptr;
  Scheme_Object* bad = nullptr;
  Scheme_Object* pair = nullptr;
  Registered reg(a, b, msg, bad, pair);
  keel_place_channel_pair(&a, &b);
  bad = scheme_make_ephemeron(scheme_true, scheme_true);  // not a message
  msg = scheme_make_vector(3, scheme_false);
  pair = scheme_make_pair(scheme_make_integer(1), bad);  // before msg is read (3m moves it)
  SCHEME_VEC_ELS(msg)[2] = pair;
  BOOST_TEST(keel_place_message_allowed(msg) == 0);
  BOOST_TEST(keel_place_message_allowed(bad) == 0);
  PutArgs args{b, msg};
  keel_test::EscapeResult r = keel_test::RunWithErrorHandler(PutCall, &args);
  BOOST_TEST(r.escaped);
  BOOST_TEST(r.message.find("keel_place_channel_put") != std::string::npos, r.message);
  BOOST_TEST(r.message.find("ephemeron") != std::string::npos, r.message);
  BOOST_TEST(r.message.find("in the cdr of a pair in element 2 of a vector") != std::string::npos, r.message);
  BOOST_TEST(keel_place_channel_try_get(a) == nullptr);  // nothing was sent
  // Not a channel at all.
  PutArgs wrong{scheme_make_integer(5), scheme_true};
  r = keel_test::RunWithErrorHandler(PutCall, &wrong);
  BOOST_TEST(r.escaped);
  BOOST_TEST(r.message.find("expects a place channel") != std::string::npos, r.message);
  r = keel_test::RunWithErrorHandler(TimeoutCall, a);
  BOOST_TEST(r.escaped);
  BOOST_TEST(r.message.find("timeout") != std::string::npos, r.message);
}

BOOST_AUTO_TEST_CASE(exit_codes_errors_and_kill) {
  Scheme_Object* exits = keel_place_create(ExitWith7Main, nullptr);
  Scheme_Object* fails = nullptr;
  Scheme_Object* blocked = nullptr;
  Registered reg(exits, fails, blocked);
  fails = keel_place_create(ErrorMain, nullptr);
  blocked = keel_place_create(BlockMain, nullptr);
  BOOST_TEST(keel_place_wait(exits) == 7);
  BOOST_TEST(keel_place_wait(fails) == 1);  // the error's message went to stderr
  keel_place_kill(blocked);                 // woken from its blocking get
  BOOST_TEST(keel_place_wait(blocked) == 1);
  // This place goes on.
  BOOST_TEST(keel_test::ListIsIota(keel_test::BuildList(10), 10));
}

// 1,000 places started and finished one after another leave the process's memory flat: each
// place's heap, collector, chunk records and channel go when it ends (records to the pool).
BOOST_AUTO_TEST_CASE(many_places_one_after_another) {
  const int n = keel_test::ScaledCount(1000, 100);
  Scheme_Object* p = nullptr;
  Registered reg(p);
  int wrong = 0;
  size_t rss_after_warmup = 0;
  for (int i = 0; i < n; ++i) {
    p = keel_place_create(EchoMain, nullptr);
    keel_place_channel_put(p, scheme_make_integer(i));
    if (keel_place_channel_get(p) != scheme_make_integer(i)) ++wrong;
    keel_place_channel_put(p, scheme_false);
    if (keel_place_wait(p) != 0) ++wrong;
    if (i == n / 10) {
      scheme_collect_garbage();  // the descriptors so far and their finalizers
      rss_after_warmup = keel_test::ResidentBytes();
    }
  }
  scheme_collect_garbage();
  const size_t rss_end = keel_test::ResidentBytes();
  BOOST_TEST(wrong == 0);
  // Each place that kept its heap would hold at least a 4 MiB chunk (at least 16 KiB resident).
  // The sanitizers' shadow memory and quarantine make RSS say nothing about the collector.
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
  constexpr bool kRssMeans = true;
#else
  constexpr bool kRssMeans = false;
#endif
  if (kRssMeans) {
    BOOST_TEST(rss_end < rss_after_warmup + (size_t{8} << 20),
               "RSS grew from " << (rss_after_warmup >> 10) << " KiB to " << (rss_end >> 10) << " KiB over " << n << " places");
  }
}

BOOST_AUTO_TEST_SUITE_END()
