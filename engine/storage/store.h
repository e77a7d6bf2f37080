// Store: a node's durable state on one WiredTiger connection — the Raft log
// (LogStore), the key-value state machine (KvStore), snapshots and log
// compaction. See README.md beside this file for the tables and the
// durability argument.
//
//   auto store = Store::Open(options);            // or a clear error naming the problem
//   if (store.value()->IsFresh()) store.value()->Bootstrap(initial_conf);
//   consensus::Config config{.storage = &store.value()->log(),
//                            .applied = store.value()->kv().applied_index(), ...};
//   ... Ready loop: log().Save(hs, entries); kv().Apply(committed, conf_state);
//   ... now and then: if (ShouldSnapshot()) { CreateSnapshot(); CompactLog(i); }
//
// Fail-stop: once any write fails (disk full, I/O error), every later write
// returns kFailed and nothing more reaches the disk; reads keep working on
// what is there. The node should stop. Nothing acknowledged is lost.
//
// Thread safety: all methods may be called from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <vector>

#include "consensus/types.h"
#include "engine/storage/kv_store.h"
#include "engine/storage/log_store.h"
#include "engine/storage/options.h"
#include "engine/storage/snapshot.h"
#include "engine/storage/status.h"

namespace phalanx::storage {

class WtEnv;
class WtSession;

class Store {
 public:
  // Opens the store in options.dir, creating it when the directory holds no
  // store yet (and create_if_missing). Runs WiredTiger recovery, drops
  // leftovers of interrupted snapshot installs, and loads the log tail.
  // Never overwrites or repairs existing data: a missing or corrupt file, or
  // a directory holding WiredTiger files without this store's marker, gives
  // kCorruption (or kIoError) with one message naming the file.
  static Result<std::unique_ptr<Store>> Open(const Options& options);
  // Closes the connection (WiredTiger checkpoints on a clean close). Every
  // SnapshotReader/SnapshotWriter must be gone first.
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  LogStore& log() { return *log_; }
  KvStore& kv() { return *kv_; }
  const Options& options() const { return options_; }

  // ---- first boot ----
  // True when nothing was ever persisted: no hard state, no log, nothing applied.
  bool IsFresh() const;
  // Records the initial membership (the voters of `initial_cluster`) durably
  // as the ConfState at index 0. kInvalidArgument unless IsFresh().
  Status Bootstrap(const consensus::ConfState& conf_state);

  // ---- snapshots and compaction ----
  // True once Options::snapshot_entries entries were applied since the last
  // snapshot, or the log holds Options::snapshot_bytes and something was
  // applied since.
  bool ShouldSnapshot() const;
  // Makes a snapshot of the applied state now (a named WiredTiger checkpoint
  // of the KV table, durable when this returns) and records it as the one
  // GetSnapshot()/OpenSnapshot() serve. Returns its metadata; returns the
  // current one if nothing was applied since. kBusy while both checkpoint
  // slots are being streamed (retry later); kInvalidArgument if nothing was
  // ever applied; kIoError (fail-stop) on a write error.
  Result<consensus::SnapshotMetadata> CreateSnapshot();
  // A stream of the current snapshot. kNotFound if there is none.
  Result<std::unique_ptr<SnapshotReader>> OpenSnapshot();
  // Starts installing a snapshot received from the leader: chunks go to a
  // staging table. kInvalidArgument if `meta` is not newer than the applied
  // index; kFailed in fail-stop mode.
  Result<std::unique_ptr<SnapshotWriter>> BeginSnapshotInstall(
      const consensus::SnapshotMetadata& meta);
  // Makes the staged snapshot the live state, in one durable step: the KV
  // table, applied index and ConfState switch over, the log is emptied to
  // start after the snapshot (FirstIndex() = index + 1), the hard state `hs`
  // (if set) is saved, and its commit is raised to at least the snapshot
  // index. A crash before this returns leaves the old state; after, the new.
  Status FinishSnapshotInstall(std::unique_ptr<SnapshotWriter> writer,
                               const std::optional<consensus::HardState>& hs);
  // Discards log entries up to min(upto, snapshot index): the new log start
  // is durable before this deletes anything, then entries go in short
  // transactions of Options::compaction_step_entries, so Saves interleave.
  // Also finishes an earlier interrupted compaction.
  Status CompactLog(uint64_t upto);
  // Drops KV tables no longer live or snapshotted (done also by
  // CreateSnapshot, CompactLog and Open). Tables still read are kept.
  Status CollectGarbage();

  // ---- health ----
  bool failed() const;
  // Ok, or the kFailed status explaining the fail-stop.
  Status health() const;

  struct Stats {
    uint64_t log_flushes = 0;    // fsyncs of the WiredTiger log
    uint64_t durable_waits = 0;  // WaitDurable calls (Save counts one)
    uint64_t snapshots_created = 0;
    uint64_t entries_compacted = 0;
  };
  Stats stats() const;

 private:
  struct Token {};
  friend class SnapshotReader;
  friend class SnapshotWriter;

 public:
  Store(Token, Options options);

 private:
  // Opens WiredTiger and loads the state. read_only: a dry run that writes
  // nothing (Open validates an existing store this way before WiredTiger
  // may write to it); *needs_recovery is set if WiredTiger must run recovery
  // (which a read-only open cannot).
  Status Init(bool fresh_dir, bool read_only, bool* needs_recovery);
  // Index of a checkpoint slot of table generation `gen` nobody streams, or -1.
  int FreeSlot(uint64_t gen) const;
  // Counts open SnapshotReaders per (generation, slot).
  void Pin(uint64_t gen, uint32_t slot, int delta);
  bool PinnedGen(uint64_t gen) const;
  // The rest run with snapshot_mu_ held.
  Status CollectGarbageLocked(bool at_open);
  Status CompactStepsLocked();
  // An unfinished SnapshotWriter went away: drop its staging table.
  void AbandonInstall(uint64_t gen, WtSession& s);

  const Options options_;
  std::unique_ptr<WtEnv> env_;
  std::unique_ptr<KvStore> kv_;
  std::unique_ptr<LogStore> log_;

  std::mutex snapshot_mu_;  // one snapshot/compaction/GC at a time
  mutable std::mutex pins_mu_;
  struct PinKey {
    uint64_t gen;
    uint32_t slot;
    int count;
  };
  std::vector<PinKey> pins_;       // guarded by pins_mu_: open SnapshotReaders
  std::set<uint64_t> installing_;  // guarded by snapshot_mu_: staging generations
  std::atomic<uint64_t> snapshots_created_{0};
  std::atomic<uint64_t> entries_compacted_{0};
};

}  // namespace phalanx::storage
