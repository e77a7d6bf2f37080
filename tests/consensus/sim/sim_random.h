// The simulation's only source of randomness: one seeded generator per run,
// so that a seed names one exact execution and replays it step for step.
#pragma once

#include <cstdint>

namespace phalanx::consensus::sim {

// splitmix64: tiny, fast and identical on every platform (unlike the
// distributions of <random>, whose output the standard leaves unspecified).
class SimRandom {
 public:
  explicit SimRandom(uint64_t seed) : state_(seed) {}

  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  // Uniform enough in [0, n); 0 when n is 0.
  uint64_t Below(uint64_t n) { return n == 0 ? 0 : Next() % n; }
  // Uniform in [lo, hi].
  uint64_t Between(uint64_t lo, uint64_t hi) { return lo + Below(hi - lo + 1); }
  // True with probability `permille`/1000.
  bool Chance(uint32_t permille) { return Below(1000) < permille; }

 private:
  uint64_t state_;
};

}  // namespace phalanx::consensus::sim
