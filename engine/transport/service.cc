#include "engine/transport/service.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <utility>
#include <vector>

#include "engine/transport/codec.h"
#include "engine/transport/crc32c.h"
#include "engine/transport/grpc_glue.h"

namespace phalanx::transport::internal {

// One forwarded request waiting for the handler's `done`. Finished at most
// once: by `done`, or by BeginShutdown — whichever comes first.
class PendingUnary {
 public:
  explicit PendingUnary(grpc::ServerUnaryReactor* reactor) : reactor_(reactor) {}

  // Unless already finished: runs fill() (which may write the response) and
  // finishes the call with `status`. The response belongs to gRPC after that.
  template <typename Fill>
  void Finish(const grpc::Status& status, Fill&& fill) {
    std::lock_guard<std::mutex> lock(mu_);
    if (reactor_ == nullptr) return;
    fill();
    grpc::ServerUnaryReactor* r = reactor_;
    reactor_ = nullptr;
    r->Finish(status);
  }

 private:
  std::mutex mu_;
  grpc::ServerUnaryReactor* reactor_;  // null once finished
};

class PendingCalls {
 public:
  // Null once closed.
  std::shared_ptr<PendingUnary> Add(grpc::ServerUnaryReactor* reactor) {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return nullptr;
    auto call = std::make_shared<PendingUnary>(reactor);
    calls_.emplace(call.get(), call);
    return call;
  }
  void Remove(PendingUnary* call) {
    std::lock_guard<std::mutex> lock(mu_);
    calls_.erase(call);
  }
  void CloseAndFinishAll() {
    std::unordered_map<PendingUnary*, std::shared_ptr<PendingUnary>> calls;
    {
      std::lock_guard<std::mutex> lock(mu_);
      closed_ = true;
      calls.swap(calls_);
    }
    const grpc::Status unavailable(grpc::StatusCode::UNAVAILABLE, "node is shutting down");
    for (auto& [ptr, call] : calls)
      call->Finish(unavailable, [] {});
  }

 private:
  std::mutex mu_;
  bool closed_ = false;
  std::unordered_map<PendingUnary*, std::shared_ptr<PendingUnary>> calls_;
};

namespace {

// Peer-supplied text in a log line: bounded, printable.
std::string Printable(const std::string& s, size_t max = 64) {
  std::string out;
  for (size_t i = 0; i < s.size() && i < max; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      out += fmt::format("\\x{:02x}", c);
    }
  }
  if (s.size() > max) out += "...";
  return out;
}

}  // namespace

PeerService::PeerService(Config config)
    : config_(std::move(config)), pending_(std::make_shared<PendingCalls>()) {}

PeerService::~PeerService() = default;

void PeerService::BeginShutdown() {
  pending_->CloseAndFinishAll();
  std::lock_guard<std::mutex> lock(streams_mu_);
  closing_ = true;
  for (grpc::ServerContext* ctx : raft_streams_)
    ctx->TryCancel();
}

grpc::Status PeerService::Refuse(grpc::StatusCode code, const std::string& reason,
                                 const std::string& key, const char* call, const std::string& peer,
                                 NodeId from) {
  uint64_t suppressed = 0;
  if (config_.limiter->Allow("refuse/" + key, &suppressed)) {
    config_.logger->error("transport: node {} refused {} call from node {} at {}: {}{}",
                          config_.self, call, from, peer, reason, SuppressedNote(suppressed));
  }
  return grpc::Status(code,
                      fmt::format("node {} refused the {} call: {}", config_.self, call, reason));
}

grpc::Status PeerService::Reject(grpc::StatusCode code, const std::string& reason, const char* call,
                                 const std::string& peer, NodeId from) {
  uint64_t suppressed = 0;
  if (config_.limiter->Allow(fmt::format("reject/{}/{}", call, from), &suppressed)) {
    config_.logger->error("transport: node {} rejected {} call from node {} at {}: {}{}",
                          config_.self, call, from, peer, reason, SuppressedNote(suppressed));
  }
  return grpc::Status(code, reason);
}

grpc::Status PeerService::Admit(const pb::Envelope& env, const char* call, const std::string& peer,
                                bool external_ok) {
  const NodeId from = env.from();
  const bool external = from == kNoNode;
  if (external && !(external_ok && config_.accept_external_clients)) {
    return Refuse(grpc::StatusCode::PERMISSION_DENIED,
                  fmt::format("the sender gave no node id; {} is for cluster members only", call),
                  fmt::format("anonymous/{}", call), call, peer, from);
  }
  if (env.cluster_id() != config_.cluster_id && !(external && env.cluster_id().empty())) {
    return Refuse(
        grpc::StatusCode::FAILED_PRECONDITION,
        fmt::format("cluster id mismatch: the sender belongs to cluster \"{}\", this node "
                    "to cluster \"{}\"",
                    Printable(env.cluster_id()), Printable(config_.cluster_id)),
        fmt::format("cluster/{}/{}", from, Printable(env.cluster_id())), call, peer, from);
  }
  if (env.to() != kNoNode && env.to() != config_.self) {
    return Refuse(grpc::StatusCode::FAILED_PRECONDITION,
                  fmt::format("wrong node: the sender wants node {} but this is node {} (stale "
                              "address for that node?)",
                              env.to(), config_.self),
                  fmt::format("to/{}/{}", from, env.to()), call, peer, from);
  }
  if (!external && !config_.is_peer(from)) {
    return Refuse(grpc::StatusCode::PERMISSION_DENIED,
                  fmt::format("unknown sender: node {} is not a peer of node {} in cluster \"{}\"",
                              from, config_.self, Printable(config_.cluster_id)),
                  fmt::format("unknown/{}", from), call, peer, from);
  }
  return grpc::Status::OK;
}

grpc::Status PeerService::Raft(grpc::ServerContext* ctx,
                               grpc::ServerReader<pb::MessageBatch>* reader,
                               pb::RaftStreamSummary* summary) {
  {
    std::lock_guard<std::mutex> lock(streams_mu_);
    if (closing_) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "node is shutting down");
    raft_streams_.insert(ctx);
  }
  struct Unregister {
    PeerService* self;
    grpc::ServerContext* ctx;
    ~Unregister() {
      std::lock_guard<std::mutex> lock(self->streams_mu_);
      self->raft_streams_.erase(ctx);
    }
  } unregister{this, ctx};

  pb::MessageBatch batch;
  uint64_t batches = 0;
  uint64_t messages = 0;
  while (reader->Read(&batch)) {
    grpc::Status admitted = Admit(batch.envelope(), "Raft", ctx->peer(), false);
    if (!admitted.ok()) return admitted;
    const NodeId from = batch.envelope().from();
    if (batches == 0) {
      // Tells the sender it was admitted (it waits for this on a new stream).
      ctx->AddInitialMetadata(kAdmittedKey, std::to_string(config_.self));
      reader->SendInitialMetadata();
    }
    std::vector<consensus::Message> msgs(static_cast<size_t>(batch.messages_size()));
    for (int i = 0; i < batch.messages_size(); ++i) {
      consensus::Message& m = msgs[static_cast<size_t>(i)];
      Status s = FromProto(std::move(*batch.mutable_messages(i)), &m);
      if (!s.ok()) {
        return Reject(grpc::StatusCode::INVALID_ARGUMENT, "undecodable message: " + s.message(),
                      "Raft", ctx->peer(), from);
      }
      if (m.from != from || m.to != config_.self) {
        return Reject(grpc::StatusCode::INVALID_ARGUMENT,
                      fmt::format("message {}->{} on the stream from node {} to node {}", m.from,
                                  m.to, from, config_.self),
                      "Raft", ctx->peer(), from);
      }
    }
    ++batches;
    messages += msgs.size();
    config_.handler->OnMessages(from, std::move(msgs));
  }
  summary->set_batches(batches);
  summary->set_messages(messages);
  return grpc::Status::OK;
}

grpc::Status PeerService::Snapshot(grpc::ServerContext* ctx,
                                   grpc::ServerReader<pb::SnapshotChunk>* reader,
                                   pb::SnapshotAck* ack) {
  const char* kCall = "Snapshot";
  pb::SnapshotChunk frame;
  if (!reader->Read(&frame)) {
    return grpc::Status(grpc::StatusCode::CANCELLED,
                        "snapshot stream ended before its first frame");
  }
  grpc::Status admitted = Admit(frame.envelope(), kCall, ctx->peer(), false);
  if (!admitted.ok()) return admitted;
  const NodeId from = frame.envelope().from();
  if (frame.seq() != 0 || !frame.has_message()) {
    return Reject(grpc::StatusCode::INVALID_ARGUMENT,
                  "the first snapshot frame must be frame 0 and carry the kSnap message", kCall,
                  ctx->peer(), from);
  }
  consensus::Message msg;
  Status s = FromProto(std::move(*frame.mutable_message()), &msg);
  if (!s.ok() || msg.type != consensus::MessageType::kSnap || !msg.snapshot.has_value() ||
      msg.from != from || msg.to != config_.self) {
    return Reject(grpc::StatusCode::INVALID_ARGUMENT,
                  "the first snapshot frame does not hold a kSnap message from the sender to "
                  "this node",
                  kCall, ctx->peer(), from);
  }
  const uint64_t index = msg.snapshot->metadata.index;

  std::unique_ptr<SnapshotSink> sink;
  s = config_.handler->OnSnapshot(from, msg, &sink);
  if (!s.ok() || sink == nullptr) {
    const std::string why = s.ok() ? "no sink" : s.ToString();
    return Reject(grpc::StatusCode::ABORTED, "the receiver declined the snapshot: " + why, kCall,
                  ctx->peer(), from);
  }
  config_.logger->info("transport: receiving snapshot {} (term {}) from peer {}", index,
                       msg.snapshot->metadata.term, from);

  uint64_t expect = 1;
  uint64_t bytes = 0;
  uint64_t chunks = 0;
  uint32_t crc = 0;
  while (reader->Read(&frame)) {
    if (frame.seq() != expect) {
      return Reject(grpc::StatusCode::INVALID_ARGUMENT,
                    fmt::format("snapshot frame {} arrived where {} was due", frame.seq(), expect),
                    kCall, ctx->peer(), from);
    }
    ++expect;
    if (!frame.data().empty()) {
      crc = Crc32cExtend(crc, frame.data());
      bytes += frame.data().size();
      ++chunks;
      s = sink->Write(frame.data());
      if (!s.ok()) {
        return Reject(grpc::StatusCode::ABORTED, "snapshot sink failed: " + s.ToString(), kCall,
                      ctx->peer(), from);
      }
    }
    if (frame.last()) {
      if (frame.total_bytes() != bytes || frame.crc32c() != crc) {
        return Reject(grpc::StatusCode::DATA_LOSS,
                      fmt::format("snapshot {} arrived damaged: {} bytes with crc32c {:08x}, the "
                                  "sender sent {} bytes with crc32c {:08x}",
                                  index, bytes, crc, frame.total_bytes(), frame.crc32c()),
                      kCall, ctx->peer(), from);
      }
      s = sink->Finish();
      if (!s.ok()) {
        return Reject(grpc::StatusCode::ABORTED, "snapshot install failed: " + s.ToString(), kCall,
                      ctx->peer(), from);
      }
      config_.logger->info("transport: received snapshot {} from peer {}: {} bytes in {} chunks",
                           index, from, bytes, chunks);
      ack->set_bytes(bytes);
      ack->set_chunks(chunks);
      return grpc::Status::OK;
    }
  }
  config_.logger->warn("transport: snapshot {} from peer {} broke off after {} bytes", index, from,
                       bytes);
  return grpc::Status(grpc::StatusCode::ABORTED, "snapshot stream ended before its last frame");
}

grpc::ServerUnaryReactor* PeerService::Propose(grpc::CallbackServerContext* ctx,
                                               const pb::ProposeRequest* req,
                                               pb::ProposeResponse* resp) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  grpc::Status admitted = Admit(req->envelope(), "Propose", ctx->peer(), true);
  if (!admitted.ok()) {
    reactor->Finish(admitted);
    return reactor;
  }
  std::shared_ptr<PendingUnary> call = pending_->Add(reactor);
  if (call == nullptr) {
    reactor->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "node is shutting down"));
    return reactor;
  }
  std::vector<std::string> commands(req->commands().begin(), req->commands().end());
  std::shared_ptr<PendingCalls> registry = pending_;
  const size_t max_bytes = config_.max_message_bytes;
  config_.handler->OnPropose(
      req->envelope().from(), std::move(commands),
      [call, registry, resp, max_bytes](ProposeResult r) {
        call->Finish(grpc::Status::OK, [&] {
          resp->set_code(ToRequestCode(r.status.code()));
          resp->set_message(r.status.message());
          resp->set_leader_hint(r.status.leader_hint());
          if (r.status.ok()) {
            for (auto& x : r.results)
              resp->add_results(std::move(x));
          }
          if (resp->ByteSizeLong() > max_bytes) {
            // gRPC would fail the call (RESOURCE_EXHAUSTED), which the caller
            // would take for a refused request; say what happened instead.
            const size_t bytes = resp->ByteSizeLong();
            resp->Clear();
            resp->set_code(pb::REQUEST_INTERNAL);
            resp->set_message(fmt::format(
                "the commands were applied, but their results ({} bytes) exceed the transport's "
                "max_message_bytes ({})",
                bytes, max_bytes));
          }
        });
        registry->Remove(call.get());
      });
  return reactor;
}

grpc::ServerUnaryReactor* PeerService::ReadIndex(grpc::CallbackServerContext* ctx,
                                                 const pb::ReadIndexRequest* req,
                                                 pb::ReadIndexResponse* resp) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  grpc::Status admitted = Admit(req->envelope(), "ReadIndex", ctx->peer(), true);
  if (!admitted.ok()) {
    reactor->Finish(admitted);
    return reactor;
  }
  std::shared_ptr<PendingUnary> call = pending_->Add(reactor);
  if (call == nullptr) {
    reactor->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "node is shutting down"));
    return reactor;
  }
  std::shared_ptr<PendingCalls> registry = pending_;
  config_.handler->OnReadIndex(req->envelope().from(), [call, registry, resp](ReadIndexResult r) {
    call->Finish(grpc::Status::OK, [&] {
      resp->set_code(ToRequestCode(r.status.code()));
      resp->set_message(r.status.message());
      resp->set_leader_hint(r.status.leader_hint());
      if (r.status.ok()) resp->set_index(r.index);
    });
    registry->Remove(call.get());
  });
  return reactor;
}

}  // namespace phalanx::transport::internal
