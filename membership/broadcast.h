// The queue of updates waiting to be piggybacked (memberlist's
// TransmitLimitedQueue is the model).
//
// Each update rides on outgoing packets a limited number of times, about
// λ·log(n): SWIM §4.1 shows that an epidemic with that many retransmissions
// reaches every member with high probability, while keeping the bytes each
// member sends per period independent of the cluster size. Updates sent the
// fewest times go first (newest first among equals), so fresh news is never
// starved by old news. A newer update about a member replaces any queued one
// about the same member: there is no point spreading what is already stale.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "membership/types.h"

namespace phalanx::membership {

class BroadcastQueue {
 public:
  // Queues `update`, replacing any queued update about the same member.
  void Push(Update update);
  // Picks updates whose encoded sizes (codec::UpdateSize) fit in `budget`
  // bytes, counts one transmission for each, and drops those that reached
  // `limit` transmissions.
  std::vector<Update> Take(size_t budget, int limit);
  // Drops any queued update about `id`.
  void Forget(const std::string& id);
  size_t size() const { return by_id_.size(); }
  bool empty() const { return by_id_.empty(); }

 private:
  struct Key {
    int transmits;
    uint64_t order;  // larger: newer
    std::string id;
    size_t size;  // encoded bytes, here so a scan need not look the item up
    bool operator<(const Key& o) const {
      if (transmits != o.transmits) return transmits < o.transmits;
      if (order != o.order) return order > o.order;
      return id < o.id;
    }
  };
  struct Item {
    Update update;
    Key key;
  };
  std::map<std::string, Item> by_id_;
  std::set<Key> order_;
  uint64_t next_order_ = 0;
};

}  // namespace phalanx::membership
