// Plain data types the Raft core consumes and produces: log entries, hard state,
// membership, snapshots and messages. Their wire form lives in proto/ and is
// converted by the transport; nothing here knows about bytes on a network.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "consensus/status.h"

namespace phalanx::consensus {

enum class EntryType : uint8_t {
  kNormal = 0,      // application command; empty data is the leader's no-op (§8)
  kConfChange = 1,  // a single-server membership change, data = ConfChange::Encode()
};

// An entry's command bytes: immutable and shared. One proposal's bytes are
// handed to the unstable log, to every follower's append, to the Ready that
// persists them and to the batch that applies them; copying a Payload shares
// the bytes (a reference count) instead of duplicating them.
//
// Thread safety: like std::shared_ptr<const std::string> — copies may be used
// and destroyed on different threads; the bytes never change.
class Payload {
 public:
  Payload() = default;
  Payload(std::string bytes)  // NOLINT(google-explicit-constructor): bytes are a payload
      : bytes_(bytes.empty() ? nullptr : std::make_shared<const std::string>(std::move(bytes))) {}
  Payload(const char* bytes)  // NOLINT(google-explicit-constructor)
      : Payload(std::string(bytes)) {}

  // The bytes; valid while this Payload (or a copy) lives.
  const std::string& str() const { return bytes_ ? *bytes_ : Empty(); }
  operator std::string_view() const { return str(); }  // NOLINT(google-explicit-constructor)
  const char* data() const { return str().data(); }
  size_t size() const { return bytes_ ? bytes_->size() : 0; }
  bool empty() const { return size() == 0; }

  // Equal bytes, shared or not.
  bool operator==(const Payload& o) const { return bytes_ == o.bytes_ || str() == o.str(); }
  bool operator==(const std::string& o) const { return str() == o; }
  bool operator==(std::string_view o) const { return std::string_view(str()) == o; }
  bool operator==(const char* o) const { return std::string_view(str()) == o; }
  friend std::ostream& operator<<(std::ostream& os, const Payload& p) { return os << p.str(); }

 private:
  static const std::string& Empty() {
    static const std::string empty;
    return empty;
  }
  std::shared_ptr<const std::string> bytes_;
};

struct Entry {
  uint64_t term = 0;
  uint64_t index = 0;
  EntryType type = EntryType::kNormal;
  Payload data;

  // Approximate size for flow control: payload plus a fixed header.
  size_t ByteSize() const { return data.size() + 24; }
  bool operator==(const Entry&) const = default;
};

// What must be durable before a node answers any message (Raft paper, Figure 2).
struct HardState {
  uint64_t term = 0;
  NodeId vote = kNoNode;
  uint64_t commit = 0;
  bool operator==(const HardState&) const = default;
  bool IsEmpty() const { return term == 0 && vote == kNoNode && commit == 0; }
};

// The membership a log prefix (or snapshot) establishes. Ids are kept sorted.
struct ConfState {
  std::vector<NodeId> voters;
  std::vector<NodeId> learners;
  bool operator==(const ConfState&) const = default;
  bool IsVoter(NodeId id) const;
  bool IsLearner(NodeId id) const;
  bool IsMember(NodeId id) const { return IsVoter(id) || IsLearner(id); }
};

// One server at a time (Raft thesis §4.1): each change differs from the
// previous configuration by one server, so any two majorities overlap.
struct ConfChange {
  enum class Type : uint8_t {
    kAddLearner = 0,  // a new non-voting member that receives the log
    kAddVoter = 1,    // promote a learner (or add a new server directly as a voter)
    kRemoveNode = 2,  // remove a voter or a learner
  };
  Type type = Type::kAddLearner;
  NodeId node_id = kNoNode;
  std::string context;  // opaque to Raft: the engine stores the node's addresses here

  std::string Encode() const;
  static Result<ConfChange> Decode(std::string_view data);
  bool operator==(const ConfChange&) const = default;
};

struct SnapshotMetadata {
  uint64_t index = 0;    // last entry the snapshot covers
  uint64_t term = 0;     // term of that entry
  ConfState conf_state;  // the configuration in force at `index` (chain/Core#1335)
  bool operator==(const SnapshotMetadata&) const = default;
};

// A snapshot as the core sees it: metadata plus opaque state-machine bytes. The
// engine may keep `data` empty and stream the real state separately in chunks.
struct Snapshot {
  SnapshotMetadata metadata;
  std::string data;
  bool IsEmpty() const { return metadata.index == 0; }
  bool operator==(const Snapshot&) const = default;
};

enum class MessageType : uint8_t {
  kApp,  // AppendEntries (§5.3)
  kAppResp,
  kVote,  // RequestVote (§5.2)
  kVoteResp,
  kPreVote,  // pre-vote (thesis §9.6): a trial election that changes no term
  kPreVoteResp,
  kHeartbeat,  // empty append carrying the commit index and the read round
  kHeartbeatResp,
  kSnap,           // InstallSnapshot (§7)
  kTimeoutNow,     // leadership transfer: campaign at once (thesis §3.10)
  kReadIndex,      // follower → leader: request a read index for `context`
  kReadIndexResp,  // leader → follower: `index` is safe to read at for `context`
};
const char* MessageTypeName(MessageType t);

// One message between two Raft nodes. Fields not meaningful for a type stay zero.
struct Message {
  MessageType type = MessageType::kApp;
  NodeId from = kNoNode;
  NodeId to = kNoNode;
  uint64_t term = 0;

  // kApp: index/log_term of the entry preceding `entries`.
  // kVote/kPreVote: the candidate's last index and last term.
  // kAppResp: accepted → last index now matching; rejected → the rejected index,
  //   with reject_hint/log_term giving the follower's hint for fast backtracking.
  // kReadIndexResp: the read index.
  uint64_t index = 0;
  uint64_t log_term = 0;
  std::vector<Entry> entries;
  uint64_t commit = 0;
  bool reject = false;
  uint64_t reject_hint = 0;

  // kVote/kPreVote sent because of a leadership transfer: bypasses the
  // receiver's leader lease (thesis §3.10).
  bool transfer = false;
  // kHeartbeat/kHeartbeatResp: the leader's read-confirmation round being acknowledged.
  uint64_t read_round = 0;
  // kReadIndex/kReadIndexResp: the caller's request context.
  std::string context;
  // kSnap
  std::optional<Snapshot> snapshot;

  bool operator==(const Message&) const = default;
};

// Human-readable one-liner for logs and failing tests.
std::string DescribeMessage(const Message& m);
std::string DescribeEntry(const Entry& e);

}  // namespace phalanx::consensus
