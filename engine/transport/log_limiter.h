// Rate limiting for repeated log lines ("peer 3 refused us", "stream to 2
// failed"): one line per key per interval, with the count of lines swallowed
// in between. Internal to the transport; one instance per Transport.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

namespace phalanx::transport::internal {

class LogLimiter {
 public:
  explicit LogLimiter(std::chrono::milliseconds interval) : interval_(interval) {}

  // True when a line under `key` may be written now; then *suppressed holds how
  // many were refused for this key since the last allowed one. Thread-safe.
  bool Allow(const std::string& key, uint64_t* suppressed);

 private:
  struct Slot {
    std::chrono::steady_clock::time_point last;
    uint64_t suppressed = 0;
  };
  static constexpr size_t kMaxKeys = 1024;  // keys come from peers and reasons; bound anyway

  const std::chrono::milliseconds interval_;
  std::mutex mu_;
  std::unordered_map<std::string, Slot> slots_;
};

// "" for 0, else " (N similar lines suppressed)": the tail of a limited line.
std::string SuppressedNote(uint64_t suppressed);

}  // namespace phalanx::transport::internal
