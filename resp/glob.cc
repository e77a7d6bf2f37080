#include "resp/glob.h"

#include <utility>

namespace phalanx::resp {

namespace {

// Whether the single-character token at pattern[p] ('?', a class, an escape
// or a literal) matches c. Sets *next to the position after the token.
bool TokenMatches(std::string_view pat, size_t p, char c, size_t* next) {
  const size_t m = pat.size();
  switch (pat[p]) {
    case '?':
      *next = p + 1;
      return true;
    case '[': {
      size_t i = p + 1;
      bool negate = i < m && pat[i] == '^';
      if (negate) ++i;
      bool match = false;
      for (;;) {
        if (i < m && pat[i] == '\\' && m - i >= 2) {
          ++i;
          if (pat[i] == c) match = true;
        } else if (i < m && pat[i] == ']') {
          break;
        } else if (i >= m) {
          // Unterminated class: it runs to the end of the pattern.
          i = m - 1;
          break;
        } else if (m - i >= 3 && pat[i + 1] == '-') {
          // Redis compares plain (signed) chars: a range's ends and the
          // character are widened as signed on purpose, to match it.
          // NOLINTBEGIN(bugprone-signed-char-misuse)
          int start = static_cast<signed char>(pat[i]);
          int end = static_cast<signed char>(pat[i + 2]);
          int ch = static_cast<signed char>(c);
          // NOLINTEND(bugprone-signed-char-misuse)
          if (start > end) std::swap(start, end);
          i += 2;
          if (ch >= start && ch <= end) match = true;
        } else if (pat[i] == c) {
          match = true;
        }
        ++i;
      }
      *next = i + 1;
      return negate ? !match : match;
    }
    case '\\':
      if (m - p >= 2) {
        *next = p + 2;
        return pat[p + 1] == c;
      }
      *next = p + 1;
      return c == '\\';
    default:
      *next = p + 1;
      return pat[p] == c;
  }
}

}  // namespace

bool GlobMatch(std::string_view pat, std::string_view str, size_t max_steps) {
  const size_t m = pat.size();
  const size_t n = str.size();
  if (m > kGlobMaxPatternLen) return false;
  // Redis's loop never starts on an empty string: only an empty pattern matches it.
  if (n == 0) return m == 0;
  size_t p = 0, s = 0;
  size_t star_p = m;  // m: no '*' seen yet
  size_t star_s = 0;
  size_t steps = 0;
  while (s < n) {
    if (++steps > max_steps) return false;
    if (p < m && pat[p] == '*') {
      while (p < m && pat[p] == '*')
        ++p;
      if (p == m) return true;  // a trailing '*' matches the rest
      star_p = p;
      star_s = s;
      continue;
    }
    size_t next = p;
    bool matched = p < m && TokenMatches(pat, p, str[s], &next);
    steps += next - p;  // a long [class] costs its length
    if (matched) {
      p = next;
      ++s;
      continue;
    }
    if (star_p == m) return false;
    // Let the last '*' swallow one more character and retry from there.
    p = star_p;
    s = ++star_s;
  }
  while (p < m && pat[p] == '*')
    ++p;
  return p == m;
}

}  // namespace phalanx::resp
