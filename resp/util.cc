#include "resp/util.h"

#include <time.h>

#include <cctype>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdlib>

namespace phalanx::resp {

bool StringToInt64(std::string_view s, int64_t* out) {
  size_t n = s.size();
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
  unsigned long long v = static_cast<unsigned long long>(s[i] - '0');
  for (++i; i < n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    if (v > ULLONG_MAX / 10) return false;
    v *= 10;
    unsigned long long d = static_cast<unsigned long long>(s[i] - '0');
    if (v > ULLONG_MAX - d) return false;
    v += d;
  }
  if (negative) {
    if (v > static_cast<unsigned long long>(LLONG_MAX) + 1) return false;
    *out = static_cast<int64_t>(0 - v);
  } else {
    if (v > static_cast<unsigned long long>(LLONG_MAX)) return false;
    *out = static_cast<int64_t>(v);
  }
  return true;
}

bool StringToInt64InRange(std::string_view s, int64_t min, int64_t max, int64_t* out) {
  int64_t v;
  if (!StringToInt64(s, &v) || v < min || v > max) return false;
  *out = v;
  return true;
}

bool StringToLongDouble(std::string_view s, long double* out) {
  constexpr size_t kMaxChars = 5 * 1024;  // Redis's MAX_LONG_DOUBLE_CHARS
  if (s.empty() || s.size() >= kMaxChars) return false;
  std::string buf(s);  // NUL-terminated for strtold
  errno = 0;
  char* end = nullptr;
  long double v = strtold(buf.c_str(), &end);
  if (std::isspace(static_cast<unsigned char>(buf[0])) || *end != '\0' ||
      (errno == ERANGE && (v == HUGE_VALL || v == -HUGE_VALL || std::fpclassify(v) == FP_ZERO)) ||
      std::isnan(v)) {
    return false;
  }
  *out = v;
  return true;
}

namespace {
char Lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}
}  // namespace

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (Lower(a[i]) != Lower(b[i])) return false;
  }
  return true;
}

std::string ToLower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    c = Lower(c);
  return out;
}

int64_t WallClockMs() {
  return WallClockUs() / 1000;
}

int64_t WallClockUs() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

int64_t MonotonicMs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

}  // namespace phalanx::resp
