// Gossip wiring: how SWIM's view of the cluster (membership/) turns into Raft
// configuration changes, decided by the Raft leader alone.
//
// Gossip only discovers and reports; Raft decides (DESIGN.md). The leader
// runs DecideAutopilot() a few times a second and carries out at most one
// change at a time — the next one only after the previous was applied:
//
//   1. a member that left gracefully (SWIM "left") is removed;
//   2. with membership.auto_remove_dead_after set, a member dead that long is
//      removed — one at a time and never below the voter count the cluster
//      was bootstrapped with (hashicorp/consul#5922 shrank a cluster below
//      its quorum by removing dead servers freely);
//   3. an alive member not in the configuration is added as a learner;
//   4. a learner whose log has caught up is promoted while voters < max_voters.
//
// The rest of the wiring (discovery of the cluster id, the SWIM driver inside
// the node, INFO and the admin commands) is Node code in gossip.cc.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "membership/types.h"

namespace phalanx::node {

struct AutopilotInput {
  std::string self;                         // this node's name (never acted on)
  std::vector<membership::Member> members;  // SWIM's view, this node included
  std::set<std::string> voters;             // by name
  std::set<std::string> learners;           // by name
  std::map<std::string, uint64_t> match;    // the leader's match index per learner
  uint64_t last_index = 0;                  // the leader's last log index
  bool conf_change_pending = false;         // a change is proposed but not applied
  int max_voters = 5;
  size_t min_voters = 1;                      // never remove a voter below this
  std::chrono::seconds auto_remove_after{0};  // 0: dead voters stay
  // How long each member has been seen dead (by this leader).
  std::map<std::string, std::chrono::steady_clock::duration> dead_for;
  // Members removed by an explicit REMOVE while alive, with the incarnation
  // they had then: not re-added until they come back with a higher one.
  std::map<std::string, uint64_t> removed;
  // A learner within this many entries of the leader's last index has caught up.
  uint64_t catch_up_slack = 16;
};

struct AutopilotAction {
  enum class Kind { kNone, kAddLearner, kPromote, kRemove };
  Kind kind = Kind::kNone;
  std::string name;
  std::string raft_address;  // kAddLearner
  std::string reason;        // for the log
};

// The one change to make now, or kNone. Pure: a function of its input.
AutopilotAction DecideAutopilot(const AutopilotInput& in);

}  // namespace phalanx::node
