// The Raft paper (Ongaro & Ousterhout) and Ongaro's thesis, rule by rule.
//
// Each test checks one rule and names it; the comment above it cites the
// section. Single-node tests step hand-made messages into one RawNode and look
// at what it says; cluster tests run the Ready loop of a few RawNodes over
// MemoryStorage through test::Network (test_cluster.h).
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "consensus/raw_node.h"
#include "consensus/storage.h"
#include "consensus/types.h"
#include "tests/consensus/test_cluster.h"

namespace phalanx::consensus {
namespace {

using test::EntriesWithTerms;
using test::IsHeartbeat;
using test::Network;
using test::PlainRaft;
using test::TermsOf;
using MT = MessageType;

Message Msg(MT type, NodeId from, NodeId to, uint64_t term) {
  Message m;
  m.type = type;
  m.from = from;
  m.to = to;
  m.term = term;
  return m;
}

std::vector<Message> OfType(const std::vector<Message>& msgs, MT type) {
  std::vector<Message> out;
  for (const Message& m : msgs) {
    if (m.type == type) out.push_back(m);
  }
  return out;
}

// A predicate for Network::CountSent: type, and optionally sender and receiver.
std::function<bool(const Message&)> Is(MT type, NodeId from = kNoNode, NodeId to = kNoNode) {
  return [=](const Message& m) {
    return m.type == type && (from == kNoNode || m.from == from) && (to == kNoNode || m.to == to);
  };
}

std::vector<NodeId> Ids(size_t n) {
  std::vector<NodeId> ids;
  for (NodeId i = 1; i <= n; ++i)
    ids.push_back(i);
  return ids;
}

std::vector<uint64_t> Repeat(uint64_t term, size_t n) {
  return std::vector<uint64_t>(n, term);
}
std::vector<uint64_t> Concat(std::vector<uint64_t> a, const std::vector<uint64_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

std::vector<std::string> AppliedData(const test::Peer& p) {
  std::vector<std::string> out;
  for (const Entry& e : p.applied)
    out.push_back(e.data.str());
  return out;
}

// A server joining with an empty log starts from the configuration that log
// begins with — the initial cluster's — and learns every later change by
// applying it. (Started with an empty ConfState instead, it would apply its own
// AddVoter to an empty configuration and become a cluster of one; only a
// snapshot, which carries its ConfState, can bring such a node in.)
const ConfState kInitialConf{{1, 2, 3}, {}};

ConfChange CC(ConfChange::Type type, NodeId id) {
  ConfChange cc;
  cc.type = type;
  cc.node_id = id;
  cc.context = "addr-" + std::to_string(id);
  return cc;
}

// ---- §5.1 basics --------------------------------------------------------------

// §5.1: a server that sees a higher term adopts it and reverts to follower.
TEST(RaftPaperTest, HigherTermMessageUpdatesTermAndRevertsToFollower) {
  for (Role start : {Role::kFollower, Role::kPreCandidate, Role::kCandidate, Role::kLeader}) {
    SCOPED_TRACE(RoleName(start));
    Network net({1, 2, 3}, [&](Config& c) {
      PlainRaft(c);
      c.pre_vote = start == Role::kPreCandidate;
    });
    if (start == Role::kCandidate || start == Role::kPreCandidate) {
      ASSERT_TRUE(net.node(1).Campaign().ok());
      net.Collect(1);
    }
    if (start == Role::kLeader) net.Elect(1);
    ASSERT_EQ(net.raft(1).role(), start);
    uint64_t term = net.raft(1).term();

    net.node(1).Step(Msg(MT::kApp, 2, 1, term + 1));
    EXPECT_EQ(net.raft(1).term(), term + 1);
    EXPECT_EQ(net.raft(1).role(), Role::kFollower);
    EXPECT_EQ(net.raft(1).leader(), 2u);
    // The new term is made durable, with no vote cast in it.
    net.Collect(1);
    EXPECT_EQ(net.storage(1).GetInitialState().hard_state.term, term + 1);
    EXPECT_EQ(net.storage(1).GetInitialState().hard_state.vote, kNoNode);
  }
}

// §5.1 / Figure 2: a request with a stale term is rejected with the current
// term ("for leader to update itself") and changes nothing else.
TEST(RaftPaperTest, StaleTermRequestIsRejected) {
  Network net({1, 2, 3}, PlainRaft);
  net.Load(1, {}, HardState{2, kNoNode, 0});
  Message m = Msg(MT::kApp, 2, 1, 1);
  m.entries = EntriesWithTerms({1});
  net.node(1).Step(m);
  EXPECT_EQ(net.raft(1).log().LastIndex(), 0u);
  EXPECT_EQ(net.raft(1).term(), 2u);
  EXPECT_EQ(net.raft(1).leader(), kNoNode);
  std::vector<Message> out = net.Collect(1);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].type, MT::kAppResp);
  EXPECT_EQ(out[0].to, 2u);
  EXPECT_EQ(out[0].term, 2u);
}

// §5.1 with check-quorum/pre-vote too: the stale leader is told the current
// term, so that it steps down instead of lingering.
TEST(RaftPaperTest, StaleLeaderIsToldTheCurrentTerm) {
  Network net({1, 2, 3});
  net.Load(1, {}, HardState{2, kNoNode, 0});
  net.node(1).Step(Msg(MT::kHeartbeat, 2, 1, 1));
  std::vector<Message> out = net.Collect(1);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].type, MT::kAppResp);
  EXPECT_EQ(out[0].to, 2u);
  EXPECT_EQ(out[0].term, 2u);
  EXPECT_EQ(net.raft(1).term(), 2u);
}

// §5.2: servers start up as followers, with nothing to do until time passes.
TEST(RaftPaperTest, NodeStartsAsFollower) {
  Network net({1, 2, 3});
  EXPECT_EQ(net.raft(1).role(), Role::kFollower);
  EXPECT_EQ(net.raft(1).term(), 0u);
  EXPECT_EQ(net.raft(1).leader(), kNoNode);
  EXPECT_FALSE(net.node(1).HasReady());
}

// ---- §5.2 leader election -------------------------------------------------------

// §5.2: leaders send periodic heartbeats to all followers to keep their authority.
TEST(RaftPaperTest, LeaderSendsHeartbeatsEveryHeartbeatTick) {
  Network net({1, 2, 3}, [](Config& c) {
    PlainRaft(c);
    c.heartbeat_tick = 3;
  });
  net.Elect(1);
  ASSERT_EQ(net.raft(1).role(), Role::kLeader);
  net.Tick(1, 2);
  EXPECT_TRUE(OfType(net.Collect(1), MT::kHeartbeat).empty());
  net.Tick(1);
  std::vector<Message> beats = OfType(net.Collect(1), MT::kHeartbeat);
  ASSERT_EQ(beats.size(), 2u);
  std::set<NodeId> to;
  for (const Message& m : beats) {
    to.insert(m.to);
    EXPECT_EQ(m.term, 1u);
    EXPECT_EQ(m.commit, 1u);  // the no-op, which both followers hold
    EXPECT_TRUE(m.entries.empty());
  }
  EXPECT_EQ(to, (std::set<NodeId>{2, 3}));
  net.Tick(1, 3);
  EXPECT_EQ(OfType(net.Collect(1), MT::kHeartbeat).size(), 2u);
}

// §5.2: a follower that hears nothing for an election timeout becomes a
// candidate: it increments its term, votes for itself (durably) and asks every
// other server for its vote, naming its last log index and term.
TEST(RaftPaperTest, FollowerStartsElectionAfterElectionTimeout) {
  Network net({1, 2, 3}, PlainRaft);
  net.Load(1, EntriesWithTerms({1, 1}), HardState{1, kNoNode, 0});
  net.Tick(1, 9);
  EXPECT_TRUE(net.Collect(1).empty());
  EXPECT_EQ(net.raft(1).role(), Role::kFollower);
  int ticks = 9;
  while (net.raft(1).role() == Role::kFollower && ticks < 100) {
    net.Tick(1);
    ++ticks;
  }
  EXPECT_GE(ticks, 10);
  EXPECT_LT(ticks, 20);
  EXPECT_EQ(net.raft(1).role(), Role::kCandidate);
  EXPECT_EQ(net.raft(1).term(), 2u);
  EXPECT_EQ(net.raft(1).vote(), 1u);

  std::vector<Message> votes = OfType(net.Collect(1), MT::kVote);
  ASSERT_EQ(votes.size(), 2u);
  std::set<NodeId> to;
  for (const Message& m : votes) {
    to.insert(m.to);
    EXPECT_EQ(m.term, 2u);
    EXPECT_EQ(m.index, 2u);
    EXPECT_EQ(m.log_term, 1u);
    EXPECT_FALSE(m.transfer);
  }
  EXPECT_EQ(to, (std::set<NodeId>{2, 3}));
  HardState durable = net.storage(1).GetInitialState().hard_state;
  EXPECT_EQ(durable.term, 2u);
  EXPECT_EQ(durable.vote, 1u);
}

// §5.2: election timeouts are drawn from [T, 2T), differently per node and
// per seed, so that split votes are rare.
TEST(RaftPaperTest, ElectionTimeoutIsRandomizedBetweenOneAndTwoTimeouts) {
  std::set<int> seen;
  int all_equal = 0;
  for (uint64_t seed = 0; seed < 50; ++seed) {
    Network net({1, 2, 3}, [seed](Config& c) {
      PlainRaft(c);
      c.seed = seed;
    });
    std::vector<int> timeouts;
    for (NodeId id : {1, 2, 3}) {
      int ticks = 0;
      while (net.raft(id).role() == Role::kFollower && ticks < 100) {
        net.Tick(id);
        ++ticks;
      }
      EXPECT_GE(ticks, 10);
      EXPECT_LT(ticks, 20);
      seen.insert(ticks);
      timeouts.push_back(ticks);
    }
    if (timeouts[0] == timeouts[1] && timeouts[1] == timeouts[2]) ++all_equal;
  }
  EXPECT_GE(seen.size(), 8u);
  EXPECT_LE(all_equal, 5);
}

// §5.2: a candidate wins once a majority of the full cluster voted for it; it
// keeps waiting while neither side has a majority and gives up once a majority
// refused.
TEST(RaftPaperTest, CandidateWinsElectionWithVotesFromAMajority) {
  struct Case {
    size_t size;
    std::map<NodeId, bool> votes;
    Role want;
  } cases[] = {
      {1, {}, Role::kLeader},
      {3, {{2, true}, {3, true}}, Role::kLeader},
      {3, {{2, true}}, Role::kLeader},
      {5, {{2, true}, {3, true}, {4, true}, {5, true}}, Role::kLeader},
      {5, {{2, true}, {3, true}, {4, true}}, Role::kLeader},
      {5, {{2, true}, {3, true}}, Role::kLeader},
      {5, {{2, false}, {3, true}, {4, true}}, Role::kLeader},
      {3, {}, Role::kCandidate},
      {5, {{2, true}}, Role::kCandidate},
      {5, {{2, true}, {3, false}, {4, false}}, Role::kCandidate},
      {3, {{2, false}, {3, false}}, Role::kFollower},
      {5, {{2, false}, {3, false}, {4, false}}, Role::kFollower},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(testing::Message() << "size " << c.size << ", answers " << c.votes.size());
    Network net(Ids(c.size), PlainRaft);
    ASSERT_TRUE(net.node(1).Campaign().ok());
    net.Collect(1);
    for (const auto& [from, granted] : c.votes) {
      Message resp = Msg(MT::kVoteResp, from, 1, 1);
      resp.reject = !granted;
      net.node(1).Step(resp);
    }
    EXPECT_EQ(net.raft(1).role(), c.want);
    EXPECT_EQ(net.raft(1).term(), 1u);
  }
}

// §5.2: a candidate that hears from a leader of its own (or a later) term
// recognizes it and returns to follower.
TEST(RaftPaperTest, CandidateStepsDownOnAppendFromALeaderOfItsTerm) {
  for (uint64_t later : {0, 1}) {
    SCOPED_TRACE(later);
    Network net({1, 2, 3}, PlainRaft);
    ASSERT_TRUE(net.node(1).Campaign().ok());
    net.Collect(1);
    ASSERT_EQ(net.raft(1).role(), Role::kCandidate);
    net.node(1).Step(Msg(MT::kApp, 2, 1, 1 + later));
    EXPECT_EQ(net.raft(1).role(), Role::kFollower);
    EXPECT_EQ(net.raft(1).leader(), 2u);
    EXPECT_EQ(net.raft(1).term(), 1 + later);
  }
}

// §5.2: when the vote splits, nobody wins; the candidates time out and a new
// election in a higher term elects exactly one leader.
TEST(RaftPaperTest, SplitVoteIsRetriedInAHigherTerm) {
  Network net({1, 2, 3, 4}, PlainRaft);
  net.Cut(1, 4);  // 4 only hears 3
  net.Cut(3, 2);  // 2 only hears 1
  ASSERT_TRUE(net.node(1).Campaign().ok());
  ASSERT_TRUE(net.node(3).Campaign().ok());
  net.Drain();
  EXPECT_EQ(net.Leader(), kNoNode);
  EXPECT_EQ(net.raft(1).role(), Role::kCandidate);
  EXPECT_EQ(net.raft(3).role(), Role::kCandidate);
  EXPECT_EQ(net.raft(1).term(), 1u);

  net.Heal();
  for (int i = 0; i < 200 && net.Leader() == kNoNode; ++i)
    net.TickAll();
  NodeId leader = net.Leader();
  ASSERT_NE(leader, kNoNode);
  EXPECT_GE(net.raft(leader).term(), 2u);
  net.TickAll(2);
  for (NodeId id : net.ids()) {
    EXPECT_EQ(net.raft(id).leader(), leader) << id;
    if (id != leader) {
      EXPECT_EQ(net.raft(id).role(), Role::kFollower) << id;
    }
  }
}

// §5.2: each server votes for at most one candidate in a term, first come
// first served; a repeated request from that candidate is granted again.
TEST(RaftPaperTest, FollowerVotesForAtMostOneCandidatePerTerm) {
  struct Case {
    NodeId voted, candidate;
    bool want_reject;
  } cases[] = {
      // clang-format off
      {kNoNode, 2, false},  // first come, first served
      {kNoNode, 3, false},
      {2, 2, false},        // the same candidate asks again
      {3, 3, false},
      {2, 3, true},         // already voted for another
      {3, 2, true},
      // clang-format on
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(testing::Message() << "voted " << c.voted << ", candidate " << c.candidate);
    Network net({1, 2, 3}, PlainRaft);
    net.Load(1, {}, HardState{1, c.voted, 0});
    net.node(1).Step(Msg(MT::kVote, c.candidate, 1, 1));
    std::vector<Message> out = net.Collect(1);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].type, MT::kVoteResp);
    EXPECT_EQ(out[0].to, c.candidate);
    EXPECT_EQ(out[0].term, 1u);
    EXPECT_EQ(out[0].reject, c.want_reject);
    NodeId want_vote = c.want_reject ? c.voted : c.candidate;
    EXPECT_EQ(net.raft(1).vote(), want_vote);
    EXPECT_EQ(net.storage(1).GetInitialState().hard_state.vote, want_vote);
  }
}

// §5.4.1: a voter denies its vote to a candidate whose log is less up to date
// than its own (compare last terms, then lengths).
TEST(RaftPaperTest, VoterRejectsCandidateWhoseLogIsLessUpToDate) {
  struct Case {
    std::vector<uint64_t> log;
    uint64_t last_term, last_index;
    bool want_reject;
  } cases[] = {
      // Same last term: the longer (or equal) log wins.
      {{1}, 1, 1, false},
      {{1}, 1, 2, false},
      {{1, 1}, 1, 1, true},
      // The candidate's last term is higher.
      {{1}, 2, 1, false},
      {{1}, 2, 2, false},
      {{1, 1}, 2, 1, false},
      // The voter's last term is higher, however long the candidate's log.
      {{2}, 1, 1, true},
      {{2}, 1, 2, true},
      {{2, 2}, 1, 1, true},
      {{1, 2}, 1, 3, true},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(testing::Message() << "candidate " << c.last_term << "/" << c.last_index
                                    << " vs log of " << c.log.size());
    Network net({1, 2, 3}, PlainRaft);
    net.Load(1, EntriesWithTerms(c.log), HardState{2, kNoNode, 0});
    Message m = Msg(MT::kVote, 2, 1, 3);
    m.index = c.last_index;
    m.log_term = c.last_term;
    net.node(1).Step(m);
    std::vector<Message> out = OfType(net.Collect(1), MT::kVoteResp);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].reject, c.want_reject);
    EXPECT_EQ(out[0].term, 3u);
    EXPECT_EQ(net.raft(1).vote(), c.want_reject ? kNoNode : 2u);
  }
}

// ---- §5.3 log replication ----------------------------------------------------------

// §5.3: the leader appends a command to its log as a new entry and sends
// AppendEntries to every follower in parallel, naming the preceding entry.
TEST(RaftPaperTest, LeaderAppendsProposalAndSendsItToEveryFollower) {
  Network net({1, 2, 3}, PlainRaft);
  net.Elect(1);
  ASSERT_EQ(net.raft(1).role(), Role::kLeader);
  uint64_t commit = net.raft(1).log().committed();
  ASSERT_EQ(commit, 1u);
  net.record_readies = true;

  auto pos = net.node(1).Propose("x");
  ASSERT_TRUE(pos.ok());
  EXPECT_EQ(pos.value().first_index, 2u);
  EXPECT_EQ(pos.value().last_index, 2u);
  EXPECT_EQ(pos.value().term, 1u);
  std::vector<Message> out = net.RunReady(1);
  ASSERT_EQ(net.peer(1).readies.size(), 1u);
  const Ready& rd = net.peer(1).readies.back();
  Entry want{1, 2, EntryType::kNormal, "x"};
  EXPECT_EQ(rd.entries, std::vector<Entry>{want});
  EXPECT_TRUE(rd.committed_entries.empty());
  // Term and vote are durable already: appends may leave during the leader's fsync.
  EXPECT_TRUE(rd.send_messages_before_persisting);

  std::vector<Message> apps = OfType(out, MT::kApp);
  ASSERT_EQ(apps.size(), 2u);
  std::set<NodeId> to;
  for (const Message& m : apps) {
    to.insert(m.to);
    EXPECT_EQ(m.term, 1u);
    EXPECT_EQ(m.index, 1u);
    EXPECT_EQ(m.log_term, 1u);
    EXPECT_EQ(m.commit, commit);
    EXPECT_EQ(m.entries, std::vector<Entry>{want});
  }
  EXPECT_EQ(to, (std::set<NodeId>{2, 3}));
}

// §5.3: an entry is committed once the leader has replicated it on a majority
// of the servers (itself included), and then applied.
TEST(RaftPaperTest, LeaderCommitsEntryOnceAMajorityStoresIt) {
  for (size_t size : {1, 3, 5}) {
    for (size_t acceptors = 0; acceptors < size; ++acceptors) {
      SCOPED_TRACE(testing::Message() << "size " << size << ", acceptors " << acceptors);
      Network net(Ids(size), PlainRaft);
      net.Elect(1);
      ASSERT_EQ(net.raft(1).role(), Role::kLeader);
      for (NodeId id = acceptors + 2; id <= size; ++id)
        net.Isolate(id);
      uint64_t index = net.Propose(1, "x");
      net.Drain();
      bool want = 1 + acceptors >= size / 2 + 1;
      EXPECT_EQ(net.raft(1).log().committed() >= index, want);
      std::vector<std::string> applied = AppliedData(net.peer(1));
      EXPECT_EQ(!applied.empty() && applied.back() == "x", want);
    }
  }
}

// §5.3: committing an entry also commits every preceding entry, including
// those created by previous leaders, and every server applies them in order.
TEST(RaftPaperTest, LeaderCommitCoversEntriesOfPreviousLeaders) {
  Network net({1, 2, 3}, PlainRaft);
  for (NodeId id : {1, 2, 3})
    net.Load(id, EntriesWithTerms({1, 2}), HardState{2, kNoNode, 0});
  net.Elect(1);
  ASSERT_EQ(net.raft(1).role(), Role::kLeader);
  ASSERT_EQ(net.raft(1).term(), 3u);
  for (NodeId id : {1, 2, 3}) {
    SCOPED_TRACE(id);
    EXPECT_EQ(net.raft(id).log().committed(), 3u);
    EXPECT_EQ(TermsOf(net.peer(id).applied), (std::vector<uint64_t>{1, 2, 3}));
  }
}

// §5.3: followers learn the commit index from the leader and apply committed
// entries in log order, the same sequence everywhere.
TEST(RaftPaperTest, FollowersLearnTheCommitIndexAndApplyInLogOrder) {
  Network net({1, 2, 3});
  net.Elect(1);
  for (const char* v : {"a", "b", "c"})
    net.Propose(1, v);
  net.Drain();
  std::vector<std::string> want{"", "a", "b", "c"};
  for (NodeId id : {1, 2, 3}) {
    SCOPED_TRACE(id);
    EXPECT_EQ(net.raft(id).log().committed(), 4u);
    EXPECT_EQ(AppliedData(net.peer(id)), want);
    EXPECT_EQ(net.peer(id).applied_index, 4u);
  }
}

// §5.3: a follower sets its commit index to min(leaderCommit, index of the
// last new entry) — never past what the append proved to match the leader
// (eBay/NuRaft#57: a stale tail must not become committed).
TEST(RaftPaperTest, FollowerCommitsOnlyWhatTheAppendProvedToMatch) {
  Network net({1, 2, 3}, PlainRaft);
  // Node 2 holds a stale, uncommitted tail (3/1) from an old leader.
  net.Load(2, EntriesWithTerms({1, 1, 1}), HardState{1, kNoNode, 1});
  Message m = Msg(MT::kApp, 1, 2, 2);
  m.index = 2;
  m.log_term = 1;
  m.commit = 3;  // the leader's own index 3 is a different entry
  net.node(2).Step(m);
  EXPECT_EQ(net.raft(2).log().committed(), 2u);
  std::vector<Message> out = net.Collect(2);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].type, MT::kAppResp);
  EXPECT_FALSE(out[0].reject);
  EXPECT_EQ(out[0].index, 2u);

  m.entries = EntriesWithTerms({2, 2}, 3);
  net.node(2).Step(m);
  EXPECT_EQ(net.raft(2).log().committed(), 3u);
  EXPECT_EQ(TermsOf(net.Log(2)), (std::vector<uint64_t>{1, 1, 2, 2}));
  net.Collect(2);
  EXPECT_EQ(net.peer(2).applied_index, 3u);
  ASSERT_FALSE(net.peer(2).applied.empty());
  EXPECT_EQ(net.peer(2).applied.back().term, 2u);  // the leader's entry, not the stale one
}

// §5.3: a follower refuses entries unless it holds the entry preceding them
// with the same term; its rejection carries a hint for fast backtracking.
TEST(RaftPaperTest, FollowerRejectsAppendThatFailsTheConsistencyCheck) {
  struct Case {
    uint64_t log_term, index;
    uint64_t want_index;
    bool want_reject;
    uint64_t want_hint, want_hint_term;
  } cases[] = {
      {0, 0, 1, false, 0, 0},  // below commit: answered with the commit index
      {1, 1, 1, false, 0, 0},  // matches at the commit index
      {2, 2, 2, false, 0, 0},  // matches at the last entry
      {1, 2, 2, true, 1, 1},   // term mismatch at 2: the follower's term 1 ends at 1
      {3, 3, 3, true, 2, 2},   // 3 is missing: the follower's log ends at 2/2
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(testing::Message() << c.log_term << "/" << c.index);
    Network net({1, 2, 3}, PlainRaft);
    net.Load(2, EntriesWithTerms({1, 2}), HardState{2, kNoNode, 1});
    Message m = Msg(MT::kApp, 1, 2, 2);
    m.index = c.index;
    m.log_term = c.log_term;
    m.commit = 1;
    net.node(2).Step(m);
    std::vector<Message> out = net.Collect(2);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].type, MT::kAppResp);
    EXPECT_EQ(out[0].index, c.want_index);
    EXPECT_EQ(out[0].reject, c.want_reject);
    if (c.want_reject) {
      EXPECT_EQ(out[0].reject_hint, c.want_hint);
      EXPECT_EQ(out[0].log_term, c.want_hint_term);
    }
    EXPECT_EQ(TermsOf(net.Log(2)), (std::vector<uint64_t>{1, 2}));
  }
}

// §5.3: when an existing entry conflicts with a new one (same index, other
// term), the follower deletes it and all that follow, then appends the new
// entries it does not already have; only what changed is persisted.
TEST(RaftPaperTest, FollowerTruncatesItsConflictingSuffixAndAppends) {
  struct Case {
    uint64_t index, log_term;
    std::vector<Entry> entries;
    std::vector<uint64_t> want_log, want_persisted;
  } cases[] = {
      {2, 2, EntriesWithTerms({3}, 3), {1, 2, 3}, {3}},
      {1, 1, EntriesWithTerms({3, 4}, 2), {1, 3, 4}, {3, 4}},
      {0, 0, EntriesWithTerms({1}, 1), {1, 2}, {}},
      {0, 0, EntriesWithTerms({3}, 1), {3}, {3}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(testing::Message() << c.log_term << "/" << c.index);
    Network net({1, 2, 3}, PlainRaft);
    net.Load(2, EntriesWithTerms({1, 2}), HardState{2, kNoNode, 0});
    net.record_readies = true;
    Message m = Msg(MT::kApp, 1, 2, 4);
    m.index = c.index;
    m.log_term = c.log_term;
    m.entries = c.entries;
    net.node(2).Step(m);
    EXPECT_EQ(TermsOf(net.Log(2)), c.want_log);
    net.Collect(2);
    ASSERT_FALSE(net.peer(2).readies.empty());
    EXPECT_EQ(TermsOf(net.peer(2).readies.back().entries), c.want_persisted);
    auto stored = net.storage(2).Entries(1, net.storage(2).LastIndex() + 1, kNoLimit);
    ASSERT_TRUE(stored.ok());
    EXPECT_EQ(TermsOf(stored.value()), c.want_log);
  }
}

// §5.3, Figure 7: whatever a follower's log looks like — missing entries,
// extra uncommitted entries, or both — the leader makes it identical to its own.
TEST(RaftPaperTest, LeaderBringsEveryFollowerLogInSync) {
  std::vector<uint64_t> leader_log{1, 1, 1, 4, 4, 5, 5, 6, 6, 6};
  struct Case {
    const char* name;
    std::vector<uint64_t> follower;
  } cases[] = {
      {"(a) missing one", {1, 1, 1, 4, 4, 5, 5, 6, 6}},
      {"(b) missing many", {1, 1, 1, 4}},
      {"(c) one extra", {1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6}},
      {"(d) extra of a later term", {1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7}},
      {"(e) missing and extra", {1, 1, 1, 4, 4, 4, 4}},
      {"(f) long divergence", {1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Network net({1, 2, 3}, PlainRaft);
    net.Load(1, EntriesWithTerms(leader_log), HardState{8, kNoNode, 0});
    net.Load(2, EntriesWithTerms(c.follower), HardState{8, kNoNode, 0});
    net.Load(3, EntriesWithTerms(leader_log), HardState{8, kNoNode, 0});
    net.Elect(1);
    ASSERT_EQ(net.raft(1).role(), Role::kLeader);
    EXPECT_EQ(net.Log(2), net.Log(1));
    EXPECT_EQ(TermsOf(net.Log(2)), Concat(leader_log, {9}));  // plus the no-op
    EXPECT_EQ(net.raft(2).log().committed(), 11u);
  }
}

// §5.3: an append that arrives late (reordered behind a newer one from the
// same leader) must not truncate the entries the newer one brought.
TEST(RaftPaperTest, FollowerKeepsItsLogWhenAnOlderAppendArrivesLate) {
  Network net({1, 2, 3}, PlainRaft);
  net.Load(2, EntriesWithTerms({1}), HardState{1, kNoNode, 1});
  Message newer = Msg(MT::kApp, 1, 2, 1);
  newer.index = 1;
  newer.log_term = 1;
  newer.entries = EntriesWithTerms({1, 1}, 2);
  Message older = newer;
  older.entries.pop_back();
  net.node(2).Step(newer);
  net.node(2).Step(older);
  EXPECT_EQ(net.raft(2).log().LastIndex(), 3u);
  std::vector<Message> out = OfType(net.Collect(2), MT::kAppResp);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].index, 3u);
  EXPECT_EQ(out[1].index, 2u);
  EXPECT_EQ(net.storage(2).LastIndex(), 3u);
}

// PITFALLS (etcd-io/etcd#14370): even alone, a node commits — and so hands
// out to apply — an entry only after the entry is durable.
TEST(RaftPaperTest, SingleNodeCommitsOnlyAfterItsEntryIsDurable) {
  Network net({1});
  net.Elect(1);
  ASSERT_EQ(net.raft(1).role(), Role::kLeader);
  net.record_readies = true;
  uint64_t index = net.Propose(1, "x");
  EXPECT_LT(net.raft(1).log().committed(), index);
  net.RunReady(1);
  ASSERT_FALSE(net.peer(1).readies.empty());
  const Ready& persist = net.peer(1).readies.back();
  ASSERT_EQ(persist.entries.size(), 1u);
  EXPECT_EQ(persist.entries[0].index, index);
  for (const Entry& e : persist.committed_entries)
    EXPECT_LT(e.index, index);
  EXPECT_GE(net.raft(1).log().committed(), index);  // counted at Advance
  net.RunReady(1);
  ASSERT_FALSE(net.peer(1).readies.back().committed_entries.empty());
  EXPECT_EQ(net.peer(1).readies.back().committed_entries.back().data, "x");
}

// Thesis §10.2.1: a leader's appends may leave while its own fsync runs, but
// it counts itself towards commit only once its entry is durable.
TEST(RaftPaperTest, LeaderCountsItselfTowardsCommitOnlyOnceDurable) {
  Network net({1, 2, 3});
  net.Elect(1);
  uint64_t index = net.Propose(1, "x");
  Ready rd = net.node(1).GetReady();
  ASSERT_TRUE(rd.send_messages_before_persisting);
  // The append to 2 leaves before the leader's fsync; 2 stores it and answers.
  for (const Message& m : OfType(rd.messages, MT::kApp)) {
    if (m.to == 2) net.node(2).Step(m);
  }
  for (const Message& m : net.Collect(2))
    net.node(1).Step(m);
  EXPECT_LT(net.raft(1).log().committed(), index);  // one durable copy of three
  ASSERT_TRUE(net.storage(1).Append(rd.entries).ok());
  if (rd.hard_state) net.storage(1).SetHardState(*rd.hard_state);
  net.node(1).Advance(rd);
  EXPECT_GE(net.raft(1).log().committed(), index);  // now two
}

// Thesis §10.2.1 / raw_node.h: a leader may send before persisting only once
// its term and vote are durable; one that won in the same step it campaigned
// (a single voter) must persist its vote before anything leaves.
TEST(RaftPaperTest, NewLeaderWhoseVoteIsNotYetDurablePersistsBeforeSending) {
  Network net({1}, {}, {2});
  net.record_readies = true;
  ASSERT_TRUE(net.node(1).Campaign().ok());
  ASSERT_EQ(net.raft(1).role(), Role::kLeader);
  net.RunReady(1);
  ASSERT_EQ(net.peer(1).readies.size(), 1u);
  const Ready& first = net.peer(1).readies.front();
  ASSERT_TRUE(first.hard_state.has_value());
  EXPECT_EQ(first.hard_state->term, 1u);
  EXPECT_EQ(first.hard_state->vote, 1u);
  EXPECT_FALSE(first.send_messages_before_persisting);
  net.Drain();
  net.Propose(1, "x");
  net.RunReady(1);
  EXPECT_TRUE(net.peer(1).readies.back().send_messages_before_persisting);
}

// Figure 2: currentTerm, votedFor and log[] are persistent state; commitIndex
// is volatile. A Ready must be fsync'd when it carries entries or a new term or
// vote, and need not be when only the commit index moved.
TEST(RaftPaperTest, ReadyMustSyncOnlyForEntriesTermOrVote) {
  Network net({1, 2, 3});
  net.record_readies = true;
  net.Elect(1);
  ASSERT_EQ(net.raft(1).role(), Role::kLeader);
  int vote_readies = 0;
  for (const Ready& rd : net.peer(1).readies) {
    if (!rd.hard_state || rd.hard_state->vote != 1) continue;
    EXPECT_TRUE(rd.must_sync) << "a new term and vote";
    ++vote_readies;
    break;
  }
  EXPECT_EQ(vote_readies, 1);

  uint64_t index = net.Propose(1, "x");
  std::vector<Message> apps = net.RunReady(1);
  const Ready& append = net.peer(1).readies.back();
  ASSERT_FALSE(append.entries.empty());
  EXPECT_TRUE(append.must_sync) << "new entries";

  // Once the followers acknowledge, the leader's next Ready moves only commit.
  for (const Message& m : apps)
    net.node(m.to).Step(m);
  for (NodeId f : {2, 3}) {
    for (const Message& m : net.Collect(f))
      net.node(1).Step(m);
  }
  net.RunReady(1);
  const Ready& commit = net.peer(1).readies.back();
  ASSERT_TRUE(commit.hard_state.has_value());
  EXPECT_GE(commit.hard_state->commit, index);
  ASSERT_FALSE(commit.committed_entries.empty());
  EXPECT_TRUE(commit.entries.empty());
  EXPECT_FALSE(commit.must_sync) << "only the commit index moved";
}

// Committed entries are handed out in batches bounded by
// max_committed_size_per_ready, in order and each exactly once.
TEST(RaftPaperTest, CommittedEntriesAreHandedOutInBoundedBatches) {
  Network net({1, 2, 3}, [](Config& c) { c.max_committed_size_per_ready = 100; });
  net.Elect(1);
  net.Isolate(3);
  for (int i = 0; i < 10; ++i)
    net.Propose(1, std::string(30, 'a' + i));
  net.Drain();
  net.record_readies = true;
  net.Heal();
  net.TickAll(3);
  size_t batches = 0;
  for (const Ready& rd : net.peer(3).readies) {
    uint64_t bytes = 0;
    for (const Entry& e : rd.committed_entries)
      bytes += e.ByteSize();
    EXPECT_TRUE(bytes <= 100 || rd.committed_entries.size() == 1);
    batches += rd.committed_entries.empty() ? 0 : 1;
  }
  EXPECT_GE(batches, 5u);
  EXPECT_EQ(AppliedData(net.peer(3)), AppliedData(net.peer(1)));
}

// Figure 2: currentTerm and votedFor are durable, so a restarted server does
// not vote twice in one term.
TEST(RaftPaperTest, RestartedNodeDoesNotVoteTwiceInATerm) {
  Network net({1, 2, 3}, PlainRaft);
  net.node(1).Step(Msg(MT::kVote, 2, 1, 1));
  std::vector<Message> out = net.Collect(1);
  ASSERT_EQ(out.size(), 1u);
  ASSERT_FALSE(out[0].reject);
  net.Restart(1);
  net.node(1).Step(Msg(MT::kVote, 3, 1, 1));
  out = net.Collect(1);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(out[0].reject);
  EXPECT_EQ(net.raft(1).vote(), 2u);
}

// Figure 2: a crashed leader restarts from its durable state as a follower of
// the same term, does not re-apply what it applied, and rejoins.
TEST(RaftPaperTest, RestartedLeaderRejoinsFromItsDurableState) {
  Network net({1, 2, 3});
  net.Elect(1);
  net.Propose(1, "a");
  net.Propose(1, "b");
  net.Drain();
  uint64_t term = net.raft(1).term();
  uint64_t last = net.raft(1).log().LastIndex();
  net.Restart(1);
  EXPECT_EQ(net.raft(1).role(), Role::kFollower);
  EXPECT_EQ(net.raft(1).term(), term);
  EXPECT_EQ(net.raft(1).log().LastIndex(), last);
  EXPECT_EQ(net.raft(1).log().committed(), last);
  EXPECT_EQ(net.raft(1).log().applied(), last);
  for (int i = 0; i < 100 && (net.Leader() == kNoNode || net.Leader() == 1); ++i)
    net.TickAll();
  NodeId leader = net.Leader();
  ASSERT_NE(leader, kNoNode);
  net.Propose(leader, "c");
  net.Drain();
  net.TickAll();
  EXPECT_EQ(AppliedData(net.peer(1)), AppliedData(net.peer(2)));
  ASSERT_FALSE(net.peer(1).applied.empty());
  EXPECT_EQ(AppliedData(net.peer(1)).back(), "c");
}

// ---- §5.4 safety --------------------------------------------------------------------

// §5.4.2, Figure 8: a leader never commits an entry of an earlier term by
// counting replicas. S1 (term 4) gets its term-2 entry onto a majority but not
// its own no-op; that entry must stay uncommitted, because S5 can still be
// elected and overwrite it — and does.
TEST(RaftPaperTest, LeaderDoesNotCommitAPreviousTermEntryByCountingReplicas) {
  Network net({1, 2, 3, 4, 5}, [](Config& c) {
    PlainRaft(c);
    c.max_size_per_msg = 1;  // one entry per append
  });
  net.Load(1, EntriesWithTerms({1, 2}), HardState{3, kNoNode, 1});
  for (NodeId id : {2, 3, 4})
    net.Load(id, EntriesWithTerms({1}), HardState{3, kNoNode, 1});
  net.Load(5, EntriesWithTerms({1, 3}), HardState{3, 5, 1});

  // S1 wins term 4 with S2 and S3; S2 and S3 receive 2/2 but never the no-op 3/4.
  net.Isolate(4);
  net.Isolate(5);
  std::set<NodeId> hold_2;
  net.drop = [&](const Message& m) {
    if (m.type == MT::kAppResp && m.to == 1 && !m.reject && m.index >= 2) hold_2.insert(m.from);
    if (m.type != MT::kApp || m.from != 1 || !hold_2.count(m.to)) return false;
    for (const Entry& e : m.entries) {
      if (e.index >= 3) return true;
    }
    return false;
  };
  net.Elect(1);
  ASSERT_EQ(net.raft(1).role(), Role::kLeader);
  ASSERT_EQ(net.raft(1).term(), 4u);
  for (NodeId id : {1, 2, 3}) {
    SCOPED_TRACE(id);
    ASSERT_GE(net.raft(id).log().LastIndex(), 2u);
    EXPECT_EQ(net.raft(id).log().TermOrZero(2), 2u);  // on a majority...
    EXPECT_EQ(net.raft(id).log().committed(), 1u);    // ...and still not committed
  }

  // S1 goes away; S5 (last term 3) is elected by S2, S3, S4 and overwrites index 2.
  net.Heal();
  net.Isolate(1);
  for (int i = 0; i < 5 && net.raft(5).role() != Role::kLeader; ++i)
    net.Elect(5);
  ASSERT_EQ(net.raft(5).role(), Role::kLeader);
  net.Heal();
  net.TickAll(3);
  for (NodeId id : {1, 2, 3, 4, 5}) {
    SCOPED_TRACE(id);
    EXPECT_EQ(net.raft(id).log().TermOrZero(2), 3u);
    EXPECT_GE(net.raft(id).log().committed(), 3u);
    for (const Entry& e : net.peer(id).applied) {
      EXPECT_FALSE(e.index == 2 && e.term == 2) << "applied an overwritten entry";
    }
  }
}

// §5.4.3 (leader completeness): a server whose log lacks a committed entry
// cannot win an election; every later leader holds every committed entry.
TEST(RaftPaperTest, NodeMissingACommittedEntryCannotBecomeLeader) {
  Network net({1, 2, 3}, PlainRaft);
  net.Elect(1);
  net.Isolate(3);
  uint64_t index = net.Propose(1, "committed");
  net.Drain();
  ASSERT_GE(net.raft(2).log().committed(), index);

  net.Heal();
  net.Isolate(1);
  for (int i = 0; i < 3; ++i)
    net.Elect(3);
  EXPECT_NE(net.raft(3).role(), Role::kLeader);
  net.Elect(2);
  ASSERT_EQ(net.raft(2).role(), Role::kLeader);
  auto term = net.raft(2).log().Term(index);
  ASSERT_TRUE(term.ok());
  EXPECT_EQ(term.value(), 1u);
  net.Drain();
  ASSERT_GE(net.raft(3).log().committed(), index);
  EXPECT_EQ(AppliedData(net.peer(3))[index - 1], "committed");
}

// §8: a new leader appends a blank no-op entry at the start of its term and
// commits it, which commits everything it inherited.
TEST(RaftPaperTest, LeaderAppendsANoOpEntryAtTheStartOfItsTerm) {
  Network net({1, 2, 3}, PlainRaft);
  for (NodeId id : {1, 2, 3})
    net.Load(id, EntriesWithTerms({1}), HardState{1, kNoNode, 0});
  net.record_readies = true;
  net.Elect(1);
  ASSERT_EQ(net.raft(1).role(), Role::kLeader);
  const Ready* first = nullptr;
  for (const Ready& rd : net.peer(1).readies) {
    if (rd.soft_state && rd.soft_state->role == Role::kLeader) {
      first = &rd;
      break;
    }
  }
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(first->entries, (std::vector<Entry>{Entry{2, 2, EntryType::kNormal, ""}}));
  for (NodeId id : {1, 2, 3}) {
    SCOPED_TRACE(id);
    EXPECT_EQ(net.raft(id).log().committed(), 2u);
    ASSERT_EQ(net.peer(id).applied.size(), 2u);
    EXPECT_EQ(net.peer(id).applied.back(), (Entry{2, 2, EntryType::kNormal, ""}));
  }
}

// §5.1/§8: clients talk to the leader; a proposal elsewhere fails at once with
// kNotLeader and the leader this node knows of, and appends nothing.
TEST(RaftPaperTest, ProposalOnANonLeaderFailsAtOnceWithTheLeaderHint) {
  Network net({1, 2, 3});
  net.Elect(1);
  uint64_t last = net.raft(2).log().LastIndex();
  auto r = net.node(2).Propose("x");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kNotLeader);
  EXPECT_EQ(r.status().leader_hint(), 1u);
  auto cc = net.node(2).ProposeConfChange(CC(ConfChange::Type::kAddLearner, 4));
  EXPECT_EQ(cc.status().code(), Status::Code::kNotLeader);
  EXPECT_EQ(cc.status().leader_hint(), 1u);
  EXPECT_EQ(net.raft(2).log().LastIndex(), last);
  EXPECT_TRUE(net.Collect(2).empty());

  Network fresh({1, 2, 3});
  r = fresh.node(1).Propose("x");
  EXPECT_EQ(r.status().code(), Status::Code::kNotLeader);
  EXPECT_EQ(r.status().leader_hint(), kNoNode);
  ASSERT_TRUE(fresh.node(1).Campaign().ok());  // a pre-candidate is no leader either
  r = fresh.node(1).Propose("x");
  EXPECT_EQ(r.status().code(), Status::Code::kNotLeader);
  EXPECT_EQ(fresh.raft(1).log().LastIndex(), 0u);
}

// ---- §6 membership changes ---------------------------------------------------------

// A node that joins by gossip starts with an empty configuration; the voters
// a cluster was bootstrapped with are in no log entry. Replaying the log from
// index 1 would leave it with voters {} (and, once promoted, {itself}: a
// one-node cluster). Once the leader has a snapshot, a follower with an empty
// log gets that instead, and the snapshot carries the configuration.
TEST(RaftMembershipTest, EmptyJoinerGetsTheSnapshotWithTheBootstrapVoters) {
  Network net({1, 2, 3});
  net.Elect(1);
  net.Propose(1, "a");
  net.Drain();
  net.AddPeer(4, ConfState{});
  net.Cut(1, 4);
  ASSERT_TRUE(net.node(1).ProposeConfChange(CC(ConfChange::Type::kAddLearner, 4)).ok());
  net.Drain();
  // A snapshot without compaction: the entries from index 1 are all there.
  test::Peer& leader = net.peer(1);
  ASSERT_TRUE(leader.storage->CreateSnapshot(leader.applied_index, leader.conf_state, "s").ok());
  net.Heal();
  net.ClearSent();
  for (int i = 0; i < 10; ++i) {
    net.TickAll();
    net.Drain();
  }
  EXPECT_GE(
      net.CountSent([](const Message& m) { return m.type == MessageType::kSnap && m.to == 4; }),
      1u);
  ConfState want{{1, 2, 3}, {4}};
  EXPECT_EQ(net.raft(4).conf_state(), want);
  EXPECT_EQ(net.raft(4).log().LastIndex(), net.raft(1).log().LastIndex());
}

// §6 (thesis §4.2.1): a learner receives the whole log but never campaigns.
TEST(RaftMembershipTest, AddedLearnerReceivesTheLogButNeverCampaigns) {
  Network net({1, 2, 3});
  net.Elect(1);
  net.Propose(1, "a");
  net.Drain();
  net.AddPeer(4, kInitialConf);
  ASSERT_TRUE(net.node(1).ProposeConfChange(CC(ConfChange::Type::kAddLearner, 4)).ok());
  net.Drain();
  ConfState want{{1, 2, 3}, {4}};
  for (NodeId id : {1, 2, 3, 4}) {
    SCOPED_TRACE(id);
    EXPECT_EQ(net.raft(id).conf_state(), want);
    EXPECT_EQ(net.peer(id).conf_state, want);
  }
  EXPECT_EQ(net.Log(4), net.Log(1));
  NodeStatus st = net.node(1).GetStatus();
  ASSERT_TRUE(st.progress.count(4));
  EXPECT_TRUE(st.progress[4].is_learner);
  EXPECT_EQ(st.progress[4].match, net.raft(1).log().LastIndex());

  net.Isolate(4);
  net.ClearSent();
  net.TickAll(100);
  EXPECT_EQ(net.CountSent(Is(MT::kPreVote, 4)) + net.CountSent(Is(MT::kVote, 4)), 0u);
  EXPECT_EQ(net.raft(4).role(), Role::kFollower);
  EXPECT_EQ(net.node(4).Campaign().code(), Status::Code::kInvalidArgument);
}

// §6: a learner's acknowledgement does not count towards commit, and its vote
// does not count towards an election.
TEST(RaftMembershipTest, LearnerDoesNotCountTowardsCommitOrElection) {
  Network net({1, 2, 3}, {}, {4});
  net.Elect(1);
  ASSERT_EQ(net.raft(1).role(), Role::kLeader);
  net.Isolate(2);
  net.Isolate(3);
  uint64_t index = net.Propose(1, "x");
  net.Drain();
  EXPECT_EQ(net.raft(4).log().LastIndex(), index);  // the learner stored it...
  EXPECT_LT(net.raft(1).log().committed(), index);  // ...which is not a majority
  net.Heal();
  net.TickAll();
  EXPECT_GE(net.raft(1).log().committed(), index);

  Network v({1, 2, 3}, PlainRaft, {4});
  ASSERT_TRUE(v.node(1).Campaign().ok());
  std::set<NodeId> asked;
  for (const Message& m : OfType(v.Collect(1), MT::kVote))
    asked.insert(m.to);
  EXPECT_EQ(asked, (std::set<NodeId>{2, 3}));
  v.node(1).Step(Msg(MT::kVoteResp, 4, 1, 1));
  EXPECT_EQ(v.raft(1).role(), Role::kCandidate);
  v.node(1).Step(Msg(MT::kVoteResp, 2, 1, 1));
  EXPECT_EQ(v.raft(1).role(), Role::kLeader);
}

// §6: promoting a learner makes it a voter that counts for quorum and may lead.
TEST(RaftMembershipTest, PromotedLearnerCountsForQuorumAndMayLead) {
  Network net({1, 2, 3}, {}, {4});
  net.Elect(1);
  ASSERT_TRUE(net.node(1).ProposeConfChange(CC(ConfChange::Type::kAddVoter, 4)).ok());
  net.Drain();
  ConfState want{{1, 2, 3, 4}, {}};
  for (NodeId id : {1, 2, 3, 4})
    EXPECT_EQ(net.raft(id).conf_state(), want) << id;

  net.Isolate(2);
  uint64_t index = net.Propose(1, "three of four");
  net.Drain();
  EXPECT_GE(net.raft(1).log().committed(), index);
  net.Isolate(3);
  index = net.Propose(1, "two of four");
  net.Drain();
  EXPECT_LT(net.raft(1).log().committed(), index);

  net.Heal();
  ASSERT_TRUE(net.node(1).TransferLeader(4).ok());
  net.Drain();
  EXPECT_EQ(net.Leader(), 4u);
  net.Drain();
  EXPECT_GE(net.raft(4).log().committed(), index);
}

// §6: removing a voter shrinks the quorum once the removal is applied.
TEST(RaftMembershipTest, RemovedVoterNoLongerCountsForQuorum) {
  Network net({1, 2, 3, 4});
  net.Elect(1);
  net.Isolate(3);
  net.Isolate(4);
  uint64_t index = net.Propose(1, "two of four");
  net.Drain();
  EXPECT_LT(net.raft(1).log().committed(), index);
  net.Heal();
  net.TickAll();
  ASSERT_GE(net.raft(1).log().committed(), index);

  ASSERT_TRUE(net.node(1).ProposeConfChange(CC(ConfChange::Type::kRemoveNode, 4)).ok());
  net.Drain();
  for (NodeId id : {1, 2, 3}) {
    EXPECT_EQ(net.raft(id).conf_state(), (ConfState{{1, 2, 3}, {}})) << id;
  }
  EXPECT_FALSE(net.node(1).GetStatus().progress.count(4));

  net.Isolate(3);
  net.Isolate(4);
  index = net.Propose(1, "two of three");
  net.Drain();
  EXPECT_GE(net.raft(1).log().committed(), index);
}

// §6 (thesis §4.1): at most one change may be pending; another is refused with
// kConfChangePending until the first has been applied.
TEST(RaftMembershipTest, SecondConfChangeIsRefusedWhileOneIsPending) {
  Network net({1, 2, 3});
  net.Elect(1);
  net.AddPeer(4, kInitialConf);
  net.AddPeer(5, kInitialConf);
  net.Isolate(2);
  net.Isolate(3);
  ASSERT_TRUE(net.node(1).ProposeConfChange(CC(ConfChange::Type::kAddLearner, 4)).ok());
  net.Drain();
  uint64_t last = net.raft(1).log().LastIndex();
  auto second = net.node(1).ProposeConfChange(CC(ConfChange::Type::kAddLearner, 5));
  EXPECT_EQ(second.status().code(), Status::Code::kConfChangePending);
  EXPECT_EQ(net.raft(1).log().LastIndex(), last);

  net.Heal();
  net.TickAll();
  ASSERT_EQ(net.raft(1).conf_state().learners, std::vector<NodeId>{4});
  EXPECT_TRUE(net.node(1).ProposeConfChange(CC(ConfChange::Type::kAddLearner, 5)).ok());
}

// §6: a new leader proposes no change before it has applied everything it
// inherited, since one of those entries may itself be a change.
TEST(RaftMembershipTest, NewLeaderRefusesConfChangesUntilInheritedEntriesAreApplied) {
  Network net({1, 2, 3}, PlainRaft);
  std::vector<Entry> log = EntriesWithTerms({1, 1});
  log[1].type = EntryType::kConfChange;
  log[1].data = CC(ConfChange::Type::kAddLearner, 4).Encode();
  for (NodeId id : {1, 2, 3})
    net.Load(id, log, HardState{1, kNoNode, 0});
  net.drop = [](const Message& m) { return m.type == MT::kAppResp; };
  net.Elect(1);
  ASSERT_EQ(net.raft(1).role(), Role::kLeader);
  EXPECT_EQ(net.node(1).ProposeConfChange(CC(ConfChange::Type::kAddLearner, 5)).status().code(),
            Status::Code::kConfChangePending);

  net.drop = nullptr;
  net.TickAll();
  EXPECT_EQ(net.raft(1).conf_state().learners, std::vector<NodeId>{4});
  // Validated against the configuration now in force (etcd-io/raft#80).
  EXPECT_EQ(net.node(1).ProposeConfChange(CC(ConfChange::Type::kAddLearner, 4)).status().code(),
            Status::Code::kInvalidArgument);
  EXPECT_TRUE(net.node(1).ProposeConfChange(CC(ConfChange::Type::kAddLearner, 5)).ok());
}

// §6 (etcd-io/raft#80): a change takes effect when applied, not when appended.
TEST(RaftMembershipTest, ConfChangeTakesEffectWhenAppliedNotWhenAppended) {
  Network net({1, 2, 3});
  net.Elect(1);
  net.AddPeer(4, kInitialConf);
  net.drop = [](const Message& m) { return m.type == MT::kAppResp; };
  ASSERT_TRUE(net.node(1).ProposeConfChange(CC(ConfChange::Type::kAddVoter, 4)).ok());
  net.Drain();
  for (NodeId id : {1, 2, 3}) {
    SCOPED_TRACE(id);
    ASSERT_FALSE(net.Log(id).empty());
    EXPECT_EQ(net.Log(id).back().type, EntryType::kConfChange);  // appended everywhere
    EXPECT_EQ(net.raft(id).conf_state().voters, (std::vector<NodeId>{1, 2, 3}));
  }
  EXPECT_FALSE(net.node(1).GetStatus().progress.count(4));

  net.drop = nullptr;
  net.TickAll();
  for (NodeId id : {1, 2, 3, 4}) {
    EXPECT_EQ(net.raft(id).conf_state().voters, (std::vector<NodeId>{1, 2, 3, 4})) << id;
  }
}

// §6 (etcd-io/raft#83): a leader that removes itself steps down once the
// change is applied; the others learn of it and elect a leader among
// themselves, and the removed node never campaigns.
TEST(RaftMembershipTest, LeaderThatRemovesItselfStepsDown) {
  Network net({1, 2, 3});
  net.Elect(1);
  ASSERT_TRUE(net.node(1).ProposeConfChange(CC(ConfChange::Type::kRemoveNode, 1)).ok());
  net.Drain();
  EXPECT_EQ(net.raft(1).role(), Role::kFollower);
  EXPECT_FALSE(net.raft(1).conf_state().IsVoter(1));
  for (NodeId id : {2, 3}) {
    EXPECT_EQ(net.raft(id).conf_state().voters, (std::vector<NodeId>{2, 3})) << id;
  }
  net.ClearSent();
  for (int i = 0; i < 100 && (net.Leader() == kNoNode || net.Leader() == 1); ++i)
    net.TickAll();
  NodeId leader = net.Leader();
  ASSERT_TRUE(leader == 2 || leader == 3) << leader;
  uint64_t index = net.Propose(leader, "after");
  net.Drain();
  EXPECT_GE(net.raft(2).log().committed(), index);
  EXPECT_GE(net.raft(3).log().committed(), index);
  EXPECT_EQ(net.CountSent(Is(MT::kPreVote, 1)) + net.CountSent(Is(MT::kVote, 1)), 0u);
  EXPECT_EQ(net.node(1).Campaign().code(), Status::Code::kInvalidArgument);
}

// §6 (PITFALLS: removing one of two members can wedge the cluster): the
// leader of two removes itself and everything it sends afterwards — the
// append carrying the commit, any hand-over — is lost. The survivor, still
// counting the old member as a voter, is elected with its vote and finishes
// the change on its own.
TEST(RaftMembershipTest, SurvivorOfATwoNodeClusterFinishesTheLeadersSelfRemoval) {
  Network net({1, 2});
  net.Elect(1);
  auto pos = net.node(1).ProposeConfChange(CC(ConfChange::Type::kRemoveNode, 1));
  ASSERT_TRUE(pos.ok());
  uint64_t index = pos.value().last_index;
  // Lost: every message of 1 that could tell 2 the removal committed, and any
  // hand-over (TimeoutNow) it tries.
  net.drop = [&](const Message& m) {
    if (m.from != 1) return false;
    if (m.type == MT::kTimeoutNow) return true;
    return (m.type == MT::kApp || m.type == MT::kHeartbeat) && m.commit >= index;
  };
  net.Drain();
  ASSERT_EQ(net.raft(1).role(), Role::kFollower);
  ASSERT_LT(net.raft(2).log().committed(), index);  // 2 never heard it committed
  net.drop = nullptr;
  for (int i = 0; i < 100 && net.raft(2).role() != Role::kLeader; ++i)
    net.TickAll();
  ASSERT_EQ(net.raft(2).role(), Role::kLeader);
  net.TickAll();
  EXPECT_EQ(net.raft(2).conf_state(), (ConfState{{2}, {}}));
  uint64_t after = net.Propose(2, "alone");
  net.Drain();
  EXPECT_GE(net.raft(2).log().committed(), after);
}

// §6 (thesis §4.2.3): a removed server that never learned of its removal
// times out and campaigns, but cannot depose the leader or raise the term.
TEST(RaftMembershipTest, RemovedNodeDoesNotDisruptTheCluster) {
  for (bool pre_vote : {true, false}) {
    SCOPED_TRACE(pre_vote ? "pre-vote" : "no pre-vote");
    Network net({1, 2, 3}, [&](Config& c) { c.pre_vote = pre_vote; });
    net.Elect(1);
    net.Isolate(3);
    ASSERT_TRUE(net.node(1).ProposeConfChange(CC(ConfChange::Type::kRemoveNode, 3)).ok());
    net.Drain();
    ASSERT_EQ(net.raft(1).conf_state().voters, (std::vector<NodeId>{1, 2}));
    ASSERT_TRUE(net.raft(3).conf_state().IsVoter(3));  // it never heard
    net.Heal();
    uint64_t term = net.raft(1).term();
    net.ClearSent();
    net.TickAll(200);
    EXPECT_GT(net.CountSent(Is(pre_vote ? MT::kPreVote : MT::kVote, 3)), 0u);
    EXPECT_EQ(net.Leader(), 1u);
    EXPECT_EQ(net.raft(1).term(), term);
    EXPECT_EQ(net.raft(2).term(), term);
    uint64_t index = net.Propose(1, "still working");
    net.Drain();
    EXPECT_GE(net.raft(2).log().committed(), index);
  }
}

// ---- §7 log compaction ----------------------------------------------------------------

// §7: a follower that needs entries the leader has compacted away receives the
// snapshot once, installs it, and then catches up from the log.
TEST(RaftSnapshotTest, FollowerBehindTheCompactedPrefixIsRestoredFromASnapshot) {
  Network net({1, 2, 3});
  net.Elect(1);
  net.Isolate(3);
  for (int i = 0; i < 10; ++i)
    net.Propose(1, "v" + std::to_string(i));
  net.Drain();
  net.CompactAtApplied(1);
  Snapshot snap = net.storage(1).GetSnapshot().value();
  ASSERT_EQ(snap.metadata.index, 11u);
  ASSERT_GT(net.storage(1).FirstIndex(), net.raft(3).log().LastIndex() + 1);

  net.Heal();
  net.ClearSent();
  net.TickAll(3);
  net.Propose(1, "after");
  net.Drain();
  EXPECT_EQ(net.CountSent(Is(MT::kSnap, 1, 3)), 1u);
  EXPECT_EQ(net.storage(3).GetSnapshot().value(), snap);
  EXPECT_EQ(net.peer(3).snapshot_data, snap.data);
  EXPECT_EQ(net.raft(3).conf_state(), snap.metadata.conf_state);
  EXPECT_EQ(net.Log(3), net.Log(1));
  EXPECT_EQ(net.raft(3).log().committed(), net.raft(1).log().committed());
  EXPECT_EQ(net.peer(3).applied_index, net.peer(1).applied_index);
  ASSERT_FALSE(net.peer(3).applied.empty());
  EXPECT_EQ(net.peer(3).applied.back().data, "after");
}

// §7 (chain/Core#1335): a snapshot carries the configuration in force at its
// index, so a new node built from it knows the cluster it joined — also after
// a restart.
TEST(RaftSnapshotTest, SnapshotCarriesItsConfStateToANewNode) {
  Network net({1, 2, 3});
  net.Elect(1);
  net.AddPeer(4, ConfState{});
  net.Isolate(4);
  ASSERT_TRUE(net.node(1).ProposeConfChange(CC(ConfChange::Type::kAddLearner, 4)).ok());
  net.Drain();
  net.Propose(1, "x");
  net.Drain();
  net.CompactAtApplied(1);
  ConfState want{{1, 2, 3}, {4}};
  ASSERT_EQ(net.storage(1).GetSnapshot().value().metadata.conf_state, want);

  net.Heal();
  net.TickAll(3);
  EXPECT_EQ(net.CountSent(Is(MT::kSnap, 1, 4)), 1u);
  EXPECT_EQ(net.raft(4).conf_state(), want);
  EXPECT_EQ(net.storage(4).GetInitialState().conf_state, want);
  EXPECT_EQ(net.raft(4).log().committed(), net.raft(1).log().committed());

  net.Restart(4);
  EXPECT_EQ(net.raft(4).conf_state(), want);
  ASSERT_TRUE(net.node(1).ProposeConfChange(CC(ConfChange::Type::kAddVoter, 4)).ok());
  net.Drain();
  EXPECT_EQ(net.raft(4).conf_state().voters, (std::vector<NodeId>{1, 2, 3, 4}));
}

// §7: a snapshot older than the follower's commit index is ignored; the
// follower answers with its commit index so the leader moves on.
TEST(RaftSnapshotTest, StaleSnapshotIsIgnored) {
  Network net({1, 2, 3}, PlainRaft);
  net.Load(2, EntriesWithTerms({1, 1, 1}), HardState{1, kNoNode, 3});
  net.record_readies = true;
  Message m = Msg(MT::kSnap, 1, 2, 1);
  m.snapshot = Snapshot{SnapshotMetadata{2, 1, ConfState{{1, 2, 3}, {}}}, "old"};
  net.node(2).Step(m);
  std::vector<Message> out = net.Collect(2);
  for (const Ready& rd : net.peer(2).readies)
    EXPECT_FALSE(rd.snapshot.has_value());
  EXPECT_TRUE(net.storage(2).GetSnapshot().value().IsEmpty());
  EXPECT_EQ(net.raft(2).log().LastIndex(), 3u);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].type, MT::kAppResp);
  EXPECT_FALSE(out[0].reject);
  EXPECT_EQ(out[0].index, 3u);
}

// §7: if the follower already holds the snapshot's last entry, it keeps its
// log and only learns that everything up to there is committed.
TEST(RaftSnapshotTest, SnapshotOfAnEntryTheFollowerHoldsOnlyAdvancesCommit) {
  Network net({1, 2, 3}, PlainRaft);
  net.Load(2, EntriesWithTerms({1, 1, 1}), HardState{1, kNoNode, 1});
  net.record_readies = true;
  Message m = Msg(MT::kSnap, 1, 2, 1);
  m.snapshot = Snapshot{SnapshotMetadata{2, 1, ConfState{{1, 2, 3}, {}}}, "at2"};
  net.node(2).Step(m);
  EXPECT_EQ(net.raft(2).log().committed(), 2u);
  net.Collect(2);
  for (const Ready& rd : net.peer(2).readies)
    EXPECT_FALSE(rd.snapshot.has_value());
  EXPECT_EQ(TermsOf(net.Log(2)), (std::vector<uint64_t>{1, 1, 1}));
  EXPECT_EQ(net.peer(2).applied_index, 2u);
}

// §7: a newer snapshot replaces the follower's conflicting log and state,
// including its view of the configuration.
TEST(RaftSnapshotTest, FollowerInstallsANewerSnapshotAndDiscardsItsLog) {
  Network net({1, 2, 3}, PlainRaft);
  net.Load(2, EntriesWithTerms({1, 1, 2}), HardState{2, kNoNode, 1});
  net.Collect(2);  // applies what it had committed
  net.record_readies = true;
  Message m = Msg(MT::kSnap, 1, 2, 3);
  ConfState cs{{1, 2, 3}, {7}};
  m.snapshot = Snapshot{SnapshotMetadata{5, 3, cs}, "at5"};
  net.node(2).Step(m);
  std::vector<Message> out = net.Collect(2);
  ASSERT_TRUE(net.peer(2).readies.front().snapshot.has_value());
  EXPECT_EQ(net.storage(2).FirstIndex(), 6u);
  EXPECT_EQ(net.raft(2).log().LastIndex(), 5u);
  EXPECT_EQ(net.raft(2).log().LastTerm(), 3u);
  EXPECT_EQ(net.raft(2).log().committed(), 5u);
  EXPECT_EQ(net.peer(2).applied_index, 5u);
  EXPECT_EQ(net.peer(2).snapshot_data, "at5");
  EXPECT_EQ(net.raft(2).conf_state(), cs);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].type, MT::kAppResp);
  EXPECT_EQ(out[0].index, 5u);
}

// §7 (hashicorp/raft#212): a snapshot that fails to arrive is reported, and
// the leader sends it again rather than waiting forever.
TEST(RaftSnapshotTest, FailedSnapshotIsSentAgain) {
  Network net({1, 2, 3});
  net.Elect(1);
  net.Isolate(3);
  for (int i = 0; i < 5; ++i)
    net.Propose(1, "v" + std::to_string(i));
  net.Drain();
  net.CompactAtApplied(1);
  net.Heal();
  net.ClearSent();
  int lost = 0;
  net.drop = [&](const Message& m) { return m.type == MT::kSnap && lost++ == 0; };
  net.TickAll(5);
  EXPECT_EQ(net.CountSent(Is(MT::kSnap, 1, 3)), 2u);
  EXPECT_EQ(net.storage(3).GetSnapshot().value(), net.storage(1).GetSnapshot().value());
  EXPECT_EQ(net.Log(3), net.Log(1));
}

// §7: a snapshot goes only to a follower heard from recently — never to a
// node that may be dead — and goes out once it answers again.
TEST(RaftSnapshotTest, SnapshotWaitsUntilTheFollowerIsRecentlyActive) {
  Network net({1, 2, 3});
  net.Elect(1);
  net.Isolate(3);
  for (int i = 0; i < 5; ++i)
    net.Propose(1, "v" + std::to_string(i));
  net.Drain();
  net.TickAll(25);  // check-quorum rounds: 3 is no longer recently active
  net.CompactAtApplied(1);
  net.ClearSent();
  net.node(1).ReportUnreachable(3);  // probe from its match, which is compacted
  net.Propose(1, "y");
  net.TickAll(3);
  EXPECT_EQ(net.CountSent(Is(MT::kSnap, 1, 3)), 0u);
  net.Heal();
  net.TickAll(3);
  EXPECT_EQ(net.CountSent(Is(MT::kSnap, 1, 3)), 1u);
  EXPECT_EQ(net.Log(3), net.Log(1));
}

// ---- pre-vote (thesis §9.6) ------------------------------------------------------------

// Thesis §9.6: a pre-candidate asks whether it could win before it touches its
// term; only a won pre-vote leads to a real election in term+1.
TEST(RaftPreVoteTest, PreCandidateIncrementsItsTermOnlyAfterWinningThePreVote) {
  Network net({1, 2, 3});
  ASSERT_TRUE(net.node(1).Campaign().ok());
  std::vector<Message> out = net.Collect(1);
  EXPECT_EQ(net.raft(1).role(), Role::kPreCandidate);
  EXPECT_EQ(net.raft(1).term(), 0u);
  EXPECT_EQ(net.raft(1).vote(), kNoNode);
  EXPECT_TRUE(net.storage(1).GetInitialState().hard_state.IsEmpty());
  std::vector<Message> pre = OfType(out, MT::kPreVote);
  ASSERT_EQ(pre.size(), 2u);
  for (const Message& m : pre)
    EXPECT_EQ(m.term, 1u);

  net.node(1).Step(Msg(MT::kPreVoteResp, 2, 1, 1));
  EXPECT_EQ(net.raft(1).role(), Role::kCandidate);
  EXPECT_EQ(net.raft(1).term(), 1u);
  EXPECT_EQ(OfType(net.Collect(1), MT::kVote).size(), 2u);
}

// Thesis §9.6: granting a pre-vote changes neither the voter's term nor its vote.
TEST(RaftPreVoteTest, GrantingAPreVoteLeavesTheVoterUnchanged) {
  Network net({1, 2, 3});
  net.Load(2, EntriesWithTerms({1}), HardState{1, kNoNode, 1});
  net.record_readies = true;
  Message m = Msg(MT::kPreVote, 3, 2, 2);
  m.index = 1;
  m.log_term = 1;
  net.node(2).Step(m);
  std::vector<Message> out = net.Collect(2);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].type, MT::kPreVoteResp);
  EXPECT_FALSE(out[0].reject);
  EXPECT_EQ(out[0].term, 2u);
  EXPECT_EQ(net.raft(2).term(), 1u);
  EXPECT_EQ(net.raft(2).vote(), kNoNode);
  for (const Ready& rd : net.peer(2).readies)
    EXPECT_FALSE(rd.hard_state.has_value());

  // A candidate with a less up-to-date log is refused (§5.4.1 still applies).
  m.index = 0;
  m.log_term = 0;
  net.node(2).Step(m);
  out = net.Collect(2);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(out[0].reject);
}

// Thesis §9.6: a partitioned node's pre-votes fail, so its term stays put.
TEST(RaftPreVoteTest, IsolatedNodeDoesNotIncreaseItsTerm) {
  Network net({1, 2, 3});
  net.Elect(1);
  uint64_t term = net.raft(1).term();
  net.Isolate(3);
  net.ClearSent();
  net.TickAll(100);
  EXPECT_EQ(net.raft(3).term(), term);
  EXPECT_EQ(net.CountSent(Is(MT::kVote, 3)), 0u);
  EXPECT_GT(net.CountSent(Is(MT::kPreVote, 3)), 0u);
  for (const Message& m : net.sent()) {
    if (m.type == MT::kPreVote) {
      EXPECT_EQ(m.term, term + 1);
    }
  }
  EXPECT_EQ(net.Leader(), 1u);
  EXPECT_EQ(net.raft(1).term(), term);
}

// Thesis §9.6 (etcd-io/etcd#9333): when the partition heals, the rejoining
// node does not depose the leader; it simply follows it again.
TEST(RaftPreVoteTest, RejoiningPartitionedNodeDoesNotDisruptTheLeader) {
  Network net({1, 2, 3});
  net.Elect(1);
  uint64_t term = net.raft(1).term();
  net.Isolate(3);
  net.TickAll(100);
  net.Heal();
  net.TickAll(20);
  EXPECT_EQ(net.Leader(), 1u);
  EXPECT_EQ(net.raft(1).term(), term);
  EXPECT_EQ(net.raft(3).role(), Role::kFollower);
  EXPECT_EQ(net.raft(3).leader(), 1u);
  uint64_t index = net.Propose(1, "x");
  net.Drain();
  EXPECT_GE(net.raft(3).log().committed(), index);
}

// The counterpart of the two tests above: without pre-vote or leases, the same
// rejoin forces the cluster into a new term.
TEST(RaftPreVoteTest, WithoutPreVoteARejoiningNodeForcesANewTerm) {
  Network net({1, 2, 3}, PlainRaft);
  net.Elect(1);
  uint64_t term = net.raft(1).term();
  net.Isolate(3);
  net.TickAll(100);
  EXPECT_GT(net.raft(3).term(), term);
  net.Heal();
  net.TickAll(20);
  EXPECT_GT(net.raft(1).term(), term);
}

// etcd-io/etcd#8243, fixed by #8334: a node that starts a pre-vote forgets its
// leader, so its own lease no longer makes it ignore its peers' pre-votes.
TEST(RaftPreVoteTest, PreCandidateForgetsItsLeader) {
  Network net({1, 2, 3});
  net.Elect(1);
  uint64_t term = net.raft(2).term();
  for (int i = 0; i < 100 && net.raft(2).role() == Role::kFollower; ++i)
    net.Tick(2);
  ASSERT_EQ(net.raft(2).role(), Role::kPreCandidate);
  EXPECT_EQ(net.raft(2).leader(), kNoNode);
  net.Collect(2);
  Message m = Msg(MT::kPreVote, 3, 2, term + 1);
  m.index = net.raft(3).log().LastIndex();
  m.log_term = net.raft(3).log().LastTerm();
  net.node(2).Step(m);
  std::vector<Message> out = OfType(net.Collect(2), MT::kPreVoteResp);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_FALSE(out[0].reject);
}

// etcd-io/etcd#8243: the leader is cut off just as a lagging node rejoins.
// With pre-vote and check-quorum on, the up-to-date follower still wins.
TEST(RaftPreVoteTest, UpToDateFollowerWinsWhenTheLeaderLeavesAsALaggingNodeRejoins) {
  Network net({1, 2, 3});
  net.Elect(1);
  net.Isolate(3);
  for (int i = 0; i < 3; ++i)
    net.Propose(1, "v" + std::to_string(i));
  net.Drain();
  net.TickAll(30);
  net.Heal();
  net.Isolate(1);
  for (int i = 0; i < 200 && net.raft(2).role() != Role::kLeader; ++i)
    net.TickAll();
  ASSERT_EQ(net.raft(2).role(), Role::kLeader);
  EXPECT_NE(net.raft(3).role(), Role::kLeader);
  uint64_t index = net.Propose(2, "new leader");
  net.Drain();
  EXPECT_GE(net.raft(3).log().committed(), index);
}

// ---- check-quorum (thesis §6.2) -----------------------------------------------------------

// Thesis §6.2: a leader that has not heard from a quorum for an election
// timeout steps down.
TEST(RaftCheckQuorumTest, LeaderWithoutAQuorumStepsDown) {
  Network net({1, 2, 3});
  net.Elect(1);
  uint64_t term = net.raft(1).term();
  net.Isolate(1);
  net.TickAll();
  EXPECT_EQ(net.raft(1).role(), Role::kLeader);
  net.TickAll(19);  // at most two election timeouts
  EXPECT_EQ(net.raft(1).role(), Role::kFollower);
  EXPECT_EQ(net.raft(1).leader(), kNoNode);
  EXPECT_EQ(net.raft(1).term(), term);
}

// Thesis §6.2: a leader in touch with a quorum stays leader indefinitely.
TEST(RaftCheckQuorumTest, LeaderWithAQuorumStaysLeader) {
  Network net({1, 2, 3});
  net.Elect(1);
  uint64_t term = net.raft(1).term();
  net.Isolate(3);
  net.TickAll(100);
  EXPECT_EQ(net.raft(1).role(), Role::kLeader);
  EXPECT_EQ(net.raft(1).term(), term);
}

// Thesis §4.2.3: a follower that heard from its leader within the minimum
// election timeout ignores vote and pre-vote requests; afterwards it answers.
TEST(RaftCheckQuorumTest, FollowerInLeaseIgnoresVoteRequests) {
  Network net({1, 2, 3});
  net.Elect(1);
  uint64_t term = net.raft(2).term();
  for (MT type : {MT::kPreVote, MT::kVote}) {
    Message m = Msg(type, 3, 2, term + 1);
    m.index = net.raft(3).log().LastIndex();
    m.log_term = net.raft(3).log().LastTerm();
    net.node(2).Step(m);
    EXPECT_TRUE(net.Collect(2).empty()) << MessageTypeName(type);
    EXPECT_EQ(net.raft(2).term(), term);
    EXPECT_EQ(net.raft(2).leader(), 1u);
  }
  net.Tick(2, 10);  // the lease runs out without word from the leader
  Message m = Msg(MT::kVote, 3, 2, term + 1);
  m.index = net.raft(3).log().LastIndex();
  m.log_term = net.raft(3).log().LastTerm();
  net.node(2).Step(m);
  std::vector<Message> out = OfType(net.Collect(2), MT::kVoteResp);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_FALSE(out[0].reject);
  EXPECT_EQ(net.raft(2).term(), term + 1);
  EXPECT_EQ(net.raft(2).vote(), 3u);
}

// ---- leadership transfer (thesis §3.10) ---------------------------------------------------

// Thesis §3.10: the leader sends TimeoutNow to an up-to-date transferee, which
// campaigns at once — no pre-vote, past the followers' leases — and wins.
TEST(RaftTransferTest, TransfereeReceivesTimeoutNowAndWins) {
  Network net({1, 2, 3});
  net.Elect(1);
  net.ClearSent();
  ASSERT_TRUE(net.node(1).TransferLeader(3).ok());
  EXPECT_EQ(net.raft(1).lead_transferee(), 3u);
  net.Drain();
  EXPECT_EQ(net.CountSent(Is(MT::kTimeoutNow, 1, 3)), 1u);
  EXPECT_EQ(net.CountSent(Is(MT::kPreVote)), 0u);
  EXPECT_GT(net.CountSent([](const Message& m) { return m.type == MT::kVote && m.transfer; }), 0u);
  EXPECT_EQ(net.Leader(), 3u);
  EXPECT_EQ(net.raft(3).term(), 2u);
  EXPECT_EQ(net.raft(1).role(), Role::kFollower);
  EXPECT_EQ(net.raft(1).leader(), 3u);
  EXPECT_EQ(net.raft(1).lead_transferee(), kNoNode);
}

// Thesis §3.10: a lagging transferee is first brought up to date; only then
// does it get TimeoutNow.
TEST(RaftTransferTest, LaggingTransfereeIsCaughtUpBeforeTimeoutNow) {
  Network net({1, 2, 3});
  net.Elect(1);
  net.Isolate(3);
  for (int i = 0; i < 5; ++i)
    net.Propose(1, "v" + std::to_string(i));
  net.Drain();
  net.Heal();
  net.ClearSent();
  ASSERT_TRUE(net.node(1).TransferLeader(3).ok());
  std::vector<Message> first = net.Collect(1);
  EXPECT_TRUE(OfType(first, MT::kTimeoutNow).empty());
  EXPECT_FALSE(OfType(first, MT::kApp).empty());
  for (Message& m : first)
    net.Send(m);
  net.Drain();
  EXPECT_EQ(net.CountSent(Is(MT::kTimeoutNow, 1, 3)), 1u);
  ASSERT_EQ(net.Leader(), 3u);
  std::vector<std::string> data = AppliedData(net.peer(3));
  EXPECT_NE(std::find(data.begin(), data.end(), "v4"), data.end());
}

// Thesis §3.10: while a transfer is in progress the leader refuses proposals.
TEST(RaftTransferTest, ProposalsAreRefusedDuringATransfer) {
  Network net({1, 2, 3});
  net.Elect(1);
  net.Isolate(3);
  ASSERT_TRUE(net.node(1).TransferLeader(3).ok());
  uint64_t last = net.raft(1).log().LastIndex();
  EXPECT_EQ(net.node(1).Propose("x").status().code(), Status::Code::kProposalDropped);
  EXPECT_EQ(net.node(1).ProposeConfChange(CC(ConfChange::Type::kAddLearner, 4)).status().code(),
            Status::Code::kProposalDropped);
  EXPECT_EQ(net.raft(1).log().LastIndex(), last);
}

// Thesis §3.10 (hashicorp/raft#696): a transfer that does not finish within an
// election timeout is abandoned, and the leader accepts proposals again.
TEST(RaftTransferTest, TransferIsAbortedAfterAnElectionTimeout) {
  Network net({1, 2, 3});
  net.Elect(1);
  net.Isolate(3);
  ASSERT_TRUE(net.node(1).TransferLeader(3).ok());
  net.TickAll(9);
  EXPECT_EQ(net.raft(1).lead_transferee(), 3u);
  EXPECT_EQ(net.node(1).Propose("x").status().code(), Status::Code::kProposalDropped);
  net.TickAll();
  EXPECT_EQ(net.raft(1).lead_transferee(), kNoNode);
  EXPECT_EQ(net.raft(1).role(), Role::kLeader);
  EXPECT_TRUE(net.node(1).Propose("x").ok());
}

// Thesis §3.10: a leader that loses leadership mid-transfer forgets the transfer.
TEST(RaftTransferTest, SteppingDownEndsATransfer) {
  Network net({1, 2, 3});
  net.Elect(1);
  net.Isolate(3);
  ASSERT_TRUE(net.node(1).TransferLeader(3).ok());
  net.node(1).Step(Msg(MT::kHeartbeat, 2, 1, net.raft(1).term() + 1));
  EXPECT_EQ(net.raft(1).role(), Role::kFollower);
  EXPECT_EQ(net.raft(1).lead_transferee(), kNoNode);
}

// Thesis §3.10: only the leader transfers, and only to a voter.
TEST(RaftTransferTest, TransferRequestsThatMakeNoSenseAreRefused) {
  Network net({1, 2, 3}, {}, {4});
  net.Elect(1);
  Status s = net.node(2).TransferLeader(3);
  EXPECT_EQ(s.code(), Status::Code::kNotLeader);
  EXPECT_EQ(s.leader_hint(), 1u);
  EXPECT_EQ(net.node(1).TransferLeader(4).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(net.node(1).TransferLeader(9).code(), Status::Code::kInvalidArgument);
  EXPECT_TRUE(net.node(1).TransferLeader(1).ok());  // already there
  EXPECT_EQ(net.raft(1).lead_transferee(), kNoNode);
}

// ---- replication details: backtracking and flow control -------------------------------

// §5.3 (the optimization at its end): a rejection names the follower's
// conflicting term, so the leader skips whole terms per round trip instead of
// one entry — a long divergent or missing suffix is repaired in a couple.
TEST(RaftReplicationTest, DivergentFollowerIsRepairedInFewRoundTrips) {
  struct Case {
    const char* name;
    std::vector<uint64_t> leader, follower;
  } cases[] = {
      {"follower has a long suffix of an older term", Concat(Repeat(1, 5), Repeat(3, 45)),
       Concat(Repeat(1, 5), Repeat(2, 95))},
      {"follower has a long suffix of a later but deposed term",
       Concat(Repeat(1, 5), Repeat(4, 15)), Concat(Repeat(1, 5), Repeat(3, 95))},
      {"follower is far behind", Repeat(1, 100), Repeat(1, 5)},
      {"follower diverges after a shared term", Concat(Repeat(1, 5), Concat(Repeat(2, 10), {3})),
       Concat(Repeat(1, 5), Repeat(2, 50))},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    uint64_t term = std::max(c.leader.back(), c.follower.back());
    Network net({1, 2, 3}, PlainRaft);
    net.Load(1, EntriesWithTerms(c.leader), HardState{term, kNoNode, 5});
    net.Load(2, EntriesWithTerms(c.follower), HardState{term, kNoNode, 5});
    net.Load(3, EntriesWithTerms(c.leader), HardState{term, kNoNode, 5});
    net.Elect(1);
    ASSERT_EQ(net.raft(1).role(), Role::kLeader);
    size_t rejections = net.CountSent(
        [](const Message& m) { return m.type == MT::kAppResp && m.from == 2 && m.reject; });
    EXPECT_GE(rejections, 1u);
    EXPECT_LE(rejections, 2u);
    EXPECT_EQ(net.Log(2), net.Log(1));
  }
}

// Flow control (etcd-io/etcd#14633): a full inflight window pauses pipelined
// appends to a follower; when every answer was lost, a heartbeat answer frees
// one slot so replication never stalls for good (etcd-io/etcd#2544).
TEST(RaftFlowControlTest, FullInflightWindowPausesAndHeartbeatResponseFreesASlot) {
  Network net({1, 2, 3}, [](Config& c) { c.max_inflight_msgs = 3; });
  net.Elect(1);
  net.drop = [](const Message& m) { return m.type == MT::kAppResp && m.from == 2; };
  net.ClearSent();
  auto appends_to_2 = [&] {
    return net.CountSent(
        [](const Message& m) { return m.type == MT::kApp && m.to == 2 && !m.entries.empty(); });
  };
  for (int i = 0; i < 10; ++i) {
    net.Propose(1, "p" + std::to_string(i));
    net.Drain();
  }
  EXPECT_EQ(appends_to_2(), 3u);
  EXPECT_EQ(net.raft(1).log().committed(), net.raft(1).log().LastIndex());  // 1 and 3
  NodeStatus st = net.node(1).GetStatus();
  EXPECT_STREQ(st.progress[2].state, "replicate");

  net.TickAll();  // a heartbeat round; its answer gets through
  EXPECT_EQ(appends_to_2(), 4u);

  net.drop = nullptr;
  net.TickAll(3);
  EXPECT_EQ(net.Log(2), net.Log(1));
  EXPECT_EQ(net.raft(2).log().committed(), net.raft(1).log().committed());
}

// Flow control (etcd-io/etcd#14624): the window is also bounded in bytes, so
// an oversized entry goes out alone and nothing piles up behind it.
TEST(RaftFlowControlTest, InflightByteLimitPausesReplication) {
  Network net({1, 2, 3}, [](Config& c) { c.max_inflight_bytes = 1000; });
  net.Elect(1);
  net.drop = [](const Message& m) { return m.type == MT::kAppResp && m.from == 2; };
  net.ClearSent();
  net.Propose(1, std::string(2000, 'x'));
  net.Drain();
  net.Propose(1, "small");
  net.Drain();
  net.Propose(1, "small too");
  net.Drain();
  EXPECT_EQ(net.CountSent([](const Message& m) {
    return m.type == MT::kApp && m.to == 2 && !m.entries.empty();
  }),
            1u);
  net.drop = nullptr;
  net.TickAll(3);
  EXPECT_EQ(net.Log(2), net.Log(1));
}

// An append carries at most max_size_per_msg bytes of entries (at least one).
TEST(RaftFlowControlTest, AppendsRespectMaxSizePerMsg) {
  Network net({1, 2, 3}, [](Config& c) { c.max_size_per_msg = 200; });
  net.Elect(1);
  net.Isolate(3);
  for (int i = 0; i < 10; ++i)
    net.Propose(1, std::string(40, 'a' + i));
  net.Propose(1, std::string(500, 'z'));  // larger than the limit on its own
  net.Drain();
  net.Heal();
  net.ClearSent();
  net.TickAll(5);
  size_t appends = 0;
  for (const Message& m : net.sent()) {
    if (m.type != MT::kApp || m.to != 3 || m.entries.empty()) continue;
    ++appends;
    uint64_t bytes = 0;
    for (const Entry& e : m.entries)
      bytes += e.ByteSize();
    EXPECT_TRUE(bytes <= 200 || m.entries.size() == 1) << DescribeMessage(m);
  }
  EXPECT_GE(appends, 4u);
  EXPECT_EQ(net.Log(3), net.Log(1));
}

// The transport reports a follower unreachable: the leader stops pipelining
// to it and falls back to one probe at a time.
TEST(RaftFlowControlTest, UnreachableFollowerIsProbedRatherThanPipelined) {
  Network net({1, 2, 3});
  net.Elect(1);
  EXPECT_STREQ(net.node(1).GetStatus().progress[2].state, "replicate");
  net.node(1).ReportUnreachable(2);
  EXPECT_STREQ(net.node(1).GetStatus().progress[2].state, "probe");
  net.Isolate(2);
  net.ClearSent();
  for (int i = 0; i < 5; ++i) {
    net.Propose(1, "p" + std::to_string(i));
    net.Drain();
  }
  EXPECT_EQ(net.CountSent([](const Message& m) {
    return m.type == MT::kApp && m.to == 2 && !m.entries.empty();
  }),
            1u);
  net.Heal();
  net.TickAll(3);
  EXPECT_EQ(net.Log(2), net.Log(1));
}

// Proposals beyond max_uncommitted_entries_size are dropped until the
// uncommitted backlog is committed.
TEST(RaftFlowControlTest, ProposalsBeyondTheUncommittedLimitAreDropped) {
  Network net({1, 2, 3}, [](Config& c) { c.max_uncommitted_entries_size = 100; });
  net.Elect(1);
  net.Isolate(2);
  net.Isolate(3);
  EXPECT_TRUE(net.node(1).Propose(std::string(60, 'a')).ok());
  EXPECT_EQ(net.node(1).Propose(std::string(60, 'b')).status().code(),
            Status::Code::kProposalDropped);
  net.Heal();
  net.TickAll(2);
  EXPECT_TRUE(net.node(1).Propose(std::string(60, 'c')).ok());
}

// ---- ReadIndex (thesis §6.4) --------------------------------------------------------------

// Thesis §6.4: reads that arrive while a heartbeat round is out share the next
// round — two rounds serve eleven reads, not eleven rounds.
TEST(RaftReadIndexTest, ReadsIssuedDuringARoundShareOneHeartbeatRound) {
  Network net({1, 2, 3});
  net.Elect(1);
  uint64_t commit = net.raft(1).log().committed();
  net.ClearSent();
  ASSERT_TRUE(net.node(1).ReadIndex("r0").ok());
  net.Flush(1);
  EXPECT_EQ(net.CountSent(IsHeartbeat), 2u);
  for (int i = 1; i <= 10; ++i) {
    ASSERT_TRUE(net.node(1).ReadIndex("r" + std::to_string(i)).ok());
    net.Flush(1);
  }
  EXPECT_EQ(net.CountSent(IsHeartbeat), 2u);
  EXPECT_TRUE(net.peer(1).read_states.empty());
  net.Drain();
  EXPECT_EQ(net.CountSent(IsHeartbeat), 4u);
  ASSERT_EQ(net.peer(1).read_states.size(), 11u);
  for (int i = 0; i <= 10; ++i) {
    EXPECT_EQ(net.peer(1).read_states[i].context, "r" + std::to_string(i));
    EXPECT_EQ(net.peer(1).read_states[i].index, commit);
  }
}

// Thesis §6.4: the read is served only after a quorum acknowledged the round.
TEST(RaftReadIndexTest, ReadWaitsForAQuorumOfAcknowledgements) {
  Network net({1, 2, 3});
  net.Elect(1);
  net.Isolate(2);
  net.Isolate(3);
  ASSERT_TRUE(net.node(1).ReadIndex("r").ok());
  net.TickAll(5);
  EXPECT_TRUE(net.peer(1).read_states.empty());
  net.Heal();
  net.TickAll();
  ASSERT_EQ(net.peer(1).read_states.size(), 1u);
  EXPECT_EQ(net.peer(1).read_states[0].context, "r");
}

// Thesis §6.4 (redis-raft#19): a new leader serves no read before an entry of
// its own term has committed — until then its commit index may be stale.
TEST(RaftReadIndexTest, NoReadIsServedBeforeTheLeadersFirstEntryCommits) {
  Network net({1, 2, 3});
  net.drop = [](const Message& m) { return m.type == MT::kAppResp; };
  net.Elect(1);
  ASSERT_EQ(net.raft(1).role(), Role::kLeader);
  ASSERT_EQ(net.raft(1).log().committed(), 0u);
  net.ClearSent();
  ASSERT_TRUE(net.node(1).ReadIndex("early").ok());
  net.Drain();
  EXPECT_TRUE(net.peer(1).read_states.empty());
  EXPECT_EQ(net.CountSent(IsHeartbeat), 0u);  // no round before the no-op commits

  net.drop = nullptr;
  net.TickAll();
  ASSERT_EQ(net.peer(1).read_states.size(), 1u);
  EXPECT_EQ(net.peer(1).read_states[0].context, "early");
  EXPECT_GE(net.peer(1).read_states[0].index, 1u);  // at least the no-op
}

void LeaseMode(Config& c) {
  c.read_mode = ReadMode::kLeaseBased;
}

// Thesis §6.4.1: a leader whose heartbeat a quorum acknowledged less than
// election_tick - 2 ticks after it was sent answers at once; once that is
// older, it falls back to a heartbeat round.
TEST(RaftReadIndexTest, LeaseReadIsServedWithoutARoundOnlyWhileTheLeaseHolds) {
  Network net({1, 2, 3}, LeaseMode);
  net.Elect(1);
  net.TickAll();  // one acknowledged heartbeat round: the lease
  net.ClearSent();
  auto st = net.node(1).ReadIndex("fresh");
  ASSERT_TRUE(st.ok()) << st.ToString() << " role " << static_cast<int>(net.raft(1).role());
  net.Collect(1);
  ASSERT_EQ(net.peer(1).read_states.size(), 1u) << "served from the lease, no round";
  EXPECT_EQ(net.CountSent(IsHeartbeat), 0u);

  // Cut off, the leader's lease runs out; a read now needs a quorum again.
  net.Isolate(2);
  net.Isolate(3);
  net.TickAll(8);
  ASSERT_EQ(net.raft(1).role(), Role::kLeader);
  ASSERT_TRUE(net.node(1).ReadIndex("stale?").ok());
  net.Drain();
  EXPECT_EQ(net.peer(1).read_states.size(), 1u) << "no lease, no quorum: no read";
  net.Heal();
  net.TickAll();
  ASSERT_EQ(net.peer(1).read_states.size(), 2u);
  EXPECT_EQ(net.peer(1).read_states[1].context, "stale?");
}

// A leadership transfer's election bypasses every follower's promise to
// ignore elections, so the transferring leader's lease is void.
TEST(RaftReadIndexTest, LeaseEndsWhenTheLeaderSendsTimeoutNow) {
  Network net({1, 2, 3}, LeaseMode);
  net.Elect(1);
  net.TickAll();
  net.drop = [](const Message& m) { return m.type == MT::kTimeoutNow; };
  ASSERT_TRUE(net.node(1).TransferLeader(2).ok());
  net.Drain();
  ASSERT_GT(net.CountSent([](const Message& m) { return m.type == MT::kTimeoutNow; }), 0u);
  net.ClearSent();
  ASSERT_TRUE(net.node(1).ReadIndex("r").ok());
  net.Collect(1);
  EXPECT_TRUE(net.peer(1).read_states.empty()) << "no read from a revoked lease";
}

// A node that restarts forgets which leader it promised to wait for: for its
// first election timeout it ignores elections, as if it still heard one.
TEST(RaftReadIndexTest, RestartedNodeIgnoresElectionsAtFirstWithLeases) {
  Network net({1, 2, 3}, LeaseMode);
  net.Elect(1);
  net.TickAll();
  net.Restart(3);
  uint64_t term = net.raft(3).term();
  Message vote = Msg(MT::kVote, 2, 3, term + 1);
  vote.index = net.raft(2).log().LastIndex();
  vote.log_term = term;
  net.node(3).Step(vote);
  EXPECT_EQ(net.raft(3).term(), term) << "ignored during the first election timeout";
  net.Tick(3, 10);
  net.node(3).Step(vote);
  EXPECT_EQ(net.raft(3).term(), term + 1) << "heard afterwards";
}

// Thesis §6.4: a follower's ReadIndex goes to the leader, whose answer comes
// back as a read state on the follower.
TEST(RaftReadIndexTest, FollowerReadIndexIsForwardedToTheLeaderAndAnswered) {
  Network net({1, 2, 3});
  net.Elect(1);
  net.Propose(1, "x");
  net.Drain();
  net.ClearSent();
  ASSERT_TRUE(net.node(2).ReadIndex("f").ok());
  net.Drain();
  EXPECT_EQ(net.CountSent(Is(MT::kReadIndex, 2, 1)), 1u);
  EXPECT_EQ(net.CountSent(Is(MT::kReadIndexResp, 1, 2)), 1u);
  ASSERT_EQ(net.peer(2).read_states.size(), 1u);
  EXPECT_EQ(net.peer(2).read_states[0], (ReadState{net.raft(1).log().committed(), "f"}));
  EXPECT_TRUE(net.peer(1).read_states.empty());
}

// Thesis §6.4: without a known leader a read cannot be placed.
TEST(RaftReadIndexTest, ReadIndexWithoutALeaderFailsWithNotLeader) {
  Network net({1, 2, 3});
  EXPECT_EQ(net.node(1).ReadIndex("x").code(), Status::Code::kNotLeader);
  ASSERT_TRUE(net.node(1).Campaign().ok());
  EXPECT_EQ(net.node(1).ReadIndex("x").code(), Status::Code::kNotLeader);
}

// Thesis §6.4.1 (etcd-io/etcd#8450): lease reads are only safe with check-quorum.
TEST(RaftReadIndexTest, LeaseBasedReadsRequireCheckQuorum) {
  MemoryStorage storage;
  Config c;
  c.id = 1;
  c.storage = &storage;
  c.read_mode = ReadMode::kLeaseBased;
  c.check_quorum = false;
  EXPECT_EQ(c.Validate().code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(RawNode::Create(c).status().code(), Status::Code::kInvalidArgument);
  c.check_quorum = true;
  EXPECT_TRUE(RawNode::Create(c).ok());
}

// Thesis §6.4: a read waiting on a round completes when the quorum shrinks
// under it — here to the leader alone — instead of hanging forever.
TEST(RaftReadIndexTest, PendingReadCompletesWhenTheQuorumShrinks) {
  Network net({1, 2});
  net.Elect(1);
  net.drop = [](const Message& m) { return m.type == MT::kHeartbeatResp; };
  ASSERT_TRUE(net.node(1).ReadIndex("r").ok());
  net.Drain();
  ASSERT_TRUE(net.peer(1).read_states.empty());
  ASSERT_TRUE(net.node(1).ProposeConfChange(CC(ConfChange::Type::kRemoveNode, 2)).ok());
  net.Drain();
  ASSERT_EQ(net.raft(1).conf_state().voters, std::vector<NodeId>{1});
  net.TickAll(3);
  ASSERT_EQ(net.peer(1).read_states.size(), 1u);
  EXPECT_EQ(net.peer(1).read_states[0].context, "r");
  ASSERT_TRUE(net.node(1).ReadIndex("r2").ok());
  net.Drain();
  EXPECT_EQ(net.peer(1).read_states.size(), 2u);
}

// ---- determinism -------------------------------------------------------------------------

void RunScript(Network& net) {
  for (int i = 0; i < 100 && net.Leader() == kNoNode; ++i)
    net.TickAll();
  NodeId leader = net.Leader();
  ASSERT_NE(leader, kNoNode);
  for (int i = 0; i < 5; ++i)
    net.Propose(leader, "v" + std::to_string(i));
  ASSERT_TRUE(net.node(leader).ReadIndex("read").ok());
  net.Drain();
  NodeId follower = leader == 1 ? 2 : 1;
  net.Isolate(follower);
  net.TickAll(25);
  net.Heal();
  net.TickAll(5);
  leader = net.Leader();
  ASSERT_NE(leader, kNoNode);
  ASSERT_TRUE(net.node(leader).ProposeConfChange(CC(ConfChange::Type::kRemoveNode, 3)).ok());
  net.TickAll(5);
}

// DESIGN.md: the same Config (seed included) and the same calls produce the
// same Ready batches, byte for byte.
TEST(RaftDeterminismTest, SameConfigAndCallsProduceIdenticalReadyBatches) {
  Network a({1, 2, 3});
  Network b({1, 2, 3});
  a.record_readies = b.record_readies = true;
  RunScript(a);
  RunScript(b);
  size_t total = 0;
  for (NodeId id : {1, 2, 3}) {
    SCOPED_TRACE(id);
    const std::vector<Ready>& ra = a.peer(id).readies;
    const std::vector<Ready>& rb = b.peer(id).readies;
    total += ra.size();
    ASSERT_EQ(ra.size(), rb.size());
    for (size_t i = 0; i < ra.size(); ++i)
      EXPECT_TRUE(test::SameReady(ra[i], rb[i])) << i;
  }
  EXPECT_GT(total, 60u);  // the script did real work
}

// The converse, so that the test above can fail: another seed, other timing.
TEST(RaftDeterminismTest, DifferentSeedsGiveDifferentElections) {
  Network a({1, 2, 3}, [](Config& c) { c.seed = 1; });
  Network b({1, 2, 3}, [](Config& c) { c.seed = 2; });
  a.record_readies = b.record_readies = true;
  a.TickAll(30);
  b.TickAll(30);
  bool differ = false;
  for (NodeId id : {1, 2, 3}) {
    const std::vector<Ready>& ra = a.peer(id).readies;
    const std::vector<Ready>& rb = b.peer(id).readies;
    if (ra.size() != rb.size()) {
      differ = true;
      continue;
    }
    for (size_t i = 0; i < ra.size(); ++i)
      differ |= !test::SameReady(ra[i], rb[i]);
  }
  EXPECT_TRUE(differ);
}

}  // namespace
}  // namespace phalanx::consensus
