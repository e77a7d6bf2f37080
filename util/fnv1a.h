// FNV-1a, 64-bit: a stable hash of bytes, the same on every platform and
// standard library (unlike std::hash). Not for anything an attacker chooses.
#pragma once

#include <cstdint>
#include <string_view>

namespace phalanx::util {

inline constexpr uint64_t kFnv1aOffsetBasis = 14695981039346656037ull;
inline constexpr uint64_t kFnv1aPrime = 1099511628211ull;

inline constexpr uint64_t Fnv1a64(std::string_view bytes) {
  uint64_t h = kFnv1aOffsetBasis;
  for (char c : bytes) {
    h ^= static_cast<unsigned char>(c);
    h *= kFnv1aPrime;
  }
  return h;
}

}  // namespace phalanx::util
