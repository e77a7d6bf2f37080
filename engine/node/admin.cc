// The PHALANX admin commands (README "Admin commands"): the node's half of
// resp::Store::Admin. Each subcommand maps onto a Node operation; the reply
// is an ApplyResult the front end encodes like a write's.
//
//   PHALANX SNAPSHOT             take a snapshot now and compact the log
//   PHALANX TRANSFER <node-id>   hand leadership to <node-id> (leader only)
//   PHALANX REMOVE <node-id>     remove <node-id> from the Raft configuration
//   PHALANX MEMBERS              every member gossip knows: state, addresses, role
//   PHALANX LEAVE                leave the cluster gracefully (Raft first, then gossip)
//   PHALANX HELP                 this list
#include <spdlog/spdlog.h>

#include <algorithm>

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
    "HELP\n"
    "    Print this help.\n";

}  // namespace

void Node::Admin(std::vector<std::string> args, std::function<void(ApplyResult)> done) {
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
    return TransferLeadership(args[1], std::move(done));
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
  done(ApplyResult::Error("ERR unknown subcommand '" + args[0] + "'. Try PHALANX HELP."));
}

}  // namespace phalanx::node
