// The stored form of KV keys and values. Internal to engine/storage; snapshot
// chunks carry keys and values in this form.
//
// Key: kKeyPrefix | user key. WiredTiger refuses empty keys and Redis allows
// them; the prefix also leaves room for other namespaces later.
// Value: flags (1 byte; bit 0 = has expiry) | [expiry ms since the epoch,
// 8 bytes big-endian] | payload.
#pragma once

#include <wiredtiger.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "engine/storage/coding.h"

namespace phalanx::storage {

inline constexpr uint8_t kValueHasExpiry = 1;
inline constexpr char kKeyPrefix = 'k';

// A user key in stored form, built without allocating for short keys.
class StoredKey {
 public:
  explicit StoredKey(std::string_view user) : size_(user.size() + 1) {
    char* p = inline_;
    if (size_ > sizeof(inline_)) {
      heap_.resize(size_);
      p = heap_.data();
    }
    p[0] = kKeyPrefix;
    if (!user.empty()) std::memcpy(p + 1, user.data(), user.size());
    data_ = p;
  }
  StoredKey(const StoredKey&) = delete;
  StoredKey& operator=(const StoredKey&) = delete;
  WT_ITEM item() const {
    WT_ITEM it{};
    it.data = data_;
    it.size = size_;
    return it;
  }

 private:
  char inline_[64];
  std::string heap_;
  const char* data_;
  size_t size_;
};

// The user key of a stored key, or false if `stored` is not a KV key.
inline bool UserKey(std::string_view stored, std::string_view* user) {
  if (stored.empty() || stored[0] != kKeyPrefix) return false;
  *user = stored.substr(1);
  return true;
}

struct ValueView {
  int64_t expiry_ms = 0;  // 0: no expiry
  std::string_view payload;
};

// An expiry of 0 means none; otherwise the key is gone once now >= expiry.
inline bool IsExpired(int64_t expiry_ms, int64_t now_ms) {
  return expiry_ms != 0 && expiry_ms <= now_ms;
}

inline void EncodeValue(int64_t expiry_ms, std::string_view payload, std::string* out) {
  out->clear();
  if (expiry_ms != 0) {
    out->reserve(9 + payload.size());
    out->push_back(static_cast<char>(kValueHasExpiry));
    coding::PutFixed64BE(out, static_cast<uint64_t>(expiry_ms));
  } else {
    out->reserve(1 + payload.size());
    out->push_back('\0');
  }
  out->append(payload);
}

inline bool DecodeValue(std::string_view in, ValueView* out) {
  uint8_t flags;
  if (!coding::GetByte(&in, &flags) || (flags & ~kValueHasExpiry) != 0) return false;
  out->expiry_ms = 0;
  if (flags & kValueHasExpiry) {
    uint64_t e;
    if (!coding::GetFixed64BE(&in, &e)) return false;
    out->expiry_ms = static_cast<int64_t>(e);
  }
  out->payload = in;
  return true;
}

}  // namespace phalanx::storage
