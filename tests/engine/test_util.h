// Helpers shared by the engine/storage tests.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "consensus/types.h"
#include "engine/storage/command.h"
#include "engine/storage/store.h"
#include "tests/support/test_util.h"

namespace phalanx::storage::testing {

// A fresh directory, removed with everything in it (tests/support/test_util.h).
class TempDir : public test_support::TempDir {
 public:
  TempDir() : test_support::TempDir("phalanx-engine") {}
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
