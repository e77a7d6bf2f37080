// LogStore: the consensus::Storage contract on WiredTiger, durability across
// reopen, suffix truncation, the memory tail vs. the table, group commit, and
// a real RawNode driven against it.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "consensus/raw_node.h"
#include "test_util.h"

namespace phalanx::storage {
namespace {

using consensus::Entry;
using consensus::HardState;
using testing::MakeEntries;
using testing::OpenOrDie;
using testing::TempDir;
using testing::TestOptions;
using Code = consensus::Status::Code;

std::vector<Entry> MustEntries(const LogStore& log, uint64_t lo, uint64_t hi,
                               uint64_t max = consensus::kNoLimit) {
  auto r = log.Entries(lo, hi, max);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? r.value() : std::vector<Entry>{};
}

TEST(EngineLogStore, FreshStoreIsEmpty) {
  TempDir dir;
  auto store = OpenOrDie(TestOptions(dir.path()));
  ASSERT_TRUE(store);
  LogStore& log = store->log();
  EXPECT_TRUE(store->IsFresh());
  EXPECT_EQ(log.FirstIndex(), 1u);
  EXPECT_EQ(log.LastIndex(), 0u);
  EXPECT_EQ(log.Term(0).value(), 0u);
  EXPECT_EQ(log.Term(1).status().code(), Code::kUnavailable);
  EXPECT_TRUE(MustEntries(log, 1, 1).empty());
  EXPECT_EQ(log.Entries(1, 2, 100).status().code(), Code::kUnavailable);
  EXPECT_EQ(log.Entries(0, 1, 100).status().code(), Code::kCompacted);
  EXPECT_TRUE(log.GetSnapshot().value().IsEmpty());
  EXPECT_TRUE(log.GetInitialState().hard_state.IsEmpty());
}

TEST(EngineLogStore, SavedEntriesAndHardStateSurviveReopen) {
  TempDir dir;
  auto entries = MakeEntries(1, 101, 3);
  HardState hs{3, 2, 50};
  {
    auto store = OpenOrDie(TestOptions(dir.path()));
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->log().Save(hs, entries).ok());
    EXPECT_EQ(store->log().LastIndex(), 100u);
    EXPECT_EQ(MustEntries(store->log(), 1, 101), entries);
  }
  auto store = OpenOrDie(TestOptions(dir.path()));
  ASSERT_TRUE(store);
  LogStore& log = store->log();
  EXPECT_FALSE(store->IsFresh());
  EXPECT_EQ(log.GetInitialState().hard_state, hs);
  EXPECT_EQ(log.FirstIndex(), 1u);
  EXPECT_EQ(log.LastIndex(), 100u);
  EXPECT_EQ(MustEntries(log, 1, 101), entries);
  EXPECT_EQ(log.Term(100).value(), 3u);
}

TEST(EngineLogStore, EntriesRespectsMaxBytes) {
  TempDir dir;
  auto store = OpenOrDie(TestOptions(dir.path()));
  ASSERT_TRUE(store);
  auto entries = MakeEntries(1, 11, 1, 100);  // ByteSize() = 124 each
  ASSERT_TRUE(store->log().Save(std::nullopt, entries).ok());
  EXPECT_EQ(MustEntries(store->log(), 1, 11, 0).size(), 1u);  // at least one
  EXPECT_EQ(MustEntries(store->log(), 1, 11, 124).size(), 1u);
  EXPECT_EQ(MustEntries(store->log(), 1, 11, 247).size(), 1u);
  EXPECT_EQ(MustEntries(store->log(), 1, 11, 248).size(), 2u);
  EXPECT_EQ(MustEntries(store->log(), 3, 11, 124 * 3).size(), 3u);
}

TEST(EngineLogStore, OlderEntriesComeFromTheTable) {
  TempDir dir;
  Options o = TestOptions(dir.path());
  o.log_cache_entries = 8;  // most of the log lives only in WiredTiger
  auto entries = MakeEntries(1, 201, 2, 40);
  {
    auto store = OpenOrDie(o);
    ASSERT_TRUE(store);
    for (size_t i = 0; i < entries.size(); i += 25) {
      std::vector<Entry> batch(entries.begin() + i, entries.begin() + i + 25);
      ASSERT_TRUE(store->log().Save(std::nullopt, batch).ok());
    }
    EXPECT_EQ(MustEntries(store->log(), 1, 201), entries);  // spans table and cache
    EXPECT_EQ(MustEntries(store->log(), 150, 196),
              std::vector<Entry>(entries.begin() + 149, entries.begin() + 195));
    EXPECT_EQ(store->log().Term(7).value(), 2u);
  }
  o.log_cache_entries = 0;  // no cache at all
  auto store = OpenOrDie(o);
  ASSERT_TRUE(store);
  EXPECT_EQ(MustEntries(store->log(), 1, 201), entries);
  EXPECT_EQ(MustEntries(store->log(), 200, 201, 0).size(), 1u);
}

TEST(EngineLogStore, ConflictingSuffixIsReplaced) {
  TempDir dir;
  Options o = TestOptions(dir.path());
  o.log_cache_entries = 4;
  {
    auto store = OpenOrDie(o);
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->log().Save(std::nullopt, MakeEntries(1, 11, 1)).ok());
    // A new leader's entries 6..8 in term 2 replace 6..10.
    ASSERT_TRUE(store->log().Save(HardState{2, 0, 5}, MakeEntries(6, 9, 2)).ok());
    EXPECT_EQ(store->log().LastIndex(), 8u);
    EXPECT_EQ(store->log().Term(5).value(), 1u);
    EXPECT_EQ(store->log().Term(6).value(), 2u);
    EXPECT_EQ(store->log().Term(9).status().code(), Code::kUnavailable);
    // Truncating below the memory tail too.
    ASSERT_TRUE(store->log().Save(std::nullopt, MakeEntries(2, 4, 3)).ok());
    EXPECT_EQ(store->log().LastIndex(), 3u);
    ASSERT_TRUE(store->log().Save(std::nullopt, MakeEntries(4, 7, 3)).ok());
  }
  auto store = OpenOrDie(o);
  ASSERT_TRUE(store);
  auto all = MustEntries(store->log(), 1, 7);
  ASSERT_EQ(all.size(), 6u);
  EXPECT_EQ(all[0], MakeEntries(1, 2, 1)[0]);
  for (size_t i = 1; i < 6; ++i)
    EXPECT_EQ(all[i].term, 3u);
  EXPECT_EQ(store->log().hard_state(), (HardState{2, 0, 5}));
}

TEST(EngineLogStore, RejectsGapsAndNonContiguousBatches) {
  TempDir dir;
  auto store = OpenOrDie(TestOptions(dir.path()));
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->log().Save(std::nullopt, MakeEntries(1, 4, 1)).ok());
  EXPECT_EQ(store->log().Save(std::nullopt, MakeEntries(5, 6, 1)).code(),
            Status::Code::kInvalidArgument);
  auto bad = MakeEntries(4, 7, 1);
  bad[2].index = 9;
  EXPECT_EQ(store->log().Save(std::nullopt, bad).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(store->log().LastIndex(), 3u);
  EXPECT_FALSE(store->failed());  // a caller's mistake is not a disk failure
}

TEST(EngineLogStore, PipelinedWritesShareOneFlush) {
  TempDir dir;
  auto store = OpenOrDie(TestOptions(dir.path()));
  ASSERT_TRUE(store);
  LogStore& log = store->log();
  uint64_t before = store->stats().log_flushes;
  std::vector<uint64_t> tickets;
  for (uint64_t i = 1; i <= 10; ++i) {
    auto t = log.Write(HardState{1, 1, i - 1}, MakeEntries(i, i + 1, 1));
    ASSERT_TRUE(t.ok());
    tickets.push_back(t.value());
  }
  ASSERT_TRUE(log.WaitDurable(tickets.back()).ok());
  EXPECT_EQ(store->stats().log_flushes, before + 1);
  for (uint64_t t : tickets)
    ASSERT_TRUE(log.WaitDurable(t).ok());  // already durable
  EXPECT_EQ(store->stats().log_flushes, before + 1);
}

TEST(EngineLogStore, ConcurrentSavesShareFlushes) {
  TempDir dir;
  auto store = OpenOrDie(TestOptions(dir.path()));
  ASSERT_TRUE(store);
  constexpr int kThreads = 4, kSaves = 40;
  uint64_t before = store->stats().log_flushes;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kSaves; ++i) {
        if (!store->log().Save(HardState{static_cast<uint64_t>(t + 1), 0, 0}, {}).ok()) ++failures;
      }
    });
  }
  for (auto& th : threads)
    th.join();
  EXPECT_EQ(failures.load(), 0);
  uint64_t flushes = store->stats().log_flushes - before;
  EXPECT_GE(flushes, 1u);
  EXPECT_LE(flushes, static_cast<uint64_t>(kThreads * kSaves));
  // Sharing is likely but timing-dependent: report, don't assert.
  std::printf("%d concurrent saves took %llu flushes\n", kThreads * kSaves,
              static_cast<unsigned long long>(flushes));
}

TEST(EngineLogStore, ReadersSeeWholeSavesDuringAppendsAndTruncations) {
  TempDir dir;
  Options o = TestOptions(dir.path());
  o.log_cache_entries = 16;
  auto store = OpenOrDie(o);
  ASSERT_TRUE(store);
  LogStore& log = store->log();
  std::atomic<bool> stop{false};
  std::atomic<int> bad{0};
  std::thread reader([&] {
    while (!stop.load()) {
      uint64_t first = log.FirstIndex(), last = log.LastIndex();
      if (last < first) continue;
      uint64_t lo = first + (last - first) / 2;
      auto r = log.Entries(lo, last + 1, consensus::kNoLimit);
      if (!r.ok()) continue;  // the log shrank meanwhile: allowed
      const auto& es = r.value();
      for (size_t i = 0; i < es.size(); ++i) {
        if (es[i].index != lo + i) ++bad;
        if (i > 0 && es[i].term < es[i - 1].term) ++bad;  // a log's terms never decrease
      }
    }
  });
  uint64_t term = 1;
  uint64_t last = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  for (int round = 0; round < 200 && std::chrono::steady_clock::now() < deadline; ++round) {
    if (round % 7 == 6 && last > 10) {
      ++term;  // a new leader overwrites the last few entries
      last -= 5;
    }
    ASSERT_TRUE(log.Save(HardState{term, 0, 0}, MakeEntries(last + 1, last + 21, term)).ok());
    last += 20;
  }
  stop = true;
  reader.join();
  EXPECT_EQ(bad.load(), 0);
}

// The real Raft core on a LogStore and KvStore: a single node elects itself,
// commits and applies proposals, and comes back from a restart with the same
// state.
TEST(EngineLogStore, DrivesARawNodeThroughARestart) {
  TempDir dir;
  auto run = [&](Store& store, int proposals) -> uint64_t {
    consensus::Config cfg;
    cfg.id = 1;
    cfg.storage = &store.log();
    cfg.applied = store.kv().applied_index();
    cfg.seed = 7;
    auto node_r = consensus::RawNode::Create(cfg);
    EXPECT_TRUE(node_r.ok()) << node_r.status().ToString();
    if (!node_r.ok()) return 0;
    auto& node = *node_r.value();
    EXPECT_TRUE(node.Campaign().ok());
    int proposed = 0;
    for (int step = 0; step < 1000; ++step) {
      if (node.HasReady()) {
        consensus::Ready rd = node.GetReady();
        EXPECT_TRUE(store.log().Save(rd.hard_state, rd.entries).ok());
        auto res = store.kv().Apply(rd.committed_entries, std::nullopt);
        EXPECT_TRUE(res.ok()) << res.status().ToString();
        node.Advance(rd);
        continue;
      }
      if (node.GetStatus().soft_state.role != consensus::Role::kLeader) {
        node.Tick();
        continue;
      }
      if (proposed < proposals) {
        Command c = Command::IncrBy("counter", 1, 0);
        EXPECT_TRUE(node.Propose(c.Encode()).ok());
        ++proposed;
        continue;
      }
      if (store.kv().applied_index() == store.log().LastIndex()) break;
      node.Tick();
    }
    return node.GetStatus().hard_state.term;
  };
  uint64_t term1;
  {
    auto store = OpenOrDie(TestOptions(dir.path()));
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->Bootstrap(consensus::ConfState{{1}, {}}).ok());
    term1 = run(*store, 20);
    EXPECT_GE(term1, 1u);
    EXPECT_EQ(store->kv().Get("counter", 0).value(), std::optional<std::string>("20"));
  }
  auto store = OpenOrDie(TestOptions(dir.path()));
  ASSERT_TRUE(store);
  EXPECT_EQ(store->log().GetInitialState().conf_state, (consensus::ConfState{{1}, {}}));
  EXPECT_EQ(store->log().hard_state().term, term1);
  uint64_t term2 = run(*store, 5);
  EXPECT_GT(term2, term1);
  EXPECT_EQ(store->kv().Get("counter", 0).value(), std::optional<std::string>("25"));
  EXPECT_EQ(store->kv().applied_index(), store->log().LastIndex());
}

}  // namespace
}  // namespace phalanx::storage
