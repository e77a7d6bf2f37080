// libFuzzer target: the request parser must never crash, leak, overrun or
// hang on any input, however it is split, and its results must not depend on
// how the input is split.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "resp/request_parser.h"

namespace {

using phalanx::resp::ParserLimits;
using phalanx::resp::RequestParser;

struct Run {
  std::vector<std::vector<std::string>> requests;
  bool failed = false;
  std::string error;
};

Run Parse(std::string_view input, size_t chunk, bool auth_required) {
  ParserLimits limits;
  limits.max_bulk_len = 1 << 16;  // keep memory small; limits are part of the surface
  limits.max_multibulk_len = 1 << 12;
  limits.max_query_buffer = 1 << 20;
  RequestParser p(limits);
  p.set_auth_required(auth_required);
  Run run;
  for (size_t pos = 0; pos < input.size() && !run.failed; pos += chunk) {
    p.Feed(input.substr(pos, chunk));
    for (;;) {
      std::vector<std::string> argv;
      RequestParser::Result r = p.Next(&argv);
      if (r == RequestParser::Result::kRequest) {
        if (argv.empty()) __builtin_trap();
        run.requests.push_back(std::move(argv));
        continue;
      }
      if (r == RequestParser::Result::kError) {
        run.failed = true;
        run.error = p.error();
      }
      break;
    }
  }
  return run;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  // The first byte picks the chunk size and the auth mode.
  const size_t chunk = 1 + (data[0] & 0x3f);
  const bool auth = (data[0] & 0x40) != 0;
  std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  Run whole = Parse(input, input.size() + 1, auth);
  Run split = Parse(input, chunk, auth);
  if (whole.failed != split.failed || whole.error != split.error ||
      whole.requests != split.requests) {
    __builtin_trap();
  }
  return 0;
}
