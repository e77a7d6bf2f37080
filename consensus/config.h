// Configuration of one Raft node. Everything that varies between runs —
// including the randomness of election timeouts — comes in through here.
#pragma once

#include <cstddef>
#include <cstdint>

#include "consensus/status.h"
#include "consensus/storage.h"

namespace phalanx::consensus {

enum class ReadMode : uint8_t {
  // ReadIndex confirmed by a heartbeat round to a quorum (thesis §6.4). Safe
  // under any clock behaviour. The default.
  kSafe,
  // Leader lease (thesis §6.4.1): answer from the commit index without a
  // round while a quorum acknowledged a heartbeat sent less than
  // election_tick - 2 ticks ago (voters ignore elections for election_tick
  // ticks after hearing from their leader; a restarted node does so for its
  // first election_tick ticks); otherwise fall back to a ReadIndex round.
  // Safe only while every node's tick runs at nearly the same rate: a clock
  // that runs fast by more than 2/election_tick, or a node paused mid-tick,
  // breaks it (tikv/tikv#964). Needs check_quorum.
  kLeaseBased,
};

struct Config {
  NodeId id = kNoNode;
  // The durable log. Not owned; must outlive the node.
  const Storage* storage = nullptr;

  // A follower that hears nothing for a randomized [election_tick,
  // 2*election_tick) ticks campaigns. Keep it well above the slowest fsync
  // (etcd-io/etcd#7970).
  int election_tick = 10;
  // A leader sends heartbeats every heartbeat_tick ticks.
  int heartbeat_tick = 1;
  // Seeds the election-timeout randomness. Same seed, same calls → same outputs.
  uint64_t seed = 0;

  // Last index the state machine applied before this start (0 on first boot).
  uint64_t applied = 0;

  // Byte limits (etcd-io/raft's semantics). Entry sizes are Entry::ByteSize()
  // (payload plus a fixed header) except where noted.
  //
  // Max bytes of entries in one append message. An entry larger than the
  // limit goes alone: a message carries at least one entry (0: exactly one).
  uint64_t max_size_per_msg = 1 << 20;
  // Max bytes of committed entries handed out in one Ready (at least one entry).
  uint64_t max_committed_size_per_ready = 64ull << 20;
  // Max payload bytes of proposals a leader holds uncommitted; beyond it
  // Propose answers kProposalDropped. A proposal is always accepted while
  // nothing is uncommitted, so no entry is refused forever. 0: unlimited.
  uint64_t max_uncommitted_entries_size = 0;
  // Pipelining window per follower in replicate state: appends in flight, and
  // their bytes. Sending pauses once either is reached (the last append may
  // overshoot the byte limit; an entry larger than it goes alone) and resumes
  // as acknowledgements, or a heartbeat answer, free the window. 0 bytes: unlimited.
  size_t max_inflight_msgs = 256;
  uint64_t max_inflight_bytes = 0;

  // A leader that has not heard from a quorum within an election timeout
  // steps down; followers that heard from a leader within one ignore votes.
  bool check_quorum = true;
  // Campaign with a pre-vote first (thesis §9.6), so a partitioned or removed
  // node cannot disrupt the cluster with ever-higher terms.
  bool pre_vote = true;
  ReadMode read_mode = ReadMode::kSafe;

  // kInvalidArgument naming the first bad field, or Ok.
  Status Validate() const;
};

}  // namespace phalanx::consensus
