#include "resp/request_parser.h"

#include <algorithm>
#include <cstring>

#include "resp/util.h"

namespace phalanx::resp {

namespace {
constexpr std::string_view kProtoErr = "ERR Protocol error: ";
// Argument vectors are grown as elements arrive, never sized from a declared
// count (Redis caps its first allocation the same way).
constexpr int64_t kMaxReserve = 1024;
// Past this many bytes, consumed input is compacted away.
constexpr size_t kCompactAt = size_t{64} * 1024;
// A payload up to this size is allocated whole when its header arrives; a
// larger one grows (doubling, capped at its length) as its bytes arrive, so
// a header alone cannot make the parser allocate 512 MB.
constexpr size_t kReserveWhole = size_t{1} << 20;
}  // namespace

RequestParser::RequestParser(ParserLimits limits) : limits_(limits) {}

RequestParser::~RequestParser() = default;

void RequestParser::Feed(std::string_view bytes) {
  if (failed_) return;
  if (pos_ > 0 && (pos_ == buf_.size() || pos_ >= kCompactAt)) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
  buf_.append(bytes);
  if (buffered_bytes() > limits_.max_query_buffer) {
    failed_ = true;
    error_.clear();  // Redis frees the client without a reply
  }
}

RequestParser::Result RequestParser::Fail(std::string text) {
  failed_ = true;
  error_ = std::move(text);
  return Result::kError;
}

RequestParser::Result RequestParser::FinishRequest(std::vector<std::string>* argv) {
  state_ = State::kStart;
  request_bytes_ = 0;
  if (discarding_) {
    discarding_ = false;
    too_large_bytes_ = arg_bytes_;
    argv_.clear();
    return Result::kTooLarge;
  }
  *argv = std::move(argv_);
  argv_.clear();
  return Result::kRequest;
}

RequestParser::Result RequestParser::Next(std::vector<std::string>* argv) {
  if (failed_) return Result::kError;
  for (;;) {
    const size_t size = buf_.size();
    switch (state_) {
      case State::kStart: {
        if (pos_ == size) return Result::kNeedMore;
        const char* base = buf_.data();
        if (base[pos_] == '*') {
          const char* cr = static_cast<const char*>(std::memchr(base + pos_, '\r', size - pos_));
          if (cr == nullptr) {
            if (size - pos_ > limits_.max_inline_len) {
              return Fail(std::string(kProtoErr) + "too big mbulk count string");
            }
            return Result::kNeedMore;
          }
          size_t nl = static_cast<size_t>(cr - base);
          if (nl + 1 >= size) return Result::kNeedMore;  // the byte after '\r' (skipped, as Redis)
          int64_t n = 0;
          bool ok = StringToInt64(std::string_view(base + pos_ + 1, nl - pos_ - 1), &n);
          if (!ok || n > limits_.max_multibulk_len) {
            return Fail(std::string(kProtoErr) + "invalid multibulk length");
          }
          if (n > limits_.unauthenticated_max_multibulk_len && auth_required_) {
            return Fail(std::string(kProtoErr) + "unauthenticated multibulk length");
          }
          const size_t header = nl + 2 - pos_;
          pos_ = nl + 2;
          if (n <= 0) continue;  // "*0" and "*-1": nothing to run
          elements_left_ = n;
          request_bytes_ = header;
          arg_bytes_ = 0;
          discarding_ = false;
          argv_.clear();
          argv_.reserve(static_cast<size_t>(std::min<int64_t>(n, kMaxReserve)));
          state_ = State::kBulkHeader;
          continue;
        }
        // Inline request: one line ending in "\n" (an optional "\r" before it).
        const char* lf = static_cast<const char*>(std::memchr(base + pos_, '\n', size - pos_));
        if (lf == nullptr) {
          if (size - pos_ > limits_.max_inline_len) {
            return Fail(std::string(kProtoErr) + "too big inline request");
          }
          return Result::kNeedMore;
        }
        size_t end = static_cast<size_t>(lf - base);
        size_t line_end = (end > pos_ && base[end - 1] == '\r') ? end - 1 : end;
        std::vector<std::string> args;
        bool ok = SplitInline(std::string_view(base + pos_, line_end - pos_), &args);
        if (!ok) return Fail(std::string(kProtoErr) + "unbalanced quotes in request");
        pos_ = end + 1;
        if (args.empty()) continue;  // a blank line
        *argv = std::move(args);
        return Result::kRequest;
      }
      case State::kBulkHeader: {
        if (pos_ == size) return Result::kNeedMore;
        const char* base = buf_.data();
        const char* cr = static_cast<const char*>(std::memchr(base + pos_, '\r', size - pos_));
        if (cr == nullptr) {
          if (size - pos_ > limits_.max_inline_len) {
            return Fail(std::string(kProtoErr) + "too big bulk count string");
          }
          return Result::kNeedMore;
        }
        size_t nl = static_cast<size_t>(cr - base);
        if (nl + 1 >= size) return Result::kNeedMore;
        if (base[pos_] != '$') {
          return Fail(std::string(kProtoErr) + "expected '$', got '" + base[pos_] + "'");
        }
        int64_t len = 0;
        bool ok = StringToInt64(std::string_view(base + pos_ + 1, nl - pos_ - 1), &len);
        if (!ok || len < 0 || len > limits_.max_bulk_len) {
          return Fail(std::string(kProtoErr) + "invalid bulk length");
        }
        if (len > limits_.unauthenticated_max_bulk_len && auth_required_) {
          return Fail(std::string(kProtoErr) + "unauthenticated bulk length");
        }
        request_bytes_ += nl + 2 - pos_;
        pos_ = nl + 2;
        arg_bytes_ += static_cast<uint64_t>(len);
        if (limits_.max_request_bytes != 0 && arg_bytes_ > limits_.max_request_bytes &&
            !discarding_) {
          // From here on the request is read and dropped, not held.
          discarding_ = true;
          argv_.clear();
          argv_.shrink_to_fit();
          request_bytes_ = 0;
        }
        if (!discarding_) {
          argv_.emplace_back();
          argv_.back().reserve(std::min(static_cast<size_t>(len), kReserveWhole));
        }
        bulk_left_ = len;
        crlf_left_ = 2;
        state_ = State::kBulkData;
        continue;
      }
      case State::kBulkData: {
        size_t take = std::min<size_t>(size - pos_, static_cast<size_t>(bulk_left_));
        if (take > 0) {
          if (!discarding_) {
            std::string& arg = argv_.back();
            if (arg.capacity() < arg.size() + take) {
              const size_t whole = arg.size() + static_cast<size_t>(bulk_left_);
              arg.reserve(std::min(whole, std::max(2 * arg.capacity(), arg.size() + take)));
            }
            arg.append(buf_, pos_, take);
            request_bytes_ += take;
          }
          pos_ += take;
          bulk_left_ -= static_cast<int64_t>(take);
        }
        if (bulk_left_ > 0) return Result::kNeedMore;
        // Redis skips the two bytes after the payload without looking at them.
        size_t skip = std::min<size_t>(size - pos_, static_cast<size_t>(crlf_left_));
        pos_ += skip;
        crlf_left_ -= static_cast<int>(skip);
        if (crlf_left_ > 0) return Result::kNeedMore;
        if (--elements_left_ > 0) {
          state_ = State::kBulkHeader;
          continue;
        }
        return FinishRequest(argv);
      }
    }
  }
}

bool RequestParser::SplitInline(std::string_view line, std::vector<std::string>* argv) {
  // Redis works on a C string: a NUL byte ends the line.
  size_t nul = line.find('\0');
  if (nul != std::string_view::npos) line = line.substr(0, nul);
  auto is_space = [](char c) {
    return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\v' || c == '\f';
  };
  auto is_hex = [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
  };
  auto hex_val = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return c - 'A' + 10;
  };
  const size_t n = line.size();
  auto at = [&](size_t i) -> char { return i < n ? line[i] : '\0'; };
  argv->clear();
  size_t p = 0;
  for (;;) {
    while (p < n && is_space(line[p]))
      ++p;
    if (p >= n) return true;
    std::string current;
    bool inq = false, insq = false, done = false;
    while (!done) {
      char c = at(p);
      if (inq) {
        if (c == '\\' && at(p + 1) == 'x' && is_hex(at(p + 2)) && is_hex(at(p + 3))) {
          current.push_back(static_cast<char>(hex_val(at(p + 2)) * 16 + hex_val(at(p + 3))));
          p += 3;
        } else if (c == '\\' && at(p + 1) != '\0') {
          ++p;
          char e = at(p);
          switch (e) {
            case 'n':
              e = '\n';
              break;
            case 'r':
              e = '\r';
              break;
            case 't':
              e = '\t';
              break;
            case 'b':
              e = '\b';
              break;
            case 'a':
              e = '\a';
              break;
            default:
              break;
          }
          current.push_back(e);
        } else if (c == '"') {
          // A closing quote must be followed by a space or nothing at all.
          if (at(p + 1) != '\0' && !is_space(at(p + 1))) return false;
          done = true;
        } else if (c == '\0') {
          return false;  // unterminated quotes
        } else {
          current.push_back(c);
        }
      } else if (insq) {
        if (c == '\\' && at(p + 1) == '\'') {
          ++p;
          current.push_back('\'');
        } else if (c == '\'') {
          if (at(p + 1) != '\0' && !is_space(at(p + 1))) return false;
          done = true;
        } else if (c == '\0') {
          return false;
        } else {
          current.push_back(c);
        }
      } else {
        switch (c) {
          case ' ':
          case '\n':
          case '\r':
          case '\t':
          case '\0':
            done = true;
            break;
          case '"':
            inq = true;
            break;
          case '\'':
            insq = true;
            break;
          default:
            current.push_back(c);
            break;
        }
      }
      if (p < n) ++p;
    }
    argv->push_back(std::move(current));
  }
}

}  // namespace phalanx::resp
