// The node's translation between the front end's Store interface and the
// state machine's command format: every WriteOp and every option flag becomes
// exactly the command the storage builders make (same encoded bytes, so the
// same log entry as before resp/ had its own types), and every applied result
// comes back with its type, integer and bytes.
#include "engine/node/command_translation.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace phalanx::node {
namespace {

using resp::WriteCommand;
using resp::WriteOp;
using storage::Command;

constexpr int64_t kNow = 1'700'000'000'000;
constexpr int64_t kLater = kNow + 5'000;

WriteCommand Write(WriteOp op, std::vector<std::string> args, uint8_t flags = 0,
                   int64_t expire_at_ms = 0, int64_t delta = 0) {
  WriteCommand c;
  c.op = op;
  c.flags = flags;
  c.now_ms = kNow;
  c.expire_at_ms = expire_at_ms;
  c.delta = delta;
  c.args = std::move(args);
  return c;
}

void ExpectSame(const Command& got, const Command& want) {
  EXPECT_EQ(got.op, want.op);
  EXPECT_EQ(got.flags, want.flags);
  EXPECT_EQ(got.now_ms, want.now_ms);
  EXPECT_EQ(got.expire_at_ms, want.expire_at_ms);
  EXPECT_EQ(got.delta, want.delta);
  EXPECT_EQ(got.args, want.args);
  EXPECT_EQ(got.Encode(), want.Encode());
}

TEST(CommandTranslation, EveryOpBecomesTheStorageBuildersCommand) {
  struct Case {
    WriteCommand in;
    Command want;
  };
  const std::vector<Case> cases = {
      {Write(WriteOp::kSet, {"k", "v"}, 0, kLater), Command::Set("k", "v", kNow, kLater)},
      {Write(WriteOp::kDel, {"a", "b"}), Command::Del({"a", "b"}, kNow)},
      {Write(WriteOp::kIncrBy, {"n"}, 0, 0, -7), Command::IncrBy("n", -7, kNow)},
      {Write(WriteOp::kAppend, {"k", "tail"}), Command::Append("k", "tail", kNow)},
      {Write(WriteOp::kMSet, {"a", "1", "b", "2"}), Command::MSet({{"a", "1"}, {"b", "2"}}, kNow)},
      {Write(WriteOp::kMSetNx, {"a", "1"}), Command::MSetNx({{"a", "1"}}, kNow)},
      {Write(WriteOp::kExpire, {"k"}, 0, kLater), Command::ExpireAt("k", kLater, kNow)},
      {Write(WriteOp::kPersist, {"k"}), Command::Persist("k", kNow)},
      {Write(WriteOp::kFlushAll, {}), Command::FlushAll(kNow)},
      {Write(WriteOp::kGetDel, {"k"}), Command::GetDel("k", kNow)},
      {Write(WriteOp::kGetEx, {"k"}), Command::GetEx("k", kNow)},
      {Write(WriteOp::kIncrByFloat, {"f", "1.5e3"}), Command::IncrByFloat("f", "1.5e3", kNow)},
      {Write(WriteOp::kSetRange, {"k", "xyz"}, 0, 0, 12), Command::SetRange("k", 12, "xyz", kNow)},
  };
  // One case per WriteOp, in declaration order (kSet = 0 ... kSetRange).
  ASSERT_EQ(cases.size(), static_cast<size_t>(WriteOp::kSetRange) + 1);
  for (size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(static_cast<size_t>(cases[i].in.op), i);
    ExpectSame(ToStorageCommand(cases[i].in), cases[i].want);
  }
}

TEST(CommandTranslation, EverySetFlagMapsOver) {
  const std::vector<std::pair<uint8_t, uint8_t>> flags = {
      {resp::kSetNx, storage::kSetNx},
      {resp::kSetXx, storage::kSetXx},
      {resp::kSetGet, storage::kSetGet},
      {resp::kSetKeepTtl, storage::kSetKeepTtl},
  };
  uint8_t all_resp = 0, all_storage = 0;
  for (auto [r, s] : flags) {
    SCOPED_TRACE(int{r});
    ExpectSame(ToStorageCommand(Write(WriteOp::kSet, {"k", "v"}, r, kLater)),
               Command::Set("k", "v", kNow, kLater, s));
    all_resp |= r;
    all_storage |= s;
  }
  EXPECT_EQ(ToStorageFlags(WriteOp::kSet, all_resp), all_storage);
  EXPECT_EQ(ToStorageFlags(WriteOp::kSet, resp::kSetNx | resp::kSetGet),
            storage::kSetNx | storage::kSetGet);
}

TEST(CommandTranslation, EveryExpireFlagMapsOver) {
  const std::vector<std::pair<uint8_t, uint8_t>> flags = {
      {resp::kExpireNx, storage::kExpireNx},
      {resp::kExpireXx, storage::kExpireXx},
      {resp::kExpireGt, storage::kExpireGt},
      {resp::kExpireLt, storage::kExpireLt},
  };
  for (auto [r, s] : flags) {
    SCOPED_TRACE(int{r});
    ExpectSame(ToStorageCommand(Write(WriteOp::kExpire, {"k"}, r, kLater)),
               Command::ExpireAt("k", kLater, kNow, s));
  }
  EXPECT_EQ(ToStorageFlags(WriteOp::kExpire, resp::kExpireXx | resp::kExpireLt),
            storage::kExpireXx | storage::kExpireLt);
}

TEST(CommandTranslation, EveryGetExFlagMapsOver) {
  ExpectSame(ToStorageCommand(Write(WriteOp::kGetEx, {"k"}, resp::kGetExPersist)),
             Command::GetEx("k", kNow, storage::kGetExPersist));
  ExpectSame(ToStorageCommand(Write(WriteOp::kGetEx, {"k"}, resp::kGetExSetExpiry, kLater)),
             Command::GetEx("k", kNow, storage::kGetExSetExpiry, kLater));
}

TEST(CommandTranslation, OpsWithoutOptionsCarryNoFlags) {
  for (WriteOp op : {WriteOp::kDel, WriteOp::kIncrBy, WriteOp::kAppend, WriteOp::kMSet,
                     WriteOp::kMSetNx, WriteOp::kPersist, WriteOp::kFlushAll, WriteOp::kGetDel,
                     WriteOp::kIncrByFloat, WriteOp::kSetRange}) {
    EXPECT_EQ(ToStorageFlags(op, 0xff), 0) << static_cast<int>(op);
  }
  // Bits an op does not define are dropped, so the entry still decodes.
  EXPECT_EQ(ToStorageFlags(WriteOp::kGetEx, 0xff),
            storage::kGetExPersist | storage::kGetExSetExpiry);
}

TEST(CommandTranslation, TranslatedCommandsDecodeAsTheyWereWritten) {
  Command c = ToStorageCommand(
      Write(WriteOp::kSet, {"key", std::string("v\0al", 4)}, resp::kSetXx, kLater));
  std::string bytes = c.Encode();
  storage::CommandView view;
  ASSERT_TRUE(storage::DecodeCommand(bytes, &view).ok());
  EXPECT_EQ(view.op, storage::CommandOp::kSet);
  EXPECT_EQ(view.flags, storage::kSetXx);
  EXPECT_EQ(view.now_ms, kNow);
  EXPECT_EQ(view.expire_at_ms, kLater);
  ASSERT_EQ(view.args.size(), 2u);
  EXPECT_EQ(view.args[1], std::string_view("v\0al", 4));
}

TEST(CommandTranslation, EveryResultTypeComesBackWhole) {
  using resp::StoreResult;
  using storage::ApplyResult;
  EXPECT_EQ(ToStoreResult(ApplyResult::Ok()), StoreResult::Ok());
  EXPECT_EQ(ToStoreResult(ApplyResult::Nil()), StoreResult::Nil());
  EXPECT_EQ(ToStoreResult(ApplyResult::Integer(-42)), StoreResult::Integer(-42));
  EXPECT_EQ(ToStoreResult(ApplyResult::Bulk(std::string("a\0b", 3))),
            StoreResult::Bulk(std::string("a\0b", 3)));
  EXPECT_EQ(ToStoreResult(ApplyResult::Error("CLUSTERDOWN No raft leader")),
            StoreResult::Error("CLUSTERDOWN No raft leader"));

  // Fields a type does not use travel too (nothing is normalized away).
  ApplyResult odd = ApplyResult::Bulk("x");
  odd.integer = 9;
  StoreResult got = ToStoreResult(odd);
  EXPECT_EQ(got.type, StoreResult::Type::kBulk);
  EXPECT_EQ(got.integer, 9);
  EXPECT_EQ(got.bytes, "x");

  std::vector<StoreResult> many =
      ToStoreResults({ApplyResult::Integer(1), ApplyResult::Error("ERR x"), ApplyResult::Nil()});
  ASSERT_EQ(many.size(), 3u);
  EXPECT_EQ(many[0], StoreResult::Integer(1));
  EXPECT_EQ(many[1], StoreResult::Error("ERR x"));
  EXPECT_EQ(many[2], StoreResult::Nil());
}

}  // namespace
}  // namespace phalanx::node
