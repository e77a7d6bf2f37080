// Errors as values for engine/storage. No exceptions cross this module's edge.
//
// consensus::Status has no codes for I/O failures, so the storage layer keeps
// its own codes on util/status.h's mechanism; ToConsensus() maps a storage
// Status where the Raft core's Storage interface needs one.
#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include "consensus/status.h"
#include "util/status.h"

namespace phalanx::storage {

enum class StatusCode : uint8_t {
  kOk = 0,
  kNotFound,         // the requested item does not exist
  kInvalidArgument,  // the call broke its contract (a gap in the log, a stale snapshot, ...)
  kIoError,          // the file system or WiredTiger failed a read or a write
  kCorruption,       // stored or received bytes are malformed, or a file is missing
  kFailed,           // an earlier write error put the store in fail-stop mode: no more writes
  kBusy,             // temporarily impossible (e.g. a snapshot is being streamed); retry later
  kCompacted,        // log: the index lies before the first entry held
  kUnavailable,      // log: the index lies after the last entry held
};

class Status : public util::StatusBase<Status, StatusCode> {
 public:
  Status() = default;
  static Status InvalidArgument(std::string m) {
    return Error(Code::kInvalidArgument, std::move(m));
  }
  static Status IoError(std::string m) { return Error(Code::kIoError, std::move(m)); }
  static Status Corruption(std::string m) { return Error(Code::kCorruption, std::move(m)); }
  static Status NotFound(std::string m) { return Error(Code::kNotFound, std::move(m)); }
  static Status Busy(std::string m) { return Error(Code::kBusy, std::move(m)); }

  // "IoError: <message>", or "OK".
  std::string ToString() const;
  // The closest consensus::Status: kCompacted, kUnavailable and kBusy map to
  // their Raft counterparts; anything else becomes kUnavailable with this
  // status's text (the core has no I/O error code).
  consensus::Status ToConsensus() const;
};

const char* CodeName(Status::Code code);

// A value or the Status that explains its absence.
template <typename T>
using Result = util::Result<T, Status>;

}  // namespace phalanx::storage
