// A blocking test client for the RESP server tests: raw bytes out, whole
// RESP2/RESP3 replies back. Every wait is bounded.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace phalanx::resp::testing {

// Whether buf[*pos..] starts with one complete reply; advances *pos past it.
inline bool ParseOneReply(std::string_view buf, size_t* pos, int depth = 0) {
  if (*pos >= buf.size() || depth > 64) return false;
  size_t eol = buf.find("\r\n", *pos);
  if (eol == std::string_view::npos) return false;
  char type = buf[*pos];
  long long n =
      std::strtoll(std::string(buf.substr(*pos + 1, eol - *pos - 1)).c_str(), nullptr, 10);
  size_t after = eol + 2;
  switch (type) {
    case '$':
    case '=':
    case '!':
      if (n < 0) {
        *pos = after;
        return true;
      }
      if (buf.size() < after + static_cast<size_t>(n) + 2) return false;
      *pos = after + static_cast<size_t>(n) + 2;
      return true;
    case '*':
    case '~':
    case '>':
    case '%':
    case '|': {
      if (n < 0) {
        *pos = after;
        return true;
      }
      size_t elems = static_cast<size_t>(n) * ((type == '%' || type == '|') ? 2 : 1);
      size_t p = after;
      for (size_t i = 0; i < elems; ++i) {
        if (!ParseOneReply(buf, &p, depth + 1)) return false;
      }
      *pos = p;
      return true;
    }
    default:
      *pos = after;
      return true;
  }
}

inline size_t CountReplies(std::string_view buf) {
  size_t pos = 0, n = 0;
  while (ParseOneReply(buf, &pos))
    ++n;
  return n;
}

inline std::string Multibulk(const std::vector<std::string>& argv) {
  std::string out = "*" + std::to_string(argv.size()) + "\r\n";
  for (const std::string& a : argv)
    out += "$" + std::to_string(a.size()) + "\r\n" + a + "\r\n";
  return out;
}

class TestClient {
 public:
  // TCP to 127.0.0.1:port, or a unix socket path when `unix_path` is set.
  explicit TestClient(int port, const std::string& unix_path = "") {
    if (unix_path.empty()) {
      fd_ = socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_port = htons(static_cast<uint16_t>(port));
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      if (connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) Reset();
    } else {
      fd_ = socket(AF_UNIX, SOCK_STREAM, 0);
      sockaddr_un a{};
      a.sun_family = AF_UNIX;
      snprintf(a.sun_path, sizeof(a.sun_path), "%s", unix_path.c_str());
      if (connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) Reset();
    }
    if (fd_ >= 0) {
      int yes = 1;
      setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof(yes));
      timeval tv{10, 0};
      setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    }
  }
  ~TestClient() { Reset(); }
  TestClient(const TestClient&) = delete;
  TestClient& operator=(const TestClient&) = delete;

  bool connected() const { return fd_ >= 0; }
  bool closed_by_peer() const { return eof_; }

  bool Send(std::string_view bytes) {
    while (!bytes.empty()) {
      ssize_t n = send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }
  bool Command(const std::vector<std::string>& argv) { return Send(Multibulk(argv)); }
  void ShutdownWrite() { shutdown(fd_, SHUT_WR); }

  // Reads until `n` complete replies arrived (returned, consumed), the peer
  // closed, or the timeout passed.
  std::string ReadReplies(size_t n, int timeout_ms = 5000) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
      size_t pos = 0, count = 0;
      while (count < n && ParseOneReply(buf_, &pos))
        ++count;
      if (count == n) {
        std::string out = buf_.substr(0, pos);
        buf_.erase(0, pos);
        return out;
      }
      if (!Fill(deadline)) {
        std::string out;
        out.swap(buf_);
        return out;
      }
    }
  }
  std::string Reply(const std::vector<std::string>& argv, int timeout_ms = 5000) {
    Command(argv);
    return ReadReplies(1, timeout_ms);
  }
  // Everything until the peer closes (or the timeout): the bytes received.
  std::string ReadUntilClosed(int timeout_ms = 5000) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (Fill(deadline)) {
    }
    std::string out;
    out.swap(buf_);
    return out;
  }

 private:
  bool Fill(std::chrono::steady_clock::time_point deadline) {
    if (fd_ < 0 || eof_) return false;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left)) <= 0) return false;
    char tmp[65536];
    ssize_t n = recv(fd_, tmp, sizeof(tmp), 0);
    if (n <= 0) {
      eof_ = true;
      return false;
    }
    buf_.append(tmp, static_cast<size_t>(n));
    return true;
  }
  void Reset() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

  int fd_ = -1;
  bool eof_ = false;
  std::string buf_;
};

}  // namespace phalanx::resp::testing
