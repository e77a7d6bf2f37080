#include "consensus/raft.h"

#include <algorithm>
#include <cstdlib>

namespace phalanx::consensus {

namespace {
[[noreturn]] void InvariantViolated() {
  std::abort();
}

bool IsVoteRequest(MessageType t) {
  return t == MessageType::kVote || t == MessageType::kPreVote;
}
bool IsVoteResponse(MessageType t) {
  return t == MessageType::kVoteResp || t == MessageType::kPreVoteResp;
}
}  // namespace

const char* RoleName(Role r) {
  switch (r) {
    case Role::kFollower:
      return "follower";
    case Role::kPreCandidate:
      return "pre-candidate";
    case Role::kCandidate:
      return "candidate";
    case Role::kLeader:
      return "leader";
  }
  return "?";
}

Status Config::Validate() const {
  auto bad = [](const char* what) { return Status::Error(Status::Code::kInvalidArgument, what); };
  if (id == kNoNode) return bad("id must be non-zero");
  if (storage == nullptr) return bad("storage must be set");
  if (heartbeat_tick <= 0) return bad("heartbeat_tick must be positive");
  if (election_tick <= heartbeat_tick) return bad("election_tick must exceed heartbeat_tick");
  if (max_inflight_msgs == 0) return bad("max_inflight_msgs must be positive");
  if (read_mode == ReadMode::kLeaseBased && !check_quorum) {
    return bad("lease-based reads need check_quorum (etcd-io/etcd#8450)");
  }
  if (read_mode == ReadMode::kLeaseBased && election_tick < 3) {
    return bad("lease-based reads need election_tick >= 3");
  }
  return Status::Ok();
}

Raft::Raft(const Config& config)
    : config_(config),
      id_(config.id),
      log_(config.storage, config.max_committed_size_per_ready),
      rng_(config.seed ^ (config.id * util::SplitMix64::kGamma)) {
  InitialState init = config.storage->GetInitialState();
  conf_state_ = init.conf_state;
  RefreshQuorum();
  if (!init.hard_state.IsEmpty()) {
    const HardState& hs = init.hard_state;
    // A commit index beyond the log means the store lost entries it had acknowledged.
    if (hs.commit > log_.LastIndex()) InvariantViolated();
    log_.CommitTo(hs.commit);
    term_ = hs.term;
    vote_ = hs.vote;
  }
  if (config.applied > 0) log_.AppliedTo(std::min(config.applied, log_.committed()));
  BecomeFollower(term_, kNoNode);
  // Only a node that has seen a term can have acknowledged a leader's heartbeat.
  boot_lease_ = config.read_mode == ReadMode::kLeaseBased && term_ > 0;
}

// ---- transitions ----------------------------------------------------------

void Raft::Reset(uint64_t term) {
  if (term_ != term) {
    term_ = term;
    vote_ = kNoNode;
  }
  lead_ = kNoNode;
  election_elapsed_ = 0;
  heartbeat_elapsed_ = 0;
  ResetRandomizedElectionTimeout();
  AbortLeaderTransfer();
  votes_.clear();
  needed_as_voter_ = false;
  RebuildProgress();
  pending_conf_index_ = 0;
  uncommitted_size_ = 0;
  reads_before_first_commit_.clear();
  reads_waiting_.clear();
  read_round_.reset();
  lease_until_ = 0;
  lease_revoked_ = false;
}

void Raft::RebuildProgress() {
  std::map<NodeId, Progress> fresh;
  uint64_t next = log_.LastIndex() + 1;
  for (NodeId v : conf_state_.voters) {
    fresh.emplace(v, Progress(next, config_.max_inflight_msgs, config_.max_inflight_bytes, false));
  }
  for (NodeId l : conf_state_.learners) {
    fresh.emplace(l, Progress(next, config_.max_inflight_msgs, config_.max_inflight_bytes, true));
  }
  auto self = fresh.find(id_);
  if (self != fresh.end()) self->second.match = log_.StableLastIndex();
  progress_ = std::move(fresh);
}

void Raft::BecomeFollower(uint64_t term, NodeId lead) {
  Reset(term);
  lead_ = lead;
  role_ = Role::kFollower;
}

void Raft::BecomePreCandidate() {
  if (role_ == Role::kLeader) InvariantViolated();
  // A pre-vote changes neither term nor vote. Forget the leader, so that this
  // node's own lease no longer blocks others' elections (etcd-io/etcd#8334).
  votes_.clear();
  lead_ = kNoNode;
  role_ = Role::kPreCandidate;
}

void Raft::BecomeCandidate() {
  if (role_ == Role::kLeader) InvariantViolated();
  Reset(term_ + 1);
  vote_ = id_;
  role_ = Role::kCandidate;
}

void Raft::BecomeLeader() {
  if (role_ == Role::kFollower) InvariantViolated();
  Reset(term_);
  lead_ = id_;
  role_ = Role::kLeader;
  auto self = progress_.find(id_);
  if (self != progress_.end()) {
    self->second.BecomeReplicate();
    self->second.recent_active = true;
  }
  // Conservatively, no conf change may be proposed until everything this
  // leader inherited is applied: its membership is not yet known for sure.
  pending_conf_index_ = log_.LastIndex();
  // §8: a no-op in the new term commits the inherited entries and tells the
  // leader which of them are committed (redis-raft#19).
  AppendEntries({Entry{}});
  // Elected although no voter (HandleVoteRequest): replicate, then hand over.
  if (!conf_state_.IsVoter(id_)) HandOffLeadership();
}

void Raft::StartElection(bool pre_vote, bool transfer) {
  uint64_t vote_term;
  MessageType type;
  if (pre_vote) {
    BecomePreCandidate();
    vote_term = term_ + 1;
    type = MessageType::kPreVote;
  } else {
    BecomeCandidate();
    vote_term = term_;
    type = MessageType::kVote;
  }
  if (Poll(id_, true) == VoteResult::kWon) {
    // A single-voter cluster wins at once.
    if (pre_vote) {
      StartElection(false, transfer);
    } else {
      BecomeLeader();
      BroadcastAppend();  // learners, if any
    }
    return;
  }
  for (NodeId v : conf_state_.voters) {
    if (v == id_) continue;
    Message m;
    m.type = type;
    m.to = v;
    m.term = vote_term;
    m.index = log_.LastIndex();
    m.log_term = log_.LastTerm();
    m.transfer = transfer;
    Send(std::move(m));
  }
}

VoteResult Raft::Poll(NodeId from, bool granted) {
  votes_.emplace(from, granted);  // first answer counts
  return quorum_.Vote(votes_);
}

bool Raft::Promotable() const {
  return conf_state_.IsVoter(id_);
}

void Raft::ResetRandomizedElectionTimeout() {
  randomized_election_timeout_ =
      config_.election_tick + static_cast<int>(rng_.Below(config_.election_tick));
}

// ---- time -------------------------------------------------------------------

void Raft::Tick() {
  ++ticks_;
  if (role_ == Role::kLeader) {
    TickHeartbeat();
  } else {
    TickElection();
  }
}

void Raft::TickElection() {
  ++election_elapsed_;
  if ((Promotable() || needed_as_voter_) && PastElectionTimeout()) {
    election_elapsed_ = 0;
    needed_as_voter_ = false;
    StartElection(config_.pre_vote, false);
  }
}

void Raft::TickHeartbeat() {
  ++heartbeat_elapsed_;
  ++election_elapsed_;
  if (election_elapsed_ >= config_.election_tick) {
    election_elapsed_ = 0;
    // A removed leader serves nothing and must not step down before it has
    // handed over (see ApplyConfChange), so check-quorum spares it.
    if (config_.check_quorum && !QuorumActive() && conf_state_.IsVoter(id_)) {
      // §6.2 / check-quorum: a leader cut off from a quorum steps down, so
      // that clients look elsewhere and lease reads stay safe.
      BecomeFollower(term_, kNoNode);
      return;
    }
    // A transfer that did not finish within an election timeout is abandoned
    // (hashicorp/raft#696: never leave one hanging).
    if (lead_transferee_ != kNoNode) AbortLeaderTransfer();
    if (!conf_state_.IsVoter(id_)) HandOffLeadership();  // try again
  }
  if (role_ != Role::kLeader) return;
  if (heartbeat_elapsed_ >= config_.heartbeat_tick) {
    heartbeat_elapsed_ = 0;
    if (config_.read_mode == ReadMode::kLeaseBased && !read_round_) {
      StartReadRound();  // every acknowledged heartbeat round renews the lease
    } else {
      BroadcastHeartbeat();
    }
  }
}

bool Raft::QuorumActive() {
  bool active = quorum_.QuorumActive([&](NodeId v) {
    if (v == id_) return true;
    auto it = progress_.find(v);
    return it != progress_.end() && it->second.recent_active;
  });
  // A new round starts: everyone must be heard from again.
  for (auto& [id, pr] : progress_) {
    if (id != id_) pr.recent_active = false;
  }
  return active;
}

// ---- messages in --------------------------------------------------------------

Status Raft::Step(const Message& m) {
  if (m.term > term_) {
    if (IsVoteRequest(m.type)) {
      // Disruptive-server rule (thesis §4.2.3): while a leader is known and was
      // heard from within the minimum election timeout, ignore elections —
      // unless the current leader itself asked for this one (transfer).
      // Without check-quorum the rule still covers candidates outside our
      // configuration: a removed server that never learnt of its removal
      // would otherwise depose every leader, one term at a time, forever.
      // A learner of ours that still thinks it votes is not covered: it
      // drops our appends as stale, so only a new election at its term can
      // bring it the log that tells it what it is.
      // With lease reads, a node that just started counts as hearing from a
      // leader for its first election timeout: before the restart it may
      // have acknowledged the heartbeat that a leader's lease rests on.
      bool lease_applies = config_.check_quorum || !conf_state_.IsMember(m.from);
      bool knows_leader = lead_ != kNoNode ||
                          (boot_lease_ && ticks_ < static_cast<uint64_t>(config_.election_tick));
      bool in_lease = lease_applies && knows_leader && election_elapsed_ < config_.election_tick;
      if (!m.transfer && in_lease) return Status::Ok();
    }
    if (m.type == MessageType::kPreVote || (m.type == MessageType::kPreVoteResp && !m.reject)) {
      // A pre-vote never changes our term. Granted pre-votes carry the future
      // term; it becomes ours only once we actually campaign.
    } else if (m.type == MessageType::kApp || m.type == MessageType::kHeartbeat ||
               m.type == MessageType::kSnap) {
      BecomeFollower(m.term, m.from);
    } else {
      BecomeFollower(m.term, kNoNode);
    }
  } else if (m.term < term_) {
    if (m.type == MessageType::kApp || m.type == MessageType::kHeartbeat) {
      // Figure 2: reply with our term, so that a stale leader (or one whose
      // followers moved on because of a partitioned node's higher term)
      // learns it is stale. A node's own elections cannot be relied on to
      // spread its term instead: a learner or removed node never campaigns,
      // and a voter's vote requests reach only its own configuration, which
      // may not hold the leader; the disruptive-server rule ignores them.
      Message resp;
      resp.type = MessageType::kAppResp;
      resp.to = m.from;
      Send(std::move(resp));
    } else if (IsVoteRequest(m.type)) {
      // Figure 2: reject with our term so the candidate catches up. Silence
      // can livelock a candidate that needs our vote but is never sent our
      // own vote requests (our older configuration lacks it): each of us
      // keeps campaigning, it forever a term behind.
      Message resp;
      resp.type = m.type == MessageType::kVote ? MessageType::kVoteResp : MessageType::kPreVoteResp;
      resp.to = m.from;
      resp.term = term_;
      resp.reject = true;
      Send(std::move(resp));
    }
    return Status::Ok();
  }

  if (IsVoteRequest(m.type)) {
    HandleVoteRequest(m);
    return Status::Ok();
  }
  switch (role_) {
    case Role::kLeader:
      StepLeader(m);
      break;
    case Role::kPreCandidate:
    case Role::kCandidate:
      StepCandidate(m);
      break;
    case Role::kFollower:
      StepFollower(m);
      break;
  }
  return Status::Ok();
}

void Raft::HandleVoteRequest(const Message& m) {
  // §5.2: one vote per term, first come first served; a repeated request from
  // the same candidate is granted again (its first answer may have been lost).
  bool can_vote = vote_ == m.from || (vote_ == kNoNode && lead_ == kNoNode) ||
                  (m.type == MessageType::kPreVote && m.term > term_);
  Message resp;
  resp.type = m.type == MessageType::kVote ? MessageType::kVoteResp : MessageType::kPreVoteResp;
  resp.to = m.from;
  // §5.4.1: grant only to a candidate whose log is at least as up to date.
  if (can_vote && log_.IsUpToDate(m.index, m.log_term)) {
    resp.term = m.term;
    Send(std::move(resp));
    if (m.type == MessageType::kVote) {
      election_elapsed_ = 0;
      vote_ = m.from;
    }
  } else {
    resp.term = term_;
    resp.reject = true;
    Send(std::move(resp));
    // The candidate counts us as a voter and cannot win without us, but our
    // log is longer: if we are no voter in our own configuration, nobody
    // else will ever campaign with it. Do so ourselves (thesis §4.2.2: a
    // server outside its configuration "might still be needed"), then hand
    // over (HandOffLeadership).
    if (can_vote && !conf_state_.IsVoter(id_)) needed_as_voter_ = true;
  }
}

void Raft::StepFollower(const Message& m) {
  switch (m.type) {
    case MessageType::kApp:
      election_elapsed_ = 0;
      lead_ = m.from;
      HandleAppendEntries(m);
      break;
    case MessageType::kHeartbeat:
      election_elapsed_ = 0;
      lead_ = m.from;
      HandleHeartbeat(m);
      break;
    case MessageType::kSnap:
      election_elapsed_ = 0;
      lead_ = m.from;
      HandleSnapshot(m);
      break;
    case MessageType::kTimeoutNow:
      // Thesis §3.10: the leader asks us to take over; skip the pre-vote, and
      // mark the votes so that followers' leases do not block them.
      if (Promotable()) StartElection(false, true);
      break;
    case MessageType::kReadIndexResp:
      read_states_.push_back({m.index, m.context});
      break;
    default:
      break;
  }
}

void Raft::StepCandidate(const Message& m) {
  MessageType expected =
      role_ == Role::kPreCandidate ? MessageType::kPreVoteResp : MessageType::kVoteResp;
  switch (m.type) {
    case MessageType::kApp:
    case MessageType::kHeartbeat:
    case MessageType::kSnap:
      // A leader exists in this term: yield to it.
      BecomeFollower(m.term, m.from);
      StepFollower(m);
      break;
    default:
      if (m.type != expected) break;
      {
        switch (Poll(m.from, !m.reject)) {
          case VoteResult::kWon:
            if (role_ == Role::kPreCandidate) {
              StartElection(false, false);
            } else {
              BecomeLeader();
              BroadcastAppend();
            }
            break;
          case VoteResult::kLost:
            // Too many rejections for a majority to grant (with four voters,
            // two suffice).
            BecomeFollower(term_, kNoNode);
            break;
          case VoteResult::kPending:
            break;
        }
      }
      break;
  }
}

void Raft::StepLeader(const Message& m) {
  auto it = progress_.find(m.from);
  switch (m.type) {
    case MessageType::kAppResp:
      if (it != progress_.end()) HandleAppendResponse(m);
      break;
    case MessageType::kHeartbeatResp:
      if (it != progress_.end()) HandleHeartbeatResponse(m);
      break;
    case MessageType::kReadIndex:
      if (it != progress_.end()) HandleReadRequest({m.context, m.from});
      break;
    default:
      break;
  }
}

void Raft::HandleAppendEntries(const Message& m) {
  Message resp;
  resp.type = MessageType::kAppResp;
  resp.to = m.from;
  if (m.index < log_.committed()) {
    // Everything up to our commit index already matches; say so.
    resp.index = log_.committed();
    Send(std::move(resp));
    return;
  }
  if (auto last_new = log_.MaybeAppend(m.index, m.log_term, m.commit, m.entries)) {
    resp.index = *last_new;
    Send(std::move(resp));
    return;
  }
  // Fast backtracking: point the leader at the last entry that could match —
  // the largest index ≤ m.index whose term ≤ m.log_term.
  uint64_t hint_index = std::min(m.index, log_.LastIndex());
  auto [idx, term] = log_.FindConflictByTerm(hint_index, m.log_term);
  resp.index = m.index;
  resp.reject = true;
  resp.reject_hint = idx;
  resp.log_term = term;
  Send(std::move(resp));
}

void Raft::HandleHeartbeat(const Message& m) {
  // The leader sends min(its commit, our match), so this is never past what we hold.
  log_.CommitTo(std::min(m.commit, log_.LastIndex()));
  Message resp;
  resp.type = MessageType::kHeartbeatResp;
  resp.to = m.from;
  resp.read_round = m.read_round;
  Send(std::move(resp));
}

void Raft::HandleSnapshot(const Message& m) {
  Message resp;
  resp.type = MessageType::kAppResp;
  resp.to = m.from;
  if (m.snapshot && Restore(*m.snapshot)) {
    resp.index = log_.LastIndex();
  } else {
    resp.index = log_.committed();
  }
  Send(std::move(resp));
}

bool Raft::Restore(const Snapshot& s) {
  if (s.metadata.index <= log_.committed()) return false;
  if (log_.MatchTerm(s.metadata.index, s.metadata.term)) {
    // We already hold that entry: just learn that it is committed.
    log_.CommitTo(s.metadata.index);
    return false;
  }
  // Committed entries the application has yet to apply (a Ready between
  // GetReady and Advance) may hold conf changes older than the snapshot's
  // configuration: applied after it, they would roll it back. Refuse until
  // they are applied; the leader sends the snapshot again.
  if (log_.applied() < log_.committed()) return false;
  log_.Restore(s);
  // The snapshot carries the configuration of its index (chain/Core#1335).
  conf_state_ = s.metadata.conf_state;
  RefreshQuorum();
  RebuildProgress();
  return true;
}

void Raft::HandleAppendResponse(const Message& m) {
  Progress& pr = progress_.at(m.from);
  pr.recent_active = true;
  if (m.reject) {
    uint64_t next_probe = m.reject_hint;
    if (m.log_term > 0) {
      // Skip, in one step, every entry of ours whose term is above the
      // follower's hint term: none of them can match.
      next_probe = log_.FindConflictByTerm(m.reject_hint, m.log_term).first;
    }
    if (pr.MaybeDecrTo(m.index, next_probe)) {
      if (pr.state == Progress::State::kReplicate) pr.BecomeProbe();
      MaybeSendAppend(m.from, true);
    }
    return;
  }
  bool was_paused = pr.IsPaused();
  bool probe_matched = pr.state == Progress::State::kProbe && pr.match == m.index;
  if (!pr.MaybeUpdate(m.index) && !probe_matched) return;
  switch (pr.state) {
    case Progress::State::kProbe:
      pr.BecomeReplicate();
      break;
    case Progress::State::kSnapshot:
      // The snapshot (or a later append) landed: resume normal replication.
      if (pr.match + 1 >= log_.FirstIndex()) {
        pr.BecomeProbe();
        pr.BecomeReplicate();
      }
      break;
    case Progress::State::kReplicate:
      pr.inflights.FreeLE(m.index);
      break;
  }
  if (MaybeCommit()) {
    // Tell everyone the new commit index at once (it also unblocks reads).
    BroadcastAppend();
  } else if (was_paused) {
    MaybeSendAppend(m.from, true);
  }
  // Keep the pipeline full.
  for (int i = 0; i < 64 && MaybeSendAppend(m.from, false); ++i) {
  }
  if (m.from == lead_transferee_ && pr.match == log_.LastIndex()) SendTimeoutNow(m.from);
}

void Raft::HandleHeartbeatResponse(const Message& m) {
  Progress& pr = progress_.at(m.from);
  pr.recent_active = true;
  pr.probe_sent = false;
  // All append responses lost with a full window would stall replication
  // forever (etcd-io/etcd#2544): a heartbeat answer frees one slot.
  if (pr.state == Progress::State::kReplicate && pr.inflights.Full()) pr.inflights.FreeFirstOne();
  if (pr.match < log_.LastIndex()) MaybeSendAppend(m.from, true);

  if (read_round_ && m.read_round == read_round_->id && conf_state_.IsVoter(m.from)) {
    read_round_->acks.insert(m.from);
    MaybeFinishReadRound();
  }
}

// ---- messages out -------------------------------------------------------------

void Raft::Send(Message m) {
  m.from = id_;
  if (!IsVoteRequest(m.type) && !IsVoteResponse(m.type)) m.term = term_;
  msgs_.push_back(std::move(m));
}

bool Raft::MaybeSendAppend(NodeId to, bool send_if_empty) {
  auto it = progress_.find(to);
  if (it == progress_.end() || to == id_) return false;
  Progress& pr = it->second;
  if (pr.IsPaused()) return false;

  Message m;
  m.to = to;
  auto prev_term = log_.Term(pr.next - 1);
  auto entries = log_.EntriesFrom(pr.next, config_.max_size_per_msg);
  // A follower with nothing (next == 1) gets the snapshot when there is one:
  // the configuration a cluster was bootstrapped with is in no log entry, so
  // a node added later that replayed the log from index 1 would never learn
  // the bootstrap voters. The snapshot carries the configuration.
  bool empty_follower = false;
  if (pr.next <= 1) {
    auto snap = log_.GetSnapshot();
    empty_follower = snap.ok() && !snap.value().IsEmpty();
  }
  if (!prev_term.ok() || !entries.ok() || empty_follower) {
    // §7: the entries are compacted away; send a snapshot instead — but only to
    // a follower we have heard from lately, or we would snapshot a dead node.
    if (!pr.recent_active) return false;
    auto snap = log_.GetSnapshot();
    if (!snap.ok()) return false;  // temporarily unavailable: retry later
    if (snap.value().IsEmpty()) InvariantViolated();
    m.type = MessageType::kSnap;
    pr.BecomeSnapshot(snap.value().metadata.index);
    m.snapshot = std::move(snap).value();
    Send(std::move(m));
    return true;
  }
  if (entries.value().empty() && !send_if_empty) return false;
  m.type = MessageType::kApp;
  m.index = pr.next - 1;
  m.log_term = prev_term.value();
  m.entries = std::move(entries).value();
  m.commit = log_.committed();
  uint64_t bytes = 0;
  for (const Entry& e : m.entries)
    bytes += e.ByteSize();
  uint64_t last = m.entries.empty() ? m.index : m.entries.back().index;
  pr.SentEntries(last, m.entries.size(), bytes);
  Send(std::move(m));
  return true;
}

void Raft::SendHeartbeat(NodeId to) {
  const Progress& pr = progress_.at(to);
  Message m;
  m.type = MessageType::kHeartbeat;
  m.to = to;
  // Never tell a follower to commit past what it is known to hold.
  m.commit = std::min(pr.match, log_.committed());
  m.read_round = read_round_ ? read_round_->id : 0;
  Send(std::move(m));
}

void Raft::SendTimeoutNow(NodeId to) {
  lease_revoked_ = true;
  Message m;
  m.type = MessageType::kTimeoutNow;
  m.to = to;
  Send(std::move(m));
  // A removed leader is done once a voter holds its whole log: that voter can
  // win our vote now, even if it still counts us (see ApplyConfChange).
  if (!conf_state_.IsVoter(id_)) BecomeFollower(term_, kNoNode);
}

void Raft::BroadcastAppend() {
  for (auto& [id, pr] : progress_) {
    if (id != id_) MaybeSendAppend(id, true);
  }
}

void Raft::BroadcastHeartbeat() {
  for (auto& [id, pr] : progress_) {
    if (id != id_) SendHeartbeat(id);
  }
}

// ---- the log ------------------------------------------------------------------

bool Raft::AppendEntries(std::vector<Entry> entries) {
  uint64_t bytes = 0;
  for (const Entry& e : entries)
    bytes += e.data.size();
  // etcd-io/raft's rule: with nothing uncommitted any proposal is accepted,
  // however large (or it could never be), and an empty one always is (the
  // leader's no-op, or a proposal of empty commands, adds nothing to wait for).
  if (config_.max_uncommitted_entries_size > 0 && uncommitted_size_ > 0 && bytes > 0 &&
      uncommitted_size_ + bytes > config_.max_uncommitted_entries_size) {
    return false;
  }
  uncommitted_size_ += bytes;
  uint64_t last = log_.LastIndex();
  for (size_t i = 0; i < entries.size(); ++i) {
    entries[i].term = term_;
    entries[i].index = last + 1 + i;
  }
  log_.Append(entries);
  // The leader counts its own entries only once they are durable (see
  // OnPersisted); a single-voter cluster therefore commits on Advance.
  return true;
}

void Raft::ReduceUncommittedSize(uint64_t bytes) {
  uncommitted_size_ = bytes >= uncommitted_size_ ? 0 : uncommitted_size_ - bytes;
}

bool Raft::MaybeCommit() {
  // The match index that a quorum of voters has reached.
  uint64_t quorum_index = quorum_.CommittedIndex([&](NodeId v) -> std::optional<uint64_t> {
    auto it = progress_.find(v);
    if (it == progress_.end()) return std::nullopt;
    return it->second.match;
  });
  // §5.4.2: only entries of the current term are committed by counting.
  if (!log_.MaybeCommit(quorum_index, term_)) return false;
  OnCommitAdvanced();
  return true;
}

bool Raft::CommittedEntryInCurrentTerm() const {
  return log_.TermOrZero(log_.committed()) == term_;
}

void Raft::OnPersisted() {
  if (role_ != Role::kLeader) return;
  auto it = progress_.find(id_);
  if (it == progress_.end()) return;
  if (it->second.MaybeUpdate(log_.StableLastIndex()) && MaybeCommit()) BroadcastAppend();
}

void Raft::OnCommitAdvanced() {
  if (reads_before_first_commit_.empty() || !CommittedEntryInCurrentTerm()) return;
  std::vector<ReadRequest> pending = std::move(reads_before_first_commit_);
  reads_before_first_commit_.clear();
  for (auto& r : pending)
    HandleReadRequest(std::move(r));
}

// ---- reads (thesis §6.4) --------------------------------------------------------

void Raft::HandleReadRequest(ReadRequest req) {
  // Step 1: the leader's commit index is only known to be current once an
  // entry of its own term has committed (the no-op).
  if (!CommittedEntryInCurrentTerm()) {
    reads_before_first_commit_.push_back(std::move(req));
    return;
  }
  // A quorum of this node alone (a single voter) confirms leadership at once.
  if (quorum_.QuorumActive([&](NodeId v) { return v == id_; })) {
    std::vector<ReadRequest> one{std::move(req)};
    ReleaseReads(log_.committed(), one);
    return;
  }
  if (config_.read_mode == ReadMode::kLeaseBased && LeaseValid()) {
    std::vector<ReadRequest> one{std::move(req)};
    ReleaseReads(log_.committed(), one);
    return;
  }
  // Step 2-3: confirm leadership with a heartbeat round. Requests that arrive
  // while a round is out share the next one.
  reads_waiting_.push_back(std::move(req));
  if (!read_round_) StartReadRound();
}

bool Raft::LeaseValid() const {
  return !lease_revoked_ && lead_transferee_ == kNoNode && ticks_ < lease_until_;
}

void Raft::StartReadRound() {
  ReadRound round;
  round.id = ++last_read_round_id_;
  round.index = log_.committed();
  round.sent_tick = ticks_;
  round.requests = std::move(reads_waiting_);
  reads_waiting_.clear();
  round.acks.insert(id_);
  read_round_ = std::move(round);
  BroadcastHeartbeat();
  MaybeFinishReadRound();  // a quorum of one needs no answers
}

void Raft::MaybeFinishReadRound() {
  if (!read_round_) return;
  // Count only current voters: the configuration may have changed since an ack.
  if (!quorum_.QuorumActive(read_round_->acks)) return;
  ReadRound done = std::move(*read_round_);
  read_round_.reset();
  if (config_.read_mode == ReadMode::kLeaseBased) {
    lease_until_ =
        std::max(lease_until_, done.sent_tick + static_cast<uint64_t>(config_.election_tick) - 2);
  }
  ReleaseReads(done.index, done.requests);
  if (!reads_waiting_.empty()) StartReadRound();
}

void Raft::ReleaseReads(uint64_t index, std::vector<ReadRequest>& requests) {
  for (auto& r : requests) {
    if (r.from == id_) {
      read_states_.push_back({index, std::move(r.context)});
    } else {
      Message m;
      m.type = MessageType::kReadIndexResp;
      m.to = r.from;
      m.index = index;
      m.context = std::move(r.context);
      Send(std::move(m));
    }
  }
  requests.clear();
}

// ---- the public calls ------------------------------------------------------------

Result<ProposalPosition> Raft::Propose(std::vector<Payload> commands) {
  if (role_ != Role::kLeader) return Status::NotLeader(lead_);
  if (lead_transferee_ != kNoNode) {
    return Status::Error(Status::Code::kProposalDropped, "leadership transfer in progress");
  }
  if (!conf_state_.IsVoter(id_)) return Status::NotLeader(kNoNode);
  if (commands.empty()) return Status::Error(Status::Code::kInvalidArgument, "empty proposal");
  std::vector<Entry> entries(commands.size());
  for (size_t i = 0; i < commands.size(); ++i) {
    entries[i].type = EntryType::kNormal;
    entries[i].data = std::move(commands[i]);
  }
  uint64_t first = log_.LastIndex() + 1;
  if (!AppendEntries(std::move(entries))) {
    return Status::Error(Status::Code::kProposalDropped, "too many uncommitted bytes");
  }
  BroadcastAppend();
  return ProposalPosition{first, log_.LastIndex(), term_};
}

Result<ProposalPosition> Raft::ProposeConfChange(const ConfChange& cc) {
  if (role_ != Role::kLeader) return Status::NotLeader(lead_);
  if (lead_transferee_ != kNoNode) {
    return Status::Error(Status::Code::kProposalDropped, "leadership transfer in progress");
  }
  if (pending_conf_index_ > log_.applied()) {
    return Status::Error(Status::Code::kConfChangePending,
                         "a membership change is already in progress");
  }
  // Validated against the configuration in force, which (with none pending)
  // is also the one this change will be applied to (etcd-io/raft#80).
  auto invalid = [](const char* why) { return Status::Error(Status::Code::kInvalidArgument, why); };
  if (cc.node_id == kNoNode) return invalid("node id must be non-zero");
  switch (cc.type) {
    case ConfChange::Type::kAddLearner:
      if (conf_state_.IsMember(cc.node_id)) return invalid("node is already a member");
      break;
    case ConfChange::Type::kAddVoter:
      if (conf_state_.IsVoter(cc.node_id)) return invalid("node is already a voter");
      break;
    case ConfChange::Type::kRemoveNode:
      if (!conf_state_.IsMember(cc.node_id)) return invalid("node is not a member");
      if (conf_state_.IsVoter(cc.node_id) && conf_state_.voters.size() == 1) {
        return invalid("cannot remove the last voter");
      }
      break;
  }
  Entry e;
  e.type = EntryType::kConfChange;
  e.data = cc.Encode();
  uint64_t index = log_.LastIndex() + 1;
  if (!AppendEntries({std::move(e)})) {
    return Status::Error(Status::Code::kProposalDropped, "too many uncommitted bytes");
  }
  pending_conf_index_ = index;
  BroadcastAppend();
  return ProposalPosition{index, index, term_};
}

ConfState Raft::ApplyConfChange(const ConfChange& cc) {
  auto erase = [](std::vector<NodeId>& ids, NodeId id) {
    ids.erase(std::remove(ids.begin(), ids.end(), id), ids.end());
  };
  auto insert = [](std::vector<NodeId>& ids, NodeId id) {
    ids.insert(std::upper_bound(ids.begin(), ids.end(), id), id);
  };
  NodeId id = cc.node_id;
  bool voters_changed = false;
  switch (cc.type) {
    case ConfChange::Type::kAddLearner:
      if (id == kNoNode || conf_state_.IsMember(id)) return conf_state_;
      insert(conf_state_.learners, id);
      break;
    case ConfChange::Type::kAddVoter:
      if (id == kNoNode || conf_state_.IsVoter(id)) return conf_state_;
      erase(conf_state_.learners, id);
      insert(conf_state_.voters, id);
      voters_changed = true;
      break;
    case ConfChange::Type::kRemoveNode:
      if (!conf_state_.IsMember(id)) return conf_state_;
      if (conf_state_.IsVoter(id) && conf_state_.voters.size() == 1) return conf_state_;
      voters_changed = conf_state_.IsVoter(id);
      erase(conf_state_.voters, id);
      erase(conf_state_.learners, id);
      break;
  }
  if (voters_changed) RefreshQuorum();

  // Progress follows the configuration; a new member starts probing at our end.
  if (cc.type == ConfChange::Type::kRemoveNode) {
    progress_.erase(id);
    if (lead_transferee_ == id) AbortLeaderTransfer();
  } else {
    auto it = progress_.find(id);
    if (it == progress_.end()) {
      Progress pr(log_.LastIndex() + 1, config_.max_inflight_msgs, config_.max_inflight_bytes,
                  !conf_state_.IsVoter(id));
      // Give it a full election timeout before check-quorum counts it absent.
      pr.recent_active = true;
      if (id == id_) pr.match = log_.StableLastIndex();
      progress_.emplace(id, std::move(pr));
    } else {
      it->second.is_learner = !conf_state_.IsVoter(id);
    }
  }

  if (role_ == Role::kLeader) {
    if (!conf_state_.IsVoter(id_)) {
      // A leader that is no longer a voter accepts nothing new, but it may not
      // simply step down (etcd-io/etcd#10563): a survivor that has not yet
      // learned that the removal committed still counts our vote, which our
      // longer log would refuse it — no leader ever again. So keep
      // replicating until a caught-up voter takes over (etcd-io/etcd#11038).
      HandOffLeadership();
    } else if (voters_changed && MaybeCommit()) {
      // A smaller quorum may commit more right away.
      BroadcastAppend();
    } else if (cc.type != ConfChange::Type::kRemoveNode) {
      MaybeSendAppend(id, true);
    }
    // A smaller quorum may also confirm a pending read round (or it would wait
    // forever for answers from a node that is gone).
    if (role_ == Role::kLeader && voters_changed) MaybeFinishReadRound();
  }
  return conf_state_;
}

Status Raft::ReadIndex(std::string context) {
  if (role_ == Role::kLeader) {
    if (!conf_state_.IsVoter(id_)) return Status::NotLeader(kNoNode);
    HandleReadRequest({std::move(context), id_});
    return Status::Ok();
  }
  if (role_ != Role::kFollower || lead_ == kNoNode) return Status::NotLeader(lead_);
  Message m;
  m.type = MessageType::kReadIndex;
  m.to = lead_;
  m.context = std::move(context);
  Send(std::move(m));
  return Status::Ok();
}

Status Raft::TransferLeader(NodeId transferee) {
  if (role_ != Role::kLeader) return Status::NotLeader(lead_);
  if (transferee == id_) return Status::Ok();  // already the leader
  if (!conf_state_.IsVoter(transferee)) {
    return Status::Error(Status::Code::kInvalidArgument, "transferee is not a voter");
  }
  if (lead_transferee_ == transferee) return Status::Ok();
  lead_transferee_ = transferee;
  // The transfer must finish within an election timeout (thesis §3.10).
  election_elapsed_ = 0;
  const Progress& pr = progress_.at(transferee);
  if (pr.match == log_.LastIndex()) {
    SendTimeoutNow(transferee);
  } else {
    MaybeSendAppend(transferee, true);
  }
  return Status::Ok();
}

void Raft::HandOffLeadership() {
  // The voter most likely to win at once: heard from lately, longest match.
  NodeId best = kNoNode;
  for (NodeId v : conf_state_.voters) {
    auto it = progress_.find(v);
    if (it == progress_.end()) continue;
    const Progress& pr = it->second;
    if (best == kNoNode) {
      best = v;
      continue;
    }
    const Progress& b = progress_.at(best);
    if (std::make_pair(pr.recent_active, pr.match) > std::make_pair(b.recent_active, b.match)) {
      best = v;
    }
  }
  if (best != kNoNode) (void)TransferLeader(best);
}

Status Raft::Campaign() {
  if (role_ == Role::kLeader) return Status::Ok();
  if (!Promotable()) {
    return Status::Error(Status::Code::kInvalidArgument, "not a voter; cannot campaign");
  }
  // With leases, hearing from a leader is a promise not to elect anyone else
  // for an election timeout (LeaseValid): that includes ourselves.
  if (config_.read_mode == ReadMode::kLeaseBased && lead_ != kNoNode &&
      election_elapsed_ < config_.election_tick) {
    return Status::Error(Status::Code::kProposalDropped,
                         "heard from the leader within the election timeout (lease reads)");
  }
  StartElection(config_.pre_vote, false);
  return Status::Ok();
}

void Raft::ReportUnreachable(NodeId id) {
  if (role_ != Role::kLeader) return;
  auto it = progress_.find(id);
  if (it == progress_.end()) return;
  // Pipelined appends were probably lost; fall back to probing.
  if (it->second.state == Progress::State::kReplicate) it->second.BecomeProbe();
}

void Raft::ReportSnapshot(NodeId id, bool success) {
  if (role_ != Role::kLeader) return;
  auto it = progress_.find(id);
  if (it == progress_.end() || it->second.state != Progress::State::kSnapshot) return;
  Progress& pr = it->second;
  // On failure forget the snapshot; either way wait for the follower's answer
  // (or a heartbeat interval) before sending again.
  if (!success) pr.pending_snapshot = 0;
  pr.BecomeProbe();
  pr.probe_sent = true;
}

}  // namespace phalanx::consensus
