// MemoryStore: an in-memory resp::Store for the front end's tests — one
// mutex, one std::map, storage::Command semantics applied minimally (the real
// ones live in engine/storage and are tested there).
//
// Completions run inline by default. With set_delay(min_ms, max_ms) they run
// on a worker thread after a random delay, so results come back on another
// thread and out of order (a write is applied when it completes, as a Raft
// apply would be). fail_next_writes(n, text) answers writes with an error.
#pragma once

#include <algorithm>
#include <chrono>
#include <climits>
#include <cmath>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <queue>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "engine/storage/command.h"
#include "resp/store.h"
#include "resp/util.h"

namespace phalanx::resp::testing {

class MemoryStore : public Store {
 public:
  MemoryStore() : worker_([this] { Work(); }) {}
  ~MemoryStore() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    worker_.join();
  }

  void set_delay(int min_ms, int max_ms) {
    std::lock_guard<std::mutex> lock(mu_);
    min_delay_ms_ = min_ms;
    max_delay_ms_ = max_ms;
  }
  void fail_next_writes(int n, std::string text) {
    std::lock_guard<std::mutex> lock(mu_);
    fail_writes_ = n;
    fail_text_ = std::move(text);
  }
  uint64_t writes() const {
    std::lock_guard<std::mutex> lock(mu_);
    return writes_;
  }
  // The most writes ever waiting for their result at once.
  int max_inflight_writes() const {
    std::lock_guard<std::mutex> lock(mu_);
    return max_inflight_;
  }
  uint64_t barriers() const {
    std::lock_guard<std::mutex> lock(mu_);
    return barriers_;
  }

  void Write(storage::Command cmd, std::function<void(storage::ApplyResult)> done) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      max_inflight_ = std::max(max_inflight_, ++inflight_);
    }
    Schedule([this, cmd = std::move(cmd), done = std::move(done)] {
      storage::ApplyResult r;
      {
        std::lock_guard<std::mutex> lock(mu_);
        --inflight_;
        ++writes_;
        if (fail_writes_ > 0) {
          --fail_writes_;
          r = storage::ApplyResult::Error(fail_text_);
        } else {
          r = ApplyLocked(cmd);
        }
      }
      done(std::move(r));
    });
  }

  void ReadBarrier(std::function<void(storage::ApplyResult)> done) override {
    Schedule([this, done = std::move(done)] {
      {
        std::lock_guard<std::mutex> lock(mu_);
        ++barriers_;
      }
      done(storage::ApplyResult::Ok());
    });
  }

  std::optional<Record> Get(std::string_view key, int64_t now_ms) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = data_.find(std::string(key));
    if (it == data_.end() || Expired(it->second, now_ms)) return std::nullopt;
    return it->second;
  }

  ScanPage Scan(uint64_t cursor, size_t count, int64_t now_ms) override {
    std::lock_guard<std::mutex> lock(mu_);
    ScanPage page;
    auto it = data_.begin();
    uint64_t pos = 0;
    while (it != data_.end() && pos < cursor) {
      ++it;
      ++pos;
    }
    for (; it != data_.end() && page.keys.size() < count; ++it, ++pos) {
      if (!Expired(it->second, now_ms)) page.keys.push_back(it->first);
    }
    page.next_cursor = it == data_.end() ? 0 : pos;
    return page;
  }

  uint64_t DbSize(int64_t now_ms) override {
    std::lock_guard<std::mutex> lock(mu_);
    uint64_t n = 0;
    for (auto& [k, r] : data_)
      n += Expired(r, now_ms) ? 0 : 1;
    return n;
  }

  std::optional<std::string> RandomKey(int64_t now_ms) override {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [k, r] : data_) {
      if (!Expired(r, now_ms)) return k;
    }
    return std::nullopt;
  }

  // PHALANX ECHO-ADMIN a b → bulk "a b"; anything else → the node's error.
  void Admin(std::vector<std::string> args,
             std::function<void(storage::ApplyResult)> done) override {
    if (!args.empty() && args[0] == "ECHO-ADMIN") {
      std::string joined;
      for (size_t i = 1; i < args.size(); ++i)
        joined += (i > 1 ? " " : "") + args[i];
      done(storage::ApplyResult::Bulk(std::move(joined)));
      return;
    }
    done(storage::ApplyResult::Error("ERR unknown subcommand"));
  }

  std::string InfoSection(std::string_view section) override {
    if (section == "raft") {
      return "role:leader\r\nnode_id:n1\r\nleader_id:n1\r\nterm:1\r\ncommit_index:0\r\n"
             "applied_index:0\r\nvoters:n1\r\n";
    }
    if (section == "membership") return "members:1\r\nmember0:id=n1,state=alive\r\n";
    if (section == "keyspace") {
      uint64_t n = DbSize(WallClockMs());
      return n == 0 ? "" : "db0:keys=" + std::to_string(n) + ",expires=0,avg_ttl=0\r\n";
    }
    return "";
  }

 private:
  static bool Expired(const Record& r, int64_t now) {
    return r.expire_at_ms != 0 && r.expire_at_ms <= now;
  }

  Record* LiveLocked(const std::string& key, int64_t now) {
    auto it = data_.find(key);
    if (it == data_.end()) return nullptr;
    if (Expired(it->second, now)) {
      data_.erase(it);
      return nullptr;
    }
    return &it->second;
  }

  storage::ApplyResult ApplyLocked(const storage::Command& c) {
    using storage::ApplyResult;
    using storage::CommandOp;
    const int64_t now = c.now_ms;
    switch (c.op) {
      case CommandOp::kSet: {
        Record* old = LiveLocked(c.args[0], now);
        std::optional<std::string> old_value;
        if (old) old_value = old->value;
        ApplyResult get = old_value ? ApplyResult::Bulk(*old_value) : ApplyResult::Nil();
        bool nx = c.flags & storage::kSetNx, xx = c.flags & storage::kSetXx;
        if ((nx && old) || (xx && !old)) {
          return (c.flags & storage::kSetGet) ? get : ApplyResult::Nil();
        }
        int64_t exp =
            (c.flags & storage::kSetKeepTtl) ? (old ? old->expire_at_ms : 0) : c.expire_at_ms;
        if (exp != 0 && exp <= now) {
          data_.erase(c.args[0]);
        } else {
          data_[c.args[0]] = Record{c.args[1], exp};
        }
        return (c.flags & storage::kSetGet) ? get : ApplyResult::Ok();
      }
      case CommandOp::kDel: {
        int64_t n = 0;
        for (const auto& k : c.args) {
          if (LiveLocked(k, now)) {
            data_.erase(k);
            ++n;
          }
        }
        return ApplyResult::Integer(n);
      }
      case CommandOp::kIncrBy: {
        Record* r = LiveLocked(c.args[0], now);
        int64_t v = 0;
        if (r && !StringToInt64(r->value, &v)) {
          return ApplyResult::Error(std::string(storage::kErrNotInteger));
        }
        int64_t out;
        if (__builtin_add_overflow(v, c.delta, &out)) {
          return ApplyResult::Error(std::string(storage::kErrOverflow));
        }
        if (r) {
          r->value = std::to_string(out);
        } else {
          data_[c.args[0]] = Record{std::to_string(out), 0};
        }
        return ApplyResult::Integer(out);
      }
      case CommandOp::kAppend: {
        Record* r = LiveLocked(c.args[0], now);
        if (r) {
          r->value += c.args[1];
          return ApplyResult::Integer(static_cast<int64_t>(r->value.size()));
        }
        data_[c.args[0]] = Record{c.args[1], 0};
        return ApplyResult::Integer(static_cast<int64_t>(c.args[1].size()));
      }
      case CommandOp::kMSet:
      case CommandOp::kMSetNx: {
        if (c.op == CommandOp::kMSetNx) {
          for (size_t i = 0; i < c.args.size(); i += 2) {
            if (LiveLocked(c.args[i], now)) return ApplyResult::Integer(0);
          }
        }
        for (size_t i = 0; i < c.args.size(); i += 2)
          data_[c.args[i]] = Record{c.args[i + 1], 0};
        return c.op == CommandOp::kMSet ? ApplyResult::Ok() : ApplyResult::Integer(1);
      }
      case CommandOp::kExpire: {
        Record* r = LiveLocked(c.args[0], now);
        if (!r) return ApplyResult::Integer(0);
        int64_t cur = r->expire_at_ms == 0 ? LLONG_MAX : r->expire_at_ms;
        if ((c.flags & storage::kExpireNx) && r->expire_at_ms != 0) return ApplyResult::Integer(0);
        if ((c.flags & storage::kExpireXx) && r->expire_at_ms == 0) return ApplyResult::Integer(0);
        if ((c.flags & storage::kExpireGt) && c.expire_at_ms <= cur) return ApplyResult::Integer(0);
        if ((c.flags & storage::kExpireLt) && c.expire_at_ms >= cur) return ApplyResult::Integer(0);
        if (c.expire_at_ms <= now) {
          data_.erase(c.args[0]);
        } else {
          r->expire_at_ms = c.expire_at_ms;
        }
        return ApplyResult::Integer(1);
      }
      case CommandOp::kPersist: {
        Record* r = LiveLocked(c.args[0], now);
        if (!r || r->expire_at_ms == 0) return ApplyResult::Integer(0);
        r->expire_at_ms = 0;
        return ApplyResult::Integer(1);
      }
      case CommandOp::kFlushAll:
        data_.clear();
        return ApplyResult::Ok();
      case CommandOp::kPurgeExpired:
        return ApplyResult::Integer(0);
      case CommandOp::kGetDel: {
        Record* r = LiveLocked(c.args[0], now);
        if (!r) return ApplyResult::Nil();
        ApplyResult out = ApplyResult::Bulk(r->value);
        data_.erase(c.args[0]);
        return out;
      }
      case CommandOp::kGetEx: {
        Record* r = LiveLocked(c.args[0], now);
        if (!r) return ApplyResult::Nil();
        ApplyResult out = ApplyResult::Bulk(r->value);
        if (c.flags & storage::kGetExSetExpiry) {
          if (c.expire_at_ms <= now) {
            data_.erase(c.args[0]);
          } else {
            r->expire_at_ms = c.expire_at_ms;
          }
        } else if (c.flags & storage::kGetExPersist) {
          r->expire_at_ms = 0;
        }
        return out;
      }
      case CommandOp::kIncrByFloat: {
        long double incr, v = 0;
        if (!storage::ParseLongDouble(c.args[1], &incr)) {
          return ApplyResult::Error(std::string(storage::kErrNotFloat));
        }
        Record* r = LiveLocked(c.args[0], now);
        if (r && !storage::ParseLongDouble(r->value, &v)) {
          return ApplyResult::Error(std::string(storage::kErrNotFloat));
        }
        v += incr;
        if (std::isnan(v) || std::isinf(v)) {
          return ApplyResult::Error(std::string(storage::kErrNanOrInf));
        }
        std::string text = storage::FormatLongDouble(v);
        if (r) {
          r->value = text;
        } else {
          data_[c.args[0]] = Record{text, 0};
        }
        return ApplyResult::Bulk(text);
      }
      case CommandOp::kSetRange: {
        Record* r = LiveLocked(c.args[0], now);
        const std::string& value = c.args[1];
        if (value.empty())
          return ApplyResult::Integer(r ? static_cast<int64_t>(r->value.size()) : 0);
        if (!r) r = &(data_[c.args[0]] = Record{"", 0});
        size_t off = static_cast<size_t>(c.delta);
        if (r->value.size() < off + value.size()) r->value.resize(off + value.size(), '\0');
        r->value.replace(off, value.size(), value);
        return ApplyResult::Integer(static_cast<int64_t>(r->value.size()));
      }
    }
    return ApplyResult::Error("ERR unknown op");
  }

  void Schedule(std::function<void()> fn) {
    int delay;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (max_delay_ms_ <= 0) {
        delay = -1;
      } else {
        std::uniform_int_distribution<int> d(min_delay_ms_, max_delay_ms_);
        delay = d(rng_);
        queue_.push(Item{std::chrono::steady_clock::now() + std::chrono::milliseconds(delay),
                         next_++, std::move(fn)});
      }
    }
    if (delay < 0) {
      fn();
    } else {
      cv_.notify_all();
    }
  }

  void Work() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      if (stop_) break;
      if (queue_.empty()) {
        cv_.wait(lock);
        continue;
      }
      auto due = queue_.top().due;
      if (std::chrono::steady_clock::now() < due) {
        cv_.wait_until(lock, due);
        continue;
      }
      auto fn = std::move(const_cast<Item&>(queue_.top()).fn);
      queue_.pop();
      lock.unlock();
      fn();
      lock.lock();
    }
    // Complete whatever is left so no caller waits forever.
    while (!queue_.empty()) {
      auto fn = std::move(const_cast<Item&>(queue_.top()).fn);
      queue_.pop();
      lock.unlock();
      fn();
      lock.lock();
    }
  }

  struct Item {
    std::chrono::steady_clock::time_point due;
    uint64_t seq;
    std::function<void()> fn;
    bool operator<(const Item& o) const { return due != o.due ? due > o.due : seq > o.seq; }
  };

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, Record> data_;
  std::priority_queue<Item> queue_;
  uint64_t next_ = 0;
  std::mt19937 rng_{12345};
  int min_delay_ms_ = 0;
  int max_delay_ms_ = 0;
  int fail_writes_ = 0;
  std::string fail_text_;
  uint64_t writes_ = 0;
  int inflight_ = 0;
  int max_inflight_ = 0;
  uint64_t barriers_ = 0;
  bool stop_ = false;
  std::thread worker_;
};

}  // namespace phalanx::resp::testing
