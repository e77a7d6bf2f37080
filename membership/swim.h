// Swim: one member of a SWIM group (Das, Gupta, Motivala, "SWIM: Scalable
// Weakly-consistent Infection-style Process Group Membership Protocol",
// DSN 2002) with the Lifeguard extensions (Dadgar, Phillips, Currey,
// "Lifeguard: Local Health Awareness for More Accurate Failure Detection",
// arXiv 1707.00788). See README.md beside this file for the protocol.
//
// A pure, deterministic state machine, like consensus/: no sockets, no clock,
// no threads. The caller drives it:
//
//   auto swim = Swim::Create(config).value();
//   swim->Join({"10.0.0.1:7946"});                  // once, any seeds
//   every tick:          swim->Tick();
//   every datagram:      swim->Receive(from, codec::Decode(bytes).value());
//   after any call:      for (auto& o : swim->DrainOutbox()) send(o.to, codec::Encode(o.packet));
//                        for (auto& e : swim->DrainEvents()) report(e);
//   to leave:            swim->Leave(); then keep ticking and sending a little
//
// Every packet in the outbox encodes to at most Config::max_packet_bytes.
// Determinism: the same Config (seed included) and the same calls in the
// same order give the same outbox and events. Thread safety: none; the
// caller serializes all calls.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "membership/broadcast.h"
#include "membership/config.h"
#include "membership/random.h"
#include "membership/suspicion.h"
#include "membership/types.h"

namespace phalanx::membership {

// Counters for tests, benchmarks and INFO.
struct SwimStats {
  uint64_t packets_received = 0;
  uint64_t foreign_packets = 0;  // another cluster id: dropped
  uint64_t ignored_packets = 0;  // from ourselves, or a ping meant for another id
  uint64_t probes = 0;           // direct probes started
  uint64_t indirect_probes = 0;  // probes that needed the indirect round
  uint64_t failed_probes = 0;    // probes that ended in a suspicion
  uint64_t nacks_received = 0;
  uint64_t refutations = 0;  // times this member raised its incarnation to refute
  uint64_t push_pulls = 0;   // full-state exchanges started
};

class Swim {
 public:
  // Validates the config. The member starts alive and alone.
  static Result<std::unique_ptr<Swim>> Create(const Config& config);

  // Advances logical time by one tick.
  void Tick();
  // Handles a packet that arrived from `from_address`. Packets of another
  // cluster, or that make no sense now, are ignored (and counted): never an
  // error, because the network is not to be trusted.
  void Receive(const std::string& from_address, const Packet& packet);
  // Exchanges full state with every seed (own address skipped), and retries
  // every Config::join_retry_periods while no other member is known.
  void Join(const std::vector<std::string>& seed_addresses);
  // Announces a graceful leave: state kLeft with a higher incarnation, sent
  // straight to a few members and gossiped. Afterwards the member stops
  // probing and only answers pings; keep ticking and sending for a period or
  // two so the news gets out.
  void Leave();
  // Publishes new addresses (same id and cluster) with a higher incarnation.
  Status UpdateMeta(const NodeMeta& meta);

  // Packets to send and events that happened, since the last drain.
  std::vector<Outgoing> DrainOutbox();
  std::vector<Event> DrainEvents();

  // Everyone known, this member included, sorted by id.
  std::vector<Member> Members() const;
  const Member& self() const { return nodes_.at(config_.meta.id).member; }
  // One member by id, or nullptr. Valid until the next call that mutates.
  const Member* Find(const std::string& id) const {
    auto it = nodes_.find(id);
    return it == nodes_.end() ? nullptr : &it->second.member;
  }
  // Lifeguard's local health score: 0 is healthy; probe timeouts and
  // intervals are multiplied by health() + 1.
  int health() const { return health_; }
  // Members alive or suspect, this one included: the n of every log(n).
  int live_count() const { return live_count_; }
  uint64_t now() const { return now_; }
  const SwimStats& stats() const { return stats_; }
  const Config& config() const { return config_; }

  // The current timeouts, in ticks (exposed so tests can derive bounds).
  uint64_t SuspicionMinTicks() const;
  uint64_t SuspicionMaxTicks() const;
  int RetransmitLimit() const;
  uint64_t PushPullIntervalTicks() const;

 private:
  struct Node {
    Member member;
    uint64_t state_tick = 0;  // when it entered its current state
    std::optional<Suspicion> suspicion;
  };
  // The probe this member has out (one per period).
  struct Probe {
    bool active = false;
    std::string target;
    uint32_t seq = 0;
    uint64_t direct_deadline = 0;  // then ask k others
    uint64_t end = 0;              // then suspect, unless acked
    bool acked = false;
    bool indirect_sent = false;
    int expected_nacks = 0;
    int nacks = 0;
  };
  // A probe this member runs on behalf of another (kPingReq).
  struct Relay {
    std::string origin_address;
    std::string origin_id;
    uint32_t origin_seq = 0;
    uint64_t deadline = 0;  // then nack
  };

  // Only Create() makes one (it validates first); the key keeps the
  // constructor usable by std::make_unique without making it public.
  struct CreateKey {};

 public:
  Swim(CreateKey, const Config& config);

 private:
  // Probing.
  void StartProbe();
  void SendIndirectProbes();
  void FinishProbe();
  std::optional<std::string> NextProbeTarget();
  uint64_t Scaled(int ticks) const { return static_cast<uint64_t>(ticks) * (health_ + 1); }
  void AdjustHealth(int delta);

  // Gossip in: one update, applied by SWIM's precedence rules.
  void Apply(const Update& u, const std::string& sender, bool from_push_pull);
  void ApplyAlive(const Update& u);
  void ApplySuspect(const Update& u);
  void ApplyDead(const Update& u);
  void ApplyLeft(const Update& u);
  void ApplyAboutSelf(const Update& u);
  void Refute(uint64_t accused_incarnation);
  void FlushCorrections(const std::string& to);
  // This member's own verdicts.
  void SuspectNode(const std::string& id);
  void DeclareDead(const std::string& id);

  // State bookkeeping.
  void SetState(Node* node, State state);
  void Emit(Event::Kind kind, const Node& node);
  void StartSuspicion(Node* node, const std::string& from);
  void ReapDeparted();

  // Gossip out.
  Update AliveUpdate(const Member& m) const;
  void Broadcast(Update u) { broadcasts_.Push(std::move(u)); }
  void Send(const std::string& to, const std::string& to_id, Packet packet);
  void SendState(const std::string& to, bool reply_wanted);
  Packet NewPacket(PacketType type) const;

  Config config_;
  Rng rng_;
  uint64_t now_ = 0;
  std::map<std::string, Node> nodes_;  // by id, this member included
  int live_count_ = 1;
  std::set<std::string> suspected_;  // ids with a running suspicion timer
  std::set<std::string> departed_;   // ids dead or left (reaped after a while)

  std::vector<std::string> probe_order_;
  size_t probe_index_ = 0;
  Probe probe_;
  uint64_t next_probe_tick_ = 0;
  uint32_t next_seq_ = 1;
  std::map<uint32_t, Relay> relays_;

  int health_ = 0;
  bool left_ = false;

  std::vector<std::string> seeds_;
  uint64_t next_join_tick_ = 0;
  uint64_t next_push_pull_tick_ = 0;
  uint64_t next_reap_tick_ = 0;

  BroadcastQueue broadcasts_;
  // Newer views to send straight back to the sender of the packet being
  // handled (corrections_to_), on its reply or on a gossip packet of their own.
  std::vector<Update> corrections_;
  std::string corrections_to_;
  std::vector<Outgoing> outbox_;
  std::vector<Event> events_;
  SwimStats stats_;
};

}  // namespace phalanx::membership
