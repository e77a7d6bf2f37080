// Helpers the plain-main benchmarks share: elapsed time and fatal errors.
#pragma once

#include <errno.h>  // program_invocation_short_name (glibc)

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace phalanx::bench {

using Clock = std::chrono::steady_clock;

// Seconds since `since`, as a double.
inline double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

// Prints "<program>: <what>" to stderr and exits 1.
[[noreturn]] inline void Die(const std::string& what) {
  std::fprintf(stderr, "%s: %s\n", program_invocation_short_name, what.c_str());
  std::exit(1);
}

}  // namespace phalanx::bench
