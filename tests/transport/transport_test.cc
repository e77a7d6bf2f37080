// The gRPC transport on loopback: Transports on free 127.0.0.1 ports
// exchanging batches, reconnecting, refusing strangers, streaming snapshots
// and forwarding requests. Every wait is bounded; the suite takes seconds.
#include "engine/transport/transport.h"

#include <arpa/inet.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <cstdlib>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "engine/transport/codec.h"
#include "engine/transport/peer_client.h"
#include "proto/peer.grpc.pb.h"
#include "tests/support/test_util.h"

namespace phalanx::transport {
namespace {

using consensus::Message;
using consensus::MessageType;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

constexpr milliseconds kWait{5000};  // upper bound of every wait; normally far less

using test_support::Eventually;  // its default timeout is kWait's 5 s

// A port nobody listens on right now (bound, read back, closed).
int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  socklen_t len = sizeof(addr);
  EXPECT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  ::close(fd);
  return ntohs(addr.sin_port);
}

// A TCP listener that never accepts or answers: connections complete in the
// kernel's backlog and then hang. A stuck peer.
class BlackHole {
 public:
  BlackHole() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    EXPECT_EQ(::listen(fd_, 16), 0);
    socklen_t len = sizeof(addr);
    EXPECT_EQ(::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len), 0);
    port_ = ntohs(addr.sin_port);
  }
  ~BlackHole() { ::close(fd_); }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  int fd_ = -1;
  int port_ = 0;
};

// Relays TCP from a local port to 127.0.0.1:target. Freeze() stops relaying in
// both directions without closing anything: a peer that hangs (SIGSTOP, a long
// pause, a partition) on an established connection.
class FreezableProxy {
 public:
  explicit FreezableProxy(int target_port) : target_port_(target_port) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr = Loopback(0);
    EXPECT_EQ(::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    EXPECT_EQ(::listen(listen_fd_, 16), 0);
    socklen_t len = sizeof(addr);
    EXPECT_EQ(::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len), 0);
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] { AcceptLoop(); });
  }
  ~FreezableProxy() {
    stop_ = true;
    acceptor_.join();
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (int fd : fds_)
        ::shutdown(fd, SHUT_RDWR);  // unblocks the pumps
    }
    for (auto& t : pumps_)
      t.join();
    for (int fd : fds_)
      ::close(fd);
    ::close(listen_fd_);
  }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  void Freeze() { frozen_ = true; }

 private:
  static sockaddr_in Loopback(int port) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port));
    return addr;
  }
  void AcceptLoop() {
    while (!stop_) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      int in = ::accept(listen_fd_, nullptr, nullptr);
      if (in < 0) continue;
      int out = ::socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in target = Loopback(target_port_);
      if (::connect(out, reinterpret_cast<sockaddr*>(&target), sizeof(target)) != 0) {
        ::close(in);
        ::close(out);
        continue;
      }
      std::lock_guard<std::mutex> lock(mu_);
      fds_.push_back(in);
      fds_.push_back(out);
      pumps_.emplace_back([this, in, out] { Pump(in, out); });
      pumps_.emplace_back([this, in, out] { Pump(out, in); });
    }
  }
  void Pump(int from, int to) {
    char buf[64 * 1024];
    while (!stop_) {
      if (frozen_) {
        std::this_thread::sleep_for(milliseconds(10));
        continue;
      }
      pollfd p{from, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      ssize_t n = ::read(from, buf, sizeof(buf));
      if (n <= 0) break;
      for (ssize_t off = 0; off < n;) {
        ssize_t w = ::write(to, buf + off, static_cast<size_t>(n - off));
        if (w <= 0) return;
        off += w;
      }
    }
    ::shutdown(to, SHUT_WR);
  }

  int target_port_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<bool> frozen_{false};
  std::thread acceptor_;
  std::mutex mu_;
  std::vector<int> fds_;
  std::vector<std::thread> pumps_;
};

Message Heartbeat(NodeId from, NodeId to, uint64_t seq) {
  Message m;
  m.type = MessageType::kHeartbeat;
  m.from = from;
  m.to = to;
  m.term = 1;
  m.commit = seq;
  m.context = "hb" + std::to_string(seq);
  return m;
}

Message Append(NodeId from, NodeId to, uint64_t index, size_t payload) {
  Message m;
  m.type = MessageType::kApp;
  m.from = from;
  m.to = to;
  m.term = 3;
  m.index = index - 1;
  m.log_term = 3;
  m.entries.push_back(consensus::Entry{3, index, consensus::EntryType::kNormal,
                                       std::string(payload, static_cast<char>('a' + index % 26))});
  return m;
}

// Deterministic bytes for snapshot contents.
std::string Pattern(size_t n, uint32_t seed) {
  std::string s(n, '\0');
  uint32_t x = seed * 2654435761u + 1;
  for (size_t i = 0; i < n; ++i) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    s[i] = static_cast<char>(x & 0xff);
  }
  return s;
}

// Hands out `data` in `chunk`-sized pieces; can fail after `fail_after`
// chunks, and can wait at a gate before each chunk.
class TestSource : public SnapshotSource {
 public:
  TestSource(std::string data, size_t chunk) : data_(std::move(data)), chunk_(chunk) {}
  std::optional<int> fail_after;
  std::function<void()> before_chunk;

  Status Next(std::string* chunk) override {
    if (before_chunk) before_chunk();
    if (fail_after && served_ == *fail_after) {
      return Status::Error(Status::Code::kInternal, "disk read failed");
    }
    const size_t n = std::min(chunk_, data_.size() - offset_);
    chunk->assign(data_, offset_, n);
    offset_ += n;
    ++served_;
    return Status::Ok();
  }

 private:
  std::string data_;
  size_t chunk_;
  size_t offset_ = 0;
  int served_ = 0;
};

// Records everything the transport delivers. OnMessages can be held at a gate
// to play a slow node.
class TestHandler : public Handler {
 public:
  struct SnapshotRecord {
    NodeId from = kNoNode;
    Message msg;
    std::vector<std::string> chunks;
    bool finished = false;
    bool destroyed = false;
  };

  // Behaviour knobs, set before traffic starts.
  std::function<void(NodeId, std::vector<std::string>, ProposeCallback)> on_propose;
  std::function<void(NodeId, ReadIndexCallback)> on_read_index;
  bool decline_snapshots = false;
  std::optional<size_t> fail_sink_write_at;
  // Runs first in OnMessages, without the handler's lock (may block).
  std::function<void(const std::vector<Message>&)> before_deliver;

  void OnMessages(NodeId from, std::vector<Message> msgs) override {
    if (before_deliver) before_deliver(msgs);
    std::unique_lock<std::mutex> lock(mu_);
    gate_cv_.wait(lock, [&] { return !blocked_; });
    for (auto& m : msgs) {
      EXPECT_EQ(m.from, from);
      received_.push_back(std::move(m));
    }
    ++batches_;
  }

  Status OnSnapshot(NodeId from, const Message& msg, std::unique_ptr<SnapshotSink>* sink) override {
    if (decline_snapshots) return Status::Error(Status::Code::kBusy, "installing another one");
    std::lock_guard<std::mutex> lock(mu_);
    snapshots_.push_back(SnapshotRecord{from, msg, {}, false, false});
    *sink = std::make_unique<Sink>(this, snapshots_.size() - 1);
    return Status::Ok();
  }

  void OnPropose(NodeId from, std::vector<std::string> commands, ProposeCallback done) override {
    if (on_propose) {
      on_propose(from, std::move(commands), std::move(done));
      return;
    }
    ProposeResult r;
    for (auto& c : commands)
      r.results.push_back("ok:" + c);
    done(std::move(r));
  }

  void OnReadIndex(NodeId from, ReadIndexCallback done) override {
    if (on_read_index) {
      on_read_index(from, std::move(done));
      return;
    }
    done(ReadIndexResult{Status::Ok(), 42});
  }

  void OnPeerUnreachable(NodeId peer) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++unreachable_[peer];
    unreachable_threads_.insert(std::this_thread::get_id());
  }

  void Block() {
    std::lock_guard<std::mutex> lock(mu_);
    blocked_ = true;
  }
  void Unblock() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      blocked_ = false;
    }
    gate_cv_.notify_all();
  }

  std::vector<Message> Received() {
    std::lock_guard<std::mutex> lock(mu_);
    return received_;
  }
  std::vector<Message> ReceivedFrom(NodeId from) {
    std::vector<Message> out;
    for (auto& m : Received()) {
      if (m.from == from) out.push_back(m);
    }
    return out;
  }
  size_t CountFrom(NodeId from) { return ReceivedFrom(from).size(); }
  int Unreachable(NodeId peer) {
    std::lock_guard<std::mutex> lock(mu_);
    return unreachable_[peer];
  }
  // Whether OnPeerUnreachable ever ran on thread `id`.
  bool UnreachableCalledOn(std::thread::id id) {
    std::lock_guard<std::mutex> lock(mu_);
    return unreachable_threads_.count(id) > 0;
  }
  std::vector<SnapshotRecord> Snapshots() {
    std::lock_guard<std::mutex> lock(mu_);
    return snapshots_;
  }

 private:
  class Sink : public SnapshotSink {
   public:
    Sink(TestHandler* h, size_t slot) : h_(h), slot_(slot) {}
    ~Sink() override {
      std::lock_guard<std::mutex> lock(h_->mu_);
      h_->snapshots_[slot_].destroyed = true;
    }
    Status Write(std::string_view chunk) override {
      std::lock_guard<std::mutex> lock(h_->mu_);
      auto& rec = h_->snapshots_[slot_];
      if (h_->fail_sink_write_at && rec.chunks.size() == *h_->fail_sink_write_at) {
        return Status::Error(Status::Code::kInternal, "disk full");
      }
      EXPECT_FALSE(chunk.empty());
      rec.chunks.emplace_back(chunk);
      return Status::Ok();
    }
    Status Finish() override {
      std::lock_guard<std::mutex> lock(h_->mu_);
      h_->snapshots_[slot_].finished = true;
      return Status::Ok();
    }

   private:
    TestHandler* h_;
    size_t slot_;
  };

  std::mutex mu_;
  std::condition_variable gate_cv_;
  bool blocked_ = false;
  std::vector<Message> received_;
  size_t batches_ = 0;
  std::map<NodeId, int> unreachable_;
  std::set<std::thread::id> unreachable_threads_;
  std::vector<SnapshotRecord> snapshots_;
};

// One transport with its handler and a log it can read back.
struct Node {
  NodeId id = kNoNode;
  std::string cluster;
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> log =
      std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(1000);
  TestHandler handler;  // declared before the transport: outlives it
  std::unique_ptr<Transport> transport;

  std::string address() const { return "127.0.0.1:" + std::to_string(transport->port()); }
  // Log lines containing `needle`.
  size_t LogCount(const std::string& needle) const {
    size_t n = 0;
    for (const auto& line : log->last_formatted()) {
      if (line.find(needle) != std::string::npos) ++n;
    }
    return n;
  }
  std::string LogText() const {
    std::string s;
    for (const auto& line : log->last_formatted())
      s += line;
    return s;
  }
};

TransportOptions TestOptions(NodeId id, const std::string& cluster) {
  TransportOptions o;
  o.cluster_id = cluster;
  o.node_id = id;
  o.initial_backoff = milliseconds(20);
  o.max_backoff = milliseconds(200);
  o.keepalive_time = milliseconds(500);
  o.keepalive_timeout = milliseconds(500);
  o.shutdown_grace = milliseconds(200);
  return o;
}

// A started node on a free port (or on `port` when given).
std::unique_ptr<Node> StartNode(NodeId id, const std::string& cluster = "c1", int port = 0,
                                const std::function<void(TransportOptions*)>& tweak = nullptr) {
  auto node = std::make_unique<Node>();
  node->id = id;
  node->cluster = cluster;
  TransportOptions o = TestOptions(id, cluster);
  std::vector<spdlog::sink_ptr> sinks = {node->log};
  if (std::getenv("PHALANX_TEST_LOG") != nullptr) {  // echo the nodes' logs when debugging
    sinks.push_back(std::make_shared<spdlog::sinks::stderr_sink_mt>());
  }
  o.logger =
      std::make_shared<spdlog::logger>("node" + std::to_string(id), sinks.begin(), sinks.end());
  o.logger->set_level(spdlog::level::debug);
  if (tweak) tweak(&o);
  node->transport = std::make_unique<Transport>(o, &node->handler);
  Status s = node->transport->Start("127.0.0.1:" + std::to_string(port));
  EXPECT_TRUE(s.ok()) << s.ToString();
  return node;
}

void Connect(Node& a, Node& b) {
  ASSERT_TRUE(a.transport->AddPeer(b.id, b.address()).ok());
  ASSERT_TRUE(b.transport->AddPeer(a.id, a.address()).ok());
}

// Sends heartbeats from `from` to `to` every few ms until `pred` holds.
bool SendUntil(Node& from, NodeId to, const std::function<bool()>& pred,
               milliseconds timeout = kWait) {
  uint64_t seq = 0;
  return Eventually(
      [&] {
        from.transport->Send({Heartbeat(from.id, to, ++seq)});
        std::this_thread::sleep_for(milliseconds(10));
        return pred();
      },
      timeout);
}

std::unique_ptr<pb::Peer::Stub> RawStub(const std::string& address) {
  return pb::Peer::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
}

grpc::Status RawPropose(const std::string& address, const std::string& cluster, NodeId from,
                        NodeId to = kNoNode) {
  auto stub = RawStub(address);
  pb::ProposeRequest req;
  req.mutable_envelope()->set_cluster_id(cluster);
  req.mutable_envelope()->set_from(from);
  req.mutable_envelope()->set_to(to);
  req.add_commands("x");
  pb::ProposeResponse resp;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + kWait);
  return stub->Propose(&ctx, req, &resp);
}

grpc::Status RawRaftBatch(const std::string& address, const std::string& cluster, NodeId from,
                          NodeId to) {
  auto stub = RawStub(address);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + kWait);
  pb::RaftStreamSummary summary;
  auto writer = stub->Raft(&ctx, &summary);
  pb::MessageBatch batch;
  batch.mutable_envelope()->set_cluster_id(cluster);
  batch.mutable_envelope()->set_from(from);
  batch.mutable_envelope()->set_to(to);
  pb::Message* m = batch.add_messages();
  m->set_type(pb::MSG_HEARTBEAT);
  m->set_from(from);
  m->set_to(to);
  writer->Write(batch);
  writer->WritesDone();
  return writer->Finish();
}

// ---------------------------------------------------------------------------

TEST(TransportTest, StartValidatesOptionsAndAddress) {
  TestHandler h;
  {
    TransportOptions o = TestOptions(1, "");
    Transport t(o, &h);
    EXPECT_EQ(t.Start("127.0.0.1:0").code(), Status::Code::kInvalidArgument);
  }
  {
    Transport t(TestOptions(0, "c1"), &h);
    EXPECT_EQ(t.Start("127.0.0.1:0").code(), Status::Code::kInvalidArgument);
  }
  auto a = StartNode(1);
  EXPECT_GT(a->transport->port(), 0);
  EXPECT_EQ(a->transport->Start("127.0.0.1:0").code(), Status::Code::kInvalidArgument);
  // Two nodes on one port would split connections between them: refused.
  Transport t(TestOptions(2, "c1"), &h);
  EXPECT_EQ(t.Start(a->address()).code(), Status::Code::kUnavailable);
  EXPECT_EQ(a->transport->AddPeer(1, "127.0.0.1:1").code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(a->transport->AddPeer(0, "127.0.0.1:1").code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(a->transport->AddPeer(2, "").code(), Status::Code::kInvalidArgument);
}

TEST(TransportTest, ExchangesBatchesBetweenThreeNodes) {
  auto a = StartNode(1), b = StartNode(2), c = StartNode(3);
  Connect(*a, *b);
  Connect(*a, *c);
  Connect(*b, *c);
  std::vector<Node*> nodes = {a.get(), b.get(), c.get()};
  constexpr uint64_t kRounds = 50;
  // Each round every node sends one batch holding a message for each other node.
  for (uint64_t i = 1; i <= kRounds; ++i) {
    for (Node* from : nodes) {
      std::vector<Message> batch;
      for (Node* to : nodes) {
        if (to != from) batch.push_back(Append(from->id, to->id, i, 100 + i));
      }
      from->transport->Send(std::move(batch));
    }
  }
  for (Node* to : nodes) {
    for (Node* from : nodes) {
      if (from == to) continue;
      ASSERT_TRUE(Eventually([&] { return to->handler.CountFrom(from->id) == kRounds; }))
          << "node " << to->id << " got " << to->handler.CountFrom(from->id) << " from "
          << from->id;
      std::vector<Message> got = to->handler.ReceivedFrom(from->id);
      for (uint64_t i = 1; i <= kRounds; ++i) {
        EXPECT_EQ(got[i - 1], Append(from->id, to->id, i, 100 + i)) << "out of order or damaged";
      }
    }
  }
  // The sender counts a batch once its write returned, which may be just
  // after the receiver got it.
  ASSERT_TRUE(Eventually([&] { return a->transport->Stats(2).sent_messages == kRounds; }));
  PeerStats s = a->transport->Stats(2);
  EXPECT_LE(s.sent_batches, kRounds);
  EXPECT_EQ(s.dropped_messages, 0u);
  EXPECT_TRUE(s.connected);
  EXPECT_EQ(a->handler.Unreachable(2), 0);
}

TEST(TransportTest, DropsMessagesForUnknownPeers) {
  auto a = StartNode(1);
  a->transport->Send({Heartbeat(1, 9, 1)});
  EXPECT_EQ(a->LogCount("not a known peer"), 1u);
  PeerStats s = a->transport->Stats(9);
  EXPECT_EQ(s.sent_messages, 0u);
}

TEST(TransportTest, ReconnectsWhenPeerStartsLater) {
  auto a = StartNode(1);
  const int port = FreePort();
  ASSERT_TRUE(a->transport->AddPeer(2, "127.0.0.1:" + std::to_string(port)).ok());

  // Peer 2 is down: the stream fails and Raft hears of it, repeatedly.
  ASSERT_TRUE(SendUntil(*a, 2, [&] { return a->handler.Unreachable(2) >= 2; }));
  EXPECT_GE(a->transport->Stats(2).stream_failures, 2u);
  EXPECT_FALSE(a->transport->Stats(2).connected);
  EXPECT_EQ(a->LogCount("Raft stream to peer 2"), 1u) << a->LogText();  // rate-limited

  // It comes up; the sender reconnects on its own (backoff is capped at 200 ms here).
  auto b = StartNode(2, "c1", port);
  ASSERT_TRUE(b->transport->AddPeer(1, a->address()).ok());
  const auto t0 = Clock::now();
  ASSERT_TRUE(SendUntil(*a, 2, [&] { return b->handler.CountFrom(1) > 0; }));
  EXPECT_LT(Clock::now() - t0, milliseconds(3000));
  EXPECT_TRUE(Eventually([&] { return a->transport->Stats(2).connected; }));

  // And again after a restart of the peer.
  b.reset();
  ASSERT_TRUE(SendUntil(*a, 2, [&] { return !a->transport->Stats(2).connected; }));
  b = StartNode(2, "c1", port);
  ASSERT_TRUE(b->transport->AddPeer(1, a->address()).ok());
  ASSERT_TRUE(SendUntil(*a, 2, [&] { return b->handler.CountFrom(1) > 0; }));
}

TEST(TransportTest, SlowPeerDoesNotBlockSendOrOtherPeers) {
  auto a = StartNode(1, "c1", 0, [](TransportOptions* o) {
    o->max_queue_bytes = 2u << 20;  // fills fast
    o->max_message_bytes = 1u << 20;
    o->max_batch_bytes = 1u << 20;
  });
  auto b = StartNode(2), c = StartNode(3);
  Connect(*a, *b);
  Connect(*a, *c);
  // Make sure both streams are up before b stalls.
  ASSERT_TRUE(SendUntil(*a, 2, [&] { return b->handler.CountFrom(1) > 0; }));
  b->handler.Block();  // b's handler stalls: its stream stops reading

  // Far more than flow-control windows and a's queue hold: 64 MiB to b.
  Clock::duration longest_send{0};
  constexpr uint64_t kToC = 200;
  for (uint64_t i = 1; i <= 256; ++i) {
    std::vector<Message> batch = {Append(1, 2, i, size_t{256} * 1024)};
    if (i <= kToC) batch.push_back(Append(1, 3, i, 64));
    const auto t0 = Clock::now();
    a->transport->Send(std::move(batch));
    longest_send = std::max(longest_send, Clock::now() - t0);
  }
  // c gets everything, in order, while b is stuck.
  ASSERT_TRUE(Eventually([&] { return c->handler.CountFrom(1) == kToC; }))
      << c->handler.CountFrom(1);
  std::vector<Message> got = c->handler.ReceivedFrom(1);
  for (uint64_t i = 1; i <= kToC; ++i)
    EXPECT_EQ(got[i - 1].entries[0].index, i);
  // Send never waited on the network: a Send stuck behind b would wait until
  // b unblocks, which is never here. The bound only allows for a loaded machine.
  EXPECT_LT(longest_send, milliseconds(1000));
  EXPECT_GT(a->transport->Stats(2).dropped_messages, 0u);
  EXPECT_EQ(a->transport->Stats(3).dropped_messages, 0u);
  EXPECT_GE(a->LogCount("send queue to peer 2"), 1u);

  b->handler.Unblock();
  // b recovers and gets fresh traffic again.
  const size_t before = b->handler.CountFrom(1);
  ASSERT_TRUE(SendUntil(*a, 2, [&] { return b->handler.CountFrom(1) > before; }));
}

TEST(TransportTest, StuckPeerIsDetectedAndDoesNotBlockOthers) {
  BlackHole hole;  // accepts TCP, never speaks HTTP/2
  auto a = StartNode(1), c = StartNode(3);
  Connect(*a, *c);
  ASSERT_TRUE(a->transport->AddPeer(2, hole.address()).ok());
  for (uint64_t i = 1; i <= 64; ++i) {
    a->transport->Send({Append(1, 2, i, size_t{64} * 1024), Append(1, 3, i, 64)});
  }
  ASSERT_TRUE(Eventually([&] { return c->handler.CountFrom(1) == 64; }));
  // Keepalive (500 ms + 500 ms here) declares the stuck peer unreachable.
  ASSERT_TRUE(SendUntil(*a, 2, [&] { return a->handler.Unreachable(2) > 0; }));
  // Removing it returns promptly even though its stream is wedged.
  const auto t0 = Clock::now();
  a->transport->RemovePeer(2);
  EXPECT_LT(Clock::now() - t0, milliseconds(2000));
  a->transport->Send({Append(1, 3, 65, 64)});
  ASSERT_TRUE(Eventually([&] { return c->handler.CountFrom(1) == 65; }));
}

TEST(TransportTest, FrozenPeerIsDetectedByKeepaliveAndDoesNotBlockOthers) {
  auto a = StartNode(1), b = StartNode(2), c = StartNode(3);
  Connect(*a, *c);
  FreezableProxy proxy(b->transport->port());
  ASSERT_TRUE(a->transport->AddPeer(2, proxy.address()).ok());
  ASSERT_TRUE(b->transport->AddPeer(1, a->address()).ok());
  ASSERT_TRUE(SendUntil(*a, 2, [&] { return b->handler.CountFrom(1) > 0; }));
  ASSERT_TRUE(Eventually([&] { return a->transport->Stats(2).connected; }));

  proxy.Freeze();  // b hangs on an established connection
  const auto t0 = Clock::now();
  uint64_t i = 0;
  // Keepalive (500 ms ping + 500 ms timeout here) ends the stream.
  ASSERT_TRUE(Eventually([&] {
    ++i;
    a->transport->Send({Append(1, 2, i, size_t{16} * 1024), Append(1, 3, i, 64)});
    std::this_thread::sleep_for(milliseconds(5));
    return a->handler.Unreachable(2) > 0;
  }));
  EXPECT_LT(Clock::now() - t0, milliseconds(4000));
  EXPECT_FALSE(a->transport->Stats(2).connected);
  // c got every message meanwhile, in order.
  ASSERT_TRUE(Eventually([&] { return c->handler.CountFrom(1) == i; }));
  std::vector<Message> got = c->handler.ReceivedFrom(1);
  for (uint64_t k = 1; k <= i; ++k)
    ASSERT_EQ(got[k - 1].entries[0].index, k);
}

TEST(TransportTest, RefusesPeerOfAnotherCluster) {
  auto a = StartNode(1, "alpha"), b = StartNode(2, "beta");
  Connect(*a, *b);
  // a keeps trying (as Raft would) for a while; b never delivers, logs once.
  ASSERT_TRUE(SendUntil(*a, 2, [&] { return a->handler.Unreachable(2) >= 3; }));
  EXPECT_EQ(b->handler.Received().size(), 0u);
  EXPECT_EQ(b->LogCount("cluster id mismatch"), 1u) << b->LogText();
  EXPECT_EQ(b->LogCount("refused Raft call from node 1"), 1u) << b->LogText();
  EXPECT_EQ(a->LogCount("peer 2 (" + b->address() + ") refused our Raft stream"), 1u)
      << a->LogText();

  // The wire status is FAILED_PRECONDITION with a message naming the problem.
  grpc::Status s = RawRaftBatch(b->address(), "alpha", 1, 2);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(s.error_message().find("cluster id mismatch"), std::string::npos) << s.error_message();
  s = RawPropose(b->address(), "alpha", 1);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);

  // Forwarding through the transport reports kRefused.
  std::promise<ProposeResult> p;
  ASSERT_TRUE(
      a->transport->Propose(2, {"x"}, kWait, [&](ProposeResult r) { p.set_value(std::move(r)); })
          .ok());
  auto f = p.get_future();
  ASSERT_EQ(f.wait_for(kWait), std::future_status::ready);
  ProposeResult r = f.get();
  EXPECT_EQ(r.status.code(), Status::Code::kRefused) << r.status.ToString();
}

TEST(TransportTest, RefusesUnknownSenderUntilAdded) {
  auto a = StartNode(1), b = StartNode(2);
  ASSERT_TRUE(a->transport->AddPeer(2, b->address()).ok());  // b does not know a
  ASSERT_TRUE(SendUntil(*a, 2, [&] { return a->handler.Unreachable(2) >= 3; }));
  EXPECT_EQ(b->handler.Received().size(), 0u);
  EXPECT_EQ(b->LogCount("unknown sender: node 1 is not a peer of node 2"), 1u) << b->LogText();

  grpc::Status s = RawRaftBatch(b->address(), "c1", 1, 2);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_NE(s.error_message().find("unknown sender"), std::string::npos) << s.error_message();
  // Node id 0 may not open a Raft stream, even with the right cluster id.
  s = RawRaftBatch(b->address(), "c1", 0, 2);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);

  // Once b learns of a, the same sender gets through without intervention.
  ASSERT_TRUE(b->transport->AddPeer(1, a->address()).ok());
  ASSERT_TRUE(SendUntil(*a, 2, [&] { return b->handler.CountFrom(1) > 0; }));

  // And once removed, it is refused again.
  b->transport->RemovePeer(1);
  EXPECT_EQ(RawRaftBatch(b->address(), "c1", 1, 2).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
}

TEST(TransportTest, RefusesCallsMeantForAnotherNode) {
  auto a = StartNode(1), b = StartNode(2);
  ASSERT_TRUE(b->transport->AddPeer(1, a->address()).ok());
  // a believes node 3 lives at b's address (a stale address).
  ASSERT_TRUE(a->transport->AddPeer(3, b->address()).ok());
  ASSERT_TRUE(SendUntil(*a, 3, [&] { return a->handler.Unreachable(3) >= 1; }));
  EXPECT_EQ(b->handler.Received().size(), 0u);
  EXPECT_EQ(b->LogCount("wrong node"), 1u) << b->LogText();
  EXPECT_EQ(RawRaftBatch(b->address(), "c1", 1, 3).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
}

// ---------------------------------------------------------------------------
// Size limits and the two lanes (issue 18: one large value must not make the
// cluster unavailable).

// Limits small enough to reach quickly in a test.
void SmallLimits(TransportOptions* o) {
  o->max_message_bytes = 1u << 20;
  o->max_queue_bytes = 1u << 20;
  o->max_batch_bytes = 256u << 10;
}

TEST(TransportTest, HeartbeatOvertakesLargeAppendsInFlight) {
  constexpr size_t kLarge = 32u << 20;
  auto limits = [](TransportOptions* o) {
    o->max_message_bytes = 40u << 20;
    o->max_queue_bytes = 80u << 20;
  };
  // b's handler holds the first large batch until released, so its stream
  // reads nothing more and the second large append stays stuck in its write.
  // Declared before the nodes: the handler thread uses them until they stop.
  std::mutex gate_mu;
  std::condition_variable gate_cv;
  bool open = false;
  std::atomic<int> large_seen{0};
  auto a = StartNode(1, "c1", 0, limits), b = StartNode(2, "c1", 0, limits);
  struct Release {
    std::mutex& mu;
    std::condition_variable& cv;
    bool& open;
    void operator()() {
      {
        std::lock_guard<std::mutex> lock(mu);
        open = true;
      }
      cv.notify_all();
    }
    ~Release() { (*this)(); }  // whatever happens, before the nodes go
  } release{gate_mu, gate_cv, open};
  b->handler.before_deliver = [&](const std::vector<Message>& msgs) {
    for (const auto& m : msgs) {
      if (m.entries.empty() || m.entries[0].data.size() < kLarge) continue;
      ++large_seen;
      std::unique_lock<std::mutex> lock(gate_mu);
      gate_cv.wait_for(lock, std::chrono::seconds(30), [&] { return open; });
      return;
    }
  };
  Connect(*a, *b);
  ASSERT_TRUE(SendUntil(*a, 2, [&] { return b->handler.CountFrom(1) > 0; }));
  const size_t before = b->handler.CountFrom(1);

  a->transport->Send({Append(1, 2, 1, kLarge), Append(1, 2, 2, kLarge)});
  ASSERT_TRUE(Eventually([&] { return large_seen.load() == 1; }, std::chrono::seconds(30)));
  // The first large append is held in b's handler and the second is queued
  // or being written behind it; a heartbeat sent now still gets through.
  a->transport->Send({Heartbeat(1, 2, 777)});
  ASSERT_TRUE(Eventually([&] {
    for (const auto& m : b->handler.ReceivedFrom(1)) {
      if (m.type == MessageType::kHeartbeat && m.commit == 777) return true;
    }
    return false;
  })) << "a heartbeat waited behind bulk data";
  EXPECT_EQ(large_seen.load(), 1);
  for (const auto& m : b->handler.ReceivedFrom(1))
    EXPECT_TRUE(m.entries.empty()) << "the large appends must still be in flight";

  release();
  ASSERT_TRUE(
      Eventually([&] { return b->handler.CountFrom(1) == before + 3; }, std::chrono::seconds(30)));
  std::vector<Message> appends;
  for (auto& m : b->handler.ReceivedFrom(1)) {
    if (!m.entries.empty()) appends.push_back(std::move(m));
  }
  ASSERT_EQ(appends.size(), 2u);
  EXPECT_EQ(appends[0], Append(1, 2, 1, kLarge)) << "damaged or out of order";
  EXPECT_EQ(appends[1], Append(1, 2, 2, kLarge));
  EXPECT_EQ(a->transport->Stats(2).dropped_messages, 0u);
}

TEST(TransportTest, EachLaneKeepsItsOrder) {
  auto a = StartNode(1), b = StartNode(2);
  Connect(*a, *b);
  constexpr uint64_t kRounds = 100;
  for (uint64_t i = 1; i <= kRounds; ++i)
    a->transport->Send({Append(1, 2, i, 1000 + i), Heartbeat(1, 2, i)});
  ASSERT_TRUE(Eventually([&] { return b->handler.CountFrom(1) == 2 * kRounds; }));
  uint64_t next_append = 1, next_heartbeat = 1;
  for (const auto& m : b->handler.ReceivedFrom(1)) {
    if (m.type == MessageType::kApp) {
      EXPECT_EQ(m, Append(1, 2, next_append, 1000 + next_append));
      ++next_append;
    } else {
      EXPECT_EQ(m, Heartbeat(1, 2, next_heartbeat));
      ++next_heartbeat;
    }
  }
  EXPECT_EQ(next_append, kRounds + 1);
  EXPECT_EQ(next_heartbeat, kRounds + 1);
}

TEST(TransportTest, FullQueueDropsTheMessageAndTellsRaft) {
  const int port = FreePort();  // nobody listens: the stream fails, then backs off
  auto a = StartNode(1, "c1", 0, [](TransportOptions* o) {
    SmallLimits(o);
    // After its first failure the bulk lane waits this long before trying
    // again, so what is queued meanwhile stays put.
    o->initial_backoff = o->max_backoff = std::chrono::seconds(60);
  });
  ASSERT_TRUE(a->transport->AddPeer(2, "127.0.0.1:" + std::to_string(port)).ok());
  a->transport->Send({Append(1, 2, 1, 100)});
  ASSERT_TRUE(Eventually([&] { return a->handler.Unreachable(2) == 1; }));
  ASSERT_EQ(a->transport->Stats(2).stream_failures, 1u);
  const uint64_t dropped = a->transport->Stats(2).dropped_messages;

  // An empty queue admits a message of up to max_message_bytes.
  a->transport->Send({Append(1, 2, 2, 600u << 10)});
  EXPECT_EQ(a->transport->Stats(2).queued_messages, 1u);
  EXPECT_EQ(a->transport->Stats(2).dropped_messages, dropped);
  // A non-empty one only what fits the room left: this one is dropped, and
  // Raft hears of it — from another thread, not from inside Send.
  a->transport->Send({Append(1, 2, 3, 600u << 10)});
  EXPECT_EQ(a->transport->Stats(2).queued_messages, 1u);
  EXPECT_EQ(a->transport->Stats(2).dropped_messages, dropped + 1);
  ASSERT_TRUE(Eventually([&] { return a->handler.Unreachable(2) == 2; }));
  EXPECT_FALSE(a->handler.UnreachableCalledOn(std::this_thread::get_id()));
  EXPECT_EQ(a->LogCount("send queue to peer 2"), 1u) << a->LogText();

  // Small messages still fit beside it.
  a->transport->Send({Append(1, 2, 4, 100)});
  EXPECT_EQ(a->transport->Stats(2).queued_messages, 2u);
  EXPECT_EQ(a->handler.Unreachable(2), 2);
}

TEST(TransportTest, OversizedMessageIsDroppedAndReported) {
  auto a = StartNode(1, "c1", 0, SmallLimits), b = StartNode(2, "c1", 0, SmallLimits);
  Connect(*a, *b);
  ASSERT_TRUE(SendUntil(*a, 2, [&] { return b->handler.CountFrom(1) > 0; }));
  // The largest append that fits max_message_bytes with its batch envelope...
  pb::Envelope envelope;
  envelope.set_cluster_id("c1");
  envelope.set_from(1);
  envelope.set_to(2);
  const size_t room = (1u << 20) - (envelope.ByteSizeLong() + 6);
  const size_t largest = room - ApproximateSize(Append(1, 2, 1, 0));
  ASSERT_EQ(ApproximateSize(Append(1, 2, 1, largest)), room);
  // ...arrives intact (gRPC accepts it on both ends)...
  a->transport->Send({Append(1, 2, 1, largest)});
  ASSERT_TRUE(Eventually([&] {
    for (const auto& m : b->handler.ReceivedFrom(1)) {
      if (!m.entries.empty()) return true;
    }
    return false;
  }));
  // ...and one byte more is dropped, counted, logged and reported.
  const uint64_t dropped = a->transport->Stats(2).dropped_messages;
  a->transport->Send({Append(1, 2, 2, largest + 1)});
  EXPECT_EQ(a->transport->Stats(2).dropped_messages, dropped + 1);
  EXPECT_EQ(a->LogCount("larger than max_message_bytes"), 1u) << a->LogText();
  ASSERT_TRUE(Eventually([&] { return a->handler.Unreachable(2) == 1; }));
  EXPECT_FALSE(a->handler.UnreachableCalledOn(std::this_thread::get_id()));

  a->transport->Send({Append(1, 2, 3, 10)});
  ASSERT_TRUE(Eventually([&] {
    auto got = b->handler.ReceivedFrom(1);
    return !got.empty() && !got.back().entries.empty() && got.back().entries[0].index == 3;
  }));
  for (const auto& m : b->handler.ReceivedFrom(1)) {
    if (!m.entries.empty()) {
      EXPECT_NE(m.entries[0].index, 2u);
    }
  }
  EXPECT_EQ(a->transport->Stats(2).stream_failures, 0u) << "gRPC refused a message";
}

TEST(TransportTest, StartValidatesSizeLimits) {
  TestHandler h;
  auto start = [&](const std::function<void(TransportOptions&)>& tweak) {
    TransportOptions o = TestOptions(1, "c1");
    tweak(o);
    Transport t(o, &h);
    return t.Start("127.0.0.1:0");
  };
  auto refused = [&](const std::function<void(TransportOptions&)>& tweak,
                     const std::string& names) {
    Status s = start(tweak);
    EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << names;
    EXPECT_NE(s.message().find(names), std::string::npos) << s.ToString();
  };
  EXPECT_TRUE(start([](TransportOptions&) {}).ok()) << "the defaults are consistent";
  refused([](TransportOptions& o) { o.max_queue_bytes = o.max_message_bytes - 1; },
          "max_queue_bytes");
  refused([](TransportOptions& o) { o.max_batch_bytes = o.max_message_bytes + 1; },
          "max_batch_bytes");
  refused(
      [](TransportOptions& o) {
        o.max_message_bytes = o.max_queue_bytes = o.max_batch_bytes = 1023;
      },
      "max_message_bytes");
  refused(
      [](TransportOptions& o) {
        o.max_message_bytes = o.max_queue_bytes = static_cast<size_t>(INT_MAX) + 1;
      },
      "max_message_bytes");
  refused([](TransportOptions& o) { o.max_message_bytes = 0; }, "limits must be > 0");
  EXPECT_TRUE(start([](TransportOptions& o) {
                o.max_message_bytes = o.max_queue_bytes = o.max_batch_bytes = 1024;
              }).ok());
}

TEST(TransportTest, ProposeOverTheMessageLimitFailsFastWithAClearStatus) {
  auto a = StartNode(1, "c1", 0, SmallLimits), b = StartNode(2, "c1", 0, SmallLimits);
  Connect(*a, *b);
  std::atomic<int> proposals{0};
  std::atomic<bool> big_result{false};
  b->handler.on_propose = [&](NodeId, const std::vector<std::string>&,
                              const ProposeCallback& done) {
    ++proposals;
    ProposeResult r;
    r.results.push_back(big_result ? std::string(2u << 20, 'r') : "ok");
    done(std::move(r));
  };
  auto propose = [&](std::vector<std::string> cmds) {
    auto p = std::make_shared<std::promise<ProposeResult>>();
    auto f = p->get_future();
    // A deadline far beyond the bounded wait: a failure must not wait for it.
    Status s = a->transport->Propose(2, std::move(cmds), std::chrono::seconds(600),
                                     [p](ProposeResult r) { p->set_value(std::move(r)); });
    EXPECT_TRUE(s.ok()) << s.ToString();
    EXPECT_EQ(f.wait_for(kWait), std::future_status::ready);
    return f.get();
  };

  ProposeResult r = propose({std::string(1u << 20, 'v')});
  EXPECT_EQ(r.status.code(), Status::Code::kInvalidArgument) << r.status.ToString();
  EXPECT_EQ(r.status.message().rfind("request of ", 0), 0u) << r.status.message();
  EXPECT_NE(r.status.message().find("bytes exceeds the transport's max_message_bytes (1048576)"),
            std::string::npos)
      << r.status.message();
  EXPECT_EQ(proposals.load(), 0) << "it must not have been sent";

  // Just below the limit it goes through (the receiver's limit is the same).
  r = propose({std::string((1u << 20) - 100, 'v')});
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(r.results, std::vector<std::string>{"ok"});
  EXPECT_EQ(proposals.load(), 1);

  // Results too large to send back: applied, and said so.
  big_result = true;
  r = propose({"x"});
  EXPECT_EQ(r.status.code(), Status::Code::kInternal) << r.status.ToString();
  EXPECT_NE(r.status.message().find("applied"), std::string::npos) << r.status.message();
  EXPECT_EQ(proposals.load(), 2);

  // PeerClient follows the same rule.
  PeerClientOptions po;
  po.cluster_id = "c1";
  po.max_message_bytes = 1u << 20;
  auto client = PeerClient::Connect(b->address(), po);
  r = client->Propose({std::string(1u << 20, 'v')}, std::chrono::seconds(600));
  EXPECT_EQ(r.status.code(), Status::Code::kInvalidArgument) << r.status.ToString();
  EXPECT_EQ(r.status.message().rfind("request of ", 0), 0u) << r.status.message();
  auto p = std::make_shared<std::promise<ProposeResult>>();
  ASSERT_TRUE(client
                  ->ProposeAsync({std::string(1u << 20, 'v')}, std::chrono::seconds(600),
                                 [p](ProposeResult res) { p->set_value(std::move(res)); })
                  .ok());
  auto f = p->get_future();
  ASSERT_EQ(f.wait_for(kWait), std::future_status::ready);
  EXPECT_EQ(f.get().status.code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(proposals.load(), 2);
}

TEST(TransportTest, SnapshotChunkOverTheMessageLimitFailsTheTransfer) {
  auto a = StartNode(1, "c1", 0, SmallLimits), b = StartNode(2, "c1", 0, SmallLimits);
  Connect(*a, *b);
  Message msg;
  msg.type = MessageType::kSnap;
  msg.from = 1;
  msg.to = 2;
  msg.term = 4;
  msg.snapshot = consensus::Snapshot{};
  msg.snapshot->metadata.index = 1000;
  msg.snapshot->metadata.term = 4;
  msg.snapshot->metadata.conf_state.voters = {1, 2, 3};
  std::atomic<int> chunks_asked{0};
  auto source = std::make_unique<TestSource>(Pattern(3u << 20, 3), 2u << 20);
  source->before_chunk = [&] { ++chunks_asked; };
  std::promise<Status> result;
  ASSERT_TRUE(a->transport
                  ->SendSnapshot(msg, std::move(source),
                                 [&](NodeId, Status st) { result.set_value(std::move(st)); })
                  .ok());
  auto future = result.get_future();
  ASSERT_EQ(future.wait_for(kWait), std::future_status::ready);
  Status outcome = future.get();
  EXPECT_EQ(outcome.code(), Status::Code::kInvalidArgument) << outcome.ToString();
  EXPECT_NE(outcome.message().find("exceeds the transport's max_message_bytes (1048576)"),
            std::string::npos)
      << outcome.message();
  EXPECT_EQ(chunks_asked.load(), 1) << "no retry";
  // The receiver discards the partial transfer.
  ASSERT_TRUE(Eventually([&] {
    auto snaps = b->handler.Snapshots();
    return snaps.empty() || (snaps[0].destroyed && !snaps[0].finished);
  }));
}

TEST(TransportTest, StreamsMultiChunkSnapshotIntact) {
  auto a = StartNode(1), b = StartNode(2);
  Connect(*a, *b);
  const std::string state = Pattern((5u << 20) + 12345, 7);  // 5 MiB and a ragged end
  constexpr size_t kChunk = size_t{64} * 1024;

  Message msg;
  msg.type = MessageType::kSnap;
  msg.from = 1;
  msg.to = 2;
  msg.term = 4;
  msg.snapshot = consensus::Snapshot{};
  msg.snapshot->metadata.index = 1000;
  msg.snapshot->metadata.term = 4;
  msg.snapshot->metadata.conf_state.voters = {1, 2, 3};
  msg.snapshot->metadata.conf_state.learners = {5};

  std::promise<Status> result;
  Status s = a->transport->SendSnapshot(msg, std::make_unique<TestSource>(state, kChunk),
                                        [&](NodeId to, Status st) {
                                          EXPECT_EQ(to, 2u);
                                          result.set_value(std::move(st));
                                        });
  ASSERT_TRUE(s.ok()) << s.ToString();
  auto future = result.get_future();
  ASSERT_EQ(future.wait_for(kWait), std::future_status::ready);
  Status outcome = future.get();
  EXPECT_TRUE(outcome.ok()) << outcome.ToString();

  auto snaps = b->handler.Snapshots();
  ASSERT_EQ(snaps.size(), 1u);
  EXPECT_EQ(snaps[0].from, 1u);
  EXPECT_EQ(snaps[0].msg, msg);  // the metadata, exactly as sent
  EXPECT_TRUE(snaps[0].finished);
  EXPECT_EQ(snaps[0].chunks.size(), (state.size() + kChunk - 1) / kChunk);
  std::string joined;
  for (const auto& c : snaps[0].chunks) {
    EXPECT_LE(c.size(), kChunk);
    joined += c;
  }
  EXPECT_TRUE(joined == state) << "snapshot bytes differ";
  // Raft messages kept flowing on their own stream meanwhile.
  ASSERT_TRUE(SendUntil(*a, 2, [&] { return b->handler.CountFrom(1) > 0; }));
}

Message SnapMessage(NodeId from, NodeId to) {
  Message msg;
  msg.type = MessageType::kSnap;
  msg.from = from;
  msg.to = to;
  msg.snapshot = consensus::Snapshot{};
  msg.snapshot->metadata.index = 10;
  msg.snapshot->metadata.term = 1;
  return msg;
}

Status SendSnapshotAndWait(Node& from, Message msg, std::unique_ptr<TestSource> source) {
  auto result = std::make_shared<std::promise<Status>>();
  auto future = result->get_future();
  Status s = from.transport->SendSnapshot(
      std::move(msg), std::move(source),
      [result](NodeId, Status st) { result->set_value(std::move(st)); });
  if (!s.ok()) return s;
  if (future.wait_for(kWait) != std::future_status::ready) {
    return Status::Error(Status::Code::kInternal, "test timed out");
  }
  return future.get();
}

TEST(TransportTest, ReportsSnapshotFailures) {
  auto a = StartNode(1), b = StartNode(2);
  Connect(*a, *b);
  const std::string state = Pattern(1u << 20, 3);

  // The receiver's sink fails on its third chunk.
  b->handler.fail_sink_write_at = 2;
  Status s = SendSnapshotAndWait(*a, SnapMessage(1, 2), std::make_unique<TestSource>(state, 4096));
  EXPECT_EQ(s.code(), Status::Code::kAborted) << s.ToString();
  EXPECT_NE(s.message().find("disk full"), std::string::npos) << s.ToString();
  b->handler.fail_sink_write_at.reset();

  // The sender's source fails midway: the receiver discards what it got.
  auto source = std::make_unique<TestSource>(state, 4096);
  source->fail_after = 5;
  int calls = 0;
  source->before_chunk = [&] {
    // Fail only once the receiver holds some chunks (else the cancel may
    // overtake the whole call and the receiver never sees it).
    if (++calls == 6) {
      EXPECT_TRUE(Eventually([&] {
        auto snaps = b->handler.Snapshots();
        return snaps.size() == 2 && snaps[1].chunks.size() >= 3;
      }));
    }
  };
  s = SendSnapshotAndWait(*a, SnapMessage(1, 2), std::move(source));
  EXPECT_EQ(s.code(), Status::Code::kAborted) << s.ToString();
  ASSERT_TRUE(Eventually([&] {
    auto snaps = b->handler.Snapshots();
    return snaps.size() == 2 && snaps[1].destroyed;
  }));
  EXPECT_FALSE(b->handler.Snapshots()[1].finished);

  // The receiver declines.
  b->handler.decline_snapshots = true;
  s = SendSnapshotAndWait(*a, SnapMessage(1, 2), std::make_unique<TestSource>(state, 4096));
  EXPECT_EQ(s.code(), Status::Code::kAborted) << s.ToString();
  b->handler.decline_snapshots = false;

  // Bad requests are refused at once.
  Message not_snap = SnapMessage(1, 2);
  not_snap.type = MessageType::kApp;
  EXPECT_EQ(SendSnapshotAndWait(*a, not_snap, std::make_unique<TestSource>(state, 4096)).code(),
            Status::Code::kInvalidArgument);
  EXPECT_EQ(
      SendSnapshotAndWait(*a, SnapMessage(1, 9), std::make_unique<TestSource>(state, 4096)).code(),
      Status::Code::kUnavailable);

  // One at a time per peer: a second one while the first is held is kBusy.
  std::mutex gate_mu;
  std::condition_variable gate_cv;
  bool open = false;
  auto slow = std::make_unique<TestSource>(state, 4096);
  slow->before_chunk = [&] {
    std::unique_lock<std::mutex> lock(gate_mu);
    gate_cv.wait(lock, [&] { return open; });
  };
  std::promise<Status> first;
  ASSERT_TRUE(a->transport
                  ->SendSnapshot(SnapMessage(1, 2), std::move(slow),
                                 [&](NodeId, Status st) { first.set_value(std::move(st)); })
                  .ok());
  EXPECT_EQ(a->transport
                ->SendSnapshot(SnapMessage(1, 2), std::make_unique<TestSource>(state, 4096),
                               [](NodeId, const Status&) { ADD_FAILURE() << "must not be called"; })
                .code(),
            Status::Code::kBusy);
  {
    std::lock_guard<std::mutex> lock(gate_mu);
    open = true;
  }
  gate_cv.notify_all();
  auto f = first.get_future();
  ASSERT_EQ(f.wait_for(kWait), std::future_status::ready);
  EXPECT_TRUE(f.get().ok());

  // The next transfer may start from inside the previous one's callback.
  std::promise<Status> second;
  ASSERT_TRUE(a->transport
                  ->SendSnapshot(SnapMessage(1, 2), std::make_unique<TestSource>(state, 65536),
                                 [&](NodeId, const Status& st) {
                                   EXPECT_TRUE(st.ok()) << st.ToString();
                                   Status again = a->transport->SendSnapshot(
                                       SnapMessage(1, 2),
                                       std::make_unique<TestSource>(state, 65536),
                                       [&](NodeId, const Status& st2) { second.set_value(st2); });
                                   EXPECT_TRUE(again.ok()) << again.ToString();
                                 })
                  .ok());
  auto g = second.get_future();
  ASSERT_EQ(g.wait_for(kWait), std::future_status::ready);
  EXPECT_TRUE(g.get().ok());
}

TEST(TransportTest, RemovingPeerCancelsItsSnapshot) {
  auto a = StartNode(1), b = StartNode(2);
  Connect(*a, *b);
  auto source = std::make_unique<TestSource>(Pattern(1u << 20, 5), 1024);
  source->before_chunk = [] { std::this_thread::sleep_for(milliseconds(2)); };  // ~2 s total
  std::promise<Status> result;
  ASSERT_TRUE(a->transport
                  ->SendSnapshot(SnapMessage(1, 2), std::move(source),
                                 [&](NodeId, Status st) { result.set_value(std::move(st)); })
                  .ok());
  ASSERT_TRUE(Eventually([&] {
    auto snaps = b->handler.Snapshots();
    return !snaps.empty() && snaps[0].chunks.size() >= 3;
  }));
  a->transport->RemovePeer(2);  // returns only after the callback ran
  auto f = result.get_future();
  ASSERT_EQ(f.wait_for(milliseconds(0)), std::future_status::ready);
  EXPECT_EQ(f.get().code(), Status::Code::kCancelled);
  ASSERT_TRUE(Eventually([&] { return b->handler.Snapshots()[0].destroyed; }));
  EXPECT_FALSE(b->handler.Snapshots()[0].finished);
}

TEST(TransportTest, ForwardsProposeAndReadIndex) {
  auto a = StartNode(1), b = StartNode(2);
  Connect(*a, *b);

  auto propose = [&](std::vector<std::string> cmds, milliseconds timeout = kWait) {
    auto p = std::make_shared<std::promise<ProposeResult>>();
    auto f = p->get_future();
    Status s = a->transport->Propose(2, std::move(cmds), timeout,
                                     [p](ProposeResult r) { p->set_value(std::move(r)); });
    EXPECT_TRUE(s.ok()) << s.ToString();
    EXPECT_EQ(f.wait_for(kWait), std::future_status::ready);
    return f.get();
  };

  ProposeResult r = propose({"set a 1", std::string("bin\0ary", 7)});
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(r.results,
            (std::vector<std::string>{"ok:set a 1", "ok:" + std::string("bin\0ary", 7)}));

  // The leader's verdict passes through unchanged, leader hint included.
  std::atomic<NodeId> seen_from{kNoNode};
  std::thread answerer;
  b->handler.on_propose = [&](NodeId from, const std::vector<std::string>&,
                              const ProposeCallback& done) {
    seen_from = from;
    // Answer from another thread, as a node does after commit.
    answerer = std::thread([done] {
      done(ProposeResult{Status::NotLeader(3, "leader is node 3"), {}});
    });
  };
  r = propose({"set a 2"});
  answerer.join();
  EXPECT_EQ(r.status.code(), Status::Code::kNotLeader);
  EXPECT_EQ(r.status.leader_hint(), 3u);
  EXPECT_EQ(r.status.message(), "leader is node 3");
  EXPECT_EQ(seen_from.load(), 1u);

  b->handler.on_propose = [&](NodeId, const std::vector<std::string>&,
                              const ProposeCallback& done) {
    done(ProposeResult{Status::Error(Status::Code::kOutcomeUnknown, "leadership lost"), {}});
  };
  EXPECT_EQ(propose({"x"}).status.code(), Status::Code::kOutcomeUnknown);

  // A leader that never answers: the caller's deadline ends the wait.
  std::mutex held_mu;
  std::vector<ProposeCallback> held;
  b->handler.on_propose = [&](NodeId, const std::vector<std::string>&, ProposeCallback done) {
    std::lock_guard<std::mutex> lock(held_mu);
    held.push_back(std::move(done));
  };
  const auto t0 = Clock::now();
  EXPECT_EQ(propose({"x"}, milliseconds(200)).status.code(), Status::Code::kDeadlineExceeded);
  EXPECT_LT(Clock::now() - t0, milliseconds(2000));
  {
    // Answering late is harmless.
    std::lock_guard<std::mutex> lock(held_mu);
    for (auto& done : held)
      done(ProposeResult{});
  }

  // ReadIndex.
  auto p = std::make_shared<std::promise<ReadIndexResult>>();
  ASSERT_TRUE(
      a->transport->ReadIndex(2, kWait, [p](ReadIndexResult ri) { p->set_value(std::move(ri)); })
          .ok());
  auto f = p->get_future();
  ASSERT_EQ(f.wait_for(kWait), std::future_status::ready);
  ReadIndexResult ri = f.get();
  ASSERT_TRUE(ri.status.ok()) << ri.status.ToString();
  EXPECT_EQ(ri.index, 42u);

  // An unknown destination fails at once, without the callback.
  EXPECT_EQ(
      a->transport->Propose(9, {"x"}, kWait, [](const ProposeResult&) { ADD_FAILURE(); }).code(),
      Status::Code::kUnavailable);
}

TEST(TransportTest, PeerClientReachesANodeFromOutside) {
  auto b = StartNode(2);
  // An external client: no node id, and it may leave the cluster id empty.
  auto client = PeerClient::Connect(b->address(), "");
  ProposeResult r = client->Propose({"ping"}, kWait);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(r.results, std::vector<std::string>{"ok:ping"});
  ReadIndexResult ri = client->ReadIndex(kWait);
  ASSERT_TRUE(ri.status.ok()) << ri.status.ToString();
  EXPECT_EQ(ri.index, 42u);

  // Async form.
  std::promise<ProposeResult> p;
  ASSERT_TRUE(
      client->ProposeAsync({"a"}, kWait, [&](const ProposeResult& x) { p.set_value(x); }).ok());
  auto f = p.get_future();
  ASSERT_EQ(f.wait_for(kWait), std::future_status::ready);
  EXPECT_EQ(f.get().results, std::vector<std::string>{"ok:a"});

  // Naming a wrong cluster is refused, as is a wrong target id.
  r = PeerClient::Connect(b->address(), "other")->Propose({"ping"}, kWait);
  EXPECT_EQ(r.status.code(), Status::Code::kRefused);
  EXPECT_NE(r.status.message().find("cluster id mismatch"), std::string::npos);
  PeerClientOptions o;
  o.cluster_id = "c1";
  o.target_id = 5;
  r = PeerClient::Connect(b->address(), o)->Propose({"ping"}, kWait);
  EXPECT_EQ(r.status.code(), Status::Code::kRefused);

  // Nothing listening: kUnavailable, promptly.
  r = PeerClient::Connect("127.0.0.1:" + std::to_string(FreePort()), "c1")->Propose({"x"}, kWait);
  EXPECT_EQ(r.status.code(), Status::Code::kUnavailable) << r.status.ToString();

  // A node that refuses external clients.
  auto c =
      StartNode(3, "c1", 0, [](TransportOptions* opt) { opt->accept_external_clients = false; });
  r = PeerClient::Connect(c->address(), "c1")->Propose({"ping"}, kWait);
  EXPECT_EQ(r.status.code(), Status::Code::kRefused);
}

TEST(TransportTest, ShutdownAnswersPendingRequestsAndReturnsPromptly) {
  auto a = StartNode(1), b = StartNode(2);
  Connect(*a, *b);
  std::mutex held_mu;
  std::vector<ProposeCallback> held;
  b->handler.on_propose = [&](NodeId, const std::vector<std::string>&, ProposeCallback done) {
    std::lock_guard<std::mutex> lock(held_mu);
    held.push_back(std::move(done));  // never answered by the "node"
  };
  auto p = std::make_shared<std::promise<ProposeResult>>();
  ASSERT_TRUE(
      a->transport->Propose(2, {"x"}, kWait, [p](ProposeResult r) { p->set_value(std::move(r)); })
          .ok());
  ASSERT_TRUE(Eventually([&] {
    std::lock_guard<std::mutex> lock(held_mu);
    return held.size() == 1;
  }));
  ASSERT_TRUE(SendUntil(*a, 2, [&] { return b->handler.CountFrom(1) > 0; }));  // stream open

  const auto t0 = Clock::now();
  b->transport->Shutdown();
  EXPECT_LT(Clock::now() - t0, milliseconds(3000));
  auto f = p->get_future();
  ASSERT_EQ(f.wait_for(kWait), std::future_status::ready);
  EXPECT_EQ(f.get().status.code(), Status::Code::kUnavailable);
  held[0](ProposeResult{});  // after shutdown: ignored

  // a's pending forwarded call is cancelled by its own shutdown.
  auto c = StartNode(3);
  Connect(*a, *c);
  c->handler.on_propose = b->handler.on_propose;
  auto q = std::make_shared<std::promise<ProposeResult>>();
  ASSERT_TRUE(
      a->transport->Propose(3, {"y"}, kWait, [q](ProposeResult r) { q->set_value(std::move(r)); })
          .ok());
  ASSERT_TRUE(Eventually([&] {
    std::lock_guard<std::mutex> lock(held_mu);
    return held.size() == 2;
  }));
  a->transport->Shutdown();
  auto g = q->get_future();
  ASSERT_EQ(g.wait_for(milliseconds(0)), std::future_status::ready);
  EXPECT_EQ(g.get().status.code(), Status::Code::kCancelled);
  EXPECT_EQ(a->transport->AddPeer(2, b->address()).code(), Status::Code::kUnavailable);
  a->transport->Send({Heartbeat(1, 3, 1)});  // harmless after shutdown
}

}  // namespace
}  // namespace phalanx::transport
