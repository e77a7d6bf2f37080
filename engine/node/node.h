// Node: the orchestrator of one Phalanx process — the only place that knows
// every part. It owns the Raft core (behind one mutex), the WiredTiger store
// and the gRPC transport, runs the Ready loop, and serves client requests
// (it implements resp::Store for the Redis front end and transport::Handler
// for its peers).
//
// Threads:
//   ready loop  — woken by proposals, reads, messages and ticks (not only by
//                 ticks, so a write waits for no tick): drains queued
//                 proposals into one batch, takes a Ready, sends, persists
//                 (one WiredTiger transaction and one fsync for the batch),
//                 applies, wakes waiters, Advance().
//   ticker      — Tick() every raft.tick_ms; expires requests at their deadline.
//   snapshotter — takes a snapshot and compacts the log when the store asks.
//   transport   — gRPC threads call the Handler methods below.
//
// Write path: Write() queues a command; on the leader the ready loop proposes
// the queued batch and waits for each entry to apply; on a follower the batch
// is forwarded to the leader over gRPC. Answers: the applied result; or
// "CLUSTERDOWN No raft leader" when no leader could be reached before the
// request timeout (nothing was proposed); or "outcome unknown" when a
// proposal was made but its fate is not known by the deadline.
//
// Read path (thesis §6.4): reads queue for a ReadIndex batch (one request
// for all reads queued at once); once the read index is known and this
// node's applied index reaches it, the read runs on the local KV state.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "consensus/raw_node.h"
#include "engine/node/node_config.h"
#include "engine/node/request_tracker.h"
#include "engine/storage/command.h"
#include "engine/storage/store.h"
#include "engine/transport/transport.h"
#include "membership/types.h"
#include "resp/store.h"

namespace phalanx::membership {
class UdpDriver;
}

namespace phalanx::node {

using consensus::NodeId;

// The Raft id of a node name: a stable 64-bit hash (FNV-1a), never 0.
NodeId RaftIdFor(const std::string& name);

// A cluster member as the node knows it.
struct PeerInfo {
  std::string name;
  NodeId id = 0;
  std::string raft_address;
};

// What INFO's "# Raft" section shows.
struct RaftInfo {
  std::string role;  // leader, follower, candidate, learner
  std::string node_id;
  std::string leader_id;  // empty when unknown
  uint64_t term = 0;
  uint64_t commit_index = 0;
  uint64_t applied_index = 0;
  uint64_t last_index = 0;
  std::vector<std::string> voters;
  std::vector<std::string> learners;
  std::string cluster_id;
};

class Node final : public transport::Handler, public resp::Store {
 public:
  // Opens (or creates and bootstraps) the data directory and prepares every
  // part; starts no thread and opens no socket. On failure returns nullptr and
  // sets *error to one line naming the problem.
  static std::unique_ptr<Node> Open(const NodeConfig& config, std::string* error);
  ~Node() override;
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // Starts the transport (listening on raft.listen), the threads and SWIM
  // (membership.listen). A node joining through seeds first learns its
  // cluster id from them (blocking, bounded; gossip.cc).
  bool Start(std::string* error);
  // Graceful stop: refuses new requests, gives in-flight proposals a moment to
  // finish, stops the threads and the transport, and closes WiredTiger
  // cleanly. Requests still waiting get an "outcome unknown" error. Idempotent.
  void Stop();

  // ---- resp::Store ----
  // Commands and results cross in command_translation.h's terms.
  void Write(resp::WriteCommand cmd, std::function<void(resp::StoreResult)> done) override;
  // One proposal (or one forward) for the whole group: consecutive entries.
  void WriteBatch(std::vector<resp::WriteCommand> cmds,
                  std::function<void(std::vector<resp::StoreResult>)> done) override;
  void ReadBarrier(std::function<void(resp::StoreResult)> done) override;
  std::optional<resp::Record> Get(std::string_view key, int64_t now_ms) override;
  resp::ScanPage Scan(uint64_t cursor, size_t count, int64_t now_ms) override;
  uint64_t DbSize(int64_t now_ms) override;
  std::optional<std::string> RandomKey(int64_t now_ms) override;
  std::string InfoSection(std::string_view section) override;
  // raft.max_entry_bytes, and the error naming it.
  uint64_t MaxRequestBytes() const override;
  std::string TooLargeError(uint64_t bytes) const override;
  // PHALANX <subcommand>: RunAdmin.
  void Admin(std::vector<std::string> args, std::function<void(resp::StoreResult)> done) override;

  // Proposes already-encoded commands as one batch (what Write does, and what
  // a forwarded request does on the leader). `done` gets one result per
  // command, or one error result for all.
  using BatchDone = std::function<void(std::vector<storage::ApplyResult>)>;
  void ProposeCommands(std::vector<std::string> commands, BatchDone done);

  using AdminDone = std::function<void(storage::ApplyResult)>;
  // Calls `done` once reads from now on reflect every acknowledged write
  // (Ok), or with an error result (no leader, shutting down). ReadBarrier and
  // peers' ReadIndex requests wait on it.
  void Barrier(AdminDone done);
  // PHALANX <subcommand>: see admin.cc and the README's "Admin commands".
  void RunAdmin(std::vector<std::string> args, AdminDone done);

  // ---- membership operations (admin surface comes with gossip) ----
  // Each proposes one conf change and calls `done` once it is applied (Ok)
  // or with an error result.
  void AddLearner(const PeerInfo& peer, AdminDone done);
  void PromoteToVoter(const std::string& name, AdminDone done);
  void RemoveNode(const std::string& name, AdminDone done);
  // Leader only; `done` is called once the transfer was started.
  void TransferLeadership(const std::string& name, const AdminDone& done);
  // PHALANX FAULT ... (admin.cc); test only, needs raft.fault_injection.
  void Fault(const std::vector<std::string>& args, const AdminDone& done);
  // Takes a snapshot now and compacts the log.
  storage::ApplyResult TakeSnapshot();

  // ---- gossip (gossip.cc) ----
  // PHALANX LEAVE: leadership handed over if leader, SWIM leave announced,
  // `done` once this node has applied its own removal (or an error).
  void Leave(AdminDone done);
  // Leave() and wait for its outcome (membership.leave_on_shutdown); bounded.
  storage::ApplyResult LeaveAndWait();
  // PHALANX MEMBERS: one line per member known to gossip.
  storage::ApplyResult MembersReply();
  // INFO "# Membership".
  std::string MembershipInfo();
  std::vector<membership::Member> GossipMembers() const;
  // Tells the autopilot an admin removed `name` (not to re-add it).
  void NoteAdminRemoval(const std::string& name);

  RaftInfo GetRaftInfo() const;
  const std::string& name() const { return config_.node.id; }
  NodeId raft_id() const { return id_; }
  int raft_port() const;

  // ---- transport::Handler ----
  void OnMessages(NodeId from, std::vector<consensus::Message> msgs) override;
  transport::Status OnSnapshot(NodeId from, const consensus::Message& msg,
                               std::unique_ptr<transport::SnapshotSink>* sink) override;
  void OnPropose(NodeId from, std::vector<std::string> commands,
                 transport::ProposeCallback done) override;
  void OnReadIndex(NodeId from, transport::ReadIndexCallback done) override;
  void OnPeerUnreachable(NodeId peer) override;

 private:
  class InstallSink;
  using Completions = std::vector<std::function<void()>>;

  struct PendingBatch {
    std::vector<std::string> commands;
    uint64_t bytes = 0;  // of all commands; at most raft.max_entry_bytes
    Clock::time_point deadline;
    BatchDone done;
    int forward_attempts = 0;
  };
  // A group with commands over raft.max_entry_bytes, or larger in total than
  // one batch may be: refused commands are answered at once, the rest go as
  // consecutive batches, each started when the previous one completed.
  struct SplitGroup;
  static void RunSplitGroup(Node* node, const std::shared_ptr<SplitGroup>& group);
  // Queues one batch of at most raft.max_entry_bytes for the ready loop.
  void EnqueueBatch(std::vector<std::string> commands, uint64_t bytes, BatchDone done);
  // One entry of a proposed batch: completes its slot; the last completes the batch.
  struct BatchState;

  explicit Node(const NodeConfig& config);
  bool OpenStorage(std::string* error);
  void MakeTransport();
  bool LoadOrCreateIdentity(std::string* error);

  void ReadyLoop();
  void TickerLoop();
  void SnapshotLoop();
  void ExpireCycle(std::string* cursor);
  // Under mu_: turns queued proposals and reads into Raft calls or forwards.
  void DrainRequestsLocked(std::vector<PendingBatch>* to_forward, Completions* out);
  void ProposeBatchLocked(PendingBatch batch, Completions* out);
  void Forward(PendingBatch batch, NodeId leader);
  // Outside mu_: sends, persists and applies one Ready. Returns false on a
  // storage failure (the node then stops serving writes).
  bool HandleReady(consensus::Ready& rd,
                   std::vector<std::pair<consensus::Entry, storage::ApplyResult>>* applied);
  void Send(std::vector<consensus::Message> msgs);
  void SendSnapshot(consensus::Message msg);
  bool ApplyCommitted(const std::vector<consensus::Entry>& entries,
                      std::vector<std::pair<consensus::Entry, storage::ApplyResult>>* applied);
  void ApplyConfChangeToPeers(const consensus::ConfChange& cc);
  void ProposeConfChange(const consensus::ConfChange& cc, AdminDone done);
  void WakeLocked() {
    work_pending_ = true;
    cv_.notify_one();
  }
  std::string NameOfLocked(NodeId id) const;
  bool SavePeersFile(std::string* error) const;
  bool SaveClusterFile(std::string* error) const;
  // gossip.cc
  bool DiscoverClusterId(std::string* error);
  bool StartGossip(std::string* error);
  void StopGossip();
  void MembershipLoop();
  void LearnPeersFromGossip(const std::vector<membership::Member>& members);
  void StepLeave();
  bool StorageFailed() const { return storage_failed_.load(); }
  static void RunAll(Completions& cs) {
    for (auto& c : cs)
      c();
    cs.clear();
  }

  const NodeConfig config_;
  const NodeId id_;
  std::string cluster_id_;
  std::chrono::milliseconds request_timeout_;

  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<transport::Transport> transport_;

  mutable std::mutex mu_;              // guards everything below up to the next blank line
  std::condition_variable cv_;         // wakes the ready loop only
  std::condition_variable ticker_cv_;  // wakes the ticker (at stop)
  std::unique_ptr<consensus::RawNode> raft_;
  std::map<NodeId, PeerInfo> peers_;
  std::deque<PendingBatch> pending_;
  // Bytes of forwarded batches waiting for the leader's answer; bounded by
  // kForwardBudgetEntries * raft.max_entry_bytes (one batch always goes).
  uint64_t forward_inflight_bytes_ = 0;
  ProposalTracker<storage::ApplyResult> proposals_;
  ReadTracker reads_;
  // A snapshot received and staged, waiting for Raft to accept it.
  std::unique_ptr<storage::SnapshotWriter> staged_snapshot_;
  // Scan cursors handed to clients: number → WiredTiger key to resume after.
  std::map<uint64_t, std::string> scan_cursors_;
  uint64_t next_scan_cursor_ = 1;
  bool work_pending_ = false;
  bool stopping_ = false;
  bool started_ = false;

  std::atomic<bool> storage_failed_{false};
  std::atomic<bool> snapshot_requested_{false};
  std::mutex snapshot_mu_;
  std::condition_variable snapshot_cv_;
  // PHALANX SNAPSHOT requests waiting for the next snapshot (snapshot_mu_).
  std::vector<AdminDone> snapshot_waiters_;

  // Joining through seeds: no bootstrap; the cluster id comes from gossip.
  bool joining_ = false;
  // Voters at bootstrap (from the cluster file); 0 when this node joined.
  size_t bootstrap_voters_ = 0;

  mutable std::mutex gossip_mu_;  // guards the members below up to the next blank line
  std::condition_variable gossip_cv_;
  std::unique_ptr<membership::UdpDriver> gossip_;
  bool gossip_stop_ = false;
  std::map<std::string, uint64_t> removed_;  // admin-removed: name -> incarnation then
  std::vector<AdminDone> leave_waiters_;
  std::optional<Clock::time_point> leave_deadline_;

  // Membership thread only.
  std::map<std::string, Clock::time_point> dead_since_;
  bool left_announced_ = false;
  std::atomic<bool> conf_change_inflight_{false};

  std::thread membership_thread_;
  std::thread ready_thread_;
  std::thread ticker_thread_;
  std::thread snapshot_thread_;
};

}  // namespace phalanx::node
