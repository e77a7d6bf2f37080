// RawNode: the Raft core's whole public face. It is driven by one caller (the
// engine's ready loop, or a test) through the calls below, and reports what to
// do through Ready batches.
//
// The caller's loop:
//
//   node->Tick();  node->Step(msg);  node->Propose(...);   // any order, any time
//   if (node->HasReady()) {
//     Ready rd = node->GetReady();
//     if (rd.send_messages_before_persisting) send(rd.messages);
//     persist(rd.snapshot, rd.entries, rd.hard_state);      // durable: fsync
//     if (!rd.send_messages_before_persisting) send(rd.messages);
//     apply(rd.committed_entries);  // in order; conf changes via ApplyConfChange
//     serve(rd.read_states);        // once applied index ≥ read_state.index
//     node->Advance(rd);
//   }
//
// Between GetReady() and Advance() the caller may keep calling Step/Tick/
// Propose (their effects go to the next Ready) but not GetReady().
//
// Determinism: the same Config (seed included) and the same sequence of calls
// produce the same Ready batches, byte for byte. Thread safety: none; the
// caller serializes all calls (the engine holds a mutex).
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "consensus/config.h"
#include "consensus/raft.h"
#include "consensus/types.h"

namespace phalanx::consensus {

// Volatile state the caller may want to act on (leader changes, step-downs).
struct SoftState {
  NodeId leader = kNoNode;
  Role role = Role::kFollower;
  bool operator==(const SoftState&) const = default;
};

struct Ready {
  // Set when the leader or this node's role changed since the last Ready.
  std::optional<SoftState> soft_state;
  // Set when term, vote or commit changed: persist it (durably if must_sync).
  std::optional<HardState> hard_state;
  // A snapshot to install durably, before `entries`.
  std::optional<Snapshot> snapshot;
  // Entries to append durably, first truncating any stored entry at or after
  // entries.front().index.
  std::vector<Entry> entries;
  // Entries committed by the cluster: apply them in order, after persisting
  // this Ready, exactly once.
  std::vector<Entry> committed_entries;
  // Messages to send. Unless send_messages_before_persisting, they may leave
  // only after everything above is durable (a vote or an acknowledgement is a
  // promise about the disk).
  std::vector<Message> messages;
  // True for a leader whose term and vote are already durable: its appends may
  // go out while its own fsync runs (thesis §10.2.1); it counts itself towards
  // commit only after Advance.
  bool send_messages_before_persisting = false;
  // Reads that became safe; serve each once applied index ≥ its index.
  std::vector<ReadState> read_states;
  // True when this Ready must reach stable storage before its messages leave:
  // new entries, or a new term or vote (Raft paper, Figure 2: currentTerm,
  // votedFor and log[] are persistent state). A Ready whose hard state differs
  // only in commit need not be fsync'd: the commit index is volatile state that
  // a restarted node learns again from the leader, so writing it lazily costs
  // no safety and saves one fsync per write on every node.
  bool must_sync = false;
};

// Everything a test, an INFO command or a debugger wants to see.
struct NodeStatus {
  NodeId id = kNoNode;
  HardState hard_state;
  SoftState soft_state;
  uint64_t applied = 0;
  uint64_t last_index = 0;
  NodeId lead_transferee = kNoNode;
  ConfState conf_state;
  struct PeerProgress {
    uint64_t match = 0;
    uint64_t next = 0;
    const char* state = "";
    bool is_learner = false;
    bool recent_active = false;
  };
  std::map<NodeId, PeerProgress> progress;  // filled on the leader only
};

class RawNode {
 public:
  // Validates the config and loads the initial state from its Storage.
  static Result<std::unique_ptr<RawNode>> Create(const Config& config);

  // Advances logical time by one tick.
  void Tick();
  // Feeds a message from a peer. Messages from unknown senders or old terms
  // are handled as the protocol says (mostly ignored); never an error.
  Status Step(const Message& m);

  // Appends commands to the log as one batch. Leader only: otherwise
  // kNotLeader with the known leader as hint. kProposalDropped during a
  // leadership transfer or when the uncommitted log is full.
  // The Payload form shares the caller's bytes instead of copying them.
  Result<ProposalPosition> Propose(std::vector<Payload> commands);
  Result<ProposalPosition> Propose(std::vector<std::string> commands);
  Result<ProposalPosition> Propose(std::string command);
  // Proposes one membership change. kConfChangePending while another is not
  // yet applied; kInvalidArgument for a change that makes no sense now.
  Result<ProposalPosition> ProposeConfChange(const ConfChange& cc);
  // Applies a committed conf change entry (call while applying it). Returns
  // the configuration now in force, which the caller persists with the
  // applied index.
  ConfState ApplyConfChange(const ConfChange& cc);
  // Requests a linearizable read point; the answer arrives as a ReadState
  // with the same context. On a follower the request goes to the leader;
  // kNotLeader when none is known. A request may be silently lost if
  // leadership changes: callers time out and retry.
  Status ReadIndex(std::string context);
  // Leader only: hands leadership to `transferee` once it is caught up.
  // Proposals are refused until the transfer ends (at most an election timeout).
  Status TransferLeader(NodeId transferee);
  // Starts an election now. With lease reads, kProposalDropped while this
  // node heard from a leader within the election timeout (its vote is
  // promised to that leader's lease).
  Status Campaign();
  // The transport could not deliver to `id`.
  void ReportUnreachable(NodeId id);
  // The snapshot stream to `id` finished (success) or failed.
  void ReportSnapshot(NodeId id, bool success);

  bool HasReady() const;
  // Everything to do since the last Advance. Must not be called again before
  // Advance().
  Ready GetReady();
  // The caller has persisted, sent and applied what `rd` held.
  void Advance(const Ready& rd);

  NodeStatus GetStatus() const;
  const Raft& raft() const { return *raft_; }

 private:
  explicit RawNode(const Config& config);
  SoftState CurrentSoftState() const { return {raft_->leader(), raft_->role()}; }

  std::unique_ptr<Raft> raft_;
  SoftState prev_soft_state_;
  HardState prev_hard_state_;
  bool ready_outstanding_ = false;
};

}  // namespace phalanx::consensus
