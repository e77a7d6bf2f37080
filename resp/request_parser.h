// RequestParser: turns the bytes a client sends into argument vectors, as
// Redis's processInputBuffer does (networking.c), with the same limits and
// the same error texts.
//
// A request is either a RESP multibulk ("*N\r\n" then N "$len\r\n<bytes>\r\n")
// or an inline command (one line, split like sdssplitargs: quotes and
// escapes). Multibulk headers are checked here, line by line, as soon as they
// arrive — before their payload is buffered — and each payload is copied once,
// from the receive buffer straight into its argument.
//
// Requests larger than ParserLimits::max_request_bytes (the largest a node
// can replicate) are read to their end and thrown away as they arrive, never
// buffered whole: the connection gets kTooLarge and stays usable.
//
// Pull model: Feed() appends bytes; Next() yields one request at a time, so a
// connection parses request N+1 only after request N was dispatched. This is
// what makes the stricter limits before AUTH follow the authentication state
// of the moment, as in Redis. Not thread-safe: one parser per connection.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace phalanx::resp {

struct ParserLimits {
  int64_t max_multibulk_len = 1024 * 1024;          // elements in one request
  int64_t max_bulk_len = 512LL * 1024 * 1024;       // proto-max-bulk-len
  size_t max_query_buffer = 1024ULL * 1024 * 1024;  // client-query-buffer-limit
  size_t max_inline_len = 64 * 1024;                // PROTO_INLINE_MAX_SIZE
  int64_t unauthenticated_max_multibulk_len = 10;   // while AUTH is required
  int64_t unauthenticated_max_bulk_len = 16384;     // while AUTH is required
  // A multibulk whose argument bytes add up to more is discarded (kTooLarge).
  // 0: no such limit.
  uint64_t max_request_bytes = 0;
};

class RequestParser {
 public:
  enum class Result {
    kRequest,   // *argv holds one request (never empty)
    kNeedMore,  // no complete request buffered
    kError,     // protocol error: reply error() (if not empty) and close
    kTooLarge,  // a whole request over max_request_bytes was read and dropped;
                // too_large_bytes() is its argument bytes. Reply, keep going.
  };

  explicit RequestParser(ParserLimits limits = {});
  ~RequestParser();
  RequestParser(const RequestParser&) = delete;
  RequestParser& operator=(const RequestParser&) = delete;

  // Appends received bytes. Past the query buffer limit the parser fails
  // with an empty error (Redis closes such a client without a reply).
  void Feed(std::string_view bytes);
  Result Next(std::vector<std::string>* argv);

  // The error reply without '-' and CRLF, e.g. "ERR Protocol error: invalid
  // bulk length"; empty when the connection is closed without a reply.
  const std::string& error() const { return error_; }

  // After kTooLarge: the sum of the dropped request's argument lengths.
  uint64_t too_large_bytes() const { return too_large_bytes_; }

  // While true, Redis's stricter limits for unauthenticated clients apply.
  void set_auth_required(bool v) { auth_required_ = v; }
  void set_max_bulk_len(int64_t v) { limits_.max_bulk_len = v; }
  const ParserLimits& limits() const { return limits_; }

  // Bytes received and not yet returned as requests (Redis's query buffer).
  size_t buffered_bytes() const { return (buf_.size() - pos_) + request_bytes_; }
  // True when no request is partly parsed.
  bool at_request_boundary() const { return state_ == State::kStart; }

  // Splits one inline request line like Redis's sdssplitargs. False on
  // unbalanced quotes (or a closing quote not followed by a space).
  static bool SplitInline(std::string_view line, std::vector<std::string>* argv);

 private:
  enum class State { kStart, kBulkHeader, kBulkData };

  Result Fail(std::string text);
  // Completes the request in progress after its last payload.
  Result FinishRequest(std::vector<std::string>* argv);

  ParserLimits limits_;
  bool auth_required_ = false;
  std::string buf_;
  size_t pos_ = 0;
  State state_ = State::kStart;
  int64_t elements_left_ = 0;
  int64_t bulk_left_ = 0;
  int crlf_left_ = 0;
  size_t request_bytes_ = 0;  // bytes of the current request held in argv_
  uint64_t arg_bytes_ = 0;    // the current request's declared argument bytes
  bool discarding_ = false;   // the current request is over max_request_bytes
  uint64_t too_large_bytes_ = 0;
  std::vector<std::string> argv_;  // the request being received
  bool failed_ = false;
  std::string error_;
};

}  // namespace phalanx::resp
