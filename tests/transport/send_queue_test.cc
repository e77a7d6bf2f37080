// The send queue's admission rule and the lane rule, without any network:
// what a peer's sender admits, drops and routes to which stream.
#include "engine/transport/send_queue.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "engine/transport/peer_sender.h"

namespace phalanx::transport::internal {
namespace {

using consensus::Message;
using consensus::MessageType;
using Admit = SendQueue::Admit;

Message WithEntry(uint64_t index, size_t payload) {
  Message m;
  m.type = MessageType::kApp;
  m.index = index - 1;
  m.entries.push_back(
      consensus::Entry{1, index, consensus::EntryType::kNormal, std::string(payload, 'x')});
  return m;
}

SendQueue::Limits Limits(size_t messages, size_t bytes, size_t message_bytes) {
  SendQueue::Limits l;
  l.max_messages = messages;
  l.max_bytes = bytes;
  l.max_message_bytes = message_bytes;
  return l;
}

TEST(SendQueueTest, AdmitsWithinCountAndBytes) {
  SendQueue q(Limits(3, 100, 100));
  EXPECT_EQ(q.Push(WithEntry(1, 1), 40), Admit::kQueued);
  EXPECT_EQ(q.Push(WithEntry(2, 1), 40), Admit::kQueued);
  EXPECT_EQ(q.Push(WithEntry(3, 1), 30), Admit::kFull) << "110 bytes > 100";
  EXPECT_EQ(q.Push(WithEntry(3, 1), 20), Admit::kQueued) << "exactly 100 bytes";
  EXPECT_EQ(q.Push(WithEntry(4, 1), 0), Admit::kFull) << "count limit";
  EXPECT_EQ(q.size(), 3u);
  EXPECT_EQ(q.queued_bytes(), 100u);
}

TEST(SendQueueTest, EmptyQueueTakesAMessageLargerThanTheRoomLeft) {
  SendQueue q(Limits(10, 100, 100));
  ASSERT_EQ(q.Push(WithEntry(1, 1), 90), Admit::kQueued);
  std::vector<Message> batch;
  q.TakeBatch(10, 1000, &batch);  // being written: 90 bytes in flight, 10 of room
  ASSERT_EQ(batch.size(), 1u);
  EXPECT_EQ(q.in_flight_bytes(), 90u);
  EXPECT_TRUE(q.busy());
  // Nothing waits: a message of up to max_message_bytes is taken regardless.
  EXPECT_EQ(q.Push(WithEntry(2, 1), 100), Admit::kQueued);
  // Now something waits: the room rule applies (90 + 100 + 1 > 100).
  EXPECT_EQ(q.Push(WithEntry(3, 1), 1), Admit::kFull);
  q.ReleaseInFlight();
  EXPECT_EQ(q.Push(WithEntry(3, 1), 1), Admit::kFull) << "100 + 1 > 100";
  q.TakeBatch(10, 1000, &batch);
  q.ReleaseInFlight();
  EXPECT_FALSE(q.busy());
  EXPECT_EQ(q.Push(WithEntry(3, 1), 1), Admit::kQueued);
}

TEST(SendQueueTest, RefusesWhatCouldNeverBeSent) {
  SendQueue q(Limits(10, 100, 50));
  EXPECT_EQ(q.Push(WithEntry(1, 1), 51), Admit::kTooLarge) << "even into an empty queue";
  EXPECT_EQ(q.Push(WithEntry(1, 1), 50), Admit::kQueued);
  EXPECT_EQ(q.Push(WithEntry(2, 1), 51), Admit::kTooLarge);
}

TEST(SendQueueTest, BatchesAreFifoAndBoundedButAlwaysTakeOne) {
  SendQueue q(Limits(10, 1000, 1000));
  for (uint64_t i = 1; i <= 5; ++i)
    ASSERT_EQ(q.Push(WithEntry(i, 1), i == 1 ? 500 : 100), Admit::kQueued);
  std::vector<Message> batch;
  q.TakeBatch(10, 300, &batch);  // the first alone is over the batch limit: taken anyway
  ASSERT_EQ(batch.size(), 1u);
  EXPECT_EQ(batch[0].entries[0].index, 1u);
  q.ReleaseInFlight();
  q.TakeBatch(2, 300, &batch);  // count limit
  ASSERT_EQ(batch.size(), 2u);
  EXPECT_EQ(batch[0].entries[0].index, 2u);
  EXPECT_EQ(batch[1].entries[0].index, 3u);
  q.ReleaseInFlight();
  q.TakeBatch(10, 150, &batch);  // byte limit
  ASSERT_EQ(batch.size(), 1u);
  EXPECT_EQ(batch[0].entries[0].index, 4u);
  EXPECT_EQ(q.Clear(), 1u);
  EXPECT_EQ(q.queued_bytes(), 0u);
  EXPECT_EQ(q.in_flight_bytes(), 100u) << "Clear drops the waiting, not the batch in flight";
}

TEST(LaneRuleTest, OnlyEntriesAndSnapshotDataAreBulk) {
  for (bool busy : {false, true}) {
    for (MessageType t : {MessageType::kHeartbeat, MessageType::kHeartbeatResp, MessageType::kVote,
                          MessageType::kVoteResp, MessageType::kPreVote, MessageType::kPreVoteResp,
                          MessageType::kAppResp, MessageType::kReadIndex,
                          MessageType::kReadIndexResp, MessageType::kTimeoutNow}) {
      Message m;
      m.type = t;
      m.context = "ctx";
      EXPECT_FALSE(IsBulk(m, busy)) << static_cast<int>(t);
    }
    EXPECT_TRUE(IsBulk(WithEntry(5, 0), busy)) << "an entry, even an empty one (leader no-op)";
    Message snap;
    snap.type = MessageType::kSnap;
    snap.snapshot.emplace();
    EXPECT_TRUE(IsBulk(snap, busy));
  }
}

TEST(LaneRuleTest, EmptyAppendFollowsPendingBulkTraffic) {
  Message m;
  m.type = MessageType::kApp;
  m.index = 10;
  m.commit = 9;
  // Idle bulk lane: nothing it could overtake, so it takes the fast lane.
  EXPECT_FALSE(IsBulk(m, false));
  // Entries up to index 10 still queued or being written: overtaking them
  // would get it rejected, so it goes behind them.
  EXPECT_TRUE(IsBulk(m, true));
}

}  // namespace
}  // namespace phalanx::transport::internal
