// The Raft core's byte limits (issue 18), against etcd-io/raft's semantics:
//  - max_size_per_msg: an append carries at most that many bytes of entries,
//    but always at least one entry, however large;
//  - max_inflight_bytes: a follower in replicate state is sent nothing more
//    once the bytes in flight reach the limit, until acknowledgements (or a
//    heartbeat answer, when they were lost) free the window;
//  - max_uncommitted_entries_size: proposals beyond it are dropped, but one
//    is always accepted while nothing is uncommitted;
//  - max_committed_size_per_ready: a Ready hands out at most that many bytes
//    of committed entries (at least one);
// and the lost-append path: an append the transport dropped and reported
// (ReportUnreachable) is resent from match+1 after the next heartbeat answer.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "consensus/raw_node.h"
#include "consensus/types.h"
#include "tests/consensus/test_cluster.h"

namespace phalanx::consensus {
namespace {

using test::Network;
using MT = MessageType;

uint64_t EntryBytes(const std::vector<Entry>& entries) {
  uint64_t bytes = 0;
  for (const Entry& e : entries)
    bytes += e.ByteSize();
  return bytes;
}

bool IsAppendTo(const Message& m, NodeId to) {
  return m.type == MT::kApp && m.to == to && !m.entries.empty();
}

std::vector<Message> AppendsTo(const Network& net, NodeId to) {
  std::vector<Message> out;
  for (const Message& m : net.sent()) {
    if (IsAppendTo(m, to)) out.push_back(m);
  }
  return out;
}

// ---- max_size_per_msg -------------------------------------------------------------------

// A lagging follower catches up in messages that respect the limit; the one
// entry larger than the limit travels alone, and nothing is stuck behind it.
TEST(MaxSizePerMsgTest, AppendsStayUnderTheLimitUnlessTheyCarryOneEntry) {
  constexpr uint64_t kLimit = 1000;
  Network net({1, 2, 3}, [](Config& c) { c.max_size_per_msg = kLimit; });
  net.Elect(1);
  net.Isolate(3);
  for (int i = 0; i < 20; ++i)
    net.Propose(1, std::string(150, 'a' + i % 26));
  net.Propose(1, std::string(5000, 'L'));  // five times the limit
  for (int i = 0; i < 5; ++i)
    net.Propose(1, std::string(150, 'z'));
  net.Drain();
  net.Heal();
  net.ClearSent();
  net.TickAll(10);
  std::vector<Message> appends = AppendsTo(net, 3);
  ASSERT_GE(appends.size(), 4u);
  bool large_alone = false;
  for (const Message& m : appends) {
    uint64_t bytes = EntryBytes(m.entries);
    EXPECT_TRUE(bytes <= kLimit || m.entries.size() == 1) << DescribeMessage(m);
    if (m.entries.size() == 1 && m.entries[0].data.size() == 5000) large_alone = true;
  }
  EXPECT_TRUE(large_alone);
  EXPECT_EQ(net.Log(3), net.Log(1));
  EXPECT_EQ(net.raft(3).log().committed(), net.raft(1).log().committed());
}

// A limit of 0 means one entry per append.
TEST(MaxSizePerMsgTest, ZeroMeansOneEntryPerAppend) {
  Network net({1, 2}, [](Config& c) { c.max_size_per_msg = 0; });
  net.Elect(1);
  net.Isolate(2);
  for (int i = 0; i < 5; ++i)
    net.Propose(1, "p" + std::to_string(i));
  net.Drain();
  net.Heal();
  net.ClearSent();
  net.TickAll(10);
  std::vector<Message> appends = AppendsTo(net, 2);
  ASSERT_GE(appends.size(), 5u);
  for (const Message& m : appends)
    EXPECT_EQ(m.entries.size(), 1u) << DescribeMessage(m);
  EXPECT_EQ(net.Log(2), net.Log(1));
}

// ---- max_inflight_bytes -----------------------------------------------------------------

// With every acknowledgement from node 2 lost, the leader keeps sending it
// appends until the bytes in flight reach the limit, then stops; node 3,
// whose answers arrive, is not held back.
TEST(MaxInflightBytesTest, ReplicationPausesOnceTheBytesInFlightReachTheLimit) {
  constexpr uint64_t kLimit = 1000;
  Network net({1, 2, 3}, [](Config& c) { c.max_inflight_bytes = kLimit; });
  net.Elect(1);
  ASSERT_STREQ(net.node(1).GetStatus().progress[2].state, "replicate");
  net.drop = [](const Message& m) { return m.type == MT::kAppResp && m.from == 2; };
  net.ClearSent();
  for (int i = 0; i < 20; ++i) {
    net.Propose(1, std::string(176, 'a' + i));  // ByteSize 200: five fill the window
    net.Drain();
  }
  EXPECT_EQ(AppendsTo(net, 2).size(), 5u);
  EXPECT_EQ(EntryBytes(AppendsTo(net, 2).back().entries), 200u);
  EXPECT_EQ(AppendsTo(net, 3).size(), 20u);
  EXPECT_EQ(net.raft(1).log().committed(), net.raft(1).log().LastIndex());
  EXPECT_LT(net.raft(2).log().LastIndex(), net.raft(1).log().LastIndex());

  // Answers flow again: the window drains and node 2 catches up.
  net.drop = nullptr;
  net.TickAll(5);
  EXPECT_EQ(net.Log(2), net.Log(1));
}

// An entry larger than the whole window still goes (into an empty window),
// then nothing follows it until it is acknowledged.
TEST(MaxInflightBytesTest, AnEntryLargerThanTheWindowGoesAloneIntoAnEmptyWindow) {
  Network net({1, 2, 3}, [](Config& c) { c.max_inflight_bytes = 1000; });
  net.Elect(1);
  net.drop = [](const Message& m) { return m.type == MT::kAppResp && m.from == 2; };
  net.ClearSent();
  net.Propose(1, std::string(3000, 'x'));
  net.Drain();
  net.Propose(1, "small");
  net.Drain();
  std::vector<Message> appends = AppendsTo(net, 2);
  ASSERT_EQ(appends.size(), 1u);
  ASSERT_EQ(appends[0].entries.size(), 1u);
  EXPECT_EQ(appends[0].entries[0].data.size(), 3000u);
  // Its acknowledgement opens the window for what waited.
  net.drop = nullptr;
  net.TickAll(3);
  EXPECT_EQ(net.Log(2), net.Log(1));
}

// All acknowledgements lost with the window full: a heartbeat answer frees a
// slot each round (etcd-io/etcd#2544), so replication never wedges even if
// appends keep failing until the follower is reachable again.
TEST(MaxInflightBytesTest, LostAcknowledgementsNeverWedgeAFullWindow) {
  Network net({1, 2, 3}, [](Config& c) { c.max_inflight_bytes = 600; });
  net.Elect(1);
  net.drop = [](const Message& m) { return m.type == MT::kAppResp && m.from == 2; };
  for (int i = 0; i < 10; ++i) {
    net.Propose(1, std::string(276, 'a' + i));  // ByteSize 300
    net.Drain();
  }
  net.ClearSent();
  net.TickAll();  // one heartbeat round: its answer frees a slot
  EXPECT_GE(AppendsTo(net, 2).size(), 1u);
  net.drop = nullptr;
  net.TickAll(5);
  EXPECT_EQ(net.Log(2), net.Log(1));
  EXPECT_EQ(net.raft(2).log().committed(), net.raft(1).log().committed());
}

// ---- max_uncommitted_entries_size --------------------------------------------------------

// With nothing uncommitted, a proposal larger than the limit is accepted (or
// it never could be); behind it, proposals are dropped until it commits; and
// after that a large one is accepted again.
TEST(MaxUncommittedSizeTest, ALargeProposalIsAcceptedWhenNothingIsUncommitted) {
  Network net({1, 2, 3}, [](Config& c) { c.max_uncommitted_entries_size = 1000; });
  net.Elect(1);
  net.Isolate(2);
  net.Isolate(3);
  ASSERT_TRUE(net.node(1).Propose(std::string(5000, 'a')).ok());
  net.Drain();
  EXPECT_EQ(net.node(1).Propose(std::string(10, 'b')).status().code(),
            Status::Code::kProposalDropped);
  net.Heal();
  net.TickAll(3);
  EXPECT_EQ(net.raft(1).log().committed(), net.raft(1).log().LastIndex());
  // Committed and applied: the backlog is gone, a large proposal goes in again.
  EXPECT_TRUE(net.node(1).Propose(std::string(5000, 'c')).ok());
  net.Drain();
  EXPECT_EQ(net.raft(1).log().committed(), net.raft(1).log().LastIndex());
}

// Proposals fill the budget exactly, the next byte is refused, and committing
// the backlog frees it.
TEST(MaxUncommittedSizeTest, ProposalsAreRefusedOnlyBeyondTheLimit) {
  Network net({1, 2, 3}, [](Config& c) { c.max_uncommitted_entries_size = 1000; });
  net.Elect(1);
  net.Isolate(2);
  net.Isolate(3);
  for (int i = 0; i < 4; ++i)
    ASSERT_TRUE(net.node(1).Propose(std::string(250, 'a')).ok());
  EXPECT_EQ(net.node(1).Propose("x").status().code(), Status::Code::kProposalDropped);
  // Committed: the budget is free again. A batch is accepted or refused whole.
  net.Heal();
  net.TickAll(3);
  ASSERT_TRUE(net.node(1).Propose(std::string(250, 'c')).ok());
  std::vector<std::string> batch(4, std::string(250, 'b'));  // 250 + 1000 > 1000
  EXPECT_EQ(net.node(1).Propose(batch).status().code(), Status::Code::kProposalDropped);
  batch.pop_back();  // 250 + 750 = 1000: exactly the limit
  EXPECT_TRUE(net.node(1).Propose(batch).ok());
}

// Empty commands add nothing uncommitted and are accepted even over the limit.
TEST(MaxUncommittedSizeTest, EmptyCommandsAreAcceptedOverTheLimit) {
  Network net({1, 2, 3}, [](Config& c) { c.max_uncommitted_entries_size = 100; });
  net.Elect(1);
  net.Isolate(2);
  net.Isolate(3);
  ASSERT_TRUE(net.node(1).Propose(std::string(500, 'a')).ok());
  EXPECT_TRUE(net.node(1).Propose(std::string()).ok());
  EXPECT_EQ(net.node(1).Propose("b").status().code(), Status::Code::kProposalDropped);
}

// Conf changes count too: a change proposed over the limit is refused.
TEST(MaxUncommittedSizeTest, ConfChangesCountTowardTheLimit) {
  Network net({1, 2, 3}, [](Config& c) { c.max_uncommitted_entries_size = 100; });
  net.Elect(1);
  net.Isolate(2);
  net.Isolate(3);
  ASSERT_TRUE(net.node(1).Propose(std::string(95, 'a')).ok());
  ConfChange cc;
  cc.type = ConfChange::Type::kAddLearner;
  cc.node_id = 9;
  EXPECT_EQ(net.node(1).ProposeConfChange(cc).status().code(), Status::Code::kProposalDropped);
  net.Heal();
  net.TickAll(3);
  EXPECT_TRUE(net.node(1).ProposeConfChange(cc).ok());
}

// ---- max_committed_size_per_ready --------------------------------------------------------

// A follower that learns of many commits at once gets them over several
// Readys, each within the limit unless it holds a single entry, in order.
TEST(MaxCommittedSizePerReadyTest, CommittedEntriesAreHandedOutInBoundedBatches) {
  constexpr uint64_t kLimit = 1000;
  Network net({1, 2, 3}, [](Config& c) { c.max_committed_size_per_ready = kLimit; });
  net.Elect(1);
  net.Isolate(3);
  for (int i = 0; i < 20; ++i)
    net.Propose(1, std::string(176, 'a' + i));  // 200 bytes each
  net.Propose(1, std::string(3000, 'L'));
  net.Drain();
  net.Heal();
  net.record_readies = true;
  net.TickAll(10);
  size_t batches = 0;
  for (const Ready& rd : net.peer(3).readies) {
    if (rd.committed_entries.empty()) continue;
    ++batches;
    EXPECT_TRUE(EntryBytes(rd.committed_entries) <= kLimit || rd.committed_entries.size() == 1);
  }
  EXPECT_GE(batches, 5u);
  EXPECT_EQ(net.peer(3).applied_index, net.raft(1).log().committed());
  EXPECT_EQ(net.peer(3).applied, net.peer(1).applied);
}

// ---- a lost append, reported -------------------------------------------------------------

// The transport dropped appends to node 2 and reported it unreachable: the
// leader moves node 2 from replicate to probe, sends nothing more until a
// heartbeat answer shows node 2 is back, then resends from match+1 — and node
// 2 catches up and returns to replicate. No wedge.
TEST(ReportUnreachableTest, LostAppendIsResentFromMatchAfterTheNextHeartbeatAnswer) {
  Network net({1, 2, 3});
  net.Elect(1);
  uint64_t match = net.raft(1).progress().at(2).match;
  ASSERT_EQ(match, net.raft(1).log().LastIndex());
  ASSERT_STREQ(net.node(1).GetStatus().progress[2].state, "replicate");

  net.drop = [](const Message& m) { return m.type == MT::kApp && m.to == 2; };
  net.Propose(1, "lost-1");
  net.Drain();
  net.Propose(1, "lost-2");
  net.Drain();
  EXPECT_EQ(net.raft(2).log().LastIndex(), match);
  net.node(1).ReportUnreachable(2);
  EXPECT_STREQ(net.node(1).GetStatus().progress[2].state, "probe");
  EXPECT_EQ(net.raft(1).progress().at(2).next, match + 1);

  net.drop = nullptr;
  net.ClearSent();
  net.Tick(1);  // the heartbeat
  net.Drain();
  std::vector<Message> appends = AppendsTo(net, 2);
  ASSERT_GE(appends.size(), 1u);
  EXPECT_EQ(appends[0].index, match);  // the probe starts right after the match
  EXPECT_EQ(appends[0].entries.front().index, match + 1);
  EXPECT_EQ(net.Log(2), net.Log(1));
  EXPECT_EQ(net.raft(2).log().committed(), net.raft(1).log().committed());
  EXPECT_STREQ(net.node(1).GetStatus().progress[2].state, "replicate");

  // Replication goes on normally afterwards.
  uint64_t index = net.Propose(1, "after");
  net.Drain();
  EXPECT_EQ(net.raft(2).log().committed(), index);
}

// The same while the follower stays unreachable for several heartbeats: each
// round the leader probes once (no pipelining into the void), and the first
// answer after it is back brings it up to date.
TEST(ReportUnreachableTest, UnreachableForSeveralHeartbeatsProbesOnceARound) {
  Network net({1, 2, 3});
  net.Elect(1);
  net.Isolate(2);
  for (int i = 0; i < 3; ++i)
    net.Propose(1, "p" + std::to_string(i));
  net.Drain();
  net.node(1).ReportUnreachable(2);
  net.ClearSent();
  for (int i = 0; i < 4; ++i) {
    net.Propose(1, "q" + std::to_string(i));
    net.Drain();
  }
  EXPECT_EQ(AppendsTo(net, 2).size(), 1u);  // one probe, no pipeline
  net.Heal();
  net.TickAll(3);
  EXPECT_EQ(net.Log(2), net.Log(1));
  EXPECT_STREQ(net.node(1).GetStatus().progress[2].state, "replicate");
}

}  // namespace
}  // namespace phalanx::consensus
