// RaftLog: the node's view of its log — the durable prefix in Storage plus the
// unstable suffix (and possibly a snapshot) that a Ready has yet to persist.
//
//   storage:   [first ............ stable_last]
//   unstable:                        [offset ........ last]
//   committed ≤ last, applied ≤ committed
//
// Entries in `unstable` may be replaced by a leader's conflicting suffix until
// they are persisted (§5.3); anything at or below `committed` never changes.
#pragma once

#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "consensus/storage.h"
#include "consensus/types.h"

namespace phalanx::consensus {

class RaftLog {
 public:
  // `storage` is not owned and must outlive the log.
  RaftLog(const Storage* storage, uint64_t max_committed_bytes_per_ready);

  uint64_t FirstIndex() const;
  uint64_t LastIndex() const;
  uint64_t LastTerm() const;
  // The last index known durable locally (storage's last, or the entry just
  // before the unstable suffix).
  uint64_t StableLastIndex() const;
  uint64_t committed() const { return committed_; }
  uint64_t applied() const { return applied_; }

  // Term of entry i; kCompacted/kUnavailable as Storage::Term.
  Result<uint64_t> Term(uint64_t i) const;
  // Term of entry i, or 0 when unknown (compacted or unavailable).
  uint64_t TermOrZero(uint64_t i) const;
  bool MatchTerm(uint64_t i, uint64_t term) const;

  // §5.4.1: is a log ending at (last_index, last_term) at least as up to date as ours?
  bool IsUpToDate(uint64_t last_index, uint64_t last_term) const;

  // Follower side of AppendEntries (§5.3): if our entry at `index` has
  // `log_term`, append `entries` (dropping the matching prefix, truncating a
  // conflicting suffix), advance commit to min(commit, last new index) and
  // return the last new index. nullopt when the consistency check fails.
  std::optional<uint64_t> MaybeAppend(uint64_t index, uint64_t log_term, uint64_t commit,
                                      const std::vector<Entry>& entries);
  // Leader side: appends entries after the last one. Returns the new last index.
  uint64_t Append(const std::vector<Entry>& entries);

  // For fast backtracking: the largest index ≤ index whose term ≤ term, and
  // that term. Stops at FirstIndex()-1 when the log is compacted.
  std::pair<uint64_t, uint64_t> FindConflictByTerm(uint64_t index, uint64_t term) const;

  // Entries in [lo, LastIndex()] up to max_bytes (at least one). Errors if lo
  // is compacted.
  Result<std::vector<Entry>> EntriesFrom(uint64_t lo, uint64_t max_bytes) const;
  Result<std::vector<Entry>> Slice(uint64_t lo, uint64_t hi, uint64_t max_bytes) const;

  const std::vector<Entry>& UnstableEntries() const { return unstable_entries_; }
  const std::optional<Snapshot>& UnstableSnapshot() const { return unstable_snapshot_; }
  // Committed entries not yet handed to the application.
  std::vector<Entry> NextCommittedEntries() const;
  bool HasNextCommittedEntries() const;

  // Commit only moves forward and never past the last entry.
  void CommitTo(uint64_t commit);
  // §5.4.2: commit `index` only if it carries the current term.
  bool MaybeCommit(uint64_t index, uint64_t term);
  void AppliedTo(uint64_t index);

  // Persistence acknowledgements (from Advance).
  void StableTo(uint64_t index, uint64_t term);
  void StableSnapTo(uint64_t index);

  // Replaces the log with a snapshot (follower, §7).
  void Restore(const Snapshot& snapshot);
  // The snapshot to send a lagging follower: the unstable one or storage's.
  Result<Snapshot> GetSnapshot() const;

 private:
  void TruncateAndAppendUnstable(const std::vector<Entry>& entries);
  // First index where `entries` disagrees with our log (or extends it); 0 if none.
  uint64_t FindConflict(const std::vector<Entry>& entries) const;

  const Storage* storage_;
  uint64_t max_committed_bytes_per_ready_;
  std::optional<Snapshot> unstable_snapshot_;
  std::vector<Entry> unstable_entries_;
  uint64_t unstable_offset_;  // index of unstable_entries_[0]
  uint64_t committed_;
  uint64_t applied_;
};

}  // namespace phalanx::consensus
