// Bookkeeping for client requests waiting on Raft: proposals waiting for their
// entry to apply, and linearizable reads waiting for a safe read index and then
// for the state machine to reach it.
//
// Pure logic, no threads and no clock: the node calls these under its own lock
// with the current time, and runs the completions it gets back *outside* that
// lock (a completion may do I/O, like writing a reply to a socket).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace phalanx::node {

using Clock = std::chrono::steady_clock;

// How a request ended, beside its value.
enum class Outcome : uint8_t {
  kOk,
  kDropped,   // definitely not applied: a new leader overwrote the entry — safe to retry
  kTimeout,   // the deadline passed: a write may or may not have happened
  kShutdown,  // the node is stopping: as kTimeout, the outcome is unknown
};

// Proposals keyed by log index. Result is whatever applying an entry returns.
template <typename Result>
class ProposalTracker {
 public:
  using Callback = std::function<void(Outcome, Result)>;
  using Completion = std::function<void()>;

  // Waits for the entry at `index` proposed in `term`.
  void Add(uint64_t index, uint64_t term, Clock::time_point deadline, Callback cb) {
    waiting_.emplace(index, Waiter{term, deadline, std::move(cb)});
  }

  // The entry at `index` (of `term`) was applied with `result`. Completes the
  // waiter there: kOk if the terms match, kDropped if another leader's entry
  // took the slot. Waiters below `index` cannot be applied any more (entries
  // apply in order), so they are kDropped too.
  void OnApplied(uint64_t index, uint64_t term, Result result, std::vector<Completion>* out) {
    while (!waiting_.empty() && waiting_.begin()->first < index) {
      Finish(waiting_.begin(), Outcome::kDropped, Result{}, out);
    }
    // Several waiters can share an index: this node may have led twice and
    // reused the slot. Only the one whose term matches the entry succeeded.
    while (!waiting_.empty() && waiting_.begin()->first == index) {
      auto it = waiting_.begin();
      bool ours = it->second.term == term;
      Finish(it, ours ? Outcome::kOk : Outcome::kDropped, ours ? result : Result{}, out);
    }
  }

  // A snapshot replaced the state up to `index`: whether those entries were
  // ours is unknown.
  void OnSnapshotInstalled(uint64_t index, std::vector<Completion>* out) {
    while (!waiting_.empty() && waiting_.begin()->first <= index) {
      Finish(waiting_.begin(), Outcome::kTimeout, Result{}, out);
    }
  }

  void ExpireBefore(Clock::time_point now, std::vector<Completion>* out) {
    for (auto it = waiting_.begin(); it != waiting_.end();) {
      auto next = std::next(it);
      if (it->second.deadline <= now) Finish(it, Outcome::kTimeout, Result{}, out);
      it = next;
    }
  }

  void FailAll(Outcome outcome, std::vector<Completion>* out) {
    while (!waiting_.empty())
      Finish(waiting_.begin(), outcome, Result{}, out);
  }

  size_t size() const { return waiting_.size(); }

 private:
  struct Waiter {
    uint64_t term;
    Clock::time_point deadline;
    Callback cb;
  };
  using Map = std::multimap<uint64_t, Waiter>;

  void Finish(typename Map::iterator it, Outcome outcome, Result result,
              std::vector<Completion>* out) {
    out->push_back([cb = std::move(it->second.cb), outcome, r = std::move(result)]() mutable {
      cb(outcome, std::move(r));
    });
    waiting_.erase(it);
  }

  Map waiting_;
};

// Linearizable reads (thesis §6.4). Reads queue until the node asks Raft for a
// read index; every read queued by then shares that one request (one context).
// When the index comes back, they wait for the applied index to reach it.
class ReadTracker {
 public:
  // Called once the read may proceed (kOk): the caller then reads its state
  // machine, which has applied at least the read index.
  using Callback = std::function<void(Outcome)>;
  using Completion = std::function<void()>;

  // `incarnation` makes this process's read contexts differ from those of an
  // earlier run of the same node: a leader that outlived our restart may
  // still answer a context we used before it, with a read index taken before
  // writes our new reads must see (a stale read). Random by default.
  explicit ReadTracker(uint64_t incarnation = std::random_device()() * 0x100000000ull +
                                              std::random_device()())
      : incarnation_(incarnation) {}

  void Add(Clock::time_point deadline, Callback cb) {
    queued_.push_back(Waiter{deadline, std::move(cb)});
  }

  // Takes every queued read into one batch and returns its context for
  // RawNode::ReadIndex, or an empty string when nothing is queued.
  std::string StartBatch() {
    if (queued_.empty()) return {};
    std::string ctx = "r" + std::to_string(incarnation_) + "." + std::to_string(++last_batch_);
    batches_.emplace(ctx, Batch{0, false, std::move(queued_)});
    queued_.clear();
    return ctx;
  }

  // Raft could not take the batch (no leader known): put it back in front.
  void Requeue(const std::string& ctx) {
    auto it = batches_.find(ctx);
    if (it == batches_.end()) return;
    auto waiters = std::move(it->second.waiters);
    batches_.erase(it);
    waiters.insert(waiters.end(), std::make_move_iterator(queued_.begin()),
                   std::make_move_iterator(queued_.end()));
    queued_ = std::move(waiters);
  }

  // Raft answered `ctx` with a read index; completes the batch if `applied`
  // is already there.
  void OnReadState(const std::string& ctx, uint64_t index, uint64_t applied,
                   std::vector<Completion>* out) {
    auto it = batches_.find(ctx);
    if (it == batches_.end()) return;  // late answer for an expired batch
    it->second.index = index;
    it->second.has_index = true;
    OnApplied(applied, out);
  }

  void OnApplied(uint64_t applied, std::vector<Completion>* out) {
    for (auto it = batches_.begin(); it != batches_.end();) {
      if (it->second.has_index && it->second.index <= applied) {
        for (auto& w : it->second.waiters)
          Finish(w, Outcome::kOk, out);
        it = batches_.erase(it);
      } else {
        ++it;
      }
    }
  }

  // Reads past their deadline fail; a batch whose answer never came (its
  // message lost, the leader changed) is retried with a new context by
  // re-queueing whatever has not expired.
  void ExpireBefore(Clock::time_point now, std::vector<Completion>* out) {
    auto expire = [&](std::vector<Waiter>& ws) {
      std::vector<Waiter> keep;
      for (auto& w : ws) {
        if (w.deadline <= now) {
          Finish(w, Outcome::kTimeout, out);
        } else {
          keep.push_back(std::move(w));
        }
      }
      ws = std::move(keep);
    };
    expire(queued_);
    for (auto it = batches_.begin(); it != batches_.end();) {
      expire(it->second.waiters);
      it = it->second.waiters.empty() ? batches_.erase(it) : std::next(it);
    }
  }

  // Batches that have waited `patience` without an answer go back to the
  // queue so the next StartBatch asks again (the request may have been lost).
  void RetryUnanswered(Clock::time_point now, Clock::duration patience) {
    for (auto it = batches_.begin(); it != batches_.end();) {
      if (!it->second.has_index && it->second.started + patience <= now) {
        auto ctx = it->first;
        ++it;
        Requeue(ctx);
      } else {
        ++it;
      }
    }
  }

  void MarkStarted(const std::string& ctx, Clock::time_point now) {
    auto it = batches_.find(ctx);
    if (it != batches_.end()) it->second.started = now;
  }

  void FailAll(Outcome outcome, std::vector<Completion>* out) {
    for (auto& w : queued_)
      Finish(w, outcome, out);
    queued_.clear();
    for (auto& [ctx, b] : batches_) {
      for (auto& w : b.waiters)
        Finish(w, outcome, out);
    }
    batches_.clear();
  }

  size_t queued() const { return queued_.size(); }
  size_t batches() const { return batches_.size(); }

 private:
  struct Waiter {
    Clock::time_point deadline;
    Callback cb;
  };
  struct Batch {
    uint64_t index = 0;
    bool has_index = false;
    std::vector<Waiter> waiters;
    Clock::time_point started{};
  };

  static void Finish(Waiter& w, Outcome outcome, std::vector<Completion>* out) {
    out->push_back([cb = std::move(w.cb), outcome]() { cb(outcome); });
  }

  std::vector<Waiter> queued_;
  std::map<std::string, Batch> batches_;
  uint64_t incarnation_;
  uint64_t last_batch_ = 0;
};

}  // namespace phalanx::node
