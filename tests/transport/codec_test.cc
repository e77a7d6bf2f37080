// Codec round trips (consensus::Message ⇄ pb::Message) and the transport's
// small pure helpers (CRC-32C, the log limiter). No network.
#include "engine/transport/codec.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include "engine/transport/crc32c.h"
#include "engine/transport/log_limiter.h"
#include "proto/peer.pb.h"

namespace phalanx::transport {
namespace {

using consensus::ConfChange;
using consensus::Entry;
using consensus::EntryType;
using consensus::Message;
using consensus::MessageType;
using consensus::Snapshot;

constexpr MessageType kAllTypes[] = {
    MessageType::kApp,        MessageType::kAppResp,       MessageType::kVote,
    MessageType::kVoteResp,   MessageType::kPreVote,       MessageType::kPreVoteResp,
    MessageType::kHeartbeat,  MessageType::kHeartbeatResp, MessageType::kSnap,
    MessageType::kTimeoutNow, MessageType::kReadIndex,     MessageType::kReadIndexResp,
};

// Every field set to something distinct from its default, binary payloads included.
Message FullMessage(MessageType type) {
  Message m;
  m.type = type;
  m.from = 0xfffffffffffffff1ull;  // ids and indexes use the full uint64 range
  m.to = 2;
  m.term = 7;
  m.index = 1ull << 40;
  m.log_term = 6;
  m.commit = 99;
  m.reject = true;
  m.reject_hint = 41;
  m.transfer = true;
  m.read_round = 12345;
  m.context = std::string("ctx\0with\xffnul", 12);
  m.entries.push_back(Entry{6, 100, EntryType::kNormal, ""});  // the no-op
  m.entries.push_back(Entry{7, 101, EntryType::kNormal, std::string("\0\1\2binary\xfe", 10)});
  ConfChange cc;
  cc.type = ConfChange::Type::kAddVoter;
  cc.node_id = 4;
  cc.context = "n4=127.0.0.1:7382";
  m.entries.push_back(Entry{7, 102, EntryType::kConfChange, cc.Encode()});
  Snapshot snap;
  snap.metadata.index = 90;
  snap.metadata.term = 5;
  snap.metadata.conf_state.voters = {1, 2, 3};
  snap.metadata.conf_state.learners = {4};
  snap.data = std::string("state\0bytes", 11);
  m.snapshot = snap;
  return m;
}

Message RoundTrip(const Message& in) {
  pb::Message wire;
  ToProto(in, &wire);
  // Through real bytes, not just the in-memory proto.
  std::string bytes;
  EXPECT_TRUE(wire.SerializeToString(&bytes));
  pb::Message parsed;
  EXPECT_TRUE(parsed.ParseFromString(bytes));
  Message out;
  Status s = FromProto(parsed, &out);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return out;
}

TEST(CodecTest, RoundTripsEveryMessageTypeWithEveryField) {
  for (MessageType t : kAllTypes) {
    Message in = FullMessage(t);
    EXPECT_EQ(RoundTrip(in), in) << consensus::DescribeMessage(in);
  }
}

TEST(CodecTest, RoundTripsDefaultMessage) {
  Message in;
  Message out = RoundTrip(in);
  EXPECT_EQ(out, in);
  EXPECT_FALSE(out.snapshot.has_value());
}

TEST(CodecTest, KeepsEmptySnapshotDistinctFromNone) {
  Message in;
  in.type = MessageType::kSnap;
  in.snapshot = Snapshot{};
  Message out = RoundTrip(in);
  ASSERT_TRUE(out.snapshot.has_value());
  EXPECT_EQ(out, in);
}

TEST(CodecTest, MoveOverloadsGiveTheSameResult) {
  const Message original = FullMessage(MessageType::kApp);
  pb::Message by_copy;
  ToProto(original, &by_copy);
  Message movable = original;
  pb::Message by_move;
  ToProto(std::move(movable), &by_move);
  EXPECT_EQ(by_copy.SerializeAsString(), by_move.SerializeAsString());

  Message out;
  ASSERT_TRUE(FromProto(std::move(by_move), &out).ok());
  EXPECT_EQ(out, original);
}

TEST(CodecTest, OverwritesPreviousContents) {
  pb::Message wire;
  ToProto(FullMessage(MessageType::kApp), &wire);
  ToProto(Message{}, &wire);
  EXPECT_EQ(wire.entries_size(), 0);
  EXPECT_FALSE(wire.has_snapshot());

  Message out = FullMessage(MessageType::kApp);
  ASSERT_TRUE(FromProto(wire, &out).ok());
  EXPECT_EQ(out, Message{});
}

TEST(CodecTest, RejectsUnknownMessageType) {
  pb::Message wire;
  ToProto(FullMessage(MessageType::kApp), &wire);
  wire.set_type(static_cast<pb::MessageType>(77));  // what a newer peer might send
  Message out;
  Status s = FromProto(wire, &out);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(s.message().find("77"), std::string::npos) << s.ToString();
}

TEST(CodecTest, RejectsUnknownEntryType) {
  pb::Message wire;
  ToProto(FullMessage(MessageType::kApp), &wire);
  wire.mutable_entries(1)->set_type(static_cast<pb::EntryType>(9));
  Message out;
  EXPECT_EQ(FromProto(wire, &out).code(), Status::Code::kInvalidArgument);
}

TEST(CodecTest, PartsRoundTrip) {
  Entry e{3, 4, EntryType::kConfChange, "x"};
  pb::Entry pe;
  ToProto(e, &pe);
  Entry e2;
  ASSERT_TRUE(FromProto(pe, &e2).ok());
  EXPECT_EQ(e2, e);

  consensus::SnapshotMetadata md{10, 2, {{1, 2, 3}, {9}}};
  pb::SnapshotMetadata pmd;
  ToProto(md, &pmd);
  consensus::SnapshotMetadata md2;
  FromProto(pmd, &md2);
  EXPECT_EQ(md2, md);
}

// The queue, batch and message limits rely on ApproximateSize being an upper
// bound of the message's size inside a MessageBatch (tag and length prefix
// included), for any field values.
size_t SizeInBatch(const Message& m) {
  pb::MessageBatch batch;
  ToProto(m, batch.add_messages());
  return batch.ByteSizeLong();
}

TEST(CodecTest, ApproximateSizeBoundsTheSizeInABatch) {
  for (MessageType t : kAllTypes) {
    Message m = FullMessage(t);
    m.entries.push_back(Entry{7, 103, EntryType::kNormal, std::string(100000, 'v')});
    const size_t exact = SizeInBatch(m);
    EXPECT_GE(ApproximateSize(m), exact);
    EXPECT_LE(ApproximateSize(m), exact + 512) << "a loose bound wastes queue room";
  }
  // Every varint at its widest, many entries, many ids.
  Message worst;
  worst.type = MessageType::kReadIndexResp;
  worst.from = worst.to = worst.term = worst.index = worst.log_term = worst.commit = ~0ull;
  worst.reject_hint = worst.read_round = ~0ull;
  worst.reject = worst.transfer = true;
  worst.context = std::string(200, 'c');
  for (int i = 0; i < 1000; ++i)
    worst.entries.push_back(Entry{~0ull, ~0ull, EntryType::kConfChange, std::string(i % 7, 'e')});
  Snapshot snap;
  snap.metadata.index = snap.metadata.term = ~0ull;
  for (uint64_t id = 0; id < 50; ++id)
    snap.metadata.conf_state.voters.push_back(~0ull - id);
  snap.metadata.conf_state.learners = {~0ull};
  snap.data = std::string(3000, 's');
  worst.snapshot = snap;
  EXPECT_GE(ApproximateSize(worst), SizeInBatch(worst));
  Message empty;
  EXPECT_GE(ApproximateSize(empty), SizeInBatch(empty));
}

TEST(Crc32cTest, MatchesKnownVectorsAndExtends) {
  EXPECT_EQ(internal::Crc32cExtend(0, ""), 0u);
  EXPECT_EQ(internal::Crc32cExtend(0, "123456789"), 0xE3069283u);  // the standard check value
  const uint32_t whole = internal::Crc32cExtend(0, "hello, snapshot");
  EXPECT_EQ(internal::Crc32cExtend(internal::Crc32cExtend(0, "hello, "), "snapshot"), whole);
}

TEST(LogLimiterTest, AllowsOneLinePerKeyPerInterval) {
  internal::LogLimiter limiter(std::chrono::milliseconds(100));
  uint64_t suppressed = 99;
  EXPECT_TRUE(limiter.Allow("a", &suppressed));
  EXPECT_EQ(suppressed, 0u);
  EXPECT_FALSE(limiter.Allow("a", &suppressed));
  EXPECT_FALSE(limiter.Allow("a", &suppressed));
  EXPECT_TRUE(limiter.Allow("b", &suppressed));  // keys are independent
  std::this_thread::sleep_for(std::chrono::milliseconds(120));
  EXPECT_TRUE(limiter.Allow("a", &suppressed));
  EXPECT_EQ(suppressed, 2u);
}

}  // namespace
}  // namespace phalanx::transport
