// Raft: the protocol itself as a deterministic state machine (Ongaro &
// Ousterhout, "In Search of an Understandable Consensus Algorithm", and
// Ongaro's thesis for pre-vote, leadership transfer, ReadIndex and
// single-server membership changes).
//
// It has no clock (time is Tick()), no I/O (messages accumulate in an outbox;
// entries and hard state are handed out through RawNode's Ready), no threads
// and no randomness except a generator seeded from Config. Most users want
// RawNode (raw_node.h), which wraps this class with the Ready/Advance protocol.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "consensus/config.h"
#include "consensus/progress.h"
#include "consensus/quorum.h"
#include "consensus/raft_log.h"
#include "consensus/types.h"
#include "util/splitmix64.h"

namespace phalanx::consensus {

enum class Role : uint8_t { kFollower, kPreCandidate, kCandidate, kLeader };
const char* RoleName(Role r);

// A read that became safe: once the state machine has applied `index`, a read
// of it reflects every write acknowledged before the ReadIndex call.
struct ReadState {
  uint64_t index = 0;
  std::string context;
  bool operator==(const ReadState&) const = default;
};

// Where a proposal landed: wait until `index` is applied and check the applied
// entry's term is `term` (otherwise a new leader overwrote it).
struct ProposalPosition {
  uint64_t first_index = 0;
  uint64_t last_index = 0;
  uint64_t term = 0;
};

// The election timer's generator: splitmix64, identical on every platform,
// unlike the distributions of <random>.
using DeterministicRandom = util::SplitMix64;

class Raft {
 public:
  // The caller validates `config` first (RawNode::Create does).
  explicit Raft(const Config& config);

  void Tick();
  Status Step(const Message& m);

  Result<ProposalPosition> Propose(std::vector<Payload> commands);
  Result<ProposalPosition> ProposeConfChange(const ConfChange& cc);
  Status ReadIndex(std::string context);
  Status TransferLeader(NodeId transferee);
  // Starts an election now, as if the election timeout had elapsed.
  Status Campaign();
  // Applies a committed conf change; returns the configuration now in force.
  // An invalid change (already applied, unknown node) leaves it unchanged.
  ConfState ApplyConfChange(const ConfChange& cc);
  void ReportUnreachable(NodeId id);
  void ReportSnapshot(NodeId id, bool success);

  // Called by RawNode::Advance once entries up to `index` are durable here.
  void OnPersisted();

  // Read-only accessors.
  NodeId id() const { return id_; }
  uint64_t term() const { return term_; }
  NodeId vote() const { return vote_; }
  NodeId leader() const { return lead_; }
  Role role() const { return role_; }
  NodeId lead_transferee() const { return lead_transferee_; }
  const ConfState& conf_state() const { return conf_state_; }
  const std::map<NodeId, Progress>& progress() const { return progress_; }
  HardState hard_state() const { return {term_, vote_, log_.committed()}; }
  RaftLog& log() { return log_; }
  const RaftLog& log() const { return log_; }

  // The outbox and the safe reads; RawNode drains them into a Ready.
  std::vector<Message>& outbox() { return msgs_; }
  std::vector<ReadState>& read_states() { return read_states_; }
  // Uncommitted-size accounting: RawNode reports bytes committed and applied.
  void ReduceUncommittedSize(uint64_t bytes);

 private:
  struct ReadRequest {
    std::string context;
    NodeId from;  // this node, or a follower that forwarded the request
  };
  // One heartbeat round confirming leadership for a batch of reads (§6.4).
  struct ReadRound {
    uint64_t id = 0;
    uint64_t index = 0;      // commit index when the round started
    uint64_t sent_tick = 0;  // ticks_ when its first heartbeat left
    std::vector<ReadRequest> requests;
    std::set<NodeId> acks;
  };

  // Transitions (§5.2).
  void Reset(uint64_t term);
  void BecomeFollower(uint64_t term, NodeId lead);
  void BecomePreCandidate();
  void BecomeCandidate();
  void BecomeLeader();
  void StartElection(bool pre_vote, bool transfer);
  // Records a vote (the first answer from each node counts) and returns the
  // election's outcome so far.
  VoteResult Poll(NodeId from, bool granted);

  void TickElection();
  void TickHeartbeat();
  bool Promotable() const;
  bool PastElectionTimeout() const { return election_elapsed_ >= randomized_election_timeout_; }
  void ResetRandomizedElectionTimeout();

  void StepLeader(const Message& m);
  void StepCandidate(const Message& m);
  void StepFollower(const Message& m);
  void HandleVoteRequest(const Message& m);
  void HandleAppendEntries(const Message& m);
  void HandleHeartbeat(const Message& m);
  void HandleSnapshot(const Message& m);
  void HandleAppendResponse(const Message& m);
  void HandleHeartbeatResponse(const Message& m);
  bool Restore(const Snapshot& s);

  void Send(Message m);
  // Sends the next append (or a snapshot) to `to` if its progress allows.
  // With send_if_empty=false, nothing is sent when there are no new entries.
  bool MaybeSendAppend(NodeId to, bool send_if_empty);
  void SendHeartbeat(NodeId to);
  void SendTimeoutNow(NodeId to);
  void BroadcastAppend();
  void BroadcastHeartbeat();
  bool AppendEntries(std::vector<Entry> entries);
  bool MaybeCommit();
  bool CommittedEntryInCurrentTerm() const;
  bool QuorumActive();
  // Makes quorum_ count the voters of conf_state_; call after every change.
  void RefreshQuorum() { quorum_ = MajorityConfig(conf_state_.voters); }

  void RebuildProgress();
  void AbortLeaderTransfer() { lead_transferee_ = kNoNode; }
  // A leader removed from the voters transfers leadership to the best voter.
  void HandOffLeadership();

  // ReadIndex machinery.
  void HandleReadRequest(ReadRequest req);
  void StartReadRound();
  // Ends the round once a quorum of the current voters acknowledged it.
  void MaybeFinishReadRound();
  void ReleaseReads(uint64_t index, std::vector<ReadRequest>& requests);
  void OnCommitAdvanced();

  Config config_;
  NodeId id_;
  uint64_t term_ = 0;
  NodeId vote_ = kNoNode;
  NodeId lead_ = kNoNode;
  Role role_ = Role::kFollower;
  RaftLog log_;
  ConfState conf_state_;
  // conf_state_.voters, for every majority question (learners never count).
  MajorityConfig quorum_;
  std::map<NodeId, Progress> progress_;
  std::map<NodeId, bool> votes_;
  std::vector<Message> msgs_;
  std::vector<ReadState> read_states_;

  int election_elapsed_ = 0;
  int heartbeat_elapsed_ = 0;
  int randomized_election_timeout_ = 0;
  DeterministicRandom rng_;

  NodeId lead_transferee_ = kNoNode;
  // We are no voter in our own configuration, yet refused our vote to a
  // candidate that counts us, for its shorter log: campaign at the next
  // election timeout, or nobody may ever win (see HandleVoteRequest).
  bool needed_as_voter_ = false;
  // Index of the last conf change appended; another may be proposed only
  // once this one is applied.
  uint64_t pending_conf_index_ = 0;
  uint64_t uncommitted_size_ = 0;

  // Reads waiting for this leader's first commit in its term (§6.4 step 1).
  std::vector<ReadRequest> reads_before_first_commit_;
  // Reads waiting for the next round to start.
  std::vector<ReadRequest> reads_waiting_;
  std::optional<ReadRound> read_round_;
  uint64_t last_read_round_id_ = 0;

  // Leader lease (ReadMode::kLeaseBased, thesis §6.4.1), counted in this
  // node's own ticks since it started.
  uint64_t ticks_ = 0;
  // Lease reads are served while ticks_ < lease_until_: a quorum acknowledged
  // a heartbeat sent at tick t, so none of them votes for anyone else before
  // t + election_tick (they ignore elections while they hear from a leader),
  // minus two ticks for where within a tick each side counted.
  uint64_t lease_until_ = 0;
  // Set once this leader has sent TimeoutNow in its term: the transferee's
  // election bypasses every lease, so ours is void until a new term.
  bool lease_revoked_ = false;
  // Lease mode, restarted with a term: for its first election_tick ticks this
  // node ignores elections as if it heard from a leader, since before the
  // restart it may have acknowledged the heartbeat a leader's lease rests on.
  bool boot_lease_ = false;
  bool LeaseValid() const;
};

}  // namespace phalanx::consensus
