// Errors as values for the consensus core. No exceptions cross this module's edge.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <variant>

namespace phalanx::consensus {

// NodeId 0 means "no node" (no leader known, no vote cast).
using NodeId = uint64_t;
inline constexpr NodeId kNoNode = 0;

class Status {
 public:
  enum class Code : uint8_t {
    kOk = 0,
    kNotLeader,          // the call needs the leader; leader_hint() names it when known
    kProposalDropped,    // leader is transferring leadership, the uncommitted log is full,
                         // or a campaign would break a lease
    kConfChangePending,  // a membership change is appended but not yet applied
    kInvalidArgument,    // the request makes no sense for the current configuration
    kCompacted,          // storage: the index lies before the first available entry
    kUnavailable,        // storage: the index lies after the last available entry
    kSnapshotTemporarilyUnavailable,  // storage: a snapshot is being made; retry later
  };

  Status() = default;
  static Status Ok() { return Status(); }
  static Status NotLeader(NodeId leader_hint) {
    Status s(Code::kNotLeader, "not the leader");
    s.leader_hint_ = leader_hint;
    return s;
  }
  static Status Error(Code code, std::string message) { return Status(code, std::move(message)); }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // For kNotLeader: the leader this node believes in, or kNoNode.
  NodeId leader_hint() const { return leader_hint_; }
  std::string ToString() const;

 private:
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}
  Code code_ = Code::kOk;
  std::string message_;
  NodeId leader_hint_ = kNoNode;
};

// A value or the Status that explains its absence.
template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}          // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {}   // NOLINT: implicit by design
  bool ok() const { return std::holds_alternative<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T& value() & { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  Status status() const { return ok() ? Status::Ok() : std::get<Status>(v_); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace phalanx::consensus
