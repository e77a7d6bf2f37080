#include "tests/consensus/sim/safety_checker.h"

#include "tests/consensus/sim/state_machine.h"

namespace phalanx::consensus::sim {

namespace {
std::string U(uint64_t v) {
  return std::to_string(v);
}
}  // namespace

void SafetyChecker::Fail(std::string what) {
  if (failure_.empty()) failure_ = std::move(what);
}

void SafetyChecker::ObserveRole(NodeId id, Role role, uint64_t term, const RaftLog& log) {
  ObserveTerm(term);
  NodeRole& prev = roles_[id];
  bool became_leader = role == Role::kLeader && (prev.role != Role::kLeader || prev.term != term);
  prev = {role, term};
  if (role != Role::kLeader) return;
  auto [it, inserted] = leader_of_term_.emplace(term, id);
  if (!inserted && it->second != id) {
    Fail("election safety: nodes " + U(it->second) + " and " + U(id) + " both led term " + U(term));
    return;
  }
  if (became_leader) CheckLeaderCompleteness(id, term, log);
}

void SafetyChecker::CheckLeaderCompleteness(NodeId id, uint64_t term, const RaftLog& log) {
  // Entries first applied while the highest term was below `term` were
  // committed before this leader's election began: it must hold them (§5.4).
  uint64_t snapshot_index = log.FirstIndex() - 1;
  for (uint64_t i = 1; i < applied_.size(); ++i) {
    const AppliedEntry& a = applied_[i];
    if (!a.set || a.max_term >= term) continue;
    if (i < snapshot_index) continue;  // compacted: covered by its snapshot
    auto t = log.Term(i);
    if (!t.ok() || t.value() != a.term) {
      Fail("leader completeness: leader " + U(id) + " of term " + U(term) + " lacks entry " + U(i) +
           " (term " + U(a.term) + ") applied when the highest term was " + U(a.max_term) +
           "; its log has " + (t.ok() ? "term " + U(t.value()) : "nothing") +
           " there (last index " + U(log.LastIndex()) + ")");
      return;
    }
  }
}

void SafetyChecker::ObserveCommit(uint64_t commit) {
  max_commit_ = std::max(max_commit_, commit);
}

void SafetyChecker::CheckLogged(NodeId id, uint64_t index, uint64_t term, uint64_t content,
                                uint64_t prev_term) {
  auto [it, inserted] =
      logged_.emplace(std::make_pair(index, term), LoggedEntry{content, prev_term});
  if (inserted) return;
  if (it->second.content != content) {
    Fail("log matching: node " + U(id) + " holds a different entry at index " + U(index) +
         " term " + U(term) + " than another log");
  } else if (it->second.prev_term != prev_term) {
    Fail("log matching: node " + U(id) + " holds entry " + U(index) + "/" + U(term) +
         " after an entry of term " + U(prev_term) + ", another log after term " +
         U(it->second.prev_term));
  }
}

void SafetyChecker::ObserveEntries(NodeId id, uint64_t prev_term,
                                   const std::vector<Entry>& entries) {
  for (const Entry& e : entries) {
    if (e.term < prev_term) {
      Fail("log: node " + U(id) + " entry " + U(e.index) + " has term " + U(e.term) +
           " below its predecessor's " + U(prev_term));
      return;
    }
    CheckLogged(id, e.index, e.term, EntryContentHash(e), prev_term);
    prev_term = e.term;
  }
}

void SafetyChecker::ObserveMessage(const Message& m) {
  if (m.type == MessageType::kApp) {
    uint64_t prev_index = m.index, prev_term = m.log_term;
    for (const Entry& e : m.entries) {
      if (e.index != prev_index + 1) {
        Fail("append " + DescribeMessage(m) + " carries non-contiguous entries");
        return;
      }
      if (e.term > m.term) {
        Fail("append " + DescribeMessage(m) + " carries an entry from a future term");
        return;
      }
      prev_index = e.index;
    }
    ObserveEntries(m.from, prev_term, m.entries);
  } else if (m.type == MessageType::kSnap) {
    if (!m.snapshot) {
      Fail("snapshot message without a snapshot: " + DescribeMessage(m));
      return;
    }
    // A snapshot only ever holds applied (hence committed) state.
    const SnapshotMetadata& md = m.snapshot->metadata;
    if (md.index >= applied_.size() || !applied_[md.index].set ||
        applied_[md.index].term != md.term) {
      Fail("node " + U(m.from) + " sent a snapshot at " + U(md.term) + "/" + U(md.index) +
           " that is not an applied entry");
    }
  }
}

void SafetyChecker::ObservePersistHardState(NodeId id, const HardState& before,
                                            const HardState& after) {
  ObserveTerm(after.term);
  if (after.term < before.term) {
    Fail("node " + U(id) + " persisted term " + U(after.term) + " after term " + U(before.term));
  } else if (after.term == before.term && before.vote != kNoNode && after.vote != before.vote) {
    Fail("node " + U(id) + " changed its vote in term " + U(after.term) + " from " +
         U(before.vote) + " to " + U(after.vote));
  } else if (after.commit < before.commit) {
    Fail("node " + U(id) + " persisted commit " + U(after.commit) + " after " + U(before.commit));
  }
}

void SafetyChecker::ObserveApply(NodeId id, const Entry& e, uint64_t digest) {
  if (applied_.size() <= e.index) applied_.resize(e.index + 1);
  AppliedEntry& a = applied_[e.index];
  uint64_t content = EntryContentHash(e);
  if (!a.set) {
    a = {true, e.term, content, digest, max_term_};
    return;
  }
  if (a.term != e.term || a.content != content) {
    Fail("state machine safety: node " + U(id) + " applied " + DescribeEntry(e) + " at index " +
         U(e.index) + " where another node applied an entry of term " + U(a.term));
  } else if (a.digest != digest) {
    Fail("state machine safety: node " + U(id) + " has a different state after applying " +
         U(e.index) + " than another node");
  }
}

void SafetyChecker::ObserveSnapshotInstall(NodeId id, uint64_t index, uint64_t term,
                                           uint64_t digest) {
  if (index >= applied_.size() || !applied_[index].set) {
    Fail("node " + U(id) + " installed a snapshot at " + U(index) + " that no node has applied");
    return;
  }
  const AppliedEntry& a = applied_[index];
  if (a.term != term || a.digest != digest) {
    Fail("node " + U(id) + " installed a snapshot at " + U(term) + "/" + U(index) +
         " whose state differs from what nodes applied there");
  }
}

void SafetyChecker::Bootstrap(uint64_t index, uint64_t term, uint64_t digest) {
  if (applied_.size() <= index) applied_.resize(index + 1);
  applied_[index] = {true, term, 0, digest, 0};
  max_commit_ = std::max(max_commit_, index);
}

void SafetyChecker::ObserveReadRequest(uint64_t read_id, NodeId node, uint64_t bound) {
  reads_[read_id] = {node, bound};
}

void SafetyChecker::ObserveReadState(NodeId node, const ReadState& rs) {
  uint64_t read_id = std::stoull(rs.context);
  auto it = reads_.find(read_id);
  if (it == reads_.end()) {
    Fail("node " + U(node) + " got a read state for unknown request " + rs.context);
    return;
  }
  if (it->second.node != node) {
    Fail("read request " + rs.context + " made at node " + U(it->second.node) +
         " was answered at node " + U(node));
  } else if (rs.index < it->second.bound) {
    Fail("stale read: request " + rs.context + " at node " + U(node) + " got read index " +
         U(rs.index) + " but index " + U(it->second.bound) +
         " was already committed when it was made");
  }
}

bool SafetyChecker::AppliedAt(uint64_t index, uint64_t* term, uint64_t* content_hash) const {
  if (index >= applied_.size() || !applied_[index].set) return false;
  *term = applied_[index].term;
  *content_hash = applied_[index].content;
  return true;
}

}  // namespace phalanx::consensus::sim
