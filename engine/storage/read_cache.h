// ReadCache: recently read KV values in memory, in front of WiredTiger's
// B-tree, for single-key reads. Internal to engine/storage (KvStore).
//
// Invariant: a cached value is the latest committed value of its key. Apply
// keeps it so with an invalidation protocol per shard:
//   1. before its transaction commits, Apply erases every key it wrote from
//      the cache, bumps the shard's version and marks the shard pending;
//   2. the transaction commits and the new state is published;
//   3. Apply clears the pending marks.
// A reader that misses notes the shard's version, reads WiredTiger, and
// inserts what it read only if the shard is not pending and its version did
// not move meanwhile. So a value read before a commit can never be inserted
// after it, and between 1 and 3 the written keys are simply not cached (reads
// go to WiredTiger, which shows the old value until the commit and the new
// one after). Multi-key reads (MGET, EXISTS, SCAN) bypass the cache: they
// need one snapshot across keys, which per-key entries cannot give.
//
// Thread safety: all methods, any thread. Bounded by bytes; eviction is
// arbitrary (the first entry of the shard's table).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace phalanx::storage {

class ReadCache {
 public:
  explicit ReadCache(uint64_t capacity_bytes) : shard_budget_(capacity_bytes / kShards) {}

  // What a miss needs to insert later.
  struct Ticket {
    size_t shard = 0;
    uint64_t version = 0;
    bool insertable = false;
  };

  // On a hit, fills *expiry and *value and returns true. On a miss returns
  // false and fills *ticket.
  bool Lookup(std::string_view key, int64_t* expiry, std::string* value, Ticket* ticket) {
    size_t i = ShardOf(key);
    Shard& s = shards_[i];
    std::lock_guard<std::mutex> l(s.mu);
    auto it = s.map.find(key);
    if (it != s.map.end()) {
      *expiry = it->second.expiry;
      if (value != nullptr) value->assign(it->second.value);
      return true;
    }
    *ticket = Ticket{i, s.version, s.pending == 0};
    return false;
  }

  // Caches what a miss read from WiredTiger, unless the shard changed since.
  void Insert(std::string_view key, int64_t expiry, std::string_view value, const Ticket& t) {
    if (!t.insertable) return;
    uint64_t size = Size(key, value);
    if (size > shard_budget_) return;
    Shard& s = shards_[t.shard];
    std::lock_guard<std::mutex> l(s.mu);
    if (s.pending != 0 || s.version != t.version) return;
    while (s.bytes + size > shard_budget_ && !s.map.empty()) {
      auto victim = s.map.begin();
      s.bytes -= Size(victim->first, victim->second.value);
      s.map.erase(victim);
    }
    auto [it, inserted] = s.map.try_emplace(std::string(key), Cached{expiry, std::string(value)});
    if (inserted) s.bytes += size;
  }

  // Step 1 for the keys a transaction wrote (all keys if `all`).
  void BeginInvalidate(const std::vector<std::string_view>& keys, bool all) {
    if (all) {
      for (Shard& s : shards_) {
        std::lock_guard<std::mutex> l(s.mu);
        s.map.clear();
        s.bytes = 0;
        ++s.version;
        ++s.pending;
      }
    }
    for (std::string_view k : keys) {
      Shard& s = shards_[ShardOf(k)];
      std::lock_guard<std::mutex> l(s.mu);
      auto it = s.map.find(k);
      if (it != s.map.end()) {
        s.bytes -= Size(it->first, it->second.value);
        s.map.erase(it);
      }
      ++s.version;
      ++s.pending;
    }
  }

  // Step 3: the same arguments as the matching BeginInvalidate.
  void EndInvalidate(const std::vector<std::string_view>& keys, bool all) {
    if (all) {
      for (Shard& s : shards_) {
        std::lock_guard<std::mutex> l(s.mu);
        --s.pending;
      }
    }
    for (std::string_view k : keys) {
      Shard& s = shards_[ShardOf(k)];
      std::lock_guard<std::mutex> l(s.mu);
      --s.pending;
    }
  }

  uint64_t entries() {
    uint64_t n = 0;
    for (Shard& s : shards_) {
      std::lock_guard<std::mutex> l(s.mu);
      n += s.map.size();
    }
    return n;
  }

 private:
  static constexpr size_t kShards = 64;
  struct Cached {
    int64_t expiry;
    std::string value;
  };
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  };
  struct Shard {
    std::mutex mu;
    std::unordered_map<std::string, Cached, Hash, std::equal_to<>> map;
    uint64_t bytes = 0;
    uint64_t version = 0;
    uint64_t pending = 0;
  };

  static uint64_t Size(std::string_view key, std::string_view value) {
    return key.size() + value.size() + 96;  // + node, strings and bucket overhead
  }
  static size_t ShardOf(std::string_view key) {
    // The top bits, so shard choice and the table's bucket choice differ.
    return (std::hash<std::string_view>()(key) >> 58) % kShards;
  }

  const uint64_t shard_budget_;
  std::array<Shard, kShards> shards_;
};

}  // namespace phalanx::storage
