// MajorityConfig (consensus/quorum.h): the three majority questions, as
// tables in the manner of etcd-io/raft's quorum/testdata — a voter set, what
// each voter said, and the expected answer — then the Raft paths that ask
// them (elections, commitment, check-quorum, ReadIndex) on clusters where only
// the right count gives the right outcome.
#include "consensus/quorum.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "consensus/raw_node.h"
#include "tests/consensus/test_cluster.h"

namespace phalanx::consensus {
namespace {

using test::EntriesWithTerms;
using test::Network;

constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
constexpr std::optional<uint64_t> _ = std::nullopt;  // no index known (etcd's "_")

std::string Describe(const std::vector<NodeId>& voters) {
  return MajorityConfig(voters).ToString();
}

// ---- (a) the committed index ----------------------------------------------------

struct CommitCase {
  const char* what;
  std::vector<NodeId> voters;
  // Acknowledged index of voters[i] (nullopt: unknown); extra ids may follow in `others`.
  std::vector<std::optional<uint64_t>> idx;
  std::map<NodeId, uint64_t> others;  // acks from ids that are not voters
  uint64_t want;
};

TEST(QuorumTest, CommittedIndexIsTheLargestIndexAMajorityAcknowledged) {
  const std::vector<CommitCase> cases = {
      // Empty and single-voter configurations.
      {"empty config commits nothing", {}, {}, {}, 0},
      {"empty config ignores acks of non-voters", {}, {}, {{1, 9}}, 0},
      {"one voter, index unknown", {1}, {_}, {}, 0},
      {"one voter, its index", {1}, {12}, {}, 12},
      {"one voter at zero", {1}, {0}, {}, 0},
      // Two voters: both are the quorum, the smaller index wins.
      {"two voters, none known", {1, 2}, {_, _}, {}, 0},
      {"two voters, one known", {1, 2}, {12, _}, {}, 0},
      {"two voters, both known", {1, 2}, {12, 5}, {}, 5},
      // Three voters (etcd-io/raft majority_commit.txt).
      {"three, none known", {1, 2, 3}, {_, _, _}, {}, 0},
      {"three, one known", {1, 2, 3}, {12, _, _}, {}, 0},
      {"three, two known", {1, 2, 3}, {12, 5, _}, {}, 5},
      {"three, third raises it", {1, 2, 3}, {12, 5, 6}, {}, 6},
      {"three, third does not", {1, 2, 3}, {12, 5, 4}, {}, 5},
      {"three, two equal", {1, 2, 3}, {5, 5, _}, {}, 5},
      {"three, two equal and a larger", {1, 2, 3}, {5, 5, 12}, {}, 5},
      {"three, all known", {1, 2, 3}, {100, 101, 103}, {}, 101},
      {"three, ids not in order", {3, 1, 2}, {103, 100, 101}, {}, 101},
      // Even sizes need more than half: 3 of 4, 4 of 6.
      {"four, half at 10", {1, 2, 3, 4}, {10, 10, _, _}, {}, 0},
      {"four, three reach 9", {1, 2, 3, 4}, {10, 10, 9, _}, {}, 9},
      {"four, three at 10", {1, 2, 3, 4}, {10, 10, 10, 3}, {}, 10},
      {"four, all equal", {1, 2, 3, 4}, {7, 7, 7, 7}, {}, 7},
      {"six, descending", {1, 2, 3, 4, 5, 6}, {6, 5, 4, 3, 2, 1}, {}, 3},
      {"six, half at max", {1, 2, 3, 4, 5, 6}, {kMax, kMax, kMax, 1, 1, 1}, {}, 1},
      // Five voters (etcd-io/raft majority_commit.txt).
      {"five, one unknown", {1, 2, 3, 4, 5}, {101, 104, 103, 103, _}, {}, 103},
      {"five, one unknown, lower", {1, 2, 3, 4, 5}, {101, 102, 103, 103, _}, {}, 102},
      // More voters than the on-stack buffer.
      {"eight voters", {1, 2, 3, 4, 5, 6, 7, 8}, {8, 7, 6, 5, 4, 3, 2, 1}, {}, 4},
      {"nine voters", {1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 2, 3, 4, 5, 6, 7, 8, 9}, {}, 5},
      // Duplicates of large and of zero indexes.
      {"two at max of three", {1, 2, 3}, {kMax, kMax, 0}, {}, kMax},
      {"max once of three", {1, 2, 3}, {kMax, 0, 0}, {}, 0},
      {"max twice, third unknown", {1, 2, 3}, {kMax, _, kMax}, {}, kMax},
      {"two at zero of three", {1, 2, 3}, {0, 0, 12}, {}, 0},
      {"zeros and unknowns", {1, 2, 3, 4, 5}, {0, _, 0, 9, 9}, {}, 0},
      {"three at max of five", {1, 2, 3, 4, 5}, {kMax, 1, kMax, 2, kMax}, {}, kMax},
      // Unknown ids (learners, removed nodes) never count.
      {"acks of non-voters ignored", {1, 2, 3}, {5, _, _}, {{8, 100}, {9, 100}}, 0},
      {"a learner's ack does not complete a majority", {1, 2}, {7, _}, {{3, 7}}, 0},
      // Duplicate voter ids count once.
      {"duplicate ids count once", {1, 1, 2}, {10, 10, _}, {}, 0},
      {"duplicate ids, both acked", {2, 1, 2, 1}, {10, 4, 10, 4}, {}, 4},
  };
  for (const CommitCase& c : cases) {
    SCOPED_TRACE(std::string(c.what) + " voters=" + Describe(c.voters));
    ASSERT_EQ(c.voters.size(), c.idx.size());
    std::map<NodeId, uint64_t> acked = c.others;
    for (size_t i = 0; i < c.voters.size(); ++i) {
      if (c.idx[i]) acked[c.voters[i]] = *c.idx[i];
    }
    MajorityConfig q(c.voters);
    EXPECT_EQ(q.CommittedIndex(acked), c.want);
    // The callable form agrees, and is never asked about a non-voter.
    EXPECT_EQ(q.CommittedIndex([&](NodeId id) -> std::optional<uint64_t> {
      EXPECT_TRUE(q.Contains(id)) << id;
      auto it = acked.find(id);
      if (it == acked.end()) return std::nullopt;
      return it->second;
    }),
              c.want);
  }
}

// ---- (b) the vote result -----------------------------------------------------------

struct VoteCase {
  const char* what;
  std::vector<NodeId> voters;
  std::map<NodeId, bool> votes;  // true: granted; may hold non-voters
  VoteResult want;
};

TEST(QuorumTest, VoteIsWonLostOrPending) {
  constexpr auto kWon = VoteResult::kWon;
  constexpr auto kLost = VoteResult::kLost;
  constexpr auto kPending = VoteResult::kPending;
  const std::vector<VoteCase> cases = {
      {"empty config: nobody can win", {}, {}, kLost},
      {"empty config ignores non-voters' grants", {}, {{1, true}}, kLost},
      {"one voter, no answer", {1}, {}, kPending},
      {"one voter grants", {1}, {{1, true}}, kWon},
      {"one voter rejects", {1}, {{1, false}}, kLost},
      {"two voters, one grant", {1, 2}, {{1, true}}, kPending},
      {"two voters, both grant", {1, 2}, {{1, true}, {2, true}}, kWon},
      {"two voters, one rejection loses", {1, 2}, {{1, true}, {2, false}}, kLost},
      {"two voters, only a rejection", {1, 2}, {{2, false}}, kLost},
      {"three, one grant", {1, 2, 3}, {{1, true}}, kPending},
      {"three, two grants", {1, 2, 3}, {{1, true}, {3, true}}, kWon},
      {"three, one of each", {1, 2, 3}, {{1, true}, {2, false}}, kPending},
      {"three, two rejections", {1, 2, 3}, {{2, false}, {3, false}}, kLost},
      {"three, all answered, won", {1, 2, 3}, {{1, true}, {2, false}, {3, true}}, kWon},
      {"three, all answered, lost", {1, 2, 3}, {{1, true}, {2, false}, {3, false}}, kLost},
      // Even sizes: half the voters rejecting is already a loss.
      {"four, two grants", {1, 2, 3, 4}, {{1, true}, {2, true}}, kPending},
      {"four, two rejections", {1, 2, 3, 4}, {{3, false}, {4, false}}, kLost},
      {"four, one of each", {1, 2, 3, 4}, {{1, true}, {4, false}}, kPending},
      {"four, three grants", {1, 2, 3, 4}, {{1, true}, {2, true}, {3, true}}, kWon},
      {"five, two and two",
       {1, 2, 3, 4, 5},
       {{1, true}, {2, true}, {3, false}, {4, false}},
       kPending},
      {"five, three and two",
       {1, 2, 3, 4, 5},
       {{1, true}, {2, true}, {3, false}, {4, false}, {5, true}},
       kWon},
      {"six, three rejections", {1, 2, 3, 4, 5, 6}, {{1, false}, {2, false}, {3, false}}, kLost},
      {"six, three grants", {1, 2, 3, 4, 5, 6}, {{1, true}, {2, true}, {3, true}}, kPending},
      // Unknown ids (learners, removed nodes) never count.
      {"non-voters' grants ignored", {1, 2, 3}, {{1, true}, {7, true}, {8, true}}, kPending},
      {"non-voters' rejections ignored", {1, 2, 3}, {{1, true}, {7, false}, {8, false}}, kPending},
      // Duplicate voter ids count once.
      {"duplicate ids count once", {1, 1, 2}, {{1, true}}, kPending},
      {"duplicate ids, both grant", {1, 2, 1, 2}, {{1, true}, {2, true}}, kWon},
  };
  for (const VoteCase& c : cases) {
    SCOPED_TRACE(std::string(c.what) + " voters=" + Describe(c.voters));
    EXPECT_STREQ(VoteResultName(MajorityConfig(c.voters).Vote(c.votes)), VoteResultName(c.want));
  }
}

// ---- (c) an active quorum -----------------------------------------------------------

struct ActiveCase {
  const char* what;
  std::vector<NodeId> voters;
  std::set<NodeId> active;  // may hold non-voters
  bool want;
};

TEST(QuorumTest, QuorumActiveNeedsAMajorityOfVoters) {
  const std::vector<ActiveCase> cases = {
      {"empty config, nobody", {}, {}, false},
      {"empty config, a non-voter", {}, {1}, false},
      {"one voter, silent", {1}, {}, false},
      {"one voter, active", {1}, {1}, true},
      {"two voters, one active", {1, 2}, {1}, false},
      {"two voters, both active", {1, 2}, {1, 2}, true},
      {"three, one active", {1, 2, 3}, {2}, false},
      {"three, two active", {1, 2, 3}, {1, 3}, true},
      {"three, all active", {1, 2, 3}, {1, 2, 3}, true},
      {"four, half active", {1, 2, 3, 4}, {1, 4}, false},
      {"four, three active", {1, 2, 3, 4}, {1, 2, 4}, true},
      {"five, two active", {1, 2, 3, 4, 5}, {4, 5}, false},
      {"five, three active", {1, 2, 3, 4, 5}, {1, 4, 5}, true},
      {"non-voters never count", {1, 2, 3}, {1, 4, 5, 6}, false},
      {"duplicate ids count once", {1, 1, 2}, {1}, false},
  };
  for (const ActiveCase& c : cases) {
    SCOPED_TRACE(std::string(c.what) + " voters=" + Describe(c.voters));
    EXPECT_EQ(MajorityConfig(c.voters).QuorumActive(c.active), c.want);
  }
}

TEST(QuorumTest, VotersAreSortedAndUnique) {
  MajorityConfig q({3, 1, 3, 2, 1});
  EXPECT_EQ(q.voters(), (std::vector<NodeId>{1, 2, 3}));
  EXPECT_EQ(q.size(), 3u);
  EXPECT_EQ(q.QuorumSize(), 2u);
  EXPECT_TRUE(q.Contains(2));
  EXPECT_FALSE(q.Contains(4));
  EXPECT_EQ(q.ToString(), "(1 2 3)");
  EXPECT_EQ(MajorityConfig().ToString(), "()");
  EXPECT_EQ(MajorityConfig({1, 2, 3, 4}).QuorumSize(), 3u);
}

// ---- Raft asks these questions --------------------------------------------------------

// §5.2 with an even number of voters: two rejections of four leave the
// candidate unable to win, so it steps down at once instead of waiting for a
// third answer that may never come.
TEST(QuorumRaftTest, CandidateStepsDownOnceHalfOfFourVotersReject) {
  Network net({1, 2, 3, 4});
  // Nodes 2 and 3 hold a longer log: they refuse node 1 (§5.4.1).
  net.Load(2, EntriesWithTerms({1, 1}), HardState{1, kNoNode, 0});
  net.Load(3, EntriesWithTerms({1, 1}), HardState{1, kNoNode, 0});
  net.Isolate(4);
  ASSERT_TRUE(net.node(1).Campaign().ok());
  net.Drain();
  EXPECT_EQ(net.raft(1).role(), Role::kFollower);
}

// Learners never count toward commitment: with the only other voter cut off,
// the learners' acknowledgements do not commit the leader's entries.
TEST(QuorumRaftTest, LearnersAcknowledgementsDoNotCommit) {
  Network net({1, 2}, {}, {3, 4});
  net.Elect(1);
  ASSERT_EQ(net.raft(1).role(), Role::kLeader);
  uint64_t committed = net.raft(1).log().committed();
  net.Isolate(2);
  uint64_t index = net.Propose(1, "x");
  net.Drain();
  EXPECT_EQ(net.raft(3).log().LastIndex(), index);  // the learners hold it
  EXPECT_EQ(net.raft(4).log().LastIndex(), index);
  EXPECT_EQ(net.raft(1).log().committed(), committed);
  net.Heal();
  net.TickAll(2);
  EXPECT_EQ(net.raft(1).log().committed(), index);
}

// Check-quorum (§6.2): learners that keep answering do not keep a leader cut
// off from its voters in office.
TEST(QuorumRaftTest, ActiveLearnersDoNotSatisfyCheckQuorum) {
  Network net({1, 2, 3}, {}, {4, 5});
  net.Elect(1);
  ASSERT_EQ(net.raft(1).role(), Role::kLeader);
  net.CutBoth(1, 2);
  net.CutBoth(1, 3);
  for (int i = 0; i < 30 && net.raft(1).role() == Role::kLeader; ++i) {
    net.Tick(1);
    net.Drain();
  }
  EXPECT_NE(net.raft(1).role(), Role::kLeader);
}

// ReadIndex (§6.4): a read is released only once a majority of voters
// acknowledged the round — learners' acknowledgements do not count.
TEST(QuorumRaftTest, ReadIndexWaitsForAMajorityOfVotersNotLearners) {
  Network net({1, 2, 3}, {}, {4});
  net.Elect(1);
  ASSERT_EQ(net.raft(1).role(), Role::kLeader);
  net.CutBoth(1, 2);
  net.CutBoth(1, 3);
  ASSERT_TRUE(net.node(1).ReadIndex("r").ok());
  net.Drain();
  EXPECT_TRUE(net.peer(1).read_states.empty());
  net.Heal();
  net.Tick(1);
  net.Drain();
  ASSERT_EQ(net.peer(1).read_states.size(), 1u);
  EXPECT_EQ(net.peer(1).read_states[0].context, "r");
}

}  // namespace
}  // namespace phalanx::consensus
