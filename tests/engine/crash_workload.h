// The deterministic workload shared by the crash test and its child: the
// content of log entry i depends on i alone, so a checker can tell what every
// entry and the applied state must be without trusting the process that
// wrote them.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "engine/storage/command.h"
#include "engine/storage/options.h"

namespace phalanx::storage::crash {

inline constexpr int64_t kNow = 1000;

inline Command CommandFor(uint64_t i) {
  if (i % 997 == 0) return Command::FlushAll(kNow);
  switch (i % 3) {
    case 0:
      return Command::IncrBy("ctr", 1, kNow);
    case 1: {
      std::string v = "v" + std::to_string(i) + ":";
      v.resize(64 + i % 200, 'p');
      return Command::Set("k" + std::to_string(i % 64), v, kNow);
    }
    default: {
      std::string v = std::to_string(i);
      return Command::MSet({{"m" + std::to_string(i % 16), v}, {"n" + std::to_string(i % 16), v}},
                           kNow);
    }
  }
}

// An entry the child writes and then overwrites before reporting it: it may
// survive a crash only beyond the last reported index.
inline std::string TentativeData(uint64_t i) {
  return "tentative:" + std::to_string(i);
}

// The KV state after applying entries 1..n.
inline std::map<std::string, std::string> ModelAfter(uint64_t n) {
  std::map<std::string, std::string> m;
  int64_t ctr = 0;
  for (uint64_t i = 1; i <= n; ++i) {
    Command c = CommandFor(i);
    switch (c.op) {
      case CommandOp::kFlushAll:
        m.clear();
        ctr = 0;
        break;
      case CommandOp::kIncrBy:
        ctr = (m.count("ctr") ? ctr : 0) + 1;
        m["ctr"] = std::to_string(ctr);
        break;
      case CommandOp::kSet:
        m[c.args[0]] = c.args[1];
        break;
      case CommandOp::kMSet:
        for (size_t a = 0; a < c.args.size(); a += 2)
          m[c.args[a]] = c.args[a + 1];
        break;
      default:
        break;
    }
  }
  return m;
}

inline Options CrashOptions(const std::string& dir) {
  Options o;
  o.dir = dir;
  o.cache_size_mb = 64;
  o.log_file_max_mb = 2;
  o.checkpoint_interval_s = 1;  // background checkpoints race with the kills too
  o.checkpoint_log_mb = 4;
  o.session_max = 100;
  o.log_cache_entries = 64;  // older entries come from the table
  o.snapshot_entries = 300;  // frequent snapshots, concurrent with Apply
  o.compaction_step_entries = 100;
  o.message_sink = [](std::string_view) {};
  return o;
}

}  // namespace phalanx::storage::crash
