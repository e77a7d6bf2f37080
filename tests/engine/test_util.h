// Helpers shared by the engine/storage tests.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "consensus/types.h"
#include "engine/storage/command.h"
#include "engine/storage/store.h"

namespace phalanx::storage::testing {

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl =
        std::string(base != nullptr && *base ? base : "/tmp") + "/phalanx-engine-XXXXXX";
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
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Small sizes so tests stay light on disk and memory.
inline Options TestOptions(const std::string& dir) {
  Options o;
  o.dir = dir;
  o.cache_size_mb = 64;
  o.log_file_max_mb = 2;
  o.checkpoint_interval_s = 0;
  o.checkpoint_log_mb = 0;
  o.session_max = 100;
  o.message_sink = [](std::string_view) {};
  return o;
}

inline std::unique_ptr<Store> OpenOrDie(const Options& o) {
  auto s = Store::Open(o);
  if (!s.ok()) {
    ADD_FAILURE() << "Store::Open: " << s.status().ToString();
    return nullptr;
  }
  return std::move(s).value();
}

inline consensus::Entry MakeEntry(uint64_t index, uint64_t term, std::string data) {
  consensus::Entry e;
  e.index = index;
  e.term = term;
  e.data = std::move(data);
  return e;
}

inline std::vector<consensus::Entry> MakeEntries(uint64_t lo, uint64_t hi, uint64_t term,
                                                 size_t payload = 16) {
  std::vector<consensus::Entry> out;
  for (uint64_t i = lo; i < hi; ++i) {
    std::string d = "e" + std::to_string(i) + ":" + std::to_string(term) + ":";
    d.resize(std::max(d.size(), payload), 'x');
    out.push_back(MakeEntry(i, term, d));
  }
  return out;
}

inline bool Sanitized() {
  const char* s = std::getenv("PHALANX_SANITIZED");
  return s != nullptr && std::string(s) == "1";
}
inline bool LongMode() {
  const char* s = std::getenv("PHALANX_LONG");
  return s != nullptr && std::string(s) == "1";
}

}  // namespace phalanx::storage::testing
