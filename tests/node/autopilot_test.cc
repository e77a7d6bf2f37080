// The leader's membership rules (engine/node/gossip.h), as a pure function:
// one change at a time; removals of dead voters only when enabled and never
// below the bootstrap size; newcomers as learners; promotion when caught up
// and below max_voters.
#include <gtest/gtest.h>

#include "engine/node/gossip.h"

namespace phalanx::node {
namespace {

using membership::State;
using Kind = AutopilotAction::Kind;

membership::Member M(const std::string& id, State s, uint64_t inc = 1) {
  membership::Member m;
  m.meta = {id, "127.0.0.1:1", "127.0.0.1:2", "c"};
  m.address = "127.0.0.1:3";
  m.state = s;
  m.incarnation = inc;
  return m;
}

AutopilotInput Three() {
  AutopilotInput in;
  in.self = "n1";
  in.members = {M("n1", State::kAlive), M("n2", State::kAlive), M("n3", State::kAlive)};
  in.voters = {"n1", "n2", "n3"};
  in.last_index = 100;
  in.min_voters = 3;
  return in;
}

TEST(AutopilotTest, NothingToDoInAStableCluster) {
  EXPECT_EQ(DecideAutopilot(Three()).kind, Kind::kNone);
}

TEST(AutopilotTest, NewcomerIsAddedAsALearnerButNotWhileAChangeIsPending) {
  auto in = Three();
  in.members.push_back(M("n4", State::kAlive));
  auto a = DecideAutopilot(in);
  EXPECT_EQ(a.kind, Kind::kAddLearner);
  EXPECT_EQ(a.name, "n4");
  EXPECT_EQ(a.raft_address, "127.0.0.1:2");
  in.conf_change_pending = true;
  EXPECT_EQ(DecideAutopilot(in).kind, Kind::kNone);
  // Not alive: not added.
  in.conf_change_pending = false;
  in.members.back().state = State::kSuspect;
  EXPECT_EQ(DecideAutopilot(in).kind, Kind::kNone);
}

TEST(AutopilotTest, LearnerIsPromotedOnlyWhenCaughtUpAndBelowMaxVoters) {
  auto in = Three();
  in.members.push_back(M("n4", State::kAlive));
  in.learners = {"n4"};
  in.match["n4"] = 10;
  EXPECT_EQ(DecideAutopilot(in).kind, Kind::kNone);  // far behind
  in.match["n4"] = 95;
  auto a = DecideAutopilot(in);
  EXPECT_EQ(a.kind, Kind::kPromote);
  EXPECT_EQ(a.name, "n4");
  in.max_voters = 3;
  EXPECT_EQ(DecideAutopilot(in).kind, Kind::kNone);  // stays a learner
}

TEST(AutopilotTest, DeadVoterStaysUnlessAutoRemoveIsSetAndNeverBelowBootstrapSize) {
  auto in = Three();
  in.members.push_back(M("n4", State::kDead));
  in.voters.insert("n4");
  in.dead_for["n4"] = std::chrono::seconds(100);
  EXPECT_EQ(DecideAutopilot(in).kind, Kind::kNone);  // off by default
  in.auto_remove_after = std::chrono::seconds(10);
  auto a = DecideAutopilot(in);
  EXPECT_EQ(a.kind, Kind::kRemove);
  EXPECT_EQ(a.name, "n4");
  in.dead_for["n4"] = std::chrono::seconds(5);  // not dead long enough
  EXPECT_EQ(DecideAutopilot(in).kind, Kind::kNone);
  // At the bootstrap size, a dead voter stays.
  auto three = Three();
  three.auto_remove_after = std::chrono::seconds(1);
  three.members[2].state = State::kDead;
  three.dead_for["n3"] = std::chrono::seconds(100);
  EXPECT_EQ(DecideAutopilot(three).kind, Kind::kNone);
}

TEST(AutopilotTest, RemovalComesBeforePromotionAndNeverWithIt) {
  auto in = Three();
  in.auto_remove_after = std::chrono::seconds(1);
  in.members.push_back(M("n4", State::kDead));
  in.members.push_back(M("n5", State::kAlive));
  in.voters.insert("n4");
  in.learners = {"n5"};
  in.match["n5"] = 100;
  in.dead_for["n4"] = std::chrono::seconds(100);
  EXPECT_EQ(DecideAutopilot(in).kind, Kind::kRemove);
}

TEST(AutopilotTest, LeftMemberIsRemovedButNotTheLastVoter) {
  auto in = Three();
  in.members[1].state = State::kLeft;
  auto a = DecideAutopilot(in);
  EXPECT_EQ(a.kind, Kind::kRemove);
  EXPECT_EQ(a.name, "n2");
  AutopilotInput two;
  two.self = "n1";
  two.members = {M("n1", State::kAlive), M("n2", State::kLeft)};
  two.voters = {"n2"};
  EXPECT_EQ(DecideAutopilot(two).kind, Kind::kNone);
}

TEST(AutopilotTest, AdminRemovedMemberIsNotReaddedUntilItRestarts) {
  auto in = Three();
  in.members.push_back(M("n4", State::kAlive, 7));
  in.removed["n4"] = 7;
  EXPECT_EQ(DecideAutopilot(in).kind, Kind::kNone);
  in.members.back().incarnation = 8;
  EXPECT_EQ(DecideAutopilot(in).kind, Kind::kAddLearner);
}

TEST(AutopilotTest, NeverActsOnItself) {
  auto in = Three();
  in.voters.erase("n1");
  EXPECT_EQ(DecideAutopilot(in).kind, Kind::kNone);
}

}  // namespace
}  // namespace phalanx::node
