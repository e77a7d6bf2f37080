#include "consensus/raw_node.h"

#include <cstdlib>

namespace phalanx::consensus {

Result<std::unique_ptr<RawNode>> RawNode::Create(const Config& config) {
  Status s = config.Validate();
  if (!s.ok()) return s;
  return std::unique_ptr<RawNode>(new RawNode(config));  // NOLINT: private constructor
}

RawNode::RawNode(const Config& config)
    : raft_(std::make_unique<Raft>(config)),
      prev_soft_state_(CurrentSoftState()),
      prev_hard_state_(raft_->hard_state()) {}

void RawNode::Tick() {
  raft_->Tick();
}
Status RawNode::Step(const Message& m) {
  return raft_->Step(m);
}

Result<ProposalPosition> RawNode::Propose(std::vector<Payload> commands) {
  return raft_->Propose(std::move(commands));
}
Result<ProposalPosition> RawNode::Propose(std::vector<std::string> commands) {
  std::vector<Payload> payloads;
  payloads.reserve(commands.size());
  for (auto& c : commands)
    payloads.emplace_back(std::move(c));
  return raft_->Propose(std::move(payloads));
}
Result<ProposalPosition> RawNode::Propose(std::string command) {
  std::vector<Payload> one;
  one.emplace_back(std::move(command));
  return raft_->Propose(std::move(one));
}
Result<ProposalPosition> RawNode::ProposeConfChange(const ConfChange& cc) {
  return raft_->ProposeConfChange(cc);
}
ConfState RawNode::ApplyConfChange(const ConfChange& cc) {
  return raft_->ApplyConfChange(cc);
}
Status RawNode::ReadIndex(std::string context) {
  return raft_->ReadIndex(std::move(context));
}
Status RawNode::TransferLeader(NodeId transferee) {
  return raft_->TransferLeader(transferee);
}
Status RawNode::Campaign() {
  return raft_->Campaign();
}
void RawNode::ReportUnreachable(NodeId id) {
  raft_->ReportUnreachable(id);
}
void RawNode::ReportSnapshot(NodeId id, bool success) {
  raft_->ReportSnapshot(id, success);
}

bool RawNode::HasReady() const {
  const RaftLog& log = raft_->log();
  return CurrentSoftState() != prev_soft_state_ || raft_->hard_state() != prev_hard_state_ ||
         log.UnstableSnapshot().has_value() || !log.UnstableEntries().empty() ||
         log.HasNextCommittedEntries() || !raft_->outbox().empty() || !raft_->read_states().empty();
}

Ready RawNode::GetReady() {
  if (ready_outstanding_) std::abort();  // contract: one Ready at a time
  ready_outstanding_ = true;
  Ready rd;
  SoftState ss = CurrentSoftState();
  if (ss != prev_soft_state_) rd.soft_state = ss;
  HardState hs = raft_->hard_state();
  bool term_or_vote_changed = hs.term != prev_hard_state_.term || hs.vote != prev_hard_state_.vote;
  if (hs != prev_hard_state_) rd.hard_state = hs;
  RaftLog& log = raft_->log();
  rd.snapshot = log.UnstableSnapshot();
  rd.entries = log.UnstableEntries();
  rd.committed_entries = log.NextCommittedEntries();
  rd.messages = std::move(raft_->outbox());
  raft_->outbox().clear();
  rd.read_states = std::move(raft_->read_states());
  raft_->read_states().clear();
  rd.send_messages_before_persisting = ss.role == Role::kLeader && !term_or_vote_changed;
  rd.must_sync = term_or_vote_changed || !rd.entries.empty() || rd.snapshot.has_value();
  return rd;
}

void RawNode::Advance(const Ready& rd) {
  ready_outstanding_ = false;
  if (rd.soft_state) prev_soft_state_ = *rd.soft_state;
  if (rd.hard_state) prev_hard_state_ = *rd.hard_state;
  RaftLog& log = raft_->log();
  if (rd.snapshot) {
    log.StableSnapTo(rd.snapshot->metadata.index);
    log.AppliedTo(rd.snapshot->metadata.index);
  }
  if (!rd.entries.empty()) log.StableTo(rd.entries.back().index, rd.entries.back().term);
  if (!rd.committed_entries.empty()) {
    uint64_t bytes = 0;
    for (const Entry& e : rd.committed_entries)
      bytes += e.data.size();
    raft_->ReduceUncommittedSize(bytes);
    log.AppliedTo(rd.committed_entries.back().index);
  }
  raft_->OnPersisted();
}

NodeStatus RawNode::GetStatus() const {
  NodeStatus st;
  st.id = raft_->id();
  st.hard_state = raft_->hard_state();
  st.soft_state = CurrentSoftState();
  st.applied = raft_->log().applied();
  st.last_index = raft_->log().LastIndex();
  st.lead_transferee = raft_->lead_transferee();
  st.conf_state = raft_->conf_state();
  if (raft_->role() == Role::kLeader) {
    for (const auto& [id, pr] : raft_->progress()) {
      st.progress[id] = {pr.match, pr.next, pr.StateName(), pr.is_learner, pr.recent_active};
    }
  }
  return st;
}

}  // namespace phalanx::consensus
