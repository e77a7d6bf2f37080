// The SWIM core's generator: splitmix64 (util/splitmix64.h), identical on
// every platform and standard library, unlike the distributions of <random>,
// so a seed replays the same simulation byte for byte everywhere.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "util/splitmix64.h"

namespace phalanx::membership {

class Rng : public util::SplitMix64 {
 public:
  using SplitMix64::SplitMix64;
  // Next() and Below(n) come from SplitMix64. Below's modulo bias is below
  // 2^-40 for the sizes used here, which no test can see.

  // True with probability p (0 ≤ p ≤ 1), in steps of 2^-53.
  bool Chance(double p) { return static_cast<double>(Next() >> 11) * 0x1.0p-53 < p; }
  // Fisher–Yates.
  template <typename T>
  void Shuffle(std::vector<T>* v) {
    for (size_t i = v->size(); i > 1; --i)
      std::swap((*v)[i - 1], (*v)[Below(i)]);
  }
};

}  // namespace phalanx::membership
