// The server half: Peer service methods, admission (cluster id, sender, target
// node) and the registry of pending forwarded requests. Raft and Snapshot are
// synchronous methods — each open stream holds one gRPC thread, so a handler
// may block and the sender feels it as backpressure. Propose and ReadIndex use
// the callback API — a request waiting for its commit holds no thread.
// Internal to the transport.
#pragma once

#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "engine/transport/log_limiter.h"
#include "engine/transport/transport.h"
#include "proto/peer.grpc.pb.h"

namespace phalanx::transport::internal {

class PendingCalls;

class PeerService final : public pb::Peer::WithCallbackMethod_Propose<
                              pb::Peer::WithCallbackMethod_ReadIndex<pb::Peer::Service>> {
 public:
  struct Config {
    std::string cluster_id;
    NodeId self = kNoNode;
    bool accept_external_clients = true;
    Handler* handler = nullptr;
    std::function<bool(NodeId)> is_peer;   // thread-safe
    spdlog::logger* logger = nullptr;      // outlives the service
    LogLimiter* limiter = nullptr;         // outlives the service
    size_t max_message_bytes = 64u << 20;  // the largest response sent
  };

  explicit PeerService(Config config);
  ~PeerService() override;

  grpc::Status Raft(grpc::ServerContext* ctx, grpc::ServerReader<pb::MessageBatch>* reader,
                    pb::RaftStreamSummary* summary) override;
  grpc::Status Snapshot(grpc::ServerContext* ctx, grpc::ServerReader<pb::SnapshotChunk>* reader,
                        pb::SnapshotAck* ack) override;
  grpc::ServerUnaryReactor* Propose(grpc::CallbackServerContext* ctx, const pb::ProposeRequest* req,
                                    pb::ProposeResponse* resp) override;
  grpc::ServerUnaryReactor* ReadIndex(grpc::CallbackServerContext* ctx,
                                      const pb::ReadIndexRequest* req,
                                      pb::ReadIndexResponse* resp) override;

  // Answers every pending Propose/ReadIndex with UNAVAILABLE, cancels the open
  // Raft streams (they never end by themselves) and refuses new calls of
  // either kind; later `done` calls from the handler are ignored. Snapshot
  // streams are left to the server's shutdown grace. Thread-safe.
  void BeginShutdown();

 private:
  // OK, or the refusal to return (logged, rate-limited). `call` names the
  // method for the log line; `peer` is gRPC's address of the caller.
  grpc::Status Admit(const pb::Envelope& env, const char* call, const std::string& peer,
                     bool external_ok);
  grpc::Status Refuse(grpc::StatusCode code, const std::string& reason, const std::string& key,
                      const char* call, const std::string& peer, NodeId from);
  grpc::Status Reject(grpc::StatusCode code, const std::string& reason, const char* call,
                      const std::string& peer, NodeId from);

  const Config config_;
  std::shared_ptr<PendingCalls> pending_;

  std::mutex streams_mu_;
  bool closing_ = false;
  std::unordered_set<grpc::ServerContext*> raft_streams_;
};

}  // namespace phalanx::transport::internal
