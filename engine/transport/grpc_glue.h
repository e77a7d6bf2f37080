// The pieces shared by the transport's client side and PeerClient: channel
// settings, gRPC status mapping, forwarded-request calls and the tracker that
// lets an owner cancel its async calls and wait for their callbacks. Internal
// to the transport.
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_set>
#include <vector>

#include "engine/transport/dispatcher.h"
#include "engine/transport/status.h"
#include "engine/transport/transport.h"
#include "proto/peer.grpc.pb.h"

namespace phalanx::transport::internal {

// Initial-metadata key a receiver sends on a Raft stream once it has admitted
// the sender (see PeerSender). Its value is the receiver's node id.
inline constexpr char kAdmittedKey[] = "phalanx-admitted";

struct ChannelSettings {
  size_t max_message_bytes = 256u << 20;
  std::chrono::milliseconds keepalive_time{2000};
  std::chrono::milliseconds keepalive_timeout{3000};
  std::chrono::milliseconds initial_backoff{50};
  std::chrono::milliseconds max_backoff{2000};
};
ChannelSettings SettingsFrom(const TransportOptions& o);

// A channel of its own (its own TCP connection: channels never share one), so
// a snapshot's bulk never queues ahead of heartbeats. Connects lazily.
std::shared_ptr<grpc::Channel> MakeChannel(const std::string& address, const ChannelSettings& s);

// Server-side settings matching MakeChannel's keepalive (so our pings are not
// taken for abuse) and message limits. SO_REUSEPORT is off: two nodes on one
// port would otherwise split the connections between them.
void ConfigureServer(grpc::ServerBuilder* builder, const ChannelSettings& s);

// gRPC status → transport Status (FAILED_PRECONDITION/PERMISSION_DENIED →
// kRefused, DEADLINE_EXCEEDED → kDeadlineExceeded, ...), keeping the message.
Status FromGrpc(const grpc::Status& s);

// Request outcomes on the wire ⇄ Status.
pb::RequestCode ToRequestCode(Status::Code code);
Status FromRequestCode(pb::RequestCode code, const std::string& message, NodeId leader_hint);

pb::Envelope MakeEnvelope(const std::string& cluster_id, NodeId from, NodeId to);

// Async client calls an owner can cancel and wait for. Thread-safe.
class CallTracker {
 public:
  // Registers a call about to start; false once closed (do not start it).
  bool Begin(grpc::ClientContext* ctx);
  // The call's callback has returned.
  void End(grpc::ClientContext* ctx);
  // Refuses new calls, cancels the registered ones and waits until each has
  // ended. Must not be called from a tracked call's callback.
  void CancelAllAndWait();

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::unordered_set<grpc::ClientContext*> calls_;
  bool closed_ = false;
};

// Forwarded requests over `stub`. The async forms follow the callback rule of
// transport.h: a non-OK return (tracker or dispatcher closed → kCancelled)
// means `done` is never called. The stub is kept alive until the call ends.
// A Propose request larger than `max_message_bytes` is not sent: `done` (or
// the result) gets kInvalidArgument, through `dispatcher` for the async form.
Status StartPropose(std::shared_ptr<pb::Peer::Stub> stub, const pb::Envelope& envelope,
                    std::vector<std::string> commands, std::chrono::milliseconds timeout,
                    size_t max_message_bytes, Dispatcher* dispatcher,
                    const std::shared_ptr<CallTracker>& tracker, ProposeCallback done);
Status StartReadIndex(std::shared_ptr<pb::Peer::Stub> stub, const pb::Envelope& envelope,
                      std::chrono::milliseconds timeout,
                      const std::shared_ptr<CallTracker>& tracker, ReadIndexCallback done);
ProposeResult ProposeSync(pb::Peer::Stub* stub, const pb::Envelope& envelope,
                          std::vector<std::string> commands, std::chrono::milliseconds timeout,
                          size_t max_message_bytes);

// kInvalidArgument "request of N bytes exceeds the transport's
// max_message_bytes (M)" when `bytes` > `max_message_bytes`, else OK.
Status CheckRequestSize(size_t bytes, size_t max_message_bytes);
ReadIndexResult ReadIndexSync(pb::Peer::Stub* stub, const pb::Envelope& envelope,
                              std::chrono::milliseconds timeout);

}  // namespace phalanx::transport::internal
