#include "consensus/raft_log.h"

#include <algorithm>
#include <cstdlib>

namespace phalanx::consensus {

namespace {
// A broken invariant means the log can no longer be trusted: stop rather than
// diverge. Only reachable through a bug or a corrupted store.
[[noreturn]] void InvariantViolated() {
  std::abort();
}
}  // namespace

RaftLog::RaftLog(const Storage* storage, uint64_t max_committed_bytes_per_ready)
    : storage_(storage),
      max_committed_bytes_per_ready_(max_committed_bytes_per_ready),
      unstable_offset_(storage->LastIndex() + 1),
      committed_(storage->FirstIndex() - 1),
      applied_(storage->FirstIndex() - 1) {}

uint64_t RaftLog::FirstIndex() const {
  if (unstable_snapshot_) return unstable_snapshot_->metadata.index + 1;
  return storage_->FirstIndex();
}

uint64_t RaftLog::LastIndex() const {
  if (!unstable_entries_.empty()) return unstable_offset_ + unstable_entries_.size() - 1;
  if (unstable_snapshot_) return unstable_snapshot_->metadata.index;
  return storage_->LastIndex();
}

uint64_t RaftLog::StableLastIndex() const {
  if (unstable_snapshot_) return 0;  // nothing counts until the snapshot is durable
  if (!unstable_entries_.empty()) return unstable_offset_ - 1;
  return storage_->LastIndex();
}

uint64_t RaftLog::LastTerm() const {
  return TermOrZero(LastIndex());
}

Result<uint64_t> RaftLog::Term(uint64_t i) const {
  uint64_t dummy = FirstIndex() - 1;
  if (i < dummy) return Status::Error(Status::Code::kCompacted, "compacted");
  if (i > LastIndex()) return Status::Error(Status::Code::kUnavailable, "unavailable");
  if (unstable_snapshot_ && i == unstable_snapshot_->metadata.index) {
    return unstable_snapshot_->metadata.term;
  }
  if (!unstable_entries_.empty() && i >= unstable_offset_) {
    return unstable_entries_[i - unstable_offset_].term;
  }
  return storage_->Term(i);
}

uint64_t RaftLog::TermOrZero(uint64_t i) const {
  auto t = Term(i);
  return t.ok() ? t.value() : 0;
}

bool RaftLog::MatchTerm(uint64_t i, uint64_t term) const {
  auto t = Term(i);
  return t.ok() && t.value() == term;
}

bool RaftLog::IsUpToDate(uint64_t last_index, uint64_t last_term) const {
  uint64_t our_term = LastTerm();
  return last_term > our_term || (last_term == our_term && last_index >= LastIndex());
}

uint64_t RaftLog::FindConflict(const std::vector<Entry>& entries) const {
  for (const Entry& e : entries) {
    if (!MatchTerm(e.index, e.term)) return e.index;
  }
  return 0;
}

std::optional<uint64_t> RaftLog::MaybeAppend(uint64_t index, uint64_t log_term, uint64_t commit,
                                             const std::vector<Entry>& entries) {
  if (!MatchTerm(index, log_term)) return std::nullopt;
  uint64_t last_new = index + entries.size();
  uint64_t conflict = FindConflict(entries);
  if (conflict != 0) {
    // Log Matching: a committed entry can never conflict with the leader's log.
    if (conflict <= committed_) InvariantViolated();
    std::vector<Entry> suffix(entries.begin() + static_cast<std::ptrdiff_t>(conflict - index - 1),
                              entries.end());
    TruncateAndAppendUnstable(suffix);
  }
  // Commit only what this message proved to match the leader (eBay/NuRaft#57).
  CommitTo(std::min(commit, last_new));
  return last_new;
}

uint64_t RaftLog::Append(const std::vector<Entry>& entries) {
  if (entries.empty()) return LastIndex();
  if (entries.front().index - 1 < committed_) InvariantViolated();
  TruncateAndAppendUnstable(entries);
  return LastIndex();
}

void RaftLog::TruncateAndAppendUnstable(const std::vector<Entry>& entries) {
  uint64_t after = entries.front().index;
  if (after == unstable_offset_ + unstable_entries_.size()) {
    // Plain extension of the unstable suffix.
  } else if (after <= unstable_offset_) {
    // Replaces the whole unstable suffix (and, once persisted, part of storage).
    unstable_offset_ = after;
    unstable_entries_.clear();
  } else {
    // Keep [offset, after), drop the rest.
    unstable_entries_.resize(after - unstable_offset_);
  }
  unstable_entries_.insert(unstable_entries_.end(), entries.begin(), entries.end());
}

std::pair<uint64_t, uint64_t> RaftLog::FindConflictByTerm(uint64_t index, uint64_t term) const {
  for (;;) {
    auto t = Term(index);
    if (!t.ok()) return {index, 0};
    if (t.value() <= term) return {index, t.value()};
    if (index == 0) return {0, 0};
    --index;
  }
}

Result<std::vector<Entry>> RaftLog::Slice(uint64_t lo, uint64_t hi, uint64_t max_bytes) const {
  if (lo >= hi) return std::vector<Entry>{};
  if (lo < FirstIndex()) return Status::Error(Status::Code::kCompacted, "compacted");
  if (hi > LastIndex() + 1) return Status::Error(Status::Code::kUnavailable, "unavailable");
  std::vector<Entry> out;
  uint64_t bytes = 0;
  if (lo >= unstable_offset_) out.reserve(std::min<uint64_t>(hi - lo, 1024));
  if (lo < unstable_offset_) {
    auto stored = storage_->Entries(lo, std::min(hi, unstable_offset_), max_bytes);
    if (!stored.ok()) return stored.status();
    out = std::move(stored).value();
    for (const Entry& e : out)
      bytes += e.ByteSize();
    // Storage stopped early on the byte limit: do not add unstable entries after a gap.
    if (out.size() < std::min(hi, unstable_offset_) - lo) return out;
  }
  for (uint64_t i = std::max(lo, unstable_offset_); i < hi; ++i) {
    const Entry& e = unstable_entries_[i - unstable_offset_];
    bytes += e.ByteSize();
    if (!out.empty() && bytes > max_bytes) break;
    out.push_back(e);
  }
  return out;
}

Result<std::vector<Entry>> RaftLog::EntriesFrom(uint64_t lo, uint64_t max_bytes) const {
  if (lo > LastIndex()) return std::vector<Entry>{};
  return Slice(lo, LastIndex() + 1, max_bytes);
}

std::vector<Entry> RaftLog::NextCommittedEntries() const {
  uint64_t lo = std::max(applied_ + 1, FirstIndex());
  if (committed_ + 1 <= lo) return {};
  auto r = Slice(lo, committed_ + 1, max_committed_bytes_per_ready_);
  if (!r.ok()) InvariantViolated();  // committed entries are never compacted before applied
  return std::move(r).value();
}

bool RaftLog::HasNextCommittedEntries() const {
  return committed_ >= std::max(applied_ + 1, FirstIndex());
}

void RaftLog::CommitTo(uint64_t commit) {
  if (commit <= committed_) return;
  if (commit > LastIndex()) InvariantViolated();
  committed_ = commit;
}

bool RaftLog::MaybeCommit(uint64_t index, uint64_t term) {
  if (index > committed_ && TermOrZero(index) == term) {
    CommitTo(index);
    return true;
  }
  return false;
}

void RaftLog::AppliedTo(uint64_t index) {
  if (index == 0 || index <= applied_) return;
  if (index > committed_) InvariantViolated();
  applied_ = index;
}

void RaftLog::StableTo(uint64_t index, uint64_t term) {
  if (unstable_entries_.empty() || index < unstable_offset_) return;
  uint64_t pos = index - unstable_offset_;
  if (pos >= unstable_entries_.size()) return;
  // A conflicting append may have replaced the entry since the Ready that
  // carried it: then it is not what became durable.
  if (unstable_entries_[pos].term != term) return;
  unstable_entries_.erase(unstable_entries_.begin(),
                          unstable_entries_.begin() + static_cast<std::ptrdiff_t>(pos + 1));
  unstable_offset_ = index + 1;
}

void RaftLog::StableSnapTo(uint64_t index) {
  if (unstable_snapshot_ && unstable_snapshot_->metadata.index == index) {
    unstable_snapshot_.reset();
  }
}

void RaftLog::Restore(const Snapshot& snapshot) {
  committed_ = snapshot.metadata.index;
  unstable_entries_.clear();
  unstable_offset_ = snapshot.metadata.index + 1;
  unstable_snapshot_ = snapshot;
}

Result<Snapshot> RaftLog::GetSnapshot() const {
  if (unstable_snapshot_) return *unstable_snapshot_;
  return storage_->GetSnapshot();
}

}  // namespace phalanx::consensus
