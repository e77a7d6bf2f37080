// swim_sim: what SWIM costs and how fast it detects, measured in a
// deterministic simulation (membership/simulator.h), in protocol periods.
//
// For n = 5, 50, 500 members (no loss, one-tick delay):
//   - messages and bytes each member sends per period in steady state,
//     push-pull included (SWIM's promise: constant per member, whatever n);
//   - detection time over many crashes: periods from the crash until the
//     first member declares it dead, and until every survivor sees it dead
//     (p50 / p99). Crashed members are restarted between trials.
// The last line is machine-readable:
//   msgs_per_member_per_period_n500=<X> detect_periods_p99_n500=<Y>
// where Y is the p99 of "every survivor sees it dead".
//
// Usage: swim_sim [--long]   (--long: 5× the periods and crashes)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "membership/simulator.h"

using phalanx::membership::Event;
using phalanx::membership::Rng;
using phalanx::membership::SimEvent;
using phalanx::membership::SimOptions;
using phalanx::membership::Simulator;
using phalanx::membership::State;

namespace {

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

struct Result {
  int n;
  double msgs;
  double bytes;
  double pp_msgs;
  double pp_bytes;
  std::vector<double> first;
  std::vector<double> all;
  double join_periods;
};

Result Run(int n, int steady_periods, int trials, int per_trial) {
  Result r{n, 0, 0, 0, 0, {}, {}, 0};
  SimOptions o;
  o.members = n;
  o.seed = 42 + n;
  o.encode = false;  // sizes from codec::EncodedSize; the codec is tested elsewhere
  Simulator sim(o);
  const double tpp = sim.ticks_per_period();
  auto joined = sim.RunUntil([&] { return sim.Converged(); }, 1000 * sim.ticks_per_period());
  r.join_periods = joined ? *joined / tpp : -1;

  // Steady state, once the join's burst of news has drained, over whole
  // push-pull intervals (30 periods, ×5 at n = 500: the O(n) part).
  sim.RunPeriods(50);
  sim.ResetCounters();
  sim.RunPeriods(steady_periods);
  r.msgs = static_cast<double>(sim.counters().packets_sent) / n / steady_periods;
  r.bytes = static_cast<double>(sim.counters().bytes_sent) / n / steady_periods;
  r.pp_msgs = static_cast<double>(sim.counters().push_pull_packets) / n / steady_periods;
  r.pp_bytes = static_cast<double>(sim.counters().push_pull_bytes) / n / steady_periods;

  // Crash trials: `per_trial` random members at once (never member 0, the
  // seed restarted members join through).
  Rng rng(7 + n);
  uint64_t incarnation = 1000;
  for (int t = 0; t < trials; ++t) {
    std::vector<int> victims;
    while (static_cast<int>(victims.size()) < per_trial) {
      int v = 1 + static_cast<int>(rng.Below(n - 1));
      if (std::find(victims.begin(), victims.end(), v) == victims.end()) victims.push_back(v);
    }
    const uint64_t start = sim.now();
    std::vector<double> first(n, -1), all(n, -1);
    sim.on_event = [&](const SimEvent& e) {
      if (e.event.kind != Event::Kind::kDead) return;
      int v = std::stoi(e.event.member.meta.id.substr(1));
      if (first[v] < 0) first[v] = (e.tick - start) / tpp;
    };
    for (int v : victims)
      sim.Crash(v);
    auto settled = sim.RunUntil(
        [&] {
          bool done = true;
          for (int v : victims) {
            if (all[v] >= 0) continue;
            if (sim.AllSee(v, State::kDead)) {
              all[v] = (sim.now() - start) / tpp;
            } else {
              done = false;
            }
          }
          return done;
        },
        1000 * sim.ticks_per_period());
    sim.on_event = nullptr;
    if (!settled) std::fprintf(stderr, "n=%d trial %d: not settled in 1000 periods\n", n, t);
    for (int v : victims) {
      if (first[v] >= 0) r.first.push_back(first[v]);
      if (all[v] >= 0) r.all.push_back(all[v]);
    }
    // Bring them back (a new process, a higher incarnation) and let the
    // cluster settle before the next trial.
    for (int v : victims)
      sim.Restart(v, ++incarnation, 0);
    sim.RunUntil([&] { return sim.Converged(); }, 300 * sim.ticks_per_period());
    sim.RunPeriods(5);
  }
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  const bool long_run = argc > 1 && std::strcmp(argv[1], "--long") == 0;
  const int scale = long_run ? 5 : 1;
  auto t0 = std::chrono::steady_clock::now();
  std::printf(
      "SWIM in simulation: 10 ticks per period, probe timeout 3 ticks, k = 3 indirect "
      "probes, no loss, 1-tick delay, Lifeguard on\n");
  std::vector<Result> results;
  struct Plan {
    int n, steady, trials, per_trial;
  };
  for (Plan p : {Plan{5, 600, 60, 1}, Plan{50, 300, 40, 2}, Plan{500, 150, 10, 5}}) {
    Result r = Run(p.n, p.steady * scale, p.trials * scale, p.per_trial);
    std::printf(
        "n=%-3d join %.1f periods | per member per period: %.2f msgs, %.0f bytes "
        "(push-pull: %.2f msgs, %.0f bytes) | detect (%zu crashes): first p50=%.1f "
        "p99=%.1f, all survivors p50=%.1f p99=%.1f periods\n",
        r.n, r.join_periods, r.msgs, r.bytes, r.pp_msgs, r.pp_bytes, r.all.size(),
        Percentile(r.first, 0.5), Percentile(r.first, 0.99), Percentile(r.all, 0.5),
        Percentile(r.all, 0.99));
    std::fflush(stdout);
    results.push_back(std::move(r));
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("(%.1f s)\n", secs);
  const Result& big = results.back();
  std::printf("msgs_per_member_per_period_n500=%.2f detect_periods_p99_n500=%.1f\n", big.msgs,
              Percentile(big.all, 0.99));
  return 0;
}
