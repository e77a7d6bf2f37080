// Waiting client requests: proposals complete exactly once with the right
// outcome, reads share one ReadIndex request and wait for the applied index.
#include "engine/node/request_tracker.h"

#include <gtest/gtest.h>

namespace phalanx::node {
namespace {

using Completions = std::vector<std::function<void()>>;

void RunAll(Completions& cs) {
  for (auto& c : cs)
    c();
  cs.clear();
}

const Clock::time_point kT0 = Clock::time_point{} + std::chrono::hours(1);
const Clock::time_point kFar = kT0 + std::chrono::hours(1);

TEST(ProposalTracker, MatchingTermSucceedsWithResult) {
  ProposalTracker<std::string> t;
  Outcome got = Outcome::kTimeout;
  std::string value;
  t.Add(5, 2, kFar, [&](Outcome o, std::string r) { got = o, value = std::move(r); });
  Completions cs;
  t.OnApplied(4, 2, "other", &cs);
  EXPECT_TRUE(cs.empty());
  t.OnApplied(5, 2, "mine", &cs);
  RunAll(cs);
  EXPECT_EQ(got, Outcome::kOk);
  EXPECT_EQ(value, "mine");
  EXPECT_EQ(t.size(), 0u);
}

TEST(ProposalTracker, OverwrittenEntryIsDropped) {
  ProposalTracker<std::string> t;
  Outcome got = Outcome::kOk;
  t.Add(5, 2, kFar, [&](Outcome o, std::string) { got = o; });
  Completions cs;
  t.OnApplied(5, 3, "a new leader's entry", &cs);
  RunAll(cs);
  EXPECT_EQ(got, Outcome::kDropped);
}

TEST(ProposalTracker, ReusedSlotCompletesBothWaiters) {
  ProposalTracker<int> t;
  Outcome first = Outcome::kTimeout, second = Outcome::kTimeout;
  t.Add(7, 2, kFar, [&](Outcome o, int) { first = o; });
  t.Add(7, 4, kFar, [&](Outcome o, int) { second = o; });
  Completions cs;
  t.OnApplied(7, 4, 1, &cs);
  RunAll(cs);
  EXPECT_EQ(first, Outcome::kDropped);
  EXPECT_EQ(second, Outcome::kOk);
}

TEST(ProposalTracker, DeadlineGivesTimeoutOnce) {
  ProposalTracker<int> t;
  int calls = 0;
  t.Add(3, 1, kT0, [&](Outcome o, int) {
    EXPECT_EQ(o, Outcome::kTimeout);
    ++calls;
  });
  Completions cs;
  t.ExpireBefore(kT0 - std::chrono::seconds(1), &cs);
  EXPECT_TRUE(cs.empty());
  t.ExpireBefore(kT0, &cs);
  t.OnApplied(3, 1, 9, &cs);  // too late: already completed
  RunAll(cs);
  EXPECT_EQ(calls, 1);
}

TEST(ReadTracker, QueuedReadsShareOneContextAndWaitForApply) {
  ReadTracker t;
  int done = 0;
  for (int i = 0; i < 10; ++i)
    t.Add(kFar, [&](Outcome o) { done += o == Outcome::kOk; });
  std::string ctx = t.StartBatch();
  ASSERT_FALSE(ctx.empty());
  EXPECT_TRUE(t.StartBatch().empty());  // nothing left to batch
  Completions cs;
  t.OnReadState(ctx, 40, 39, &cs);  // index known, not yet applied
  EXPECT_TRUE(cs.empty());
  t.OnApplied(40, &cs);
  RunAll(cs);
  EXPECT_EQ(done, 10);
  EXPECT_EQ(t.batches(), 0u);
}

// Regression (found chasing a chaos-test stale read): read contexts restarted
// at "r1" with every process, so a leader that outlived a follower's restart
// could complete the new process's batch with the answer, and the old read
// index, of the previous process's request.
TEST(ReadTracker, ContextsOfAnotherIncarnationNeverMatch) {
  ReadTracker before(1), after(2);
  before.Add(kFar, [](Outcome) {});
  std::string old_ctx = before.StartBatch();
  int done = 0;
  after.Add(kFar, [&](Outcome o) { done += o == Outcome::kOk; });
  std::string new_ctx = after.StartBatch();
  EXPECT_NE(old_ctx, new_ctx);
  Completions cs;
  after.OnReadState(old_ctx, 5, 100, &cs);  // the late answer to the old process
  RunAll(cs);
  EXPECT_EQ(done, 0);
  EXPECT_EQ(after.batches(), 1u);
  ReadTracker a, b;
  a.Add(kFar, [](Outcome) {});
  b.Add(kFar, [](Outcome) {});
  EXPECT_NE(a.StartBatch(), b.StartBatch());  // random incarnations differ
}

TEST(ReadTracker, UnansweredBatchIsAskedAgainAndExpiresAtItsDeadline) {
  ReadTracker t;
  Outcome got = Outcome::kOk;
  t.Add(kT0 + std::chrono::seconds(5), [&](Outcome o) { got = o; });
  std::string first = t.StartBatch();
  t.MarkStarted(first, kT0);
  t.RetryUnanswered(kT0 + std::chrono::seconds(1), std::chrono::seconds(2));
  EXPECT_EQ(t.queued(), 0u);
  t.RetryUnanswered(kT0 + std::chrono::seconds(2), std::chrono::seconds(2));
  EXPECT_EQ(t.queued(), 1u);
  std::string second = t.StartBatch();
  EXPECT_NE(first, second);
  Completions cs;
  t.OnReadState(first, 10, 100, &cs);  // stale answer to the abandoned context
  EXPECT_TRUE(cs.empty());
  t.ExpireBefore(kT0 + std::chrono::seconds(5), &cs);
  RunAll(cs);
  EXPECT_EQ(got, Outcome::kTimeout);
}

}  // namespace
}  // namespace phalanx::node
