// The read side of the durable Raft log, as the core sees it.
//
// The core never writes to Storage: the caller persists what a Ready hands out
// (hard state, entries, snapshot) and then calls Advance(). engine/storage
// backs this interface with WiredTiger; MemoryStorage below backs it with a
// vector for tests and simulations.
#pragma once

#include <cstdint>
#include <limits>
#include <vector>

#include "consensus/status.h"
#include "consensus/types.h"

namespace phalanx::consensus {

inline constexpr uint64_t kNoLimit = std::numeric_limits<uint64_t>::max();

struct InitialState {
  HardState hard_state;
  ConfState conf_state;
};

// Thread safety: the core calls these from whichever thread drives it (always
// under the caller's lock); implementations must tolerate concurrent writes by
// the caller's persistence path.
class Storage {
 public:
  virtual ~Storage() = default;

  // The hard state and membership recorded at the last Advance (or snapshot).
  virtual InitialState GetInitialState() const = 0;

  // Entries in [lo, hi), at least one if any exists, stopping before the
  // total ByteSize() would exceed max_bytes. kCompacted if lo < FirstIndex(),
  // kUnavailable if hi > LastIndex() + 1.
  virtual Result<std::vector<Entry>> Entries(uint64_t lo, uint64_t hi,
                                             uint64_t max_bytes) const = 0;

  // Term of entry i, for i in [FirstIndex()-1, LastIndex()] (FirstIndex()-1 is
  // the snapshot's index). kCompacted below, kUnavailable above.
  virtual Result<uint64_t> Term(uint64_t i) const = 0;

  // Index of the first entry still held (snapshot index + 1).
  virtual uint64_t FirstIndex() const = 0;
  // Index of the last entry held (the snapshot index when the log is empty).
  virtual uint64_t LastIndex() const = 0;

  // The most recent snapshot, to send to a follower that is too far behind.
  // kSnapshotTemporarilyUnavailable while one is being made.
  virtual Result<Snapshot> GetSnapshot() const = 0;
};

// In-memory Storage for tests and simulations. Entry 0 of `entries_` is a
// dummy holding the snapshot's index and term, so Term(FirstIndex()-1) works.
// Not thread-safe.
class MemoryStorage final : public Storage {
 public:
  MemoryStorage();

  InitialState GetInitialState() const override;
  Result<std::vector<Entry>> Entries(uint64_t lo, uint64_t hi, uint64_t max_bytes) const override;
  Result<uint64_t> Term(uint64_t i) const override;
  uint64_t FirstIndex() const override;
  uint64_t LastIndex() const override;
  Result<Snapshot> GetSnapshot() const override;

  // Write side, called by the test's "persistence" step.
  void SetHardState(const HardState& hs) { hard_state_ = hs; }
  void SetConfState(const ConfState& cs) { conf_state_ = cs; }
  // Appends entries, first truncating any existing suffix they conflict with.
  // Entries wholly before FirstIndex() are ignored.
  Status Append(const std::vector<Entry>& entries);
  // Replaces the whole log with the snapshot. kCompacted if older than ours.
  Status ApplySnapshot(const Snapshot& snapshot);
  // Records a snapshot at applied index i (≤ LastIndex()) with state `data`.
  Result<Snapshot> CreateSnapshot(uint64_t i, const ConfState& cs, std::string data);
  // Discards entries up to and including i (i ≤ LastIndex()); i becomes the
  // dummy that remembers its term. kCompacted if already gone.
  Status Compact(uint64_t i);

 private:
  HardState hard_state_;
  ConfState conf_state_;
  Snapshot snapshot_;
  std::vector<Entry> entries_;  // entries_[0] is the dummy
};

}  // namespace phalanx::consensus
