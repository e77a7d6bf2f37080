// Small helpers shared by the front end: Redis's strict number parsing,
// case-insensitive comparison and the wall clock the proposer uses.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "util/string2ll.h"

namespace phalanx::resp {

// Redis's string2ll (util.c): strict base-10 int64 — no spaces, no '+', no
// leading zeros, no "-0", at most 20 characters. The one port is util's.
using util::StringToInt64;

// Redis's string2l-based getIntFromObject: StringToInt64 within [min, max].
bool StringToInt64InRange(std::string_view s, int64_t min, int64_t max, int64_t* out);

// Redis 7.0's string2ld (util.c): strtold over the whole text; refuses empty
// or overlong (>= 5120 bytes) text, leading space, trailing bytes, NaN, and
// overflow or underflow. "inf" is accepted. Text after an embedded NUL is
// not looked at (as Redis).
bool StringToLongDouble(std::string_view s, long double* out);

bool EqualsIgnoreCase(std::string_view a, std::string_view b);
std::string ToLower(std::string_view s);

// Milliseconds / microseconds since the Unix epoch (CLOCK_REALTIME).
int64_t WallClockMs();
int64_t WallClockUs();
// A monotonic clock in milliseconds, for idle timeouts and ages.
int64_t MonotonicMs();

}  // namespace phalanx::resp
