// A deterministic simulated Raft cluster: RawNodes over MemoryStorage "disks",
// driven through the Ready loop exactly as raw_node.h documents, connected by
// a lossy, reordering network, and subjected to crashes, partitions,
// snapshots, membership changes and leadership transfers — all chosen by one
// seeded generator, so that a seed names one exact run and replays it.
//
// A run alternates chaos phases (faults and client traffic at random) with
// healing phases (every fault removed), and checks after every step the
// properties in safety_checker.h. After healing, a leader must emerge and every
// member must apply everything committed within a bounded number of ticks.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "consensus/raw_node.h"
#include "consensus/storage.h"
#include "tests/consensus/sim/safety_checker.h"
#include "tests/consensus/sim/sim_network.h"
#include "tests/consensus/sim/sim_random.h"
#include "tests/consensus/sim/state_machine.h"
#include "tests/consensus/sim/trace.h"

namespace phalanx::consensus::sim {

// What a run mixes in. Chances are per tick, in permille, unless noted.
struct Scenario {
  const char* name = "default";
  int voters = 3;
  int spare_ids = 0;      // ids beyond the initial voters that may join
  size_t min_voters = 2;  // membership changes never remove voters below this
  int cycles = 2;         // chaos + heal rounds per seed
  int chaos_ticks = 300;

  // Client traffic.
  uint32_t propose = 400;
  uint32_t read = 150;
  // Faults and operations.
  uint32_t crash = 0;
  uint32_t crash_leader = 0;  // crash whichever node leads
  uint32_t restart = 60;
  uint32_t partition = 0;
  uint32_t heal_partition = 30;
  uint32_t snapshot = 0;
  uint32_t conf_change = 0;
  uint32_t transfer = 0;
  uint32_t campaign = 0;
  // Clients also write to stale leaders (they accept, then lose the entries),
  // so followers end up with divergent uncommitted suffixes.
  bool propose_to_stale_leaders = false;
  // Chance per seed, in permille, of sending one entry per append message.
  uint32_t one_entry_messages = 0;
  // Chance per Ready stage boundary, per 100'000, of crashing right there.
  uint32_t ready_crash = 0;
  // Network maxima: each seed draws its own rates up to these.
  uint32_t max_drop = 0;
  uint32_t max_dup = 0;
  uint32_t long_delay = 0;
  uint64_t max_delay_ticks = 30;
  // Chance per seed, in permille, of holding Readys across steps (a slow
  // fsync while the node keeps stepping), as raw_node.h allows between
  // GetReady and Advance.
  uint32_t async_ready = 0;
  // How reads are served (lease reads need check-quorum; forced on).
  ReadMode read_mode = ReadMode::kSafe;
  // Randomize Config limits per seed (small messages, inflight windows...).
  bool vary_config = true;

  // Entry sizes (issue 18). Chance per single-command proposal, in permille,
  // that its payload is medium (1 KiB..64 KiB) or large (256 KiB..large_bytes)
  // rather than the usual few bytes.
  uint32_t medium_commands = 0;
  uint32_t large_commands = 0;
  uint64_t large_bytes = 4ull << 20;
  // Byte limits that override the default and vary_config's draws when
  // non-zero: max_size_per_msg as given; max_inflight_bytes and
  // max_uncommitted_entries_size drawn per seed in [limit/8, limit].
  uint64_t max_size_per_msg = 0;
  uint64_t max_inflight_bytes = 0;
  uint64_t max_uncommitted_entries_size = 0;
};

struct SimStats {
  uint64_t ticks = 0;
  uint64_t deliveries = 0;
  uint64_t drops = 0;
  uint64_t leaders = 0;
  uint64_t committed = 0;
  uint64_t proposals_acked = 0;
  uint64_t snapshots_sent = 0;
  uint64_t snapshots_installed = 0;
  uint64_t conf_changes_applied = 0;
  uint64_t reads_served = 0;
  uint64_t crashes = 0;
  uint64_t ready_crashes = 0;
  uint64_t transfers = 0;
  uint64_t large_commands = 0;    // large payloads proposed
  uint64_t large_applied = 0;     // large payloads applied (on any node)
  uint64_t max_append_bytes = 0;  // largest append message sent (entry bytes)
  // Liveness after healing, in election timeouts (the unit of the bounds),
  // and the seed that took longest.
  double max_timeouts_to_leader = 0;
  double max_timeouts_to_converge = 0;
  uint64_t slowest_seed = 0;
  void Add(const SimStats& o);
  std::string ToString() const;
};

class ClusterSim {
 public:
  ClusterSim(const Scenario& scenario, uint64_t seed);
  ~ClusterSim();
  ClusterSim(const ClusterSim&) = delete;
  ClusterSim& operator=(const ClusterSim&) = delete;

  // Runs the seed to the end. False on the first failure; failure() says why.
  bool Run();
  const std::string& failure() const { return failure_; }
  std::string TraceDump() const { return trace_.Dump(); }
  // One line per node: role, term, commit, applied, log and configuration.
  std::string DescribeNodes() const;
  const SimStats& stats() const { return stats_; }
  // Print every event as it happens (PHALANX_SIM_TRACE=1 when replaying).
  void set_verbose(bool v) { verbose_ = v; }

  // Liveness bounds after healing, in ticks (multiples of the election timeout).
  static constexpr uint64_t kLeaderBoundElections = 30;
  static constexpr uint64_t kConvergeBoundElections = 60;

 private:
  struct Node {
    NodeId id = kNoNode;
    std::unique_ptr<MemoryStorage> storage;  // the disk: survives crashes
    StateMachine sm;                         // durable with the applied index
    std::unique_ptr<RawNode> rn;             // null while down
    uint64_t boot = 0;                       // incarnation
    uint64_t tick_phase = 0;                 // unit within a tick when it ticks
    std::vector<ReadState> pending_reads;    // waiting for applied ≥ index
    std::optional<Ready> held;               // a Ready between GetReady and Advance
    int stage = 0;                           // how far `held` got
    // The commit index as of the last fsync'd Ready: a Ready that only moves
    // commit is not fsync'd (Ready::must_sync), so a crash may lose it.
    uint64_t synced_commit = 0;
    Role last_role = Role::kFollower;
    uint64_t last_term = 0;
    bool up() const { return rn != nullptr; }
  };
  struct Proposal {
    uint64_t term;
    uint64_t content;
    NodeId node;  // the leader that accepted it
  };

  // Setup.
  void Bootstrap();
  Node& CreateNode(NodeId id);
  void Start(Node& n);
  void Crash(Node& n, uint8_t point);

  // The main loop.
  void RunUnit();
  void RunTick() {
    for (uint64_t i = 0; i < kUnitsPerTick && !failed(); ++i) {
      RunUnit();
    }
  }
  void ChaosActions();
  void ClientActions();
  void Deliver(Packet& p);
  void AfterStep();

  // The Ready loop.
  void ProcessReadys();
  void ProcessReady(Node& n);
  bool MaybeCrashInReady(Node& n, uint8_t point);
  void OnReadyFetched(Node& n);
  void Persist(Node& n, const Ready& rd);
  void SendAll(Node& n, const std::vector<Message>& msgs);
  bool ApplyAll(Node& n, const Ready& rd);
  void ServeReads(Node& n);

  // Operations.
  void Propose();
  void ResolveProposal(const Proposal& prop, uint64_t index, uint64_t applied_term,
                       uint64_t applied_content);
  void Read();
  void ProposeConfChange();
  void Transfer();
  void TakeSnapshot();
  void Partition();
  void CrashSome();
  void RestartSome();
  void HealAll();

  // Healing and liveness.
  bool Converge(int cycle);
  void CheckLogsPairwise();

  // The leader of the highest term (with voter_only, one that is a voter in
  // its own configuration: a removed leader only hands over).
  Node* Leader(bool voter_only = false);
  Node* RandomUp();
  size_t DownCount() const;
  bool failed() const { return !failure_.empty() || checker_.failed(); }
  void Fail(std::string what) { checker_.Fail(std::move(what)); }
  void Note(TraceKind kind, uint64_t a, uint64_t b = 0, uint64_t index = 0, uint64_t commit = 0,
            uint8_t arg = 0, uint64_t term = 0);

  Scenario sc_;
  uint64_t seed_;
  SimRandom rng_;
  Network net_;
  SafetyChecker checker_;
  Trace trace_;
  Config base_config_;
  std::map<NodeId, std::unique_ptr<Node>> nodes_;
  uint64_t unit_ = 0;
  uint64_t tick_ = 0;
  bool chaos_ = true;
  size_t max_down_ = 1;
  bool async_ready_ = false;
  uint32_t hold_permille_ = 0;
  uint64_t next_id_ = 0;                                 // proposals and reads
  std::map<uint64_t, std::vector<Proposal>> proposals_;  // by index, until applied
  std::string failure_;
  SimStats stats_;
  bool verbose_ = false;
};

// Applies cc to cs with the core's rules (raft.cc ApplyConfChange): the
// configuration a log prefix establishes, computed independently of Raft.
ConfState ExpectedConfState(ConfState cs, const ConfChange& cc);

}  // namespace phalanx::consensus::sim
