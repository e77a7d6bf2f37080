#include "engine/transport/transport.h"

#include <fmt/format.h>
#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <climits>
#include <mutex>
#include <shared_mutex>
#include <unordered_map>
#include <utility>

#include "engine/transport/dispatcher.h"
#include "engine/transport/grpc_glue.h"
#include "engine/transport/log_limiter.h"
#include "engine/transport/peer_sender.h"
#include "engine/transport/service.h"
#include "engine/transport/snapshot_sender.h"
#include "proto/peer.grpc.pb.h"

namespace phalanx::transport {

using internal::PeerSender;
using internal::SnapshotSender;

namespace {

constexpr size_t kMinMessageBytes = 1024;

// Everything the transport keeps for one peer.
struct Peer {
  NodeId id = kNoNode;
  std::string address;
  // Three connections per peer, so that bulk never delays control traffic:
  // the control lane's Raft stream and ReadIndex; the bulk lane's Raft stream
  // and Propose (a forwarded write may be large); snapshots (made on first use).
  std::shared_ptr<pb::Peer::Stub> control_stub;
  std::shared_ptr<pb::Peer::Stub> bulk_stub;
  std::unique_ptr<PeerSender> sender;

  std::mutex snapshot_mu;
  std::shared_ptr<pb::Peer::Stub> snapshot_stub;  // own connection, made on first use
  std::unique_ptr<SnapshotSender> snapshot;       // the latest transfer, maybe finished
  // Finished transfers whose threads may still be running their callbacks;
  // joined once they have exited (or by Stop).
  std::vector<std::unique_ptr<SnapshotSender>> retired;

  // Cancels and joins everything. Not from one of this peer's threads.
  void Stop() {
    sender->Stop();
    std::vector<std::unique_ptr<SnapshotSender>> snaps;
    {
      std::lock_guard<std::mutex> lock(snapshot_mu);
      snaps = std::move(retired);
      if (snapshot) snaps.push_back(std::move(snapshot));
    }
    for (auto& snap : snaps)
      snap->CancelAndJoin();
  }
};

}  // namespace

// Puts the FaultFilter between the gRPC service and the node: what the filter
// says to drop on the way in never reaches the real handler. A dropped Raft
// batch vanishes; a dropped snapshot or forwarded call is refused, as a
// broken link would make it fail.
class FilteringHandler final : public Handler {
 public:
  FilteringHandler(Handler* inner, const FaultFilter* faults) : inner_(inner), faults_(faults) {}

  void OnMessages(NodeId from, std::vector<consensus::Message> msgs) override {
    if (faults_->DropInbound(from)) return;
    inner_->OnMessages(from, std::move(msgs));
  }
  Status OnSnapshot(NodeId from, const consensus::Message& msg,
                    std::unique_ptr<SnapshotSink>* sink) override {
    if (faults_->DropInbound(from)) return Dropped(from);
    return inner_->OnSnapshot(from, msg, sink);
  }
  void OnPropose(NodeId from, std::vector<std::string> commands, ProposeCallback done) override {
    if (from != kNoNode && faults_->DropInbound(from)) return done({Dropped(from), {}});
    inner_->OnPropose(from, std::move(commands), std::move(done));
  }
  void OnReadIndex(NodeId from, ReadIndexCallback done) override {
    if (from != kNoNode && faults_->DropInbound(from)) return done({Dropped(from), 0});
    inner_->OnReadIndex(from, std::move(done));
  }
  void OnPeerUnreachable(NodeId peer) override { inner_->OnPeerUnreachable(peer); }

 private:
  static Status Dropped(NodeId from) {
    return Status::Error(Status::Code::kUnavailable,
                         "fault injection: dropped traffic from node " + std::to_string(from));
  }
  Handler* const inner_;
  const FaultFilter* const faults_;
};

class Transport::Impl {
 public:
  Impl(TransportOptions options, Handler* handler)
      : options_(std::move(options)),
        filtering_(handler, &faults_),
        handler_(handler ? &filtering_ : nullptr),
        logger_(options_.logger ? options_.logger : spdlog::default_logger()),
        limiter_(options_.log_interval),
        settings_(internal::SettingsFrom(options_)),
        calls_(std::make_shared<internal::CallTracker>()) {}

  ~Impl() { Shutdown(); }

  Status Start(const std::string& listen_address) {
    std::lock_guard<std::mutex> lifecycle(lifecycle_mu_);
    if (started_ || stopped_) {
      return Status::Error(Status::Code::kInvalidArgument, "transport already started");
    }
    Status valid = ValidateOptions();
    if (!valid.ok()) return valid;
    if (listen_address.empty()) {
      return Status::Error(Status::Code::kInvalidArgument, "empty listen address");
    }

    internal::PeerService::Config sc;
    sc.cluster_id = options_.cluster_id;
    sc.self = options_.node_id;
    sc.accept_external_clients = options_.accept_external_clients;
    sc.handler = handler_;
    sc.is_peer = [this](NodeId id) {
      std::shared_lock<std::shared_mutex> lock(peers_mu_);
      return peers_.count(id) > 0;
    };
    sc.logger = logger_.get();
    sc.limiter = &limiter_;
    sc.max_message_bytes = options_.max_message_bytes;
    service_ = std::make_unique<internal::PeerService>(std::move(sc));

    grpc::ServerBuilder builder;
    internal::ConfigureServer(&builder, settings_);
    int port = 0;
    builder.AddListeningPort(listen_address, grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    if (server_ == nullptr || port == 0) {
      server_.reset();
      service_.reset();
      return Status::Error(Status::Code::kUnavailable,
                           "cannot listen on " + listen_address +
                               " (address in use, or not an address of this host)");
    }
    port_.store(port);
    started_ = true;
    logger_->info("transport: node {} of cluster \"{}\" listening on {} (port {})",
                  options_.node_id, options_.cluster_id, listen_address, port);
    return Status::Ok();
  }

  int port() const { return port_.load(); }

  Status AddPeer(NodeId id, const std::string& address) {
    if (id == kNoNode || id == options_.node_id) {
      return Status::Error(Status::Code::kInvalidArgument,
                           "peer id " + std::to_string(id) + " is 0 or this node's own id");
    }
    if (address.empty()) {
      return Status::Error(Status::Code::kInvalidArgument,
                           "empty address for peer " + std::to_string(id));
    }
    Status valid = ValidateOptions();
    if (!valid.ok()) return valid;

    std::shared_ptr<Peer> old;
    {
      std::unique_lock<std::shared_mutex> lock(peers_mu_);
      if (stopped_peers_) return Status::Error(Status::Code::kUnavailable, "transport shut down");
      auto it = peers_.find(id);
      if (it != peers_.end()) {
        if (it->second->address == address) return Status::Ok();
        old = std::move(it->second);
        peers_.erase(it);
      }
      peers_.emplace(id, MakePeer(id, address));
    }
    if (old) {
      logger_->info("transport: peer {} moved from {} to {}", id, old->address, address);
      old->Stop();
    } else {
      logger_->info("transport: added peer {} at {}", id, address);
    }
    return Status::Ok();
  }

  void RemovePeer(NodeId id) {
    std::shared_ptr<Peer> peer;
    {
      std::unique_lock<std::shared_mutex> lock(peers_mu_);
      auto it = peers_.find(id);
      if (it == peers_.end()) return;
      peer = std::move(it->second);
      peers_.erase(it);
    }
    logger_->info("transport: removed peer {} at {}", id, peer->address);
    peer->Stop();
  }

  void Send(std::vector<consensus::Message> msgs) {
    if (msgs.empty()) return;
    std::shared_lock<std::shared_mutex> lock(peers_mu_);
    // Group by destination, keeping each destination's order. Few peers: a
    // linear scan beats a map.
    std::vector<std::pair<NodeId, std::vector<consensus::Message>>> groups;
    for (auto& m : msgs) {
      auto g = groups.begin();
      while (g != groups.end() && g->first != m.to)
        ++g;
      if (g == groups.end()) {
        groups.emplace_back(m.to, std::vector<consensus::Message>());
        g = std::prev(groups.end());
      }
      g->second.push_back(std::move(m));
    }
    for (auto& [to, group] : groups) {
      if (faults_.DropOutbound(to)) continue;  // test-only partition
      auto it = peers_.find(to);
      if (it == peers_.end()) {
        uint64_t suppressed = 0;
        if (limiter_.Allow("no-peer/" + std::to_string(to), &suppressed)) {
          logger_->warn("transport: dropped {} message(s) to node {}: not a known peer{}",
                        group.size(), to, internal::SuppressedNote(suppressed));
        }
        continue;
      }
      it->second->sender->Enqueue(&group);
    }
  }

  Status SendSnapshot(consensus::Message msg, std::unique_ptr<SnapshotSource> source,
                      SnapshotCallback done) {
    if (msg.type != consensus::MessageType::kSnap || !msg.snapshot.has_value()) {
      return Status::Error(Status::Code::kInvalidArgument,
                           "SendSnapshot needs a kSnap message with snapshot metadata");
    }
    if (!msg.snapshot->data.empty()) {
      return Status::Error(Status::Code::kInvalidArgument,
                           "SendSnapshot streams the state from its source; snapshot->data must "
                           "be empty");
    }
    if (source == nullptr || !done) {
      return Status::Error(Status::Code::kInvalidArgument, "SendSnapshot needs a source and done");
    }
    msg.from = options_.node_id;
    if (faults_.DropOutbound(msg.to)) return DroppedTo(msg.to);
    std::shared_ptr<Peer> peer = FindPeer(msg.to);
    if (peer == nullptr) {
      return Status::Error(Status::Code::kUnavailable,
                           "node " + std::to_string(msg.to) + " is not a known peer");
    }
    std::vector<std::unique_ptr<SnapshotSender>> exited;
    {
      std::lock_guard<std::mutex> lock(peer->snapshot_mu);
      if (peer->snapshot != nullptr) {
        if (!peer->snapshot->finished()) {
          return Status::Error(Status::Code::kBusy, "a snapshot to node " + std::to_string(msg.to) +
                                                        " is already in flight");
        }
        // Possibly still inside its callback (which may be what calls us):
        // joined later, never here.
        peer->retired.push_back(std::move(peer->snapshot));
      }
      auto& r = peer->retired;
      for (auto it = r.begin(); it != r.end();) {
        if ((*it)->exited()) {
          exited.push_back(std::move(*it));
          it = r.erase(it);
        } else {
          ++it;
        }
      }
      if (peer->snapshot_stub == nullptr) {
        peer->snapshot_stub = pb::Peer::NewStub(internal::MakeChannel(peer->address, settings_));
      }
      SnapshotSender::Config c;
      c.cluster_id = options_.cluster_id;
      c.self = options_.node_id;
      c.address = peer->address;
      c.stub = peer->snapshot_stub;
      c.logger = logger_.get();
      c.max_message_bytes = options_.max_message_bytes;
      peer->snapshot = std::make_unique<SnapshotSender>(std::move(c), std::move(msg),
                                                        std::move(source), std::move(done));
      peer->snapshot->Start();
    }
    for (auto& snap : exited)
      snap->CancelAndJoin();  // their threads are done; joins at once
    return Status::Ok();
  }

  Status Propose(NodeId to, std::vector<std::string> commands, std::chrono::milliseconds timeout,
                 ProposeCallback done) {
    if (faults_.DropOutbound(to)) return DroppedTo(to);
    std::shared_ptr<Peer> peer = FindPeer(to);
    if (peer == nullptr) {
      return Status::Error(Status::Code::kUnavailable,
                           "node " + std::to_string(to) + " is not a known peer");
    }
    return internal::StartPropose(peer->bulk_stub,
                                  internal::MakeEnvelope(options_.cluster_id, options_.node_id, to),
                                  std::move(commands), timeout, options_.max_message_bytes,
                                  &dispatcher_, calls_, std::move(done));
  }

  Status ReadIndex(NodeId to, std::chrono::milliseconds timeout, ReadIndexCallback done) {
    if (faults_.DropOutbound(to)) return DroppedTo(to);
    std::shared_ptr<Peer> peer = FindPeer(to);
    if (peer == nullptr) {
      return Status::Error(Status::Code::kUnavailable,
                           "node " + std::to_string(to) + " is not a known peer");
    }
    return internal::StartReadIndex(
        peer->control_stub, internal::MakeEnvelope(options_.cluster_id, options_.node_id, to),
        timeout, calls_, std::move(done));
  }

  PeerStats Stats(NodeId id) const {
    std::shared_ptr<Peer> peer = FindPeer(id);
    return peer ? peer->sender->Stats() : PeerStats{};
  }

  void Shutdown() {
    std::lock_guard<std::mutex> lifecycle(lifecycle_mu_);
    if (stopped_) return;
    stopped_ = true;
    {
      std::unique_lock<std::shared_mutex> lock(peers_mu_);
      stopped_peers_ = true;  // no AddPeer from now on
    }
    // Inbound first, while the peers are still known (so open streams are not
    // refused as strangers on their way out); then outbound.
    if (server_ != nullptr) {
      service_->BeginShutdown();
      server_->Shutdown(std::chrono::system_clock::now() + options_.shutdown_grace);
      server_->Wait();
      server_.reset();
      service_.reset();
      logger_->info("transport: node {} stopped listening on port {}", options_.node_id,
                    port_.load());
    }
    std::unordered_map<NodeId, std::shared_ptr<Peer>> peers;
    {
      std::unique_lock<std::shared_mutex> lock(peers_mu_);
      peers.swap(peers_);
    }
    for (auto& [id, peer] : peers)
      peer->Stop();
    calls_->CancelAllAndWait();
    // Last: runs the drop notices and failed-call callbacks still queued.
    dispatcher_.Close();
  }

  FaultFilter& faults() { return faults_; }

 private:
  // An outbound call the fault filter drops fails as if the peer were
  // unreachable (kUnavailable, callback not called), which callers already
  // treat as "not sent".
  static Status DroppedTo(NodeId to) {
    return Status::Error(Status::Code::kUnavailable,
                         "fault injection: dropped traffic to node " + std::to_string(to));
  }

  Status ValidateOptions() const {
    if (handler_ == nullptr) {
      return Status::Error(Status::Code::kInvalidArgument, "transport needs a handler");
    }
    if (options_.cluster_id.empty()) {
      return Status::Error(Status::Code::kInvalidArgument, "transport needs a cluster id");
    }
    if (options_.node_id == kNoNode) {
      return Status::Error(Status::Code::kInvalidArgument, "transport needs a node id (not 0)");
    }
    if (options_.max_batch_messages == 0 || options_.max_queue_messages == 0 ||
        options_.max_batch_bytes == 0 || options_.max_message_bytes == 0) {
      return Status::Error(Status::Code::kInvalidArgument, "queue and batch limits must be > 0");
    }
    // gRPC takes the limit as an int; below 1 KiB not even a heartbeat with
    // its envelope is sure to fit.
    if (options_.max_message_bytes < kMinMessageBytes ||
        options_.max_message_bytes > static_cast<size_t>(INT_MAX)) {
      return Status::Error(Status::Code::kInvalidArgument,
                           fmt::format("max_message_bytes ({}) must be in [{}, {}]",
                                       options_.max_message_bytes, kMinMessageBytes, INT_MAX));
    }
    // Otherwise a message the queue must admit could never fit it, or a batch
    // could exceed what gRPC lets through.
    if (options_.max_queue_bytes < options_.max_message_bytes) {
      return Status::Error(Status::Code::kInvalidArgument,
                           fmt::format("max_queue_bytes ({}) must be >= max_message_bytes ({})",
                                       options_.max_queue_bytes, options_.max_message_bytes));
    }
    if (options_.max_batch_bytes > options_.max_message_bytes) {
      return Status::Error(Status::Code::kInvalidArgument,
                           fmt::format("max_batch_bytes ({}) must be <= max_message_bytes ({})",
                                       options_.max_batch_bytes, options_.max_message_bytes));
    }
    if (options_.initial_backoff.count() <= 0 || options_.max_backoff < options_.initial_backoff) {
      return Status::Error(Status::Code::kInvalidArgument,
                           "need 0 < initial_backoff <= max_backoff");
    }
    return Status::Ok();
  }

  std::shared_ptr<Peer> MakePeer(NodeId id, const std::string& address) {
    auto peer = std::make_shared<Peer>();
    peer->id = id;
    peer->address = address;
    peer->control_stub = pb::Peer::NewStub(internal::MakeChannel(address, settings_));
    peer->bulk_stub = pb::Peer::NewStub(internal::MakeChannel(address, settings_));
    PeerSender::Config c;
    c.self = options_.node_id;
    c.peer = id;
    c.cluster_id = options_.cluster_id;
    c.address = address;
    c.control_stub = peer->control_stub;
    c.bulk_stub = peer->bulk_stub;
    c.options = &options_;
    c.logger = logger_.get();
    c.limiter = &limiter_;
    c.handler = handler_;
    c.dispatcher = &dispatcher_;
    peer->sender = std::make_unique<PeerSender>(std::move(c));
    peer->sender->Start();
    return peer;
  }

  std::shared_ptr<Peer> FindPeer(NodeId id) const {
    std::shared_lock<std::shared_mutex> lock(peers_mu_);
    auto it = peers_.find(id);
    return it == peers_.end() ? nullptr : it->second;
  }

  const TransportOptions options_;
  FaultFilter faults_;
  FilteringHandler filtering_;
  Handler* const handler_;
  const std::shared_ptr<spdlog::logger> logger_;
  internal::LogLimiter limiter_;
  const internal::ChannelSettings settings_;
  const std::shared_ptr<internal::CallTracker> calls_;
  internal::Dispatcher dispatcher_;  // drop notices, calls failed before sending

  std::mutex lifecycle_mu_;  // Start and Shutdown
  bool started_ = false;
  bool stopped_ = false;
  std::unique_ptr<internal::PeerService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::atomic<int> port_{0};

  mutable std::shared_mutex peers_mu_;
  std::unordered_map<NodeId, std::shared_ptr<Peer>> peers_;
  bool stopped_peers_ = false;
};

Transport::Transport(TransportOptions options, Handler* handler)
    : impl_(std::make_unique<Impl>(std::move(options), handler)) {}

Transport::~Transport() = default;

Status Transport::Start(const std::string& listen_address) {
  return impl_->Start(listen_address);
}

int Transport::port() const {
  return impl_->port();
}

Status Transport::AddPeer(NodeId id, const std::string& address) {
  return impl_->AddPeer(id, address);
}

void Transport::RemovePeer(NodeId id) {
  impl_->RemovePeer(id);
}

void Transport::Send(std::vector<consensus::Message> msgs) {
  impl_->Send(std::move(msgs));
}

Status Transport::SendSnapshot(consensus::Message msg, std::unique_ptr<SnapshotSource> source,
                               SnapshotCallback done) {
  return impl_->SendSnapshot(std::move(msg), std::move(source), std::move(done));
}

Status Transport::Propose(NodeId to, std::vector<std::string> commands,
                          std::chrono::milliseconds timeout, ProposeCallback done) {
  return impl_->Propose(to, std::move(commands), timeout, std::move(done));
}

Status Transport::ReadIndex(NodeId to, std::chrono::milliseconds timeout, ReadIndexCallback done) {
  return impl_->ReadIndex(to, timeout, std::move(done));
}

FaultFilter& Transport::faults() {
  return impl_->faults();
}

PeerStats Transport::Stats(NodeId id) const {
  return impl_->Stats(id);
}

void Transport::Shutdown() {
  impl_->Shutdown();
}

}  // namespace phalanx::transport
