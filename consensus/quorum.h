// MajorityConfig: the one place that counts a majority of voters. Raft asks it
// three questions about a voter set (issue 17 §2):
//
//  (a) CommittedIndex: the largest index that a majority has acknowledged,
//      given each voter's match index (§5.3: "a majority of matchIndex[i] ≥ N");
//  (b) Vote: whether an election (or pre-vote) is won, lost or still pending,
//      given the answers received so far (§5.2);
//  (c) QuorumActive: whether the voters for which a predicate holds — heard
//      from within an election timeout (check-quorum, §6.2), acknowledged a
//      ReadIndex heartbeat round (§6.4) — form a majority.
//
// The voter set is the only input that decides who counts: learners, removed
// nodes and unknown ids are never asked about and their answers are ignored.
// Duplicate ids in the constructor's input count once. The quorum size is
// size()/2+1.
//
// An empty set has no majority: nothing is committed by it (CommittedIndex
// is 0), no election is won with it (Vote is kLost) and no quorum of it is
// active. (etcd-io/raft answers "everything" and "won" instead, because its
// empty half of a joint configuration must defer to the other half; there
// are no joint configurations here, and an empty one cannot arise from a
// valid bootstrap or conf change.)
//
// A MajorityConfig is a value: copyable, no shared state; its const methods
// may be called from any thread. The callables passed to its templates are
// called once per voter, in ascending id order, and not retained.
#pragma once

#include <algorithm>
#include <array>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "consensus/types.h"

namespace phalanx::consensus {

enum class VoteResult : uint8_t {
  kPending,  // neither outcome is certain yet: some voters have not answered
  kWon,      // a majority granted
  kLost,     // a majority can no longer grant, whoever answers next
};
const char* VoteResultName(VoteResult r);

class MajorityConfig {
 public:
  MajorityConfig() = default;
  // Sorts and deduplicates `voters`.
  explicit MajorityConfig(std::vector<NodeId> voters);

  const std::vector<NodeId>& voters() const { return voters_; }
  size_t size() const { return voters_.size(); }
  bool empty() const { return voters_.empty(); }
  bool Contains(NodeId id) const;
  // How many voters make a majority (1 for the empty set, which has none).
  size_t QuorumSize() const { return voters_.size() / 2 + 1; }

  // (a) The largest index acknowledged by a majority. `acked(id)` returns a
  // voter's acknowledged (match) index, or nullopt when it is unknown — which
  // counts as 0. Returns 0 for the empty set.
  template <std::invocable<NodeId> AckedIndex>
  uint64_t CommittedIndex(AckedIndex&& acked) const;
  // The same, from a map of acknowledged indexes (ids absent count as 0).
  uint64_t CommittedIndex(const std::map<NodeId, uint64_t>& acked) const;

  // (b) The outcome of a vote. `vote_of(id)` returns a voter's answer (true:
  // granted), or nullopt when it has not answered yet.
  template <std::invocable<NodeId> VoteOf>
  VoteResult Vote(VoteOf&& vote_of) const;
  // The same, from a map of answers; answers of non-voters are ignored.
  VoteResult Vote(const std::map<NodeId, bool>& votes) const;

  // (c) Whether the voters for which `active(id)` holds form a majority.
  template <std::invocable<NodeId> IsActive>
  bool QuorumActive(IsActive&& active) const;
  // The same, from a set of ids; ids of non-voters are ignored.
  bool QuorumActive(const std::set<NodeId>& active) const;

  // "(1 2 3)", for messages and test failures.
  std::string ToString() const;

 private:
  std::vector<NodeId> voters_;  // sorted, unique
};

// ---- templates -------------------------------------------------------------------

template <std::invocable<NodeId> AckedIndex>
uint64_t MajorityConfig::CommittedIndex(AckedIndex&& acked) const {
  const size_t n = voters_.size();
  if (n == 0) return 0;
  // Up to seven voters (the common case) sort on the stack.
  std::array<uint64_t, 7> small{};
  std::vector<uint64_t> large;
  uint64_t* idx = small.data();
  if (n > small.size()) {
    large.resize(n);
    idx = large.data();
  }
  for (size_t i = 0; i < n; ++i) {
    std::optional<uint64_t> a = acked(voters_[i]);
    idx[i] = a.value_or(0);
  }
  // After sorting in descending order, idx[q-1] is acknowledged by the q
  // voters at or above it, and no larger index is acknowledged by q.
  const size_t q = QuorumSize();
  std::nth_element(idx, idx + (q - 1), idx + n, [](uint64_t a, uint64_t b) { return a > b; });
  return idx[q - 1];
}

template <std::invocable<NodeId> VoteOf>
VoteResult MajorityConfig::Vote(VoteOf&& vote_of) const {
  size_t granted = 0;
  size_t missing = 0;
  for (NodeId v : voters_) {
    std::optional<bool> answer = vote_of(v);
    if (!answer.has_value()) {
      ++missing;
    } else if (*answer) {
      ++granted;
    }
  }
  const size_t q = QuorumSize();
  if (granted >= q) return VoteResult::kWon;
  if (granted + missing >= q) return VoteResult::kPending;
  return VoteResult::kLost;
}

template <std::invocable<NodeId> IsActive>
bool MajorityConfig::QuorumActive(IsActive&& active) const {
  size_t count = 0;
  for (NodeId v : voters_) {
    if (active(v)) ++count;
  }
  return count >= QuorumSize();
}

}  // namespace phalanx::consensus
