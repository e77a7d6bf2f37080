// Errors as values for the consensus core. No exceptions cross this module's edge.
// The mechanism is util/status.h's; the codes are the Raft core's own (no I/O
// codes: engine/storage translates its errors into these).
#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include "util/status.h"

namespace phalanx::consensus {

// NodeId 0 means "no node" (no leader known, no vote cast).
using NodeId = uint64_t;
inline constexpr NodeId kNoNode = 0;

enum class StatusCode : uint8_t {
  kOk = 0,
  kNotLeader,          // the call needs the leader; leader_hint() names it when known
  kProposalDropped,    // leader is transferring leadership, the uncommitted log is full,
                       // or a campaign would break a lease
  kConfChangePending,  // a membership change is appended but not yet applied
  kInvalidArgument,    // the request makes no sense for the current configuration
  kCompacted,          // storage: the index lies before the first available entry
  kUnavailable,        // storage: the index lies after the last available entry
  kSnapshotTemporarilyUnavailable,  // storage: a snapshot is being made; retry later
};

// A status whose kNotLeader errors name the leader the answering node
// believes in: util::StatusBase plus a leader hint. consensus::Status is one;
// engine/transport's Status, with codes of its own, is another.
template <typename Derived, typename CodeEnum>
class LeaderHintStatus : public util::StatusBase<Derived, CodeEnum> {
 public:
  static Derived NotLeader(NodeId leader_hint, std::string message = "not the leader") {
    Derived s = Derived::Error(CodeEnum::kNotLeader, std::move(message));
    static_cast<LeaderHintStatus&>(s).leader_hint_ = leader_hint;
    return s;
  }
  // For kNotLeader: the leader the answering node believes in, or kNoNode.
  NodeId leader_hint() const { return leader_hint_; }

 protected:
  LeaderHintStatus() = default;

 private:
  NodeId leader_hint_ = kNoNode;
};

class Status : public LeaderHintStatus<Status, StatusCode> {
 public:
  Status() = default;
  // "OK", or "<CodeName>[: <message>]".
  std::string ToString() const;
};

// A value or the Status that explains its absence.
template <typename T>
using Result = util::Result<T, Status>;

}  // namespace phalanx::consensus
