// The wire codec: exact round trips, sizes that match the bytes, and decoding
// that rejects every malformed input without crashing or reading past the end.
#include "membership/codec.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "membership/random.h"

namespace phalanx::membership {
namespace {

Update Alive(const std::string& id, uint64_t inc) {
  return Update{Update::Kind::kAlive, id, inc, "10.0.0.1:7946", "10.0.0.1:6379",
                "10.0.0.1:7379",      ""};
}

std::vector<Packet> Samples() {
  std::vector<Packet> out;
  Packet ping{PacketType::kPing, "c1", "n1", 42, "n2", "", false, {}};
  ping.updates.push_back(Alive("n3", 7));
  ping.updates.push_back(Update{Update::Kind::kSuspect, "n4", 3, "", "", "", "n1"});
  ping.updates.push_back(Update{Update::Kind::kDead, "n5", 0xffffffffffffull, "", "", "", "n2"});
  ping.updates.push_back(Update{Update::Kind::kLeft, "n6", 1, "", "", "", ""});
  out.push_back(ping);
  out.push_back(Packet{PacketType::kPingReq, "c1", "n1", 0xfffffffe, "n9", "1.2.3.4:5", false, {}});
  out.push_back(Packet{PacketType::kAck, "c1", "n2", 1, "", "", false, {}});
  out.push_back(Packet{PacketType::kNack, "c1", "n2", 0, "", "", false, {}});
  Packet pp{PacketType::kPushPull, "cluster-a", "n7", 0, "", "", true, {}};
  for (int i = 0; i < 20; ++i)
    pp.updates.push_back(Alive("node-" + std::to_string(i), i));
  out.push_back(pp);
  pp.reply_wanted = false;
  out.push_back(pp);
  out.push_back(Packet{PacketType::kGossip, "c", "n", 0, "", "", false, {Alive("x", 1)}});
  return out;
}

TEST(Codec, RoundTripsEveryPacketType) {
  for (const Packet& p : Samples()) {
    auto bytes = codec::Encode(p);
    ASSERT_TRUE(bytes.ok()) << bytes.status().message();
    EXPECT_EQ(bytes.value().size(), codec::EncodedSize(p)) << PacketTypeName(p.type);
    auto back = codec::Decode(bytes.value());
    ASSERT_TRUE(back.ok()) << back.status().message();
    EXPECT_EQ(back.value(), p) << PacketTypeName(p.type);
  }
}

TEST(Codec, SizesAddUp) {
  for (const Packet& p : Samples()) {
    size_t n = codec::HeaderSize(p);
    for (const Update& u : p.updates)
      n += codec::UpdateSize(u);
    EXPECT_EQ(n, codec::EncodedSize(p));
  }
}

TEST(Codec, RefusesToEncodeOverlongStrings) {
  Packet p{PacketType::kAck, "c", std::string(256, 'x'), 1, "", "", false, {}};
  EXPECT_FALSE(codec::Encode(p).ok());
  p.from_id = std::string(255, 'x');
  EXPECT_TRUE(codec::Encode(p).ok());
}

TEST(Codec, RejectsEveryTruncation) {
  for (const Packet& p : Samples()) {
    std::string bytes = codec::Encode(p).value();
    for (size_t len = 0; len < bytes.size(); ++len) {
      EXPECT_FALSE(codec::Decode(std::string_view(bytes).substr(0, len)).ok())
          << PacketTypeName(p.type) << " cut at " << len;
    }
  }
}

TEST(Codec, RejectsMalformedHeadersAndTrailingBytes) {
  std::string good = codec::Encode(Samples()[2]).value();
  auto with = [&](size_t at, char c) {
    std::string b = good;
    b[at] = c;
    return b;
  };
  EXPECT_EQ(codec::Decode(with(0, 'X')).status().message(), "bad magic");
  EXPECT_EQ(codec::Decode(with(2, 2)).status().message(), "unsupported version 2");
  EXPECT_EQ(codec::Decode(with(3, 0)).status().message(), "unknown packet type 0");
  EXPECT_EQ(codec::Decode(with(3, 7)).status().message(), "unknown packet type 7");
  EXPECT_EQ(codec::Decode(good + "x").status().message(), "trailing bytes");
  // An empty sender id.
  Packet p = Samples()[2];
  p.from_id.clear();
  EXPECT_FALSE(codec::Decode(codec::Encode(p).value()).ok());
  // An update count far beyond the bytes present is refused before any
  // allocation for it.
  std::string huge = good;
  huge[huge.size() - 2] = '\xff';
  huge[huge.size() - 1] = '\xff';
  EXPECT_EQ(codec::Decode(huge).status().message(), "truncated updates");
  // Unknown flag bits on a push-pull.
  std::string pp = codec::Encode(Samples()[5]).value();
  size_t flags_at = 4 + 1 + 9 + 1 + 2;  // magic+version+type, "cluster-a", "n7"
  pp[flags_at] = '\x02';
  EXPECT_EQ(codec::Decode(pp).status().message(), "unknown flags");
  EXPECT_FALSE(codec::Decode(std::string(70000, 'S')).ok());
}

// Random bytes and random corruptions of valid packets: decoding must never
// crash (ASan/UBSan watch the reads), and whatever decodes must re-encode to
// the very same bytes (the format has one encoding per packet).
TEST(Codec, FuzzNeverCrashes) {
  Rng rng(20240601);
  std::vector<std::string> valid;
  for (const Packet& p : Samples())
    valid.push_back(codec::Encode(p).value());
  const int rounds = std::getenv("PHALANX_SANITIZED") ? 20000 : 100000;
  int decoded = 0;
  for (int i = 0; i < rounds; ++i) {
    std::string bytes;
    if (i % 2 == 0) {
      bytes.resize(rng.Below(96));
      for (char& c : bytes)
        c = static_cast<char>(rng.Next());
      if (bytes.size() >= 3 && rng.Chance(0.5)) bytes.replace(0, 3, "SW\x01");
    } else {
      bytes = valid[rng.Below(valid.size())];
      int flips = 1 + static_cast<int>(rng.Below(4));
      for (int f = 0; f < flips; ++f) {
        bytes[rng.Below(bytes.size())] = static_cast<char>(rng.Next());
      }
      if (rng.Chance(0.2)) bytes.resize(rng.Below(bytes.size() + 1));
    }
    auto p = codec::Decode(bytes);
    if (!p.ok()) continue;
    ++decoded;
    auto again = codec::Encode(p.value());
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(again.value(), bytes);
  }
  EXPECT_GT(decoded, 0);  // the corruptions do reach the deeper code paths
}

}  // namespace
}  // namespace phalanx::membership
