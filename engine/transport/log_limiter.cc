#include "engine/transport/log_limiter.h"

namespace phalanx::transport::internal {

bool LogLimiter::Allow(const std::string& key, uint64_t* suppressed) {
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard<std::mutex> lock(mu_);
  auto it = slots_.find(key);
  if (it == slots_.end()) {
    if (slots_.size() >= kMaxKeys) slots_.clear();
    slots_.emplace(key, Slot{now, 0});
    *suppressed = 0;
    return true;
  }
  Slot& slot = it->second;
  if (now - slot.last < interval_) {
    ++slot.suppressed;
    return false;
  }
  *suppressed = slot.suppressed;
  slot.suppressed = 0;
  slot.last = now;
  return true;
}

std::string SuppressedNote(uint64_t suppressed) {
  if (suppressed == 0) return "";
  return " (" + std::to_string(suppressed) + " similar lines suppressed)";
}

}  // namespace phalanx::transport::internal
