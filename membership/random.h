// A small deterministic generator (splitmix64): identical on every platform
// and standard library, unlike the distributions of <random>, so a seed
// replays the same simulation byte for byte everywhere.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

namespace phalanx::membership {

class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  // Integer in [0, n); 0 when n is 0. The modulo bias is below 2^-40 for the
  // sizes used here, which no test can see.
  uint64_t Below(uint64_t n) { return n == 0 ? 0 : Next() % n; }
  // True with probability p (0 ≤ p ≤ 1), in steps of 2^-53.
  bool Chance(double p) { return static_cast<double>(Next() >> 11) * 0x1.0p-53 < p; }
  // Fisher–Yates.
  template <typename T>
  void Shuffle(std::vector<T>* v) {
    for (size_t i = v->size(); i > 1; --i)
      std::swap((*v)[i - 1], (*v)[Below(i)]);
  }

 private:
  uint64_t state_;
};

}  // namespace phalanx::membership
