// The vocabulary of the SWIM core: who a member is, what state it is in, what
// travels between members, and what the core reports to its caller.
//
// Everything here is a plain value type. Packets are C++ structs; their wire
// encoding lives in codec.h, so the protocol can be tested without bytes.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "util/status.h"

namespace phalanx::membership {

// ---- errors as values -------------------------------------------------------

// OK, or an error with a one-line message naming the problem (never empty).
struct StatusTag {};
using Status = util::MessageStatus<StatusTag>;

// A value or the Status that explains its absence.
template <typename T>
using Result = util::Result<T, Status>;

// ---- members ----------------------------------------------------------------

// What a member tells the others about itself. Every string is at most
// kMaxStringLength bytes so that any single update fits in one UDP packet.
struct NodeMeta {
  std::string id;            // stable and unique within the cluster
  std::string resp_address;  // where clients reach it (host:port)
  std::string raft_address;  // where peers replicate to it (host:port)
  std::string cluster_id;    // members of another cluster are ignored
  bool operator==(const NodeMeta&) const = default;
};
inline constexpr size_t kMaxStringLength = 255;

enum class State : uint8_t {
  kAlive,    // answering probes, or refuted the last suspicion
  kSuspect,  // a probe failed; dead unless it refutes before the suspicion timeout
  kDead,     // the suspicion timed out (may come back with a higher incarnation)
  kLeft,     // left on purpose; distinct from dead so callers need not alarm anyone
};
const char* StateName(State s);

struct Member {
  NodeMeta meta;
  std::string address;  // its gossip (UDP) address, host:port
  State state = State::kAlive;
  // Only the member itself raises its incarnation (to refute a suspicion or
  // to publish new metadata); a higher incarnation always wins.
  uint64_t incarnation = 0;
  bool operator==(const Member&) const = default;
};

// ---- what the core reports ----------------------------------------------------

struct Event {
  enum class Kind : uint8_t {
    kJoined,   // first heard of (alive)
    kAlive,    // back to alive from suspect, dead or left
    kSuspect,  // suspected
    kDead,     // declared dead
    kLeft,     // left gracefully
    kUpdated,  // still alive, new metadata or address
  };
  Kind kind;
  Member member;  // the member as it is after the change
};
const char* EventKindName(Event::Kind k);

// ---- what travels between members ------------------------------------------

// A piece of gossip about one member. Updates are idempotent and ordered by
// (incarnation, kind): applying the same one twice changes nothing, which is
// what makes retransmission and push-pull safe.
struct Update {
  enum class Kind : uint8_t { kAlive = 1, kSuspect = 2, kDead = 3, kLeft = 4 };
  Kind kind = Kind::kAlive;
  std::string id;  // the member this is about
  uint64_t incarnation = 0;
  // kAlive only: the member's metadata (cluster_id is not sent per update; a
  // packet carries it once) and gossip address.
  std::string address;
  std::string resp_address;
  std::string raft_address;
  // kSuspect, kDead: who says so. Distinct suspecters are the independent
  // confirmations that shorten a suspicion (Lifeguard).
  std::string from;
  bool operator==(const Update&) const = default;
};

enum class PacketType : uint8_t {
  kPing = 1,      // direct probe; answer with kAck
  kPingReq = 2,   // "probe target for me" (indirect probe); answer kAck or kNack
  kAck = 3,       // the probe with `seq` succeeded
  kNack = 4,      // from an indirect prober: the target did not answer in time
  kPushPull = 5,  // a chunk of the sender's full state
  kGossip = 6,    // updates only (used on leave, when there is no probe to ride on)
};
const char* PacketTypeName(PacketType t);

struct Packet {
  PacketType type = PacketType::kPing;
  std::string cluster_id;  // a packet from another cluster is dropped unread
  std::string from_id;     // the sender's node id
  uint32_t seq = 0;        // kPing, kPingReq, kAck, kNack
  // kPing: the member the prober means to reach (a restarted process with
  // another id at the same address must not answer for the old one).
  // kPingReq: the member to probe and its address.
  std::string target_id;
  std::string target_address;
  // kPushPull: the receiver should answer with its own full state.
  bool reply_wanted = false;
  // Piggybacked gossip (any type), or the state chunk (kPushPull).
  std::vector<Update> updates;
  bool operator==(const Packet&) const = default;
};

// A packet the caller must send.
struct Outgoing {
  std::string to;  // gossip address, host:port
  Packet packet;
};

}  // namespace phalanx::membership
