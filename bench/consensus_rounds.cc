// consensus_rounds: how fast is the Raft core itself, with no disk and no
// network? Three RawNodes over MemoryStorage in one process; messages are
// delivered by direct Step() calls.
//
// One round = propose one 128-byte command on the leader → replicated →
// committed → applied on all three nodes. Also: 1,000 proposals in one batch.
//
// Usage: consensus_rounds [rounds]   (default 200000)
// Last line: rounds_per_second=<N> ms_per_1000_rounds=<X>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <string>
#include <vector>

#include "consensus/raw_node.h"

using namespace phalanx::consensus;

namespace {

struct Member {
  std::unique_ptr<MemoryStorage> storage;
  std::unique_ptr<RawNode> node;
  uint64_t applied = 0;
};

class InProcessCluster {
 public:
  explicit InProcessCluster(int n) {
    ConfState cs;
    for (int i = 1; i <= n; ++i)
      cs.voters.push_back(static_cast<NodeId>(i));
    for (int i = 1; i <= n; ++i) {
      Member m;
      m.storage = std::make_unique<MemoryStorage>();
      m.storage->SetConfState(cs);
      Config c;
      c.id = static_cast<NodeId>(i);
      c.storage = m.storage.get();
      c.seed = 42;
      auto node = RawNode::Create(c);
      if (!node.ok()) {
        std::fprintf(stderr, "config: %s\n", node.status().ToString().c_str());
        std::exit(1);
      }
      m.node = std::move(node).value();
      members_.push_back(std::move(m));
    }
  }

  Member& at(NodeId id) { return members_[id - 1]; }

  // Runs Ready loops and delivers messages until nothing is left to do.
  void Settle() {
    for (;;) {
      bool progressed = false;
      for (size_t i = 0; i < members_.size(); ++i)
        progressed |= Process(members_[i]);
      // Deliver this wave; what the receivers answer goes out in the next one.
      delivering_.swap(inflight_);
      for (const Message& msg : delivering_) {
        at(msg.to).node->Step(msg);
        progressed = true;
      }
      delivering_.clear();  // keeps its capacity for the next wave
      if (!progressed) return;
    }
  }

  void CompactAll() {
    for (auto& m : members_) {
      uint64_t keep_from = m.applied > 1000 ? m.applied - 1000 : 0;
      if (keep_from > m.storage->FirstIndex()) {
        (void)m.storage->CreateSnapshot(keep_from, m.node->raft().conf_state(), {});
        (void)m.storage->Compact(keep_from);
      }
    }
  }

 private:
  bool Process(Member& m) {
    if (!m.node->HasReady()) return false;
    Ready rd = m.node->GetReady();
    if (rd.snapshot) (void)m.storage->ApplySnapshot(*rd.snapshot);
    if (!rd.entries.empty()) (void)m.storage->Append(rd.entries);
    if (rd.hard_state) m.storage->SetHardState(*rd.hard_state);
    for (auto& msg : rd.messages)
      inflight_.push_back(std::move(msg));
    if (!rd.committed_entries.empty()) m.applied = rd.committed_entries.back().index;
    m.node->Advance(rd);
    return true;
  }

  std::vector<Member> members_;
  std::vector<Message> inflight_;
  std::vector<Message> delivering_;
};

double Seconds(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

}  // namespace

static int Run(int argc, char** argv) {
  long rounds = argc > 1 ? std::atol(argv[1]) : 200000;
  if (rounds <= 0) {
    std::fprintf(stderr, "usage: consensus_rounds [rounds > 0]\n");
    return 2;
  }
  InProcessCluster cluster(3);
  (void)cluster.at(1).node->Campaign();
  cluster.Settle();
  if (cluster.at(1).node->raft().role() != Role::kLeader) {
    std::fprintf(stderr, "node 1 did not become leader\n");
    return 1;
  }
  const std::string payload(128, 'x');

  // Single proposals, one full round each.
  auto start = std::chrono::steady_clock::now();
  for (long i = 0; i < rounds; ++i) {
    auto pos = cluster.at(1).node->Propose(payload);
    if (!pos.ok()) {
      std::fprintf(stderr, "propose: %s\n", pos.status().ToString().c_str());
      return 1;
    }
    cluster.Settle();
    uint64_t want = pos.value().last_index;
    for (NodeId id = 1; id <= 3; ++id) {
      if (cluster.at(id).applied < want) {
        std::fprintf(stderr, "round %ld: node %llu applied %llu < %llu\n", i,
                     static_cast<unsigned long long>(id),
                     static_cast<unsigned long long>(cluster.at(id).applied),
                     static_cast<unsigned long long>(want));
        return 1;
      }
    }
    if (i % 10000 == 9999) cluster.CompactAll();
  }
  double single = Seconds(std::chrono::steady_clock::now() - start);

  // 1,000 proposals in one batch, many times.
  const int kBatch = 1000;
  const int kBatches = 200;
  start = std::chrono::steady_clock::now();
  for (int b = 0; b < kBatches; ++b) {
    std::vector<std::string> batch(kBatch, payload);
    auto pos = cluster.at(1).node->Propose(std::move(batch));
    if (!pos.ok()) return 1;
    cluster.Settle();
    for (NodeId id = 1; id <= 3; ++id) {
      if (cluster.at(id).applied < pos.value().last_index) return 1;
    }
    cluster.CompactAll();
  }
  double batched = Seconds(std::chrono::steady_clock::now() - start);

  double rps = static_cast<double>(rounds) / single;
  double ms_per_1000 = 1000.0 * 1000.0 / rps;
  std::printf("single proposals: %ld rounds in %.3f s (%.2f us/round)\n", rounds, single,
              1e6 * single / static_cast<double>(rounds));
  std::printf("batches of %d: %d batches in %.3f s (%.1f us/batch, %.0f entries/s)\n", kBatch,
              kBatches, batched, 1e6 * batched / kBatches, kBatch * kBatches / batched);
  std::printf("original design's promise: 1000 rounds < 10 ms; target < 1 ms\n");
  std::printf("rounds_per_second=%.0f ms_per_1000_rounds=%.3f\n", rps, ms_per_1000);
  return 0;
}

// What escapes Run (std::bad_alloc, a library's exception) ends the process
// with one line, not std::terminate's abort.
int main(int argc, char** argv) {
  try {
    return Run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", "consensus_rounds", e.what());
  } catch (...) {
    std::fprintf(stderr, "%s: unknown exception\n", "consensus_rounds");
  }
  return 1;
}
