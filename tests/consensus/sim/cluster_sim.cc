#include "tests/consensus/sim/cluster_sim.h"

#include <algorithm>
#include <utility>

namespace phalanx::consensus::sim {

namespace {

std::string U(uint64_t v) {
  return std::to_string(v);
}

void InsertSorted(std::vector<NodeId>& ids, NodeId id) {
  ids.insert(std::upper_bound(ids.begin(), ids.end(), id), id);
}
void Erase(std::vector<NodeId>& ids, NodeId id) {
  ids.erase(std::remove(ids.begin(), ids.end(), id), ids.end());
}

std::string DescribeConf(const ConfState& cs) {
  std::string s = "voters{";
  for (NodeId v : cs.voters) {
    s += U(v) + (v == cs.voters.back() ? "" : ",");
  }
  s += "} learners{";
  for (NodeId l : cs.learners) {
    s += U(l) + (l == cs.learners.back() ? "" : ",");
  }
  return s + "}";
}

// Messages that promise something about the sender's disk: they may leave only
// after the Ready that produced them is durable.
bool IsDurablePromise(const Message& m) {
  switch (m.type) {
    case MessageType::kVoteResp:
      return !m.reject;
    // Index 0: the "your term is stale" notice, which promises nothing.
    case MessageType::kAppResp:
      return !m.reject && m.index > 0;
    default:
      return false;
  }
}

}  // namespace

ConfState ExpectedConfState(ConfState cs, const ConfChange& cc) {
  NodeId id = cc.node_id;
  switch (cc.type) {
    case ConfChange::Type::kAddLearner:
      if (id == kNoNode || cs.IsMember(id)) return cs;
      InsertSorted(cs.learners, id);
      break;
    case ConfChange::Type::kAddVoter:
      if (id == kNoNode || cs.IsVoter(id)) return cs;
      Erase(cs.learners, id);
      InsertSorted(cs.voters, id);
      break;
    case ConfChange::Type::kRemoveNode:
      if (!cs.IsMember(id)) return cs;
      if (cs.IsVoter(id) && cs.voters.size() == 1) return cs;
      Erase(cs.voters, id);
      Erase(cs.learners, id);
      break;
  }
  return cs;
}

void SimStats::Add(const SimStats& o) {
  ticks += o.ticks;
  deliveries += o.deliveries;
  drops += o.drops;
  leaders += o.leaders;
  committed += o.committed;
  proposals_acked += o.proposals_acked;
  snapshots_sent += o.snapshots_sent;
  snapshots_installed += o.snapshots_installed;
  conf_changes_applied += o.conf_changes_applied;
  reads_served += o.reads_served;
  crashes += o.crashes;
  ready_crashes += o.ready_crashes;
  transfers += o.transfers;
  large_commands += o.large_commands;
  large_applied += o.large_applied;
  max_append_bytes = std::max(max_append_bytes, o.max_append_bytes);
  max_timeouts_to_leader = std::max(max_timeouts_to_leader, o.max_timeouts_to_leader);
  if (o.max_timeouts_to_converge > max_timeouts_to_converge) {
    max_timeouts_to_converge = o.max_timeouts_to_converge;
    slowest_seed = o.slowest_seed;
  }
}

std::string SimStats::ToString() const {
  return "ticks=" + U(ticks) + " delivered=" + U(deliveries) + " dropped=" + U(drops) +
         " leaders=" + U(leaders) + " committed=" + U(committed) + " acked=" + U(proposals_acked) +
         " snap_sent=" + U(snapshots_sent) + " snap_installed=" + U(snapshots_installed) +
         " conf_applied=" + U(conf_changes_applied) + " reads=" + U(reads_served) +
         " crashes=" + U(crashes) + " (mid-ready " + U(ready_crashes) +
         ") transfers=" + U(transfers) + " large=" + U(large_commands) + " (applied " +
         U(large_applied) + ") max_append_bytes=" + U(max_append_bytes) +
         "; after healing, at most " + std::to_string(max_timeouts_to_leader) +
         " election timeouts to a leader, " + std::to_string(max_timeouts_to_converge) +
         " to converge (seed " + U(slowest_seed) + ")";
}

// ---- setup ------------------------------------------------------------------

ClusterSim::ClusterSim(const Scenario& scenario, uint64_t seed)
    : sc_(scenario), seed_(seed), rng_(seed), net_(&rng_) {
  Config& c = base_config_;
  c.election_tick = static_cast<int>(rng_.Between(5, 15));
  c.heartbeat_tick = static_cast<int>(rng_.Between(1, std::min<uint64_t>(3, c.election_tick / 3)));
  if (rng_.Chance(sc_.one_entry_messages)) c.max_size_per_msg = 1;
  if (sc_.vary_config) {
    if (rng_.Chance(250)) c.max_size_per_msg = rng_.Between(1, 200);
    if (rng_.Chance(250)) c.max_inflight_msgs = rng_.Between(1, 4);
    if (rng_.Chance(150)) c.max_inflight_bytes = rng_.Between(50, 500);
    if (rng_.Chance(200)) c.max_committed_size_per_ready = rng_.Between(1, 300);
    if (rng_.Chance(150)) c.max_uncommitted_entries_size = rng_.Between(50, 1000);
    c.check_quorum = rng_.Chance(850);
    c.pre_vote = rng_.Chance(850);
  }
  if (sc_.max_size_per_msg != 0) c.max_size_per_msg = sc_.max_size_per_msg;
  if (sc_.max_inflight_bytes != 0) {
    c.max_inflight_bytes = rng_.Between(sc_.max_inflight_bytes / 8, sc_.max_inflight_bytes);
  }
  if (sc_.max_uncommitted_entries_size != 0) {
    c.max_uncommitted_entries_size =
        rng_.Between(sc_.max_uncommitted_entries_size / 8, sc_.max_uncommitted_entries_size);
  }
  c.read_mode = sc_.read_mode;
  if (c.read_mode == ReadMode::kLeaseBased) c.check_quorum = true;
  max_down_ = 1 + rng_.Below(static_cast<uint64_t>(sc_.voters) / 2 + 1);
  async_ready_ = rng_.Chance(sc_.async_ready);
  hold_permille_ = async_ready_ ? static_cast<uint32_t>(rng_.Between(100, 600)) : 0;
}

ClusterSim::~ClusterSim() {
  // RawNodes point at their storage: drop them first.
  for (auto& [id, n] : nodes_) {
    n->rn.reset();
  }
}

ClusterSim::Node& ClusterSim::CreateNode(NodeId id) {
  auto n = std::make_unique<Node>();
  n->id = id;
  n->storage = std::make_unique<MemoryStorage>();
  n->tick_phase = rng_.Below(kUnitsPerTick);
  Node& ref = *n;
  nodes_[id] = std::move(n);
  return ref;
}

void ClusterSim::Bootstrap() {
  // Every initial voter starts from the same snapshot at index 1 holding the
  // initial configuration, so that a node joining later learns it from the
  // snapshot it is sent (chain/Core#1335), never from an empty log.
  ConfState cs;
  for (int i = 1; i <= sc_.voters; ++i) {
    cs.voters.push_back(static_cast<NodeId>(i));
  }
  Snapshot s;
  s.metadata = {1, 1, cs};
  s.data = StateMachine::InitialData(1);
  for (NodeId id : cs.voters) {
    Node& n = CreateNode(id);
    if (!n.storage->ApplySnapshot(s).ok()) Fail("bootstrap: ApplySnapshot failed");
    n.storage->SetHardState({1, kNoNode, 1});
    n.synced_commit = 1;
    n.sm.Restore(s.data, 1, cs);
    checker_.Bootstrap(1, 1, n.sm.digest());
    Start(n);
  }
}

void ClusterSim::Start(Node& n) {
  ++n.boot;
  Config c = base_config_;
  c.id = n.id;
  c.storage = n.storage.get();
  c.seed = seed_ ^ (n.id << 40) ^ (n.boot << 20) ^ 0x5eedull;
  c.applied = n.sm.applied();
  if (n.storage->GetInitialState().conf_state != n.sm.conf_state()) {
    Fail("node " + U(n.id) + ": durable ConfState " +
         DescribeConf(n.storage->GetInitialState().conf_state) +
         " differs from the applied state's " + DescribeConf(n.sm.conf_state()));
    return;
  }
  auto r = RawNode::Create(c);
  if (!r.ok()) {
    Fail("node " + U(n.id) + ": RawNode::Create: " + r.status().ToString());
    return;
  }
  n.rn = std::move(r).value();
  if (n.rn->raft().log().applied() != n.sm.applied()) {
    Fail("node " + U(n.id) + " restarted with applied index " + U(n.rn->raft().log().applied()) +
         " but its state machine applied " + U(n.sm.applied()));
  }
  n.last_role = n.rn->raft().role();
  n.last_term = n.rn->raft().term();
  n.held.reset();
  n.pending_reads.clear();
  Note(TraceKind::kRestart, n.id, 0, n.sm.applied());
}

void ClusterSim::Crash(Node& n, uint8_t point) {
  // Only the MemoryStorage and the state machine survive: unstable entries,
  // the outbox, a Ready in progress and every volatile field are gone.
  n.rn.reset();
  n.held.reset();
  n.pending_reads.clear();
  // Commit-only hard states were written without an fsync: the disk keeps the
  // commit index of the last fsync'd Ready, or what the state machine applied
  // (an applied entry's record follows its commit record in the engine's
  // ordered log, so it cannot outlive it).
  HardState hs = n.storage->GetInitialState().hard_state;
  uint64_t kept = std::max(n.synced_commit, n.sm.applied());
  if (std::getenv("NOROLL") == nullptr && hs.commit > kept) {
    hs.commit = kept;
    n.storage->SetHardState(hs);
  }
  n.synced_commit = hs.commit;
  // A proposal this node accepted but never persisted dies with it, and so
  // does the client's wait for it (the engine's waiters are in memory): the
  // node may even lead the same term again after restarting, its vote for
  // itself having been lost too, and put another entry at that index.
  for (auto it = proposals_.begin(); it != proposals_.end();) {
    auto& props = it->second;
    props.erase(std::remove_if(props.begin(), props.end(),
                               [&](const Proposal& p) {
                                 auto t = n.storage->Term(it->first);
                                 return p.node == n.id && !(t.ok() && t.value() == p.term);
                               }),
                props.end());
    it = props.empty() ? proposals_.erase(it) : std::next(it);
  }
  ++stats_.crashes;
  Note(TraceKind::kCrash, n.id, 0, 0, 0, point);
}

void ClusterSim::Note(TraceKind kind, uint64_t a, uint64_t b, uint64_t index, uint64_t commit,
                      uint8_t arg, uint64_t term) {
  TraceEvent e;
  e.tick = tick_;
  e.kind = kind;
  e.a = a;
  e.b = b;
  e.index = index;
  e.commit = commit;
  e.arg = arg;
  e.term = term;
  trace_.Add(e);
}

// ---- main loop ----------------------------------------------------------------

bool ClusterSim::Run() {
  trace_.set_verbose(verbose_);
  SetCrashContext({&trace_, sc_.name, seed_});
  Network::Rates chaos_rates;
  chaos_rates.drop_permille = static_cast<uint32_t>(rng_.Below(sc_.max_drop + 1));
  chaos_rates.dup_permille = static_cast<uint32_t>(rng_.Below(sc_.max_dup + 1));
  chaos_rates.long_delay_permille = static_cast<uint32_t>(rng_.Below(sc_.long_delay + 1));
  chaos_rates.max_long_delay_units =
      kUnitsPerTick * std::min<uint64_t>(sc_.max_delay_ticks,
                                         3 * static_cast<uint64_t>(base_config_.election_tick));

  Bootstrap();
  for (int cycle = 0; cycle < sc_.cycles && !failed(); ++cycle) {
    chaos_ = true;
    net_.set_rates(chaos_rates);
    for (int t = 0; t < sc_.chaos_ticks && !failed(); ++t) {
      RunTick();
    }
    if (failed()) break;
    Converge(cycle);
  }
  if (checker_.failed() && failure_.empty()) failure_ = checker_.failure();
  stats_.leaders = checker_.leaders_elected();
  stats_.committed = checker_.max_commit();
  SetCrashContext({});
  return failure_.empty();
}

void ClusterSim::RunUnit() {
  if (unit_ % kUnitsPerTick == 0) {
    ++tick_;
    ++stats_.ticks;
    if (chaos_) ChaosActions();
    if (!failed()) ClientActions();
    if (failed()) return;
  }
  std::vector<Packet> due = net_.TakeDue(unit_);
  for (Packet& p : due) {
    Deliver(p);
    if (failed()) return;
  }
  for (auto& [id, n] : nodes_) {
    if (!n->up() || n->tick_phase != unit_ % kUnitsPerTick) continue;
    n->rn->Tick();
    ProcessReadys();
    AfterStep();
    if (failed()) return;
  }
  if (async_ready_) {
    // Slow fsyncs complete at random moments.
    for (auto& [id, n] : nodes_) {
      if (!n->up() || !n->held || !rng_.Chance(500)) continue;
      ProcessReady(*n);
      ProcessReadys();
      AfterStep();
      if (failed()) return;
    }
  }
  ++unit_;
}

void ClusterSim::Deliver(Packet& p) {
  const Message& m = p.m;
  auto dst_it = nodes_.find(m.to);
  Node* dst = dst_it == nodes_.end() ? nullptr : dst_it->second.get();
  auto src_it = nodes_.find(m.from);
  Node* src = src_it == nodes_.end() ? nullptr : src_it->second.get();
  // Transport reports go to the incarnation that sent the message only.
  bool src_alive = src != nullptr && src->up() && src->boot == p.sender_boot;

  int reason = -1;
  if (dst == nullptr || !dst->up()) {
    reason = 2;
  } else if (net_.IsCut(m.from, m.to)) {
    reason = 1;
  } else if (chaos_ && net_.RandomDrop()) {
    reason = 0;
  }
  if (reason >= 0) {
    ++stats_.drops;
    trace_.Message(tick_, TraceKind::kDrop, m, static_cast<uint8_t>(reason));
    if (src_alive) {
      // A real transport notices a dead connection (and sometimes a broken
      // stream), and always learns that a snapshot stream failed.
      if (m.type == MessageType::kSnap) src->rn->ReportSnapshot(m.to, false);
      if (reason != 0 || rng_.Chance(300)) src->rn->ReportUnreachable(m.to);
    }
    ProcessReadys();
    AfterStep();
    return;
  }
  ++stats_.deliveries;
  trace_.Message(tick_, TraceKind::kDeliver, m);
  Status s = dst->rn->Step(m);
  if (!s.ok()) Fail("Step(" + DescribeMessage(m) + ") failed: " + s.ToString());
  if (m.type == MessageType::kSnap && src_alive) src->rn->ReportSnapshot(m.to, true);
  ProcessReadys();
  AfterStep();
}

void ClusterSim::AfterStep() {
  for (auto& [id, n] : nodes_) {
    if (!n->up()) continue;
    const Raft& r = n->rn->raft();
    if (r.role() != n->last_role || r.term() != n->last_term) {
      n->last_role = r.role();
      n->last_term = r.term();
      Note(TraceKind::kRole, id, 0, r.log().LastIndex(), r.log().committed(),
           static_cast<uint8_t>(r.role()), r.term());
    }
    checker_.ObserveRole(id, r.role(), r.term(), r.log());
    checker_.ObserveCommit(r.log().committed());
    if (!n->held) {
      // With no Ready in progress, Raft and the durable application agree.
      if (r.log().applied() != n->sm.applied()) {
        Fail("node " + U(id) + ": Raft's applied index " + U(r.log().applied()) +
             " differs from the state machine's " + U(n->sm.applied()));
      } else if (r.conf_state() != n->sm.conf_state()) {
        Fail("node " + U(id) + ": Raft's configuration " + DescribeConf(r.conf_state()) +
             " differs from the applied one " + DescribeConf(n->sm.conf_state()));
      }
    }
  }
  if (checker_.failed() && failure_.empty()) failure_ = checker_.failure();
}

// ---- the Ready loop (raw_node.h) -----------------------------------------------------

void ClusterSim::ProcessReadys() {
  for (auto& [id, n] : nodes_) {
    if (n->up() && !n->held) ProcessReady(*n);
  }
}

void ClusterSim::ProcessReady(Node& n) {
  for (int guard = 0;; ++guard) {
    if (guard > 100000) {
      Fail("node " + U(n.id) + " never runs out of Readys");
      return;
    }
    if (!n.up() || failed()) return;
    if (!n.held) {
      if (!n.rn->HasReady()) return;
      n.held = n.rn->GetReady();
      n.stage = 0;
      OnReadyFetched(n);
      if (failed()) return;
    }
    // A slow fsync: the node keeps stepping while this Ready is in progress.
    if (async_ready_ && rng_.Chance(hold_permille_)) return;
    switch (n.stage) {
      case 0:
        if (MaybeCrashInReady(n, 1)) return;
        Persist(n, *n.held);
        n.stage = 1;
        break;
      case 1:
        if (MaybeCrashInReady(n, 2)) return;
        if (!n.held->send_messages_before_persisting) SendAll(n, n.held->messages);
        n.stage = 2;
        break;
      case 2:
        if (!ApplyAll(n, *n.held)) return;  // crashed part way
        n.stage = 3;
        break;
      default:
        if (MaybeCrashInReady(n, 4)) return;
        n.rn->Advance(*n.held);
        n.held.reset();
        ServeReads(n);
        break;
    }
  }
}

bool ClusterSim::MaybeCrashInReady(Node& n, uint8_t point) {
  if (!chaos_ || sc_.ready_crash == 0 || DownCount() >= max_down_) return false;
  if (rng_.Below(100000) >= sc_.ready_crash) return false;
  ++stats_.ready_crashes;
  Crash(n, point);
  return true;
}

void ClusterSim::OnReadyFetched(Node& n) {
  const Ready& rd = *n.held;
  if (!rd.entries.empty()) {
    uint64_t first = rd.entries.front().index;
    for (size_t i = 1; i < rd.entries.size(); ++i) {
      if (rd.entries[i].index != first + i) {
        Fail("node " + U(n.id) + ": Ready entries are not contiguous");
        return;
      }
    }
    auto prev = n.rn->raft().log().Term(first - 1);
    if (!prev.ok()) {
      Fail("node " + U(n.id) + ": Ready entries start at " + U(first) +
           " but the entry before is unknown");
      return;
    }
    checker_.ObserveEntries(n.id, prev.value(), rd.entries);
  }
  for (const Message& m : rd.messages) {
    if (m.from != n.id) Fail("node " + U(n.id) + " sends a message from " + U(m.from));
    if (rd.send_messages_before_persisting && IsDurablePromise(m)) {
      Fail("node " + U(n.id) + " may send " + DescribeMessage(m) +
           " before persisting, but it acknowledges durable state");
    }
    checker_.ObserveMessage(m);
    if (m.type == MessageType::kSnap) ++stats_.snapshots_sent;
  }
  if (rd.send_messages_before_persisting) SendAll(n, rd.messages);
}

void ClusterSim::Persist(Node& n, const Ready& rd) {
  if (rd.snapshot) {
    const SnapshotMetadata& md = rd.snapshot->metadata;
    Status s = n.storage->ApplySnapshot(*rd.snapshot);
    if (!s.ok()) {
      Fail("node " + U(n.id) + ": ApplySnapshot(" + U(md.index) + "): " + s.ToString());
      return;
    }
    if (!n.sm.Restore(rd.snapshot->data, md.index, md.conf_state)) {
      Fail("node " + U(n.id) + ": snapshot at " + U(md.index) + " holds a bad state");
      return;
    }
    checker_.ObserveSnapshotInstall(n.id, md.index, md.term, n.sm.digest());
    ++stats_.snapshots_installed;
    Note(TraceKind::kSnapshot, n.id, 1, md.index, md.index);
  }
  if (!rd.entries.empty()) {
    Status s = n.storage->Append(rd.entries);
    if (!s.ok()) Fail("node " + U(n.id) + ": storage Append: " + s.ToString());
  }
  if (rd.hard_state) {
    checker_.ObservePersistHardState(n.id, n.storage->GetInitialState().hard_state, *rd.hard_state);
    if (rd.hard_state->commit > n.storage->LastIndex()) {
      Fail("node " + U(n.id) + " persists commit " + U(rd.hard_state->commit) +
           " beyond its durable log (last " + U(n.storage->LastIndex()) + ")");
    }
    n.storage->SetHardState(*rd.hard_state);
  }
  // An fsync makes everything written before it durable too.
  if (rd.must_sync || rd.snapshot) n.synced_commit = n.storage->GetInitialState().hard_state.commit;
}

void ClusterSim::SendAll(Node& n, const std::vector<Message>& msgs) {
  for (const Message& m : msgs) {
    if (m.type == MessageType::kApp) {
      // Config::max_size_per_msg: every append within the limit, unless it
      // carries a single entry (which always goes, however large).
      uint64_t bytes = 0;
      for (const Entry& e : m.entries)
        bytes += e.ByteSize();
      stats_.max_append_bytes = std::max(stats_.max_append_bytes, bytes);
      if (m.entries.size() > 1 && bytes > base_config_.max_size_per_msg) {
        Fail("node " + U(n.id) + " sent an append of " + U(m.entries.size()) + " entries and " +
             U(bytes) + " bytes, over max_size_per_msg " + U(base_config_.max_size_per_msg));
        return;
      }
    }
    net_.Send(unit_, m, n.boot);
  }
}

bool ClusterSim::ApplyAll(Node& n, const Ready& rd) {
  for (const ReadState& rs : rd.read_states) {
    checker_.ObserveReadState(n.id, rs);
    Note(TraceKind::kReadState, n.id, 0, rs.index, std::stoull(rs.context));
    n.pending_reads.push_back(rs);
  }
  if (rd.committed_entries.empty()) return true;
  uint64_t first = rd.committed_entries.front().index;
  for (const Entry& e : rd.committed_entries) {
    if (e.index != n.sm.applied() + 1) {
      Fail("node " + U(n.id) + " is handed entry " + U(e.index) + " to apply after " +
           U(n.sm.applied()));
      return false;
    }
    n.sm.Apply(e);
    if (e.data.size() >= (256u << 10)) ++stats_.large_applied;
    checker_.ObserveApply(n.id, e, n.sm.digest());
    auto p = proposals_.find(e.index);
    if (p != proposals_.end()) {
      for (const Proposal& prop : p->second) {
        ResolveProposal(prop, e.index, e.term, EntryContentHash(e));
      }
      proposals_.erase(p);
    }
    if (e.type == EntryType::kConfChange) {
      auto cc = ConfChange::Decode(e.data);
      if (!cc.ok()) {
        Fail("node " + U(n.id) + ": undecodable conf change at " + U(e.index));
        return false;
      }
      ConfState expected = ExpectedConfState(n.sm.conf_state(), cc.value());
      ConfState cs = n.rn->ApplyConfChange(cc.value());
      if (cs != expected) {
        Fail("node " + U(n.id) + " applying the conf change at " + U(e.index) + " got " +
             DescribeConf(cs) + ", but the applied log establishes " + DescribeConf(expected));
      }
      n.sm.SetConfState(cs);
      n.storage->SetConfState(cs);  // durable together with the applied index
      ++stats_.conf_changes_applied;
    }
    if (failed()) return false;
    if (MaybeCrashInReady(n, 3)) return false;
  }
  Note(TraceKind::kApply, n.id, 0, first, n.sm.applied());
  return true;
}

void ClusterSim::ServeReads(Node& n) {
  auto served = std::remove_if(n.pending_reads.begin(), n.pending_reads.end(),
                               [&](const ReadState& rs) { return rs.index <= n.sm.applied(); });
  stats_.reads_served += static_cast<uint64_t>(n.pending_reads.end() - served);
  n.pending_reads.erase(served, n.pending_reads.end());
}

std::string ClusterSim::DescribeNodes() const {
  std::string out;
  const Config& c = base_config_;
  out += "  config: election_tick=" + U(static_cast<uint64_t>(c.election_tick)) +
         " heartbeat_tick=" + U(static_cast<uint64_t>(c.heartbeat_tick)) +
         " pre_vote=" + U(c.pre_vote) + " check_quorum=" + U(c.check_quorum) +
         " async_ready=" + U(async_ready_) + "\n";
  for (const auto& [id, n] : nodes_) {
    out += "  node " + U(id) + ": ";
    if (!n->up()) {
      out += "down, applied " + U(n->sm.applied()) + " " + DescribeConf(n->sm.conf_state()) + "\n";
      continue;
    }
    const Raft& r = n->rn->raft();
    out += std::string(RoleName(r.role())) + " term " + U(r.term()) + " vote " + U(r.vote()) +
           " leader " + U(r.leader()) + " commit " + U(r.log().committed()) + " applied " +
           U(r.log().applied()) + " last " + U(r.log().LastTerm()) + "/" + U(r.log().LastIndex()) +
           " " + DescribeConf(r.conf_state()) + "\n";
  }
  return out;
}

// ---- operations ---------------------------------------------------------------

ClusterSim::Node* ClusterSim::Leader(bool voter_only) {
  Node* best = nullptr;
  for (auto& [id, n] : nodes_) {
    if (!n->up() || n->rn->raft().role() != Role::kLeader) continue;
    if (voter_only && !n->rn->raft().conf_state().IsVoter(id)) continue;
    if (best == nullptr || n->rn->raft().term() > best->rn->raft().term()) best = n.get();
  }
  return best;
}

ClusterSim::Node* ClusterSim::RandomUp() {
  std::vector<Node*> up;
  for (auto& [id, n] : nodes_) {
    if (n->up()) up.push_back(n.get());
  }
  return up.empty() ? nullptr : up[rng_.Below(up.size())];
}

size_t ClusterSim::DownCount() const {
  size_t down = 0;
  for (const auto& [id, n] : nodes_) {
    down += n->up() ? 0 : 1;
  }
  return down;
}

void ClusterSim::ChaosActions() {
  auto step = [&] {
    ProcessReadys();
    AfterStep();
  };
  if (sc_.crash && rng_.Chance(sc_.crash)) CrashSome(), step();
  if (sc_.crash_leader && rng_.Chance(sc_.crash_leader) && DownCount() < max_down_) {
    if (Node* l = Leader()) Crash(*l, 0), step();
  }
  if (sc_.restart && rng_.Chance(sc_.restart)) RestartSome(), step();
  if (sc_.partition && rng_.Chance(sc_.partition)) Partition();
  if (net_.AnyCut() && rng_.Chance(sc_.heal_partition)) {
    net_.HealLinks();
    Note(TraceKind::kPartition, 0, 0, 0, 0, 0);
  }
  if (sc_.snapshot && rng_.Chance(sc_.snapshot)) TakeSnapshot(), step();
  if (sc_.conf_change && rng_.Chance(sc_.conf_change)) ProposeConfChange(), step();
  if (sc_.transfer && rng_.Chance(sc_.transfer)) Transfer(), step();
  if (sc_.campaign && rng_.Chance(sc_.campaign)) {
    if (Node* n = RandomUp()) {
      Note(TraceKind::kCampaign, n->id);
      (void)n->rn->Campaign();
      step();
    }
  }
}

void ClusterSim::ClientActions() {
  if (rng_.Chance(sc_.propose)) {
    Propose();
    ProcessReadys();
    AfterStep();
  }
  if (rng_.Chance(sc_.read)) {
    Read();
    ProcessReadys();
    AfterStep();
  }
}

void ClusterSim::Propose() {
  Node* target = rng_.Chance(700) ? Leader() : nullptr;
  if (sc_.propose_to_stale_leaders && rng_.Chance(500)) {
    std::vector<Node*> leaders;
    for (auto& [id, n] : nodes_) {
      if (n->up() && n->rn->raft().role() == Role::kLeader) leaders.push_back(n.get());
    }
    if (!leaders.empty()) target = leaders[rng_.Below(leaders.size())];
  }
  if (target == nullptr) target = RandomUp();
  if (target == nullptr) return;
  size_t count = rng_.Chance(200) ? rng_.Between(2, 4) : 1;
  std::vector<std::string> commands;
  for (size_t i = 0; i < count; ++i) {
    std::string c = "p" + U(++next_id_) + ":";
    uint64_t fill = rng_.Below(40);
    // Medium and large payloads only where a scenario asks for them (so that
    // the other scenarios' seeds draw exactly as before).
    if (count == 1 && sc_.large_commands != 0 && rng_.Chance(sc_.large_commands)) {
      fill = rng_.Between(uint64_t{256} << 10, std::max<uint64_t>(sc_.large_bytes, 256ull << 10));
      ++stats_.large_commands;
    } else if (count == 1 && sc_.medium_commands != 0 && rng_.Chance(sc_.medium_commands)) {
      fill = rng_.Between(uint64_t{1} << 10, uint64_t{64} << 10);
    }
    c.append(fill, static_cast<char>('a' + rng_.Below(26)));
    commands.push_back(std::move(c));
  }
  std::vector<uint64_t> contents;
  for (const std::string& c : commands) {
    Entry e;
    e.data = c;
    contents.push_back(EntryContentHash(e));
  }
  auto r = target->rn->Propose(commands);
  if (!r.ok() && r.status().code() == Status::Code::kNotLeader) {
    // A client follows the leader hint once.
    auto hinted = nodes_.find(r.status().leader_hint());
    if (hinted != nodes_.end() && hinted->second->up()) {
      target = hinted->second.get();
      r = target->rn->Propose(commands);
    }
  }
  Note(TraceKind::kPropose, target->id, 0, r.ok() ? r.value().first_index : 0, 0,
       static_cast<uint8_t>(r.status().code()), r.ok() ? r.value().term : 0);
  if (!r.ok()) return;
  const ProposalPosition& pos = r.value();
  if (pos.last_index - pos.first_index + 1 != count) {
    Fail("proposal of " + U(count) + " commands got positions " + U(pos.first_index) + ".." +
         U(pos.last_index));
    return;
  }
  for (size_t i = 0; i < count; ++i) {
    uint64_t index = pos.first_index + i, term = 0, content = 0;
    if (checker_.AppliedAt(index, &term, &content)) {
      // A stale leader accepted it where the cluster already applied something.
      ResolveProposal({pos.term, contents[i], target->id}, index, term, content);
    } else {
      proposals_[index].push_back({pos.term, contents[i], target->id});
    }
  }
}

void ClusterSim::ResolveProposal(const Proposal& prop, uint64_t index, uint64_t applied_term,
                                 uint64_t applied_content) {
  // A (term, index) names one entry: a proposal accepted there in the applied
  // entry's term must be that entry; in another term it was simply lost.
  if (prop.term != applied_term) return;
  if (prop.content != applied_content) {
    Fail("proposal accepted at " + U(applied_term) + "/" + U(index) +
         " was replaced by another entry of the same term");
  } else {
    ++stats_.proposals_acked;
  }
}

void ClusterSim::Read() {
  Node* n = RandomUp();
  if (n == nullptr) return;
  uint64_t id = ++next_id_;
  // Linearizability: the read must observe everything committed anywhere by now.
  uint64_t bound = checker_.max_commit();
  Status s = n->rn->ReadIndex(U(id));
  Note(TraceKind::kReadIndex, n->id, 0, id, bound, static_cast<uint8_t>(s.code()));
  if (s.ok()) checker_.ObserveReadRequest(id, n->id, bound);
}

void ClusterSim::ProposeConfChange() {
  Node* l = Leader();
  if (l == nullptr) return;
  const ConfState& cs = l->rn->raft().conf_state();
  NodeId max_id = static_cast<NodeId>(sc_.voters) + static_cast<NodeId>(sc_.spare_ids);
  std::vector<NodeId> outsiders, learners, voters;
  for (NodeId id = 1; id <= max_id; ++id) {
    if (cs.IsVoter(id)) {
      voters.push_back(id);
    } else if (cs.IsLearner(id)) {
      learners.push_back(id);
    } else {
      outsiders.push_back(id);
    }
  }
  std::vector<ConfChange> options;
  auto pick = [&](const std::vector<NodeId>& ids) { return ids[rng_.Below(ids.size())]; };
  if (!outsiders.empty()) {
    options.push_back({ConfChange::Type::kAddLearner, pick(outsiders), "addr"});
    if (rng_.Chance(150)) options.push_back({ConfChange::Type::kAddVoter, pick(outsiders), ""});
  }
  if (!learners.empty()) {
    options.push_back({ConfChange::Type::kAddVoter, pick(learners), ""});
    options.push_back({ConfChange::Type::kAddVoter, pick(learners), ""});
    options.push_back({ConfChange::Type::kRemoveNode, pick(learners), ""});
  }
  if (voters.size() > sc_.min_voters) {
    options.push_back({ConfChange::Type::kRemoveNode, pick(voters), ""});
  }
  if (options.empty()) return;
  ConfChange cc = options[rng_.Below(options.size())];
  auto r = l->rn->ProposeConfChange(cc);
  Note(TraceKind::kConfChange, l->id, cc.node_id, r.ok() ? r.value().first_index : 0,
       static_cast<uint64_t>(r.status().code()), static_cast<uint8_t>(cc.type));
  if (r.ok() && cc.type != ConfChange::Type::kRemoveNode && nodes_.count(cc.node_id) == 0) {
    // A brand-new server: empty disk, no configuration; it learns everything
    // (the configuration included) from the leader's snapshot.
    Start(CreateNode(cc.node_id));
  }
}

void ClusterSim::Transfer() {
  Node* l = Leader();
  if (l == nullptr) return;
  const ConfState& cs = l->rn->raft().conf_state();
  if (cs.voters.size() < 2) return;
  NodeId to = cs.voters[rng_.Below(cs.voters.size())];
  if (to == l->id) return;
  Status s = l->rn->TransferLeader(to);
  Note(TraceKind::kTransfer, l->id, to, 0, 0, static_cast<uint8_t>(s.code()));
  if (s.ok()) ++stats_.transfers;
}

void ClusterSim::TakeSnapshot() {
  Node* n = RandomUp();
  if (n == nullptr) return;
  uint64_t applied = n->sm.applied();
  auto current = n->storage->GetSnapshot();
  if (!current.ok() || applied <= current.value().metadata.index) return;
  auto s = n->storage->CreateSnapshot(applied, n->sm.conf_state(), n->sm.Serialize());
  if (!s.ok()) {
    Fail("node " + U(n->id) + ": CreateSnapshot(" + U(applied) + "): " + s.status().ToString());
    return;
  }
  // Keep a few entries behind the snapshot (or none), as engines usually do.
  uint64_t keep = rng_.Chance(300) ? 0 : rng_.Below(10);
  uint64_t compact = applied > keep ? applied - keep : 0;
  if (compact >= n->storage->FirstIndex()) {
    Status c = n->storage->Compact(compact);
    if (!c.ok()) Fail("node " + U(n->id) + ": Compact(" + U(compact) + "): " + c.ToString());
  }
  Note(TraceKind::kSnapshot, n->id, 0, applied, n->storage->FirstIndex() - 1);
}

void ClusterSim::Partition() {
  std::vector<NodeId> ids;
  for (auto& [id, n] : nodes_) {
    ids.push_back(id);
  }
  if (ids.size() < 2) return;
  uint64_t side = 0;  // bitmask of node ids on one side
  bool one_way = rng_.Chance(300);
  uint64_t kind = rng_.Below(4);
  Node* l = Leader();
  if (kind == 0 && l != nullptr) {
    side = 1ull << l->id;  // isolate the leader
  } else if (kind == 3 && l != nullptr) {
    // The leader keeps a minority: it goes on accepting writes it cannot
    // commit, and replicates them to its side (divergent suffixes).
    side = 1ull << l->id;
    size_t minority = (ids.size() - 1) / 2;
    for (size_t i = 0; i < minority; ++i) {
      side |= 1ull << ids[rng_.Below(ids.size())];
    }
  } else if (kind == 1) {
    NodeId a = ids[rng_.Below(ids.size())], b = ids[rng_.Below(ids.size())];
    if (a == b) return;
    net_.Cut(a, b);  // one link
    if (!one_way) net_.Cut(b, a);
    Note(TraceKind::kPartition, (1ull << a) | (1ull << b), 0, 0, 0, one_way ? 1 : 0);
    return;
  } else {
    for (NodeId id : ids) {
      if (rng_.Chance(500)) side |= 1ull << id;
    }
  }
  bool reverse = rng_.Chance(500);
  for (NodeId a : ids) {
    for (NodeId b : ids) {
      bool a_in = side & (1ull << a), b_in = side & (1ull << b);
      if (!a_in || b_in) continue;
      if (!one_way || !reverse) net_.Cut(a, b);
      if (!one_way || reverse) net_.Cut(b, a);
    }
  }
  Note(TraceKind::kPartition, side, 0, 0, 0, one_way ? 1 : 0);
}

void ClusterSim::CrashSome() {
  if (DownCount() >= max_down_) return;
  if (Node* n = RandomUp()) Crash(*n, 0);
}

void ClusterSim::RestartSome() {
  std::vector<Node*> down;
  for (auto& [id, n] : nodes_) {
    if (!n->up()) down.push_back(n.get());
  }
  if (!down.empty()) Start(*down[rng_.Below(down.size())]);
}

void ClusterSim::HealAll() {
  net_.HealLinks();
  Network::Rates r = net_.rates();
  r.drop_permille = 0;
  r.long_delay_permille = 0;
  net_.set_rates(r);
  for (auto& [id, n] : nodes_) {
    if (!n->up()) Start(*n);
  }
  Note(TraceKind::kHeal, 0);
  ProcessReadys();
  AfterStep();
}

// ---- liveness after healing ---------------------------------------------------------

bool ClusterSim::Converge(int cycle) {
  chaos_ = false;
  HealAll();
  const uint64_t election = static_cast<uint64_t>(base_config_.election_tick);
  const uint64_t start = tick_;
  while (Leader(true) == nullptr) {
    if (tick_ - start > kLeaderBoundElections * election) {
      Fail("liveness: no leader " + U(kLeaderBoundElections * election) +
           " ticks after healing every fault");
      return false;
    }
    RunTick();
    if (failed()) return false;
  }
  stats_.max_timeouts_to_leader =
      std::max(stats_.max_timeouts_to_leader,
               static_cast<double>(tick_ - start) / static_cast<double>(election));

  // A marker proposal, retried at each new leader until one commits: every
  // member must then apply it, and with it everything committed before.
  uint64_t marker_index = 0;  // once committed
  uint64_t pending_index = 0, pending_term = 0, attempt = 0, committed_before = 0;
  for (;;) {
    if (tick_ - start > kConvergeBoundElections * election) {
      std::string why = "no marker committed";
      if (marker_index != 0) {
        why = "marker " + U(marker_index) + " not applied on";
        if (Node* l = Leader(true)) {
          const ConfState& cs = l->rn->raft().conf_state();
          for (const auto* ids : {&cs.voters, &cs.learners}) {
            for (NodeId id : *ids) {
              auto it = nodes_.find(id);
              if (it == nodes_.end() || it->second->sm.applied() < marker_index) {
                why += " " + U(id);
              }
            }
          }
        }
      }
      Fail("liveness: " + why + " " + U(kConvergeBoundElections * election) +
           " ticks after healing every fault");
      return false;
    }
    if (marker_index == 0 && pending_term != 0) {
      uint64_t term = 0, content = 0;
      if (checker_.AppliedAt(pending_index, &term, &content)) {
        if (term == pending_term) {
          marker_index = pending_index;
        } else {
          pending_term = 0;  // overwritten by a later leader: propose again
        }
      }
    }
    if (Node* l = Leader(true)) {
      const Raft& r = l->rn->raft();
      if (marker_index == 0 && (pending_term == 0 || pending_term < r.term())) {
        committed_before = checker_.max_commit();
        auto p = l->rn->Propose("marker-" + U(cycle) + "-" + U(++attempt));
        if (p.ok()) {
          pending_index = p.value().first_index;
          pending_term = p.value().term;
        }
        ProcessReadys();
        AfterStep();
      }
      if (marker_index != 0) {
        bool done = true;
        const ConfState& cs = r.conf_state();
        for (const auto* ids : {&cs.voters, &cs.learners}) {
          for (NodeId id : *ids) {
            auto it = nodes_.find(id);
            if (it == nodes_.end() || it->second->sm.applied() < marker_index) done = false;
          }
        }
        if (done) break;
      }
    }
    RunTick();
    if (failed()) return false;
  }
  double timeouts = static_cast<double>(tick_ - start) / static_cast<double>(election);
  if (timeouts > stats_.max_timeouts_to_converge) {
    stats_.max_timeouts_to_converge = timeouts;
    stats_.slowest_seed = seed_;
  }
  if (marker_index < committed_before) {
    Fail("marker at " + U(marker_index) + " precedes index " + U(committed_before) +
         " committed before it was proposed");
    return false;
  }
  if (!proposals_.empty() && proposals_.begin()->first <= marker_index) {
    Fail("proposal at index " + U(proposals_.begin()->first) +
         " never resolved although every member applied past it");
    return false;
  }
  CheckLogsPairwise();
  return !failed();
}

void ClusterSim::CheckLogsPairwise() {
  // A direct (quadratic) check of Log Matching, independent of the checker's
  // incremental one.
  std::vector<Node*> up;
  for (auto& [id, n] : nodes_) {
    if (n->up()) up.push_back(n.get());
  }
  for (size_t a = 0; a < up.size(); ++a) {
    for (size_t b = a + 1; b < up.size(); ++b) {
      const RaftLog& la = up[a]->rn->raft().log();
      const RaftLog& lb = up[b]->rn->raft().log();
      uint64_t lo = std::max(la.FirstIndex(), lb.FirstIndex());
      uint64_t hi = std::min(la.LastIndex(), lb.LastIndex());
      uint64_t match = 0;
      for (uint64_t i = hi; i >= lo && i > 0; --i) {
        if (la.TermOrZero(i) == lb.TermOrZero(i)) {
          match = i;
          break;
        }
      }
      for (uint64_t i = lo; i <= match; ++i) {
        if (la.TermOrZero(i) != lb.TermOrZero(i)) {
          Fail("log matching: nodes " + U(up[a]->id) + " and " + U(up[b]->id) + " agree on entry " +
               U(match) + " but not on " + U(i));
          return;
        }
      }
    }
  }
}

}  // namespace phalanx::consensus::sim
