// Snapshots and compaction: triggers, a consistent stream in bounded chunks,
// install on another store (atomic, including across a crash), log
// compaction in bounded steps that let appends through.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <thread>

#include "test_util.h"

namespace phalanx::storage {
namespace {

using consensus::Entry;
using consensus::SnapshotMetadata;
using testing::MakeEntry;
using testing::OpenOrDie;
using testing::TempDir;
using testing::TestOptions;

constexpr int64_t kNow = 5000;

// Appends and applies `n` SETs of key "k<i % keys>" = "<i>" (with a value of
// `size` bytes) after the current last index.
void Feed(Store& s, uint64_t n, uint64_t keys = 50, size_t size = 32) {
  uint64_t last = s.log().LastIndex();
  std::vector<Entry> batch;
  for (uint64_t i = last + 1; i <= last + n; ++i) {
    std::string v = std::to_string(i);
    v.resize(size, '.');
    batch.push_back(
        MakeEntry(i, 1, Command::Set("k" + std::to_string(i % keys), v, kNow).Encode()));
  }
  ASSERT_TRUE(s.log().Save(consensus::HardState{1, 1, last + n}, batch).ok());
  auto r = s.kv().Apply(batch, consensus::ConfState{{1}, {}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
}

std::map<std::string, std::string> Dump(Store& s) {
  std::map<std::string, std::string> out;
  std::string cursor;
  for (int i = 0; i < 100000; ++i) {
    auto page = s.kv().Scan(cursor, 256, kNow);
    EXPECT_TRUE(page.ok());
    if (!page.ok()) break;
    for (const auto& k : page.value().keys)
      out[k] = s.kv().Get(k, kNow).value().value_or("?");
    cursor = page.value().cursor;
    if (cursor.empty()) break;
  }
  return out;
}

// Streams the current snapshot of `from` into a fresh install on `to`.
Status Transfer(Store& from, Store& to, size_t* chunks = nullptr, size_t max_chunk = 0) {
  auto reader = from.OpenSnapshot();
  if (!reader.ok()) return reader.status();
  auto writer = to.BeginSnapshotInstall(reader.value()->metadata());
  if (!writer.ok()) return writer.status();
  std::string chunk;
  size_t n = 0;
  for (int i = 0; i < 1000000; ++i) {
    auto more = reader.value()->Next(&chunk);
    if (!more.ok()) return more.status();
    if (!more.value()) break;
    ++n;
    if (max_chunk != 0) {
      EXPECT_LE(chunk.size(), max_chunk);
    }
    Status s = writer.value()->Write(chunk);
    if (!s.ok()) return s;
  }
  if (chunks != nullptr) *chunks = n;
  return to.FinishSnapshotInstall(std::move(writer).value(), std::nullopt);
}

TEST(EngineSnapshot, TriggersOnEntryCountAndLogSize) {
  TempDir dir;
  Options o = TestOptions(dir.path());
  o.snapshot_entries = 100;
  o.snapshot_bytes = 1 << 30;
  auto s = OpenOrDie(o);
  ASSERT_TRUE(s);
  EXPECT_FALSE(s->ShouldSnapshot());
  EXPECT_EQ(s->CreateSnapshot().status().code(), Status::Code::kInvalidArgument);
  Feed(*s, 99);
  EXPECT_FALSE(s->ShouldSnapshot());
  Feed(*s, 1);
  EXPECT_TRUE(s->ShouldSnapshot());
  auto meta = s->CreateSnapshot();
  ASSERT_TRUE(meta.ok()) << meta.status().ToString();
  EXPECT_EQ(meta.value().index, 100u);
  EXPECT_EQ(meta.value().term, 1u);
  EXPECT_EQ(meta.value().conf_state, (consensus::ConfState{{1}, {}}));
  EXPECT_FALSE(s->ShouldSnapshot());
  // Nothing new applied: the same snapshot comes back.
  EXPECT_EQ(s->CreateSnapshot().value(), meta.value());
  EXPECT_EQ(s->log().GetSnapshot().value().metadata, meta.value());

  TempDir dir2;
  Options o2 = TestOptions(dir2.path());
  o2.snapshot_entries = 1u << 30;
  o2.snapshot_bytes = 20000;
  auto s2 = OpenOrDie(o2);
  ASSERT_TRUE(s2);
  Feed(*s2, 10, 50, 1000);
  EXPECT_FALSE(s2->ShouldSnapshot());
  Feed(*s2, 15, 50, 1000);
  EXPECT_TRUE(s2->ShouldSnapshot());
}

TEST(EngineSnapshot, StreamIsTheStateAtTheSnapshotIndexInBoundedChunks) {
  TempDir a, b;
  Options oa = TestOptions(a.path());
  oa.snapshot_chunk_bytes = 1000;
  auto leader = OpenOrDie(oa);
  auto follower = OpenOrDie(TestOptions(b.path()));
  ASSERT_TRUE(leader && follower);
  Feed(*leader, 500, 300, 40);
  auto at_snapshot = Dump(*leader);
  auto meta = leader->CreateSnapshot();
  ASSERT_TRUE(meta.ok());
  // The state moves on; the snapshot does not.
  Feed(*leader, 200, 400, 40);
  ASSERT_TRUE(
      leader->kv().Apply({MakeEntry(701, 1, Command::FlushAll(kNow).Encode())}, std::nullopt).ok());
  size_t chunks = 0;
  // A chunk stops once it passes the target: at most one record beyond it.
  ASSERT_TRUE(Transfer(*leader, *follower, &chunks, 1000 + 100).ok());
  EXPECT_GT(chunks, 10u);
  EXPECT_EQ(Dump(*follower), at_snapshot);
  EXPECT_EQ(follower->kv().applied_index(), 500u);
  EXPECT_EQ(follower->kv().DbSize(), at_snapshot.size());
  EXPECT_EQ(follower->kv().conf_state(), meta.value().conf_state);
  // The follower's log now starts after the snapshot.
  LogStore& log = follower->log();
  EXPECT_EQ(log.FirstIndex(), 501u);
  EXPECT_EQ(log.LastIndex(), 500u);
  EXPECT_EQ(log.Term(500).value(), 1u);
  EXPECT_EQ(log.Entries(500, 501, 100).status().code(), consensus::Status::Code::kCompacted);
  EXPECT_GE(log.hard_state().commit, 500u);
  EXPECT_EQ(log.hard_state().term, 1u);
  EXPECT_EQ(log.GetSnapshot().value().metadata, meta.value());
  // It can append after the snapshot and serve the snapshot onwards.
  ASSERT_TRUE(log.Save(std::nullopt, {MakeEntry(501, 2, "x")}).ok());
  TempDir c;
  auto third = OpenOrDie(TestOptions(c.path()));
  ASSERT_TRUE(third);
  ASSERT_TRUE(Transfer(*follower, *third).ok());
  EXPECT_EQ(Dump(*third), at_snapshot);

  // And all of it survives a restart.
  follower.reset();
  follower = OpenOrDie(TestOptions(b.path()));
  ASSERT_TRUE(follower);
  EXPECT_EQ(Dump(*follower), at_snapshot);
  EXPECT_EQ(follower->kv().applied_index(), 500u);
  EXPECT_EQ(follower->log().FirstIndex(), 501u);
  EXPECT_EQ(follower->log().LastIndex(), 501u);
  EXPECT_EQ(follower->log().GetSnapshot().value().metadata, meta.value());
}

TEST(EngineSnapshot, EmptyStateStillStreamsOneChunk) {
  TempDir a, b;
  auto leader = OpenOrDie(TestOptions(a.path()));
  auto follower = OpenOrDie(TestOptions(b.path()));
  ASSERT_TRUE(leader && follower);
  ASSERT_TRUE(leader->kv().Apply({MakeEntry(1, 1, "")}, consensus::ConfState{{1, 2}, {}}).ok());
  ASSERT_TRUE(leader->CreateSnapshot().ok());
  Feed(*follower, 3);  // the follower's old state must vanish
  size_t chunks = 0;
  // Index 1 is not newer than the follower's applied 3.
  EXPECT_EQ(Transfer(*leader, *follower, &chunks).code(), Status::Code::kInvalidArgument);
  TempDir c;
  auto fresh = OpenOrDie(TestOptions(c.path()));
  ASSERT_TRUE(fresh);
  ASSERT_TRUE(Transfer(*leader, *fresh, &chunks).ok());
  EXPECT_EQ(chunks, 1u);
  EXPECT_TRUE(Dump(*fresh).empty());
  EXPECT_EQ(fresh->kv().conf_state(), (consensus::ConfState{{1, 2}, {}}));
}

TEST(EngineSnapshot, InstallReplacesDivergentLogAndState) {
  TempDir a, b;
  auto leader = OpenOrDie(TestOptions(a.path()));
  auto follower = OpenOrDie(TestOptions(b.path()));
  ASSERT_TRUE(leader && follower);
  Feed(*leader, 300);
  ASSERT_TRUE(leader->CreateSnapshot().ok());
  // The follower applied a little and holds a long unapplied log, some of it
  // beyond the snapshot index.
  Feed(*follower, 20);
  ASSERT_TRUE(
      follower->log().Save(consensus::HardState{1, 1, 20}, testing::MakeEntries(21, 400, 1)).ok());
  ASSERT_TRUE(Transfer(*leader, *follower).ok());
  EXPECT_EQ(follower->log().FirstIndex(), 301u);
  EXPECT_EQ(follower->log().LastIndex(), 300u);
  EXPECT_EQ(Dump(*follower), Dump(*leader));
  // Entries up to the snapshot were compacted physically too.
  EXPECT_GE(follower->stats().entries_compacted, 300u);
}

TEST(EngineSnapshot, AbandonedInstallLeavesTheOldState) {
  TempDir a, b;
  auto leader = OpenOrDie(TestOptions(a.path()));
  auto follower = OpenOrDie(TestOptions(b.path()));
  ASSERT_TRUE(leader && follower);
  Feed(*leader, 100, 20);
  ASSERT_TRUE(leader->CreateSnapshot().ok());
  Feed(*follower, 10, 5);
  auto before = Dump(*follower);
  {
    auto reader = leader->OpenSnapshot();
    ASSERT_TRUE(reader.ok());
    auto writer = follower->BeginSnapshotInstall(reader.value()->metadata());
    ASSERT_TRUE(writer.ok());
    std::string chunk;
    ASSERT_TRUE(reader.value()->Next(&chunk).value());
    ASSERT_TRUE(writer.value()->Write(chunk).ok());
    EXPECT_EQ(writer.value()->Write("\x01\x05garbage").code(), Status::Code::kCorruption);
  }  // writer dropped unfinished
  EXPECT_EQ(Dump(*follower), before);
  EXPECT_EQ(follower->kv().applied_index(), 10u);
  EXPECT_FALSE(std::filesystem::exists(b.Sub("kv_2.wt")));  // the staging table is gone
}

// A crash at any point of an install leaves the old state or the new one.
TEST(EngineSnapshot, CrashDuringInstallLeavesOldOrNewStateNeverAMix) {
  TempDir a, b, copies;
  std::map<std::string, std::string> old_state, new_state;
  {
    auto leader = OpenOrDie(TestOptions(a.path()));
    ASSERT_TRUE(leader);
    Feed(*leader, 400, 200, 64);
    ASSERT_TRUE(leader->CreateSnapshot().ok());
    new_state = Dump(*leader);
    auto follower = OpenOrDie(TestOptions(b.path()));
    ASSERT_TRUE(follower);
    Feed(*follower, 30, 7, 10);
    old_state = Dump(*follower);
  }
  // stop_after: chunks written before the child dies; -1: die right after
  // FinishSnapshotInstall returned.
  for (int stop_after : {0, 3, 1000, -1}) {
    SCOPED_TRACE("stop_after " + std::to_string(stop_after));
    std::string follower_dir = copies.Sub("f" + std::to_string(stop_after + 1));
    std::filesystem::copy(b.path(), follower_dir, std::filesystem::copy_options::recursive);
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      // Child: no gtest assertions; exit codes tell what went wrong.
      Options oa = TestOptions(a.path());
      oa.snapshot_chunk_bytes = 2000;
      auto leader = Store::Open(oa);
      auto follower = Store::Open(TestOptions(follower_dir));
      if (!leader.ok() || !follower.ok()) ::_exit(10);
      auto reader = leader.value()->OpenSnapshot();
      if (!reader.ok()) ::_exit(11);
      auto writer = follower.value()->BeginSnapshotInstall(reader.value()->metadata());
      if (!writer.ok()) ::_exit(12);
      std::string chunk;
      int written = 0;
      while (reader.value()->Next(&chunk).value()) {
        if (stop_after >= 0 && written == stop_after) ::_exit(0);  // "crash": no cleanup
        if (!writer.value()->Write(chunk).ok()) ::_exit(13);
        ++written;
      }
      if (stop_after >= 0) ::_exit(0);
      if (!follower.value()->FinishSnapshotInstall(std::move(writer).value(), std::nullopt).ok()) {
        ::_exit(14);
      }
      ::_exit(0);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
    auto follower = OpenOrDie(TestOptions(follower_dir));
    ASSERT_TRUE(follower);
    auto state = Dump(*follower);
    if (stop_after == -1) {
      EXPECT_EQ(state, new_state);
      EXPECT_EQ(follower->kv().applied_index(), 400u);
    } else {
      EXPECT_EQ(state, old_state);
      EXPECT_EQ(follower->kv().applied_index(), 30u);
      EXPECT_EQ(follower->log().LastIndex(), 30u);
    }
    // Staging leftovers were dropped at open: one KV table remains.
    int kv_tables = 0;
    for (const auto& de : std::filesystem::directory_iterator(follower_dir)) {
      if (de.path().filename().string().rfind("kv_", 0) == 0 &&
          de.path().filename().string() != "kv_meta.wt") {
        ++kv_tables;
      }
    }
    EXPECT_EQ(kv_tables, 1);
  }
}

TEST(EngineSnapshot, CompactionInBoundedStepsLetsAppendsThrough) {
  TempDir dir;
  Options o = TestOptions(dir.path());
  o.compaction_step_entries = 64;
  o.log_cache_entries = 100;
  auto s = OpenOrDie(o);
  ASSERT_TRUE(s);
  for (int i = 0; i < 20; ++i)
    Feed(*s, 1000, 100, 16);
  auto meta = s->CreateSnapshot();
  ASSERT_TRUE(meta.ok());
  EXPECT_EQ(meta.value().index, 20000u);
  // Compaction is clamped to the snapshot index and the log.
  std::atomic<bool> done{false};
  std::atomic<int> saves_during{0};
  std::thread appender([&] {
    uint64_t last = 20000;
    while (!done.load()) {
      ASSERT_TRUE(s->log().Save(std::nullopt, testing::MakeEntries(last + 1, last + 2, 1)).ok());
      ++last;
      if (!done.load()) ++saves_during;
    }
  });
  ASSERT_TRUE(s->CompactLog(19900).ok());
  done = true;
  appender.join();
  std::printf("%d saves completed during the compaction of 19900 entries\n", saves_during.load());
  EXPECT_GT(saves_during.load(), 0);
  EXPECT_EQ(s->log().FirstIndex(), 19901u);
  EXPECT_EQ(s->log().Term(19900).value(), 1u);
  EXPECT_EQ(s->log().Entries(19900, 19901, 0).status().code(), consensus::Status::Code::kCompacted);
  EXPECT_EQ(s->log().Entries(19901, 20001, consensus::kNoLimit).value().size(), 100u);
  EXPECT_EQ(s->stats().entries_compacted, 19900u);
  // Beyond the snapshot is clamped.
  ASSERT_TRUE(s->CompactLog(1u << 30).ok());
  EXPECT_EQ(s->log().FirstIndex(), 20001u);
  uint64_t last = s->log().LastIndex();
  s.reset();
  s = OpenOrDie(o);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->log().FirstIndex(), 20001u);
  EXPECT_EQ(s->log().LastIndex(), last);
  EXPECT_EQ(s->log().Term(20000).value(), 1u);
}

TEST(EngineSnapshot, StreamedCheckpointsAreNotReplaced) {
  TempDir dir;
  auto s = OpenOrDie(TestOptions(dir.path()));
  ASSERT_TRUE(s);
  Feed(*s, 10);
  ASSERT_TRUE(s->CreateSnapshot().ok());
  auto r1 = s->OpenSnapshot();  // streams slot A
  ASSERT_TRUE(r1.ok());
  Feed(*s, 10);
  ASSERT_EQ(s->CreateSnapshot().value().index, 20u);  // slot B
  auto r2 = s->OpenSnapshot();
  ASSERT_TRUE(r2.ok());
  Feed(*s, 10);
  EXPECT_EQ(s->CreateSnapshot().status().code(), Status::Code::kBusy);  // both streamed
  // The streams still read their own states.
  std::string chunk;
  ASSERT_TRUE(r1.value()->Next(&chunk).value());
  EXPECT_EQ(r1.value()->metadata().index, 10u);
  EXPECT_EQ(r2.value()->metadata().index, 20u);
  r1.value().reset();
  EXPECT_EQ(s->CreateSnapshot().value().index, 30u);
}

TEST(EngineSnapshot, SnapshotOfAnOldGenerationSurvivesFlushAll) {
  TempDir a, b;
  auto s = OpenOrDie(TestOptions(a.path()));
  ASSERT_TRUE(s);
  Feed(*s, 50, 10);
  auto before = Dump(*s);
  ASSERT_TRUE(s->CreateSnapshot().ok());
  ASSERT_TRUE(
      s->kv().Apply({MakeEntry(51, 1, Command::FlushAll(kNow).Encode())}, std::nullopt).ok());
  ASSERT_TRUE(s->CollectGarbage().ok());
  EXPECT_TRUE(std::filesystem::exists(a.Sub("kv_1.wt")));  // still the snapshot's table
  auto f = OpenOrDie(TestOptions(b.path()));
  ASSERT_TRUE(f);
  ASSERT_TRUE(Transfer(*s, *f).ok());
  EXPECT_EQ(Dump(*f), before);
  Feed(*s, 5);
  ASSERT_TRUE(s->CreateSnapshot().ok());  // now of generation 2
  EXPECT_FALSE(std::filesystem::exists(a.Sub("kv_1.wt")));
}

}  // namespace
}  // namespace phalanx::storage

namespace phalanx::storage {
namespace {

// Records larger than a chunk travel as pieces (chunk version 2): every chunk
// stays within the target plus framing, whatever a value's size, and the
// receiver rebuilds each record exactly.
TEST(EngineSnapshot, RecordsLargerThanAChunkTravelInPieces) {
  TempDir a, b;
  Options oa = TestOptions(a.path());
  oa.snapshot_chunk_bytes = 4096;
  auto leader = OpenOrDie(oa);
  auto follower = OpenOrDie(TestOptions(b.path()));
  ASSERT_TRUE(leader && follower);
  Feed(*leader, 20, 20, 100);  // small records before and after the large ones
  std::vector<Entry> big;
  uint64_t last = leader->log().LastIndex();
  const size_t sizes[] = {4096, 4097, 50000, 1 << 20};
  for (size_t i = 0; i < std::size(sizes); ++i) {
    std::string v(sizes[i], 'a');
    for (size_t j = 0; j < v.size(); j += 997)
      v[j] = static_cast<char>('a' + (j / 997) % 26);
    big.push_back(MakeEntry(last + 1 + i, 1,
                            Command::Set("big" + std::to_string(i), std::move(v), kNow).Encode()));
  }
  ASSERT_TRUE(leader->log().Save(consensus::HardState{1, 1, last + big.size()}, big).ok());
  ASSERT_TRUE(leader->kv().Apply(big, consensus::ConfState{{1}, {}}).ok());
  Feed(*leader, 20, 40, 100);
  auto want = Dump(*leader);
  ASSERT_TRUE(leader->CreateSnapshot().ok());
  size_t chunks = 0;
  ASSERT_TRUE(Transfer(*leader, *follower, &chunks, 4096 + 64).ok());
  EXPECT_GT(chunks, (1u << 20) / 4096);
  EXPECT_EQ(Dump(*follower), want);
}

// A piece sequence that is cut short, out of order or overlong is refused.
TEST(EngineSnapshot, MalformedPieceSequencesAreRefused) {
  TempDir a, b;
  Options oa = TestOptions(a.path());
  oa.snapshot_chunk_bytes = 1024;
  auto leader = OpenOrDie(oa);
  ASSERT_TRUE(leader);
  uint64_t last = leader->log().LastIndex();
  std::vector<Entry> big = {
      MakeEntry(last + 1, 1, Command::Set("big", std::string(10000, 'z'), kNow).Encode())};
  ASSERT_TRUE(leader->log().Save(consensus::HardState{1, 1, last + 1}, big).ok());
  ASSERT_TRUE(leader->kv().Apply(big, consensus::ConfState{{1}, {}}).ok());
  ASSERT_TRUE(leader->CreateSnapshot().ok());
  std::vector<std::string> chunks;
  {
    auto reader = leader->OpenSnapshot();
    ASSERT_TRUE(reader.ok());
    std::string chunk;
    for (int i = 0; i < 1000; ++i) {
      auto more = reader.value()->Next(&chunk);
      ASSERT_TRUE(more.ok());
      if (!more.value()) break;
      chunks.push_back(chunk);
    }
  }
  ASSERT_GE(chunks.size(), 3u);
  auto meta = leader->log().GetSnapshot().value().metadata;
  auto follower = OpenOrDie(TestOptions(b.path()));
  ASSERT_TRUE(follower);
  {  // the stream ends inside the record
    auto w = follower->BeginSnapshotInstall(meta);
    ASSERT_TRUE(w.ok());
    for (size_t i = 0; i + 1 < chunks.size(); ++i)
      ASSERT_TRUE(w.value()->Write(chunks[i]).ok());
    EXPECT_EQ(follower->FinishSnapshotInstall(std::move(w).value(), std::nullopt).code(),
              Status::Code::kCorruption);
  }
  {  // a piece skipped
    auto w = follower->BeginSnapshotInstall(meta);
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE(w.value()->Write(chunks[0]).ok());
    EXPECT_EQ(w.value()->Write(chunks[2]).code(), Status::Code::kCorruption);
  }
  {  // a piece sent twice
    auto w = follower->BeginSnapshotInstall(meta);
    ASSERT_TRUE(w.value()->Write(chunks[0]).ok());
    EXPECT_EQ(w.value()->Write(chunks[0]).code(), Status::Code::kCorruption);
  }
  EXPECT_EQ(Dump(*follower).size(), 0u);  // nothing of it became live
}

}  // namespace
}  // namespace phalanx::storage
