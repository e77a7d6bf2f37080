// Progress and Inflights: the leader's per-follower bookkeeping — probe,
// replicate and snapshot states, backtracking, and the flow-control window
// bounded in count and in bytes (etcd-io/etcd#14624, #14633, #2544).
#include "consensus/progress.h"

#include <gtest/gtest.h>

namespace phalanx::consensus {
namespace {

TEST(InflightsTest, FullOnceTheCountLimitIsReached) {
  Inflights in(3, 0);
  EXPECT_FALSE(in.Full());
  in.Add(1, 10);
  in.Add(2, 10);
  EXPECT_FALSE(in.Full());
  in.Add(3, 10);
  EXPECT_TRUE(in.Full());
  EXPECT_EQ(in.Count(), 3u);
}

TEST(InflightsTest, FreeLEReleasesEveryAppendUpToTheAcknowledgedIndex) {
  Inflights in(10, 0);
  for (uint64_t i = 1; i <= 5; ++i)
    in.Add(i * 2, 1);  // last indexes 2,4,6,8,10
  in.FreeLE(5);        // frees 2 and 4
  EXPECT_EQ(in.Count(), 3u);
  in.FreeLE(5);  // idempotent
  EXPECT_EQ(in.Count(), 3u);
  in.FreeLE(1);  // stale acknowledgement
  EXPECT_EQ(in.Count(), 3u);
  in.FreeLE(10);
  EXPECT_EQ(in.Count(), 0u);
  in.FreeLE(11);  // on an empty window
  EXPECT_EQ(in.Count(), 0u);
}

TEST(InflightsTest, FreeFirstOneOpensOneSlot) {
  Inflights in(2, 0);
  in.Add(1, 1);
  in.Add(2, 1);
  ASSERT_TRUE(in.Full());
  in.FreeFirstOne();
  EXPECT_FALSE(in.Full());
  EXPECT_EQ(in.Count(), 1u);
  in.FreeFirstOne();
  in.FreeFirstOne();  // on an empty window: no-op
  EXPECT_EQ(in.Count(), 0u);
}

// One oversized entry must not let an unbounded number of bytes pile up.
TEST(InflightsTest, FullOnceTheByteLimitIsReached) {
  Inflights in(100, 1000);
  in.Add(1, 400);
  in.Add(2, 500);
  EXPECT_FALSE(in.Full());  // 900 < 1000
  in.Add(3, 100);
  EXPECT_TRUE(in.Full());  // 1000
  in.FreeLE(1);
  EXPECT_FALSE(in.Full());  // 600
  in.Add(4, 5000);          // a single huge append fills it at once
  EXPECT_TRUE(in.Full());
  in.FreeLE(3);
  EXPECT_TRUE(in.Full());  // the huge one is still out
  in.FreeLE(4);
  EXPECT_FALSE(in.Full());
}

TEST(InflightsTest, ResetEmptiesCountAndBytes) {
  Inflights in(2, 10);
  in.Add(1, 10);
  ASSERT_TRUE(in.Full());
  in.Reset();
  EXPECT_EQ(in.Count(), 0u);
  EXPECT_FALSE(in.Full());
  in.Add(2, 9);
  EXPECT_FALSE(in.Full());  // bytes were reset too
}

TEST(ProgressTest, MaybeUpdateAdvancesMatchAndNextOnlyForward) {
  struct Case {
    uint64_t update;
    bool want_updated;
    uint64_t want_match, want_next;
  } cases[] = {
      // clang-format off
      {2, false, 3, 5},  // stale
      {3, false, 3, 5},  // same
      {4, true, 4, 5},   // next stays ahead
      {5, true, 5, 6},
      {6, true, 6, 7},
      // clang-format on
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.update);
    Progress pr(5, 10, 0, false);
    pr.match = 3;
    EXPECT_EQ(pr.MaybeUpdate(c.update), c.want_updated);
    EXPECT_EQ(pr.match, c.want_match);
    EXPECT_EQ(pr.next, c.want_next);
  }
}

// §5.3 backtracking: in probe only the answer to the outstanding probe
// counts, and the follower's hint may skip many entries at once; in
// replicate a rejection restarts from match+1 unless it is stale.
TEST(ProgressTest, MaybeDecrToIgnoresStaleRejectionsAndUsesTheHint) {
  struct Case {
    Progress::State state;
    uint64_t match, next, rejected, hint;
    bool want;
    uint64_t want_next;
  } cases[] = {
      {Progress::State::kReplicate, 5, 10, 5, 5, false, 10},  // rejected ≤ match: stale
      {Progress::State::kReplicate, 5, 10, 4, 4, false, 10},
      {Progress::State::kReplicate, 5, 10, 9, 9, true, 6},  // back to match+1
      {Progress::State::kProbe, 0, 0, 0, 0, false, 0},
      {Progress::State::kProbe, 0, 10, 5, 5, false, 10},  // not the outstanding probe
      {Progress::State::kProbe, 0, 10, 9, 9, true, 9},    // one back
      {Progress::State::kProbe, 0, 2, 1, 1, true, 1},
      {Progress::State::kProbe, 0, 1, 0, 0, true, 1},   // never below match+1
      {Progress::State::kProbe, 0, 10, 9, 2, true, 3},  // the hint skips ahead
      {Progress::State::kProbe, 0, 10, 9, 0, true, 1},
      {Progress::State::kProbe, 4, 10, 9, 2, true, 5},  // but not below match+1
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(testing::Message() << static_cast<int>(c.state) << " m=" << c.match << " n="
                                    << c.next << " rej=" << c.rejected << " hint=" << c.hint);
    Progress pr(c.next, 10, 0, false);
    pr.match = c.match;
    pr.state = c.state;
    pr.probe_sent = true;
    EXPECT_EQ(pr.MaybeDecrTo(c.rejected, c.hint), c.want);
    EXPECT_EQ(pr.next, c.want_next);
    if (c.want && c.state == Progress::State::kProbe) {
      EXPECT_FALSE(pr.probe_sent);
    }
  }
}

TEST(ProgressTest, ProbeSendsOneAppendAndWaits) {
  Progress pr(5, 10, 0, false);
  ASSERT_EQ(pr.state, Progress::State::kProbe);
  EXPECT_FALSE(pr.IsPaused());
  pr.SentEntries(7, 3, 30);
  EXPECT_TRUE(pr.IsPaused());
  EXPECT_EQ(pr.next, 5u);  // probing does not move next optimistically
  EXPECT_TRUE(pr.MaybeUpdate(4));
  EXPECT_FALSE(pr.IsPaused());  // an acknowledgement unpauses
}

TEST(ProgressTest, ReplicatePipelinesUntilTheWindowIsFull) {
  Progress pr(5, 2, 0, false);
  pr.match = 4;
  pr.BecomeReplicate();
  EXPECT_EQ(pr.next, 5u);
  pr.SentEntries(6, 2, 20);
  EXPECT_EQ(pr.next, 7u);  // optimistic
  EXPECT_FALSE(pr.IsPaused());
  pr.SentEntries(6, 0, 0);  // an empty append takes no slot
  EXPECT_EQ(pr.inflights.Count(), 1u);
  pr.SentEntries(8, 2, 20);
  EXPECT_EQ(pr.next, 9u);
  EXPECT_TRUE(pr.IsPaused());
  pr.MaybeUpdate(6);
  pr.inflights.FreeLE(6);
  EXPECT_FALSE(pr.IsPaused());
}

TEST(ProgressTest, SnapshotStateIsPausedUntilItEnds) {
  Progress pr(5, 10, 0, false);
  pr.match = 1;
  pr.BecomeSnapshot(10);
  EXPECT_TRUE(pr.IsPaused());
  EXPECT_EQ(pr.pending_snapshot, 10u);
  // Leaving it: resume right after the snapshot, which the follower now holds.
  pr.BecomeProbe();
  EXPECT_EQ(pr.state, Progress::State::kProbe);
  EXPECT_EQ(pr.next, 11u);
  EXPECT_EQ(pr.pending_snapshot, 0u);
  EXPECT_FALSE(pr.IsPaused());
}

TEST(ProgressTest, BecomeProbeAndReplicateRestartAfterMatch) {
  Progress pr(20, 2, 0, false);
  pr.match = 7;
  pr.BecomeReplicate();
  pr.SentEntries(9, 2, 2);
  pr.SentEntries(11, 2, 2);
  ASSERT_TRUE(pr.IsPaused());
  pr.BecomeProbe();
  EXPECT_EQ(pr.next, 8u);
  EXPECT_EQ(pr.inflights.Count(), 0u);
  EXPECT_FALSE(pr.IsPaused());
  pr.BecomeReplicate();
  EXPECT_EQ(pr.next, 8u);
  EXPECT_EQ(pr.inflights.Count(), 0u);
}

}  // namespace
}  // namespace phalanx::consensus
