// FaultFilter: a test-only switch that makes the transport drop traffic to
// and/or from chosen peers, so the chaos tests (tests/chaos/) can cut the
// network between real nodes on one machine without root or namespaces.
//
// The Transport owns one and consults it for everything it moves: Raft
// message batches, snapshot streams and forwarded Propose/ReadIndex calls,
// in both directions. "Out" drops what this node sends to the peer; "in"
// drops what it receives from the peer. A symmetric partition is both; an
// asymmetric one is either alone. An empty filter costs one atomic load.
//
// The node enables the admin command that drives it only when the config
// has raft.fault_injection = true; the filter itself has no switch.
#pragma once

#include <atomic>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "consensus/types.h"

namespace phalanx::transport {

using consensus::NodeId;

class FaultFilter {
 public:
  enum class Direction { kIn, kOut, kBoth };

  // Adds `peers` to the dropped set(s) of `dir` (cumulative until Heal()).
  void Isolate(const std::vector<NodeId>& peers, Direction dir) {
    std::lock_guard<std::mutex> lk(mu_);
    for (NodeId p : peers) {
      if (dir != Direction::kOut) in_.insert(p);
      if (dir != Direction::kIn) out_.insert(p);
    }
    active_.store(!in_.empty() || !out_.empty(), std::memory_order_release);
  }

  // Drops nothing from now on.
  void Heal() {
    std::lock_guard<std::mutex> lk(mu_);
    in_.clear();
    out_.clear();
    active_.store(false, std::memory_order_release);
  }

  // True when traffic this node sends to `to` must be dropped.
  bool DropOutbound(NodeId to) const { return Has(out_, to); }
  // True when traffic this node receives from `from` must be dropped.
  bool DropInbound(NodeId from) const { return Has(in_, from); }

  // "in=[2,3] out=[2]" for logs and the admin reply.
  std::string Describe() const {
    std::lock_guard<std::mutex> lk(mu_);
    auto list = [](const std::set<NodeId>& s) {
      std::string r = "[";
      for (NodeId id : s) {
        if (r.size() > 1) r += ",";
        r += std::to_string(id);
      }
      return r + "]";
    };
    return "in=" + list(in_) + " out=" + list(out_);
  }

 private:
  bool Has(const std::set<NodeId>& s, NodeId id) const {
    if (!active_.load(std::memory_order_acquire)) return false;
    std::lock_guard<std::mutex> lk(mu_);
    return s.count(id) > 0;
  }

  mutable std::mutex mu_;
  std::set<NodeId> in_;
  std::set<NodeId> out_;
  std::atomic<bool> active_{false};
};

}  // namespace phalanx::transport
