// RaftLog: the durable prefix in Storage plus the unstable suffix — the
// follower's side of AppendEntries (§5.3), fast-backtracking hints, the
// up-to-date check (§5.4.1), byte-limited slices and persistence acks.
#include "consensus/raft_log.h"

#include <gtest/gtest.h>

#include <optional>
#include <vector>

#include "consensus/storage.h"
#include "tests/consensus/test_cluster.h"

namespace phalanx::consensus {
namespace {

using test::EntriesWithTerms;
using test::TermsOf;

std::vector<Entry> WholeLog(const RaftLog& log) {
  auto r = log.Slice(log.FirstIndex(), log.LastIndex() + 1, kNoLimit);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? r.value() : std::vector<Entry>{};
}

// §5.3: the follower appends only after the consistency check at (index,
// log_term); it keeps matching entries, truncates from the first conflict, and
// commits min(leader commit, last new entry) — never past what the message
// proved to match (eBay/NuRaft#57).
TEST(RaftLogTest, MaybeAppendChecksConsistencyTruncatesConflictsAndBoundsCommit) {
  struct Case {
    const char* name;
    uint64_t index, log_term, commit;
    std::vector<Entry> entries;
    std::optional<uint64_t> want_last_new;
    uint64_t want_commit;
    std::vector<uint64_t> want_terms;
  } cases[] = {
      {"term mismatch", 3, 2, 3, EntriesWithTerms({4}, 4), std::nullopt, 1, {1, 2, 3}},
      {"index past the end", 4, 3, 3, EntriesWithTerms({4}, 5), std::nullopt, 1, {1, 2, 3}},
      {"heartbeat-like, commit to last", 3, 3, 3, {}, 3, 3, {1, 2, 3}},
      {"commit beyond last new is capped", 3, 3, 4, {}, 3, 3, {1, 2, 3}},
      {"commit lower", 3, 3, 2, {}, 3, 2, {1, 2, 3}},
      {"commit never goes back", 3, 3, 0, {}, 3, 1, {1, 2, 3}},
      {"empty at 0", 0, 0, 3, {}, 0, 1, {1, 2, 3}},
      {"extend", 3, 3, 3, EntriesWithTerms({4}, 4), 4, 3, {1, 2, 3, 4}},
      {"extend and commit", 3, 3, 4, EntriesWithTerms({4}, 4), 4, 4, {1, 2, 3, 4}},
      {"extend, commit capped", 3, 3, 5, EntriesWithTerms({4}, 4), 4, 4, {1, 2, 3, 4}},
      {"extend two", 3, 3, 5, EntriesWithTerms({4, 4}, 4), 5, 5, {1, 2, 3, 4, 4}},
      {"already present", 1, 1, 3, EntriesWithTerms({2, 3}, 2), 3, 3, {1, 2, 3}},
      {"prefix already present", 1, 1, 3, EntriesWithTerms({2}, 2), 2, 2, {1, 2, 3}},
      {"conflict in the middle", 2, 2, 3, EntriesWithTerms({4}, 3), 3, 3, {1, 2, 4}},
      {"conflict right after commit", 1, 1, 3, EntriesWithTerms({4}, 2), 2, 2, {1, 4}},
      {"conflict, longer", 1, 1, 3, EntriesWithTerms({4, 4, 4}, 2), 4, 3, {1, 4, 4, 4}},
      // A stale suffix is not committed just because the leader's commit covers
      // its indexes: only up to what this message matched.
      {"empty append does not commit unmatched tail", 2, 2, 3, {}, 2, 2, {1, 2, 3}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    MemoryStorage storage;
    ASSERT_TRUE(storage.Append(EntriesWithTerms({1, 2, 3})).ok());
    RaftLog log(&storage, kNoLimit);
    log.CommitTo(1);
    auto last_new = log.MaybeAppend(c.index, c.log_term, c.commit, c.entries);
    EXPECT_EQ(last_new, c.want_last_new);
    EXPECT_EQ(log.committed(), c.want_commit);
    EXPECT_EQ(TermsOf(WholeLog(log)), c.want_terms);
  }
}

TEST(RaftLogDeathTest, ConflictWithACommittedEntryIsAnInvariantViolation) {
  MemoryStorage storage;
  ASSERT_TRUE(storage.Append(EntriesWithTerms({1, 2, 3})).ok());
  RaftLog log(&storage, kNoLimit);
  log.CommitTo(2);
  EXPECT_DEATH(log.MaybeAppend(1, 1, 3, EntriesWithTerms({4, 4}, 2)), "");
}

// The rejection hint: the largest index ≤ index whose term ≤ term.
TEST(RaftLogTest, FindConflictByTermSkipsWholeTerms) {
  MemoryStorage storage;
  ASSERT_TRUE(storage.Append(EntriesWithTerms({2, 2, 5, 5, 5})).ok());
  RaftLog log(&storage, kNoLimit);
  struct Case {
    uint64_t index, term, want_index, want_term;
  } cases[] = {
      // clang-format off
      {10, 9, 10, 0},  // beyond the log: unknown term
      {10, 3, 10, 0},
      {5, 6, 5, 5},    // our term at 5 is already ≤ 6
      {5, 5, 5, 5},
      {5, 4, 2, 2},    // skips the whole of term 5
      {5, 2, 2, 2},
      {5, 1, 0, 0},    // nothing of ours is ≤ 1
      {1, 2, 1, 2},
      {1, 1, 0, 0},
      {0, 0, 0, 0},
      // clang-format on
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(testing::Message() << c.index << "/" << c.term);
    auto [index, term] = log.FindConflictByTerm(c.index, c.term);
    EXPECT_EQ(index, c.want_index);
    EXPECT_EQ(term, c.want_term);
  }
}

TEST(RaftLogTest, FindConflictByTermStopsAtTheCompactedPrefix) {
  MemoryStorage storage;
  Snapshot snap;
  snap.metadata = {3, 5, {}};
  ASSERT_TRUE(storage.ApplySnapshot(snap).ok());
  ASSERT_TRUE(storage.Append(EntriesWithTerms({5, 5}, 4)).ok());
  RaftLog log(&storage, kNoLimit);
  // Everything held has term 5 > 1; below the snapshot the term is unknown.
  auto [index, term] = log.FindConflictByTerm(5, 1);
  EXPECT_EQ(index, 2u);
  EXPECT_EQ(term, 0u);
  auto [i5, t5] = log.FindConflictByTerm(5, 5);
  EXPECT_EQ(i5, 5u);
  EXPECT_EQ(t5, 5u);
}

// §5.4.1: compare last terms first, then lengths.
TEST(RaftLogTest, IsUpToDateComparesLastTermThenLastIndex) {
  MemoryStorage storage;
  ASSERT_TRUE(storage.Append(EntriesWithTerms({1, 2, 3})).ok());
  RaftLog log(&storage, kNoLimit);
  struct Case {
    uint64_t index, term;
    bool want;
  } cases[] = {
      {2, 4, true},  {3, 4, true},  {4, 4, true},   // higher last term wins
      {2, 2, false}, {3, 2, false}, {4, 2, false},  // lower last term loses
      {2, 3, false}, {3, 3, true},  {4, 3, true},   // same term: longer or equal wins
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(testing::Message() << c.index << "/" << c.term);
    EXPECT_EQ(log.IsUpToDate(c.index, c.term), c.want);
  }
}

TEST(RaftLogTest, SliceSpansStorageAndUnstableEntriesWithinTheByteLimit) {
  MemoryStorage storage;
  Snapshot snap;
  snap.metadata = {2, 1, {}};
  ASSERT_TRUE(storage.ApplySnapshot(snap).ok());
  ASSERT_TRUE(storage.Append(EntriesWithTerms({1, 1, 2}, 3)).ok());  // 3..5 durable
  RaftLog log(&storage, kNoLimit);
  log.Append(EntriesWithTerms({2, 3, 3}, 6));  // 6..8 unstable
  ASSERT_EQ(log.FirstIndex(), 3u);
  ASSERT_EQ(log.LastIndex(), 8u);
  ASSERT_EQ(log.StableLastIndex(), 5u);

  EXPECT_EQ(log.Slice(2, 4, kNoLimit).status().code(), Status::Code::kCompacted);
  EXPECT_EQ(log.Slice(5, 10, kNoLimit).status().code(), Status::Code::kUnavailable);
  EXPECT_TRUE(log.Slice(5, 5, kNoLimit).value().empty());

  auto all = log.Slice(3, 9, kNoLimit);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(TermsOf(all.value()), (std::vector<uint64_t>{1, 1, 2, 2, 3, 3}));
  for (size_t i = 0; i < all.value().size(); ++i)
    EXPECT_EQ(all.value()[i].index, 3 + i);

  uint64_t size = all.value()[0].ByteSize();  // every entry here has the same size
  struct Case {
    uint64_t lo, hi, max_bytes;
    size_t want;
  } cases[] = {
      {3, 9, 0, 1},  // at least one
      {3, 9, size, 1},
      {3, 9, 2 * size, 2},  // stops inside storage
      {3, 9, 3 * size, 3},  // exactly the durable part
      {3, 9, 4 * size, 4},  // crosses into the unstable part
      {3, 9, 4 * size - 1, 3},
      {6, 9, size, 1},  // unstable only
      {6, 9, 2 * size, 2},
      {4, 7, kNoLimit, 3},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(testing::Message() << c.lo << ".." << c.hi << " max " << c.max_bytes);
    auto r = log.Slice(c.lo, c.hi, c.max_bytes);
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r.value().size(), c.want);
    for (size_t i = 0; i < r.value().size(); ++i)
      EXPECT_EQ(r.value()[i].index, c.lo + i);
  }
}

// A conflicting append from a new leader may reach into the durable part:
// the unstable suffix then starts inside storage's range.
TEST(RaftLogTest, ConflictingAppendReplacesPartOfTheDurableLog) {
  MemoryStorage storage;
  ASSERT_TRUE(storage.Append(EntriesWithTerms({1, 1, 1, 1, 1})).ok());
  RaftLog log(&storage, kNoLimit);
  log.CommitTo(1);
  ASSERT_EQ(log.MaybeAppend(2, 1, 1, EntriesWithTerms({2}, 3)), std::optional<uint64_t>(3));
  EXPECT_EQ(log.LastIndex(), 3u);
  EXPECT_EQ(log.StableLastIndex(), 2u);  // storage's 3..5 are no longer ours
  EXPECT_EQ(log.TermOrZero(3), 2u);
  EXPECT_EQ(log.Term(4).status().code(), Status::Code::kUnavailable);
  EXPECT_EQ(TermsOf(WholeLog(log)), (std::vector<uint64_t>{1, 1, 2}));
  ASSERT_EQ(log.UnstableEntries().size(), 1u);
  EXPECT_EQ(log.UnstableEntries()[0].index, 3u);
}

TEST(RaftLogTest, StableToAcknowledgesPersistedEntries) {
  MemoryStorage storage;
  RaftLog log(&storage, kNoLimit);
  log.Append(EntriesWithTerms({1, 1, 2}));
  // The caller persists what the Ready carried, then acknowledges it.
  ASSERT_TRUE(storage.Append(log.UnstableEntries()).ok());
  log.StableTo(2, 1);
  EXPECT_EQ(log.StableLastIndex(), 2u);
  ASSERT_EQ(log.UnstableEntries().size(), 1u);
  EXPECT_EQ(log.UnstableEntries()[0].index, 3u);
  log.StableTo(3, 1);  // wrong term: not what is in the log
  EXPECT_EQ(log.UnstableEntries().size(), 1u);
  log.StableTo(7, 2);  // beyond the log
  EXPECT_EQ(log.UnstableEntries().size(), 1u);
  log.StableTo(3, 2);
  EXPECT_TRUE(log.UnstableEntries().empty());
  EXPECT_EQ(log.StableLastIndex(), 3u);
}

// The entry a Ready carried was replaced (a new leader's conflicting append)
// before the Advance that acknowledges it: the replacement is not durable.
TEST(RaftLogTest, StableToIgnoresAnEntryReplacedSinceTheReady) {
  MemoryStorage storage;
  ASSERT_TRUE(storage.Append(EntriesWithTerms({1})).ok());
  RaftLog log(&storage, kNoLimit);
  ASSERT_TRUE(log.MaybeAppend(1, 1, 0, EntriesWithTerms({1, 1}, 2)).has_value());
  std::vector<Entry> in_ready = log.UnstableEntries();  // what GetReady handed out
  ASSERT_EQ(in_ready.size(), 2u);
  // Before Advance, a leader of term 2 overwrites index 3.
  ASSERT_TRUE(log.MaybeAppend(2, 1, 0, EntriesWithTerms({2}, 3)).has_value());
  log.StableTo(in_ready.back().index, in_ready.back().term);
  // 3/2 must still be handed out to persist.
  ASSERT_FALSE(log.UnstableEntries().empty());
  EXPECT_EQ(log.UnstableEntries().back().index, 3u);
  EXPECT_EQ(log.UnstableEntries().back().term, 2u);
  EXPECT_LT(log.StableLastIndex(), 3u);
}

TEST(RaftLogTest, CommitOnlyMovesForwardAndOnlyForTheGivenTerm) {
  MemoryStorage storage;
  ASSERT_TRUE(storage.Append(EntriesWithTerms({1, 1, 2, 2})).ok());
  RaftLog log(&storage, kNoLimit);
  log.CommitTo(2);
  log.CommitTo(1);
  EXPECT_EQ(log.committed(), 2u);
  // §5.4.2: a leader of term 2 commits 3 by counting; a leader of term 3 may not.
  EXPECT_FALSE(log.MaybeCommit(3, 3));
  EXPECT_EQ(log.committed(), 2u);
  EXPECT_TRUE(log.MaybeCommit(3, 2));
  EXPECT_EQ(log.committed(), 3u);
  EXPECT_FALSE(log.MaybeCommit(2, 1));  // never backwards
  EXPECT_EQ(log.committed(), 3u);
}

TEST(RaftLogDeathTest, CommitPastTheLastEntryIsAnInvariantViolation) {
  MemoryStorage storage;
  ASSERT_TRUE(storage.Append(EntriesWithTerms({1})).ok());
  RaftLog log(&storage, kNoLimit);
  EXPECT_DEATH(log.CommitTo(2), "");
}

TEST(RaftLogDeathTest, LeaderAppendBelowCommitIsAnInvariantViolation) {
  MemoryStorage storage;
  ASSERT_TRUE(storage.Append(EntriesWithTerms({1, 1})).ok());
  RaftLog log(&storage, kNoLimit);
  log.CommitTo(2);
  EXPECT_DEATH(log.Append(EntriesWithTerms({2}, 2)), "");
}

TEST(RaftLogTest, NextCommittedEntriesStartAfterAppliedWithinTheByteLimit) {
  MemoryStorage storage;
  ASSERT_TRUE(storage.Append(EntriesWithTerms({1, 1, 1, 1})).ok());
  uint64_t size = EntriesWithTerms({1})[0].ByteSize();
  RaftLog log(&storage, 2 * size);
  EXPECT_FALSE(log.HasNextCommittedEntries());
  log.CommitTo(3);
  EXPECT_TRUE(log.HasNextCommittedEntries());
  std::vector<Entry> first = log.NextCommittedEntries();
  ASSERT_EQ(first.size(), 2u);  // the per-Ready byte limit
  EXPECT_EQ(first[0].index, 1u);
  log.AppliedTo(2);
  std::vector<Entry> second = log.NextCommittedEntries();
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].index, 3u);
  log.AppliedTo(3);
  EXPECT_FALSE(log.HasNextCommittedEntries());
  EXPECT_TRUE(log.NextCommittedEntries().empty());
}

TEST(RaftLogTest, RestoreReplacesTheLogWithTheSnapshot) {
  MemoryStorage storage;
  ASSERT_TRUE(storage.Append(EntriesWithTerms({1, 1, 2})).ok());
  RaftLog log(&storage, kNoLimit);
  log.CommitTo(1);
  log.Append(EntriesWithTerms({2}, 4));
  Snapshot snap;
  snap.metadata = {10, 4, ConfState{{1, 2, 3}, {}}};
  log.Restore(snap);
  EXPECT_EQ(log.FirstIndex(), 11u);
  EXPECT_EQ(log.LastIndex(), 10u);
  EXPECT_EQ(log.LastTerm(), 4u);
  EXPECT_EQ(log.committed(), 10u);
  EXPECT_TRUE(log.UnstableEntries().empty());
  ASSERT_TRUE(log.UnstableSnapshot().has_value());
  EXPECT_EQ(log.StableLastIndex(), 0u);  // nothing counts until the snapshot is durable
  EXPECT_EQ(log.Term(9).status().code(), Status::Code::kCompacted);
  EXPECT_FALSE(log.HasNextCommittedEntries());  // the snapshot is the state, not entries
  ASSERT_TRUE(log.GetSnapshot().ok());
  EXPECT_EQ(log.GetSnapshot().value(), snap);

  // Entries after the snapshot append to it.
  ASSERT_EQ(log.MaybeAppend(10, 4, 11, EntriesWithTerms({4}, 11)), std::optional<uint64_t>(11));
  EXPECT_EQ(log.committed(), 11u);

  // Once durable, the snapshot leaves the unstable part.
  ASSERT_TRUE(storage.ApplySnapshot(snap).ok());
  log.StableSnapTo(10);
  EXPECT_FALSE(log.UnstableSnapshot().has_value());
  EXPECT_EQ(log.FirstIndex(), 11u);
  EXPECT_EQ(log.TermOrZero(10), 4u);
}

}  // namespace
}  // namespace phalanx::consensus
