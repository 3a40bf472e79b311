// address_map.h: a map from object addresses to pointers, for the collector's own tables (the
// finalizer records' index, docs/design/weak.md .sol.finalizers). Open addressing with linear
// probing over one array: a lookup is a multiply, a shift and usually one cache line, and an
// entry costs no allocation of its own (std::unordered_map makes and frees a node per entry,
// which was 40% of the time of registering, collecting and running a million finalizers).
// Deletion shifts the following entries back, so there are no tombstones; Shrink halves the
// table while it is less than an eighth full, so memory follows the live count down as well.
#ifndef KEEL_GC_ADDRESS_MAP_H
#define KEEL_GC_ADDRESS_MAP_H

#include <cstddef>
#include <cstdint>
#include <vector>

namespace keel::gc {

// Keys are nonzero addresses (zero marks an empty slot); each key is present at most once.
template <class T>
class AddressMap {
 public:
  T* Find(uintptr_t key) const {
    if (size_ == 0) return nullptr;
    for (size_t i = Home(key);; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.key == key) return s.value;
      if (s.key == 0) return nullptr;
    }
  }

  // The value slot of `key`, made (holding nullptr) when it is absent: a lookup and an insert
  // in one probe. The slot stays valid until the next insert or erase.
  T** FindOrInsert(uintptr_t key) {
    if ((size_ + 1) * 2 > slots_.size()) Resize(slots_.empty() ? kMinSlots : slots_.size() * 2);
    size_t i = Home(key);
    while (slots_[i].key != key) {
      if (slots_[i].key == 0) {
        slots_[i] = Slot{key, nullptr};
        ++size_;
        break;
      }
      i = (i + 1) & mask_;
    }
    return &slots_[i].value;
  }

  // `key` must be absent.
  void Insert(uintptr_t key, T* value) {
    if ((size_ + 1) * 2 > slots_.size()) Resize(slots_.empty() ? kMinSlots : slots_.size() * 2);
    Place(key, value);
    ++size_;
  }

  // Does nothing when `key` is absent.
  void Erase(uintptr_t key) {
    if (size_ == 0) return;
    size_t i = Home(key);
    while (slots_[i].key != key) {
      if (slots_[i].key == 0) return;
      i = (i + 1) & mask_;
    }
    // Backward shift: an entry after the hole moves into it unless its home lies cyclically
    // in (hole, entry], where a lookup would no longer pass the hole to find it.
    for (size_t j = i;;) {
      j = (j + 1) & mask_;
      if (slots_[j].key == 0) break;
      const size_t home = Home(slots_[j].key);
      const bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
      if (stays) continue;
      slots_[i] = slots_[j];
      i = j;
    }
    slots_[i] = Slot{};
    --size_;
  }

  // Halves the table while it is less than an eighth full. Erase never does: a table that
  // empties and fills again at every collection (finalizer records) would be rehashed down and
  // up each time; its owner calls this where the count has settled.
  void Shrink() {
    while (slots_.size() > kMinSlots && size_ * 8 < slots_.size()) Resize(slots_.size() / 2);
  }

  size_t size() const { return size_; }

 private:
  struct Slot {
    uintptr_t key = 0;
    T* value = nullptr;
  };
  static constexpr size_t kMinSlots = 64;

  // A 4 KiB page's keys land in one run of 512 slots, two per 16-byte granule, in address
  // order, so that registering (and dropping) objects in allocation order walks the table
  // instead of missing the cache at every entry; the run's start is the page number's Fibonacci
  // hash (its product's high bits), so pages scatter.
  size_t Home(uintptr_t key) const {
    const auto page = static_cast<size_t>(((key >> 12) * 0x9E3779B97F4A7C15ull) >> shift_);
    return (page + ((key >> 3) & 0x1FE)) & mask_;
  }

  void Place(uintptr_t key, T* value) {
    size_t i = Home(key);
    while (slots_[i].key != 0) i = (i + 1) & mask_;
    slots_[i] = Slot{key, value};
  }

  void Resize(size_t slots) {
    std::vector<Slot> old;
    old.swap(slots_);
    slots_.assign(slots, Slot{});
    mask_ = slots - 1;
    shift_ = 64;
    for (size_t n = slots; n > 1; n >>= 1) --shift_;
    for (const Slot& s : old) {
      if (s.key != 0) Place(s.key, s.value);
    }
  }

  std::vector<Slot> slots_;  // a power of two in size, at most half full
  size_t size_ = 0;
  size_t mask_ = 0;
  unsigned shift_ = 64;
};

}  // namespace keel::gc

#endif  // KEEL_GC_ADDRESS_MAP_H
