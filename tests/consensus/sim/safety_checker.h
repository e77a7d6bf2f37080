// The Raft safety properties (Raft paper, Figure 3), checked against the whole
// history of a simulated cluster after every step:
//
//  - Election Safety: at most one leader per term.
//  - Log Matching: two logs holding an entry with the same index and term are
//    identical up to it. Checked incrementally: every entry that appears in
//    any log or append message must agree with the first one ever seen at its
//    (index, term) in content and in the term of its predecessor; by induction
//    that makes the prefixes identical.
//  - Leader Completeness: an entry applied anywhere is in the log of every
//    leader of a later term (checked when a node becomes leader).
//  - State Machine Safety: no two nodes apply different entries at one index,
//    and two state machines at the same applied index have the same digest
//    (which also validates snapshots).
//  - Durable promises: a node's persisted term never decreases, its vote never
//    changes within a term, its commit index never goes back.
//  - ReadIndex: a read's index is at least the highest commit index any node
//    knew when the read was requested (linearizability, thesis §6.4).
//
// The checker only records the first failure; the driver stops the seed then.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "consensus/raft.h"
#include "consensus/types.h"

namespace phalanx::consensus::sim {

class SafetyChecker {
 public:
  bool failed() const { return !failure_.empty(); }
  const std::string& failure() const { return failure_; }
  void Fail(std::string what);

  // The cluster's history so far.
  uint64_t max_term() const { return max_term_; }
  uint64_t max_commit() const { return max_commit_; }
  uint64_t leaders_elected() const { return leader_of_term_.size(); }

  // A node's role/term as observed after a step. Election safety; on a
  // transition to leader, leader completeness against `log`.
  void ObserveRole(NodeId id, Role role, uint64_t term, const RaftLog& log);
  void ObserveCommit(uint64_t commit);
  void ObserveTerm(uint64_t term) { max_term_ = std::max(max_term_, term); }

  // Entries a node added to its log (a Ready's `entries`); prev_term is the
  // term of the entry before the first one in that node's log.
  void ObserveEntries(NodeId id, uint64_t prev_term, const std::vector<Entry>& entries);
  // Every message a node sends.
  void ObserveMessage(const Message& m);
  // A hard state about to replace the durable one.
  void ObservePersistHardState(NodeId id, const HardState& before, const HardState& after);

  // State machine safety: `digest` is the node's digest after applying e.
  void ObserveApply(NodeId id, const Entry& e, uint64_t digest);
  // A node installed a snapshot at index/term whose state has `digest`.
  void ObserveSnapshotInstall(NodeId id, uint64_t index, uint64_t term, uint64_t digest);
  // The cluster starts from a snapshot every initial node shares.
  void Bootstrap(uint64_t index, uint64_t term, uint64_t digest);

  // ReadIndex: a request with this id was made at `node`.
  void ObserveReadRequest(uint64_t read_id, NodeId node, uint64_t bound);
  // A ReadState reached `node`.
  void ObserveReadState(NodeId node, const ReadState& rs);

  // The entry first applied at `index` (term, content hash), if any.
  bool AppliedAt(uint64_t index, uint64_t* term, uint64_t* content_hash) const;
  uint64_t max_applied_index() const { return applied_.empty() ? 0 : applied_.size() - 1; }

 private:
  struct AppliedEntry {
    bool set = false;
    uint64_t term = 0;
    uint64_t content = 0;
    uint64_t digest = 0;    // state digest after applying it
    uint64_t max_term = 0;  // highest term in the cluster when first applied
  };
  struct LoggedEntry {
    uint64_t content = 0;
    uint64_t prev_term = 0;
  };
  struct PairHash {
    size_t operator()(const std::pair<uint64_t, uint64_t>& p) const {
      return std::hash<uint64_t>()(p.first * 0x9e3779b97f4a7c15ull ^ p.second);
    }
  };
  struct NodeRole {
    Role role = Role::kFollower;
    uint64_t term = 0;
  };
  struct ReadRequest {
    NodeId node = kNoNode;
    uint64_t bound = 0;
  };

  void CheckLogged(NodeId id, uint64_t index, uint64_t term, uint64_t content, uint64_t prev_term);
  void CheckLeaderCompleteness(NodeId id, uint64_t term, const RaftLog& log);

  std::string failure_;
  uint64_t max_term_ = 0;
  uint64_t max_commit_ = 0;
  std::map<uint64_t, NodeId> leader_of_term_;
  std::map<NodeId, NodeRole> roles_;
  std::unordered_map<std::pair<uint64_t, uint64_t>, LoggedEntry, PairHash> logged_;
  std::vector<AppliedEntry> applied_;  // by index; [0] unused
  std::unordered_map<uint64_t, ReadRequest> reads_;
};

}  // namespace phalanx::consensus::sim
