// Thousands of seeded runs of a simulated cluster (tests/consensus/sim/): each
// seed is one exact execution mixing message loss, duplication, reordering,
// partitions, crash-restarts, snapshots, membership changes and leadership
// transfers, with the Raft safety properties asserted after every step and
// liveness asserted after every healing.
//
// Environment:
//   PHALANX_SIM_SEED=N        run only seed N (replay a failure; the failure
//                             message prints the command); add
//                             PHALANX_SIM_TRACE=1 to print every event
//   PHALANX_SIM_SEEDS=N       seeds per scenario (default: about 15,000 in all)
//   PHALANX_SIM_FIRST_SEED=N  start there instead of at seed 1
//   PHALANX_LONG=1            ten times the default seeds
//   PHALANX_SANITIZED=1       a hundredth of them (the ASan/UBSan build)
//   CI=true                   half of them (scripts/test.sh's CI-sized run)
// Each scenario is its own test case (ctest name "simulation.Simulation.<X>"),
// so `ctest -R simulation -j2` runs two at once.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string>

#include "tests/consensus/sim/cluster_sim.h"

namespace phalanx::consensus::sim {
namespace {

bool EnvSet(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' && std::string(v) != "0";
}

uint64_t EnvNumber(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  return std::strtoull(v, nullptr, 10);
}

uint64_t SeedCount(uint64_t default_seeds) {
  if (const char* v = std::getenv("PHALANX_SIM_SEEDS"); v != nullptr && *v != '\0') {
    return std::strtoull(v, nullptr, 10);
  }
  if (EnvSet("PHALANX_LONG")) return default_seeds * 10;
  // The Debug ASan/UBSan build runs this code about 50 times slower: a
  // hundredth of the seeds keeps its run well under the normal one's.
  if (EnvSet("PHALANX_SANITIZED")) return std::max<uint64_t>(1, default_seeds / 100);
  // CI runs the whole suite twice (normal and sanitized) on a shared machine;
  // PHALANX_LONG=1 or PHALANX_SIM_SEEDS run more.
  if (EnvSet("CI")) return std::max<uint64_t>(1, default_seeds / 2);
  return default_seeds;
}

struct RunResult {
  uint64_t seeds = 0;
  SimStats stats;  // summed over the seeds
};

RunResult RunScenario(const Scenario& sc, uint64_t default_seeds) {
  InstallAbortHandler();
  uint64_t first = EnvNumber("PHALANX_SIM_SEED", 0);
  uint64_t count = 1;
  bool replay = first != 0;
  if (!replay) {
    first = EnvNumber("PHALANX_SIM_FIRST_SEED", 1);
    count = SeedCount(default_seeds);
  }
  SimStats total;
  auto started = std::chrono::steady_clock::now();  // reporting only, never asserted
  uint64_t ran = 0;
  for (uint64_t seed = first; seed < first + count; ++seed) {
    ClusterSim sim(sc, seed);
    sim.set_verbose(replay && EnvSet("PHALANX_SIM_TRACE"));
    bool ok = sim.Run();
    ++ran;
    total.Add(sim.stats());
    if (!ok) {
      ADD_FAILURE() << "scenario " << sc.name << ", seed " << seed << ": " << sim.failure()
                    << "\nreplay: PHALANX_SIM_SEED=" << seed
                    << " ./build/tests/consensus/simulation_test --gtest_filter='*" << sc.name
                    << "'\n(add PHALANX_SIM_TRACE=1 to print every event)\nnodes:\n"
                    << sim.DescribeNodes() << "last events:\n"
                    << sim.TraceDump();
      break;
    }
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::cout << "[sim] " << sc.name << ": " << ran << " seeds from " << first << " in " << secs
            << " s; " << total.ToString() << std::endl;
  return {ran, total};
}

// Message loss, duplication and long reordering on a stable membership.
TEST(Simulation, LossyNetwork) {
  Scenario sc;
  sc.name = "LossyNetwork";
  sc.voters = 3;
  sc.max_drop = 250;
  sc.max_dup = 80;
  sc.long_delay = 40;
  sc.campaign = 10;
  RunScenario(sc, 2500);
}

// Five voters under symmetric, asymmetric and leader-isolating partitions.
TEST(Simulation, Partitions) {
  Scenario sc;
  sc.name = "Partitions";
  sc.voters = 5;
  sc.partition = 25;
  sc.heal_partition = 40;
  sc.max_drop = 80;
  sc.max_dup = 30;
  sc.long_delay = 20;
  RunScenario(sc, 1500);
}

// Five voters where leaders keep a minority, accept writes they cannot
// commit and crash: followers hold divergent suffixes that later leaders must
// overwrite (Raft paper Figure 7 and the Figure 8 commitment rule).
TEST(Simulation, DivergentLogs) {
  Scenario sc;
  sc.name = "DivergentLogs";
  sc.voters = 5;
  sc.propose = 900;
  sc.propose_to_stale_leaders = true;
  sc.one_entry_messages = 500;
  sc.crash_leader = 30;
  sc.restart = 100;
  sc.ready_crash = 200;
  sc.partition = 40;
  sc.heal_partition = 60;
  sc.max_drop = 100;
  sc.long_delay = 20;
  RunScenario(sc, 600);
}

// Crash-restart between steps and in the middle of the Ready cycle.
TEST(Simulation, CrashRestart) {
  Scenario sc;
  sc.name = "CrashRestart";
  sc.voters = 3;
  sc.crash = 25;
  sc.restart = 80;
  sc.ready_crash = 400;
  sc.max_drop = 80;
  sc.max_dup = 30;
  sc.long_delay = 10;
  sc.snapshot = 20;
  RunScenario(sc, 3000);
}

// Aggressive snapshots and compaction: lagging followers need InstallSnapshot.
TEST(Simulation, Snapshots) {
  Scenario sc;
  sc.name = "Snapshots";
  sc.voters = 5;
  sc.snapshot = 200;
  sc.crash = 15;
  sc.restart = 60;
  sc.ready_crash = 100;
  sc.partition = 15;
  sc.max_drop = 120;
  sc.max_dup = 30;
  sc.long_delay = 20;
  RunScenario(sc, 1500);
}

// Learners, promotions, removals (the leader included), re-additions and
// leadership transfers.
TEST(Simulation, Membership) {
  Scenario sc;
  sc.name = "Membership";
  sc.voters = 3;
  sc.spare_ids = 2;
  sc.conf_change = 60;
  sc.transfer = 30;
  sc.snapshot = 40;
  sc.crash = 8;
  sc.restart = 60;
  sc.partition = 8;
  sc.max_drop = 80;
  sc.max_dup = 30;
  sc.long_delay = 10;
  RunScenario(sc, 1500);
}

// A cluster that starts as a single voter, grows through learners and
// promotions and shrinks back to one voter (the quorum-of-one paths).
TEST(Simulation, SingleVoter) {
  Scenario sc;
  sc.name = "SingleVoter";
  sc.voters = 1;
  sc.spare_ids = 2;
  sc.min_voters = 1;
  sc.conf_change = 80;
  sc.transfer = 20;
  sc.snapshot = 60;
  sc.crash = 10;
  sc.restart = 80;
  sc.ready_crash = 200;
  sc.partition = 10;
  sc.max_drop = 80;
  sc.max_dup = 30;
  sc.long_delay = 10;
  sc.async_ready = 300;
  RunScenario(sc, 1500);
}

// Everything at once, on five voters and two spare ids, half the seeds with
// slow fsyncs.
TEST(Simulation, Everything) {
  Scenario sc;
  sc.name = "Everything";
  sc.voters = 5;
  sc.async_ready = 500;
  sc.spare_ids = 2;
  sc.crash = 15;
  sc.restart = 60;
  sc.ready_crash = 200;
  sc.partition = 15;
  sc.snapshot = 60;
  sc.conf_change = 40;
  sc.transfer = 20;
  sc.campaign = 5;
  sc.max_drop = 120;
  sc.max_dup = 40;
  sc.long_delay = 20;
  RunScenario(sc, 1300);
}

// Readys held across steps (a slow fsync while the node keeps stepping, as
// raw_node.h allows), with crashes losing what was not yet durable.
TEST(Simulation, SlowFsync) {
  Scenario sc;
  sc.name = "SlowFsync";
  sc.voters = 3;
  sc.spare_ids = 1;
  sc.async_ready = 1000;
  sc.crash = 10;
  sc.restart = 60;
  sc.ready_crash = 300;
  sc.partition = 20;
  sc.snapshot = 150;
  sc.conf_change = 80;
  sc.transfer = 10;
  sc.max_drop = 80;
  sc.max_dup = 30;
  sc.long_delay = 10;
  RunScenario(sc, 1600);
}

// Lease-based reads (thesis §6.4.1; ReadMode::kLeaseBased, opt-in): every
// read answered from the lease must be linearizable. The first version
// trusted check-quorum to depose a leader in time and failed here (seed 2):
// check-quorum notices up to two election timeouts late, and a restarted
// follower forgot whom it had promised. The lease now rests on acknowledged
// heartbeat send times, and a restarted node ignores elections at first.
TEST(Simulation, LeaseReads) {
  Scenario sc;
  sc.name = "LeaseReads";
  sc.voters = 3;
  sc.spare_ids = 1;
  sc.read_mode = ReadMode::kLeaseBased;
  sc.read = 600;
  sc.async_ready = 300;
  sc.crash = 10;
  sc.crash_leader = 5;
  sc.restart = 60;
  sc.ready_crash = 200;
  sc.partition = 20;
  sc.snapshot = 60;
  sc.conf_change = 30;
  sc.transfer = 20;
  sc.campaign = 5;
  sc.max_drop = 80;
  sc.max_dup = 30;
  sc.long_delay = 20;
  RunScenario(sc, 1500);
}

// Entries of mixed sizes (issue 18): most of a few bytes, some of kilobytes
// and a few of up to 4 MB, with max_size_per_msg 64 KiB and an inflight
// window and uncommitted budget of a few MB each, so that every byte limit
// binds — under loss, duplication, partitions, crashes, slow fsyncs,
// snapshots, membership changes and transfers. Besides the safety properties
// and liveness after healing: no append exceeds max_size_per_msg unless it
// carries a single entry (checked as each one is sent).
TEST(Simulation, LargeEntries) {
  Scenario sc;
  sc.name = "LargeEntries";
  sc.voters = 3;
  sc.spare_ids = 1;
  sc.medium_commands = 120;
  sc.large_commands = 25;
  sc.large_bytes = 4ull << 20;
  sc.max_size_per_msg = 64ull << 10;
  sc.max_inflight_bytes = 4ull << 20;
  sc.max_uncommitted_entries_size = 16ull << 20;
  sc.async_ready = 300;
  sc.crash = 10;
  sc.restart = 60;
  sc.ready_crash = 200;
  sc.partition = 15;
  sc.snapshot = 60;
  sc.conf_change = 20;
  sc.transfer = 10;
  sc.max_drop = 80;
  sc.max_dup = 30;
  sc.long_delay = 10;
  RunResult r = RunScenario(sc, 150);
  if (r.seeds >= 20) {  // a single replayed seed may hold no large entry
    // The scenario does what it says: large entries were committed and
    // applied, and went out alone in appends over the message limit.
    EXPECT_GT(r.stats.large_applied, 0u);
    EXPECT_GT(r.stats.max_append_bytes, sc.max_size_per_msg);
  }
}

}  // namespace
}  // namespace phalanx::consensus::sim
