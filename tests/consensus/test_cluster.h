// A small in-memory cluster of RawNodes for the consensus unit tests.
//
// Each node runs the Ready loop exactly as raw_node.h prescribes — persist the
// snapshot, entries and hard state to its MemoryStorage, hand the messages to
// the network, apply committed entries in order (conf changes through
// ApplyConfChange), collect read states, then Advance. Messages wait in one
// FIFO queue until Drain() (or Deliver()) hands them to their destination, so
// a test can look at what a node said before anyone hears it, drop messages
// by rule, and isolate nodes. No clock, no threads: time is Tick().
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "consensus/raw_node.h"
#include "consensus/storage.h"
#include "consensus/types.h"

namespace phalanx::consensus::test {

// Entries with consecutive indexes from `first`, one per term in `terms`.
inline std::vector<Entry> EntriesWithTerms(const std::vector<uint64_t>& terms, uint64_t first = 1) {
  std::vector<Entry> out;
  for (size_t i = 0; i < terms.size(); ++i) {
    Entry e;
    e.term = terms[i];
    e.index = first + i;
    e.data = "e" + std::to_string(first + i) + "t" + std::to_string(terms[i]);
    out.push_back(e);
  }
  return out;
}

// The terms of `entries`, for readable comparisons.
inline std::vector<uint64_t> TermsOf(const std::vector<Entry>& entries) {
  std::vector<uint64_t> out;
  for (const Entry& e : entries)
    out.push_back(e.term);
  return out;
}

inline bool SameReady(const Ready& a, const Ready& b) {
  return a.soft_state == b.soft_state && a.hard_state == b.hard_state && a.snapshot == b.snapshot &&
         a.entries == b.entries && a.committed_entries == b.committed_entries &&
         a.messages == b.messages &&
         a.send_messages_before_persisting == b.send_messages_before_persisting &&
         a.must_sync == b.must_sync && a.read_states == b.read_states;
}

inline bool IsHeartbeat(const Message& m) {
  return m.type == MessageType::kHeartbeat;
}

struct Peer {
  NodeId id = kNoNode;
  Config config;
  std::unique_ptr<MemoryStorage> storage;
  std::unique_ptr<RawNode> node;
  // The state machine: what was applied, in order, since the node was created
  // (entries covered by an installed snapshot are not in `applied`).
  uint64_t applied_index = 0;
  std::vector<Entry> applied;
  ConfState conf_state;       // the configuration as of applied_index
  std::string snapshot_data;  // state of the last snapshot installed or taken
  std::vector<ReadState> read_states;
  std::vector<Ready> readies;  // every Ready, when the network records them

  const Raft& raft() const { return node->raft(); }
};

class Network {
 public:
  using ConfigFn = std::function<void(Config&)>;
  using MessagePredicate = std::function<bool(const Message&)>;

  // `voters` and `learners` form the initial configuration of every node.
  // `tweak` adjusts each node's Config (defaults: election_tick 10,
  // heartbeat_tick 1, pre-vote and check-quorum on).
  explicit Network(const std::vector<NodeId>& voters, ConfigFn tweak = {},
                   const std::vector<NodeId>& learners = {})
      : tweak_(std::move(tweak)) {
    ConfState cs;
    cs.voters = voters;
    cs.learners = learners;
    std::sort(cs.voters.begin(), cs.voters.end());
    std::sort(cs.learners.begin(), cs.learners.end());
    for (NodeId id : cs.voters)
      AddPeer(id, cs);
    for (NodeId id : cs.learners)
      AddPeer(id, cs);
  }

  // Adds a node with an empty log and `cs` as its configuration (a server
  // joining an existing cluster starts with an empty one).
  Peer& AddPeer(NodeId id, const ConfState& cs) {
    auto p = std::make_unique<Peer>();
    p->id = id;
    p->storage = std::make_unique<MemoryStorage>();
    p->storage->SetConfState(cs);
    p->conf_state = cs;
    Peer& ref = *p;
    peers_[id] = std::move(p);
    Restart(id);
    return ref;
  }

  Peer& peer(NodeId id) {
    auto it = peers_.find(id);
    if (it == peers_.end()) {
      ADD_FAILURE() << "no peer " << id;
      std::abort();
    }
    return *it->second;
  }
  RawNode& node(NodeId id) { return *peer(id).node; }
  const Raft& raft(NodeId id) { return peer(id).raft(); }
  MemoryStorage& storage(NodeId id) { return *peer(id).storage; }
  std::vector<NodeId> ids() const {
    std::vector<NodeId> out;
    for (const auto& [id, p] : peers_)
      out.push_back(id);
    return out;
  }

  // Replaces a node's durable log and hard state and restarts it from them.
  void Load(NodeId id, const std::vector<Entry>& log, const HardState& hs) {
    Peer& p = peer(id);
    auto fresh = std::make_unique<MemoryStorage>();
    fresh->SetConfState(p.conf_state);
    EXPECT_TRUE(fresh->Append(log).ok());
    fresh->SetHardState(hs);
    p.storage = std::move(fresh);
    p.applied_index = 0;
    p.applied.clear();
    Restart(id);
  }

  // Crash and restart: a new RawNode from what the node persisted; its state
  // machine keeps what it applied (Config::applied).
  void Restart(NodeId id) {
    Peer& p = peer(id);
    Config c;
    c.id = id;
    c.storage = p.storage.get();
    c.election_tick = 10;
    c.heartbeat_tick = 1;
    c.seed = 7;
    if (tweak_) tweak_(c);
    c.applied = p.applied_index;
    p.config = c;
    auto node = RawNode::Create(c);
    if (!node.ok()) {
      ADD_FAILURE() << "RawNode::Create: " << node.status().ToString();
      std::abort();
    }
    p.node = std::move(node).value();
  }

  // Runs one Ready of `id` through the loop and returns its messages (not queued).
  std::vector<Message> RunReady(NodeId id) {
    Peer& p = peer(id);
    if (!p.node->HasReady()) return {};
    Ready rd = p.node->GetReady();
    if (record_readies) p.readies.push_back(rd);
    if (rd.snapshot) {
      EXPECT_TRUE(p.storage->ApplySnapshot(*rd.snapshot).ok());
      p.applied_index = rd.snapshot->metadata.index;
      p.conf_state = rd.snapshot->metadata.conf_state;
      p.snapshot_data = rd.snapshot->data;
    }
    EXPECT_TRUE(p.storage->Append(rd.entries).ok());
    if (rd.hard_state) p.storage->SetHardState(*rd.hard_state);
    for (const Entry& e : rd.committed_entries)
      Apply(p, e);
    for (const ReadState& rs : rd.read_states)
      p.read_states.push_back(rs);
    p.node->Advance(rd);
    for (const Message& m : rd.messages) {
      EXPECT_EQ(m.from, id) << DescribeMessage(m);
      sent_.push_back(m);
    }
    return rd.messages;
  }

  // Runs every pending Ready of `id` and returns the messages, not queued.
  std::vector<Message> Collect(NodeId id) {
    std::vector<Message> out;
    while (peer(id).node->HasReady()) {
      std::vector<Message> msgs = RunReady(id);
      out.insert(out.end(), msgs.begin(), msgs.end());
    }
    return out;
  }

  // Runs every pending Ready of `id` and queues the messages for delivery.
  void Flush(NodeId id) {
    for (Message& m : Collect(id))
      queue_.push_back(std::move(m));
  }
  void FlushAll() {
    for (NodeId id : ids())
      Flush(id);
  }

  void Send(Message m) { queue_.push_back(std::move(m)); }
  const std::deque<Message>& queued() const { return queue_; }

  // Hands `m` to its destination unless a fault drops it. A delivered or
  // dropped snapshot is reported to its sender, as the engine's transport does.
  void Deliver(const Message& m) {
    auto to = peers_.find(m.to);
    if (to == peers_.end()) return;
    bool dropped = Dropped(m);
    if (m.type == MessageType::kSnap) {
      auto from = peers_.find(m.from);
      if (!dropped) {
        delivered_.push_back(m);
        to->second->node->Step(m);
      }
      if (from != peers_.end()) from->second->node->ReportSnapshot(m.to, !dropped);
      return;
    }
    if (dropped) return;
    delivered_.push_back(m);
    EXPECT_TRUE(to->second->node->Step(m).ok());
  }

  // Runs Readies and delivers messages until the cluster is quiet.
  void Drain() {
    for (int round = 0; round < 100000; ++round) {
      FlushAll();
      if (queue_.empty()) return;
      std::deque<Message> batch;
      batch.swap(queue_);
      for (const Message& m : batch)
        Deliver(m);
    }
    ADD_FAILURE() << "the network never became quiet";
  }

  void Tick(NodeId id, int n = 1) {
    for (int i = 0; i < n; ++i)
      node(id).Tick();
  }
  // Ticks every node once and drains, n times.
  void TickAll(int n = 1) {
    for (int i = 0; i < n; ++i) {
      for (auto& [id, p] : peers_)
        p->node->Tick();
      Drain();
    }
  }

  // Faults, applied at delivery time.
  void Isolate(NodeId id) { isolated_.insert(id); }
  void Cut(NodeId from, NodeId to) { cut_.insert({from, to}); }
  void CutBoth(NodeId a, NodeId b) {
    Cut(a, b);
    Cut(b, a);
  }
  void Heal() {
    isolated_.clear();
    cut_.clear();
    drop = nullptr;
  }
  // Extra rule: messages for which it returns true are dropped.
  MessagePredicate drop;

  bool Dropped(const Message& m) const {
    return isolated_.count(m.from) || isolated_.count(m.to) || cut_.count({m.from, m.to}) ||
           (drop && drop(m));
  }

  // The leader with the highest term, or kNoNode.
  NodeId Leader() {
    NodeId best = kNoNode;
    uint64_t term = 0;
    for (auto& [id, p] : peers_) {
      if (p->raft().role() == Role::kLeader && p->raft().term() >= term) {
        best = id;
        term = p->raft().term();
      }
    }
    return best;
  }

  // Every message any node emitted (dropped ones included), in order.
  const std::vector<Message>& sent() const { return sent_; }
  const std::vector<Message>& delivered() const { return delivered_; }
  size_t CountSent(const MessagePredicate& pred) const {
    size_t n = 0;
    for (const Message& m : sent_)
      n += pred(m) ? 1 : 0;
    return n;
  }
  void ClearSent() {
    sent_.clear();
    delivered_.clear();
  }

  bool record_readies = false;

  // Campaigns at `id` and drains; the caller checks the outcome.
  void Elect(NodeId id) {
    EXPECT_TRUE(node(id).Campaign().ok());
    Drain();
  }

  // Proposes `data` at `id`, expecting success; returns the entry's index.
  uint64_t Propose(NodeId id, std::string data) {
    auto r = node(id).Propose(std::move(data));
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r.value().last_index : 0;
  }

  // Snapshots `id`'s state machine at its applied index and compacts its log
  // up to there, as the engine does after enough entries.
  void CompactAtApplied(NodeId id) {
    Peer& p = peer(id);
    p.snapshot_data = "state@" + std::to_string(p.applied_index);
    auto s = p.storage->CreateSnapshot(p.applied_index, p.conf_state, p.snapshot_data);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    ASSERT_TRUE(p.storage->Compact(p.applied_index).ok());
  }

  // The node's whole log (storage plus unstable suffix) from its first index.
  std::vector<Entry> Log(NodeId id) {
    const RaftLog& log = raft(id).log();
    auto r = log.Slice(log.FirstIndex(), log.LastIndex() + 1, kNoLimit);
    EXPECT_TRUE(r.ok());
    return r.ok() ? r.value() : std::vector<Entry>{};
  }

 private:
  void Apply(Peer& p, const Entry& e) {
    EXPECT_EQ(e.index, p.applied_index + 1) << "node " << p.id << " applied out of order";
    if (e.type == EntryType::kConfChange) {
      auto cc = ConfChange::Decode(e.data);
      EXPECT_TRUE(cc.ok());
      if (cc.ok()) {
        p.conf_state = p.node->ApplyConfChange(cc.value());
        p.storage->SetConfState(p.conf_state);
      }
    }
    p.applied.push_back(e);
    p.applied_index = e.index;
  }

  ConfigFn tweak_;
  std::map<NodeId, std::unique_ptr<Peer>> peers_;
  std::deque<Message> queue_;
  std::vector<Message> sent_;
  std::vector<Message> delivered_;
  std::set<NodeId> isolated_;
  std::set<std::pair<NodeId, NodeId>> cut_;
};

// Config tweaks most §5 tests want: plain elections, no leases.
inline void PlainRaft(Config& c) {
  c.pre_vote = false;
  c.check_quorum = false;
}

}  // namespace phalanx::consensus::test
