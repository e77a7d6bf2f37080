// The command encoding: round trips, strict decoding, Redis's integer parser.
#include <gtest/gtest.h>

#include <climits>
#include <limits>

#include "engine/storage/command.h"

namespace phalanx::storage {
namespace {

CommandView Decode(const std::string& bytes) {
  CommandView v;
  Status s = DecodeCommand(bytes, &v);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return v;
}

std::vector<std::string> Args(const CommandView& v) {
  return {v.args.begin(), v.args.end()};
}

TEST(EngineCommand, RoundTripsEveryOp) {
  std::vector<Command> cmds = {
      Command::Set("k", "v", 1000, 5000, kSetNx | kSetGet),
      Command::Set("k", std::string("\0bin\xff", 5), -7, 0, kSetKeepTtl | kSetXx),
      Command::Del({"a", "b", "c"}, 1),
      Command::IncrBy("n", INT64_MIN, 2),
      Command::IncrBy("n", INT64_MAX, 2),
      Command::Append("k", "tail", 3),
      Command::MSet({{"a", "1"}, {"b", "2"}}, 4),
      Command::MSetNx({{"a", "1"}, {"", ""}}, 5),
      Command::ExpireAt("k", -123, 6, kExpireGt),
      Command::Persist("k", 7),
      Command::FlushAll(8),
      Command::PurgeExpired({"x", "y"}, INT64_MAX),
      Command::GetDel("k", 9),
      Command::GetEx("k", 10),
      Command::GetEx("k", 10, kGetExPersist),
      Command::GetEx("k", 10, kGetExSetExpiry, INT64_MAX),
      Command::IncrByFloat("f", "-1.5e3", 11),
      Command::SetRange("k", INT64_MAX, std::string("\0x", 2), 12),
  };
  for (const Command& c : cmds) {
    std::string bytes = c.Encode();  // the view points into these bytes
    CommandView v = Decode(bytes);
    EXPECT_EQ(v.op, c.op);
    EXPECT_EQ(v.flags, c.flags);
    EXPECT_EQ(v.now_ms, c.now_ms);
    EXPECT_EQ(v.expire_at_ms, c.expire_at_ms);
    EXPECT_EQ(v.delta, c.delta);
    EXPECT_EQ(Args(v), c.args);
  }
}

TEST(EngineCommand, EncodingIsVersionedAndStable) {
  // Version-1 bytes of SET k v (now 1, no expiry): a format change that
  // breaks this must bump the version and keep decoding these bytes.
  std::string bytes = Command::Set("k", "v", 1).Encode();
  EXPECT_EQ(bytes, std::string("\x01\x01\x00\x02\x00\x02\x01k\x01v", 10));
}

TEST(EngineCommand, NewOpsHaveAppendedCodesAndStableBytes) {
  // The ops added after the first release take the next free codes; the ones
  // before keep theirs (entries already in logs keep their meaning).
  EXPECT_EQ(static_cast<int>(CommandOp::kPurgeExpired), 10);
  EXPECT_EQ(static_cast<int>(CommandOp::kGetDel), 11);
  EXPECT_EQ(static_cast<int>(CommandOp::kGetEx), 12);
  EXPECT_EQ(static_cast<int>(CommandOp::kIncrByFloat), 13);
  EXPECT_EQ(static_cast<int>(CommandOp::kSetRange), 14);
  EXPECT_EQ(Command::GetDel("k", 1).Encode(), std::string("\x01\x0b\x00\x02\x01\x01k", 7));
  // GETEX carries the expiry field, SETRANGE the offset in the delta field.
  EXPECT_EQ(Command::GetEx("k", 1, kGetExSetExpiry, 3).Encode(),
            std::string("\x01\x0c\x02\x02\x06\x01\x01k", 8));
  EXPECT_EQ(Command::SetRange("k", 2, "v", 1).Encode(),
            std::string("\x01\x0e\x00\x02\x04\x02\x01k\x01v", 10));
  CommandView v;
  std::string bad = Command::GetEx("k", 1).Encode();
  bad[2] = 4;  // no such GETEX flag
  EXPECT_EQ(DecodeCommand(bad, &v).code(), Status::Code::kCorruption);
  Command two_keys = Command::GetDel("a", 1);
  two_keys.args.push_back("b");
  EXPECT_EQ(DecodeCommand(two_keys.Encode(), &v).code(), Status::Code::kCorruption);
  std::string op15 = Command::GetDel("k", 1).Encode();
  op15[1] = 15;
  EXPECT_EQ(DecodeCommand(op15, &v).code(), Status::Code::kCorruption);
}

TEST(EngineCommand, LongDoubleParseAndFormatMatchRedis) {
  long double v = 0;
  for (const char* ok : {"1", "-1.5", "5.0e3", "0x10", "inf", "-inf"}) {
    EXPECT_TRUE(ParseLongDouble(ok, &v)) << ok;
  }
  for (const char* bad : {"", "  ", " 1", "1 ", "abc", "nan", "1e99999", "1.5x"}) {
    EXPECT_FALSE(ParseLongDouble(bad, &v)) << bad;
  }
  EXPECT_FALSE(ParseLongDouble(std::string(5120, '1'), &v));
  // Redis reads up to the first NUL byte.
  EXPECT_TRUE(ParseLongDouble(std::string("2\0junk", 6), &v));
  EXPECT_EQ(v, 2.0L);
  EXPECT_EQ(FormatLongDouble(10.5L), "10.5");
  EXPECT_EQ(FormatLongDouble(5200.0L), "5200");
  EXPECT_EQ(FormatLongDouble(-0.0L), "0");
  EXPECT_EQ(FormatLongDouble(1e-30L), "0");
  EXPECT_EQ(FormatLongDouble(3.0L), "3");
  EXPECT_EQ(FormatLongDouble(1e20L), "100000000000000000000");
  EXPECT_EQ(FormatLongDouble(std::numeric_limits<long double>::infinity()), "inf");
  EXPECT_EQ(FormatLongDouble(std::numeric_limits<long double>::max()).size(), 4933u);
}

TEST(EngineCommand, RejectsMalformedInput) {
  CommandView v;
  std::string good = Command::Set("key", "value", 1, 2).Encode();
  // Every strict prefix is truncated.
  for (size_t n = 0; n < good.size(); ++n) {
    EXPECT_EQ(DecodeCommand(good.substr(0, n), &v).code(), Status::Code::kCorruption) << n;
  }
  EXPECT_EQ(DecodeCommand(good + "x", &v).code(), Status::Code::kCorruption);  // trailing
  std::string bad_version = good;
  bad_version[0] = 2;
  EXPECT_EQ(DecodeCommand(bad_version, &v).code(), Status::Code::kCorruption);
  std::string bad_op = good;
  bad_op[1] = 99;
  EXPECT_EQ(DecodeCommand(bad_op, &v).code(), Status::Code::kCorruption);
  std::string bad_flags = Command::Del({"a"}, 1).Encode();
  bad_flags[2] = 1;  // DEL takes no flags
  EXPECT_EQ(DecodeCommand(bad_flags, &v).code(), Status::Code::kCorruption);
  // A huge argument count is refused before anything is reserved.
  std::string huge("\x01\x02\x00\x02\xff\xff\xff\xff\x0f", 9);
  EXPECT_EQ(DecodeCommand(huge, &v).code(), Status::Code::kCorruption);
  // Wrong argument counts for the op.
  Command mset_odd = Command::MSet({{"a", "1"}}, 1);
  mset_odd.args.push_back("dangling");
  EXPECT_EQ(DecodeCommand(mset_odd.Encode(), &v).code(), Status::Code::kCorruption);
  Command del_none = Command::Del({}, 1);
  EXPECT_EQ(DecodeCommand(del_none.Encode(), &v).code(), Status::Code::kCorruption);
}

}  // namespace
}  // namespace phalanx::storage
