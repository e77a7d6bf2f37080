// MemoryStorage: the durable-log contract of storage.h, which the core and the
// test cluster rely on (index ranges, byte limits, error codes, compaction).
#include "consensus/storage.h"

#include <gtest/gtest.h>

#include <vector>

#include "tests/consensus/test_cluster.h"

namespace phalanx::consensus {
namespace {

using test::EntriesWithTerms;
using test::TermsOf;

// A storage whose log is a snapshot at 3 (term 3) followed by 4/4 and 5/5.
MemoryStorage StorageFrom3To5() {
  MemoryStorage s;
  Snapshot snap;
  snap.metadata.index = 3;
  snap.metadata.term = 3;
  EXPECT_TRUE(s.ApplySnapshot(snap).ok());
  EXPECT_TRUE(s.Append(EntriesWithTerms({4, 5}, 4)).ok());
  return s;
}

std::vector<Entry> All(const MemoryStorage& s) {
  auto r = s.Entries(s.FirstIndex(), s.LastIndex() + 1, kNoLimit);
  EXPECT_TRUE(r.ok());
  return r.ok() ? r.value() : std::vector<Entry>{};
}

TEST(MemoryStorageTest, NewStorageHoldsOnlyTheDummyEntry) {
  MemoryStorage s;
  EXPECT_EQ(s.FirstIndex(), 1u);
  EXPECT_EQ(s.LastIndex(), 0u);
  ASSERT_TRUE(s.Term(0).ok());
  EXPECT_EQ(s.Term(0).value(), 0u);
  EXPECT_EQ(s.Term(1).status().code(), Status::Code::kUnavailable);
  auto snap = s.GetSnapshot();
  ASSERT_TRUE(snap.ok());
  EXPECT_TRUE(snap.value().IsEmpty());
  EXPECT_TRUE(s.GetInitialState().hard_state.IsEmpty());
}

TEST(MemoryStorageTest, TermIsKnownFromTheSnapshotIndexToTheLastEntry) {
  MemoryStorage s = StorageFrom3To5();
  EXPECT_EQ(s.Term(2).status().code(), Status::Code::kCompacted);
  ASSERT_TRUE(s.Term(3).ok());
  EXPECT_EQ(s.Term(3).value(), 3u);  // the dummy remembers the snapshot's term
  EXPECT_EQ(s.Term(4).value(), 4u);
  EXPECT_EQ(s.Term(5).value(), 5u);
  EXPECT_EQ(s.Term(6).status().code(), Status::Code::kUnavailable);
  EXPECT_EQ(s.FirstIndex(), 4u);
  EXPECT_EQ(s.LastIndex(), 5u);
}

TEST(MemoryStorageTest, EntriesReportsCompactedAndUnavailableRanges) {
  MemoryStorage s = StorageFrom3To5();
  ASSERT_TRUE(s.Append(EntriesWithTerms({6}, 6)).ok());
  EXPECT_EQ(s.Entries(2, 6, kNoLimit).status().code(), Status::Code::kCompacted);
  EXPECT_EQ(s.Entries(3, 4, kNoLimit).status().code(), Status::Code::kCompacted);
  EXPECT_EQ(s.Entries(4, 8, kNoLimit).status().code(), Status::Code::kUnavailable);
  EXPECT_EQ(TermsOf(s.Entries(4, 5, kNoLimit).value()), (std::vector<uint64_t>{4}));
  EXPECT_EQ(TermsOf(s.Entries(4, 7, kNoLimit).value()), (std::vector<uint64_t>{4, 5, 6}));
  EXPECT_EQ(TermsOf(s.Entries(5, 7, kNoLimit).value()), (std::vector<uint64_t>{5, 6}));
}

TEST(MemoryStorageTest, EntriesStopsAtTheByteLimitButReturnsAtLeastOne) {
  MemoryStorage s = StorageFrom3To5();
  ASSERT_TRUE(s.Append(EntriesWithTerms({6}, 6)).ok());
  std::vector<Entry> all = All(s);
  ASSERT_EQ(all.size(), 3u);
  uint64_t one = all[0].ByteSize();
  uint64_t two = one + all[1].ByteSize();
  struct Case {
    uint64_t max_bytes;
    size_t want;
  } cases[] = {
      {0, 1},        // even a zero limit yields one entry
      {one - 1, 1},  // the first entry alone exceeds the limit
      {one, 1},
      {two - 1, 1},
      {two, 2},  // exactly two fit
      {two + all[2].ByteSize() / 2, 2},
      {two + all[2].ByteSize(), 3},
      {kNoLimit, 3},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.max_bytes);
    auto r = s.Entries(4, 7, c.max_bytes);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.value().size(), c.want);
  }
}

TEST(MemoryStorageTest, AppendTruncatesTheConflictingSuffix) {
  struct Case {
    std::vector<Entry> append;
    bool ok;
    std::vector<uint64_t> want_terms;  // log from index 4 afterwards
  } cases[] = {
      // Entries before the first index are skipped.
      {EntriesWithTerms({3, 4, 5}, 3), true, {4, 5}},
      // A conflict at 4 replaces everything from 4 on.
      {EntriesWithTerms({3, 6, 6}, 3), true, {6, 6}},
      {EntriesWithTerms({3, 4, 5, 5}, 3), true, {4, 5, 5}},
      // Partly compacted input: only the part from the first index counts.
      {EntriesWithTerms({3, 3, 5}, 2), true, {5}},
      // Truncates the tail.
      {EntriesWithTerms({5}, 4), true, {5}},
      // Extends the tail.
      {EntriesWithTerms({5}, 6), true, {4, 5, 5}},
      // A gap is refused and changes nothing.
      {EntriesWithTerms({5}, 7), false, {4, 5}},
      // Wholly compacted input is ignored.
      {EntriesWithTerms({1, 2}, 1), true, {4, 5}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.append.front().index);
    MemoryStorage s = StorageFrom3To5();
    Status st = s.Append(c.append);
    EXPECT_EQ(st.ok(), c.ok) << st.ToString();
    if (!c.ok) {
      EXPECT_EQ(st.code(), Status::Code::kInvalidArgument);
    }
    EXPECT_EQ(s.FirstIndex(), 4u);
    EXPECT_EQ(TermsOf(All(s)), c.want_terms);
  }
}

TEST(MemoryStorageTest, CompactDiscardsThePrefixAndKeepsTheTermOfItsLastEntry) {
  struct Case {
    uint64_t index;
    Status::Code code;
    uint64_t want_first;
  } cases[] = {
      // clang-format off
      {2, Status::Code::kCompacted, 4},    // already gone
      {3, Status::Code::kCompacted, 4},    // the dummy itself
      {4, Status::Code::kOk, 5},           // 4 becomes the dummy
      {5, Status::Code::kOk, 6},
      {6, Status::Code::kUnavailable, 4},  // past the last entry
      // clang-format on
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.index);
    MemoryStorage s = StorageFrom3To5();
    EXPECT_EQ(s.Compact(c.index).code(), c.code);
    EXPECT_EQ(s.FirstIndex(), c.want_first);
    EXPECT_EQ(s.LastIndex(), 5u);
    if (c.code == Status::Code::kOk) {
      ASSERT_TRUE(s.Term(c.index).ok());
      EXPECT_EQ(s.Term(c.index).value(), c.index);  // entry i has term i here
      EXPECT_EQ(s.Term(c.index - 1).status().code(), Status::Code::kCompacted);
    }
  }
}

TEST(MemoryStorageTest, CreateSnapshotRecordsIndexTermAndConfState) {
  MemoryStorage s = StorageFrom3To5();
  ConfState cs{{1, 2, 3}, {4}};
  auto snap = s.CreateSnapshot(4, cs, "data@4");
  ASSERT_TRUE(snap.ok());
  EXPECT_EQ(snap.value().metadata.index, 4u);
  EXPECT_EQ(snap.value().metadata.term, 4u);
  EXPECT_EQ(snap.value().metadata.conf_state, cs);
  EXPECT_EQ(snap.value().data, "data@4");
  EXPECT_EQ(s.GetSnapshot().value(), snap.value());
  // Creating a snapshot does not compact by itself.
  EXPECT_EQ(s.FirstIndex(), 4u);
  EXPECT_EQ(s.CreateSnapshot(4, cs, "again").status().code(), Status::Code::kCompacted);
  EXPECT_EQ(s.CreateSnapshot(3, cs, "older").status().code(), Status::Code::kCompacted);
  EXPECT_EQ(s.CreateSnapshot(6, cs, "future").status().code(), Status::Code::kUnavailable);
  EXPECT_EQ(s.GetSnapshot().value().data, "data@4");
}

TEST(MemoryStorageTest, CreateSnapshotBelowTheCompactedPrefixIsRefused) {
  // The log was compacted to 4 without a snapshot; 2 is gone and its term unknown.
  MemoryStorage s;
  ASSERT_TRUE(s.Append(EntriesWithTerms({1, 1, 2, 2, 3})).ok());
  ASSERT_TRUE(s.Compact(4).ok());
  EXPECT_EQ(s.CreateSnapshot(2, ConfState{{1}, {}}, "x").status().code(), Status::Code::kCompacted);
  auto at4 = s.CreateSnapshot(4, ConfState{{1}, {}}, "y");
  ASSERT_TRUE(at4.ok());
  EXPECT_EQ(at4.value().metadata.term, 2u);
}

TEST(MemoryStorageTest, ApplySnapshotReplacesTheLogAndConfState) {
  MemoryStorage s = StorageFrom3To5();
  Snapshot snap;
  snap.metadata = {10, 7, ConfState{{1, 2}, {3}}};
  snap.data = "ten";
  ASSERT_TRUE(s.ApplySnapshot(snap).ok());
  EXPECT_EQ(s.FirstIndex(), 11u);
  EXPECT_EQ(s.LastIndex(), 10u);
  EXPECT_EQ(s.Term(10).value(), 7u);
  EXPECT_EQ(s.GetSnapshot().value(), snap);
  EXPECT_EQ(s.GetInitialState().conf_state, snap.metadata.conf_state);

  // An older snapshot is refused and changes nothing.
  Snapshot older;
  older.metadata = {5, 5, ConfState{{1}, {}}};
  EXPECT_EQ(s.ApplySnapshot(older).code(), Status::Code::kCompacted);
  EXPECT_EQ(s.GetSnapshot().value(), snap);
  EXPECT_EQ(s.FirstIndex(), 11u);
  EXPECT_EQ(s.GetInitialState().conf_state, snap.metadata.conf_state);
}

TEST(MemoryStorageTest, InitialStateIsWhatWasLastRecorded) {
  MemoryStorage s;
  HardState hs{5, 2, 3};
  ConfState cs{{1, 2, 3}, {}};
  s.SetHardState(hs);
  s.SetConfState(cs);
  InitialState init = s.GetInitialState();
  EXPECT_EQ(init.hard_state, hs);
  EXPECT_EQ(init.conf_state, cs);
}

}  // namespace
}  // namespace phalanx::consensus
