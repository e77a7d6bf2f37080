#include "engine/storage/status.h"

namespace phalanx::storage {

const char* CodeName(Status::Code code) {
  switch (code) {
    case Status::Code::kOk:
      return "OK";
    case Status::Code::kNotFound:
      return "NotFound";
    case Status::Code::kInvalidArgument:
      return "InvalidArgument";
    case Status::Code::kIoError:
      return "IoError";
    case Status::Code::kCorruption:
      return "Corruption";
    case Status::Code::kFailed:
      return "Failed";
    case Status::Code::kBusy:
      return "Busy";
    case Status::Code::kCompacted:
      return "Compacted";
    case Status::Code::kUnavailable:
      return "Unavailable";
  }
  return "Unknown";
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  return std::string(CodeName(code_)) + ": " + message_;
}

consensus::Status Status::ToConsensus() const {
  using C = consensus::Status::Code;
  switch (code_) {
    case Code::kOk:
      return consensus::Status::Ok();
    case Code::kCompacted:
      return consensus::Status::Error(C::kCompacted, message_);
    case Code::kUnavailable:
      return consensus::Status::Error(C::kUnavailable, message_);
    case Code::kBusy:
      return consensus::Status::Error(C::kSnapshotTemporarilyUnavailable, message_);
    default:
      return consensus::Status::Error(C::kUnavailable, ToString());
  }
}

}  // namespace phalanx::storage
