// message.cpp: writing a value's graph into a Message and rebuilding it in another place
// (message.h, docs/design/places.md .sol.messages).
#include "places/message.h"

#include <algorithm>
#include <cstring>
#include <new>

#include "gc/collector.h"
#include "gc/heap.h"
#include "gc/master.h"
#include "places/channel.h"
#include "runtime/alloc.h"
#include "runtime/gc_frame.h"
#include "runtime/objects.h"

namespace keel::places {

namespace {

// A reference to a value inside a message: a fixnum as itself (odd), a constant as its code
// times 4, a node as its index times 4 plus 2.
constexpr uint64_t kNodeTag = 2;
enum Constant : uint64_t { kNull = 0, kTrue, kFalse, kVoid, kEof, kConstants };

enum class NodeKind : uint8_t {
  kPair = 1,     // car, cdr (its type says whether it is mutable)
  kVector,       // length, elements
  kBox,          // value
  kDouble,       // the bits
  kChar,         // the code point
  kBignum,       // sign, limb count, limbs
  kCharString,   // length, code points two to a word
  kByteString,   // length, bytes eight to a word
  kSymbol,       // length, UTF-8 bytes eight to a word
  kChannel,      // index into Message::ends
  kFlvector,     // length, the elements' bits
  kShared,       // a master object, by reference (held by the message while it is in flight)
  kLooseBytes,   // a byte string: length, index into Message::runs (the bytes, then a NUL)
  kLooseChars,   // a char string: length, index into Message::runs (the code points, then 0)
};

// A string or byte string of at least this many bytes travels in a loose run of its own, which
// the receiver adopts (.sol.adopt): its bytes are copied once, by the sender. Below it, copying
// them into the message and once more into the receiver's heap costs less than a mapping.
constexpr size_t kLooseBytes = size_t{256} << 10;

// A byte string, string or flonum vector of the master heap (scheme_alloc_shared_byte_string).
bool IsShared(Scheme_Object* v) { return SCHEME_SHARED_ALLOCATEDP(v) && keel::gc::master::Holds(v); }

// Node header: kind, the object's type tag and its keyex bits (immutability), in one word.
uint64_t Header(NodeKind kind, Scheme_Type type, short keyex) {
  return uint64_t{static_cast<uint8_t>(kind)} | (uint64_t{static_cast<uint16_t>(type)} << 8) |
         (uint64_t{static_cast<uint16_t>(keyex)} << 24);
}
NodeKind KindOf(uint64_t header) { return static_cast<NodeKind>(header & 0xFF); }
Scheme_Type TypeOf(uint64_t header) { return static_cast<Scheme_Type>((header >> 8) & 0xFFFF); }
short KeyexOf(uint64_t header) { return static_cast<short>((header >> 24) & 0xFFFF); }

bool ConstantCode(Scheme_Object* v, uint64_t* code) {
  if (v == scheme_null) *code = kNull;
  else if (v == scheme_true) *code = kTrue;
  else if (v == scheme_false) *code = kFalse;
  else if (v == scheme_void) *code = kVoid;
  else if (v == scheme_eof) *code = kEof;
  else return false;
  return true;
}

Scheme_Object* ConstantValue(uint64_t code) {
  static Scheme_Object* const values[kConstants] = {scheme_null, scheme_true, scheme_false, scheme_void, scheme_eof};
  return values[code];
}

// Appends `bytes` bytes as whole words (the last one zero-padded). Room is made for one word
// more, the root reference that ends every message: growing a 4 MB message's vector for that
// one word would copy it into fresh memory again.
void PutBytes(std::vector<uint64_t>& words, const void* data, size_t bytes) {
  const size_t first = words.size();
  const size_t need = first + (bytes + 7) / 8 + 1;
  if (need > words.capacity()) words.reserve(std::max(need, 2 * words.capacity()));
  words.resize(first + (bytes + 7) / 8, 0);
  if (bytes != 0) std::memcpy(&words[first], data, bytes);
}

// Where a node was found, for the message naming a part that may not be sent.
struct Origin {
  uint32_t parent;  // node index; kNoParent for the root
  uint64_t field;   // kCar, kCdr, kBoxed, or kElement + i
};
constexpr uint32_t kNoParent = UINT32_MAX;
constexpr uint64_t kCar = 0, kCdr = 1, kBoxed = 2, kElement = 3;

// The writer's map from an object's address to its node number: open addressing with linear
// probing, no allocation per entry. Each entry carries the stamp of the message that made it, so
// starting the next message clears nothing: older stamps read as empty slots.
class AddressIndex {
 public:
  // A new message: every entry so far is forgotten.
  void Start() {
    if (++stamp_ == 0) {  // wrapped: old stamps could read as current again
      std::fill(slots_.begin(), slots_.end(), Slot{});
      stamp_ = 1;
    }
    count_ = 0;
  }
  // Lets go of the table when it has room for more than `nodes` entries.
  void Trim(size_t nodes) {
    if (slots_.size() > 2 * nodes) {
      std::vector<Slot>().swap(slots_);
      count_ = 0;
    }
  }
  // The node number of v; `next` is entered for it (and *fresh set) when it has none yet.
  uint32_t FindOrInsert(Scheme_Object* v, uint32_t next, bool* fresh) {
    if (2 * (count_ + 1) > slots_.size()) Grow();
    const size_t mask = slots_.size() - 1;
    for (size_t i = Hash(v) & mask;; i = (i + 1) & mask) {
      Slot& s = slots_[i];
      if (s.stamp != stamp_) {
        s = Slot{v, next, stamp_};
        ++count_;
        *fresh = true;
        return next;
      }
      if (s.key == v) {
        *fresh = false;
        return s.node;
      }
    }
  }

 private:
  struct Slot {
    Scheme_Object* key = nullptr;
    uint32_t node = 0;
    uint32_t stamp = 0;  // 0: never used
  };
  static size_t Hash(Scheme_Object* v) {
    return static_cast<size_t>((reinterpret_cast<uint64_t>(v) >> 3) * 0x9E3779B97F4A7C15ull >> 20);
  }
  void Grow() {
    std::vector<Slot> old(std::max<size_t>(64, 2 * slots_.size()));
    old.swap(slots_);
    const size_t mask = slots_.size() - 1;
    for (const Slot& s : old) {
      if (s.stamp != stamp_) continue;
      size_t i = Hash(s.key) & mask;
      while (slots_[i].stamp == stamp_) i = (i + 1) & mask;
      slots_[i] = s;
    }
  }

  std::vector<Slot> slots_;  // a power of two, at most half full
  size_t count_ = 0;
  uint32_t stamp_ = 0;
};

// What a Writer collects while it walks, kept per thread from one message to the next so that
// a message costs no allocation for it once the containers have grown (a place sends many).
// The words are written here too, and copied into the message, at its exact size, at the end.
struct WriterScratch {
  std::vector<Scheme_Object*> order;
  std::vector<Origin> origins;
  AddressIndex index;
  std::vector<uint64_t> words;
};

class Writer {
 public:
  // `scratch` is empty, and left empty.
  Writer(Message* m, WriterScratch& scratch)
      : m_(m), order_(scratch.order), origins_(scratch.origins), index_(scratch.index), w_(scratch.words) {
    index_.Start();
  }
  // What one huge message grew is not kept for the rest of the thread's life.
  ~Writer() {
    Reset(order_);
    Reset(origins_);
    Reset(w_);
    if (order_.capacity() == 0) index_.Trim(kKeptNodes);
  }
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  // The message, or false with *why set.
  bool Write(Scheme_Object* root, std::string* why) {
    uint64_t root_ref = 0;
    if (!Ref(root, kNoParent, 0, &root_ref, why)) return false;
    for (size_t i = 0; i < order_.size(); ++i) {
      if (!WriteNode(static_cast<uint32_t>(i), why)) return false;
    }
    w_.push_back(root_ref);
    m_->words.assign(w_.begin(), w_.end());
    m_->nodes = order_.size();
    return true;
  }

 private:
  bool Ref(Scheme_Object* v, uint32_t parent, uint64_t field, uint64_t* out, std::string* why) {
    uint64_t code = 0;
    if (SCHEME_INTP(v)) {
      *out = reinterpret_cast<uint64_t>(v);
      return true;
    }
    if (v == nullptr) return Refuse("a NULL pointer", parent, field, why);
    if (ConstantCode(v, &code)) {
      *out = code << 2;
      return true;
    }
    // Node numbers are 32 bits, the last one kept apart (kNoParent).
    if (order_.size() >= kNoParent) return Refuse("too many objects (more than 4,294,967,294)", parent, field, why);
    bool fresh = false;
    const uint32_t node = index_.FindOrInsert(v, static_cast<uint32_t>(order_.size()), &fresh);
    if (fresh) {
      // A refusal ends the whole message, so the entry just made is never looked at again.
      if (!IsShared(v) && !Sendable(v)) {
        std::string what = std::string("a value of type ") + scheme_get_type_name(SCHEME_TYPE(v));
        return Refuse(what.c_str(), parent, field, why);
      }
      order_.push_back(v);
      origins_.push_back(Origin{parent, field});
    }
    *out = (uint64_t{node} << 2) | kNodeTag;
    return true;
  }

  static bool Sendable(Scheme_Object* v) {
    switch (SCHEME_TYPE(v)) {
      case scheme_pair_type:
      case scheme_mutable_pair_type:
      case scheme_vector_type:
      case scheme_box_type:
      case scheme_double_type:
      case scheme_char_type:
      case scheme_bignum_type:
      case scheme_char_string_type:
      case scheme_byte_string_type:
      case scheme_symbol_type:
      case scheme_flvector_type:
      case scheme_place_type:
      case scheme_place_bi_channel_type:
        return true;
      default:
        return false;
    }
  }

  bool WriteNode(uint32_t i, std::string* why) {
    Scheme_Object* v = order_[i];
    std::vector<uint64_t>& w = w_;
    const Scheme_Type type = SCHEME_TYPE(v);
    const short keyex = v->keyex;
    uint64_t a = 0, b = 0;
    if (IsShared(v)) {
      m_->shared.push_back(v);
      keel::gc::master::HoldInFlight(v);
      w.insert(w.end(), {Header(NodeKind::kShared, type, 0), reinterpret_cast<uint64_t>(v)});
      return true;
    }
    switch (type) {
      case scheme_pair_type:
      case scheme_mutable_pair_type:
        if (!Ref(SCHEME_CAR(v), i, kCar, &a, why) || !Ref(SCHEME_CDR(v), i, kCdr, &b, why)) return false;
        w.insert(w.end(), {Header(NodeKind::kPair, type, keyex), a, b});
        return true;
      case scheme_vector_type: {
        const intptr_t n = SCHEME_VEC_SIZE(v);
        w.push_back(Header(NodeKind::kVector, type, keyex));
        w.push_back(static_cast<uint64_t>(n));
        for (intptr_t k = 0; k < n; ++k) {
          if (!Ref(SCHEME_VEC_ELS(v)[k], i, kElement + static_cast<uint64_t>(k), &a, why)) return false;
          w.push_back(a);
        }
        return true;
      }
      case scheme_box_type:
        if (!Ref(SCHEME_BOX_VAL(v), i, kBoxed, &a, why)) return false;
        w.insert(w.end(), {Header(NodeKind::kBox, type, keyex), a});
        return true;
      case scheme_double_type: {
        const double d = SCHEME_DBL_VAL(v);
        std::memcpy(&a, &d, sizeof d);
        w.insert(w.end(), {Header(NodeKind::kDouble, type, keyex), a});
        return true;
      }
      case scheme_char_type:
        w.insert(w.end(), {Header(NodeKind::kChar, type, keyex), SCHEME_CHAR_VAL(v)});
        return true;
      case scheme_bignum_type: {
        const intptr_t len = SCHEME_BIGLEN(v);
        w.insert(w.end(), {Header(NodeKind::kBignum, type, keyex), static_cast<uint64_t>(SCHEME_BIGPOS(v)),
                           static_cast<uint64_t>(len)});
        PutBytes(w, SCHEME_BIGDIG(v), static_cast<size_t>(len) * sizeof(uintptr_t));
        return true;
      }
      case scheme_char_string_type: {
        const intptr_t len = SCHEME_CHAR_STRTAG_VAL(v);
        if (PutLoose(NodeKind::kLooseChars, type, keyex, len, SCHEME_CHAR_STR_VAL(v), sizeof(mzchar))) return true;
        w.insert(w.end(), {Header(NodeKind::kCharString, type, keyex), static_cast<uint64_t>(len)});
        PutBytes(w, SCHEME_CHAR_STR_VAL(v), static_cast<size_t>(len) * sizeof(mzchar));
        return true;
      }
      case scheme_byte_string_type: {
        const intptr_t len = SCHEME_BYTE_STRTAG_VAL(v);
        if (PutLoose(NodeKind::kLooseBytes, type, keyex, len, SCHEME_BYTE_STR_VAL(v), 1)) return true;
        w.insert(w.end(), {Header(NodeKind::kByteString, type, keyex), static_cast<uint64_t>(len)});
        PutBytes(w, SCHEME_BYTE_STR_VAL(v), static_cast<size_t>(len));
        return true;
      }
      case scheme_flvector_type: {
        const intptr_t len = SCHEME_FLVEC_SIZE(v);
        w.insert(w.end(), {Header(NodeKind::kFlvector, type, keyex), static_cast<uint64_t>(len)});
        PutBytes(w, SCHEME_FLVEC_ELS(v), static_cast<size_t>(len) * sizeof(double));
        return true;
      }
      case scheme_symbol_type: {
        const intptr_t len = SCHEME_SYM_LEN(v);
        w.insert(w.end(), {Header(NodeKind::kSymbol, type, keyex), static_cast<uint64_t>(len)});
        PutBytes(w, SCHEME_SYM_VAL(v), static_cast<size_t>(len));
        return true;
      }
      default: {  // a channel or a place: its end, by reference
        End* end = EndOf(v);
        end->AddRef();
        m_->ends.push_back(end);
        w.insert(w.end(), {Header(NodeKind::kChannel, scheme_place_bi_channel_type, 0), m_->ends.size() - 1});
        return true;
      }
    }
  }

  // A big payload of `len` elements of `unit` bytes, and a zero terminator, into a loose run;
  // false when it is small, or when no run can be had (then it goes into the words).
  bool PutLoose(NodeKind kind, Scheme_Type type, short keyex, intptr_t len, const void* data, size_t unit) {
    const size_t bytes = static_cast<size_t>(len) * unit;
    if (bytes < kLooseBytes) return false;
    m_->runs.reserve(m_->runs.size() + 1);  // so that a taken run always has its slot
    w_.reserve(w_.size() + 4);
    auto* run = static_cast<char*>(keel::gc::Heap::TakeLooseRun(bytes + unit));
    if (run == nullptr) return false;
    std::memcpy(run, data, bytes);
    std::memset(run + bytes, 0, unit);  // a spare run holds its last payload
    m_->runs.push_back(run);
    w_.insert(w_.end(), {Header(kind, type, keyex), static_cast<uint64_t>(len), m_->runs.size() - 1});
    return true;
  }

  // "a value of type <procedure> in the car of the cdr of the message" (innermost first, the
  // path cut short past a few levels).
  bool Refuse(const char* what, uint32_t parent, uint64_t field, std::string* why) {
    std::string s = what;
    int depth = 0;
    while (parent != kNoParent) {
      if (++depth > 6) {
        s += " in ...";
        break;
      }
      if (field == kCar) s += " in the car of a pair";
      else if (field == kCdr) s += " in the cdr of a pair";
      else if (field == kBoxed) s += " in a box";
      else s += " in element " + std::to_string(field - kElement) + " of a vector";
      field = origins_[parent].field;
      parent = origins_[parent].parent;
    }
    *why = s + (depth == 0 ? " (the message itself)" : "");
    return false;
  }

  Message* m_;
  std::vector<Scheme_Object*>& order_;
  std::vector<Origin>& origins_;
  AddressIndex& index_;
  std::vector<uint64_t>& w_;  // the words, copied into the message at the end

  static constexpr size_t kKeptNodes = size_t{1} << 16;
  template <class T>
  static void Reset(std::vector<T>& v) {
    if (v.capacity() > 4 * kKeptNodes) {
      std::vector<T>().swap(v);
    } else {
      v.clear();
    }
  }
};

}  // namespace

namespace {

// Immediate messages (Serialize): a fixnum's own odd word, or a constant's code times 8 plus 2,
// below kImmediateLimit, where no allocation lies.
constexpr uintptr_t kImmediateLimit = 4096;
bool IsImmediate(const Message* m) {
  const auto w = reinterpret_cast<uintptr_t>(m);
  return (w & 1) != 0 || w < kImmediateLimit;
}

}  // namespace

Message::~Message() {
  for (void* run : runs) {
    if (run != nullptr) keel::gc::Heap::DropLooseRun(run);
  }
  for (End* e : ends) e->Release();
  for (const void* p : shared) keel::gc::master::ReleaseInFlight(p);
}

void DestroyMessage(Message* m) {
  if (!IsImmediate(m)) delete m;
}

Message* Serialize(Scheme_Object* v, std::string* why) {
  uint64_t code = 0;
  if (SCHEME_INTP(v)) return reinterpret_cast<Message*>(v);
  if (v != nullptr && ConstantCode(v, &code)) return reinterpret_cast<Message*>(static_cast<uintptr_t>(code * 8 + 2));
  auto* m = new (std::nothrow) Message;
  if (m == nullptr) {
    *why = "out of memory";
    return nullptr;
  }
  try {
    // Serialize calls no user code, so it never runs twice at once on one thread.
    static thread_local WriterScratch scratch;
    Writer writer(m, scratch);
    if (writer.Write(v, why)) return m;
  } catch (const std::bad_alloc&) {
    *why = "out of memory while copying it";
  }
  delete m;
  return nullptr;
}

namespace {

// The receiver's array over a loose run's `count` elements of T and their terminator: the run
// adopted by the calling place's heap (the slot cleared, so the message no longer drops it), or,
// where the heap cannot take one more chunk, a copy.
template <class T>
T* AdoptPayload(Message& m, uint64_t slot, intptr_t count) {
  void* run = m.runs[slot];
  const size_t bytes = (static_cast<size_t>(count) + 1) * sizeof(T);
  if (void* p = keel::gc::Collector::CurrentPlace("keel_place_channel_get").AdoptLooseRun(run, bytes)) {
    m.runs[slot] = nullptr;
    return static_cast<T*>(p);
  }
  T* copy = keel::rt::NewAtomicArray<T>(count, "keel_place_channel_get");
  std::memcpy(copy, run, static_cast<size_t>(count) * sizeof(T));
  return copy;
}

}  // namespace

Scheme_Object* Deserialize(Message* message) {
  if (IsImmediate(message)) {
    const auto word = reinterpret_cast<uintptr_t>(message);
    return (word & 1) != 0 ? reinterpret_cast<Scheme_Object*>(word) : ConstantValue(word / 8);
  }
  Message& m = *message;
  const std::vector<uint64_t>& w = m.words;
  if (m.nodes == 0) {
    const uint64_t root = w.back();
    return (root & 1) != 0 ? reinterpret_cast<Scheme_Object*>(root) : ConstantValue(root >> 2);
  }
  // Phase 1 makes every object, with placeholders where references go, and keeps it in a
  // registered table (3m moves objects at each allocation); phase 2 allocates nothing and fills
  // the references in from the table.
  Scheme_Object* table = scheme_make_vector(static_cast<intptr_t>(m.nodes), scheme_false);
  keel::rt::GcFrame frame(table);
  size_t at = 0;
  for (size_t i = 0; i < m.nodes; ++i) {
    const uint64_t header = w[at];
    Scheme_Object* obj = nullptr;
    switch (KindOf(header)) {
      case NodeKind::kPair:
        obj = TypeOf(header) == scheme_mutable_pair_type ? scheme_make_mutable_pair(scheme_false, scheme_false)
                                                         : scheme_make_pair(scheme_false, scheme_false);
        at += 3;
        break;
      case NodeKind::kVector: {
        const auto n = static_cast<intptr_t>(w[at + 1]);
        obj = scheme_make_vector(n, scheme_false);
        at += 2 + static_cast<size_t>(n);
        break;
      }
      case NodeKind::kBox:
        obj = scheme_box(scheme_false);
        at += 2;
        break;
      case NodeKind::kDouble: {
        double d = 0;
        std::memcpy(&d, &w[at + 1], sizeof d);
        obj = scheme_make_double(d);
        at += 2;
        break;
      }
      case NodeKind::kChar:
        obj = scheme_make_char(static_cast<mzchar>(w[at + 1]));
        at += 2;
        break;
      case NodeKind::kBignum: {
        const bool positive = w[at + 1] != 0;
        const auto len = static_cast<intptr_t>(w[at + 2]);
        auto* limbs = static_cast<uintptr_t*>(scheme_malloc_atomic(static_cast<size_t>(len) * sizeof(uintptr_t)));
        std::memcpy(limbs, &w[at + 3], static_cast<size_t>(len) * sizeof(uintptr_t));
        obj = keel::rt::MakeIntegerFromLimbs(limbs, len, positive);
        at += 3 + static_cast<size_t>(len);
        break;
      }
      case NodeKind::kCharString: {  // the characters written once, not filled first
        const auto len = static_cast<intptr_t>(w[at + 1]);
        mzchar* chars = keel::rt::NewAtomicArray<mzchar>(len, "keel_place_channel_get");
        std::memcpy(chars, &w[at + 2], static_cast<size_t>(len) * sizeof(mzchar));
        obj = keel::rt::WrapCharString(chars, len);
        at += 2 + (static_cast<size_t>(len) * sizeof(mzchar) + 7) / 8;
        break;
      }
      case NodeKind::kByteString: {
        const auto len = static_cast<intptr_t>(w[at + 1]);
        char* bytes = keel::rt::NewAtomicArray<char>(len, "keel_place_channel_get");
        std::memcpy(bytes, &w[at + 2], static_cast<size_t>(len));
        obj = keel::rt::WrapByteString(bytes, len);
        at += 2 + (static_cast<size_t>(len) + 7) / 8;
        break;
      }
      case NodeKind::kLooseChars: {
        const auto len = static_cast<intptr_t>(w[at + 1]);
        obj = keel::rt::WrapCharString(AdoptPayload<mzchar>(m, w[at + 2], len), len);
        at += 3;
        break;
      }
      case NodeKind::kLooseBytes: {
        const auto len = static_cast<intptr_t>(w[at + 1]);
        obj = keel::rt::WrapByteString(AdoptPayload<char>(m, w[at + 2], len), len);
        at += 3;
        break;
      }
      case NodeKind::kSymbol: {
        const auto len = static_cast<uintptr_t>(w[at + 1]);
        obj = scheme_intern_exact_symbol(reinterpret_cast<const char*>(&w[at + 2]), len);
        at += 2 + (len + 7) / 8;
        break;
      }
      case NodeKind::kChannel:
        obj = NewChannelObject(m.ends[w[at + 1]], nullptr);
        at += 2;
        break;
      case NodeKind::kFlvector: {
        const auto len = static_cast<intptr_t>(w[at + 1]);
        obj = scheme_alloc_flvector(len);
        std::memcpy(SCHEME_FLVEC_ELS(obj), &w[at + 2], static_cast<size_t>(len) * sizeof(double));
        at += 2 + static_cast<size_t>(len);
        break;
      }
      case NodeKind::kShared:
        obj = reinterpret_cast<Scheme_Object*>(w[at + 1]);  // the same object, not a copy
        keel::gc::master::NoteHeld(obj);  // the place refers to it now (places.md .sol.blocking)
        at += 2;
        break;
    }
    if (KindOf(header) != NodeKind::kSymbol && KindOf(header) != NodeKind::kChannel &&
        KindOf(header) != NodeKind::kChar && KindOf(header) != NodeKind::kShared && !SCHEME_INTP(obj)) {
      obj->keyex = KeyexOf(header);  // immutability as sent
    }
    SCHEME_VEC_ELS(table)[i] = obj;
  }
  Scheme_Object** objs = SCHEME_VEC_ELS(table);
  auto resolve = [objs](uint64_t ref) -> Scheme_Object* {
    if ((ref & 1) != 0) return reinterpret_cast<Scheme_Object*>(ref);
    if ((ref & 3) == kNodeTag) return objs[ref >> 2];
    return ConstantValue(ref >> 2);
  };
  at = 0;
  for (size_t i = 0; i < m.nodes; ++i) {
    const uint64_t header = w[at];
    Scheme_Object* obj = objs[i];
    switch (KindOf(header)) {
      case NodeKind::kPair:
        SCHEME_CAR(obj) = resolve(w[at + 1]);
        SCHEME_CDR(obj) = resolve(w[at + 2]);
        at += 3;
        break;
      case NodeKind::kVector: {
        const auto n = static_cast<size_t>(w[at + 1]);
        for (size_t k = 0; k < n; ++k) SCHEME_VEC_ELS(obj)[k] = resolve(w[at + 2 + k]);
        at += 2 + n;
        break;
      }
      case NodeKind::kBox:
        SCHEME_SET_BOX(obj, resolve(w[at + 1]));
        at += 2;
        break;
      case NodeKind::kDouble:
      case NodeKind::kChar:
      case NodeKind::kChannel:
      case NodeKind::kShared:
        at += 2;
        break;
      case NodeKind::kLooseBytes:
      case NodeKind::kLooseChars:
        at += 3;
        break;
      case NodeKind::kFlvector:
        at += 2 + static_cast<size_t>(w[at + 1]);
        break;
      case NodeKind::kBignum:
        at += 3 + static_cast<size_t>(w[at + 2]);
        break;
      case NodeKind::kCharString:
        at += 2 + (static_cast<size_t>(w[at + 1]) * sizeof(mzchar) + 7) / 8;
        break;
      case NodeKind::kByteString:
      case NodeKind::kSymbol:
        at += 2 + (static_cast<size_t>(w[at + 1]) + 7) / 8;
        break;
    }
  }
  return resolve(w.back());
}

namespace {

// The finalizer of every channel and place value: lets go of the end (and the place record).
void ReleaseChannelObject(void* obj, void*) {
  auto* o = static_cast<ChannelObject*>(obj);
  if (o->end != nullptr) o->end->Release();
  o->end = nullptr;
  if (o->place != nullptr) ReleasePlaceRecord(o->place);
  o->place = nullptr;
}

}  // namespace

Scheme_Object* NewChannelObject(End* end, void* place) {
  auto* o = keel::rt::NewAtomic<ChannelObject>(place != nullptr ? scheme_place_type : scheme_place_bi_channel_type);
  o->end = end;
  o->place = place;
  end->AddRef();
  Scheme_Object* obj = reinterpret_cast<Scheme_Object*>(o);
  keel::rt::GcFrame frame(obj);  // registering may collect, and 3m may move the new object
  scheme_add_finalizer(obj, ReleaseChannelObject, nullptr);
  return obj;
}

End* EndOf(Scheme_Object* v) {
  if (SCHEME_INTP(v) || v == nullptr) return nullptr;
  if (v->type != scheme_place_type && v->type != scheme_place_bi_channel_type) return nullptr;
  return reinterpret_cast<ChannelObject*>(v)->end;
}

}  // namespace keel::places
