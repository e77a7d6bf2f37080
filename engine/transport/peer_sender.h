// The outbound half of one peer: a bounded queue of Raft messages drained by
// one thread over one long-lived client stream (Peer.Raft), in batches, with
// reconnect and exponential backoff. Internal to the transport.
//
// Send never blocks: Enqueue takes the queue's lock only to append. The thread
// may block in a gRPC write (the peer is slow, or its flow-control window is
// full); meanwhile the queue fills and further messages are dropped. Nothing
// is shared with other peers' senders, so a stuck peer holds back only itself.
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "consensus/types.h"
#include "engine/transport/log_limiter.h"
#include "engine/transport/transport.h"
#include "proto/peer.grpc.pb.h"

namespace phalanx::transport::internal {

class PeerSender {
 public:
  struct Config {
    NodeId self = kNoNode;
    NodeId peer = kNoNode;
    std::string cluster_id;
    std::string address;  // for log lines
    std::shared_ptr<pb::Peer::Stub> stub;
    const TransportOptions* options = nullptr;  // outlives the sender
    spdlog::logger* logger = nullptr;           // outlives the sender
    LogLimiter* limiter = nullptr;              // outlives the sender
    Handler* handler = nullptr;                 // OnPeerUnreachable
  };

  explicit PeerSender(Config config);
  // Calls Stop().
  ~PeerSender();
  PeerSender(const PeerSender&) = delete;
  PeerSender& operator=(const PeerSender&) = delete;

  // Starts the sender thread. Call once.
  void Start();

  // Appends the messages that fit the queue (moving them); returns how many
  // did not fit and were dropped. Never blocks on the network. Thread-safe.
  size_t Enqueue(std::vector<consensus::Message>* msgs);

  // Stops the thread: cancels the stream (a blocked write returns), drops the
  // queue, joins. Idempotent. Must not be called from the sender thread.
  void Stop();

  PeerStats Stats() const;

 private:
  void Run();
  // The stream failed with `status`: logs (rate-limited), schedules the retry.
  void OnStreamFailure(const grpc::Status& status, std::chrono::steady_clock::time_point opened);

  const Config config_;
  std::thread thread_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<consensus::Message> queue_;
  size_t queued_bytes_ = 0;
  bool stopping_ = false;
  grpc::ClientContext* active_ctx_ = nullptr;  // the open stream's, for Stop() to cancel
  PeerStats stats_;
  uint64_t failures_since_up_ = 0;

  // Sender-thread-only state.
  std::chrono::milliseconds backoff_;
  std::chrono::steady_clock::time_point next_attempt_{};
};

}  // namespace phalanx::transport::internal
