#include "consensus/quorum.h"

#include <algorithm>

namespace phalanx::consensus {

const char* VoteResultName(VoteResult r) {
  switch (r) {
    case VoteResult::kPending:
      return "pending";
    case VoteResult::kWon:
      return "won";
    case VoteResult::kLost:
      return "lost";
  }
  return "?";
}

MajorityConfig::MajorityConfig(std::vector<NodeId> voters) : voters_(std::move(voters)) {
  std::sort(voters_.begin(), voters_.end());
  voters_.erase(std::unique(voters_.begin(), voters_.end()), voters_.end());
}

bool MajorityConfig::Contains(NodeId id) const {
  return std::binary_search(voters_.begin(), voters_.end(), id);
}

uint64_t MajorityConfig::CommittedIndex(const std::map<NodeId, uint64_t>& acked) const {
  return CommittedIndex([&](NodeId id) -> std::optional<uint64_t> {
    auto it = acked.find(id);
    if (it == acked.end()) return std::nullopt;
    return it->second;
  });
}

VoteResult MajorityConfig::Vote(const std::map<NodeId, bool>& votes) const {
  return Vote([&](NodeId id) -> std::optional<bool> {
    auto it = votes.find(id);
    if (it == votes.end()) return std::nullopt;
    return it->second;
  });
}

bool MajorityConfig::QuorumActive(const std::set<NodeId>& active) const {
  return QuorumActive([&](NodeId id) { return active.count(id) > 0; });
}

std::string MajorityConfig::ToString() const {
  std::string s = "(";
  for (size_t i = 0; i < voters_.size(); ++i) {
    if (i > 0) s += ' ';
    s += std::to_string(voters_[i]);
  }
  s += ')';
  return s;
}

}  // namespace phalanx::consensus
