// The simulated application: a digest of every applied entry plus the applied
// index and the membership in force, all durable together (the real engine
// commits the KV write, the applied index and the ConfState in one WiredTiger
// transaction). A crash keeps this object; a snapshot serializes it.
#pragma once

#include <cstdint>
#include <string>

#include "consensus/types.h"

namespace phalanx::consensus::sim {

class StateMachine {
 public:
  uint64_t applied() const { return applied_; }
  // A running hash of (index, term, type, data) of every entry applied so far:
  // two nodes at the same applied index hold the same state iff these match.
  uint64_t digest() const { return digest_; }
  uint64_t commands() const { return commands_; }
  const ConfState& conf_state() const { return conf_state_; }

  // Applies the next entry (index must be applied()+1).
  void Apply(const Entry& e);
  // Records the membership after applying a conf change entry.
  void SetConfState(const ConfState& cs) { conf_state_ = cs; }

  // Snapshot data: everything above. Restore replaces the whole state.
  std::string Serialize() const;
  bool Restore(const std::string& data, uint64_t index, const ConfState& cs);
  // The state a freshly bootstrapped cluster starts from at `index`.
  static std::string InitialData(uint64_t index);

 private:
  uint64_t applied_ = 0;
  uint64_t digest_ = 0;
  uint64_t commands_ = 0;  // non-empty normal entries applied
  ConfState conf_state_;
};

// Hash of an entry's content (not its position).
uint64_t EntryContentHash(const Entry& e);

}  // namespace phalanx::consensus::sim
