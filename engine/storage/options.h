// Options for Store::Open. Defaults suit a production node; tests shrink the
// sizes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace phalanx::storage {

struct Options {
  // Directory of the WiredTiger database: the node's data_dir (or a folder
  // inside it). Created, with its parents, when missing and create_if_missing.
  std::string dir;
  bool create_if_missing = true;

  // WiredTiger's page cache.
  uint64_t cache_size_mb = 256;
  // Each WiredTiger log file (preallocated). Old files are removed once a
  // checkpoint no longer needs them.
  uint64_t log_file_max_mb = 64;
  // WiredTiger checkpoints in the background every this many seconds, or
  // after this much log, whichever comes first. Bounds recovery time.
  uint32_t checkpoint_interval_s = 60;
  uint64_t checkpoint_log_mb = 512;
  // Most sessions the process may hold at once (readers, streams, internal).
  uint32_t session_max = 512;

  // The in-memory tail of the Raft log: the newest entries, up to both limits.
  size_t log_cache_entries = 16384;
  uint64_t log_cache_bytes = 64ull << 20;

  // Recently read KV values kept in memory for single-key reads (GET, PTTL),
  // kept coherent with Apply (see read_cache.h). 0 disables it.
  uint64_t read_cache_mb = 256;

  // ShouldSnapshot() turns true when this many entries were applied since the
  // last snapshot, or when the log holds this many bytes (and something new
  // was applied).
  uint64_t snapshot_entries = 100000;
  uint64_t snapshot_bytes = 256ull << 20;
  // Entries removed per short transaction while compacting the log prefix.
  uint64_t compaction_step_entries = 1024;
  // Target size of one snapshot chunk (a chunk holds at least one record).
  size_t snapshot_chunk_bytes = 1 << 20;
  // A batch of committed entries whose data exceeds this is applied in
  // several transactions (each with its own applied index), so one huge batch
  // cannot pin WiredTiger's cache.
  uint64_t max_apply_txn_bytes = 16ull << 20;

  // Receives WiredTiger's messages and the store's own warnings, one line at
  // a time, from any thread. Empty: written to stderr.
  std::function<void(std::string_view line)> message_sink;

  // Tests only: called at named write steps ("log.commit", "log.flush",
  // "kv.commit", "meta.commit", "snapshot.write", "snapshot.checkpoint");
  // a non-zero errno fails that step as if WiredTiger had returned it.
  std::function<int(std::string_view site)> fault_injector;
};

}  // namespace phalanx::storage
