// The outbound half of one peer: two lanes, each a bounded queue drained by
// its own thread over its own long-lived client stream (Peer.Raft) on its own
// connection, in batches, with reconnect and exponential backoff. Internal to
// the transport.
//
//   control lane: messages that carry no entries and no snapshot data
//                 (heartbeats, votes, responses, ReadIndex, TimeoutNow, and
//                 empty appends while no bulk message is pending, see IsBulk);
//   bulk lane:    appends with entries, inline snapshots — and empty appends
//                 while bulk traffic to the peer is queued or being written.
//
// So a large append being written never delays a heartbeat: the heartbeat
// leaves on another thread, stream and TCP connection. Each lane is FIFO;
// there is no order between lanes (Raft tolerates it, see transport.h).
//
// Send never blocks: Enqueue takes the sender's lock only to append. A lane's
// thread may block in a gRPC write (the peer is slow, or its flow-control
// window is full); meanwhile that lane's queue fills and further messages are
// dropped. Drops are reported to the handler (OnPeerUnreachable) through the
// dispatcher, never from inside Enqueue. Nothing is shared with other peers'
// senders, so a stuck peer holds back only itself.
#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "consensus/types.h"
#include "engine/transport/dispatcher.h"
#include "engine/transport/log_limiter.h"
#include "engine/transport/send_queue.h"
#include "engine/transport/transport.h"
#include "proto/peer.grpc.pb.h"

namespace phalanx::transport::internal {

// The lane rule: true for a message that carries entries or snapshot data,
// and for an empty append while `bulk_busy` (bulk traffic to the same peer is
// queued or being written). An empty append names the last index sent; had it
// overtaken the pending entries, the follower would reject it and the leader
// would fall back to resending them all.
bool IsBulk(const consensus::Message& m, bool bulk_busy);

class PeerSender {
 public:
  struct Config {
    NodeId self = kNoNode;
    NodeId peer = kNoNode;
    std::string cluster_id;
    std::string address;                           // for log lines
    std::shared_ptr<pb::Peer::Stub> control_stub;  // a connection of its own
    std::shared_ptr<pb::Peer::Stub> bulk_stub;     // a connection of its own
    const TransportOptions* options = nullptr;     // outlives the sender
    spdlog::logger* logger = nullptr;              // outlives the sender
    LogLimiter* limiter = nullptr;                 // outlives the sender
    Handler* handler = nullptr;                    // OnPeerUnreachable; outlives the sender
    Dispatcher* dispatcher = nullptr;              // runs drop notices; outlives the sender
  };

  explicit PeerSender(Config config);
  // Calls Stop().
  ~PeerSender();
  PeerSender(const PeerSender&) = delete;
  PeerSender& operator=(const PeerSender&) = delete;

  // Starts both lanes' threads. Call once.
  void Start();

  // Appends each message to its lane's queue (moving it) if the queue admits
  // it (SendQueue's rule); returns how many were dropped (queue full, or
  // larger than max_message_bytes with the batch envelope). Any drop makes
  // the dispatcher call OnPeerUnreachable(peer) — coalesced: while one such
  // call is pending, further drops fold into it. Never blocks on the network.
  // Thread-safe.
  size_t Enqueue(std::vector<consensus::Message>* msgs);

  // Stops the threads: cancels the streams (a blocked write returns), drops
  // the queues, joins. Idempotent. Must not be called from a sender thread.
  void Stop();

  PeerStats Stats() const;

 private:
  struct Lane {
    Lane(const char* name, std::shared_ptr<pb::Peer::Stub> stub, SendQueue::Limits limits,
         std::chrono::milliseconds backoff)
        : name(name), stub(std::move(stub)), queue(limits), backoff(backoff) {}
    const char* const name;
    const std::shared_ptr<pb::Peer::Stub> stub;

    // Guarded by PeerSender::mu_.
    SendQueue queue;
    std::condition_variable cv;
    grpc::ClientContext* active_ctx = nullptr;  // the open stream's, for Stop() to cancel
    bool up = false;                            // admitted, and the last write succeeded
    bool broken = false;                        // the last attempt failed
    uint64_t failures_since_up = 0;

    // Lane-thread-only state.
    std::thread thread;
    std::chrono::milliseconds backoff;
    std::chrono::steady_clock::time_point next_attempt{};
  };

  void Run(Lane& lane);
  // The lane's stream failed with `status`: drops its queue, logs
  // (rate-limited), schedules the retry, tells the handler.
  void OnStreamFailure(Lane& lane, const grpc::Status& status,
                       std::chrono::steady_clock::time_point opened);
  void PostDropNotice();

  const Config config_;
  const pb::Envelope envelope_;
  // Bytes a batch adds around its messages (the envelope field), and what is
  // left of max_message_bytes for the messages themselves.
  const size_t batch_overhead_;
  const size_t max_payload_;

  mutable std::mutex mu_;
  bool stopping_ = false;
  PeerStats stats_;
  Lane control_;
  Lane bulk_;

  // Set while a drop notice is posted and not yet run. Shared with the posted
  // closure, which may outlive the sender.
  const std::shared_ptr<std::atomic<bool>> notice_pending_;
};

}  // namespace phalanx::transport::internal
