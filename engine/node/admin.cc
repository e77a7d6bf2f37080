// The PHALANX admin commands (README "Admin commands"): the node's half of
// resp::Store::Admin. Each subcommand maps onto a Node operation; the reply
// is an ApplyResult the front end encodes like a write's.
//
//   PHALANX SNAPSHOT             take a snapshot now and compact the log
//   PHALANX TRANSFER <node-id>   hand leadership to <node-id> (leader only)
//   PHALANX REMOVE <node-id>     remove <node-id> from the Raft configuration
//   PHALANX MEMBERS              every member gossip knows: state, addresses, role
//   PHALANX LEAVE                leave the cluster gracefully (Raft first, then gossip)
//   PHALANX FAULT ISOLATE <node-id>... [IN|OUT|BOTH]
//                                test only (raft.fault_injection): drop
//                                traffic to/from those peers
//   PHALANX FAULT HEAL           test only: drop nothing any more
//   PHALANX FAULT STATUS         test only: what is being dropped
//   PHALANX HELP                 this list
#include <spdlog/spdlog.h>

#include <algorithm>

#include "engine/node/command_translation.h"
#include "engine/node/node.h"

namespace phalanx::node {

using storage::ApplyResult;

namespace {

std::string Upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return s;
}

ApplyResult WrongArity(const std::string& sub) {
  return ApplyResult::Error("ERR wrong number of arguments for 'phalanx|" + sub + "' command");
}

constexpr std::string_view kHelp =
    "PHALANX <subcommand> [<arg> ...]. Subcommands are:\n"
    "SNAPSHOT\n"
    "    Take a snapshot of the applied state now and compact the Raft log.\n"
    "TRANSFER <node-id>\n"
    "    Hand leadership to <node-id> (on the leader).\n"
    "REMOVE <node-id>\n"
    "    Remove <node-id> from the Raft configuration.\n"
    "MEMBERS\n"
    "    List every member gossip knows, with its state, addresses and Raft role.\n"
    "LEAVE\n"
    "    Leave the cluster: hand over leadership, announce the leave, and answer once\n"
    "    removed from the Raft configuration.\n"
    "FAULT ISOLATE <node-id> [<node-id> ...] [IN|OUT|BOTH]\n"
    "    Test only (raft.fault_injection = true): drop traffic from (IN), to (OUT)\n"
    "    or both ways (default) between this node and the named peers.\n"
    "FAULT HEAL\n"
    "    Test only: stop dropping traffic.\n"
    "FAULT STATUS\n"
    "    Test only: show which peers' traffic is dropped.\n"
    "HELP\n"
    "    Print this help.\n";

}  // namespace

void Node::Admin(std::vector<std::string> args, std::function<void(resp::StoreResult)> done) {
  RunAdmin(std::move(args),
           [done = std::move(done)](ApplyResult r) { done(ToStoreResult(std::move(r))); });
}

void Node::RunAdmin(std::vector<std::string> args, AdminDone done) {
  if (args.empty()) {
    done(ApplyResult::Error("ERR wrong number of arguments for 'phalanx' command"));
    return;
  }
  const std::string sub = Upper(args[0]);
  const std::string lower = [&] {
    std::string l = sub;
    std::transform(l.begin(), l.end(), l.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return l;
  }();
  if (sub == "HELP") {
    if (args.size() != 1) return done(WrongArity(lower));
    return done(ApplyResult::Bulk(std::string(kHelp)));
  }
  if (sub == "SNAPSHOT") {
    if (args.size() != 1) return done(WrongArity(lower));
    {
      std::lock_guard<std::mutex> lk(snapshot_mu_);
      snapshot_waiters_.push_back(std::move(done));
      snapshot_requested_ = true;
    }
    snapshot_cv_.notify_one();
    return;
  }
  auto is_member = [this](const std::string& name) {
    RaftInfo info = GetRaftInfo();
    return std::count(info.voters.begin(), info.voters.end(), name) > 0 ||
           std::count(info.learners.begin(), info.learners.end(), name) > 0;
  };
  if (sub == "TRANSFER") {
    if (args.size() != 2) return done(WrongArity(lower));
    if (!is_member(args[1])) return done(ApplyResult::Error("ERR no such node '" + args[1] + "'"));
    spdlog::info("admin: transfer leadership to {}", args[1]);
    return TransferLeadership(args[1], done);
  }
  if (sub == "REMOVE") {
    if (args.size() != 2) return done(WrongArity(lower));
    if (!is_member(args[1])) return done(ApplyResult::Error("ERR no such node '" + args[1] + "'"));
    spdlog::info("admin: remove {} from the Raft configuration", args[1]);
    NoteAdminRemoval(args[1]);
    return RemoveNode(args[1], std::move(done));
  }
  if (sub == "MEMBERS") {
    if (args.size() != 1) return done(WrongArity(lower));
    return done(MembersReply());
  }
  if (sub == "LEAVE") {
    if (args.size() != 1) return done(WrongArity(lower));
    spdlog::info("admin: leave the cluster");
    return Leave(std::move(done));
  }
  if (sub == "FAULT") return Fault(args, done);
  done(ApplyResult::Error("ERR unknown subcommand '" + args[0] + "'. Try PHALANX HELP."));
}

// Test-only partitions for tests/chaos: refused unless the config enables
// them, so a production node can never be told to cut itself off.
void Node::Fault(const std::vector<std::string>& args, const AdminDone& done) {
  if (!config_.raft.fault_injection) {
    return done(ApplyResult::Error(
        "ERR fault injection is disabled (test only: set raft.fault_injection = true)"));
  }
  if (args.size() < 2) return done(WrongArity("fault"));
  if (!transport_) return done(ApplyResult::Error("ERR not part of a cluster yet"));
  transport::FaultFilter& faults = transport_->faults();
  const std::string action = Upper(args[1]);
  if (action == "HEAL" || action == "STATUS") {
    if (args.size() != 2) return done(WrongArity("fault"));
    if (action == "HEAL") {
      faults.Heal();
      spdlog::warn("admin: fault injection healed");
    }
    return done(ApplyResult::Bulk(faults.Describe()));
  }
  if (action != "ISOLATE") {
    return done(ApplyResult::Error("ERR unknown FAULT action '" + args[1] +
                                   "'. Try ISOLATE, HEAL or STATUS."));
  }
  std::vector<std::string> names(args.begin() + 2, args.end());
  auto dir = transport::FaultFilter::Direction::kBoth;
  if (!names.empty()) {
    const std::string last = Upper(names.back());
    if (last == "IN" || last == "OUT" || last == "BOTH") {
      dir = last == "IN"    ? transport::FaultFilter::Direction::kIn
            : last == "OUT" ? transport::FaultFilter::Direction::kOut
                            : transport::FaultFilter::Direction::kBoth;
      names.pop_back();
    }
  }
  if (names.empty()) return done(WrongArity("fault"));
  std::vector<NodeId> ids;
  for (const auto& n : names) {
    if (n == config_.node.id)
      return done(ApplyResult::Error("ERR cannot isolate this node itself"));
    ids.push_back(RaftIdFor(n));
  }
  faults.Isolate(ids, dir);
  spdlog::warn("admin: fault injection now drops {}", faults.Describe());
  done(ApplyResult::Bulk(faults.Describe()));
}

}  // namespace phalanx::node
