// What a leader knows about each follower's log, and how fast it may send.
//
// A follower is in one of three states (etcd-io/raft's design):
//  - Probe: the leader does not know where the logs match; it sends one append
//    per heartbeat interval and waits for the answer (§5.3 backtracking).
//  - Replicate: the logs match up to `match`; appends are pipelined
//    optimistically, bounded by the Inflights window.
//  - Snapshot: the entries the follower needs are compacted; a snapshot is on
//    its way and nothing else is sent until it is acknowledged.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>

namespace phalanx::consensus {

// A sliding window of appends sent but not yet acknowledged, bounded in count
// and in bytes (etcd-io/etcd#14624: one huge entry must not overflow a follower).
class Inflights {
 public:
  Inflights(size_t max_count, uint64_t max_bytes) : max_count_(max_count), max_bytes_(max_bytes) {}
  // Records an append whose last entry is `index`, carrying `bytes` of entries.
  void Add(uint64_t index, uint64_t bytes);
  // Frees every append whose last index is ≤ index (the follower acknowledged it).
  void FreeLE(uint64_t index);
  void FreeFirstOne();
  bool Full() const;
  size_t Count() const { return window_.size(); }
  void Reset();

 private:
  struct Sent {
    uint64_t index;
    uint64_t bytes;
  };
  std::deque<Sent> window_;
  size_t max_count_;
  uint64_t max_bytes_;  // 0: no byte limit
  uint64_t bytes_ = 0;
};

class Progress {
 public:
  enum class State : uint8_t { kProbe, kReplicate, kSnapshot };

  Progress(uint64_t next, size_t max_inflight, uint64_t max_inflight_bytes, bool is_learner)
      : next(next), inflights(max_inflight, max_inflight_bytes), is_learner(is_learner) {}

  // Highest index known to match the leader's log.
  uint64_t match = 0;
  // Next index to send.
  uint64_t next = 1;
  State state = State::kProbe;
  // In kSnapshot: the index of the snapshot being sent.
  uint64_t pending_snapshot = 0;
  // Heard from since the last check-quorum round.
  bool recent_active = false;
  // In kProbe: an append is outstanding; wait for its answer or a heartbeat response.
  bool probe_sent = false;
  Inflights inflights;
  bool is_learner = false;

  void BecomeProbe();
  void BecomeReplicate();
  void BecomeSnapshot(uint64_t snapshot_index);

  // An acknowledgement of everything up to n. Returns false if stale.
  bool MaybeUpdate(uint64_t n);
  // A rejection of the append at `rejected`; `match_hint` is the follower's
  // hint where the logs may match. Returns false if the rejection is stale.
  bool MaybeDecrTo(uint64_t rejected, uint64_t match_hint);
  // Bookkeeping after sending `count` entries ending at `last_index`.
  void SentEntries(uint64_t last_index, size_t count, uint64_t bytes);
  // True when the leader must not send further appends for now.
  bool IsPaused() const;

  const char* StateName() const;
};

}  // namespace phalanx::consensus
