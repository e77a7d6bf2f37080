// KvStore: the replicated key-value state machine on WiredTiger.
//
// Obtained from Store::kv(); lives as long as its Store.
//
// Apply side (one thread at a time, in log order):
//
//   auto results = store->kv().Apply(rd.committed_entries, conf_state_after);
//   // results->at(i) answers whoever proposed rd.committed_entries[i]
//
// Every Apply call writes the KV changes, the applied index and term, and the
// ConfState in one WiredTiger transaction, so after a crash the store resumes
// exactly after the last applied entry: never twice, never skipped. Apply
// commits without fsync (the Raft log already holds the entries durably; a
// lost apply is redone from it after restart), so results are the same either
// way: apply is deterministic (see command.h).
//
// Read side: any thread, concurrently with Apply and with each other, on the
// applied state (snapshot isolation: a read never sees half of an Apply
// transaction). Reads take `now_ms`: keys whose expiry is <= now_ms are
// invisible. Linearizability is the caller's job: read once applied_index()
// has reached the read index. Single-key reads may be served by the read
// cache (Options::read_cache_mb), which never returns a value older than the
// committed one (read_cache.h).
//
// Bytes on disk: table kv_<gen> maps 'k' + the key to a value record
// flags(1: bit 0 = has expiry) | [expiry ms, 8 bytes big-endian] | payload.
// Table kv_meta holds the applied index and term, the live generation, the key
// count and the ConfState. A new generation (an empty kv_<gen+1>) replaces the
// table on FLUSHALL and on snapshot install; old ones are dropped later.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "consensus/types.h"
#include "engine/storage/command.h"
#include "engine/storage/options.h"
#include "engine/storage/status.h"

namespace phalanx::storage {

class Store;
class WtEnv;
class WtSession;
class KvReader;
class ReadCache;

class KvStore {
 public:
  ~KvStore();
  KvStore(const KvStore&) = delete;
  KvStore& operator=(const KvStore&) = delete;

  // ---- apply ----
  // Applies committed entries in order and returns one result per entry
  // given. Entries at or below applied_index() are skipped and get no result
  // (so a re-delivered batch is harmless); the first one applied must be
  // applied_index() + 1. Normal entries with empty data (a leader's no-op)
  // and kConfChange entries yield Ok. A normal entry that fails to decode
  // yields an error result ("ERR corrupt command: ...") on every replica
  // alike. `conf_state`, if set, is the configuration in force after the last
  // entry (the caller applied the conf changes through RawNode); it is stored
  // with the applied index.
  // Errors: kInvalidArgument (a gap), kIoError (nothing from this call's
  // failing transaction was applied; the store is now fail-stop; earlier
  // transactions of a split batch stay applied), kFailed (fail-stop earlier).
  Result<std::vector<ApplyResult>> Apply(const std::vector<consensus::Entry>& entries,
                                         const std::optional<consensus::ConfState>& conf_state);

  // The last applied index and its term; the ConfState stored with them.
  uint64_t applied_index() const { return applied_index_.load(std::memory_order_acquire); }
  uint64_t applied_term() const;
  consensus::ConfState conf_state() const;

  // ---- reads (any thread; errors: kIoError/kCorruption from WiredTiger) ----
  // The value, or nullopt if the key is missing or expired.
  Result<std::optional<std::string>> Get(std::string_view key, int64_t now_ms) const;
  // One value per key, all read at one instant (one snapshot).
  Result<std::vector<std::optional<std::string>>> MGet(const std::vector<std::string>& keys,
                                                       int64_t now_ms) const;
  // How many of `keys` exist (a key named twice counts twice), one snapshot.
  Result<int64_t> Exists(const std::vector<std::string>& keys, int64_t now_ms) const;
  // PTTL: ms left (>= 0), -1 for a key without expiry, -2 for a missing key.
  Result<int64_t> PTtl(std::string_view key, int64_t now_ms) const;

  struct ScanPage {
    std::vector<std::string> keys;          // live keys, in key order
    std::vector<std::string> expired_keys;  // keys seen expired at now_ms (for active expiry)
    std::string cursor;                     // pass back to continue; empty: the scan is done
  };
  // Examines up to `count` (>= 1) keys strictly after `cursor` ("" = from the
  // start). Keys present for the whole scan are returned exactly once; keys
  // added or removed meanwhile may or may not be (Redis SCAN's guarantee). The
  // cursor is an opaque byte string (a key), not Redis's integer: the front
  // end maps it.
  Result<ScanPage> Scan(std::string_view cursor, size_t count, int64_t now_ms) const;
  // Number of keys stored, counting expired ones not yet removed (as Redis's
  // DBSIZE does). O(1).
  uint64_t DbSize() const { return key_count_.load(std::memory_order_acquire); }
  // A read handle that keeps its own WiredTiger session: the fastest way to
  // do many point reads from one thread (one per event-loop thread).
  // kIoError if no session can be opened (Options::session_max).
  Result<std::unique_ptr<KvReader>> NewReader() const;

 private:
  friend class Store;
  friend class SnapshotWriter;
  friend class KvReader;
  struct Token {};

 public:
  // Constructed by Store::Open only.
  KvStore(Token, WtEnv* env, const Options& options);

 private:
  struct Meta {
    uint64_t applied = 0;
    uint64_t term = 0;
    uint64_t gen = 1;
    uint64_t count = 0;
    consensus::ConfState conf;
  };
  class Applier;

  Status Load(WtSession& s);
  Status PutMeta(WtSession& s, const Meta& m);
  static std::string EncodeMeta(const Meta& m);
  static bool DecodeMeta(std::string_view v, Meta* m);
  Meta meta() const;
  // After a committed transaction: publishes the new state to readers.
  void Publish(const Meta& m);
  Result<uint64_t> NewGeneration();
  std::string LiveUri() const;

  WtEnv* const env_;
  const Options& options_;

  std::mutex apply_mu_;  // one Apply (or snapshot install, or bootstrap) at a time
  mutable std::mutex meta_mu_;
  Meta meta_;  // guarded by meta_mu_; the published state
  std::atomic<uint64_t> applied_index_{0};
  std::atomic<uint64_t> live_gen_{1};
  std::atomic<uint64_t> key_count_{0};
  std::atomic<uint64_t> max_gen_{1};  // largest generation number ever used
  std::unique_ptr<ReadCache> cache_;  // null when disabled
};

// Point reads for one thread, on a session of its own (see
// KvStore::NewReader). Same semantics as KvStore::Get. One thread at a time;
// destroy before the Store. A reader left idle keeps a cursor on the table
// it last read, which delays dropping that table after a FLUSHALL or a
// snapshot install until its next read or its destruction.
class KvReader {
 public:
  ~KvReader();
  KvReader(const KvReader&) = delete;
  KvReader& operator=(const KvReader&) = delete;

  // The value, or nullopt if the key is missing or expired at now_ms.
  Result<std::optional<std::string>> Get(std::string_view key, int64_t now_ms);
  // Fills *value (reusing its capacity) and returns true, or returns false if
  // the key is missing or expired.
  Result<bool> Get(std::string_view key, int64_t now_ms, std::string* value);

  struct Impl;
  explicit KvReader(std::unique_ptr<Impl> impl);

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace phalanx::storage
