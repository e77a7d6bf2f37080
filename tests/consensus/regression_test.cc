// Small deterministic reproductions of consensus bugs that the cluster
// simulation (simulation_test.cc) found. Each test states the bug and the
// situation the simulation reached; the fix is in consensus/.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "consensus/raw_node.h"
#include "consensus/storage.h"
#include "consensus/types.h"

namespace phalanx::consensus {
namespace {

Config BaseConfig() {
  Config c;
  c.election_tick = 10;
  c.heartbeat_tick = 1;
  c.check_quorum = false;
  c.pre_vote = false;
  return c;
}

Snapshot SnapshotAt(uint64_t index, uint64_t term, std::vector<NodeId> voters,
                    std::vector<NodeId> learners = {}) {
  Snapshot s;
  s.metadata.index = index;
  s.metadata.term = term;
  s.metadata.conf_state.voters = std::move(voters);
  s.metadata.conf_state.learners = std::move(learners);
  return s;
}

// One node and its "disk", driven synchronously through the Ready loop of
// raw_node.h. Messages it sends collect in `outbox` until Exchange().
struct Peer {
  Peer(NodeId id, const Snapshot& boot, const HardState& hs, const std::vector<Entry>& entries,
       Config config = BaseConfig()) {
    EXPECT_TRUE(storage.ApplySnapshot(boot).ok());
    EXPECT_TRUE(storage.Append(entries).ok());
    storage.SetHardState(hs);
    config.id = id;
    config.storage = &storage;
    config.seed = id;
    config.applied = boot.metadata.index;
    auto r = RawNode::Create(config);
    EXPECT_TRUE(r.ok());
    rn = std::move(r).value();
  }

  void Drain() {
    while (rn->HasReady()) {
      Ready rd = rn->GetReady();
      if (rd.snapshot) {
        EXPECT_TRUE(storage.ApplySnapshot(*rd.snapshot).ok());
      }
      EXPECT_TRUE(storage.Append(rd.entries).ok());
      if (rd.hard_state) storage.SetHardState(*rd.hard_state);
      outbox.insert(outbox.end(), rd.messages.begin(), rd.messages.end());
      for (const Entry& e : rd.committed_entries) {
        if (e.type != EntryType::kConfChange) continue;
        auto cc = ConfChange::Decode(e.data);
        EXPECT_TRUE(cc.ok());
        storage.SetConfState(rn->ApplyConfChange(cc.value()));
      }
      rn->Advance(rd);
    }
  }

  const Raft& raft() const { return rn->raft(); }

  MemoryStorage storage;  // declared before rn: the node points at it
  std::unique_ptr<RawNode> rn;
  std::vector<Message> outbox;
};

// Delivers messages among `peers` until none is left; messages to anyone
// else are lost.
void Exchange(const std::map<NodeId, Peer*>& peers) {
  for (int round = 0; round < 1000; ++round) {
    std::vector<Message> in_flight;
    for (auto& [id, p] : peers) {
      p->Drain();
      in_flight.insert(in_flight.end(), p->outbox.begin(), p->outbox.end());
      p->outbox.clear();
    }
    if (in_flight.empty()) return;
    for (const Message& m : in_flight) {
      auto it = peers.find(m.to);
      if (it != peers.end()) {
        EXPECT_TRUE(it->second->rn->Step(m).ok());
      }
    }
  }
  ADD_FAILURE() << "messages never stopped";
}

// Simulation, Membership scenario: node 4, a voter of the latest configuration
// {4,5}, needed node 5's vote. Node 5 lagged: its applied configuration
// predated 4's re-addition, so it never sent 4 its own vote requests, and its
// term was ahead. 5 dropped 4's RequestVotes as stale without an answer, so 4
// never learned the current term; with pre-vote off both kept campaigning and
// the cluster had no leader 300 ticks after every fault healed. Fix: reject a
// stale RequestVote with our term (Raft paper Figure 2: the reply carries
// currentTerm "for candidate to update itself").
TEST(Regression, StaleVoteRequestIsRejectedWithTheCurrentTerm) {
  // Node 1 is at term 8 with configuration {1,3}; node 2, at term 6 with
  // configuration {1,2}, holds a more up-to-date log and needs 1's vote.
  Peer a(1, SnapshotAt(10, 5, {1, 3}), {8, kNoNode, 10}, {});
  Entry e11;
  e11.term = 6;
  e11.index = 11;
  Peer b(2, SnapshotAt(10, 5, {1, 2}), {6, kNoNode, 10}, {e11});
  std::map<NodeId, Peer*> peers{{1, &a}, {2, &b}};

  ASSERT_TRUE(b.rn->Campaign().ok());  // term 7: stale for node 1
  b.Drain();
  ASSERT_EQ(b.outbox.size(), 1u);
  EXPECT_EQ(b.outbox[0].type, MessageType::kVote);
  EXPECT_EQ(b.outbox[0].term, 7u);
  Exchange(peers);
  EXPECT_EQ(b.raft().term(), 8u) << "the candidate must learn the term it is behind";
  EXPECT_EQ(b.raft().role(), Role::kFollower);

  ASSERT_TRUE(b.rn->Campaign().ok());  // term 9: now node 1 votes for it
  Exchange(peers);
  EXPECT_EQ(b.raft().role(), Role::kLeader);
  EXPECT_EQ(b.raft().term(), 9u);
}

// The same with pre-vote on: a stale PreVote was already answered; the
// answer must keep carrying the current term.
TEST(Regression, StalePreVoteRequestIsRejectedWithTheCurrentTerm) {
  Config c = BaseConfig();
  c.pre_vote = true;
  Peer a(1, SnapshotAt(10, 5, {1, 3}), {8, kNoNode, 10}, {}, c);
  Message pv;
  pv.type = MessageType::kPreVote;
  pv.from = 2;
  pv.to = 1;
  pv.term = 7;
  pv.index = 11;
  pv.log_term = 6;
  ASSERT_TRUE(a.rn->Step(pv).ok());
  a.Drain();
  ASSERT_EQ(a.outbox.size(), 1u);
  EXPECT_EQ(a.outbox[0].type, MessageType::kPreVoteResp);
  EXPECT_TRUE(a.outbox[0].reject);
  EXPECT_EQ(a.outbox[0].term, 8u);
}

// Simulation, SlowFsync scenario (Readys held across steps, as raw_node.h
// allows between GetReady and Advance): a follower was applying a Ready whose
// committed entries held a conf change when a snapshot of a later index
// arrived. Raft installed the snapshot's configuration at once; the
// application then applied the older conf change on top of it, and Raft's
// configuration no longer matched its log (a removed member came back). Fix:
// refuse a snapshot while committed entries remain to be applied.
TEST(Regression, SnapshotDuringApplyDoesNotRollBackTheConfiguration) {
  Peer f(2, SnapshotAt(10, 2, {1, 2, 3}), {2, kNoNode, 10}, {});
  const ConfChange add4{ConfChange::Type::kAddLearner, 4, ""};

  // The leader replicates and commits entry 11: add learner 4.
  Message app;
  app.type = MessageType::kApp;
  app.from = 1;
  app.to = 2;
  app.term = 2;
  app.index = 10;
  app.log_term = 2;
  app.commit = 11;
  app.entries.push_back(Entry{2, 11, EntryType::kConfChange, add4.Encode()});
  ASSERT_TRUE(f.rn->Step(app).ok());
  Ready rd1 = f.rn->GetReady();
  ASSERT_EQ(rd1.committed_entries.size(), 1u);
  ASSERT_TRUE(f.storage.Append(rd1.entries).ok());
  f.storage.SetHardState(*rd1.hard_state);

  // While rd1 is applied, a snapshot at 20 arrives: 4 was added at 11 and
  // removed again by index 20.
  Message snap;
  snap.type = MessageType::kSnap;
  snap.from = 1;
  snap.to = 2;
  snap.term = 2;
  snap.snapshot = SnapshotAt(20, 2, {1, 2, 3});
  ASSERT_TRUE(f.rn->Step(snap).ok());

  ConfState at11 = f.rn->ApplyConfChange(add4);
  EXPECT_EQ(at11, (ConfState{{1, 2, 3}, {4}}));  // the configuration of index 11
  f.rn->Advance(rd1);
  f.Drain();
  EXPECT_EQ(f.raft().conf_state(), (ConfState{{1, 2, 3}, {4}}));
  EXPECT_EQ(f.raft().log().committed(), 11u) << "the snapshot must wait for the apply";

  // Sent again once the application is idle, the snapshot installs.
  ASSERT_TRUE(f.rn->Step(snap).ok());
  ASSERT_TRUE(f.rn->HasReady());
  Ready rd2 = f.rn->GetReady();
  ASSERT_TRUE(rd2.snapshot.has_value());
  EXPECT_EQ(rd2.snapshot->metadata.index, 20u);
  f.rn->Advance(rd2);
  EXPECT_EQ(f.raft().conf_state(), (ConfState{{1, 2, 3}, {}}));
}

// Simulation, SingleVoter scenario (and etcd-io/etcd#10563): in a two-voter
// cluster {1,2}, leader 1 removed itself and accepted one more proposal
// before the removal committed. On applying the removal it stepped down at
// once; its last append was lost, so node 2 never learned that the removal
// committed. Node 2 still counted voters {1,2} and needed node 1's vote;
// node 1, no voter, never campaigned, and refused node 2 because its own log
// was longer: no leader ever again. Fix: a leader that is no longer a voter
// keeps replicating (accepting nothing new) until it has handed leadership to
// a caught-up voter (etcd-io/etcd#11038).
TEST(Regression, LeaderRemovingItselfFromTwoVotersHandsOver) {
  Peer a(1, SnapshotAt(10, 1, {1, 2}), {1, kNoNode, 10}, {});
  Peer b(2, SnapshotAt(10, 1, {1, 2}), {1, kNoNode, 10}, {});
  std::map<NodeId, Peer*> peers{{1, &a}, {2, &b}};
  ASSERT_TRUE(a.rn->Campaign().ok());
  Exchange(peers);
  ASSERT_EQ(a.raft().role(), Role::kLeader);

  // Entry 12 removes node 1; node 2 stores it and acknowledges.
  auto removal = a.rn->ProposeConfChange({ConfChange::Type::kRemoveNode, 1, ""});
  ASSERT_TRUE(removal.ok());
  a.Drain();
  for (const Message& m : a.outbox) {
    ASSERT_TRUE(b.rn->Step(m).ok());
  }
  a.outbox.clear();
  b.Drain();
  std::vector<Message> acks = std::move(b.outbox);
  b.outbox.clear();

  // Entry 13 is accepted while the removal is pending; its append is lost.
  ASSERT_TRUE(a.rn->Propose("x").ok());
  a.Drain();
  a.outbox.clear();

  // The acknowledgement commits the removal; node 1 applies it.
  for (const Message& m : acks) {
    ASSERT_TRUE(a.rn->Step(m).ok());
  }
  a.Drain();
  EXPECT_EQ(a.raft().conf_state(), (ConfState{{2}, {}}));

  // From here on the network is perfect: node 2 must end up leading {2}.
  for (int tick = 0; tick < 40 * BaseConfig().election_tick; ++tick) {
    a.rn->Tick();
    b.rn->Tick();
    Exchange(peers);
    if (b.raft().role() == Role::kLeader && b.raft().conf_state().voters.size() == 1) break;
  }
  EXPECT_EQ(b.raft().role(), Role::kLeader);
  EXPECT_EQ(b.raft().conf_state(), (ConfState{{2}, {}}));
  EXPECT_NE(a.raft().role(), Role::kLeader);
  EXPECT_GE(b.raft().log().committed(), 13u) << "entry 13 is kept and committed by {2}";
}

// Simulation, SingleVoter scenario: after a clean hand-over, the last voter
// (2) won a term while still counting the removed node 3, sent its first
// entry to 3 before persisting it (allowed for leaders, thesis §10.2.1) and
// crashed. Now 3, no voter in its own configuration, held a longer log than
// 2; 2 needed 3's vote and 3 refused it, but never campaigned itself: no
// leader ever again. Fix: a removed node that refuses a candidate for having
// a shorter log campaigns itself (thesis §4.2.2: a server outside its own
// configuration "might still be needed") and then hands over.
TEST(Regression, RemovedNodeWithTheLongestLogCampaignsWhenStillNeeded) {
  Config c = BaseConfig();
  c.pre_vote = true;
  c.check_quorum = true;
  const ConfChange remove3{ConfChange::Type::kRemoveNode, 3, ""};
  const Entry e11{2, 11, EntryType::kConfChange, remove3.Encode()};
  const Entry e12{3, 12, EntryType::kNormal, ""};  // the lost leader's no-op
  // Node 2 holds the removal but never learned that it committed.
  Peer b(2, SnapshotAt(10, 1, {2, 3}), {3, 2, 10}, {e11}, c);
  // Node 3 applied the removal and holds entry 12.
  Snapshot s11 = SnapshotAt(11, 2, {2});
  Peer r(3, s11, {3, 2, 11}, {e12}, c);
  std::map<NodeId, Peer*> peers{{2, &b}, {3, &r}};
  ASSERT_EQ(b.raft().conf_state(), (ConfState{{2, 3}, {}}));
  ASSERT_EQ(r.raft().conf_state(), (ConfState{{2}, {}}));

  for (int tick = 0; tick < 40 * c.election_tick; ++tick) {
    b.rn->Tick();
    r.rn->Tick();
    Exchange(peers);
    if (b.raft().role() == Role::kLeader && b.raft().conf_state().voters.size() == 1) break;
  }
  EXPECT_EQ(b.raft().role(), Role::kLeader);
  EXPECT_EQ(b.raft().conf_state(), (ConfState{{2}, {}}));
  EXPECT_GE(b.raft().log().committed(), 12u);
  EXPECT_NE(r.raft().role(), Role::kLeader);
}

// Simulation, Membership scenario (check-quorum and pre-vote off): a node
// removed long ago, whose stale configuration still listed node 1, kept
// campaigning and raising 1's term. Node 1, a learner of the real
// configuration, then dropped the leader's appends as stale without an
// answer, so the leader never learned of the higher term and 1 never caught
// up. Fix: a learner or removed node, which never campaigns and so cannot
// spread its term by elections, answers a stale append with its term (Raft
// paper Figure 2), whatever check-quorum and pre-vote say.
TEST(Regression, LearnerAnswersAStaleAppendWithItsTerm) {
  Peer l(2, SnapshotAt(10, 5, {2}, {1}), {5, 2, 10}, {});
  Peer f(1, SnapshotAt(10, 5, {2}, {1}), {9, kNoNode, 10}, {});
  std::map<NodeId, Peer*> peers{{1, &f}, {2, &l}};
  ASSERT_TRUE(l.rn->Campaign().ok());  // a single voter wins at once
  Exchange(peers);
  for (int tick = 0; tick < 10 * BaseConfig().election_tick; ++tick) {
    l.rn->Tick();
    f.rn->Tick();
    Exchange(peers);
  }
  EXPECT_EQ(l.raft().role(), Role::kLeader);
  EXPECT_GT(l.raft().term(), 9u) << "the leader must learn the learner's term";
  EXPECT_EQ(f.raft().log().committed(), l.raft().log().committed());
}

// Simulation, Everything scenario (seed 782, pre-vote and check-quorum off):
// node 5 was removed while partitioned and never received the entry that
// removed it. Still a voter in its own configuration, it campaigned every
// election timeout at a higher term; each RequestVote made the leader of
// {1,2,3,4} step down, and no leader lasted long enough to commit: after the
// faults healed, nothing was applied for 420 ticks. Fix: the disruptive-server
// rule (thesis §4.2.3) also applies without check-quorum to candidates
// outside our configuration.
TEST(Regression, RemovedNodeDoesNotDeposeTheLeaderWithoutCheckQuorum) {
  Snapshot members = SnapshotAt(10, 1, {1, 2, 3});
  Peer a(1, members, {1, kNoNode, 10}, {});
  Peer b(2, members, {1, kNoNode, 10}, {});
  Peer c(3, members, {1, kNoNode, 10}, {});
  // Node 4 still believes in {1,2,3,4} and has been campaigning alone.
  Peer removed(4, SnapshotAt(10, 1, {1, 2, 3, 4}), {7, 4, 10}, {});
  std::map<NodeId, Peer*> peers{{1, &a}, {2, &b}, {3, &c}};
  ASSERT_TRUE(a.rn->Campaign().ok());
  Exchange(peers);
  ASSERT_EQ(a.raft().role(), Role::kLeader);
  uint64_t term = a.raft().term();
  ASSERT_LT(term, 7u);

  ASSERT_TRUE(removed.rn->Campaign().ok());
  removed.Drain();
  std::vector<Message> votes = std::move(removed.outbox);
  removed.outbox.clear();
  ASSERT_FALSE(votes.empty());
  for (const Message& m : votes) {
    ASSERT_GT(m.term, term);
    if (m.to != 4) {
      ASSERT_TRUE(peers.at(m.to)->rn->Step(m).ok());
    }
  }
  Exchange(peers);
  EXPECT_EQ(a.raft().role(), Role::kLeader);
  EXPECT_EQ(a.raft().term(), term);
  EXPECT_EQ(b.raft().term(), term);
  EXPECT_EQ(b.raft().leader(), 1u);
  ASSERT_TRUE(a.rn->Propose("still leading").ok());
  Exchange(peers);
  EXPECT_EQ(c.raft().log().committed(), a.raft().log().LastIndex());

  // A voter of our configuration may still start an election: the rule is not
  // a lease without check-quorum.
  ASSERT_TRUE(c.rn->Campaign().ok());
  Exchange(peers);
  EXPECT_GT(a.raft().term(), term);
}

}  // namespace
}  // namespace phalanx::consensus
