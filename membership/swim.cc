#include "membership/swim.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "membership/codec.h"
#include "util/fnv1a.h"

namespace phalanx::membership {

namespace {

bool IsLive(State s) {
  return s == State::kAlive || s == State::kSuspect;
}

Status CheckString(const std::string& s, const char* what, bool required) {
  if (required && s.empty()) return Status::Error(std::string(what) + " must be set");
  if (s.size() > kMaxStringLength) {
    return Status::Error(std::string(what) + " exceeds " + std::to_string(kMaxStringLength) +
                         " bytes");
  }
  return Status::Ok();
}

// Members asked directly when leaving, so the news does not wait for a probe.
constexpr int kLeaveFanout = 5;
// Past this many candidates, indirect probers and push-pull partners are
// drawn by rejection sampling instead of a full scan (kept O(k) per probe).
constexpr size_t kSampleScanLimit = 32;

}  // namespace

const char* StateName(State s) {
  switch (s) {
    case State::kAlive:
      return "alive";
    case State::kSuspect:
      return "suspect";
    case State::kDead:
      return "dead";
    case State::kLeft:
      return "left";
  }
  return "?";
}

const char* EventKindName(Event::Kind k) {
  switch (k) {
    case Event::Kind::kJoined:
      return "joined";
    case Event::Kind::kAlive:
      return "alive";
    case Event::Kind::kSuspect:
      return "suspect";
    case Event::Kind::kDead:
      return "dead";
    case Event::Kind::kLeft:
      return "left";
    case Event::Kind::kUpdated:
      return "updated";
  }
  return "?";
}

const char* PacketTypeName(PacketType t) {
  switch (t) {
    case PacketType::kPing:
      return "ping";
    case PacketType::kPingReq:
      return "ping-req";
    case PacketType::kAck:
      return "ack";
    case PacketType::kNack:
      return "nack";
    case PacketType::kPushPull:
      return "push-pull";
    case PacketType::kGossip:
      return "gossip";
  }
  return "?";
}

Status Config::Validate() const {
  for (Status s : {CheckString(meta.id, "meta.id", true),
                   CheckString(meta.cluster_id, "meta.cluster_id", true),
                   CheckString(meta.resp_address, "meta.resp_address", false),
                   CheckString(meta.raft_address, "meta.raft_address", false),
                   CheckString(address, "address", true)}) {
    if (!s.ok()) return s;
  }
  auto bad = [](const char* what) { return Status::Error(what); };
  if (ticks_per_period < 2) return bad("ticks_per_period must be at least 2");
  if (probe_timeout_ticks < 1 || probe_timeout_ticks >= ticks_per_period) {
    return bad("probe_timeout_ticks must be in [1, ticks_per_period)");
  }
  if (indirect_timeout_ticks < 1) return bad("indirect_timeout_ticks must be positive");
  if (indirect_probes < 0) return bad("indirect_probes must not be negative");
  if (suspicion_mult < 1) return bad("suspicion_mult must be positive");
  if (suspicion_max_mult < 1) return bad("suspicion_max_mult must be positive");
  if (retransmit_mult < 1) return bad("retransmit_mult must be positive");
  if (push_pull_periods < 0) return bad("push_pull_periods must not be negative");
  if (join_retry_periods < 1) return bad("join_retry_periods must be positive");
  if (reap_periods < 1) return bad("reap_periods must be positive");
  if (awareness_max < 1) return bad("awareness_max must be positive");
  if (max_packet_bytes < 512 || static_cast<size_t>(max_packet_bytes) > codec::kMaxDatagram) {
    return bad("max_packet_bytes must be in [512, 65507]");
  }
  // This member's own announcement must fit in one push-pull packet.
  Packet p;
  p.type = PacketType::kPushPull;
  p.cluster_id = meta.cluster_id;
  p.from_id = meta.id;
  Update self{Update::Kind::kAlive, meta.id, 0, address, meta.resp_address, meta.raft_address, ""};
  p.updates.push_back(self);
  if (codec::EncodedSize(p) > static_cast<size_t>(max_packet_bytes)) {
    return bad("id and addresses do not fit in max_packet_bytes");
  }
  return Status::Ok();
}

Result<std::unique_ptr<Swim>> Swim::Create(const Config& config) {
  Status s = config.Validate();
  if (!s.ok()) return s;
  return std::make_unique<Swim>(CreateKey{}, config);
}

// The id's hash gives members that share a seed different random streams.
Swim::Swim(CreateKey, const Config& config)
    : config_(config), rng_(config.seed ^ util::Fnv1a64(config.meta.id)) {
  Node self;
  self.member = Member{config.meta, config.address, State::kAlive, config.initial_incarnation};
  nodes_.emplace(config.meta.id, std::move(self));
  // Spread the members' probe and push-pull phases over the period so that a
  // cluster started at one instant does not probe in lockstep.
  next_probe_tick_ = 1 + rng_.Below(config.ticks_per_period);
  next_push_pull_tick_ = 1 + rng_.Below(PushPullIntervalTicks() + 1);
  next_reap_tick_ = config.ticks_per_period;
}

// ---- timeouts -----------------------------------------------------------------

uint64_t Swim::SuspicionMinTicks() const {
  double scale = std::max(1.0, std::log10(static_cast<double>(std::max(1, live_count_))));
  return static_cast<uint64_t>(config_.suspicion_mult * scale * config_.ticks_per_period);
}

uint64_t Swim::SuspicionMaxTicks() const {
  return SuspicionMinTicks() * static_cast<uint64_t>(config_.suspicion_max_mult);
}

int Swim::RetransmitLimit() const {
  return config_.retransmit_mult *
         static_cast<int>(std::ceil(std::log10(static_cast<double>(live_count_) + 1.0)));
}

uint64_t Swim::PushPullIntervalTicks() const {
  // Push-pull sends the whole state, O(n) bytes: above 32 members stretch the
  // interval by log2(n/32) + 1 (memberlist's pushPullScale) so its share of
  // the per-member traffic stays near constant.
  uint64_t interval = static_cast<uint64_t>(config_.push_pull_periods) *
                      static_cast<uint64_t>(config_.ticks_per_period);
  if (live_count_ <= 32) return interval;
  double mult = std::ceil(std::log2(static_cast<double>(live_count_)) - std::log2(32.0)) + 1.0;
  return interval * static_cast<uint64_t>(mult);
}

void Swim::AdjustHealth(int delta) {
  if (!config_.lifeguard) return;
  health_ = std::clamp(health_ + delta, 0, config_.awareness_max - 1);
}

// ---- the clock ----------------------------------------------------------------

void Swim::Tick() {
  ++now_;
  if (left_) return;

  if (!suspected_.empty()) {
    std::vector<std::string> expired;
    for (const std::string& id : suspected_) {
      const Node& n = nodes_.at(id);
      if (n.suspicion && now_ >= n.suspicion->Deadline()) expired.push_back(id);
    }
    for (const std::string& id : expired)
      DeclareDead(id);
  }

  for (auto it = relays_.begin(); it != relays_.end();) {
    if (now_ < it->second.deadline) {
      ++it;
      continue;
    }
    // The target did not answer us either: tell the origin we are alive and
    // tried, so it does not blame its own health (Lifeguard §4.1).
    Packet nack = NewPacket(PacketType::kNack);
    nack.seq = it->second.origin_seq;
    Relay r = std::move(it->second);
    it = relays_.erase(it);
    Send(r.origin_address, r.origin_id, std::move(nack));
  }

  if (probe_.active) {
    if (!probe_.acked && !probe_.indirect_sent && now_ >= probe_.direct_deadline) {
      SendIndirectProbes();
    }
    if (now_ >= probe_.end) FinishProbe();
  }
  if (!probe_.active && now_ >= next_probe_tick_) StartProbe();

  const uint64_t period = static_cast<uint64_t>(config_.ticks_per_period);
  if (!seeds_.empty() && live_count_ <= 1 && now_ >= next_join_tick_) {
    for (const std::string& seed : seeds_)
      SendState(seed, /*reply_wanted=*/true);
    next_join_tick_ = now_ + period * static_cast<uint64_t>(config_.join_retry_periods);
  }

  if (config_.push_pull_periods > 0 && now_ >= next_push_pull_tick_) {
    next_push_pull_tick_ = now_ + PushPullIntervalTicks();
    // With a random live member: repairs whatever gossip lost.
    std::vector<std::string> live;
    if (probe_order_.size() <= kSampleScanLimit) {
      for (const auto& [id, n] : nodes_) {
        if (id != config_.meta.id && IsLive(n.member.state)) live.push_back(id);
      }
    } else {
      for (int attempt = 0; attempt < 16 && live.empty(); ++attempt) {
        const std::string& id = probe_order_[rng_.Below(probe_order_.size())];
        auto it = nodes_.find(id);
        if (it != nodes_.end() && IsLive(it->second.member.state)) live.push_back(id);
      }
    }
    if (!live.empty()) {
      SendState(nodes_.at(live[rng_.Below(live.size())]).member.address, true);
      stats_.push_pulls++;
    }
    // With a random dead member: after a partition heals nobody probes the
    // members it declared dead, so without this the halves never meet again.
    std::vector<std::string> dead;
    for (const std::string& id : departed_) {
      if (nodes_.at(id).member.state == State::kDead) dead.push_back(id);
    }
    if (!dead.empty()) {
      SendState(nodes_.at(dead[rng_.Below(dead.size())]).member.address, true);
      stats_.push_pulls++;
    }
  }

  if (now_ >= next_reap_tick_) {
    ReapDeparted();
    next_reap_tick_ = now_ + period;
  }
}

// ---- probing ------------------------------------------------------------------

std::optional<std::string> Swim::NextProbeTarget() {
  // Round-robin over a shuffled list, reshuffled after each pass (SWIM §4.3):
  // every live member is probed by each other member within two passes,
  // which bounds the detection time; randomness alone would not.
  for (int pass = 0; pass < 2; ++pass) {
    while (probe_index_ < probe_order_.size()) {
      const std::string& id = probe_order_[probe_index_++];
      auto it = nodes_.find(id);
      if (it != nodes_.end() && id != config_.meta.id && IsLive(it->second.member.state)) {
        return id;
      }
    }
    probe_order_.clear();
    for (const auto& [id, n] : nodes_) {
      if (id != config_.meta.id && IsLive(n.member.state)) probe_order_.push_back(id);
    }
    rng_.Shuffle(&probe_order_);
    probe_index_ = 0;
  }
  return std::nullopt;
}

void Swim::StartProbe() {
  next_probe_tick_ = now_ + Scaled(config_.ticks_per_period);
  std::optional<std::string> target = NextProbeTarget();
  if (!target) return;
  const Node& n = nodes_.at(*target);
  probe_ = Probe{};
  probe_.active = true;
  probe_.target = *target;
  probe_.seq = next_seq_++;
  // Lifeguard: a member that has been missing acks waits longer — the fault
  // may well be its own slowness rather than the target's.
  probe_.direct_deadline = now_ + Scaled(config_.probe_timeout_ticks);
  probe_.end = next_probe_tick_;
  stats_.probes++;
  Packet ping = NewPacket(PacketType::kPing);
  ping.seq = probe_.seq;
  ping.target_id = *target;
  Send(n.member.address, *target, std::move(ping));
}

void Swim::SendIndirectProbes() {
  probe_.indirect_sent = true;
  auto target = nodes_.find(probe_.target);
  if (target == nodes_.end()) return;
  stats_.indirect_probes++;
  const size_t k = static_cast<size_t>(config_.indirect_probes);
  auto eligible = [&](const std::string& id) {
    if (id == config_.meta.id || id == probe_.target) return false;
    auto it = nodes_.find(id);
    return it != nodes_.end() && it->second.member.state == State::kAlive;
  };
  std::vector<std::string> chosen;
  if (probe_order_.size() <= kSampleScanLimit) {
    for (const auto& [id, n] : nodes_) {
      if (eligible(id)) chosen.push_back(id);
    }
    rng_.Shuffle(&chosen);
    if (chosen.size() > k) chosen.resize(k);
  } else {
    for (size_t attempt = 0; attempt < 4 * k + 8 && chosen.size() < k; ++attempt) {
      const std::string& id = probe_order_[rng_.Below(probe_order_.size())];
      if (eligible(id) && std::find(chosen.begin(), chosen.end(), id) == chosen.end()) {
        chosen.push_back(id);
      }
    }
  }
  probe_.expected_nacks = config_.lifeguard ? static_cast<int>(chosen.size()) : 0;
  for (const std::string& id : chosen) {
    Packet req = NewPacket(PacketType::kPingReq);
    req.seq = probe_.seq;
    req.target_id = probe_.target;
    req.target_address = target->second.member.address;
    Send(nodes_.at(id).member.address, id, std::move(req));
  }
}

void Swim::FinishProbe() {
  probe_.active = false;
  if (probe_.acked) {
    AdjustHealth(-1);
    return;
  }
  // Lifeguard §4.1: missing nacks mean the helpers could not reach us or we
  // could not hear them — evidence against our own health. Without helpers
  // a failed probe counts once.
  if (probe_.expected_nacks > 0) {
    AdjustHealth(std::max(0, probe_.expected_nacks - probe_.nacks));
  } else {
    AdjustHealth(1);
  }
  stats_.failed_probes++;
  SuspectNode(probe_.target);
}

// ---- this member's verdicts ------------------------------------------------------

void Swim::SuspectNode(const std::string& id) {
  auto it = nodes_.find(id);
  if (it == nodes_.end()) return;
  Node& n = it->second;
  Update u{Update::Kind::kSuspect, id, n.member.incarnation, "", "", "", config_.meta.id};
  if (n.member.state == State::kSuspect) {
    // Our failed probe is an independent confirmation of someone else's
    // suspicion: count it and pass it on so the others shorten theirs.
    if (n.suspicion && n.suspicion->Confirm(config_.meta.id)) Broadcast(std::move(u));
    return;
  }
  if (n.member.state != State::kAlive) return;
  SetState(&n, State::kSuspect);
  StartSuspicion(&n, config_.meta.id);
  Emit(Event::Kind::kSuspect, n);
  Broadcast(std::move(u));
  // Lifeguard's buddy system, taken one step further: tell the member at
  // once (the hint rides on this packet, see Send), so a live one whose
  // probe was merely lost refutes now rather than when the rumour finds it.
  if (config_.lifeguard) Send(n.member.address, id, NewPacket(PacketType::kGossip));
}

void Swim::DeclareDead(const std::string& id) {
  Node& n = nodes_.at(id);
  if (n.member.state != State::kSuspect) return;
  SetState(&n, State::kDead);
  Emit(Event::Kind::kDead, n);
  Broadcast(Update{Update::Kind::kDead, id, n.member.incarnation, "", "", "", config_.meta.id});
}

void Swim::StartSuspicion(Node* node, const std::string& from) {
  // k independent confirmations bring the timeout from max down to min;
  // in a cluster too small to produce them, start at min (memberlist does
  // the same).
  int k = config_.suspicion_mult - 2;
  if (live_count_ - 2 < k) k = 0;
  uint64_t min = SuspicionMinTicks();
  uint64_t max = config_.lifeguard ? SuspicionMaxTicks() : min;
  node->suspicion.emplace(from, k, min, max, now_);
  suspected_.insert(node->member.meta.id);
}

// ---- gossip in -------------------------------------------------------------------

void Swim::Receive(const std::string& from_address, const Packet& p) {
  stats_.packets_received++;
  if (p.cluster_id != config_.meta.cluster_id) {
    stats_.foreign_packets++;
    return;
  }
  if (p.from_id == config_.meta.id) {
    stats_.ignored_packets++;
    return;
  }
  if (left_) {
    // Gone, but answer pings until the caller stops us, so that nobody
    // suspects a member that has simply left.
    if (p.type == PacketType::kPing && (p.target_id.empty() || p.target_id == config_.meta.id)) {
      Packet ack = NewPacket(PacketType::kAck);
      ack.seq = p.seq;
      Send(from_address, p.from_id, std::move(ack));
    }
    return;
  }

  const bool push_pull = p.type == PacketType::kPushPull;
  corrections_.clear();
  corrections_to_ = p.from_id;
  for (const Update& u : p.updates) {
    // A rumour older than what we know about a live member means the sender
    // missed a refutation; left alone it may declare that member dead.
    // Answer it directly with our newer view (push-pull replies carry our
    // whole state anyway).
    auto known = nodes_.find(u.id);
    const bool stale = !push_pull && known != nodes_.end() &&
                       known->second.member.state == State::kAlive &&
                       u.incarnation < known->second.member.incarnation;
    Apply(u, p.from_id, push_pull);
    if (stale ||
        (u.id == config_.meta.id && !push_pull && !left_ && u.incarnation < self().incarnation)) {
      corrections_.push_back(AliveUpdate(nodes_.at(u.id).member));
    }
  }

  switch (p.type) {
    case PacketType::kPing: {
      if (!p.target_id.empty() && p.target_id != config_.meta.id) {
        stats_.ignored_packets++;  // meant for a previous owner of our address
        break;
      }
      Packet ack = NewPacket(PacketType::kAck);
      ack.seq = p.seq;
      Send(from_address, p.from_id, std::move(ack));
      break;
    }
    case PacketType::kPingReq: {
      if (p.target_id == config_.meta.id) {
        Packet ack = NewPacket(PacketType::kAck);
        ack.seq = p.seq;
        Send(from_address, p.from_id, std::move(ack));
        break;
      }
      uint32_t seq = next_seq_++;
      relays_[seq] = Relay{from_address, p.from_id, p.seq,
                           now_ + static_cast<uint64_t>(config_.indirect_timeout_ticks)};
      Packet ping = NewPacket(PacketType::kPing);
      ping.seq = seq;
      ping.target_id = p.target_id;
      Send(p.target_address, p.target_id, std::move(ping));
      break;
    }
    case PacketType::kAck: {
      auto relay = relays_.find(p.seq);
      if (relay != relays_.end()) {
        Packet ack = NewPacket(PacketType::kAck);
        ack.seq = relay->second.origin_seq;
        Relay r = std::move(relay->second);
        relays_.erase(relay);
        Send(r.origin_address, r.origin_id, std::move(ack));
        break;
      }
      if (probe_.active && p.seq == probe_.seq) probe_.acked = true;
      break;
    }
    case PacketType::kNack:
      if (probe_.active && p.seq == probe_.seq) {
        probe_.nacks++;
        stats_.nacks_received++;
      }
      break;
    case PacketType::kPushPull:
      if (p.reply_wanted) SendState(from_address, /*reply_wanted=*/false);
      break;
    case PacketType::kGossip:
      break;
  }
  FlushCorrections(from_address);
}

void Swim::FlushCorrections(const std::string& to) {
  if (corrections_.empty()) return;
  Packet gossip = NewPacket(PacketType::kGossip);
  Send(to, corrections_to_, std::move(gossip));
}

void Swim::Apply(const Update& u, const std::string& sender, bool from_push_pull) {
  if (u.id == config_.meta.id) {
    ApplyAboutSelf(u);
    return;
  }
  switch (u.kind) {
    case Update::Kind::kAlive:
      ApplyAlive(u);
      return;
    case Update::Kind::kSuspect:
      ApplySuspect(u);
      return;
    case Update::Kind::kDead:
      if (from_push_pull) {
        // A whole-state exchange may carry verdicts that are long stale
        // (e.g. from the other side of a healed partition): suspect rather
        // than kill, so the member gets a chance to refute (memberlist's
        // mergeState does the same).
        Update s = u;
        s.kind = Update::Kind::kSuspect;
        s.from = sender;
        ApplySuspect(s);
      } else {
        ApplyDead(u);
      }
      return;
    case Update::Kind::kLeft:
      ApplyLeft(u);
      return;
  }
}

void Swim::ApplyAlive(const Update& u) {
  if (u.address.empty()) return;
  auto it = nodes_.find(u.id);
  if (it == nodes_.end()) {
    Node n;
    n.member = Member{NodeMeta{u.id, u.resp_address, u.raft_address, config_.meta.cluster_id},
                      u.address, State::kAlive, u.incarnation};
    n.state_tick = now_;
    Node& added = nodes_.emplace(u.id, std::move(n)).first->second;
    live_count_++;
    // A random slot in the current pass, so newcomers are probed soon but
    // not all by everyone at once.
    probe_order_.insert(
        probe_order_.begin() + static_cast<std::ptrdiff_t>(rng_.Below(probe_order_.size() + 1)),
        u.id);
    Emit(Event::Kind::kJoined, added);
    Broadcast(u);
    return;
  }
  Node& n = it->second;
  // Only a strictly higher incarnation can clear a suspicion or a death:
  // the member alone raises it, so it proves the member is there.
  if (u.incarnation <= n.member.incarnation) return;
  const State prev = n.member.state;
  NodeMeta meta{u.id, u.resp_address, u.raft_address, config_.meta.cluster_id};
  const bool changed = meta != n.member.meta || u.address != n.member.address;
  n.member.meta = std::move(meta);
  n.member.address = u.address;
  n.member.incarnation = u.incarnation;
  if (prev != State::kAlive) {
    SetState(&n, State::kAlive);
    if (!IsLive(prev)) {
      probe_order_.insert(
          probe_order_.begin() + static_cast<std::ptrdiff_t>(rng_.Below(probe_order_.size() + 1)),
          u.id);
    }
    Emit(Event::Kind::kAlive, n);
  } else if (changed) {
    Emit(Event::Kind::kUpdated, n);
  }
  Broadcast(u);
}

void Swim::ApplySuspect(const Update& u) {
  auto it = nodes_.find(u.id);
  if (it == nodes_.end()) return;
  Node& n = it->second;
  if (!IsLive(n.member.state) || u.incarnation < n.member.incarnation) return;
  if (n.member.state == State::kSuspect && u.incarnation == n.member.incarnation) {
    if (n.suspicion && n.suspicion->Confirm(u.from)) Broadcast(u);
    return;
  }
  if (n.member.state == State::kSuspect) {
    // A suspicion at a higher incarnation: the member refuted the one we
    // hold (we missed that) and is suspected anew. Its refutation deserves a
    // full timeout from now, not what is left of the old one.
    n.member.incarnation = u.incarnation;
    StartSuspicion(&n, u.from);
    Broadcast(u);
    return;
  }
  n.member.incarnation = u.incarnation;
  SetState(&n, State::kSuspect);
  StartSuspicion(&n, u.from);
  Emit(Event::Kind::kSuspect, n);
  Broadcast(u);
}

void Swim::ApplyDead(const Update& u) {
  auto it = nodes_.find(u.id);
  if (it == nodes_.end()) return;
  Node& n = it->second;
  if (!IsLive(n.member.state) || u.incarnation < n.member.incarnation) return;
  n.member.incarnation = u.incarnation;
  SetState(&n, State::kDead);
  Emit(Event::Kind::kDead, n);
  Broadcast(u);
}

void Swim::ApplyLeft(const Update& u) {
  auto it = nodes_.find(u.id);
  if (it == nodes_.end()) return;
  Node& n = it->second;
  if (n.member.state == State::kLeft || u.incarnation < n.member.incarnation) return;
  n.member.incarnation = u.incarnation;
  SetState(&n, State::kLeft);
  Emit(Event::Kind::kLeft, n);
  Broadcast(u);
}

void Swim::ApplyAboutSelf(const Update& u) {
  const Member& me = self();
  if (left_) {
    // Keep telling whoever thinks otherwise that we left.
    if (u.kind != Update::Kind::kLeft) {
      Broadcast(Update{Update::Kind::kLeft, me.meta.id, me.incarnation, "", "", "", ""});
    }
    return;
  }
  if (u.incarnation < me.incarnation) return;
  switch (u.kind) {
    case Update::Kind::kAlive:
      // Our own announcement coming back is no news; anything else at our
      // incarnation or above is a previous life of ours: outbid it.
      if (u.incarnation == me.incarnation && u.address == me.address &&
          u.resp_address == me.meta.resp_address && u.raft_address == me.meta.raft_address) {
        return;
      }
      Refute(u.incarnation);
      return;
    case Update::Kind::kSuspect:
    case Update::Kind::kDead:
      // Lifeguard §4.1: being suspected means others miss our answers,
      // perhaps because we are slow: count it against our own health.
      AdjustHealth(1);
      Refute(u.incarnation);
      return;
    case Update::Kind::kLeft:
      Refute(u.incarnation);
      return;
  }
}

void Swim::Refute(uint64_t accused_incarnation) {
  Member& me = nodes_.at(config_.meta.id).member;
  me.incarnation = std::max(me.incarnation, accused_incarnation) + 1;
  stats_.refutations++;
  Broadcast(AliveUpdate(me));
}

// ---- state bookkeeping --------------------------------------------------------

void Swim::SetState(Node* node, State state) {
  const State prev = node->member.state;
  const std::string& id = node->member.meta.id;
  if (IsLive(prev) && !IsLive(state)) live_count_--;
  if (!IsLive(prev) && IsLive(state)) live_count_++;
  if (state != State::kSuspect && node->suspicion) {
    node->suspicion.reset();
    suspected_.erase(id);
  }
  if (id != config_.meta.id) {
    if (IsLive(state)) {
      departed_.erase(id);
    } else {
      departed_.insert(id);
    }
  }
  node->member.state = state;
  node->state_tick = now_;
}

void Swim::Emit(Event::Kind kind, const Node& node) {
  events_.push_back({kind, node.member});
}

void Swim::ReapDeparted() {
  const uint64_t keep =
      static_cast<uint64_t>(config_.reap_periods) * static_cast<uint64_t>(config_.ticks_per_period);
  for (auto it = departed_.begin(); it != departed_.end();) {
    auto node = nodes_.find(*it);
    if (node != nodes_.end() && now_ - node->second.state_tick < keep) {
      ++it;
      continue;
    }
    if (node != nodes_.end()) nodes_.erase(node);
    broadcasts_.Forget(*it);
    it = departed_.erase(it);
  }
}

// ---- gossip out ------------------------------------------------------------------

Update Swim::AliveUpdate(const Member& m) const {
  return Update{Update::Kind::kAlive, m.meta.id, m.incarnation, m.address, m.meta.resp_address,
                m.meta.raft_address,  ""};
}

Packet Swim::NewPacket(PacketType type) const {
  Packet p;
  p.type = type;
  p.cluster_id = config_.meta.cluster_id;
  p.from_id = config_.meta.id;
  return p;
}

void Swim::Send(const std::string& to, const std::string& to_id, Packet packet) {
  size_t used = codec::HeaderSize(packet);
  const size_t max = static_cast<size_t>(config_.max_packet_bytes);
  // Lifeguard's "buddy system": a member we suspect (or think dead) hears it
  // first, on this very packet, so a live one refutes at once instead of
  // waiting for the rumour to reach it.
  if (config_.lifeguard) {
    auto it = nodes_.find(to_id);
    if (it != nodes_.end() &&
        (it->second.member.state == State::kSuspect || it->second.member.state == State::kDead)) {
      Update hint{
          it->second.member.state == State::kSuspect ? Update::Kind::kSuspect : Update::Kind::kDead,
          to_id,
          it->second.member.incarnation,
          "",
          "",
          "",
          config_.meta.id};
      used += codec::UpdateSize(hint);
      packet.updates.push_back(std::move(hint));
    }
  }
  if (!corrections_.empty() && to_id == corrections_to_) {
    for (Update& u : corrections_) {
      size_t size = codec::UpdateSize(u);
      if (used + size > max) break;
      used += size;
      packet.updates.push_back(std::move(u));
    }
    corrections_.clear();
  }
  if (used < max && !broadcasts_.empty()) {
    for (Update& u : broadcasts_.Take(max - used, RetransmitLimit())) {
      packet.updates.push_back(std::move(u));
    }
  }
  outbox_.push_back(Outgoing{to, std::move(packet)});
}

void Swim::SendState(const std::string& to, bool reply_wanted) {
  if (to.empty()) return;
  std::vector<Update> state;
  state.reserve(nodes_.size() + suspected_.size());
  const Member& me = self();
  if (left_) {
    state.push_back(Update{Update::Kind::kLeft, me.meta.id, me.incarnation, "", "", "", ""});
  } else {
    state.push_back(AliveUpdate(me));
  }
  for (const auto& [id, n] : nodes_) {
    if (id == config_.meta.id) continue;
    const Member& m = n.member;
    switch (m.state) {
      case State::kAlive:
        state.push_back(AliveUpdate(m));
        break;
      case State::kSuspect:
        // Alive first, so a receiver that never heard of it learns its
        // addresses; then the suspicion at the same incarnation.
        state.push_back(AliveUpdate(m));
        state.push_back(Update{Update::Kind::kSuspect, id, m.incarnation, "", "", "",
                               n.suspicion ? n.suspicion->origin() : config_.meta.id});
        break;
      case State::kDead:
        state.push_back(
            Update{Update::Kind::kDead, id, m.incarnation, "", "", "", config_.meta.id});
        break;
      case State::kLeft:
        state.push_back(Update{Update::Kind::kLeft, id, m.incarnation, "", "", "", ""});
        break;
    }
  }
  // Split into datagrams; each chunk stands alone (updates are idempotent),
  // and only the first asks for a reply so one exchange gets one answer.
  const size_t max = static_cast<size_t>(config_.max_packet_bytes);
  Packet chunk = NewPacket(PacketType::kPushPull);
  chunk.reply_wanted = reply_wanted;
  size_t used = codec::HeaderSize(chunk);
  for (Update& u : state) {
    size_t size = codec::UpdateSize(u);
    if (used + size > max && !chunk.updates.empty()) {
      outbox_.push_back(Outgoing{to, std::move(chunk)});
      chunk = NewPacket(PacketType::kPushPull);
      used = codec::HeaderSize(chunk);
    }
    if (used + size > max) continue;  // cannot fit in any packet: skip it
    used += size;
    chunk.updates.push_back(std::move(u));
  }
  outbox_.push_back(Outgoing{to, std::move(chunk)});
}

// ---- the caller's commands --------------------------------------------------------

void Swim::Join(const std::vector<std::string>& seed_addresses) {
  seeds_.clear();
  for (const std::string& s : seed_addresses) {
    if (!s.empty() && s != config_.address) seeds_.push_back(s);
  }
  for (const std::string& seed : seeds_)
    SendState(seed, /*reply_wanted=*/true);
  next_join_tick_ =
      now_ + static_cast<uint64_t>(config_.join_retry_periods) * config_.ticks_per_period;
}

void Swim::Leave() {
  if (left_) return;
  Node& me = nodes_.at(config_.meta.id);
  me.member.incarnation++;
  SetState(&me, State::kLeft);
  left_ = true;
  probe_.active = false;
  relays_.clear();
  Broadcast(Update{Update::Kind::kLeft, me.member.meta.id, me.member.incarnation, "", "", "", ""});
  // Tell a few members straight away rather than waiting for their probes.
  std::vector<std::string> live;
  for (const auto& [id, n] : nodes_) {
    if (id != config_.meta.id && IsLive(n.member.state)) live.push_back(id);
  }
  rng_.Shuffle(&live);
  if (live.size() > static_cast<size_t>(kLeaveFanout)) live.resize(kLeaveFanout);
  for (const std::string& id : live) {
    Send(nodes_.at(id).member.address, id, NewPacket(PacketType::kGossip));
  }
}

Status Swim::UpdateMeta(const NodeMeta& meta) {
  if (meta.id != config_.meta.id || meta.cluster_id != config_.meta.cluster_id) {
    return Status::Error("id and cluster_id cannot change");
  }
  Config next = config_;
  next.meta = meta;
  Status s = next.Validate();
  if (!s.ok()) return s;
  if (left_) return Status::Error("already left");
  config_.meta = meta;
  Member& me = nodes_.at(config_.meta.id).member;
  me.meta = meta;
  me.incarnation++;
  Broadcast(AliveUpdate(me));
  return Status::Ok();
}

std::vector<Outgoing> Swim::DrainOutbox() {
  return std::exchange(outbox_, {});
}
std::vector<Event> Swim::DrainEvents() {
  return std::exchange(events_, {});
}

std::vector<Member> Swim::Members() const {
  std::vector<Member> out;
  out.reserve(nodes_.size());
  for (const auto& [id, n] : nodes_)
    out.push_back(n.member);
  return out;
}

}  // namespace phalanx::membership
