// A client of one node's peer service, for callers outside the cluster's
// transport: tools, integration tests and benchmarks that propose and read
// through a node the way a follower forwards to its leader. (A node's own
// forwarding goes through Transport::Propose/ReadIndex, which reuse the same
// calls over the peer's connection.)
//
//   auto client = PeerClient::Connect("127.0.0.1:7379", cluster_id);
//   ProposeResult r = client->Propose({cmd}, std::chrono::seconds(5));
//   if (r.status.code() == Status::Code::kNotLeader) { ... r.status.leader_hint() ... }
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "engine/transport/status.h"
#include "engine/transport/transport.h"

namespace phalanx::transport {

struct PeerClientOptions {
  // The cluster the target belongs to. Empty is accepted by a node that
  // accepts external clients (TransportOptions::accept_external_clients).
  std::string cluster_id;
  // Sent as the envelope's sender. kNoNode: an external client. A non-zero id
  // must be a peer the target knows, or the call is refused.
  NodeId sender_id = kNoNode;
  // The node id expected at the address; kNoNode: whoever listens there. A
  // different node refuses the call (kRefused).
  NodeId target_id = kNoNode;
  // Largest request sent or response accepted; as TransportOptions's. A
  // larger Propose fails with kInvalidArgument without being sent.
  size_t max_message_bytes = 64u << 20;
};

class PeerClient {
 public:
  // Creates a client for `address` ("host:port"). Connects lazily, on the
  // first call; never fails here except for an empty address (null result).
  static std::unique_ptr<PeerClient> Connect(const std::string& address, PeerClientOptions options);
  static std::unique_ptr<PeerClient> Connect(const std::string& address,
                                             const std::string& cluster_id) {
    PeerClientOptions o;
    o.cluster_id = cluster_id;
    return Connect(address, std::move(o));
  }

  // Cancels calls still in flight (their callbacks get kCancelled) and waits
  // for their callbacks to return.
  ~PeerClient();
  PeerClient(const PeerClient&) = delete;
  PeerClient& operator=(const PeerClient&) = delete;

  // Blocking calls: the target's verdict (OK, kNotLeader with hint,
  // kProposalDropped, kOutcomeUnknown, ...) or a transport error
  // (kDeadlineExceeded after `timeout`, kUnavailable, kRefused). Thread-safe.
  ProposeResult Propose(std::vector<std::string> commands, std::chrono::milliseconds timeout);
  ReadIndexResult ReadIndex(std::chrono::milliseconds timeout);

  // Non-blocking forms; the callback rule of transport.h applies (these
  // return OK unless the client is being destroyed). Thread-safe.
  Status ProposeAsync(std::vector<std::string> commands, std::chrono::milliseconds timeout,
                      ProposeCallback done);
  Status ReadIndexAsync(std::chrono::milliseconds timeout, ReadIndexCallback done);

  class Impl;
  struct Token {  // only Connect can construct a PeerClient
   private:
    friend class PeerClient;
    Token() = default;
  };
  PeerClient(Token, std::unique_ptr<Impl> impl);

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace phalanx::transport
