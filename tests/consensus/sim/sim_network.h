// The simulated network: a queue of messages in flight, each with a seeded
// random delay (so messages overtake each other), plus random loss,
// duplication and per-link cuts for partitions. Time is counted in units, a
// tenth of a tick: most messages arrive within a few units (a LAN is much
// faster than an election timeout), a few take up to several election
// timeouts (long reordering across terms).
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <vector>

#include "consensus/types.h"
#include "tests/consensus/sim/sim_random.h"

namespace phalanx::consensus::sim {

inline constexpr uint64_t kUnitsPerTick = 10;
inline constexpr NodeId kMaxNodeId = 8;

struct Packet {
  Message m;
  uint64_t sender_boot = 0;  // the sender's incarnation, for transport reports
};

class Network {
 public:
  struct Rates {
    uint32_t drop_permille = 0;
    uint32_t dup_permille = 0;
    uint32_t long_delay_permille = 0;
    uint64_t max_long_delay_units = 0;
  };

  explicit Network(SimRandom* rng) : rng_(rng) {}

  void set_rates(const Rates& r) { rates_ = r; }
  const Rates& rates() const { return rates_; }

  // Queues m (and maybe a duplicate) for delivery after a random delay.
  void Send(uint64_t now, const Message& m, uint64_t sender_boot);
  // The packets due at `now`, in random order.
  std::vector<Packet> TakeDue(uint64_t now);
  // Should this delivery be lost at random?
  bool RandomDrop() { return rates_.drop_permille > 0 && rng_->Chance(rates_.drop_permille); }

  bool IsCut(NodeId from, NodeId to) const { return cut_[from][to]; }
  void Cut(NodeId from, NodeId to) { cut_[from][to] = true; }
  void HealLinks();
  bool AnyCut() const;
  size_t in_flight() const;

 private:
  uint64_t Delay();

  SimRandom* rng_;
  Rates rates_;
  std::map<uint64_t, std::vector<Packet>> queue_;  // by delivery unit
  std::array<std::array<bool, kMaxNodeId + 1>, kMaxNodeId + 1> cut_{};
};

}  // namespace phalanx::consensus::sim
