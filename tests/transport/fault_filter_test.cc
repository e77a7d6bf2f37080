// The test-only FaultFilter (engine/transport/fault_filter.h): the pure set
// logic, and on loopback that a Transport really drops what it says —
// outbound and inbound Raft batches, forwarded Propose/ReadIndex — and
// delivers again after Heal(). Every wait is bounded.
#include "engine/transport/fault_filter.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <thread>

#include "engine/transport/transport.h"
#include "tests/support/test_util.h"

namespace phalanx::transport {
namespace {

using consensus::Message;
using consensus::MessageType;
using std::chrono::milliseconds;
using Dir = FaultFilter::Direction;

using test_support::Eventually;

TEST(FaultFilter, EmptyDropsNothing) {
  FaultFilter f;
  EXPECT_FALSE(f.DropInbound(2));
  EXPECT_FALSE(f.DropOutbound(2));
  EXPECT_EQ(f.Describe(), "in=[] out=[]");
}

TEST(FaultFilter, DirectionsAreIndependentAndCumulative) {
  FaultFilter f;
  f.Isolate({2}, Dir::kIn);
  EXPECT_TRUE(f.DropInbound(2));
  EXPECT_FALSE(f.DropOutbound(2));
  f.Isolate({3}, Dir::kOut);
  EXPECT_TRUE(f.DropOutbound(3));
  EXPECT_FALSE(f.DropInbound(3));
  EXPECT_TRUE(f.DropInbound(2));  // the earlier rule still holds
  f.Isolate({4, 5}, Dir::kBoth);
  EXPECT_TRUE(f.DropInbound(4) && f.DropOutbound(4) && f.DropInbound(5) && f.DropOutbound(5));
  EXPECT_FALSE(f.DropInbound(6) || f.DropOutbound(6));
  EXPECT_EQ(f.Describe(), "in=[2,4,5] out=[3,4,5]");
  f.Heal();
  EXPECT_FALSE(f.DropInbound(2) || f.DropOutbound(3) || f.DropInbound(4) || f.DropOutbound(5));
}

// Counts what arrives; answers forwarded calls at once.
class CountingHandler : public Handler {
 public:
  void OnMessages(NodeId, std::vector<Message> msgs) override { received += msgs.size(); }
  Status OnSnapshot(NodeId, const Message&, std::unique_ptr<SnapshotSink>*) override {
    return Status::Error(Status::Code::kRefused, "not in this test");
  }
  void OnPropose(NodeId, std::vector<std::string> commands, ProposeCallback done) override {
    ++proposes;
    done({Status::Ok(), commands});
  }
  void OnReadIndex(NodeId, ReadIndexCallback done) override { done({Status::Ok(), 7}); }
  void OnPeerUnreachable(NodeId) override {}
  std::atomic<size_t> received{0};
  std::atomic<size_t> proposes{0};
};

Message Heartbeat(NodeId from, NodeId to) {
  Message m;
  m.type = MessageType::kHeartbeat;
  m.from = from;
  m.to = to;
  m.term = 1;
  return m;
}

class FaultFilterTransport : public ::testing::Test {
 protected:
  void SetUp() override {
    TransportOptions oa, ob;
    oa.cluster_id = ob.cluster_id = "c-fault";
    oa.node_id = 1;
    ob.node_id = 2;
    a_ = std::make_unique<Transport>(oa, &ha_);
    b_ = std::make_unique<Transport>(ob, &hb_);
    ASSERT_TRUE(a_->Start("127.0.0.1:0").ok());
    ASSERT_TRUE(b_->Start("127.0.0.1:0").ok());
    ASSERT_TRUE(a_->AddPeer(2, "127.0.0.1:" + std::to_string(b_->port())).ok());
    ASSERT_TRUE(b_->AddPeer(1, "127.0.0.1:" + std::to_string(a_->port())).ok());
  }
  void TearDown() override {
    a_->Shutdown();
    b_->Shutdown();
  }
  // Sends one heartbeat a→b and waits (bounded) for b's count to reach `want`.
  bool DeliveredAtoB(size_t want) {
    a_->Send({Heartbeat(1, 2)});
    return Eventually([&] { return hb_.received.load() >= want; }, milliseconds(3000));
  }
  ReadIndexResult ReadIndexAtoB() {
    std::promise<ReadIndexResult> p;
    Status s =
        a_->ReadIndex(2, milliseconds(2000), [&](const ReadIndexResult& r) { p.set_value(r); });
    if (!s.ok()) return {s, 0};
    return p.get_future().get();
  }
  CountingHandler ha_, hb_;
  std::unique_ptr<Transport> a_, b_;
};

TEST_F(FaultFilterTransport, OutboundDropOnSenderThenHeal) {
  ASSERT_TRUE(DeliveredAtoB(1));
  a_->faults().Isolate({2}, Dir::kOut);
  a_->Send({Heartbeat(1, 2)});
  std::this_thread::sleep_for(milliseconds(300));
  EXPECT_EQ(hb_.received.load(), 1u);
  EXPECT_EQ(ReadIndexAtoB().status.code(), Status::Code::kUnavailable);
  std::promise<ProposeResult> p;
  EXPECT_FALSE(a_->Propose(2, {"x"}, milliseconds(1000), [&](const ProposeResult& r) {
                   p.set_value(r);
                 }).ok());
  EXPECT_EQ(hb_.proposes.load(), 0u);
  a_->faults().Heal();
  EXPECT_TRUE(DeliveredAtoB(2));
  ReadIndexResult r = ReadIndexAtoB();
  EXPECT_TRUE(r.status.ok());
  EXPECT_EQ(r.index, 7u);
}

TEST_F(FaultFilterTransport, InboundDropOnReceiverIsOneWay) {
  ASSERT_TRUE(DeliveredAtoB(1));
  b_->faults().Isolate({1}, Dir::kIn);  // b hears nothing from a ...
  a_->Send({Heartbeat(1, 2)});
  std::this_thread::sleep_for(milliseconds(300));
  EXPECT_EQ(hb_.received.load(), 1u);
  EXPECT_FALSE(ReadIndexAtoB().status.ok());
  b_->Send({Heartbeat(2, 1)});  // ... but a still hears b
  EXPECT_TRUE(Eventually([&] { return ha_.received.load() >= 1; }));
  b_->faults().Heal();
  EXPECT_TRUE(DeliveredAtoB(2));
}

}  // namespace
}  // namespace phalanx::transport
