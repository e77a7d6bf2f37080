#include "tests/consensus/sim/sim_network.h"

#include <algorithm>
#include <utility>

namespace phalanx::consensus::sim {

uint64_t Network::Delay() {
  if (rates_.long_delay_permille > 0 && rng_->Chance(rates_.long_delay_permille)) {
    return rng_->Between(kUnitsPerTick, std::max(kUnitsPerTick, rates_.max_long_delay_units));
  }
  if (rng_->Chance(150)) return rng_->Between(3, 2 * kUnitsPerTick);
  return rng_->Between(1, 3);
}

void Network::Send(uint64_t now, const Message& m, uint64_t sender_boot) {
  queue_[now + Delay()].push_back({m, sender_boot});
  if (rates_.dup_permille > 0 && rng_->Chance(rates_.dup_permille)) {
    queue_[now + Delay()].push_back({m, sender_boot});
  }
}

std::vector<Packet> Network::TakeDue(uint64_t now) {
  std::vector<Packet> due;
  while (!queue_.empty() && queue_.begin()->first <= now) {
    auto it = queue_.begin();
    if (due.empty()) {
      due = std::move(it->second);
    } else {
      for (Packet& p : it->second) {
        due.push_back(std::move(p));
      }
    }
    queue_.erase(it);
  }
  // Fisher-Yates: packets due in the same unit arrive in any order.
  for (size_t i = due.size(); i > 1; --i) {
    std::swap(due[i - 1], due[rng_->Below(i)]);
  }
  return due;
}

void Network::HealLinks() {
  cut_ = {};
}

bool Network::AnyCut() const {
  for (const auto& row : cut_) {
    for (bool c : row) {
      if (c) return true;
    }
  }
  return false;
}

size_t Network::in_flight() const {
  size_t n = 0;
  for (const auto& [unit, packets] : queue_) {
    n += packets.size();
  }
  return n;
}

}  // namespace phalanx::consensus::sim
