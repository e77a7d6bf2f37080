#include "engine/transport/status.h"

namespace phalanx::transport {

const char* CodeName(Status::Code code) {
  switch (code) {
    case Status::Code::kOk:
      return "OK";
    case Status::Code::kInvalidArgument:
      return "InvalidArgument";
    case Status::Code::kUnavailable:
      return "Unavailable";
    case Status::Code::kRefused:
      return "Refused";
    case Status::Code::kNotLeader:
      return "NotLeader";
    case Status::Code::kProposalDropped:
      return "ProposalDropped";
    case Status::Code::kOutcomeUnknown:
      return "OutcomeUnknown";
    case Status::Code::kDeadlineExceeded:
      return "DeadlineExceeded";
    case Status::Code::kCancelled:
      return "Cancelled";
    case Status::Code::kAborted:
      return "Aborted";
    case Status::Code::kCorruption:
      return "Corruption";
    case Status::Code::kBusy:
      return "Busy";
    case Status::Code::kInternal:
      return "Internal";
  }
  return "Unknown";
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  std::string s = CodeName(code_);
  if (!message_.empty()) s += ": " + message_;
  if (code_ == Code::kNotLeader && leader_hint() != kNoNode) {
    s += " (leader hint " + std::to_string(leader_hint()) + ")";
  }
  return s;
}

}  // namespace phalanx::transport
