// address_map_test.cpp: the collector's address map (gc/address_map.h) against std::unordered_map
// under seeded random inserts and erases, with keys laid out as the heap lays objects out:
// dense runs in one page (where a page's keys share a run of slots), one key per page, and
// strides that alias in the low bits.
#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <random>
#include <unordered_map>
#include <vector>

#include "gc/address_map.h"

namespace {

using keel::gc::AddressMap;

int g_values[1 << 16];  // the values only need distinct addresses

int* ValueFor(uintptr_t key) { return g_values + (key & 0xFFFF); }

// Keys of one layout: `n` addresses from `base`, `stride` apart.
std::vector<uintptr_t> Keys(uintptr_t base, uintptr_t stride, size_t n) {
  std::vector<uintptr_t> keys;
  for (size_t i = 0; i < n; ++i) keys.push_back(base + i * stride);
  return keys;
}

// Every key of `model` is found with its value, and `absent` keys are not.
bool Agrees(const AddressMap<int>& map, const std::unordered_map<uintptr_t, int*>& model,
            const std::vector<uintptr_t>& absent) {
  if (map.size() != model.size()) return false;
  for (const auto& [key, value] : model) {
    if (map.Find(key) != value) return false;
  }
  for (uintptr_t key : absent) {
    if (model.count(key) == 0 && map.Find(key) != nullptr) return false;
  }
  return true;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(address_map)

BOOST_AUTO_TEST_CASE(follows_a_model_under_random_inserts_and_erases) {
  const uintptr_t base = uintptr_t{0x7f1234560000};
  // 16-byte objects filling pages, one object per 4 KiB page, and a 64 KiB stride.
  for (uintptr_t stride : {uintptr_t{16}, uintptr_t{32}, uintptr_t{4096}, uintptr_t{65536}}) {
    const std::vector<uintptr_t> keys = Keys(base, stride, 20000);
    std::mt19937_64 rng(stride);
    AddressMap<int> map;
    std::unordered_map<uintptr_t, int*> model;
    for (int step = 0; step < 200000; ++step) {
      const uintptr_t key = keys[rng() % keys.size()];
      if (model.count(key) != 0) {
        map.Erase(key);
        model.erase(key);
      } else if (step % 2 == 0) {
        map.Insert(key, ValueFor(key));
        model.emplace(key, ValueFor(key));
      } else {
        int** slot = map.FindOrInsert(key);
        BOOST_TEST_REQUIRE(*slot == nullptr, "FindOrInsert found key " << key << ", which is absent");
        *slot = ValueFor(key);
        model.emplace(key, ValueFor(key));
      }
      // FindOrInsert of a present key finds its value and adds nothing.
      if (step % 7 == 0 && model.count(key) != 0) BOOST_TEST_REQUIRE(*map.FindOrInsert(key) == model[key]);
      if (step % 50000 == 0) map.Shrink();
    }
    BOOST_TEST(Agrees(map, model, keys), "stride " << stride);
    // Empty it in address order, as finalizers run, and shrink: nothing is left behind.
    for (uintptr_t key : keys) {
      map.Erase(key);
      model.erase(key);
    }
    map.Erase(base);  // absent: nothing happens
    map.Shrink();
    BOOST_TEST(map.size() == 0u);
    BOOST_TEST(Agrees(map, model, keys));
  }
}

BOOST_AUTO_TEST_CASE(erasing_inside_a_cluster_keeps_the_rest_findable) {
  // A page full of 16-byte keys makes one long run of occupied slots; erasing from its middle
  // and start must shift the rest back so every remaining key is still found.
  AddressMap<int> map;
  std::unordered_map<uintptr_t, int*> model;
  const std::vector<uintptr_t> keys = Keys(uintptr_t{0x5550000}, 16, 4096);
  for (uintptr_t key : keys) {
    map.Insert(key, ValueFor(key));
    model.emplace(key, ValueFor(key));
  }
  for (size_t i = 0; i < keys.size(); i += 3) {
    map.Erase(keys[i]);
    model.erase(keys[i]);
  }
  BOOST_TEST(Agrees(map, model, keys));
  for (size_t i = 1; i < keys.size(); i += 3) {
    map.Erase(keys[i]);
    model.erase(keys[i]);
  }
  map.Shrink();
  BOOST_TEST(Agrees(map, model, keys));
}

BOOST_AUTO_TEST_SUITE_END()
