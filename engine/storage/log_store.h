// LogStore: the durable Raft log, hard state and snapshot metadata on
// WiredTiger, behind the Raft core's consensus::Storage interface.
//
// Obtained from Store::log(); lives as long as its Store.
//
// The Ready loop's persistence step is one call:
//
//   Status s = store->log().Save(rd.hard_state, rd.entries);  // durable on Ok
//   if (!s.ok()) stop the node: the store refuses further writes (fail-stop)
//
// Thread safety: every method may be called from any thread. Reads (the
// consensus::Storage methods) run concurrently with each other and see either
// all or none of a concurrent Save. Saves serialize on the log table (one
// writer at a time) but share fsyncs: concurrent Saves, or a Write() whose
// WaitDurable() is still pending, are made durable by one flush (group commit).
//
// Bytes on disk: table raft_log maps a big-endian uint64 index to
// term(8, big-endian) | type(1) | payload; table raft_state holds the hard
// state and the log start (the compacted prefix's last index and term).
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include "consensus/storage.h"
#include "consensus/types.h"
#include "engine/storage/options.h"
#include "engine/storage/status.h"

namespace phalanx::storage {

class KvStore;
class Store;
class WtEnv;
class WtSession;

class LogStore final : public consensus::Storage {
 public:
  ~LogStore() override;
  LogStore(const LogStore&) = delete;
  LogStore& operator=(const LogStore&) = delete;

  // ---- consensus::Storage (see consensus/storage.h for the contract) ----
  // Hard state as last saved; ConfState as of the applied index (KvStore).
  consensus::InitialState GetInitialState() const override;
  // Recent entries come from memory, older ones from WiredTiger. A read error
  // from WiredTiger comes back as kUnavailable carrying the I/O error text.
  consensus::Result<std::vector<consensus::Entry>> Entries(uint64_t lo, uint64_t hi,
                                                           uint64_t max_bytes) const override;
  consensus::Result<uint64_t> Term(uint64_t i) const override;
  uint64_t FirstIndex() const override;
  uint64_t LastIndex() const override;
  // The latest snapshot's metadata; data is always empty: the state streams
  // separately through Store::OpenSnapshot(). Empty (index 0) if none yet.
  consensus::Result<consensus::Snapshot> GetSnapshot() const override;

  // ---- writes ----
  // Persists `hs` (if set) and `entries` in one WiredTiger transaction and
  // returns once they are on stable storage (fsync'd WiredTiger log).
  // `entries` must be contiguous; an entry at an index already held replaces
  // it and everything after it (a conflicting suffix, Raft §5.3); entries at or
  // before the compacted prefix are skipped. Errors: kInvalidArgument (not
  // contiguous, or a gap after LastIndex()), kIoError (nothing was written
  // durably, the store is now fail-stop), kFailed (fail-stop from before).
  Status Save(const std::optional<consensus::HardState>& hs,
              const std::vector<consensus::Entry>& entries);
  // Save in two steps, for a Ready loop that pipelines: Write() commits the
  // transaction (visible to reads at once, not yet durable) and returns a
  // ticket; WaitDurable(ticket) returns once that and every earlier Write()
  // is durable. Never answer a peer or a client between the two.
  Result<uint64_t> Write(const std::optional<consensus::HardState>& hs,
                         const std::vector<consensus::Entry>& entries);
  Status WaitDurable(uint64_t ticket);

  // ---- inspection ----
  consensus::HardState hard_state() const;
  // Bytes of entries held (keys and values as stored).
  uint64_t log_bytes() const;
  // The snapshot LogStore records (index 0 if none).
  consensus::SnapshotMetadata snapshot_metadata() const;

 private:
  friend class Store;
  struct Token {};

 public:
  // Constructed by Store::Open only.
  LogStore(Token, WtEnv* env, const Options& options, const KvStore* kv);

 private:
  struct SnapshotRecord {
    consensus::SnapshotMetadata meta;
    uint64_t gen = 0;   // the KV table generation the checkpoint lives in
    uint32_t slot = 0;  // which of the two named checkpoint slots
  };

  SnapshotRecord snapshot_record() const;
  // Loads the state from the tables. Called once by Store::Open.
  Status Load(WtSession& s);
  // Body of Write(); mu_ held exclusively.
  Status WriteLocked(WtSession& s, const std::optional<consensus::HardState>& hs,
                     const std::vector<consensus::Entry>& entries);
  // Removes entries with index >= from in the open transaction. Adds removed bytes.
  Status DeleteFromLocked(WtSession& s, uint64_t from, uint64_t* removed_bytes);
  Result<std::vector<consensus::Entry>> ReadRange(uint64_t lo, uint64_t hi, uint64_t max_bytes,
                                                  uint64_t* bytes) const;
  // Memory side of appending (after commit).
  void CacheAppend(const std::vector<consensus::Entry>& entries, size_t skip);
  void TrimCache();
  Status PutHardState(WtSession& s, const consensus::HardState& hs);
  Status PutLogStart(WtSession& s, uint64_t index, uint64_t term);
  Status PutSnapshot(WtSession& s, const SnapshotRecord& rec);
  // One bounded compaction step: removes up to `limit` entries at or below
  // the log start in one short transaction. Sets *removed, and *more if some
  // remain.
  Status CompactStep(uint64_t limit, uint64_t* removed, bool* more);
  Result<uint64_t> TermLocked(uint64_t i) const;

  WtEnv* const env_;
  const Options& options_;
  const KvStore* const kv_;

  mutable std::shared_mutex mu_;
  consensus::HardState hard_state_;
  uint64_t start_index_ = 0;  // log start: entries <= start_index_ are gone
  uint64_t start_term_ = 0;
  uint64_t last_index_ = 0;
  uint64_t log_bytes_ = 0;
  std::deque<consensus::Entry> cache_;  // the newest entries, ending at last_index_
  uint64_t cache_bytes_ = 0;
  SnapshotRecord snapshot_;
};

}  // namespace phalanx::storage
