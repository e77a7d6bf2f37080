// Helpers every C++ test suite shares: bounded polling and temporary
// directories. Header-only; link phalanx_test_support.
//
// The namespace is phalanx::test_support (not "testing", which inside
// phalanx:: would hide GoogleTest's ::testing).
#pragma once

#include <stdlib.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

namespace phalanx::test_support {

// Polls `pred` every `poll` until it holds or `timeout` has passed, and asks
// once more at the deadline. True when it held. For waits on other threads
// and processes; the timeout is an upper bound, never a measurement.
inline bool Eventually(const std::function<bool()>& pred,
                       std::chrono::milliseconds timeout = std::chrono::milliseconds(5000),
                       std::chrono::milliseconds poll = std::chrono::milliseconds(5)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(poll);
  }
  return pred();
}

// A fresh directory $TMPDIR/<prefix>-XXXXXX (or under /tmp), removed with
// everything in it when the object goes. Aborts if it cannot be made.
class TempDir {
 public:
  explicit TempDir(std::string_view prefix = "phalanx-test") {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base != nullptr && *base ? base : "/tmp") + "/" +
                       std::string(prefix) + "-XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    char* p = ::mkdtemp(buf.data());
    if (p == nullptr) std::abort();
    path_ = p;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // path()/name (not created).
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace phalanx::test_support
