// Configuration of one SWIM member. Everything that varies between runs —
// including the randomness of probe order and gossip targets — comes in
// through here. Durations are in ticks or protocol periods; the caller decides
// how long a tick is (the UDP driver: period / ticks_per_period).
#pragma once

#include <cstdint>
#include <string>

#include "membership/types.h"

namespace phalanx::membership {

struct Config {
  // Who this member is. meta.id and meta.cluster_id must be non-empty.
  NodeMeta meta;
  // This member's own gossip address as the others should reach it (host:port).
  std::string address;
  // Starting incarnation. A restarted process that passes something larger
  // than any incarnation it ever used (e.g. a wall-clock second count taken by
  // its driver) comes back alive at once instead of being refuted first.
  uint64_t initial_incarnation = 0;
  // Seeds every random choice (probe order, indirect probers, gossip targets).
  uint64_t seed = 0;

  // ---- timing (SWIM §3, memberlist's LAN profile) ----
  // Ticks per protocol period: one probe is started per period.
  int ticks_per_period = 10;
  // Ticks to wait for a direct ack before asking k others to probe.
  int probe_timeout_ticks = 3;
  // Ticks an indirect prober waits for the target before sending a nack. It
  // must leave room for the nack to arrive before the prober's period ends.
  int indirect_timeout_ticks = 4;
  // Members asked to probe indirectly after a direct timeout.
  int indirect_probes = 3;

  // ---- suspicion (Lifeguard §4.2) ----
  // Minimum suspicion timeout = suspicion_mult · max(1, log10(n)) periods.
  int suspicion_mult = 4;
  // A new suspicion starts at suspicion_max_mult × the minimum and shrinks
  // towards the minimum as independent members confirm it.
  int suspicion_max_mult = 6;

  // ---- dissemination ----
  // Each update is piggybacked at most retransmit_mult · ceil(log10(n+1)) times.
  int retransmit_mult = 4;
  // Full-state exchange with one random member every this many periods
  // (scaled up for clusters above 32 members, as memberlist does), plus one
  // with a random dead member so a healed partition reconnects. 0: never.
  int push_pull_periods = 30;
  // While no other member is known, Join() seeds are retried this often.
  int join_retry_periods = 2;
  // Dead and left members are forgotten after this many periods.
  int reap_periods = 3600;
  // Encoded packets stay within this many bytes (one UDP datagram, no IP
  // fragmentation on a 1500-byte MTU).
  int max_packet_bytes = 1400;

  // ---- Lifeguard ----
  // Local health awareness (§4.1): probe timeouts and intervals are scaled by
  // (1 + health score), the score bounded to [0, awareness_max - 1].
  // awareness_max = 1 turns it off.
  int awareness_max = 8;
  // Off: suspicions use the minimum timeout from the start, nacks are not
  // requested and the suspect hint is not sent — plain SWIM, for comparison.
  bool lifeguard = true;

  // Ok, or an error naming the first bad field.
  Status Validate() const;
};

}  // namespace phalanx::membership
