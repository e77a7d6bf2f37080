// The simulation's only source of randomness: one seeded generator per run,
// so that a seed names one exact execution and replays it step for step.
#pragma once

#include <cstdint>

#include "util/splitmix64.h"

namespace phalanx::consensus::sim {

// splitmix64 (util/splitmix64.h): identical on every platform, unlike the
// distributions of <random>, whose output the standard leaves unspecified.
// Next() and Below(n) (0 when n is 0) come from SplitMix64.
class SimRandom : public util::SplitMix64 {
 public:
  using SplitMix64::SplitMix64;

  // Uniform in [lo, hi].
  uint64_t Between(uint64_t lo, uint64_t hi) { return lo + Below(hi - lo + 1); }
  // True with probability `permille`/1000.
  bool Chance(uint32_t permille) { return Below(1000) < permille; }
};

}  // namespace phalanx::consensus::sim
