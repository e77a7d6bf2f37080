// Glob matching for KEYS and SCAN MATCH, with Redis's stringmatchlen rules:
// '*', '?', '[...]' (with '^' negation, 'a-z' ranges and '\' escapes) and '\'
// escapes outside classes.
//
// Unlike Redis before CVE-2022-36021 / CVE-2024-31228, it never recurses (a
// single backtracking point: the last '*'), so it cannot overflow the stack,
// and its work is at most pattern length x string length steps — capped by
// `max_steps`, past which the key counts as not matching. Patterns longer than
// kGlobMaxPatternLen match nothing.
#pragma once

#include <cstddef>
#include <string_view>

namespace phalanx::resp {

inline constexpr size_t kGlobMaxSteps = 1 << 20;
inline constexpr size_t kGlobMaxPatternLen = 64 * 1024;

bool GlobMatch(std::string_view pattern, std::string_view str, size_t max_steps = kGlobMaxSteps);

}  // namespace phalanx::resp
