// Errors as values for the gRPC transport. No exceptions cross this module's edge.
//
// A Status is either OK or a Code with a human-readable message (and, for
// kNotLeader, the leader the answering node believes in). Forwarded requests
// (Propose, ReadIndex) carry these codes over the wire unchanged, so a caller
// sees the leader's verdict, not a translation of it.
#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include "consensus/status.h"
#include "util/status.h"

namespace phalanx::transport {

using consensus::kNoNode;
using consensus::NodeId;

enum class StatusCode : uint8_t {
  kOk = 0,
  kInvalidArgument,   // the call makes no sense (unknown peer id, malformed data, bad address)
  kUnavailable,       // the peer cannot be reached now, or the transport is not running
  kRefused,           // the peer refused us: other cluster, unknown sender, wrong node
  kNotLeader,         // the answering node is not the leader; leader_hint() names one if known
  kProposalDropped,   // the leader did not append the proposal; safe to retry
  kOutcomeUnknown,    // the proposal may or may not have been applied
  kDeadlineExceeded,  // the deadline passed; for a proposal the outcome is unknown
  kCancelled,         // the transport shut down or the call was cancelled
  kAborted,           // the receiver gave up (its snapshot handler returned an error)
  kCorruption,        // received data failed its integrity check
  kBusy,              // a snapshot to this peer is already in flight
  kInternal,          // a bug or an unexpected gRPC failure
};

// NotLeader(hint[, message]) and leader_hint() come from consensus's
// LeaderHintStatus; the codes are the transport's own.
class Status : public consensus::LeaderHintStatus<Status, StatusCode> {
 public:
  Status() = default;
  // "OK", or "<CodeName>: <message>[ (leader hint N)]".
  std::string ToString() const;
};

// "OK", "InvalidArgument", ... for logs and tests.
const char* CodeName(Status::Code code);

}  // namespace phalanx::transport
