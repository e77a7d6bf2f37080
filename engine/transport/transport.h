// The gRPC transport between Phalanx nodes: Raft messages, snapshots, and the
// forwarded client requests (Propose, ReadIndex) a follower sends its leader.
// Knows nothing of WiredTiger or of the Raft core's state; the node
// orchestrator wires it to both. README.md beside this file explains the
// streams, the backpressure and the refusal rules.
//
//   Handler handler = ...;                    // implemented by the orchestrator
//   TransportOptions opt;
//   opt.cluster_id = "c-4f1e...";             // created at bootstrap, persisted
//   opt.node_id = 1;
//   Transport t(opt, &handler);
//   Status s = t.Start("127.0.0.1:7379");     // port 0 picks a free port: t.port()
//   t.AddPeer(2, "127.0.0.1:7380");
//   t.Send(ready.messages);                   // never blocks
//   ...
//   t.Shutdown();                             // or let the destructor do it
//
// Callback rule, for every call below that takes a callback: when the call
// returns a non-OK Status the callback is never invoked; when it returns OK the
// callback is invoked exactly once, later, on a transport thread — never
// inside the call itself, so a caller may hold its own locks while calling.
// Callbacks and Handler methods must not call RemovePeer, Shutdown or the
// destructor of the Transport that invoked them (those wait for transport
// threads); everything else is allowed. For the same reason, do not call
// RemovePeer, AddPeer with a new address, or Shutdown while holding a lock
// that a Handler method or callback takes.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "consensus/types.h"
#include "engine/transport/fault_filter.h"
#include "engine/transport/status.h"

namespace spdlog {
class logger;
}

namespace phalanx::transport {

// ---------------------------------------------------------------------------
// Snapshots: the sender pulls chunks from a SnapshotSource; the receiver pushes
// them into a SnapshotSink. Neither side ever holds a whole snapshot.

// Produces a snapshot's state as a sequence of chunks. Implemented by the
// storage engine. Called from one transport thread at a time, in order.
class SnapshotSource {
 public:
  virtual ~SnapshotSource() = default;
  // Fills *chunk (cleared by the caller) with the next piece of the snapshot.
  // An empty *chunk means the end: no more data follows. A non-OK Status
  // aborts the transfer; the peer discards what it received. Chunks of
  // 64 KiB..1 MiB suit gRPC well. A chunk whose frame (the chunk plus ~30
  // bytes of framing) exceeds TransportOptions::max_message_bytes ends the
  // transfer: the callback gets kInvalidArgument saying so, and nothing more
  // is sent or retried by the transport.
  virtual Status Next(std::string* chunk) = 0;
};

// Receives one snapshot transfer. Implemented by the storage engine; created
// by Handler::OnSnapshot. Called from one transport thread, in order.
class SnapshotSink {
 public:
  // Destroyed without a successful Finish(): the transfer failed (stream broke,
  // the sender aborted, a check failed); discard everything written.
  virtual ~SnapshotSink() = default;
  // The next chunk, in the sender's order. Never empty. A non-OK Status aborts
  // the transfer: the sender's callback gets kAborted with this message.
  virtual Status Write(std::string_view chunk) = 0;
  // Every chunk arrived, and the byte count and CRC-32C matched. Make the
  // snapshot durable (and hand its kSnap message to Raft); OK is reported to
  // the sender as success, anything else as kAborted.
  virtual Status Finish() = 0;
};

// ---------------------------------------------------------------------------
// Forwarded requests.

struct ProposeResult {
  Status status;
  // With status OK: results[i] is the state machine's answer to commands[i].
  std::vector<std::string> results;
};

struct ReadIndexResult {
  Status status;
  // With status OK: serve the read once the local applied index >= index.
  uint64_t index = 0;
};

using ProposeCallback = std::function<void(ProposeResult)>;
using ReadIndexCallback = std::function<void(ReadIndexResult)>;
// Outcome of one SendSnapshot: OK once the receiver's SnapshotSink::Finish
// succeeded; anything else is a failure (for Raft's ReportSnapshot).
using SnapshotCallback = std::function<void(NodeId to, Status status)>;

// ---------------------------------------------------------------------------
// What the transport delivers to the node. Implemented by the orchestrator;
// must outlive the Transport's Shutdown(). Methods are called from transport
// threads, possibly concurrently with each other (different peers, different
// calls); each should return promptly, because a slow method holds back only
// the stream it was called for — which is the backpressure the sender sees.
class Handler {
 public:
  virtual ~Handler() = default;

  // A batch of Raft messages from peer `from`, in the order it sent them. Every
  // message has m.from == from and m.to == this node. A peer sends on two
  // streams (control and bulk, see Transport::Send), so two calls for the
  // same `from` may run concurrently, and a control message may arrive before
  // a bulk message sent earlier. The batches of one stream arrive one at a
  // time, in order; while the handler runs, that stream reads nothing more.
  // (Just after a peer reconnects, a batch from its old stream may still
  // arrive concurrently; Raft tolerates reordering.)
  virtual void OnMessages(NodeId from, std::vector<consensus::Message> msgs) = 0;

  // Peer `from` starts streaming a snapshot; `msg` is its kSnap message, with
  // the metadata (index, term, conf state) and an empty snapshot->data. To
  // accept, set *sink and return OK; to refuse (e.g. one is already being
  // installed, or the term is stale), return an error: the sender gets kAborted.
  virtual Status OnSnapshot(NodeId from, const consensus::Message& msg,
                            std::unique_ptr<SnapshotSink>* sink) = 0;

  // A forwarded write. Call `done` exactly once, from any thread, when the
  // commands are applied (results in command order) or with the error
  // (NotLeader with a hint, ProposalDropped, OutcomeUnknown, DeadlineExceeded).
  // `from` is kNoNode for an external client. Calling `done` after Shutdown()
  // has begun is harmless (the transport already answered kUnavailable).
  virtual void OnPropose(NodeId from, std::vector<std::string> commands, ProposeCallback done) = 0;

  // A follower asks for a read index. Call `done` exactly once, as OnPropose.
  virtual void OnReadIndex(NodeId from, ReadIndexCallback done) = 0;

  // Messages to `peer` were lost: tell Raft (ReportUnreachable), so a leader
  // stops assuming its appends arrived and probes again from the follower's
  // match. Called from a transport thread, never inside Send:
  //   - when a stream to `peer` failed (connection refused or lost, the peer
  //     refused us, a keepalive timed out): once per failed attempt, from
  //     that stream's sender thread; what it had queued is dropped;
  //   - when Send dropped messages to `peer` (its queue was full, or a message
  //     exceeded max_message_bytes): from the transport's dispatcher thread,
  //     coalesced — while one such call is pending, further drops fold into
  //     it — and every drop is followed by a call that starts after it.
  // Messages to unknown peers, to removed peers and during Shutdown are
  // dropped without this call.
  virtual void OnPeerUnreachable(NodeId peer) = 0;
};

// ---------------------------------------------------------------------------

struct TransportOptions {
  // Required. Created at bootstrap; every member of the cluster has the same.
  std::string cluster_id;
  // Required, != kNoNode. This node's Raft id.
  NodeId node_id = kNoNode;

  // Where log lines go; null: spdlog's default logger.
  std::shared_ptr<spdlog::logger> logger;
  // A repeated line (a refusal, a failing stream) is written at most once per
  // interval per peer and reason, with a count of the lines swallowed.
  std::chrono::milliseconds log_interval{10000};

  // Send queues: one per peer and lane (control, bulk). A queue admits a
  // message when nothing is waiting in it (whatever its size, up to
  // max_message_bytes), or else when the count stays <= max_queue_messages
  // and the bytes queued plus the bytes of the batch being written stay <=
  // max_queue_bytes; Send() drops what is not admitted. So a queue holds at
  // most max_queue_bytes + max_message_bytes. Sizes are upper bounds of the
  // encoded size (codec.h ApproximateSize). Start() requires
  // max_queue_bytes >= max_message_bytes.
  size_t max_queue_messages = 4096;
  size_t max_queue_bytes = 64u << 20;
  // One batch on a Raft stream holds at most this much (one message always
  // fits). Start() requires max_batch_bytes <= max_message_bytes.
  size_t max_batch_messages = 1024;
  size_t max_batch_bytes = 4u << 20;
  // Largest gRPC message sent or accepted, on every channel and the server
  // alike: a batch with its envelope, a snapshot frame, a forwarded request
  // or its response. Beyond it: a Raft message (with the ~40 B batch
  // envelope) is dropped and reported (OnPeerUnreachable); a Propose fails
  // with kInvalidArgument; a snapshot transfer fails with kInvalidArgument.
  // Must be the same on every node, in [1 KiB, 2 GiB - 1]. It must exceed the
  // largest append Raft builds, framing included (~45 B per entry, ~130 B
  // per message, the envelope): Raft packs entries up to max_size_per_msg
  // (counting 24 B per entry), or sends one larger entry alone, so
  //   max_entry_bytes + 2 * max_size_per_msg + 64 KiB
  // is always enough.
  size_t max_message_bytes = 64u << 20;

  // Reconnect backoff of a peer's stream: initial, doubled per failure, capped.
  // A stream that stayed up longer than max_backoff starts over at initial.
  std::chrono::milliseconds initial_backoff{50};
  std::chrono::milliseconds max_backoff{2000};
  // HTTP/2 keepalive: a peer that answers no ping within keepalive_timeout is
  // dead and its streams fail (this is how a stuck peer is detected).
  std::chrono::milliseconds keepalive_time{2000};
  std::chrono::milliseconds keepalive_timeout{3000};
  // Shutdown() waits this long for in-flight inbound calls before cancelling them.
  std::chrono::milliseconds shutdown_grace{500};

  // Accept Propose/ReadIndex from senders with node id 0 ("external clients":
  // tools, tests, benchmarks). They must still name this cluster, or send an
  // empty cluster id. Raft and Snapshot calls always need a known peer.
  bool accept_external_clients = true;
};

// Per-peer counters, for INFO and tests.
struct PeerStats {
  size_t queued_messages = 0;  // waiting in the send queues now (both lanes)
  size_t queued_bytes = 0;     // their size bounds (ApproximateSize)
  uint64_t sent_messages = 0;  // written to a stream (not necessarily delivered)
  uint64_t sent_batches = 0;
  uint64_t dropped_messages = 0;  // queue full, stream failed, or too large
  uint64_t stream_failures = 0;   // failed connection attempts and broken streams
  // The peer admitted a stream of ours, its last write succeeded, and neither
  // lane's last attempt failed (the bulk lane connects on first use).
  bool connected = false;
};

class Transport {
 public:
  // Does no I/O. `handler` is not owned and must outlive Shutdown().
  Transport(TransportOptions options, Handler* handler);
  // Calls Shutdown().
  ~Transport();
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  // Starts serving on `listen_address` ("127.0.0.1:7379"; port 0 picks a
  // free port). Errors: kInvalidArgument (bad options — no cluster id or node
  // id, a zero limit, max_queue_bytes < max_message_bytes, max_batch_bytes >
  // max_message_bytes, max_message_bytes out of range, bad backoff — or
  // already started),
  // kUnavailable (cannot listen: address in use, bad host). Not thread-safe
  // with itself; call once, before the other calls.
  Status Start(const std::string& listen_address);

  // The port actually listened on (useful after Start with port 0); 0 before Start.
  int port() const;

  // Makes `id` a known peer at `address` ("host:port"): messages to it are
  // sent, and calls from it are accepted. Adding a known id again with a new
  // address reconnects; with the same address it does nothing. Errors:
  // kInvalidArgument (id 0, this node's id, empty address), kUnavailable
  // (shut down). Thread-safe.
  Status AddPeer(NodeId id, const std::string& address);

  // Forgets `id`: its queue is dropped, its streams are cancelled (an
  // in-flight snapshot reports kCancelled), and its calls are refused from now
  // on. Waits for the peer's threads to end (bounded: cancelled streams return
  // at once). Unknown ids are ignored. Thread-safe; see the callback rule.
  void RemovePeer(NodeId id);

  // Queues each message for its m.to and returns at once: never blocks on the
  // network. Messages to unknown peers, and messages their peer's queue does
  // not admit (see TransportOptions), are dropped; drops are counted in
  // PeerStats, logged rate-limited, and reported to the handler
  // (OnPeerUnreachable, from another thread) so that Raft resends.
  //
  // Two lanes per peer, each its own stream, thread and connection:
  //   bulk:    messages with entries or snapshot data, and empty appends
  //            (kApp without entries) while bulk messages to that peer are
  //            queued or being written;
  //   control: everything else — heartbeats and their responses, votes and
  //            pre-votes, append responses, ReadIndex messages, TimeoutNow,
  //            empty appends while the bulk lane is idle.
  // So bulk data never delays control traffic: a heartbeat does not wait
  // behind a large append, not even one being written. Order is kept within
  // a lane, not between lanes. Raft tolerates that: a heartbeat's commit is
  // min(follower's match, commit), which the follower holds whatever is still
  // in flight; votes, pre-votes and responses are judged by their term and
  // index and are idempotent; a stale or early response is ignored or causes
  // at most a probe. Empty appends follow pending bulk messages because one
  // that overtook them would be rejected (it names the last index sent) and
  // the leader would resend all of them.
  //
  // A kSnap message given here travels inline with its snapshot->data; use
  // SendSnapshot for anything large. Thread-safe.
  void Send(std::vector<consensus::Message> msgs);

  // Streams a snapshot to msg.to on its own call: first msg (a kSnap message
  // whose snapshot->metadata is set; snapshot->data must be empty), then the
  // chunks `source` produces, pulled only as fast as the peer takes them.
  // `done` gets the outcome (see SnapshotCallback). One snapshot per peer at a
  // time; the next may start once `done` is invoked (also from inside `done`).
  // The source is destroyed, on a transport thread, before `done` runs.
  // Errors (done not called): kInvalidArgument (not a kSnap message, no
  // metadata, data not empty, null source), kUnavailable (unknown peer, shut
  // down), kBusy (a snapshot to this peer is in flight). Thread-safe.
  Status SendSnapshot(consensus::Message msg, std::unique_ptr<SnapshotSource> source,
                      SnapshotCallback done);

  // Forwards `commands` to peer `to` (the leader) and reports its answer (the
  // leader's Status passes through unchanged: OK with results, kNotLeader
  // with a hint, ...), or a transport failure: kDeadlineExceeded when
  // `timeout` passes first; kUnavailable when the peer cannot be reached or
  // the connection breaks; kRefused; kCancelled at Shutdown. gRPC cannot tell
  // whether a failed call reached the peer, so after any transport failure a
  // forwarded write's outcome is unknown. A request larger than
  // max_message_bytes is not sent: `done` gets kInvalidArgument "request of N
  // bytes exceeds the transport's max_message_bytes (M)" at once (on a
  // transport thread; the commands were not proposed). A response the leader
  // cannot send within max_message_bytes comes back as kInternal (the commands
  // were applied; their results are lost). Errors (done not called):
  // kUnavailable (unknown peer, shut down). Thread-safe.
  Status Propose(NodeId to, std::vector<std::string> commands, std::chrono::milliseconds timeout,
                 ProposeCallback done);

  // Asks peer `to` (the leader) for a read index; errors as Propose.
  Status ReadIndex(NodeId to, std::chrono::milliseconds timeout, ReadIndexCallback done);

  // Test-only partitions (see fault_filter.h): traffic to/from the peers it
  // names is dropped, in every kind of call. Empty (drops nothing) unless a
  // test fills it. Thread-safe.
  FaultFilter& faults();

  // Counters for `id`; all zero for an unknown id. Thread-safe.
  PeerStats Stats(NodeId id) const;

  // Stops everything and waits for it: queued messages are dropped, streams
  // and snapshots are cancelled (their callbacks get kCancelled), pending
  // inbound Propose/ReadIndex calls are answered kUnavailable, and the server
  // stops after waiting up to shutdown_grace for inbound calls. After it
  // returns no Handler method or callback runs again. Idempotent; thread-safe;
  // see the callback rule.
  void Shutdown();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace phalanx::transport
