// splitmix64: a tiny deterministic generator, identical on every platform and
// standard library (unlike the distributions of <random>), so a seed replays
// the same sequence everywhere. Not for secrets.
#pragma once

#include <cstdint>

namespace phalanx::util {

class SplitMix64 {
 public:
  // The generator's increment (2^64 / the golden ratio), also a good odd
  // constant for mixing seeds.
  static constexpr uint64_t kGamma = 0x9e3779b97f4a7c15ull;

  explicit SplitMix64(uint64_t seed) : state_(seed) {}

  uint64_t Next() {
    uint64_t z = (state_ += kGamma);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  // Integer in [0, n); 0 when n is 0. The modulo bias is below n / 2^64.
  uint64_t Below(uint64_t n) { return n == 0 ? 0 : Next() % n; }

 private:
  uint64_t state_;
};

}  // namespace phalanx::util
