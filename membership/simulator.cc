#include "membership/simulator.h"

#include <cstdlib>
#include <utility>

#include "membership/codec.h"
#include "util/splitmix64.h"

namespace phalanx::membership {

Simulator::Simulator(const SimOptions& options) : options_(options), rng_(options.seed) {
  if (options_.min_delay_ticks < 1) options_.min_delay_ticks = 1;
  if (options_.max_delay_ticks < options_.min_delay_ticks) {
    options_.max_delay_ticks = options_.min_delay_ticks;
  }
  nodes_.resize(options_.members);
  for (int i = 0; i < options_.members; ++i) {
    Node& n = nodes_[i];
    n.id = "m" + std::to_string(i);
    n.address = "10." + std::to_string(i / 65536) + "." + std::to_string((i / 256) % 256) + "." +
                std::to_string(i % 256) + ":7946";
    by_address_[n.address] = i;
    by_id_[n.id] = i;
  }
  for (int i = 0; i < options_.members; ++i) {
    auto created = Swim::Create(ConfigFor(i, 0));
    // The options are the test's own; a bad template is a bug in the test.
    if (!created.ok()) std::abort();
    nodes_[i].swim = std::move(created).value();
    if (options_.join_at_start && i > 0) nodes_[i].swim->Join({nodes_[0].address});
  }
}

Config Simulator::ConfigFor(int i, uint64_t incarnation) const {
  Config c = options_.base;
  const std::string host = nodes_[i].address.substr(0, nodes_[i].address.find(':'));
  c.meta = NodeMeta{nodes_[i].id, host + ":6379", host + ":7379", "sim"};
  c.address = nodes_[i].address;
  c.initial_incarnation = incarnation;
  c.seed = options_.seed * util::SplitMix64::kGamma + static_cast<uint64_t>(i) * 7919 + restarts_;
  return c;
}

void Simulator::Step() {
  ++now_;
  auto due = network_.find(now_);
  if (due != network_.end()) {
    std::vector<InFlight> batch = std::move(due->second);
    network_.erase(due);
    for (InFlight& f : batch)
      Deliver(f);
  }
  for (Node& n : nodes_) {
    if (!n.crashed && !n.paused) n.swim->Tick();
  }
  for (int i = 0; i < size(); ++i) {
    if (nodes_[i].crashed) continue;
    Collect(i);
    Observe(i);
  }
}

void Simulator::RunTicks(uint64_t ticks) {
  for (uint64_t t = 0; t < ticks; ++t)
    Step();
}

std::optional<uint64_t> Simulator::RunUntil(const std::function<bool()>& done, uint64_t max_ticks) {
  for (uint64_t t = 1; t <= max_ticks; ++t) {
    Step();
    if (done()) return t;
  }
  return std::nullopt;
}

void Simulator::Deliver(InFlight& f) {
  Node& to = nodes_[f.to];
  if (to.crashed || nodes_[f.from].group != to.group) {
    counters_.packets_lost++;
    return;
  }
  if (to.paused) {
    to.inbox.push_back(std::move(f));
    return;
  }
  to.swim->Receive(f.from_address, f.packet);
}

void Simulator::Collect(int i) {
  for (Outgoing& out : nodes_[i].swim->DrainOutbox()) {
    auto to = by_address_.find(out.to);
    size_t bytes = 0;
    if (options_.encode) {
      auto encoded = codec::Encode(out.packet);
      if (!encoded.ok()) {
        counters_.codec_failures++;
        continue;
      }
      bytes = encoded.value().size();
      auto decoded = codec::Decode(encoded.value());
      if (!decoded.ok() || !(decoded.value() == out.packet)) {
        counters_.codec_failures++;
        continue;
      }
    } else {
      bytes = codec::EncodedSize(out.packet);
    }
    if (bytes > static_cast<size_t>(options_.base.max_packet_bytes)) counters_.oversized_packets++;
    counters_.packets_sent++;
    counters_.bytes_sent += bytes;
    if (out.packet.type == PacketType::kPushPull) {
      counters_.push_pull_packets++;
      counters_.push_pull_bytes += bytes;
    }
    if (to == by_address_.end() || (options_.loss > 0 && rng_.Chance(options_.loss))) {
      counters_.packets_lost++;
      continue;
    }
    uint64_t span = static_cast<uint64_t>(options_.max_delay_ticks - options_.min_delay_ticks);
    uint64_t delay = static_cast<uint64_t>(options_.min_delay_ticks) + rng_.Below(span + 1);
    network_[now_ + delay].push_back(
        InFlight{i, to->second, nodes_[i].address, std::move(out.packet)});
  }
}

void Simulator::Observe(int i) {
  for (Event& e : nodes_[i].swim->DrainEvents()) {
    auto subject = by_id_.find(e.member.meta.id);
    if (subject != by_id_.end()) {
      const Node& s = nodes_[subject->second];
      // An event about a previous life of a restarted member is no mistake.
      const bool current_life = e.member.incarnation >= s.life_incarnation;
      const bool running_subject = !s.crashed && !s.left && current_life;
      if (e.kind == Event::Kind::kDead && running_subject) {
        if (s.paused) {
          counters_.dead_while_paused++;
        } else {
          counters_.false_dead++;
        }
      }
      if (e.kind == Event::Kind::kSuspect && running_subject && !s.paused) {
        counters_.suspicions_of_running++;
      }
    }
    if (on_event) on_event(SimEvent{now_, i, std::move(e)});
  }
}

void Simulator::Crash(int i) {
  nodes_[i].crashed = true;
  nodes_[i].paused = false;
  nodes_[i].inbox.clear();
}

void Simulator::Restart(int i, uint64_t incarnation, int seed) {
  ++restarts_;
  Node& n = nodes_[i];
  auto created = Swim::Create(ConfigFor(i, incarnation));
  if (!created.ok()) std::abort();
  n.swim = std::move(created).value();
  n.crashed = false;
  n.paused = false;
  n.left = false;
  n.inbox.clear();
  n.life_incarnation = incarnation;
  n.swim->Join({nodes_[seed].address});
}

void Simulator::Pause(int i) {
  if (nodes_[i].crashed || nodes_[i].paused) return;
  nodes_[i].paused = true;
  nodes_[i].paused_at = now_;
}

void Simulator::Resume(int i) {
  Node& n = nodes_[i];
  if (!n.paused) return;
  n.paused = false;
  for (uint64_t t = n.paused_at; t < now_; ++t)
    n.swim->Tick();
  std::deque<InFlight> inbox = std::move(n.inbox);
  n.inbox.clear();
  for (InFlight& f : inbox)
    n.swim->Receive(f.from_address, f.packet);
}

void Simulator::Leave(int i) {
  nodes_[i].swim->Leave();
  nodes_[i].left = true;
}

void Simulator::Partition(const std::vector<int>& group) {
  for (int i = 0; i < size() && i < static_cast<int>(group.size()); ++i) {
    nodes_[i].group = group[i];
  }
}

void Simulator::Heal() {
  for (Node& n : nodes_)
    n.group = 0;
}

std::optional<State> Simulator::StateOf(int observer, int subject) const {
  const Member* m = nodes_[observer].swim->Find(nodes_[subject].id);
  if (m == nullptr) return std::nullopt;
  return m->state;
}

std::optional<uint64_t> Simulator::IncarnationOf(int observer, int subject) const {
  const Member* m = nodes_[observer].swim->Find(nodes_[subject].id);
  if (m == nullptr) return std::nullopt;
  return m->incarnation;
}

bool Simulator::AllSee(int subject, State state) const {
  for (int j = 0; j < size(); ++j) {
    if (j == subject || !running(j) || nodes_[j].left) continue;
    if (StateOf(j, subject) != state) return false;
  }
  return true;
}

bool Simulator::Converged(bool allow_suspect) const {
  int live = 0;
  for (int i = 0; i < size(); ++i) {
    if (running(i) && !nodes_[i].left) ++live;
  }
  // Cheap necessary condition first: everyone counts the right number.
  for (int i = 0; i < size(); ++i) {
    if (running(i) && !nodes_[i].left && nodes_[i].swim->live_count() != live) return false;
  }
  for (int i = 0; i < size(); ++i) {
    if (!running(i) || nodes_[i].left) continue;
    for (int j = 0; j < size(); ++j) {
      if (j == i || !running(j) || nodes_[j].left) continue;
      std::optional<State> st = StateOf(i, j);
      if (st != State::kAlive && !(allow_suspect && st == State::kSuspect)) return false;
    }
  }
  return true;
}

}  // namespace phalanx::membership
