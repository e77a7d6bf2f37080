#include "membership/broadcast.h"

#include "membership/codec.h"

namespace phalanx::membership {

namespace {
// The smallest update (a kLeft with a one-byte id): below this no update fits.
constexpr size_t kMinUpdateSize = 1 + 2 + 8;
}  // namespace

void BroadcastQueue::Push(Update update) {
  Forget(update.id);
  Key key{0, next_order_++, update.id, codec::UpdateSize(update)};
  std::string id = update.id;
  order_.insert(key);
  by_id_.emplace(std::move(id), Item{std::move(update), std::move(key)});
}

void BroadcastQueue::Forget(const std::string& id) {
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return;
  order_.erase(it->second.key);
  by_id_.erase(it);
}

std::vector<Update> BroadcastQueue::Take(size_t budget, int limit) {
  std::vector<Update> out;
  std::vector<std::string> picked;
  // After this many updates in a row that do not fit, the packet is as
  // full as it is going to get: stop rather than walk a long queue.
  constexpr int kMaxMisfits = 16;
  int misfits = 0;
  for (auto it = order_.begin();
       it != order_.end() && budget >= kMinUpdateSize && misfits < kMaxMisfits; ++it) {
    if (it->size > budget) {
      ++misfits;
      continue;
    }
    misfits = 0;
    budget -= it->size;
    out.push_back(by_id_.at(it->id).update);
    picked.push_back(it->id);
  }
  // Re-key after the walk: changing keys during it would revisit them.
  for (const std::string& id : picked) {
    Item& item = by_id_.at(id);
    order_.erase(item.key);
    item.key.transmits++;
    if (item.key.transmits >= limit) {
      by_id_.erase(id);
    } else {
      order_.insert(item.key);
    }
  }
  return out;
}

}  // namespace phalanx::membership
