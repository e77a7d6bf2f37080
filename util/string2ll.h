// Redis's string2ll (util.c), byte for byte: the strict base-10 int64 parser
// behind INCR, the RESP length headers and every integer argument.
#pragma once

#include <cstdint>
#include <limits>
#include <string_view>

namespace phalanx::util {

// Parses all of `s` as a signed 64-bit integer. Refuses (returns false and
// leaves *out alone) the empty string, anything of 21 characters or more, a
// leading '+', spaces, leading zeros, "-0", any non-digit, and values outside
// [INT64_MIN, INT64_MAX].
inline bool StringToInt64(std::string_view s, int64_t* out) {
  using U = unsigned long long;
  constexpr U kMax = std::numeric_limits<U>::max();
  constexpr U kInt64Max = static_cast<U>(std::numeric_limits<int64_t>::max());
  const size_t n = s.size();
  if (n == 0 || n >= 21) return false;
  if (n == 1 && s[0] == '0') {
    *out = 0;
    return true;
  }
  size_t i = 0;
  bool negative = false;
  if (s[0] == '-') {
    negative = true;
    if (++i == n) return false;
  }
  if (s[i] < '1' || s[i] > '9') return false;
  U v = static_cast<U>(s[i] - '0');
  for (++i; i < n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    if (v > kMax / 10) return false;
    v *= 10;
    const U d = static_cast<U>(s[i] - '0');
    if (v > kMax - d) return false;
    v += d;
  }
  if (negative) {
    if (v > kInt64Max + 1) return false;
    *out = static_cast<int64_t>(0 - v);
  } else {
    if (v > kInt64Max) return false;
    *out = static_cast<int64_t>(v);
  }
  return true;
}

}  // namespace phalanx::util
