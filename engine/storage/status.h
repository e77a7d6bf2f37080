// Errors as values for engine/storage. No exceptions cross this module's edge.
//
// consensus::Status has no codes for I/O failures, so the storage layer keeps
// its own small Status; ToConsensus() maps it where the Raft core's Storage
// interface needs one.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <variant>

#include "consensus/status.h"

namespace phalanx::storage {

class Status {
 public:
  enum class Code : uint8_t {
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

  Status() = default;
  static Status Ok() { return Status(); }
  static Status Error(Code code, std::string message) { return Status(code, std::move(message)); }
  static Status InvalidArgument(std::string m) {
    return Error(Code::kInvalidArgument, std::move(m));
  }
  static Status IoError(std::string m) { return Error(Code::kIoError, std::move(m)); }
  static Status Corruption(std::string m) { return Error(Code::kCorruption, std::move(m)); }
  static Status NotFound(std::string m) { return Error(Code::kNotFound, std::move(m)); }
  static Status Busy(std::string m) { return Error(Code::kBusy, std::move(m)); }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // "IoError: <message>", or "OK".
  std::string ToString() const;
  // The closest consensus::Status: kCompacted, kUnavailable and kBusy map to
  // their Raft counterparts; anything else becomes kUnavailable with this
  // status's text (the core has no I/O error code).
  consensus::Status ToConsensus() const;

 private:
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}
  Code code_ = Code::kOk;
  std::string message_;
};

const char* CodeName(Status::Code code);

// A value or the Status that explains its absence.
template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}         // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {}  // NOLINT: implicit by design
  bool ok() const { return std::holds_alternative<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T& value() & { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  Status status() const { return ok() ? Status::Ok() : std::get<Status>(v_); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace phalanx::storage
