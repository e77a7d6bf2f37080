// Snapshot streams: the KV state at an applied index, as a sequence of
// bounded chunks, out of one store (SnapshotReader) and into another
// (SnapshotWriter). The transport carries the chunks; it never needs to look
// inside them.
//
// Chunk format, version 1: u8 version(=1) | varint count |
//   count x (varint key length | key | varint record length | record)
// where record is the stored value record (flags, expiry, payload; see
// kv_store.h). The metadata (index, term, ConfState) travels separately, as
// consensus::SnapshotMetadata.
//
// Both classes: one thread at a time; destroy before their Store.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "consensus/types.h"
#include "engine/storage/status.h"

namespace phalanx::storage {

class Store;
class WtEnv;

// Reads the store's current snapshot: a named WiredTiger checkpoint of the KV
// table, so the stream is a consistent read that pins no cache however long
// it takes. Obtained from Store::OpenSnapshot().
class SnapshotReader {
 public:
  ~SnapshotReader();
  SnapshotReader(const SnapshotReader&) = delete;
  SnapshotReader& operator=(const SnapshotReader&) = delete;

  const consensus::SnapshotMetadata& metadata() const { return meta_; }
  // Replaces *chunk with the next chunk (about Options::snapshot_chunk_bytes;
  // at least one record) and returns true, or returns false at the end (the
  // first call returns one chunk even for an empty state, so a stream always
  // has one). Errors: kIoError/kCorruption from WiredTiger.
  Result<bool> Next(std::string* chunk);

  struct Impl;
  SnapshotReader(std::unique_ptr<Impl> impl, consensus::SnapshotMetadata meta);

 private:
  std::unique_ptr<Impl> impl_;
  consensus::SnapshotMetadata meta_;
};

// Stages a received snapshot into a fresh KV table; Store::FinishSnapshotInstall
// makes it live in one durable step. Until then the old state is untouched
// and a crash leaves it in place (the staged table is dropped at the next
// open). Destroying an unfinished writer drops the staged table. Obtained from
// Store::BeginSnapshotInstall().
class SnapshotWriter {
 public:
  ~SnapshotWriter();
  SnapshotWriter(const SnapshotWriter&) = delete;
  SnapshotWriter& operator=(const SnapshotWriter&) = delete;

  const consensus::SnapshotMetadata& metadata() const { return meta_; }
  // Stores the records of one chunk (not yet durable). kCorruption for a
  // malformed chunk, kIoError from WiredTiger (the install is then dead: drop
  // this writer), kFailed in fail-stop mode.
  Status Write(std::string_view chunk);
  uint64_t records() const;

  struct Impl;
  SnapshotWriter(std::unique_ptr<Impl> impl, consensus::SnapshotMetadata meta);

 private:
  friend class Store;
  std::unique_ptr<Impl> impl_;
  consensus::SnapshotMetadata meta_;
};

}  // namespace phalanx::storage
