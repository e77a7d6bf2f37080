// One outbound snapshot transfer on its own thread and its own call
// (Peer.Snapshot): the kSnap message first, then the source's chunks, then a
// last frame with the byte count and CRC-32C. A gRPC write returns only once
// HTTP/2 flow control lets the frame go, so the source is pulled no faster than
// the receiver consumes. Internal to the transport.
#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "consensus/types.h"
#include "engine/transport/log_limiter.h"
#include "engine/transport/transport.h"
#include "proto/peer.grpc.pb.h"

namespace phalanx::transport::internal {

class SnapshotSender {
 public:
  struct Config {
    std::string cluster_id;
    NodeId self = kNoNode;
    std::string address;  // for log lines
    std::shared_ptr<pb::Peer::Stub> stub;
    spdlog::logger* logger = nullptr;      // outlives the sender
    size_t max_message_bytes = 64u << 20;  // a larger frame ends the transfer (kInvalidArgument)
  };

  SnapshotSender(Config config, consensus::Message msg, std::unique_ptr<SnapshotSource> source,
                 SnapshotCallback done);
  // Cancels and joins.
  ~SnapshotSender();
  SnapshotSender(const SnapshotSender&) = delete;
  SnapshotSender& operator=(const SnapshotSender&) = delete;

  // Starts the transfer thread; `done` runs on it at the end. Call once.
  void Start();
  // True once the outcome is decided, just before `done` is invoked: from then
  // on a new transfer to the same peer may start (even from inside `done`).
  bool finished() const { return finished_.load(); }
  // True once `done` has returned and the thread has nothing left to do, so
  // CancelAndJoin() returns at once.
  bool exited() const { return exited_.load(); }
  // Cancels the call (done gets kCancelled unless it already finished) and
  // joins the thread. Idempotent. Must not be called from the thread itself.
  void CancelAndJoin();

 private:
  void Run();
  Status Transfer(uint64_t* bytes, uint64_t* chunks);

  const Config config_;
  consensus::Message msg_;
  std::unique_ptr<SnapshotSource> source_;
  SnapshotCallback done_;
  std::thread thread_;
  std::atomic<bool> finished_{false};
  std::atomic<bool> exited_{false};

  std::mutex mu_;
  bool cancelled_ = false;
  grpc::ClientContext ctx_;
};

}  // namespace phalanx::transport::internal
