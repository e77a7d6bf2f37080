// The node's half of SWIM membership (see gossip.h for the leader's rules):
//   - discovery: a node joining through seeds learns the cluster id first,
//     before its transport exists, because the transport refuses Raft
//     traffic of any other cluster id;
//   - the SWIM driver, started with this node's metadata;
//   - the membership loop: keeps the transport's peer table in step with
//     gossip, runs the autopilot on the leader, carries out PHALANX LEAVE;
//   - INFO "# Membership" and PHALANX MEMBERS.
#include "engine/node/gossip.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <future>
#include <random>

#include "engine/node/node.h"
#include "membership/udp_driver.h"

namespace phalanx::node {

using storage::ApplyResult;
using Kind = AutopilotAction::Kind;

AutopilotAction DecideAutopilot(const AutopilotInput& in) {
  if (in.conf_change_pending) return {};
  auto in_conf = [&](const std::string& n) { return in.voters.count(n) || in.learners.count(n); };

  // 1 and 2: removals first; a round that removes does nothing else.
  for (const membership::Member& m : in.members) {
    const std::string& name = m.meta.id;
    if (name == in.self || !in_conf(name)) continue;
    const bool voter = in.voters.count(name) > 0;
    if (m.state == membership::State::kLeft) {
      // It asked to go (PHALANX LEAVE): honour it unless it is the last voter.
      if (voter && in.voters.size() <= 1) continue;
      return {Kind::kRemove, name, "", "it left gracefully"};
    }
    if (m.state != membership::State::kDead || in.auto_remove_after.count() == 0) continue;
    auto it = in.dead_for.find(name);
    if (it == in.dead_for.end() || it->second < in.auto_remove_after) continue;
    if (voter && in.voters.size() <= in.min_voters) continue;  // never below bootstrap size
    return {Kind::kRemove, name, "",
            "dead for more than " + std::to_string(in.auto_remove_after.count()) + "s"};
  }
  // 3: newcomers join as learners.
  for (const membership::Member& m : in.members) {
    const std::string& name = m.meta.id;
    if (name == in.self || in_conf(name) || m.state != membership::State::kAlive) continue;
    if (m.meta.raft_address.empty()) continue;
    auto removed = in.removed.find(name);
    if (removed != in.removed.end() && m.incarnation <= removed->second) continue;
    return {Kind::kAddLearner, name, m.meta.raft_address, "discovered by gossip"};
  }
  // 4: caught-up, alive learners become voters while there is room.
  if (static_cast<int>(in.voters.size()) >= in.max_voters) return {};
  for (const membership::Member& m : in.members) {
    const std::string& name = m.meta.id;
    if (!in.learners.count(name) || m.state != membership::State::kAlive) continue;
    auto it = in.match.find(name);
    if (it == in.match.end() || it->second == 0) continue;
    if (it->second + in.catch_up_slack < in.last_index) continue;
    return {Kind::kPromote, name, "",
            "caught up (match " + std::to_string(it->second) + " of " +
                std::to_string(in.last_index) + ")"};
  }
  return {};
}

namespace {

membership::NodeMeta MetaFor(const NodeConfig& c, const std::string& cluster_id) {
  return {c.node.id, c.resp.listen.ToString(), c.raft.listen.ToString(), cluster_id};
}

membership::UdpDriverOptions DriverOptions(const NodeConfig& c, const std::string& cluster_id) {
  membership::UdpDriverOptions o;
  o.listen = c.membership.listen.ToString();
  for (const HostPort& s : c.membership.seeds)
    o.seeds.push_back(s.ToString());
  o.period = std::chrono::milliseconds(c.membership.period_ms);
  o.config.meta = MetaFor(c, cluster_id);
  o.config.seed = std::random_device{}();
  // Seconds since the epoch: a restarted process outbids its previous life
  // at once instead of first being refuted as dead (membership/config.h).
  o.config.initial_incarnation =
      static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::seconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count());
  o.config.join_retry_periods = 1;
  return o;
}

}  // namespace

bool Node::DiscoverClusterId(std::string* error) {
  // A temporary driver under the discovery id: seeds answer it with their
  // cluster id and nothing else. Bounded, so a wrong seed list fails the
  // start with a clear line instead of hanging.
  auto opt = DriverOptions(config_, membership::kDiscoveryClusterId);
  auto driver = membership::UdpDriver::Start(std::move(opt));
  if (!driver.ok()) {
    *error = "membership.listen " + config_.membership.listen.ToString() + ": " +
             driver.status().message();
    return false;
  }
  const auto patience = std::max(std::chrono::milliseconds(30000),
                                 std::chrono::milliseconds(config_.membership.period_ms) * 60);
  const auto deadline = Clock::now() + patience;
  spdlog::info("joining through seeds: waiting to learn the cluster id");
  std::string id;
  for (int i = 0; i < 100000 && Clock::now() < deadline; ++i) {
    id = driver.value()->DiscoveredClusterId();
    if (!id.empty()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  driver.value()->Stop();
  if (id.empty()) {
    *error = "membership.seeds: no seed answered within " +
             std::to_string(std::chrono::duration_cast<std::chrono::seconds>(patience).count()) +
             "s; cannot learn the cluster id";
    return false;
  }
  cluster_id_ = id;
  if (!SaveClusterFile(error) || !SavePeersFile(error)) return false;
  spdlog::info("learnt cluster id {} from the seeds; waiting to be added by the leader", id);
  return true;
}

bool Node::StartGossip(std::string* error) {
  auto opt = DriverOptions(config_, cluster_id_);
  opt.on_event = [this](const membership::Event& e) {
    spdlog::info("gossip: {} {} (incarnation {})", e.member.meta.id,
                 membership::EventKindName(e.kind), e.member.incarnation);
    std::lock_guard<std::mutex> lk(gossip_mu_);
    gossip_cv_.notify_all();
  };
  auto driver = membership::UdpDriver::Start(std::move(opt));
  if (!driver.ok()) {
    *error = "membership.listen " + config_.membership.listen.ToString() + ": " +
             driver.status().message();
    return false;
  }
  {
    std::lock_guard<std::mutex> lk(gossip_mu_);
    gossip_ = std::move(driver).value();
    gossip_stop_ = false;
  }
  membership_thread_ = std::thread([this] { MembershipLoop(); });
  return true;
}

void Node::StopGossip() {
  {
    std::lock_guard<std::mutex> lk(gossip_mu_);
    gossip_stop_ = true;
    gossip_cv_.notify_all();
  }
  if (membership_thread_.joinable()) membership_thread_.join();
  std::unique_ptr<membership::UdpDriver> driver;
  std::vector<AdminDone> leave_waiters;
  {
    std::lock_guard<std::mutex> lk(gossip_mu_);
    driver = std::move(gossip_);
    leave_waiters.swap(leave_waiters_);
  }
  if (driver) driver->Stop();
  for (auto& w : leave_waiters)
    w(ApplyResult::Error("ERR node is shutting down"));
}

std::vector<membership::Member> Node::GossipMembers() const {
  std::lock_guard<std::mutex> lk(gossip_mu_);
  return gossip_ ? gossip_->Members() : std::vector<membership::Member>{};
}

// Keeps peers_ and the transport in step with what gossip knows: a node that
// joined by snapshot never saw the conf changes that named the bootstrap
// voters, so their Raft addresses come from gossip.
void Node::LearnPeersFromGossip(const std::vector<membership::Member>& members) {
  std::vector<std::pair<NodeId, std::string>> add;
  {
    std::lock_guard<std::mutex> lk(mu_);
    bool changed = false;
    for (const membership::Member& m : members) {
      if (m.meta.id == config_.node.id || m.meta.raft_address.empty()) continue;
      if (m.state != membership::State::kAlive && m.state != membership::State::kSuspect) continue;
      NodeId id = RaftIdFor(m.meta.id);
      auto it = peers_.find(id);
      if (it != peers_.end() && it->second.raft_address == m.meta.raft_address) continue;
      peers_[id] = PeerInfo{m.meta.id, id, m.meta.raft_address};
      add.emplace_back(id, m.meta.raft_address);
      changed = true;
    }
    std::string error;
    if (changed && !SavePeersFile(&error)) spdlog::error("cannot save peers: {}", error);
  }
  for (const auto& [id, addr] : add)
    transport_->AddPeer(id, addr);
}

void Node::MembershipLoop() {
  const auto interval = std::chrono::milliseconds(std::clamp(config_.raft.tick_ms * 2, 20, 500));
  const size_t min_voters = bootstrap_voters_ > 0
                                ? bootstrap_voters_
                                : static_cast<size_t>(std::min(3, config_.raft.max_voters));
  std::unique_lock<std::mutex> glk(gossip_mu_);
  while (!gossip_stop_) {
    gossip_cv_.wait_for(glk, interval, [&] { return gossip_stop_; });
    if (gossip_stop_) break;
    glk.unlock();

    std::vector<membership::Member> members = GossipMembers();
    LearnPeersFromGossip(members);

    auto now = Clock::now();
    for (const auto& m : members) {
      if (m.state == membership::State::kDead) {
        dead_since_.emplace(m.meta.id, now);
      } else {
        dead_since_.erase(m.meta.id);
      }
    }
    StepLeave();

    AutopilotInput in;
    bool leader = false;
    {
      std::lock_guard<std::mutex> lk(mu_);
      if (raft_ && !stopping_ && raft_->raft().role() == consensus::Role::kLeader) {
        leader = true;
        const auto& r = raft_->raft();
        for (NodeId v : r.conf_state().voters)
          in.voters.insert(NameOfLocked(v));
        for (NodeId l : r.conf_state().learners) {
          in.learners.insert(NameOfLocked(l));
          auto p = r.progress().find(l);
          if (p != r.progress().end()) in.match[NameOfLocked(l)] = p->second.match;
        }
        in.last_index = r.log().LastIndex();
      }
    }
    if (leader && !conf_change_inflight_.load()) {
      in.self = config_.node.id;
      in.members = std::move(members);
      in.max_voters = config_.raft.max_voters;
      in.min_voters = min_voters;
      in.auto_remove_after =
          std::chrono::seconds(config_.membership.auto_remove_dead_after_seconds);
      for (const auto& [name, since] : dead_since_)
        in.dead_for[name] = now - since;
      {
        std::lock_guard<std::mutex> lk(gossip_mu_);
        in.removed = removed_;
      }
      AutopilotAction a = DecideAutopilot(in);
      if (a.kind != Kind::kNone) {
        conf_change_inflight_ = true;
        auto done = [this, a](ApplyResult r) {
          if (r.type == ApplyResult::Type::kError) {
            spdlog::warn("autopilot: {} {} failed: {}",
                         a.kind == Kind::kAddLearner ? "adding"
                         : a.kind == Kind::kPromote  ? "promoting"
                                                     : "removing",
                         a.name, r.bytes);
          }
          conf_change_inflight_ = false;
        };
        if (a.kind == Kind::kAddLearner) {
          spdlog::info("autopilot: adding {} ({}) as a learner: {}", a.name, a.raft_address,
                       a.reason);
          AddLearner(PeerInfo{a.name, RaftIdFor(a.name), a.raft_address}, done);
        } else if (a.kind == Kind::kPromote) {
          spdlog::info("autopilot: promoting {} to voter: {}", a.name, a.reason);
          PromoteToVoter(a.name, done);
        } else {
          spdlog::info("autopilot: removing {}: {}", a.name, a.reason);
          RemoveNode(a.name, done);
        }
      }
    }
    glk.lock();
  }
}

void Node::NoteAdminRemoval(const std::string& name) {
  // An explicit REMOVE of a member still alive must not be undone by the
  // autopilot at its next round: remember the incarnation it had.
  for (const auto& m : GossipMembers()) {
    if (m.meta.id != name) continue;
    std::lock_guard<std::mutex> lk(gossip_mu_);
    removed_[name] = m.incarnation;
  }
}

// PHALANX LEAVE, step by step on the membership thread:
//   1. a leader hands leadership to another voter first;
//   2. SWIM "left" is announced — the leader's autopilot removes a member
//      that left (a follower cannot propose a conf change itself);
//   3. the reply waits until this node has applied its own removal.
void Node::Leave(AdminDone done) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (!raft_ || stopping_) return done(ApplyResult::Error("ERR the node is shutting down"));
    const auto& cs = raft_->raft().conf_state();
    if (cs.IsVoter(id_) && cs.voters.size() <= 1) {
      return done(ApplyResult::Error("ERR the only voter cannot leave its cluster"));
    }
  }
  std::lock_guard<std::mutex> lk(gossip_mu_);
  if (!gossip_) return done(ApplyResult::Error("ERR membership is not running on this node"));
  leave_waiters_.push_back(std::move(done));
  if (!leave_deadline_) leave_deadline_ = Clock::now() + request_timeout_ * 3;
  gossip_cv_.notify_all();
}

ApplyResult Node::LeaveAndWait() {
  auto promise = std::make_shared<std::promise<ApplyResult>>();
  auto future = promise->get_future();
  Leave([promise](ApplyResult r) { promise->set_value(std::move(r)); });
  // Leave() answers within 3 request timeouts; the margin covers one more
  // round of the membership loop.
  if (future.wait_for(request_timeout_ * 3 + std::chrono::seconds(2)) !=
      std::future_status::ready) {
    return ApplyResult::Error("ERR leave did not finish in time");
  }
  return future.get();
}

void Node::StepLeave() {
  std::vector<AdminDone> waiters;
  std::optional<Clock::time_point> deadline;
  {
    std::lock_guard<std::mutex> lk(gossip_mu_);
    if (leave_waiters_.empty()) return;
    deadline = leave_deadline_;
  }
  bool leader = false, member = true;
  NodeId transferee = consensus::kNoNode;
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (!raft_) return;
    const auto& r = raft_->raft();
    member = r.conf_state().IsMember(id_);
    leader = r.role() == consensus::Role::kLeader;
    uint64_t best = 0;
    for (NodeId v : r.conf_state().voters) {
      if (v == id_) continue;
      auto p = r.progress().find(v);
      if (p != r.progress().end() && p->second.match >= best) {
        best = p->second.match;
        transferee = v;
      }
    }
  }
  ApplyResult result = ApplyResult::Ok();
  bool finished = false;
  if (!member) {
    finished = true;
    spdlog::info("leave: removed from the Raft configuration");
  } else if (Clock::now() > *deadline) {
    finished = true;
    result = ApplyResult::Error(
        "ERR left gossip, but the removal from Raft was not seen here in time; check INFO on "
        "the others");
  } else if (leader) {
    if (transferee != consensus::kNoNode) {
      std::string name;
      {
        std::lock_guard<std::mutex> lk(mu_);
        name = NameOfLocked(transferee);
      }
      spdlog::info("leave: handing leadership to {} first", name);
      TransferLeadership(name, [](ApplyResult) {});
    }
  } else if (!left_announced_) {
    left_announced_ = true;
    spdlog::info("leave: announcing the leave to the cluster");
    std::lock_guard<std::mutex> lk(gossip_mu_);
    if (gossip_) gossip_->Leave();
  }
  if (!finished) return;
  {
    std::lock_guard<std::mutex> lk(gossip_mu_);
    waiters.swap(leave_waiters_);
    leave_deadline_.reset();
    if (!left_announced_ && gossip_) gossip_->Leave();
    left_announced_ = true;
  }
  for (auto& w : waiters)
    w(result);
}

namespace {

const char* RaftRole(const RaftInfo& info, const std::string& name) {
  if (std::count(info.voters.begin(), info.voters.end(), name)) return "voter";
  if (std::count(info.learners.begin(), info.learners.end(), name)) return "learner";
  return "none";
}

}  // namespace

std::string Node::MembershipInfo() {
  std::vector<membership::Member> members = GossipMembers();
  RaftInfo info = GetRaftInfo();
  std::string out;
  size_t counts[4] = {0, 0, 0, 0};
  for (const auto& m : members)
    counts[static_cast<int>(m.state)]++;
  out += "members:" + std::to_string(members.size()) + "\r\n";
  out += "members_alive:" + std::to_string(counts[0]) + "\r\n";
  out += "members_suspect:" + std::to_string(counts[1]) + "\r\n";
  out += "members_dead:" + std::to_string(counts[2]) + "\r\n";
  out += "members_left:" + std::to_string(counts[3]) + "\r\n";
  int i = 0;
  for (const auto& m : members) {
    out += "member" + std::to_string(i++) + ":id=" + m.meta.id +
           ",state=" + membership::StateName(m.state) + ",gossip=" + m.address +
           ",resp=" + m.meta.resp_address + ",raft=" + m.meta.raft_address +
           ",raft_role=" + RaftRole(info, m.meta.id) +
           ",incarnation=" + std::to_string(m.incarnation) + "\r\n";
  }
  return out;
}

ApplyResult Node::MembersReply() {
  std::vector<membership::Member> members = GossipMembers();
  RaftInfo info = GetRaftInfo();
  std::string out;
  for (const auto& m : members) {
    out += m.meta.id + " " + membership::StateName(m.state) + " gossip=" + m.address +
           " resp=" + m.meta.resp_address + " raft=" + m.meta.raft_address +
           " role=" + RaftRole(info, m.meta.id) + (m.meta.id == info.leader_id ? ",leader" : "") +
           " incarnation=" + std::to_string(m.incarnation) + "\n";
  }
  return ApplyResult::Bulk(std::move(out));
}

}  // namespace phalanx::node
