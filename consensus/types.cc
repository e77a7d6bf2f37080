#include "consensus/types.h"

#include <algorithm>
#include <cstring>

namespace phalanx::consensus {

bool ConfState::IsVoter(NodeId id) const {
  return std::find(voters.begin(), voters.end(), id) != voters.end();
}
bool ConfState::IsLearner(NodeId id) const {
  return std::find(learners.begin(), learners.end(), id) != learners.end();
}

namespace {
constexpr uint8_t kConfChangeVersion = 1;
}

// Layout: version(1) type(1) node_id(8, little endian) context(rest).
std::string ConfChange::Encode() const {
  std::string out;
  out.reserve(10 + context.size());
  out.push_back(static_cast<char>(kConfChangeVersion));
  out.push_back(static_cast<char>(type));
  for (int i = 0; i < 8; ++i)
    out.push_back(static_cast<char>((node_id >> (8 * i)) & 0xff));
  out += context;
  return out;
}

Result<ConfChange> ConfChange::Decode(std::string_view data) {
  if (data.size() < 10 || static_cast<uint8_t>(data[0]) != kConfChangeVersion) {
    return Status::Error(Status::Code::kInvalidArgument, "malformed conf change");
  }
  auto type = static_cast<uint8_t>(data[1]);
  if (type > static_cast<uint8_t>(Type::kRemoveNode)) {
    return Status::Error(Status::Code::kInvalidArgument, "unknown conf change type");
  }
  ConfChange cc;
  cc.type = static_cast<Type>(type);
  for (int i = 0; i < 8; ++i) {
    cc.node_id |= static_cast<uint64_t>(static_cast<uint8_t>(data[2 + i])) << (8 * i);
  }
  cc.context = std::string(data.substr(10));
  return cc;
}

const char* MessageTypeName(MessageType t) {
  switch (t) {
    case MessageType::kApp:
      return "App";
    case MessageType::kAppResp:
      return "AppResp";
    case MessageType::kVote:
      return "Vote";
    case MessageType::kVoteResp:
      return "VoteResp";
    case MessageType::kPreVote:
      return "PreVote";
    case MessageType::kPreVoteResp:
      return "PreVoteResp";
    case MessageType::kHeartbeat:
      return "Heartbeat";
    case MessageType::kHeartbeatResp:
      return "HeartbeatResp";
    case MessageType::kSnap:
      return "Snap";
    case MessageType::kTimeoutNow:
      return "TimeoutNow";
    case MessageType::kReadIndex:
      return "ReadIndex";
    case MessageType::kReadIndexResp:
      return "ReadIndexResp";
  }
  return "?";
}

std::string DescribeEntry(const Entry& e) {
  std::string s = std::to_string(e.term) + "/" + std::to_string(e.index);
  if (e.type == EntryType::kConfChange) {
    s += " conf";
  } else if (e.data.empty()) {
    s += " noop";
  } else {
    s += ' ';
    s += std::to_string(e.data.size());
    s += 'B';
  }
  return s;
}

std::string DescribeMessage(const Message& m) {
  std::string s = std::to_string(m.from) + "->" + std::to_string(m.to) + " " +
                  MessageTypeName(m.type) + " term=" + std::to_string(m.term) +
                  " log=" + std::to_string(m.log_term) + "/" + std::to_string(m.index) +
                  " commit=" + std::to_string(m.commit);
  if (m.reject) s += " reject(hint=" + std::to_string(m.reject_hint) + ")";
  if (m.transfer) s += " transfer";
  if (m.read_round) s += " round=" + std::to_string(m.read_round);
  if (!m.entries.empty()) {
    s += " [";
    for (size_t i = 0; i < m.entries.size(); ++i) {
      if (i) s += ", ";
      s += DescribeEntry(m.entries[i]);
    }
    s += "]";
  }
  if (m.snapshot) {
    s += " snap=" + std::to_string(m.snapshot->metadata.term) + "/" +
         std::to_string(m.snapshot->metadata.index);
  }
  return s;
}

std::string Status::ToString() const {
  static constexpr const char* kNames[] = {"OK",
                                           "NotLeader",
                                           "ProposalDropped",
                                           "ConfChangePending",
                                           "InvalidArgument",
                                           "Compacted",
                                           "Unavailable",
                                           "SnapshotTemporarilyUnavailable"};
  std::string s = kNames[static_cast<int>(code_)];
  if (!message_.empty()) s += ": " + message_;
  return s;
}

}  // namespace phalanx::consensus
