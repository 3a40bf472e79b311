// message.h: copying values between places (docs/design/places.md .sol.messages). The sender
// writes a value's graph into a Message, memory that belongs to no collector; the receiver
// rebuilds it in its own heap. Sharing and cycles are kept; symbols are interned again in the
// receiver; channel ends travel by reference. A big string's or byte string's characters go
// into a loose run, which the receiver's heap adopts whole (.sol.adopt).
#ifndef KEEL_PLACES_MESSAGE_H
#define KEEL_PLACES_MESSAGE_H

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "scheme.h"

namespace keel::places {

class End;

struct Message {
  std::vector<uint64_t> words;  // the nodes, then the root reference (the last word)
  std::vector<End*> ends;       // channel ends the message carries, one reference each
  std::vector<const void*> shared;  // master objects it carries, each held until it is destroyed
  // Loose runs (gc/heap.h) holding big payloads; nullptr once the receiver's heap adopted one.
  // The runs still here when the message is destroyed go back as spares.
  std::vector<void*> runs;
  size_t nodes = 0;             // objects the receiver allocates
  ~Message();
};

// A copy of v, or nullptr with *why set when v (or a part of it) may not be sent: *why names the
// part and where it was found ("a <procedure> in the car of the 3rd pair"). Allocates nothing in
// any collector, so no collection runs while it walks the graph (3m: nothing moves under it).
// A fixnum or a constant is no Message at all: the pointer is the value's word itself (an odd
// word, or a constant's small even code), which a queue carries like any other (.sol.messages).
Message* Serialize(Scheme_Object* v, std::string* why);
// The value rebuilt in the calling place's heap; its loose runs are adopted by that heap. The
// message stays the caller's.
Scheme_Object* Deserialize(Message* m);
void DestroyMessage(Message* m);

// The Scheme values for channel ends and places (scheme_place_bi_channel_type, scheme_place_type).
struct ChannelObject {
  Scheme_Object so;
  End* end;       // one reference, released by the object's finalizer
  void* place;    // the PlaceRecord of a place descriptor, nullptr for a plain end
};
// A new value for `end` in the calling place's heap; takes a reference on end, and on `place`
// (a PlaceRecord) already held for it. Its finalizer releases both.
Scheme_Object* NewChannelObject(End* end, void* place);
void ReleasePlaceRecord(void* place);  // place.cpp
// The end of a channel or place value, or nullptr when v is neither.
End* EndOf(Scheme_Object* v);

}  // namespace keel::places

#endif  // KEEL_PLACES_MESSAGE_H
