// KvStore: command semantics (Redis 7), the applied index in the same
// transaction as the data, restart, reads with expiry, SCAN, atomic reads
// during apply, determinism.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <thread>

#include "test_util.h"

namespace phalanx::storage {
namespace {

using consensus::Entry;
using testing::OpenOrDie;
using testing::TempDir;
using testing::TestOptions;
using R = ApplyResult;

constexpr int64_t kNow = 1'700'000'000'000;  // a fixed "now" in ms

class KvTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }
  void Reopen() {
    store_.reset();
    store_ = OpenOrDie(options_);
    ASSERT_TRUE(store_);
  }
  KvStore& kv() { return store_->kv(); }

  // Applies one command as the next entry and returns its result.
  ApplyResult Do(const Command& c) {
    uint64_t index = kv().applied_index() + 1;
    auto r = kv().Apply({testing::MakeEntry(index, 1, c.Encode())}, std::nullopt);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok() || r.value().size() != 1) return R::Error("apply failed");
    return r.value()[0];
  }
  std::optional<std::string> Get(const std::string& k, int64_t now = kNow) {
    auto r = kv().Get(k, now);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r.value() : std::nullopt;
  }
  int64_t PTtl(const std::string& k, int64_t now = kNow) { return kv().PTtl(k, now).value(); }
  std::vector<std::string> AllKeys(int64_t now = kNow, size_t count = 10) {
    std::vector<std::string> keys;
    std::string cursor;
    for (int pages = 0; pages < 100000; ++pages) {
      auto page = kv().Scan(cursor, count, now);
      EXPECT_TRUE(page.ok());
      if (!page.ok()) break;
      keys.insert(keys.end(), page.value().keys.begin(), page.value().keys.end());
      cursor = page.value().cursor;
      if (cursor.empty()) break;
    }
    return keys;
  }

  TempDir dir_;
  Options options_ = TestOptions(dir_.path());
  std::unique_ptr<Store> store_;
};

TEST_F(KvTest, SetAndGet) {
  EXPECT_EQ(Do(Command::Set("k", "v", kNow)), R::Ok());
  EXPECT_EQ(Get("k"), "v");
  EXPECT_EQ(Do(Command::Set("k", "v2", kNow)), R::Ok());
  EXPECT_EQ(Get("k"), "v2");
  EXPECT_EQ(Get("missing"), std::nullopt);
  EXPECT_EQ(kv().DbSize(), 1u);
  std::string binary("\0\xff\r\n", 4);
  EXPECT_EQ(Do(Command::Set(binary, binary, kNow)), R::Ok());
  EXPECT_EQ(Get(binary), binary);
  EXPECT_EQ(Do(Command::Set("", "", kNow)), R::Ok());  // empty key and value are fine
  EXPECT_EQ(Get(""), "");
  EXPECT_EQ(kv().DbSize(), 3u);
}

TEST_F(KvTest, SetNxXxGet) {
  EXPECT_EQ(Do(Command::Set("k", "1", kNow, 0, kSetXx)), R::Nil());
  EXPECT_EQ(Get("k"), std::nullopt);
  EXPECT_EQ(Do(Command::Set("k", "1", kNow, 0, kSetNx)), R::Ok());
  EXPECT_EQ(Do(Command::Set("k", "2", kNow, 0, kSetNx)), R::Nil());
  EXPECT_EQ(Get("k"), "1");
  EXPECT_EQ(Do(Command::Set("k", "3", kNow, 0, kSetXx)), R::Ok());
  EXPECT_EQ(Get("k"), "3");
  // GET returns the old value (or nil), with or without NX/XX (Redis 7).
  EXPECT_EQ(Do(Command::Set("k", "4", kNow, 0, kSetGet)), R::Bulk("3"));
  EXPECT_EQ(Do(Command::Set("new", "x", kNow, 0, kSetGet)), R::Nil());
  EXPECT_EQ(Do(Command::Set("k", "5", kNow, 0, kSetGet | kSetNx)), R::Bulk("4"));
  EXPECT_EQ(Get("k"), "4");
  EXPECT_EQ(Do(Command::Set("none", "5", kNow, 0, kSetGet | kSetXx)), R::Nil());
  EXPECT_EQ(Get("none"), std::nullopt);
}

TEST_F(KvTest, ExpiryOnSetKeepTtlAndVisibility) {
  EXPECT_EQ(Do(Command::Set("k", "v", kNow, kNow + 1000)), R::Ok());
  EXPECT_EQ(PTtl("k"), 1000);
  EXPECT_EQ(Get("k", kNow + 999), "v");
  EXPECT_EQ(Get("k", kNow + 1000), std::nullopt);  // expired exactly at the deadline
  EXPECT_EQ(PTtl("k", kNow + 1000), -2);
  EXPECT_EQ(kv().DbSize(), 1u);  // expired but not yet removed, like Redis
  // KEEPTTL keeps the deadline; a plain SET clears it.
  EXPECT_EQ(Do(Command::Set("k", "v2", kNow, 0, kSetKeepTtl)), R::Ok());
  EXPECT_EQ(PTtl("k"), 1000);
  EXPECT_EQ(Do(Command::Set("k", "v3", kNow)), R::Ok());
  EXPECT_EQ(PTtl("k"), -1);
  // An expiry already past deletes the key.
  EXPECT_EQ(Do(Command::Set("k", "v4", kNow, kNow)), R::Ok());
  EXPECT_EQ(Get("k"), std::nullopt);
  EXPECT_EQ(kv().DbSize(), 0u);
  // Apply decides with the command's now, not a clock: a key expired at the
  // proposer's now is absent for NX.
  EXPECT_EQ(Do(Command::Set("e", "old", kNow, kNow + 10)), R::Ok());
  EXPECT_EQ(Do(Command::Set("e", "new", kNow + 10, 0, kSetNx | kSetGet)), R::Nil());
  EXPECT_EQ(Get("e", kNow + 20), "new");
  EXPECT_EQ(PTtl("e"), -1);
}

TEST_F(KvTest, DelCountsOnlyLiveKeys) {
  Do(Command::MSet({{"a", "1"}, {"b", "2"}, {"c", "3"}}, kNow));
  Do(Command::Set("x", "1", kNow, kNow + 5));
  EXPECT_EQ(Do(Command::Del({"a", "b", "nope", "a", "x"}, kNow + 5)), R::Integer(2));
  EXPECT_EQ(Get("a"), std::nullopt);
  EXPECT_EQ(Get("c"), "3");
  EXPECT_EQ(kv().DbSize(), 1u);  // the expired x went too
}

TEST_F(KvTest, IncrBy) {
  EXPECT_EQ(Do(Command::IncrBy("n", 5, kNow)), R::Integer(5));
  EXPECT_EQ(Do(Command::IncrBy("n", -7, kNow)), R::Integer(-2));
  EXPECT_EQ(Get("n"), "-2");
  Do(Command::Set("s", "abc", kNow));
  EXPECT_EQ(Do(Command::IncrBy("s", 1, kNow)),
            R::Error("ERR value is not an integer or out of range"));
  for (const char* bad : {" 1", "01", "1.5", "", "99999999999999999999"}) {
    Do(Command::Set("b", bad, kNow));
    EXPECT_EQ(Do(Command::IncrBy("b", 1, kNow)).type, R::Type::kError) << bad;
    EXPECT_EQ(Get("b"), bad);  // an error changes nothing
  }
  Do(Command::Set("m", "9223372036854775806", kNow));
  EXPECT_EQ(Do(Command::IncrBy("m", 1, kNow)), R::Integer(INT64_MAX));
  EXPECT_EQ(Do(Command::IncrBy("m", 1, kNow)),
            R::Error("ERR increment or decrement would overflow"));
  Do(Command::Set("m", "-9223372036854775808", kNow));
  EXPECT_EQ(Do(Command::IncrBy("m", -1, kNow)),
            R::Error("ERR increment or decrement would overflow"));
  // INCR keeps the TTL; an expired key counts as absent (0).
  Do(Command::Set("t", "10", kNow, kNow + 100));
  EXPECT_EQ(Do(Command::IncrBy("t", 1, kNow)), R::Integer(11));
  EXPECT_EQ(PTtl("t"), 100);
  EXPECT_EQ(Do(Command::IncrBy("t", 1, kNow + 100)), R::Integer(1));
  EXPECT_EQ(PTtl("t"), -1);
}

TEST_F(KvTest, Append) {
  EXPECT_EQ(Do(Command::Append("k", "ab", kNow)), R::Integer(2));
  EXPECT_EQ(Do(Command::Append("k", "cd", kNow)), R::Integer(4));
  EXPECT_EQ(Get("k"), "abcd");
  Do(Command::Set("t", "x", kNow, kNow + 50));
  EXPECT_EQ(Do(Command::Append("t", "y", kNow)), R::Integer(2));
  EXPECT_EQ(PTtl("t"), 50);
}

TEST_F(KvTest, GetDel) {
  EXPECT_EQ(Do(Command::GetDel("k", kNow)), R::Nil());
  Do(Command::Set("k", "v", kNow));
  EXPECT_EQ(Do(Command::GetDel("k", kNow)), R::Bulk("v"));
  EXPECT_EQ(Get("k"), std::nullopt);
  EXPECT_EQ(kv().DbSize(), 0u);
  // An expired key is nil, and its leftover goes too.
  Do(Command::Set("e", "v", kNow, kNow + 10));
  EXPECT_EQ(Do(Command::GetDel("e", kNow + 10)), R::Nil());
  EXPECT_EQ(kv().DbSize(), 0u);
}

TEST_F(KvTest, GetExSetsOrRemovesTheExpiry) {
  EXPECT_EQ(Do(Command::GetEx("k", kNow, kGetExSetExpiry, kNow + 100)), R::Nil());
  EXPECT_EQ(Get("k"), std::nullopt);  // a missing key is not created
  Do(Command::Set("k", "v", kNow));
  EXPECT_EQ(Do(Command::GetEx("k", kNow)), R::Bulk("v"));
  EXPECT_EQ(PTtl("k"), -1);
  EXPECT_EQ(Do(Command::GetEx("k", kNow, kGetExSetExpiry, kNow + 100)), R::Bulk("v"));
  EXPECT_EQ(PTtl("k"), 100);
  EXPECT_EQ(Do(Command::GetEx("k", kNow)), R::Bulk("v"));  // no option: TTL unchanged
  EXPECT_EQ(PTtl("k"), 100);
  EXPECT_EQ(Do(Command::GetEx("k", kNow, kGetExPersist)), R::Bulk("v"));
  EXPECT_EQ(PTtl("k"), -1);
  // An absolute time already past: the value is returned, then the key is gone.
  EXPECT_EQ(Do(Command::GetEx("k", kNow, kGetExSetExpiry, kNow - 1)), R::Bulk("v"));
  EXPECT_EQ(Get("k"), std::nullopt);
  EXPECT_EQ(kv().DbSize(), 0u);
  Do(Command::Set("e", "v", kNow, kNow + 10));
  EXPECT_EQ(Do(Command::GetEx("e", kNow + 10, kGetExPersist)), R::Nil());
}

TEST_F(KvTest, IncrByFloat) {
  EXPECT_EQ(Do(Command::IncrByFloat("f", "10.50", kNow)), R::Bulk("10.5"));
  EXPECT_EQ(Do(Command::IncrByFloat("f", "0.1", kNow)), R::Bulk("10.6"));
  EXPECT_EQ(Get("f"), "10.6");
  Do(Command::Set("g", "5.0e3", kNow, kNow + 100));
  EXPECT_EQ(Do(Command::IncrByFloat("g", "2.0e2", kNow)), R::Bulk("5200"));
  EXPECT_EQ(PTtl("g"), 100);  // the expiry stays, as with INCR
  Do(Command::Set("s", "abc", kNow));
  EXPECT_EQ(Do(Command::IncrByFloat("s", "1", kNow)), R::Error("ERR value is not a valid float"));
  EXPECT_EQ(Do(Command::IncrByFloat("f", "x", kNow)), R::Error("ERR value is not a valid float"));
  Do(Command::Set("big", "1e4932", kNow));
  EXPECT_EQ(Do(Command::IncrByFloat("big", "1e4932", kNow)),
            R::Error("ERR increment would produce NaN or Infinity"));
  EXPECT_EQ(Get("big"), "1e4932");  // an error changes nothing
  EXPECT_EQ(Do(Command::IncrByFloat("f", "inf", kNow)),
            R::Error("ERR increment would produce NaN or Infinity"));
  EXPECT_EQ(Get("f"), "10.6");
}

TEST_F(KvTest, SetRange) {
  // Nothing to write on a missing key: 0, and no key is created.
  EXPECT_EQ(Do(Command::SetRange("k", 0, "", kNow)), R::Integer(0));
  EXPECT_EQ(Do(Command::SetRange("k", 100, "", kNow)), R::Integer(0));
  EXPECT_EQ(kv().DbSize(), 0u);
  EXPECT_EQ(Do(Command::SetRange("k", 3, "ab", kNow)), R::Integer(5));
  EXPECT_EQ(Get("k"), std::string("\0\0\0ab", 5));  // zero-padded
  Do(Command::Set("h", "Hello World", kNow, kNow + 50));
  EXPECT_EQ(Do(Command::SetRange("h", 6, "Redis", kNow)), R::Integer(11));
  EXPECT_EQ(Get("h"), "Hello Redis");
  EXPECT_EQ(PTtl("h"), 50);
  EXPECT_EQ(Do(Command::SetRange("h", 0, "", kNow)), R::Integer(11));
  EXPECT_EQ(Do(Command::SetRange("h", 512LL << 20, "x", kNow)),
            R::Error("ERR string exceeds maximum allowed size (proto-max-bulk-len)"));
  EXPECT_EQ(Do(Command::SetRange("h", INT64_MAX, "x", kNow)),
            R::Error("ERR string exceeds maximum allowed size (proto-max-bulk-len)"));
  EXPECT_EQ(Do(Command::SetRange("h", -1, "x", kNow)), R::Error("ERR offset is out of range"));
  EXPECT_EQ(Get("h"), "Hello Redis");
}

TEST_F(KvTest, MSetAndMSetNxAreAllOrNothing) {
  EXPECT_EQ(Do(Command::MSet({{"a", "1"}, {"b", "2"}, {"a", "3"}}, kNow)), R::Ok());
  EXPECT_EQ(Get("a"), "3");  // the last of a repeated key wins
  EXPECT_EQ(kv().DbSize(), 2u);
  EXPECT_EQ(Do(Command::MSetNx({{"c", "1"}, {"a", "x"}}, kNow)), R::Integer(0));
  EXPECT_EQ(Get("c"), std::nullopt);
  EXPECT_EQ(Get("a"), "3");
  EXPECT_EQ(Do(Command::MSetNx({{"c", "1"}, {"d", "2"}}, kNow)), R::Integer(1));
  EXPECT_EQ(Get("d"), "2");
  // MSET clears TTLs.
  Do(Command::Set("t", "x", kNow, kNow + 50));
  Do(Command::MSet({{"t", "y"}}, kNow));
  EXPECT_EQ(PTtl("t"), -1);
}

TEST_F(KvTest, ExpireFlagsFollowRedis7) {
  Do(Command::Set("k", "v", kNow));
  EXPECT_EQ(Do(Command::ExpireAt("missing", kNow + 10, kNow)), R::Integer(0));
  EXPECT_EQ(Do(Command::ExpireAt("k", kNow + 100, kNow, kExpireXx)), R::Integer(0));  // no TTL
  EXPECT_EQ(Do(Command::ExpireAt("k", kNow + 100, kNow, kExpireGt)), R::Integer(0));  // inf
  EXPECT_EQ(Do(Command::ExpireAt("k", kNow + 100, kNow, kExpireLt)), R::Integer(1));  // < inf
  EXPECT_EQ(PTtl("k"), 100);
  EXPECT_EQ(Do(Command::ExpireAt("k", kNow + 200, kNow, kExpireNx)), R::Integer(0));
  EXPECT_EQ(Do(Command::ExpireAt("k", kNow + 50, kNow, kExpireGt)), R::Integer(0));
  EXPECT_EQ(Do(Command::ExpireAt("k", kNow + 200, kNow, kExpireGt)), R::Integer(1));
  EXPECT_EQ(Do(Command::ExpireAt("k", kNow + 300, kNow, kExpireLt)), R::Integer(0));
  EXPECT_EQ(Do(Command::ExpireAt("k", kNow + 150, kNow, kExpireLt | kExpireXx)), R::Integer(1));
  EXPECT_EQ(PTtl("k"), 150);
  EXPECT_EQ(Do(Command::ExpireAt("k", kNow + 400, kNow)), R::Integer(1));
  EXPECT_EQ(PTtl("k"), 400);
  // A time in the past deletes the key and answers 1.
  EXPECT_EQ(Do(Command::ExpireAt("k", kNow - 1, kNow)), R::Integer(1));
  EXPECT_EQ(Get("k"), std::nullopt);
  EXPECT_EQ(kv().DbSize(), 0u);
  // On an expired key: 0.
  Do(Command::Set("e", "v", kNow, kNow + 1));
  EXPECT_EQ(Do(Command::ExpireAt("e", kNow + 100, kNow + 1)), R::Integer(0));
}

TEST_F(KvTest, Persist) {
  Do(Command::Set("k", "v", kNow, kNow + 100));
  Do(Command::Set("p", "v", kNow));
  EXPECT_EQ(Do(Command::Persist("k", kNow)), R::Integer(1));
  EXPECT_EQ(PTtl("k"), -1);
  EXPECT_EQ(Do(Command::Persist("k", kNow)), R::Integer(0));
  EXPECT_EQ(Do(Command::Persist("p", kNow)), R::Integer(0));
  EXPECT_EQ(Do(Command::Persist("none", kNow)), R::Integer(0));
}

TEST_F(KvTest, FlushAllSwitchesToAnEmptyGeneration) {
  for (int i = 0; i < 100; ++i)
    Do(Command::Set("k" + std::to_string(i), "v", kNow));
  EXPECT_EQ(Do(Command::FlushAll(kNow)), R::Ok());
  EXPECT_EQ(kv().DbSize(), 0u);
  EXPECT_EQ(Get("k1"), std::nullopt);
  EXPECT_TRUE(AllKeys().empty());
  Do(Command::Set("after", "1", kNow));
  EXPECT_EQ(Get("after"), "1");
  // The old table goes away once nothing uses it.
  ASSERT_TRUE(store_->CollectGarbage().ok());
  EXPECT_FALSE(std::filesystem::exists(dir_.Sub("kv_1.wt")));
  Reopen();
  EXPECT_EQ(Get("after"), "1");
  EXPECT_EQ(kv().DbSize(), 1u);
  EXPECT_EQ(Get("k1"), std::nullopt);
}

TEST_F(KvTest, FlushAllInTheMiddleOfABatch) {
  std::vector<Entry> batch;
  batch.push_back(testing::MakeEntry(1, 1, Command::Set("a", "1", kNow).Encode()));
  batch.push_back(testing::MakeEntry(2, 1, Command::FlushAll(kNow).Encode()));
  batch.push_back(testing::MakeEntry(3, 1, Command::Set("b", "2", kNow).Encode()));
  auto r = kv().Apply(batch, std::nullopt);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Get("a"), std::nullopt);
  EXPECT_EQ(Get("b"), "2");
  EXPECT_EQ(kv().DbSize(), 1u);
  Reopen();
  EXPECT_EQ(Get("b"), "2");
  EXPECT_EQ(kv().applied_index(), 3u);
}

TEST_F(KvTest, PurgeExpiredRemovesOnlyStillExpiredKeys) {
  Do(Command::Set("a", "1", kNow, kNow + 10));
  Do(Command::Set("b", "1", kNow, kNow + 10));
  Do(Command::Set("c", "1", kNow));
  // b was set again (no TTL) after the leader found it expired.
  Do(Command::Set("b", "2", kNow + 20));
  EXPECT_EQ(Do(Command::PurgeExpired({"a", "b", "c", "none"}, kNow + 20)), R::Integer(1));
  EXPECT_EQ(Get("b"), "2");
  EXPECT_EQ(kv().DbSize(), 2u);
}

TEST_F(KvTest, MGetExistsAndScan) {
  Do(Command::MSet({{"a", "1"}, {"b", "2"}}, kNow));
  Do(Command::Set("x", "gone", kNow, kNow + 1));
  auto m = kv().MGet({"a", "nope", "b", "x"}, kNow + 1);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m.value(),
            (std::vector<std::optional<std::string>>{"1", std::nullopt, "2", std::nullopt}));
  EXPECT_EQ(kv().Exists({"a", "a", "b", "x", "nope"}, kNow + 1).value(), 3);
  auto page = kv().Scan("", 100, kNow + 1);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page.value().keys, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(page.value().expired_keys, (std::vector<std::string>{"x"}));
  EXPECT_TRUE(page.value().cursor.empty());
}

TEST_F(KvTest, ScanVisitsEveryKeyOnceAcrossPages) {
  std::vector<std::pair<std::string, std::string>> pairs;
  for (int i = 0; i < 1000; ++i)
    pairs.emplace_back("key:" + std::to_string(i), "v");
  Do(Command::MSet(pairs, kNow));
  for (size_t count : {1u, 7u, 1000u, 5000u}) {
    auto keys = AllKeys(kNow, count);
    ASSERT_EQ(keys.size(), 1000u) << count;
    EXPECT_TRUE(std::is_sorted(keys.begin(), keys.end()));
    EXPECT_EQ(std::adjacent_find(keys.begin(), keys.end()), keys.end());
  }
  // A cursor that names a deleted key still resumes after it.
  auto page = kv().Scan("", 10, kNow).value();
  Do(Command::Del({page.cursor}, kNow));
  auto next = kv().Scan(page.cursor, 10, kNow).value();
  ASSERT_FALSE(next.keys.empty());
  EXPECT_GT(next.keys.front(), page.cursor);
}

TEST_F(KvTest, AppliedIndexResumesAfterRestart) {
  std::vector<Entry> batch;
  for (uint64_t i = 1; i <= 50; ++i) {
    batch.push_back(testing::MakeEntry(i, 2, Command::IncrBy("n", 1, kNow).Encode()));
  }
  batch.push_back(testing::MakeEntry(51, 2, ""));  // a leader's no-op
  consensus::Entry cc = testing::MakeEntry(52, 2, "conf");
  cc.type = consensus::EntryType::kConfChange;
  batch.push_back(cc);
  consensus::ConfState cs{{1, 2, 3}, {4}};
  auto r = kv().Apply(batch, cs);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r.value().size(), 52u);
  EXPECT_EQ(r.value()[49], R::Integer(50));
  EXPECT_EQ(r.value()[50], R::Ok());
  EXPECT_EQ(r.value()[51], R::Ok());
  Reopen();
  EXPECT_EQ(kv().applied_index(), 52u);
  EXPECT_EQ(kv().applied_term(), 2u);
  EXPECT_EQ(kv().conf_state(), cs);
  EXPECT_EQ(store_->log().GetInitialState().conf_state, cs);
  EXPECT_EQ(Get("n"), "50");
  // Re-delivered entries are skipped, not applied twice.
  auto again = kv().Apply(batch, std::nullopt);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again.value().empty());
  EXPECT_EQ(Get("n"), "50");
  // Overlapping delivery: only the new tail applies.
  std::vector<Entry> overlap = {batch.back(),
                                testing::MakeEntry(53, 2, Command::IncrBy("n", 1, kNow).Encode())};
  auto o = kv().Apply(overlap, std::nullopt);
  ASSERT_TRUE(o.ok());
  ASSERT_EQ(o.value().size(), 1u);
  EXPECT_EQ(o.value()[0], R::Integer(51));
  // A gap is refused.
  auto gap = kv().Apply({testing::MakeEntry(60, 2, "")}, std::nullopt);
  EXPECT_EQ(gap.status().code(), Status::Code::kInvalidArgument);
  EXPECT_FALSE(store_->failed());
}

TEST_F(KvTest, CorruptCommandBecomesAnErrorResult) {
  auto r = kv().Apply({testing::MakeEntry(1, 1, "\x07garbage")}, std::nullopt);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r.value().size(), 1u);
  EXPECT_EQ(r.value()[0].type, R::Type::kError);
  EXPECT_EQ(r.value()[0].bytes.rfind("ERR corrupt command", 0), 0u);
  EXPECT_EQ(kv().applied_index(), 1u);
}

TEST_F(KvTest, LargeBatchesSplitIntoSeveralTransactions) {
  options_.max_apply_txn_bytes = 200;
  Reopen();
  std::vector<Entry> batch;
  for (uint64_t i = 1; i <= 100; ++i) {
    batch.push_back(testing::MakeEntry(
        i, 1, Command::Set("k" + std::to_string(i % 10), std::to_string(i), kNow).Encode()));
  }
  auto r = kv().Apply(batch, consensus::ConfState{{9}, {}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().size(), 100u);
  EXPECT_EQ(kv().applied_index(), 100u);
  EXPECT_EQ(kv().conf_state(), (consensus::ConfState{{9}, {}}));
  EXPECT_EQ(Get("k0"), "100");
  EXPECT_EQ(kv().DbSize(), 10u);
}

// Readers never see half of an apply transaction: every MSET writes a and b
// together, so a consistent read sees them equal.
TEST_F(KvTest, ReadsAreConsistentWhileApplying) {
  std::atomic<bool> stop{false};
  std::atomic<int> torn{0}, reads{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 2; ++t) {
    readers.emplace_back([&] {
      int64_t last = -1;
      while (!stop.load()) {
        auto m = kv().MGet({"a", "b"}, kNow);
        if (!m.ok()) {
          ++torn;
          continue;
        }
        ++reads;
        if (m.value()[0] != m.value()[1]) ++torn;
        if (m.value()[0]) {
          int64_t v = std::stoll(*m.value()[0]);
          if (v < last) ++torn;  // applied state only moves forward
          last = v;
        }
      }
    });
  }
  uint64_t index = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  for (int i = 0; i < 3000 && std::chrono::steady_clock::now() < deadline; ++i) {
    std::vector<Entry> batch;
    for (int j = 0; j < 4; ++j) {
      std::string v = std::to_string(i * 4 + j);
      batch.push_back(
          testing::MakeEntry(++index, 1, Command::MSet({{"a", v}, {"b", v}}, kNow).Encode()));
    }
    ASSERT_TRUE(kv().Apply(batch, std::nullopt).ok());
  }
  stop = true;
  for (auto& th : readers)
    th.join();
  EXPECT_EQ(torn.load(), 0);
  EXPECT_GT(reads.load(), 0);
}

// The read cache never serves a value older than one already served, nor a
// value that is no longer the committed one, while Apply, DEL and FLUSHALL
// run; and at the end it agrees with the table (MGet bypasses the cache).
TEST_F(KvTest, ReadCacheStaysCoherentUnderConcurrentApply) {
  uint64_t seq = 0;  // keeps growing across the runs, which share the data
  for (uint64_t cache_mb : {uint64_t{256}, uint64_t{1}}) {  // 1 MB: constant eviction
    SCOPED_TRACE("read_cache_mb " + std::to_string(cache_mb));
    options_.read_cache_mb = cache_mb;
    Reopen();
    constexpr int kKeys = 8;
    std::vector<std::string> keys;
    for (int k = 0; k < kKeys; ++k)
      keys.push_back("c" + std::to_string(k));
    std::atomic<bool> stop{false};
    std::atomic<int> regressions{0}, errors{0};
    std::atomic<uint64_t> reads{0};
    auto reader_loop = [&](bool use_reader) {
      std::unique_ptr<KvReader> reader;
      if (use_reader) reader = std::move(kv().NewReader()).value();
      std::vector<int64_t> seen(kKeys, -1);
      std::string value;
      while (!stop.load()) {
        for (int k = 0; k < kKeys; ++k) {
          std::optional<std::string> v;
          if (use_reader) {
            auto r = reader->Get(keys[k], kNow, &value);
            if (!r.ok()) {
              ++errors;
              continue;
            }
            if (r.value()) v = value;
          } else {
            auto r = kv().Get(keys[k], kNow);
            if (!r.ok()) {
              ++errors;
              continue;
            }
            v = r.value();
          }
          ++reads;
          if (!v) continue;
          int64_t got = std::stoll(*v);
          if (got < seen[k]) {
            ++regressions;
            ADD_FAILURE() << "reader " << use_reader << " saw " << keys[k] << " = " << got
                          << " after " << seen[k];
          }
          seen[k] = got;
        }
      }
    };
    std::thread r1(reader_loop, false), r2(reader_loop, true);
    const uint64_t first_seq = seq;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(1000);
    while (std::chrono::steady_clock::now() < deadline && seq < first_seq + 200000) {
      std::vector<Entry> batch;
      for (int j = 0; j < 8; ++j) {
        ++seq;
        const std::string& k = keys[seq % kKeys];
        Command c = seq % 97 == 0   ? Command::FlushAll(kNow)
                    : seq % 13 == 0 ? Command::Del({k}, kNow)
                                    : Command::Set(k, std::to_string(seq), kNow);
        batch.push_back(testing::MakeEntry(kv().applied_index() + batch.size() + 1, 1, c.Encode()));
      }
      ASSERT_TRUE(kv().Apply(batch, std::nullopt).ok());
    }
    stop = true;
    r1.join();
    r2.join();
    EXPECT_EQ(regressions.load(), 0);
    EXPECT_EQ(errors.load(), 0);
    EXPECT_GT(reads.load(), 0u);
    auto truth = kv().MGet(keys, kNow).value();
    auto reader = std::move(kv().NewReader()).value();
    for (int k = 0; k < kKeys; ++k) {
      EXPECT_EQ(Get(keys[k]), truth[k]) << keys[k];
      EXPECT_EQ(reader->Get(keys[k], kNow).value(), truth[k]) << keys[k];
    }
  }
}

// Two replicas applying the same entries end with the same state and results.
TEST(EngineKvDeterminism, SameEntriesSameStateAndResults) {
  TempDir d1, d2;
  auto s1 = OpenOrDie(TestOptions(d1.path()));
  auto s2 = OpenOrDie(TestOptions(d2.path()));
  ASSERT_TRUE(s1 && s2);
  uint64_t rng = 42;
  auto next = [&] {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
  };
  std::vector<Entry> entries;
  int64_t now = kNow;
  for (uint64_t i = 1; i <= 2000; ++i) {
    now += static_cast<int64_t>(next() % 5);
    std::string k = "k" + std::to_string(next() % 30);
    Command c;
    switch (next() % 9) {
      case 0:
        c = Command::Set(k, std::to_string(next() % 100), now, next() % 2 ? now + 20 : 0,
                         static_cast<uint8_t>(next() % 16));
        break;
      case 1:
        c = Command::Del({k, "k" + std::to_string(next() % 30)}, now);
        break;
      case 2:
        c = Command::IncrBy(k, static_cast<int64_t>(next() % 7) - 3, now);
        break;
      case 3:
        c = Command::Append(k, "z", now);
        break;
      case 4:
        c = Command::MSetNx({{k, "m"}, {"k" + std::to_string(next() % 30), "n"}}, now);
        break;
      case 5:
        c = Command::ExpireAt(k, now + static_cast<int64_t>(next() % 40) - 10, now,
                              static_cast<uint8_t>(1u << (next() % 4)));
        break;
      case 6:
        c = Command::Persist(k, now);
        break;
      case 7:
        c = Command::PurgeExpired({k}, now);
        break;
      default:
        c = i % 500 == 0 ? Command::FlushAll(now) : Command::Set(k, "s", now);
        break;
    }
    entries.push_back(testing::MakeEntry(i, 1, c.Encode()));
  }
  std::vector<ApplyResult> r1, r2;
  for (size_t i = 0; i < entries.size(); i += 37) {  // different batching on each replica
    std::vector<Entry> b(entries.begin() + i, entries.begin() + std::min(i + 37, entries.size()));
    auto r = s1->kv().Apply(b, std::nullopt);
    ASSERT_TRUE(r.ok());
    r1.insert(r1.end(), r.value().begin(), r.value().end());
  }
  auto r = s2->kv().Apply(entries, std::nullopt);
  ASSERT_TRUE(r.ok());
  r2 = r.value();
  EXPECT_EQ(r1, r2);
  auto dump = [&](Store& s) {
    std::map<std::string, std::pair<std::optional<std::string>, int64_t>> out;
    auto page = s.kv().Scan("", 1000, 0).value();
    for (const auto& k : page.keys)
      out[k] = {s.kv().Get(k, 0).value(), s.kv().PTtl(k, 0).value()};
    return out;
  };
  EXPECT_EQ(dump(*s1), dump(*s2));
  EXPECT_EQ(s1->kv().DbSize(), s2->kv().DbSize());
}

}  // namespace
}  // namespace phalanx::storage
