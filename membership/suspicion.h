// One suspicion timer with Lifeguard's dynamic timeout (arXiv 1707.00788,
// §4.2; memberlist's suspicion.go is the model).
//
// A suspicion starts with the longest timeout, `max`, and every independent
// member that confirms it (a Suspect update from a distinct sender) shortens
// it on a logarithmic curve, reaching `min` after k confirmations:
//
//   timeout(c) = max(min, max − (max − min) · log(c + 1) / log(k + 1))
//
// The idea: a slow or partitioned member alone cannot get anyone declared
// dead quickly, while a member that many see failing is removed fast. The
// member that started the suspicion does not count as a confirmation.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <set>
#include <string>

namespace phalanx::membership {

class Suspicion {
 public:
  // `from` started it (at tick `start`); `k` confirmations bring it down
  // from max_ticks to min_ticks. k = 0 means min_ticks from the start.
  Suspicion(const std::string& from, int k, uint64_t min_ticks, uint64_t max_ticks, uint64_t start)
      : origin_(from), k_(k), min_(min_ticks), max_(std::max(min_ticks, max_ticks)), start_(start) {
    confirmers_.insert(from);
  }

  // Counts `from` as a confirmation. True only for a new, independent one
  // (then the caller re-gossips it so others shrink their timers too).
  bool Confirm(const std::string& from) {
    if (confirmations_ >= k_) return false;
    if (!confirmers_.insert(from).second) return false;
    ++confirmations_;
    return true;
  }

  uint64_t Timeout() const {
    if (k_ <= 0) return min_;
    double frac = std::log(confirmations_ + 1.0) / std::log(k_ + 1.0);
    double t = static_cast<double>(max_) - frac * static_cast<double>(max_ - min_);
    return std::max(min_, static_cast<uint64_t>(std::floor(t)));
  }
  // The tick at which the member is declared dead.
  uint64_t Deadline() const { return start_ + Timeout(); }
  int confirmations() const { return confirmations_; }
  // Who started it: what a push-pull passes on, so that hearsay is never
  // counted as an independent confirmation.
  const std::string& origin() const { return origin_; }

 private:
  std::string origin_;
  int k_;
  uint64_t min_;
  uint64_t max_;
  uint64_t start_;
  int confirmations_ = 0;
  std::set<std::string> confirmers_;
};

}  // namespace phalanx::membership
