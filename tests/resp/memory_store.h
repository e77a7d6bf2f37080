// MemoryStore: an in-memory resp::Store for the front end's tests — one
// mutex, one std::map, WriteCommand semantics applied minimally (the real
// ones live in engine/storage and are tested there; this fake borrows the
// state machine's number parsing, formatting and error texts from
// engine/storage/command.h so that its replies match byte for byte).
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

  void Write(WriteCommand cmd, std::function<void(StoreResult)> done) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      max_inflight_ = std::max(max_inflight_, ++inflight_);
    }
    Schedule([this, cmd = std::move(cmd), done = std::move(done)] {
      StoreResult r;
      {
        std::lock_guard<std::mutex> lock(mu_);
        --inflight_;
        ++writes_;
        if (fail_writes_ > 0) {
          --fail_writes_;
          r = StoreResult::Error(fail_text_);
        } else {
          r = ApplyLocked(cmd);
        }
      }
      done(std::move(r));
    });
  }

  void ReadBarrier(std::function<void(StoreResult)> done) override {
    Schedule([this, done = std::move(done)] {
      {
        std::lock_guard<std::mutex> lock(mu_);
        ++barriers_;
      }
      done(StoreResult::Ok());
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
  void Admin(std::vector<std::string> args, std::function<void(StoreResult)> done) override {
    if (!args.empty() && args[0] == "ECHO-ADMIN") {
      std::string joined;
      for (size_t i = 1; i < args.size(); ++i)
        joined += (i > 1 ? " " : "") + args[i];
      done(StoreResult::Bulk(std::move(joined)));
      return;
    }
    done(StoreResult::Error("ERR unknown subcommand"));
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

  StoreResult ApplyLocked(const WriteCommand& c) {
    const int64_t now = c.now_ms;
    switch (c.op) {
      case WriteOp::kSet: {
        Record* old = LiveLocked(c.args[0], now);
        std::optional<std::string> old_value;
        if (old) old_value = old->value;
        StoreResult get = old_value ? StoreResult::Bulk(*old_value) : StoreResult::Nil();
        bool nx = c.flags & kSetNx, xx = c.flags & kSetXx;
        if ((nx && old) || (xx && !old)) {
          return (c.flags & kSetGet) ? get : StoreResult::Nil();
        }
        int64_t exp = (c.flags & kSetKeepTtl) ? (old ? old->expire_at_ms : 0) : c.expire_at_ms;
        if (exp != 0 && exp <= now) {
          data_.erase(c.args[0]);
        } else {
          data_[c.args[0]] = Record{c.args[1], exp};
        }
        return (c.flags & kSetGet) ? get : StoreResult::Ok();
      }
      case WriteOp::kDel: {
        int64_t n = 0;
        for (const auto& k : c.args) {
          if (LiveLocked(k, now)) {
            data_.erase(k);
            ++n;
          }
        }
        return StoreResult::Integer(n);
      }
      case WriteOp::kIncrBy: {
        Record* r = LiveLocked(c.args[0], now);
        int64_t v = 0;
        if (r && !StringToInt64(r->value, &v)) {
          return StoreResult::Error(std::string(storage::kErrNotInteger));
        }
        int64_t out;
        if (__builtin_add_overflow(v, c.delta, &out)) {
          return StoreResult::Error(std::string(storage::kErrOverflow));
        }
        if (r) {
          r->value = std::to_string(out);
        } else {
          data_[c.args[0]] = Record{std::to_string(out), 0};
        }
        return StoreResult::Integer(out);
      }
      case WriteOp::kAppend: {
        Record* r = LiveLocked(c.args[0], now);
        if (r) {
          r->value += c.args[1];
          return StoreResult::Integer(static_cast<int64_t>(r->value.size()));
        }
        data_[c.args[0]] = Record{c.args[1], 0};
        return StoreResult::Integer(static_cast<int64_t>(c.args[1].size()));
      }
      case WriteOp::kMSet:
      case WriteOp::kMSetNx: {
        if (c.op == WriteOp::kMSetNx) {
          for (size_t i = 0; i < c.args.size(); i += 2) {
            if (LiveLocked(c.args[i], now)) return StoreResult::Integer(0);
          }
        }
        for (size_t i = 0; i < c.args.size(); i += 2)
          data_[c.args[i]] = Record{c.args[i + 1], 0};
        return c.op == WriteOp::kMSet ? StoreResult::Ok() : StoreResult::Integer(1);
      }
      case WriteOp::kExpire: {
        Record* r = LiveLocked(c.args[0], now);
        if (!r) return StoreResult::Integer(0);
        int64_t cur = r->expire_at_ms == 0 ? LLONG_MAX : r->expire_at_ms;
        if ((c.flags & kExpireNx) && r->expire_at_ms != 0) return StoreResult::Integer(0);
        if ((c.flags & kExpireXx) && r->expire_at_ms == 0) return StoreResult::Integer(0);
        if ((c.flags & kExpireGt) && c.expire_at_ms <= cur) return StoreResult::Integer(0);
        if ((c.flags & kExpireLt) && c.expire_at_ms >= cur) return StoreResult::Integer(0);
        if (c.expire_at_ms <= now) {
          data_.erase(c.args[0]);
        } else {
          r->expire_at_ms = c.expire_at_ms;
        }
        return StoreResult::Integer(1);
      }
      case WriteOp::kPersist: {
        Record* r = LiveLocked(c.args[0], now);
        if (!r || r->expire_at_ms == 0) return StoreResult::Integer(0);
        r->expire_at_ms = 0;
        return StoreResult::Integer(1);
      }
      case WriteOp::kFlushAll:
        data_.clear();
        return StoreResult::Ok();
      case WriteOp::kGetDel: {
        Record* r = LiveLocked(c.args[0], now);
        if (!r) return StoreResult::Nil();
        StoreResult out = StoreResult::Bulk(r->value);
        data_.erase(c.args[0]);
        return out;
      }
      case WriteOp::kGetEx: {
        Record* r = LiveLocked(c.args[0], now);
        if (!r) return StoreResult::Nil();
        StoreResult out = StoreResult::Bulk(r->value);
        if (c.flags & kGetExSetExpiry) {
          if (c.expire_at_ms <= now) {
            data_.erase(c.args[0]);
          } else {
            r->expire_at_ms = c.expire_at_ms;
          }
        } else if (c.flags & kGetExPersist) {
          r->expire_at_ms = 0;
        }
        return out;
      }
      case WriteOp::kIncrByFloat: {
        long double incr, v = 0;
        if (!storage::ParseLongDouble(c.args[1], &incr)) {
          return StoreResult::Error(std::string(storage::kErrNotFloat));
        }
        Record* r = LiveLocked(c.args[0], now);
        if (r && !storage::ParseLongDouble(r->value, &v)) {
          return StoreResult::Error(std::string(storage::kErrNotFloat));
        }
        v += incr;
        if (std::isnan(v) || std::isinf(v)) {
          return StoreResult::Error(std::string(storage::kErrNanOrInf));
        }
        std::string text = storage::FormatLongDouble(v);
        if (r) {
          r->value = text;
        } else {
          data_[c.args[0]] = Record{text, 0};
        }
        return StoreResult::Bulk(text);
      }
      case WriteOp::kSetRange: {
        Record* r = LiveLocked(c.args[0], now);
        const std::string& value = c.args[1];
        if (value.empty())
          return StoreResult::Integer(r ? static_cast<int64_t>(r->value.size()) : 0);
        if (!r) r = &(data_[c.args[0]] = Record{"", 0});
        size_t off = static_cast<size_t>(c.delta);
        if (r->value.size() < off + value.size()) r->value.resize(off + value.size(), '\0');
        r->value.replace(off, value.size(), value);
        return StoreResult::Integer(static_cast<int64_t>(r->value.size()));
      }
    }
    return StoreResult::Error("ERR unknown op");
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
