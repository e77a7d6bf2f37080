#include "engine/node/node.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>

#include "engine/node/apply_result_codec.h"
#include "engine/node/command_translation.h"
#include "membership/udp_driver.h"
#include "util/fnv1a.h"
#include "util/write_file_durably.h"

namespace phalanx::node {

namespace fs = std::filesystem;
using consensus::ConfChange;
using consensus::Entry;
using consensus::EntryType;
using consensus::Message;
using consensus::MessageType;
using consensus::Role;
using storage::ApplyResult;

NodeId RaftIdFor(const std::string& name) {
  uint64_t h = util::Fnv1a64(name);
  return h == 0 ? 1 : h;
}

namespace {

const char* kNoLeader = "CLUSTERDOWN No raft leader";
// Forwarded batches in flight to the leader, in units of raft.max_entry_bytes.
constexpr uint64_t kForwardBudgetEntries = 4;

std::string Hex(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

// WriteFileDurably with the node's error convention: false and *error set.
bool WriteFileDurably(const std::string& path, const std::string& text, std::string* error) {
  util::FileStatus st = util::WriteFileDurably(path, text);
  if (!st.ok()) *error = st.message();
  return st.ok();
}

std::optional<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string ConfChangeContext(const PeerInfo& p) {
  return p.name + "\n" + p.raft_address;
}

PeerInfo PeerFromContext(NodeId id, const std::string& context) {
  PeerInfo p;
  p.id = id;
  auto nl = context.find('\n');
  p.name = context.substr(0, nl);
  if (nl != std::string::npos) p.raft_address = context.substr(nl + 1);
  return p;
}

// Streams a WiredTiger snapshot to the transport.
class ReaderSource final : public transport::SnapshotSource {
 public:
  explicit ReaderSource(std::unique_ptr<storage::SnapshotReader> reader)
      : reader_(std::move(reader)) {}
  transport::Status Next(std::string* chunk) override {
    auto more = reader_->Next(chunk);
    if (!more.ok()) {
      return transport::Status::Error(transport::Status::Code::kInternal, more.status().ToString());
    }
    if (!more.value()) chunk->clear();
    return transport::Status::Ok();
  }

 private:
  std::unique_ptr<storage::SnapshotReader> reader_;
};

}  // namespace

// Receives a snapshot into a staging table; on Finish hands it to Raft.
class Node::InstallSink final : public transport::SnapshotSink {
 public:
  InstallSink(Node* node, Message msg, std::unique_ptr<storage::SnapshotWriter> writer)
      : node_(node), msg_(std::move(msg)), writer_(std::move(writer)) {}

  transport::Status Write(std::string_view chunk) override {
    storage::Status s = writer_->Write(chunk);
    if (!s.ok()) return transport::Status::Error(transport::Status::Code::kAborted, s.ToString());
    return transport::Status::Ok();
  }

  transport::Status Finish() override {
    std::lock_guard<std::mutex> lk(node_->mu_);
    if (node_->stopping_) {
      return transport::Status::Error(transport::Status::Code::kAborted, "node stopping");
    }
    uint64_t index = writer_->metadata().index;
    node_->staged_snapshot_ = std::move(writer_);
    node_->raft_->Step(msg_);
    // Raft takes the snapshot only if it is news; otherwise drop the staging.
    const auto& unstable = node_->raft_->raft().log().UnstableSnapshot();
    if (!unstable || unstable->metadata.index != index) {
      node_->staged_snapshot_.reset();
    } else {
      spdlog::info("snapshot at index {} received from {}; installing", index,
                   node_->NameOfLocked(msg_.from));
    }
    node_->WakeLocked();
    return transport::Status::Ok();
  }

 private:
  Node* node_;
  Message msg_;
  std::unique_ptr<storage::SnapshotWriter> writer_;
};

// The results of one proposed batch, filled slot by slot (possibly from two
// threads: the ready loop applies while the ticker expires).
struct Node::BatchState {
  std::mutex mu;
  std::vector<ApplyResult> results;
  size_t remaining = 0;
  BatchDone done;

  void Complete(size_t slot, ApplyResult r) {
    BatchDone finish;
    {
      std::lock_guard<std::mutex> lk(mu);
      results[slot] = std::move(r);
      if (--remaining == 0) finish = std::move(done);
    }
    if (finish) finish(std::move(results));
  }
};

Node::Node(const NodeConfig& config)
    : config_(config),
      id_(RaftIdFor(config.node.id)),
      request_timeout_(config.raft.request_timeout_ms) {}

Node::~Node() {
  Stop();
}

std::unique_ptr<Node> Node::Open(const NodeConfig& config, std::string* error) {
  std::unique_ptr<Node> node(new Node(config));  // NOLINT: private constructor
  std::error_code ec;
  fs::create_directories(config.node.data_dir, ec);
  if (ec) {
    *error = config.node.data_dir + ": cannot create data directory: " + ec.message();
    return nullptr;
  }
  if (!node->OpenStorage(error) || !node->LoadOrCreateIdentity(error)) return nullptr;

  consensus::Config rc;
  rc.id = node->id_;
  rc.storage = &node->store_->log();
  rc.election_tick = config.raft.election_ticks;
  rc.heartbeat_tick = config.raft.heartbeat_ticks;
  rc.seed = std::random_device{}();
  rc.applied = node->store_->kv().applied_index();
  rc.check_quorum = config.raft.check_quorum;
  rc.pre_vote = config.raft.pre_vote;
  rc.read_mode = config.raft.read_mode == "lease" ? consensus::ReadMode::kLeaseBased
                                                  : consensus::ReadMode::kSafe;
  // Bytes, bounded end to end from raft.max_entry_bytes: one append carries at
  // most 1 MiB of entries or one entry; a follower has at most two entries'
  // worth in flight; the leader holds at most four entries' worth uncommitted
  // (a proposal is always accepted when nothing is uncommitted).
  rc.max_size_per_msg = 1 << 20;
  rc.max_inflight_bytes = 2 * config.raft.max_entry_bytes;
  rc.max_uncommitted_entries_size = 4 * config.raft.max_entry_bytes;
  auto raft = consensus::RawNode::Create(rc);
  if (!raft.ok()) {
    *error = "raft: " + raft.status().ToString();
    return nullptr;
  }
  node->raft_ = std::move(raft).value();

  // A joining node learns its cluster id in Start() (gossip); the transport,
  // which refuses every other cluster id, is made once it is known.
  if (!node->cluster_id_.empty()) node->MakeTransport();
  return node;
}

void Node::MakeTransport() {
  transport::TransportOptions to;
  to.cluster_id = cluster_id_;
  to.node_id = id_;
  // A gRPC message carries at most one entry (or 1 MiB of them) plus
  // framing, or a forwarded reply, which may hold a value of up to
  // resp.proto_max_bulk_len (a string grown by APPEND past the entry limit).
  constexpr uint64_t kFraming = 1 << 20;
  const uint64_t entry = config_.raft.max_entry_bytes + kFraming;
  to.max_message_bytes = std::max(entry, config_.resp.proto_max_bulk_len + kFraming);
  // The transport requires a queue to hold at least one largest message. What
  // a follower's queue really holds is bounded tighter by the Raft core
  // (max_inflight_bytes of appends, 2x the entry limit) and by the empty-queue
  // rule; snapshots and forwarded requests do not use these queues. A
  // forwarded batch is at most max_entry_bytes (see ProposeCommands), so the
  // transport's own size refusal cannot be reached from here.
  to.max_queue_bytes = std::max<uint64_t>({to.max_queue_bytes, 4 * entry, to.max_message_bytes});
  to.max_batch_bytes = std::min<uint64_t>(to.max_batch_bytes, entry);
  transport_ = std::make_unique<transport::Transport>(to, this);
}

bool Node::OpenStorage(std::string* error) {
  storage::Options opt;
  opt.dir = (fs::path(config_.node.data_dir) / "db").string();
  opt.snapshot_entries = config_.raft.snapshot_entries;
  opt.snapshot_bytes = config_.raft.snapshot_bytes;
  opt.message_sink = [](std::string_view line) { spdlog::warn("storage: {}", line); };
  auto store = storage::Store::Open(opt);
  if (!store.ok()) {
    *error =
        store.status().message().empty() ? store.status().ToString() : store.status().message();
    return false;
  }
  store_ = std::move(store).value();
  return true;
}

// The cluster identity lives beside the database in two small files:
//   cluster — "cluster_id=<id>\nname=<this node>\n"
//   peers   — one "name id raft_address" line per known member
bool Node::LoadOrCreateIdentity(std::string* error) {
  const std::string cluster_path = (fs::path(config_.node.data_dir) / "cluster").string();
  const std::string peers_path = (fs::path(config_.node.data_dir) / "peers").string();

  if (!store_->IsFresh()) {
    auto text = ReadFile(cluster_path);
    if (!text) {
      *error = cluster_path + ": missing, but the data directory holds Raft state";
      return false;
    }
    std::istringstream in(*text);
    std::string line;
    std::string stored_name;
    while (std::getline(in, line)) {
      if (line.rfind("cluster_id=", 0) == 0) cluster_id_ = line.substr(11);
      if (line.rfind("name=", 0) == 0) stored_name = line.substr(5);
    }
    if (cluster_id_.empty()) {
      *error = cluster_path + ": corrupt (no cluster_id)";
      return false;
    }
    {
      std::istringstream again(*text);
      while (std::getline(again, line)) {
        if (line.rfind("bootstrap_voters=", 0) == 0) {
          bootstrap_voters_ = std::strtoull(line.c_str() + 17, nullptr, 10);
        }
      }
    }
    if (stored_name != config_.node.id) {
      *error = config_.node.data_dir + " belongs to node '" + stored_name + "', not to node.id '" +
               config_.node.id + "'";
      return false;
    }
    auto peers = ReadFile(peers_path);
    if (!peers) {
      *error = peers_path + ": missing, but the data directory holds Raft state";
      return false;
    }
    std::istringstream pin(*peers);
    while (std::getline(pin, line)) {
      std::istringstream fields(line);
      PeerInfo p;
      if (!(fields >> p.name >> p.id >> p.raft_address)) continue;
      peers_[p.id] = p;
    }
    if (config_.raft.initial_cluster.size() > 0) {
      spdlog::info("data directory holds Raft state; raft.initial_cluster is ignored");
    }
    return true;
  }

  if (config_.raft.initial_cluster.empty() && !config_.membership.seeds.empty()) {
    // Joining through seeds: no bootstrap (that would make a one-node cluster
    // of its own). The leader adds this node and brings it up by snapshot.
    // A restart before that keeps the cluster id learnt the first time.
    joining_ = true;
    if (auto text = ReadFile(cluster_path)) {
      std::istringstream in(*text);
      std::string line;
      while (std::getline(in, line)) {
        if (line.rfind("cluster_id=", 0) == 0) cluster_id_ = line.substr(11);
      }
    }
    return true;
  }

  // First boot: the voters are raft.initial_cluster, or this node alone.
  std::vector<PeerSpec> initial = config_.raft.initial_cluster;
  if (initial.empty()) initial.push_back({config_.node.id, config_.raft.listen});
  consensus::ConfState cs;
  std::vector<std::string> described;
  for (const PeerSpec& spec : initial) {
    PeerInfo p{spec.id, RaftIdFor(spec.id), spec.raft_address.ToString()};
    if (peers_.count(p.id)) {
      *error = "raft.initial_cluster: node ids '" + peers_[p.id].name + "' and '" + p.name +
               "' collide; rename one";
      return false;
    }
    peers_[p.id] = p;
    cs.voters.push_back(p.id);
    described.push_back(p.name + "=" + p.raft_address);
  }
  std::sort(cs.voters.begin(), cs.voters.end());
  std::sort(described.begin(), described.end());
  if (config_.raft.initial_cluster.empty()) {
    // A single-node cluster: nobody else needs to agree on its id.
    cluster_id_ = "c-" + Hex(std::random_device{}() ^ (uint64_t{std::random_device{}()} << 32));
  } else {
    // Every member derives the same id from the same initial_cluster.
    std::string joined;
    for (const auto& d : described)
      joined += d + ",";
    cluster_id_ = "c-" + Hex(RaftIdFor(joined));
  }
  bootstrap_voters_ = cs.voters.size();
  if (!SaveClusterFile(error) || !SavePeersFile(error)) {
    return false;
  }
  storage::Status s = store_->Bootstrap(cs);
  if (!s.ok()) {
    *error = "bootstrap: " + s.ToString();
    return false;
  }
  spdlog::info("bootstrapped cluster {} with voters {}", cluster_id_, [&] {
    std::string v;
    for (const auto& d : described)
      v += (v.empty() ? "" : ",") + d;
    return v;
  }());
  return true;
}

bool Node::SavePeersFile(std::string* error) const {
  std::string text;
  for (const auto& [id, p] : peers_) {
    text += p.name + " " + std::to_string(id) + " " + p.raft_address + "\n";
  }
  return WriteFileDurably((fs::path(config_.node.data_dir) / "peers").string(), text, error);
}

bool Node::SaveClusterFile(std::string* error) const {
  std::string text = "cluster_id=" + cluster_id_ + "\nname=" + config_.node.id + "\n";
  if (bootstrap_voters_ > 0) {
    text += "bootstrap_voters=" + std::to_string(bootstrap_voters_) + "\n";
  }
  return WriteFileDurably((fs::path(config_.node.data_dir) / "cluster").string(), text, error);
}

bool Node::Start(std::string* error) {
  if (cluster_id_.empty()) {
    if (!DiscoverClusterId(error)) return false;
    MakeTransport();
  }
  transport::Status s = transport_->Start(config_.raft.listen.ToString());
  if (!s.ok()) {
    *error = "raft.listen " + config_.raft.listen.ToString() + ": " + s.ToString();
    return false;
  }
  {
    std::lock_guard<std::mutex> lk(mu_);
    for (const auto& [id, p] : peers_) {
      if (id != id_ && !p.raft_address.empty()) transport_->AddPeer(id, p.raft_address);
    }
    started_ = true;
    // A single-voter cluster need not wait an election timeout to lead.
    const auto& cs = raft_->raft().conf_state();
    if (cs.voters.size() == 1 && cs.IsVoter(id_)) raft_->Campaign();
  }
  ready_thread_ = std::thread([this] { ReadyLoop(); });
  ticker_thread_ = std::thread([this] { TickerLoop(); });
  snapshot_thread_ = std::thread([this] { SnapshotLoop(); });
  if (!StartGossip(error)) {
    // Gossip is how a joining node is found; without it, it would wait forever.
    if (joining_) return false;
    spdlog::warn("{}; running without gossip", *error);
    error->clear();
  }
  spdlog::info("node {} (raft id {}) of cluster {}: raft on {}, applied index {}", name(), Hex(id_),
               cluster_id_, config_.raft.listen.ToString(), store_->kv().applied_index());
  return true;
}

int Node::raft_port() const {
  return transport_ ? transport_->port() : 0;
}

void Node::Stop() {
  {
    std::unique_lock<std::mutex> lk(mu_);
    if (!started_ || stopping_) {
      stopping_ = true;
      return;
    }
  }
  StopGossip();
  // Give in-flight proposals a moment to finish (bounded).
  for (int i = 0; i < 200; ++i) {
    {
      std::lock_guard<std::mutex> lk(mu_);
      if (pending_.empty() && proposals_.size() == 0) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  {
    std::lock_guard<std::mutex> lk(mu_);
    stopping_ = true;
    cv_.notify_all();
    ticker_cv_.notify_all();
  }
  snapshot_cv_.notify_all();
  if (ready_thread_.joinable()) ready_thread_.join();
  if (ticker_thread_.joinable()) ticker_thread_.join();
  if (snapshot_thread_.joinable()) snapshot_thread_.join();
  {
    std::vector<AdminDone> waiters;
    {
      std::lock_guard<std::mutex> lk(snapshot_mu_);
      waiters.swap(snapshot_waiters_);
    }
    for (auto& w : waiters)
      w(ApplyResult::Error("ERR node is shutting down"));
  }
  transport_->Shutdown();

  Completions out;
  {
    std::lock_guard<std::mutex> lk(mu_);
    ApplyResult gone = ApplyResult::Error("ERR outcome unknown: the node is shutting down");
    for (auto& b : pending_) {
      out.push_back([done = std::move(b.done), n = b.commands.size()]() {
        done(std::vector<ApplyResult>(n, ApplyResult::Error("ERR the node is shutting down")));
      });
    }
    pending_.clear();
    proposals_.FailAll(Outcome::kShutdown, &out);
    reads_.FailAll(Outcome::kShutdown, &out);
    staged_snapshot_.reset();
  }
  RunAll(out);
  std::lock_guard<std::mutex> lk(mu_);
  raft_.reset();
  store_.reset();  // closes WiredTiger cleanly (a checkpoint)
}

// ---- the ready loop ------------------------------------------------------------

void Node::ReadyLoop() {
  std::unique_lock<std::mutex> lk(mu_);
  std::optional<consensus::SoftState> last_soft;
  while (true) {
    cv_.wait(lk, [&] { return stopping_ || work_pending_ || raft_->HasReady(); });
    if (stopping_ || StorageFailed()) break;
    work_pending_ = false;

    Completions out;
    std::vector<PendingBatch> to_forward;
    DrainRequestsLocked(&to_forward, &out);
    NodeId leader = raft_->raft().leader();
    std::optional<consensus::Ready> rd;
    if (raft_->HasReady()) rd = raft_->GetReady();
    lk.unlock();
    RunAll(out);
    for (auto& b : to_forward)
      Forward(std::move(b), leader);
    if (!rd) {
      lk.lock();
      continue;
    }

    std::vector<std::pair<Entry, ApplyResult>> applied;
    bool ok = HandleReady(*rd, &applied);
    lk.lock();
    if (!ok) {
      storage_failed_ = true;
      spdlog::error(
          "storage failed: this node stops serving (fail-stop); nothing acknowledged "
          "is lost. Fix the disk and restart it.");
      for (auto& b : pending_) {
        out.push_back([done = std::move(b.done), n = b.commands.size()]() {
          done(std::vector<ApplyResult>(n, ApplyResult::Error("ERR storage failure on this node")));
        });
      }
      pending_.clear();
      proposals_.FailAll(Outcome::kShutdown, &out);
      reads_.FailAll(Outcome::kShutdown, &out);
      lk.unlock();
      RunAll(out);
      lk.lock();
      break;
    }
    for (auto& [e, r] : applied)
      proposals_.OnApplied(e.index, e.term, std::move(r), &out);
    uint64_t applied_index = store_->kv().applied_index();
    if (rd->snapshot) proposals_.OnSnapshotInstalled(rd->snapshot->metadata.index, &out);
    for (const auto& rs : rd->read_states) {
      reads_.OnReadState(rs.context, rs.index, applied_index, &out);
    }
    reads_.OnApplied(applied_index, &out);
    if (rd->soft_state && rd->soft_state != last_soft) {
      const auto& ss = *rd->soft_state;
      if (ss.role == Role::kLeader) {
        spdlog::info("raft: became leader in term {}", raft_->raft().term());
      } else if (!last_soft || ss.leader != last_soft->leader) {
        if (ss.leader == consensus::kNoNode) {
          spdlog::info("raft: no leader ({}, term {})", consensus::RoleName(ss.role),
                       raft_->raft().term());
        } else {
          spdlog::info("raft: leader is {} in term {}", NameOfLocked(ss.leader),
                       raft_->raft().term());
        }
      }
      last_soft = ss;
    }
    raft_->Advance(*rd);
    // Requests that waited for a leader may go now.
    if (!pending_.empty() || reads_.queued() > 0) work_pending_ = true;
    lk.unlock();
    RunAll(out);
    lk.lock();
  }
}

void Node::DrainRequestsLocked(std::vector<PendingBatch>* to_forward, Completions* out) {
  const auto& raft = raft_->raft();
  NodeId leader = raft.leader();
  bool is_leader = raft.role() == Role::kLeader;
  if (is_leader) {
    // Queued batches go into one proposal (one append, one fsync), up to
    // raft.max_entry_bytes of commands; the rest go after the next Ready.
    if (!pending_.empty()) {
      const uint64_t limit = config_.raft.max_entry_bytes;
      PendingBatch merged;
      merged.deadline = Clock::time_point::max();
      std::vector<PendingBatch> parts;
      while (!pending_.empty() &&
             (parts.empty() || merged.bytes + pending_.front().bytes <= limit)) {
        merged.bytes += pending_.front().bytes;
        parts.push_back(std::move(pending_.front()));
        pending_.pop_front();
      }
      if (parts.size() == 1) {
        ProposeBatchLocked(std::move(parts[0]), out);
      } else {
        // Keep each caller's completion separate; propose all commands at once.
        auto sizes = std::make_shared<std::vector<size_t>>();
        auto dones = std::make_shared<std::vector<BatchDone>>();
        for (auto& p : parts) {
          sizes->push_back(p.commands.size());
          dones->push_back(std::move(p.done));
          merged.deadline = std::min(merged.deadline, p.deadline);
          for (auto& c : p.commands)
            merged.commands.push_back(std::move(c));
        }
        merged.done = [sizes, dones](std::vector<ApplyResult> results) {
          size_t at = 0;
          for (size_t i = 0; i < sizes->size(); ++i) {
            std::vector<ApplyResult> mine(
                std::make_move_iterator(results.begin() + static_cast<std::ptrdiff_t>(at)),
                std::make_move_iterator(results.begin() +
                                        static_cast<std::ptrdiff_t>(at + (*sizes)[i])));
            at += (*sizes)[i];
            (*dones)[i](std::move(mine));
          }
        };
        ProposeBatchLocked(std::move(merged), out);
      }
    }
  } else if (leader != consensus::kNoNode && leader != id_) {
    // Bounded bytes in flight to the leader; one batch always goes.
    const uint64_t budget = kForwardBudgetEntries * config_.raft.max_entry_bytes;
    while (!pending_.empty() && (forward_inflight_bytes_ == 0 ||
                                 forward_inflight_bytes_ + pending_.front().bytes <= budget)) {
      forward_inflight_bytes_ += pending_.front().bytes;
      to_forward->push_back(std::move(pending_.front()));
      pending_.pop_front();
    }
  }
  // Without a leader, requests stay queued until one appears or they expire.

  if (reads_.queued() > 0 && (is_leader || leader != consensus::kNoNode)) {
    std::string ctx = reads_.StartBatch();
    consensus::Status s = raft_->ReadIndex(ctx);
    if (s.ok()) {
      reads_.MarkStarted(ctx, Clock::now());
    } else {
      reads_.Requeue(ctx);
    }
  }
}

void Node::ProposeBatchLocked(PendingBatch batch, Completions* out) {
  // The log and the retry below share each command's bytes (no copies).
  std::vector<consensus::Payload> payloads;
  payloads.reserve(batch.commands.size());
  for (auto& c : batch.commands)
    payloads.emplace_back(std::move(c));
  auto pos = raft_->Propose(payloads);
  if (!pos.ok()) {
    // Not appended (leadership just moved, a transfer is under way, or the
    // uncommitted log is full): keep it queued; it is retried on the next
    // wake-up until its deadline.
    for (size_t i = 0; i < payloads.size(); ++i)
      batch.commands[i] = payloads[i].str();
    pending_.push_front(std::move(batch));
    return;
  }
  auto state = std::make_shared<BatchState>();
  state->results.resize(payloads.size());
  state->remaining = payloads.size();
  state->done = std::move(batch.done);
  const consensus::ProposalPosition& p = pos.value();
  for (size_t i = 0; i < payloads.size(); ++i) {
    uint64_t index = p.first_index + i;
    proposals_.Add(index, p.term, batch.deadline,
                   [this, state, i, deadline = batch.deadline, command = std::move(payloads[i])](
                       Outcome o, ApplyResult r) mutable {
                     switch (o) {
                       case Outcome::kOk:
                         state->Complete(i, std::move(r));
                         return;
                       case Outcome::kDropped: {
                         // Definitely not applied (another leader's entry took
                         // the slot): propose it again while time remains.
                         std::lock_guard<std::mutex> lk(mu_);
                         if (!stopping_ && Clock::now() < deadline) {
                           PendingBatch again;
                           again.commands.push_back(command.str());
                           again.bytes = command.size();
                           again.deadline = deadline;
                           again.done = [state, i](std::vector<ApplyResult> rs) {
                             state->Complete(i, std::move(rs[0]));
                           };
                           pending_.push_back(std::move(again));
                           WakeLocked();
                           return;
                         }
                         break;
                       }
                       default:
                         break;
                     }
                     state->Complete(i, ApplyResult::Error(
                                            o == Outcome::kShutdown
                                                ? "ERR outcome unknown: the node is shutting down"
                                                : "ERR outcome unknown: no answer before the "
                                                  "request timeout; the write may or may not "
                                                  "have been applied"));
                   });
  }
  (void)out;
}

void Node::Forward(PendingBatch batch, NodeId leader) {
  auto remaining =
      std::chrono::duration_cast<std::chrono::milliseconds>(batch.deadline - Clock::now());
  if (remaining.count() <= 0) remaining = std::chrono::milliseconds(1);
  size_t n = batch.commands.size();
  auto shared = std::make_shared<PendingBatch>(std::move(batch));
  // Gives back this batch's share of the forwarding budget (under mu_), and
  // lets batches that waited for it go.
  auto release = [this, shared](bool wake) {
    forward_inflight_bytes_ -= shared->bytes;
    if (wake && !pending_.empty()) WakeLocked();
  };
  // The transport takes the commands; keep a copy to requeue after a refusal.
  std::vector<std::string> commands = shared->commands;
  transport::Status s = transport_->Propose(
      leader, std::move(commands), remaining,
      [this, shared, n, release](const transport::ProposeResult& r) {
        {
          std::lock_guard<std::mutex> lk(mu_);
          release(true);
        }
        if (r.status.ok()) {
          std::vector<ApplyResult> results;
          results.reserve(n);
          for (const auto& bytes : r.results)
            results.push_back(DecodeApplyResult(bytes));
          results.resize(n, ApplyResult::Error("ERR internal: missing result"));
          shared->done(std::move(results));
          return;
        }
        auto code = r.status.code();
        bool safe_to_retry = code == transport::Status::Code::kNotLeader ||
                             code == transport::Status::Code::kProposalDropped ||
                             code == transport::Status::Code::kRefused;
        if (safe_to_retry && Clock::now() < shared->deadline && shared->forward_attempts < 10) {
          std::lock_guard<std::mutex> lk(mu_);
          if (!stopping_) {
            ++shared->forward_attempts;
            pending_.push_back(std::move(*shared));
            WakeLocked();
            return;
          }
        }
        std::string text = safe_to_retry
                               ? std::string(kNoLeader)
                               : "ERR outcome unknown: forwarding to the leader failed (" +
                                     r.status.ToString() + ")";
        shared->done(std::vector<ApplyResult>(n, ApplyResult::Error(text)));
      });
  if (!s.ok()) {
    // Not sent at all: wait for the peer or another leader (no wake-up, or
    // the ready loop would spin on a peer that refuses at once).
    std::lock_guard<std::mutex> lk(mu_);
    release(false);
    if (!stopping_) pending_.push_back(std::move(*shared));
  }
}

bool Node::HandleReady(consensus::Ready& rd, std::vector<std::pair<Entry, ApplyResult>>* applied) {
  std::vector<Message> msgs = std::move(rd.messages);
  rd.messages.clear();
  if (rd.send_messages_before_persisting) {
    Send(std::move(msgs));
    msgs.clear();  // sent: nothing is left to send after persisting
  }

  if (rd.snapshot) {
    std::unique_ptr<storage::SnapshotWriter> writer;
    {
      std::lock_guard<std::mutex> lk(mu_);
      writer = std::move(staged_snapshot_);
    }
    if (!writer || writer->metadata().index != rd.snapshot->metadata.index) {
      spdlog::error("raft accepted a snapshot at index {} that is not staged",
                    rd.snapshot->metadata.index);
      return false;
    }
    storage::Status s = store_->FinishSnapshotInstall(std::move(writer), rd.hard_state);
    if (!s.ok()) {
      spdlog::error("snapshot install failed: {}", s.ToString());
      return false;
    }
    spdlog::info("installed snapshot at index {} (term {})", rd.snapshot->metadata.index,
                 rd.snapshot->metadata.term);
  }
  if (rd.hard_state || !rd.entries.empty()) {
    // A Ready that only moves the commit index is written but not fsync'd
    // (Ready::must_sync): the next durable flush carries it, and WiredTiger's
    // log is ordered, so no later record (an applied entry) can outlive it.
    storage::Status s = rd.must_sync ? store_->log().Save(rd.hard_state, rd.entries)
                                     : store_->log().Write(rd.hard_state, rd.entries).status();
    if (!s.ok()) {
      spdlog::error("raft log write failed: {}", s.ToString());
      return false;
    }
  }
  if (!rd.send_messages_before_persisting) Send(std::move(msgs));
  if (!ApplyCommitted(rd.committed_entries, applied)) return false;
  if (!rd.committed_entries.empty() && store_->ShouldSnapshot()) {
    snapshot_requested_ = true;
    snapshot_cv_.notify_one();
  }
  return true;
}

void Node::Send(std::vector<Message> msgs) {
  if (msgs.empty()) return;
  std::vector<Message> plain;
  plain.reserve(msgs.size());
  for (auto& m : msgs) {
    if (m.type == MessageType::kSnap) {
      SendSnapshot(std::move(m));
    } else {
      plain.push_back(std::move(m));
    }
  }
  if (!plain.empty()) transport_->Send(std::move(plain));
}

void Node::SendSnapshot(Message msg) {
  NodeId to = msg.to;
  auto reader = store_->OpenSnapshot();
  if (!reader.ok()) {
    spdlog::warn("cannot open snapshot for {}: {}", to, reader.status().ToString());
    std::lock_guard<std::mutex> lk(mu_);
    if (raft_) raft_->ReportSnapshot(to, false);
    return;
  }
  // Send the snapshot we can stream (it may be newer than the one Raft
  // named; a newer one serves the follower as well).
  msg.snapshot->metadata = reader.value()->metadata();
  msg.snapshot->data.clear();
  uint64_t index = msg.snapshot->metadata.index;
  auto source = std::make_unique<ReaderSource>(std::move(reader).value());
  transport::Status s = transport_->SendSnapshot(
      std::move(msg), std::move(source), [this, index](NodeId peer, const transport::Status& st) {
        std::lock_guard<std::mutex> lk(mu_);
        if (st.ok()) {
          spdlog::info("snapshot at index {} sent to {}", index, NameOfLocked(peer));
        } else {
          spdlog::warn("snapshot to {} failed: {}", NameOfLocked(peer), st.ToString());
        }
        if (raft_ && !stopping_) {
          raft_->ReportSnapshot(peer, st.ok());
          WakeLocked();
        }
      });
  if (!s.ok() && s.code() != transport::Status::Code::kBusy) {
    std::lock_guard<std::mutex> lk(mu_);
    if (raft_) raft_->ReportSnapshot(to, false);
  }
}

bool Node::ApplyCommitted(const std::vector<Entry>& entries,
                          std::vector<std::pair<Entry, ApplyResult>>* applied) {
  size_t begin = 0;
  auto apply_range = [&](size_t from, size_t to,
                         const std::optional<consensus::ConfState>& cs) -> bool {
    if (from == to) return true;
    std::vector<Entry> part(entries.begin() + static_cast<std::ptrdiff_t>(from),
                            entries.begin() + static_cast<std::ptrdiff_t>(to));
    uint64_t before = store_->kv().applied_index();
    auto results = store_->kv().Apply(part, cs);
    if (!results.ok()) {
      spdlog::error("apply failed: {}", results.status().ToString());
      return false;
    }
    size_t r = 0;
    for (const Entry& e : part) {
      if (e.index <= before) continue;
      if (r >= results.value().size()) break;
      applied->emplace_back(Entry{e.term, e.index, e.type, {}}, std::move(results.value()[r++]));
    }
    return true;
  };
  for (size_t i = 0; i < entries.size(); ++i) {
    if (entries[i].type != EntryType::kConfChange) continue;
    if (!apply_range(begin, i, std::nullopt)) return false;
    auto cc = ConfChange::Decode(entries[i].data);
    consensus::ConfState cs;
    {
      std::lock_guard<std::mutex> lk(mu_);
      cs = cc.ok() ? raft_->ApplyConfChange(cc.value()) : raft_->raft().conf_state();
    }
    if (!apply_range(i, i + 1, cs)) return false;
    if (cc.ok()) ApplyConfChangeToPeers(cc.value());
    begin = i + 1;
  }
  return apply_range(begin, entries.size(), std::nullopt);
}

void Node::ApplyConfChangeToPeers(const ConfChange& cc) {
  std::string error;
  std::optional<std::pair<NodeId, std::string>> add;
  bool remove = false;
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (cc.type == ConfChange::Type::kRemoveNode) {
      spdlog::info("membership: removed {}", NameOfLocked(cc.node_id));
      peers_.erase(cc.node_id);
      remove = cc.node_id != id_;
    } else {
      PeerInfo p = PeerFromContext(cc.node_id, cc.context);
      if (p.name.empty() && peers_.count(cc.node_id)) p = peers_[cc.node_id];
      if (!p.name.empty()) peers_[cc.node_id] = p;
      spdlog::info("membership: {} {} ({})",
                   cc.type == ConfChange::Type::kAddLearner ? "added learner" : "added voter",
                   p.name, p.raft_address);
      if (cc.node_id != id_ && !p.raft_address.empty()) add = {{cc.node_id, p.raft_address}};
      // A newcomer must start from a snapshot (which carries the
      // configuration), and the leader needs one to send: make sure every
      // node that could lead has one.
      if (cc.type == ConfChange::Type::kAddLearner && cc.node_id != id_ &&
          store_->log().snapshot_metadata().index == 0) {
        snapshot_requested_ = true;
        snapshot_cv_.notify_one();
      }
    }
    if (!SavePeersFile(&error)) spdlog::error("cannot save peers: {}", error);
  }
  if (add) transport_->AddPeer(add->first, add->second);
  if (remove) transport_->RemovePeer(cc.node_id);
}

void Node::TickerLoop() {
  auto period = std::chrono::milliseconds(config_.raft.tick_ms);
  auto next = Clock::now() + period;
  auto read_patience = period * config_.raft.election_ticks;
  std::unique_lock<std::mutex> lk(mu_);
  while (!stopping_) {
    ticker_cv_.wait_until(lk, next, [&] { return stopping_; });
    if (stopping_) break;
    auto now = Clock::now();
    if (now < next) continue;
    next += period;
    if (next < now) next = now + period;  // fell behind (paused): don't burst
    raft_->Tick();

    Completions out;
    bool no_leader = raft_->raft().leader() == consensus::kNoNode;
    // Requests never proposed: safe to report as not done.
    while (!pending_.empty() && pending_.front().deadline <= now) {
      auto b = std::move(pending_.front());
      pending_.pop_front();
      out.push_back([done = std::move(b.done), n = b.commands.size(), no_leader]() {
        done(std::vector<ApplyResult>(
            n, ApplyResult::Error(no_leader ? kNoLeader : "CLUSTERDOWN Raft leader unreachable")));
      });
    }
    for (auto it = pending_.begin(); it != pending_.end();) {
      if (it->deadline <= now) {
        out.push_back([done = std::move(it->done), n = it->commands.size(), no_leader]() {
          done(std::vector<ApplyResult>(
              n,
              ApplyResult::Error(no_leader ? kNoLeader : "CLUSTERDOWN Raft leader unreachable")));
        });
        it = pending_.erase(it);
      } else {
        ++it;
      }
    }
    proposals_.ExpireBefore(now, &out);
    reads_.ExpireBefore(now, &out);
    reads_.RetryUnanswered(now, read_patience);
    WakeLocked();
    lk.unlock();
    RunAll(out);
    lk.lock();
  }
}

// Housekeeping, off the ready loop: snapshots when the store asks for one,
// and active expiry once a second on the leader.
void Node::SnapshotLoop() {
  std::unique_lock<std::mutex> lk(snapshot_mu_);
  auto next_expiry = Clock::now() + std::chrono::seconds(1);
  std::string expiry_cursor;
  while (true) {
    snapshot_cv_.wait_until(lk, next_expiry, [&] {
      std::lock_guard<std::mutex> g(mu_);
      return stopping_ || snapshot_requested_.load();
    });
    bool stop;
    {
      std::lock_guard<std::mutex> g(mu_);
      stop = stopping_;
    }
    std::vector<AdminDone> waiters;
    waiters.swap(snapshot_waiters_);
    lk.unlock();
    if (stop) {
      for (auto& w : waiters)
        w(ApplyResult::Error("ERR node is shutting down"));
      return;
    }
    if (snapshot_requested_.exchange(false)) {
      ApplyResult r = TakeSnapshot();
      if (r.type == ApplyResult::Type::kError) spdlog::warn("snapshot: {}", r.bytes);
      for (auto& w : waiters)
        w(r);
    }
    if (Clock::now() >= next_expiry) {
      next_expiry = Clock::now() + std::chrono::seconds(1);
      ExpireCycle(&expiry_cursor);
    }
    lk.lock();
  }
}

// Active expiry (Redis's "expire cycle", made replicated): the leader walks
// the key space a bounded slice at a time and proposes the deletion of keys
// it found expired; apply deletes each only if it is still expired at the
// proposer's time, so a key SET again meanwhile survives. Reads never need
// this — expired keys are already invisible — it only reclaims space.
void Node::ExpireCycle(std::string* cursor) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (!raft_ || raft_->raft().role() != Role::kLeader) return;
  }
  constexpr size_t kKeysPerCycle = 1000;
  int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  auto page = store_->kv().Scan(*cursor, kKeysPerCycle, now_ms);
  if (!page.ok()) return;
  *cursor = page.value().cursor;  // empty: start over next time
  if (page.value().expired_keys.empty()) return;
  std::vector<std::string> cmd;
  cmd.push_back(
      storage::Command::PurgeExpired(std::move(page.value().expired_keys), now_ms).Encode());
  ProposeCommands(std::move(cmd), [](const std::vector<ApplyResult>&) {});
}

ApplyResult Node::TakeSnapshot() {
  auto meta = store_->CreateSnapshot();
  if (!meta.ok()) return ApplyResult::Error("ERR snapshot failed: " + meta.status().ToString());
  // Keep a tail of entries so a follower slightly behind catches up from the
  // log rather than with a whole snapshot.
  uint64_t keep = std::min<uint64_t>(config_.raft.snapshot_entries / 2, 5000);
  uint64_t upto = meta.value().index > keep ? meta.value().index - keep : 0;
  if (upto > 0) {
    storage::Status s = store_->CompactLog(upto);
    if (!s.ok()) return ApplyResult::Error("ERR compaction failed: " + s.ToString());
  }
  spdlog::info("snapshot at index {}; log compacted through {}", meta.value().index, upto);
  return ApplyResult::Ok();
}

// ---- requests -------------------------------------------------------------------

struct Node::SplitGroup {
  struct Piece {
    std::vector<size_t> slots;  // which of the group's commands, in order
    std::vector<std::string> commands;
    uint64_t bytes = 0;
  };
  std::vector<ApplyResult> results;
  std::vector<Piece> pieces;
  size_t next = 0;
  BatchDone done;
};

void Node::RunSplitGroup(Node* node, const std::shared_ptr<SplitGroup>& group) {
  if (group->next == group->pieces.size()) {
    BatchDone done = std::move(group->done);
    done(std::move(group->results));
    return;
  }
  SplitGroup::Piece& piece = group->pieces[group->next++];
  std::vector<size_t> slots = std::move(piece.slots);
  node->EnqueueBatch(std::move(piece.commands), piece.bytes,
                     [node, group, slots = std::move(slots)](std::vector<ApplyResult> rs) {
                       for (size_t i = 0; i < slots.size() && i < rs.size(); ++i) {
                         group->results[slots[i]] = std::move(rs[i]);
                       }
                       RunSplitGroup(node, group);
                     });
}

void Node::ProposeCommands(std::vector<std::string> commands, BatchDone done) {
  const size_t n = commands.size();
  if (n == 0) {
    done({});
    return;
  }
  const uint64_t limit = config_.raft.max_entry_bytes;
  uint64_t total = 0;
  bool oversized = false;
  for (const auto& c : commands) {
    total += c.size();
    oversized = oversized || c.size() > limit;
  }
  if (!oversized && total <= limit) {
    EnqueueBatch(std::move(commands), total, std::move(done));
    return;
  }
  // A command over the limit is refused before anything is proposed (its
  // neighbours still go, in order, as in a Redis pipeline); the rest is cut
  // into consecutive batches of at most `limit` bytes.
  auto group = std::make_shared<SplitGroup>();
  group->results.resize(n);
  group->done = std::move(done);
  for (size_t i = 0; i < n; ++i) {
    const uint64_t size = commands[i].size();
    if (size > limit) {
      group->results[i] = ApplyResult::Error(TooLargeError(size));
      continue;
    }
    if (group->pieces.empty() || group->pieces.back().bytes + size > limit) {
      group->pieces.emplace_back();
    }
    SplitGroup::Piece& piece = group->pieces.back();
    piece.slots.push_back(i);
    piece.commands.push_back(std::move(commands[i]));
    piece.bytes += size;
  }
  RunSplitGroup(this, group);
}

void Node::EnqueueBatch(std::vector<std::string> commands, uint64_t bytes, BatchDone done) {
  const size_t n = commands.size();
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (!stopping_ && !StorageFailed()) {
      PendingBatch b;
      b.commands = std::move(commands);
      b.bytes = bytes;
      b.deadline = Clock::now() + request_timeout_;
      b.done = std::move(done);
      pending_.push_back(std::move(b));
      WakeLocked();
      return;
    }
  }
  done(std::vector<ApplyResult>(
      n, ApplyResult::Error(StorageFailed() ? "ERR storage failure on this node"
                                            : "ERR the node is shutting down")));
}

void Node::Write(resp::WriteCommand cmd, std::function<void(resp::StoreResult)> done) {
  std::vector<std::string> one;
  one.push_back(ToStorageCommand(std::move(cmd)).Encode());
  ProposeCommands(std::move(one), [done = std::move(done)](std::vector<ApplyResult> rs) {
    done(ToStoreResult(std::move(rs[0])));
  });
}

// Order within the group holds everywhere a batch travels: the leader
// proposes a batch's commands as consecutive entries of one proposal (merged
// batches keep their internal order); a follower forwards it as one call and
// requeues it whole; entries dropped by a leader change are the suffix from
// some index on and are proposed again in index order. The front end starts a
// connection's next group only after this one completed.
void Node::WriteBatch(std::vector<resp::WriteCommand> cmds,
                      std::function<void(std::vector<resp::StoreResult>)> done) {
  std::vector<std::string> encoded;
  encoded.reserve(cmds.size());
  for (auto& c : cmds)
    encoded.push_back(ToStorageCommand(std::move(c)).Encode());
  ProposeCommands(std::move(encoded), [done = std::move(done)](std::vector<ApplyResult> rs) {
    done(ToStoreResults(std::move(rs)));
  });
}

uint64_t Node::MaxRequestBytes() const {
  return config_.raft.max_entry_bytes;
}

std::string Node::TooLargeError(uint64_t bytes) const {
  return "ERR request is too large: " + std::to_string(bytes) +
         " bytes exceed raft.max_entry_bytes (" + std::to_string(config_.raft.max_entry_bytes) +
         ")";
}

void Node::ReadBarrier(std::function<void(resp::StoreResult)> done) {
  Barrier([done = std::move(done)](ApplyResult r) { done(ToStoreResult(std::move(r))); });
}

void Node::Barrier(AdminDone done) {
  std::unique_lock<std::mutex> lk(mu_);
  if (stopping_ || StorageFailed()) {
    lk.unlock();
    done(ApplyResult::Error("ERR the node is shutting down"));
    return;
  }
  reads_.Add(Clock::now() + request_timeout_, [this, done = std::move(done)](Outcome o) {
    if (o == Outcome::kOk) {
      done(ApplyResult::Ok());
      return;
    }
    bool no_leader;
    {
      std::lock_guard<std::mutex> g(mu_);
      no_leader = !raft_ || raft_->raft().leader() == consensus::kNoNode;
    }
    done(ApplyResult::Error(no_leader ? kNoLeader
                                      : "CLUSTERDOWN Raft leader did not confirm the read in "
                                        "time"));
  });
  WakeLocked();
}

std::optional<resp::Record> Node::Get(std::string_view key, int64_t now_ms) {
  auto v = store_->kv().Get(key, now_ms);
  if (!v.ok() || !v.value()) return std::nullopt;
  resp::Record r;
  r.value = std::move(*v.value());
  auto ttl = store_->kv().PTtl(key, now_ms);
  if (ttl.ok() && ttl.value() >= 0) r.expire_at_ms = now_ms + ttl.value();
  return r;
}

resp::ScanPage Node::Scan(uint64_t cursor, size_t count, int64_t now_ms) {
  std::string from;
  if (cursor != 0) {
    std::lock_guard<std::mutex> lk(mu_);
    auto it = scan_cursors_.find(cursor);
    if (it == scan_cursors_.end()) return {};  // unknown or expired cursor: iteration ends
    from = it->second;
  }
  resp::ScanPage page;
  auto r = store_->kv().Scan(from, std::max<size_t>(count, 1), now_ms);
  if (!r.ok()) return page;
  page.keys = std::move(r.value().keys);
  if (!r.value().cursor.empty()) {
    std::lock_guard<std::mutex> lk(mu_);
    page.next_cursor = next_scan_cursor_++;
    scan_cursors_[page.next_cursor] = std::move(r.value().cursor);
    // Bound the table: forget the oldest cursors.
    while (scan_cursors_.size() > 100000)
      scan_cursors_.erase(scan_cursors_.begin());
  }
  return page;
}

uint64_t Node::DbSize(int64_t) {
  return store_->kv().DbSize();
}

std::optional<std::string> Node::RandomKey(int64_t now_ms) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  for (int attempt = 0; attempt < 8; ++attempt) {
    std::string from;
    if (attempt < 6) {
      from.push_back(static_cast<char>(rng() & 0xff));
      from.push_back(static_cast<char>(rng() & 0xff));
    }
    auto r = store_->kv().Scan(from, 16, now_ms);
    if (r.ok() && !r.value().keys.empty()) return r.value().keys.front();
    if (attempt >= 6 && store_->kv().DbSize() == 0) break;
  }
  return std::nullopt;
}

RaftInfo Node::GetRaftInfo() const {
  std::lock_guard<std::mutex> lk(mu_);
  RaftInfo info;
  info.node_id = config_.node.id;
  info.cluster_id = cluster_id_;
  if (!raft_) return info;
  const auto& r = raft_->raft();
  // A pre-candidate reports "candidate", as a candidate does.
  info.role = r.role() == Role::kLeader     ? "leader"
              : r.role() == Role::kFollower ? "follower"
                                            : "candidate";
  const auto& cs = r.conf_state();
  if (!cs.IsVoter(id_) && cs.IsLearner(id_)) info.role = "learner";
  if (r.leader() != consensus::kNoNode) info.leader_id = NameOfLocked(r.leader());
  info.term = r.term();
  info.commit_index = r.log().committed();
  info.applied_index = store_ ? store_->kv().applied_index() : 0;
  info.last_index = r.log().LastIndex();
  for (NodeId v : cs.voters)
    info.voters.push_back(NameOfLocked(v));
  for (NodeId l : cs.learners)
    info.learners.push_back(NameOfLocked(l));
  std::sort(info.voters.begin(), info.voters.end());
  std::sort(info.learners.begin(), info.learners.end());
  return info;
}

std::string Node::InfoSection(std::string_view section) {
  if (section == "raft") {
    RaftInfo i = GetRaftInfo();
    auto join = [](const std::vector<std::string>& v) {
      std::string s;
      for (const auto& x : v)
        s += (s.empty() ? "" : ",") + x;
      return s;
    };
    std::string out;
    out += "role:" + i.role + "\r\n";
    out += "node_id:" + i.node_id + "\r\n";
    out += "leader_id:" + i.leader_id + "\r\n";
    out += "term:" + std::to_string(i.term) + "\r\n";
    out += "commit_index:" + std::to_string(i.commit_index) + "\r\n";
    out += "applied_index:" + std::to_string(i.applied_index) + "\r\n";
    out += "last_index:" + std::to_string(i.last_index) + "\r\n";
    out += "voters:" + join(i.voters) + "\r\n";
    out += "learners:" + join(i.learners) + "\r\n";
    out += "cluster_id:" + i.cluster_id + "\r\n";
    return out;
  }
  if (section == "membership") return MembershipInfo();
  if (section == "persistence") {
    auto st = store_->stats();
    return "wal_fsyncs:" + std::to_string(st.log_flushes) +
           "\r\nsnapshots_created:" + std::to_string(st.snapshots_created) +
           "\r\nlog_entries_compacted:" + std::to_string(st.entries_compacted) + "\r\n";
  }
  if (section == "keyspace") {
    uint64_t n = store_->kv().DbSize();
    return n == 0 ? "" : "db0:keys=" + std::to_string(n) + ",expires=0,avg_ttl=0\r\n";
  }
  return {};
}

std::string Node::NameOfLocked(NodeId id) const {
  auto it = peers_.find(id);
  if (it != peers_.end()) return it->second.name;
  return Hex(id);
}

// ---- membership -------------------------------------------------------------------

void Node::ProposeConfChange(const ConfChange& cc, AdminDone done) {
  std::unique_lock<std::mutex> lk(mu_);
  if (stopping_ || !raft_) {
    lk.unlock();
    done(ApplyResult::Error("ERR the node is shutting down"));
    return;
  }
  auto pos = raft_->ProposeConfChange(cc);
  if (!pos.ok()) {
    std::string why =
        pos.status().code() == consensus::Status::Code::kNotLeader
            ? "ERR not the leader; run it on " + (pos.status().leader_hint() == consensus::kNoNode
                                                      ? std::string("the leader (none known)")
                                                      : NameOfLocked(pos.status().leader_hint()))
            : "ERR " + pos.status().message();
    lk.unlock();
    done(ApplyResult::Error(why));
    return;
  }
  proposals_.Add(pos.value().first_index, pos.value().term, Clock::now() + request_timeout_,
                 [done = std::move(done)](Outcome o, const ApplyResult&) {
                   done(o == Outcome::kOk
                            ? ApplyResult::Ok()
                            : ApplyResult::Error("ERR outcome unknown: membership change not "
                                                 "confirmed in time"));
                 });
  WakeLocked();
}

void Node::AddLearner(const PeerInfo& peer, AdminDone done) {
  ConfChange cc;
  cc.type = ConfChange::Type::kAddLearner;
  cc.node_id = RaftIdFor(peer.name);
  cc.context = ConfChangeContext(peer);
  ProposeConfChange(cc, std::move(done));
}

void Node::PromoteToVoter(const std::string& name, AdminDone done) {
  ConfChange cc;
  cc.type = ConfChange::Type::kAddVoter;
  cc.node_id = RaftIdFor(name);
  {
    std::lock_guard<std::mutex> lk(mu_);
    auto it = peers_.find(cc.node_id);
    if (it != peers_.end()) cc.context = ConfChangeContext(it->second);
  }
  ProposeConfChange(cc, std::move(done));
}

void Node::RemoveNode(const std::string& name, AdminDone done) {
  ConfChange cc;
  cc.type = ConfChange::Type::kRemoveNode;
  cc.node_id = RaftIdFor(name);
  ProposeConfChange(cc, std::move(done));
}

void Node::TransferLeadership(const std::string& name, const AdminDone& done) {
  consensus::Status s;
  {
    std::lock_guard<std::mutex> lk(mu_);
    s = raft_ ? raft_->TransferLeader(RaftIdFor(name))
              : consensus::Status::Error(consensus::Status::Code::kInvalidArgument, "stopped");
    if (s.ok()) WakeLocked();
  }
  done(s.ok() ? ApplyResult::Ok() : ApplyResult::Error("ERR " + s.ToString()));
}

// ---- transport::Handler -------------------------------------------------------------

void Node::OnMessages(NodeId from, std::vector<Message> msgs) {
  std::lock_guard<std::mutex> lk(mu_);
  if (stopping_ || !raft_) return;
  const bool no_conf = raft_->raft().conf_state().voters.empty();
  for (const Message& m : msgs) {
    if (m.type == MessageType::kSnap) continue;  // snapshots arrive on their own call
    // A node that joined has no configuration until a snapshot gives it one:
    // the bootstrap voters are in no log entry, so replaying the log from
    // index 1 would leave it believing in a cluster without them (one of its
    // own once promoted). Wait for the snapshot (the leader sends one, see
    // Raft::MaybeSendAppend) rather than take entries from index 1.
    if (no_conf && m.type == MessageType::kApp && m.index == 0) continue;
    raft_->Step(m);
  }
  WakeLocked();
}

transport::Status Node::OnSnapshot(NodeId from, const Message& msg,
                                   std::unique_ptr<transport::SnapshotSink>* sink) {
  if (!msg.snapshot) {
    return transport::Status::Error(transport::Status::Code::kInvalidArgument, "no metadata");
  }
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (stopping_ || !raft_) {
      return transport::Status::Error(transport::Status::Code::kAborted, "node stopping");
    }
    if (msg.term < raft_->raft().term()) {
      return transport::Status::Error(transport::Status::Code::kAborted, "stale term");
    }
  }
  auto writer = store_->BeginSnapshotInstall(msg.snapshot->metadata);
  if (!writer.ok()) {
    return transport::Status::Error(transport::Status::Code::kAborted, writer.status().ToString());
  }
  *sink = std::make_unique<InstallSink>(this, msg, std::move(writer).value());
  return transport::Status::Ok();
}

void Node::OnPropose(NodeId from, std::vector<std::string> commands,
                     transport::ProposeCallback done) {
  ProposeCommands(std::move(commands),
                  [done = std::move(done)](const std::vector<ApplyResult>& rs) {
                    transport::ProposeResult r;
                    r.results.reserve(rs.size());
                    for (const auto& a : rs)
                      r.results.push_back(EncodeApplyResult(a));
                    done(std::move(r));
                  });
}

void Node::OnReadIndex(NodeId from, transport::ReadIndexCallback done) {
  Barrier([this, done = std::move(done)](const ApplyResult& r) {
    transport::ReadIndexResult out;
    if (r.type == ApplyResult::Type::kError) {
      out.status = transport::Status::Error(transport::Status::Code::kUnavailable, r.bytes);
    } else {
      // Everything applied here now is at least the read index.
      out.index = store_->kv().applied_index();
    }
    done(std::move(out));
  });
}

void Node::OnPeerUnreachable(NodeId peer) {
  std::lock_guard<std::mutex> lk(mu_);
  if (raft_ && !stopping_) raft_->ReportUnreachable(peer);
}

}  // namespace phalanx::node
