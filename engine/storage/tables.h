// Table names, record keys and record encodings. Internal to engine/storage;
// README.md describes the same layout for humans.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "consensus/types.h"
#include "engine/storage/coding.h"

namespace phalanx::storage::tables {

// Raft log: index (8 bytes big-endian) -> term (8, BE) | type (1) | payload.
inline constexpr const char* kRaftLog = "table:raft_log";
// Raft's own state: kHardStateKey -> term | vote | commit (8 bytes BE each);
// kLogStartKey -> index | term of the last compacted entry (0|0 if none).
inline constexpr const char* kRaftState = "table:raft_state";
inline constexpr std::string_view kHardStateKey = "hard_state";
inline constexpr std::string_view kLogStartKey = "log_start";
// Snapshot metadata: kCurrentKey -> index | term | gen | slot(1) | ConfState.
inline constexpr const char* kSnapshotMeta = "table:snapshot_meta";
inline constexpr std::string_view kCurrentKey = "current";
// State machine metadata, written in every apply transaction:
// kAppliedKey -> applied | term | gen | key count (8 bytes BE each) | ConfState.
inline constexpr const char* kKvMeta = "table:kv_meta";
inline constexpr std::string_view kAppliedKey = "applied";
// KV data, one table per generation: key -> value record (see kv_store.h).
inline constexpr std::string_view kKvPrefix = "table:kv_";

inline constexpr const char* kTableConfig = "key_format=u,value_format=u";
// KV tables: no prefix compression (faster point reads, measured).
inline constexpr const char* kKvTableConfig =
    "key_format=u,value_format=u,prefix_compression=false";

inline std::string KvUri(uint64_t gen) {
  return std::string(kKvPrefix) + std::to_string(gen);
}
inline std::string KvFile(uint64_t gen) {
  return "kv_" + std::to_string(gen) + ".wt";
}
inline std::string CheckpointName(uint32_t slot) {
  return "phalanx_snapshot_" + std::to_string(slot);
}

inline std::string IndexKey(uint64_t index) {
  std::string k(8, '\0');
  coding::EncodeFixed64BE(k.data(), index);
  return k;
}

// ConfState: varint count | ids (varint) for voters, then for learners.
inline void PutConfState(std::string* dst, const consensus::ConfState& cs) {
  coding::PutVarint64(dst, cs.voters.size());
  for (consensus::NodeId id : cs.voters)
    coding::PutVarint64(dst, id);
  coding::PutVarint64(dst, cs.learners.size());
  for (consensus::NodeId id : cs.learners)
    coding::PutVarint64(dst, id);
}

inline bool GetConfState(std::string_view* in, consensus::ConfState* cs) {
  for (auto* ids : {&cs->voters, &cs->learners}) {
    uint64_t n;
    if (!coding::GetVarint64(in, &n) || n > in->size()) return false;
    ids->clear();
    for (uint64_t i = 0; i < n; ++i) {
      uint64_t id;
      if (!coding::GetVarint64(in, &id)) return false;
      ids->push_back(id);
    }
  }
  return true;
}

}  // namespace phalanx::storage::tables
