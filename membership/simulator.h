// Simulator: many Swim members on a simulated network, in one thread, driven
// tick by tick. Deterministic for a seed: the same options and the same calls
// replay the same run. Used by tests/membership/ and bench/swim_sim; it has no
// place in a real node.
//
// Each Step() is one tick for everyone:
//   1. packets due at this tick are delivered (in the order they were sent);
//   2. every running member ticks;
//   3. every member's outbox is collected; each packet is dropped with
//      probability `loss`, otherwise delivered delay ∈ [min, max] ticks later.
// A partition drops packets between groups at delivery time. A crashed member
// takes no ticks and loses what is sent to it. A paused member takes no ticks
// and queues what is sent to it; on Resume() it first runs all the ticks it
// missed, then reads the queue — the harshest order, in which every timer it
// had running fires before it sees the answers that arrived meanwhile (what a
// GC pause or a CPU-starved VM does to a real process).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "membership/config.h"
#include "membership/random.h"
#include "membership/swim.h"

namespace phalanx::membership {

struct SimOptions {
  int members = 5;
  uint64_t seed = 1;
  double loss = 0.0;
  int min_delay_ticks = 1;  // at least 1
  int max_delay_ticks = 1;
  // Round-trip every packet through the codec (and check it fits).
  bool encode = true;
  // Member i > 0 joins through member 0 at tick 0.
  bool join_at_start = true;
  // Template for every member; meta, address and seed are filled in.
  Config base;
};

struct SimEvent {
  uint64_t tick;
  int observer;
  Event event;
};

class Simulator {
 public:
  explicit Simulator(const SimOptions& options);

  void Step();
  void RunTicks(uint64_t ticks);
  void RunPeriods(uint64_t periods) { RunTicks(periods * ticks_per_period()); }
  // Steps until `done()` holds (checked after every step) or `max_ticks`
  // pass. Returns the ticks taken, or nullopt on timeout.
  std::optional<uint64_t> RunUntil(const std::function<bool()>& done, uint64_t max_ticks);

  // ---- faults ----
  void Crash(int i);
  // A fresh process with the same id and address (its incarnation starts at
  // `incarnation`) that joins through `seed`.
  void Restart(int i, uint64_t incarnation, int seed);
  void Pause(int i);
  void Resume(int i);
  void Leave(int i);
  // group[i] is member i's side; packets between sides are dropped.
  void Partition(const std::vector<int>& group);
  void Heal();
  void SetLoss(double loss) { options_.loss = loss; }

  // ---- observation ----
  int size() const { return static_cast<int>(nodes_.size()); }
  Swim& member(int i) { return *nodes_[i].swim; }
  const std::string& id(int i) const { return nodes_[i].id; }
  const std::string& address(int i) const { return nodes_[i].address; }
  bool running(int i) const { return !nodes_[i].crashed && !nodes_[i].paused; }
  bool crashed(int i) const { return nodes_[i].crashed; }
  uint64_t now() const { return now_; }
  int ticks_per_period() const { return options_.base.ticks_per_period; }
  double periods() const { return static_cast<double>(now_) / ticks_per_period(); }

  // What `observer` believes about `subject` (nullopt: unknown).
  std::optional<State> StateOf(int observer, int subject) const;
  std::optional<uint64_t> IncarnationOf(int observer, int subject) const;
  // Every running member other than `subject` sees it in `state`.
  bool AllSee(int subject, State state) const;
  // Every running member sees every other running member alive — or, when
  // `allow_suspect`, at least live (under heavy loss some suspicion is
  // nearly always in flight somewhere, so "all alive at once" is rare).
  bool Converged(bool allow_suspect = false) const;

  // Called for every event, in order. Set before stepping.
  std::function<void(const SimEvent&)> on_event;

  // Counters since construction (or ResetCounters).
  struct Counters {
    uint64_t packets_sent = 0;  // put on the network (lost ones included)
    uint64_t bytes_sent = 0;
    uint64_t packets_lost = 0;
    uint64_t push_pull_packets = 0;  // of packets_sent: full-state chunks
    uint64_t push_pull_bytes = 0;
    uint64_t oversized_packets = 0;  // must stay 0: every packet fits in one datagram
    uint64_t codec_failures = 0;     // must stay 0: what we encode, we decode
    // A member declared dead by someone while it was running and had not
    // left — the number SWIM tries to keep at zero.
    uint64_t false_dead = 0;
    // ... while it was paused (an unresponsive member: arguably no mistake).
    uint64_t dead_while_paused = 0;
    uint64_t suspicions_of_running = 0;
  };
  const Counters& counters() const { return counters_; }
  void ResetCounters() { counters_ = Counters{}; }

 private:
  struct InFlight {
    int from;
    int to;
    std::string from_address;
    Packet packet;
  };
  struct Node {
    std::string id;
    std::string address;
    std::unique_ptr<Swim> swim;
    bool crashed = false;
    bool paused = false;
    bool left = false;
    uint64_t paused_at = 0;
    std::deque<InFlight> inbox;  // while paused
    int group = 0;
    uint64_t life_incarnation = 0;  // this process's first incarnation
  };

  Config ConfigFor(int i, uint64_t incarnation) const;
  void Deliver(InFlight& f);
  void Collect(int i);
  void Observe(int i);

  SimOptions options_;
  Rng rng_;
  uint64_t now_ = 0;
  uint64_t restarts_ = 0;
  std::vector<Node> nodes_;
  std::map<std::string, int> by_address_;
  std::map<std::string, int> by_id_;
  // Packets by delivery tick, each tick's in the order they were sent.
  std::map<uint64_t, std::vector<InFlight>> network_;
  Counters counters_;
};

}  // namespace phalanx::membership
