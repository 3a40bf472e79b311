// place_mains.h: place main functions that several suites start (keel_places.h).
#ifndef KEEL_TESTS_SUPPORT_PLACE_MAINS_H
#define KEEL_TESTS_SUPPORT_PLACE_MAINS_H

#include "keel_places.h"
#include "scheme.h"
#include "support/registered.h"

namespace keel_test {

// Echoes every message back until it gets #f.
inline void EchoMain(Scheme_Object* ch) {
  Registered reg(ch);
  for (;;) {
    Scheme_Object* msg = keel_place_channel_get(ch);
    if (msg == scheme_false) return;
    keel_place_channel_put(ch, msg);
  }
}

}  // namespace keel_test

#endif  // KEEL_TESTS_SUPPORT_PLACE_MAINS_H
