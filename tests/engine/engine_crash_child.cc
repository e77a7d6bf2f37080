// Child process of engine_crash_test: appends and applies the crash workload
// until killed, reporting on fd 3 each batch ("B <first> <last>\n") only
// after Save() returned, i.e. after the batch was durable.
//
//   engine_crash_child <dir> <seed>
//
// Exits by itself after 60 s, or with status 1 on any storage error.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>

#include "crash_workload.h"
#include "engine/storage/store.h"

using namespace phalanx;
using namespace phalanx::storage;

namespace {

[[noreturn]] void Die(const std::string& what, const Status& s) {
  std::fprintf(stderr, "engine_crash_child: %s: %s\n", what.c_str(), s.ToString().c_str());
  std::_Exit(1);
}

void Report(uint64_t first, uint64_t last) {
  char line[64];
  int n = std::snprintf(line, sizeof line, "B %llu %llu\n", static_cast<unsigned long long>(first),
                        static_cast<unsigned long long>(last));
  // One write of less than PIPE_BUF bytes: atomic.
  if (::write(3, line, static_cast<size_t>(n)) != n) std::_Exit(1);
}

consensus::Entry Real(uint64_t i) {
  consensus::Entry e;
  e.index = i;
  e.term = 1;
  e.data = crash::CommandFor(i).Encode();
  return e;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: engine_crash_child <dir> <seed>\n");
    return 2;
  }
  auto opened = Store::Open(crash::CrashOptions(argv[1]));
  if (!opened.ok()) Die("open", opened.status());
  std::unique_ptr<Store> store = std::move(opened).value();
  std::mt19937_64 rng(std::strtoull(argv[2], nullptr, 10));

  // Entries after the durable commit index may be tentative leftovers or
  // unreported real ones: like a Raft follower, start again right after it.
  uint64_t commit = store->log().hard_state().commit;
  if (commit > store->log().LastIndex()) {
    Die("recover", Status::Corruption("hard state commit beyond the last index"));
  }
  std::atomic<uint64_t> committed{commit};
  std::atomic<bool> stop{false};
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);

  // Seeded here, not in the thread: the main thread draws from rng meanwhile.
  std::mt19937_64 arng(rng());
  std::thread applier([&] {
    while (!stop.load() && std::chrono::steady_clock::now() < deadline) {
      uint64_t applied = store->kv().applied_index();
      uint64_t target = committed.load();
      if (applied >= target) {
        std::this_thread::sleep_for(std::chrono::microseconds(200));
        continue;
      }
      uint64_t hi = std::min(target, applied + 1 + arng() % 64);
      auto entries = store->log().Entries(applied + 1, hi + 1, consensus::kNoLimit);
      if (!entries.ok()) Die("read entries", Status::IoError(entries.status().ToString()));
      auto r = store->kv().Apply(entries.value(), std::nullopt);
      if (!r.ok()) Die("apply", r.status());
    }
  });

  // Snapshots and compaction on a thread of their own, concurrent with
  // Apply, as the node's snapshotter does.
  std::thread snapshotter([&] {
    while (!stop.load() && std::chrono::steady_clock::now() < deadline) {
      if (!store->ShouldSnapshot()) {
        std::this_thread::sleep_for(std::chrono::microseconds(200));
        continue;
      }
      auto snap = store->CreateSnapshot();
      if (!snap.ok()) {
        if (snap.status().code() == Status::Code::kBusy) continue;
        Die("snapshot", snap.status());
      }
      uint64_t keep = 50;
      if (snap.value().index > keep) {
        Status s = store->CompactLog(snap.value().index - keep);
        if (!s.ok()) Die("compact", s);
      }
    }
  });

  uint64_t last = commit;
  while (std::chrono::steady_clock::now() < deadline) {
    uint64_t n = 1 + rng() % 32;
    if (rng() % 5 == 0) {
      // Tentative entries, committed but never waited for, then replaced by
      // the real batch below (a conflicting suffix).
      std::vector<consensus::Entry> tentative;
      for (uint64_t i = last + 1; i <= last + 1 + rng() % 8; ++i) {
        consensus::Entry e = Real(i);
        e.data = crash::TentativeData(i);
        tentative.push_back(std::move(e));
      }
      auto t = store->log().Write(std::nullopt, tentative);
      if (!t.ok()) Die("tentative write", t.status());
    }
    std::vector<consensus::Entry> batch;
    for (uint64_t i = last + 1; i <= last + n; ++i)
      batch.push_back(Real(i));
    consensus::HardState hs{1, 1, last + n};
    Status s = store->log().Save(hs, batch);
    if (!s.ok()) Die("save", s);
    Report(last + 1, last + n);
    last += n;
    committed.store(last);
  }
  stop = true;
  applier.join();
  snapshotter.join();
  return 0;
}
