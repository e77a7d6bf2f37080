// Crash safety: a child process (engine_crash_child) appends and applies
// continuously (snapshots and compaction on a thread of their own, concurrent
// with Apply), reporting each batch through a pipe only once it is durable;
// we SIGKILL it at random moments, reopen the store and check that
//   - every reported batch is there, with the right content;
//   - the log has no holes (FirstIndex..LastIndex all readable);
//   - the durable commit index covers every reported batch;
//   - the applied index lies within the log and the KV table equals the
//     state obtained by applying entries 1..applied (not one more or less);
//   - the snapshot, if any, does not run ahead of the applied index.
//
// Iterations: 20 by default, 120 with PHALANX_LONG=1, 5 with
// PHALANX_SANITIZED=1; PHALANX_CRASH_ITERATIONS overrides.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <random>
#include <sstream>
#include <thread>

#include "crash_workload.h"
#include "test_util.h"

extern char** environ;

namespace phalanx::storage {
namespace {

using Clock = std::chrono::steady_clock;

struct ChildRun {
  uint64_t max_reported = 0;
  uint64_t batches = 0;
  bool killed = false;
  int status = 0;
};

// Runs the child until `kill_after` past its first report (or a timeout),
// kills it, and collects every report it made.
ChildRun RunAndKill(const std::string& dir, uint64_t seed, std::chrono::milliseconds kill_after) {
  ChildRun run;
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    ADD_FAILURE() << "pipe2: " << std::strerror(errno);
    return run;
  }
  int wfd = fds[1];
  if (wfd == 3) {  // dup2(3, 3) would keep O_CLOEXEC
    wfd = ::fcntl(fds[1], F_DUPFD_CLOEXEC, 10);
    ::close(fds[1]);
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, wfd, 3);
  std::string seed_s = std::to_string(seed);
  const char* path = PHALANX_CRASH_CHILD;
  std::vector<char*> argv = {const_cast<char*>(path), const_cast<char*>(dir.c_str()),
                             const_cast<char*>(seed_s.c_str()), nullptr};
  pid_t pid = -1;
  int rc = posix_spawn(&pid, path, &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(wfd);
  if (rc != 0) {
    ::close(fds[0]);
    ADD_FAILURE() << "posix_spawn " << path << ": " << std::strerror(rc);
    return run;
  }

  std::string buf;
  auto parse = [&] {
    size_t pos;
    while ((pos = buf.find('\n')) != std::string::npos) {
      std::istringstream line(buf.substr(0, pos));
      buf.erase(0, pos + 1);
      char tag;
      uint64_t first, last;
      if (line >> tag >> first >> last && tag == 'B') {
        EXPECT_EQ(first, run.max_reported == 0 ? first : run.max_reported + 1)
            << "reports are contiguous";
        EXPECT_GE(last, first);
        run.max_reported = std::max(run.max_reported, last);
        ++run.batches;
      }
    }
  };
  auto read_some = [&](int timeout_ms) -> bool {  // false at EOF
    pollfd p{fds[0], POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) <= 0) return true;
    char tmp[4096];
    ssize_t n = ::read(fds[0], tmp, sizeof tmp);
    if (n <= 0) return false;
    buf.append(tmp, static_cast<size_t>(n));
    parse();
    return true;
  };

  // Wait for the first report (the child finished recovery and is busy).
  auto start = Clock::now();
  bool open = true;
  while (open && run.batches == 0 && Clock::now() - start < std::chrono::seconds(60)) {
    open = read_some(50);
  }
  auto kill_at = Clock::now() + kill_after;
  while (open && Clock::now() < kill_at)
    open = read_some(5);
  run.killed = ::kill(pid, SIGKILL) == 0;
  ::waitpid(pid, &run.status, 0);
  while (read_some(1000)) {
  }
  ::close(fds[0]);
  return run;
}

// Reopens the store and checks everything the child promised.
// *snapshot_index and *first_index report what the reopened store held.
void Verify(const std::string& dir, uint64_t max_reported, int iteration, uint64_t* snapshot_index,
            uint64_t* first_index) {
  SCOPED_TRACE("iteration " + std::to_string(iteration));
  auto opened = Store::Open(crash::CrashOptions(dir));
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  std::unique_ptr<Store> store = std::move(opened).value();
  LogStore& log = store->log();
  uint64_t first = log.FirstIndex(), last = log.LastIndex();
  uint64_t applied = store->kv().applied_index();
  ASSERT_GE(last, max_reported) << "a reported batch is missing";
  EXPECT_GE(log.hard_state().commit, max_reported);
  ASSERT_LE(first, max_reported + 1);

  // No holes, and the right content: real entries up to what was reported;
  // beyond it real or tentative (never waited for, never reported).
  for (uint64_t lo = first; lo <= last; lo += 512) {
    uint64_t hi = std::min(last + 1, lo + 512);
    auto r = log.Entries(lo, hi, consensus::kNoLimit);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ASSERT_EQ(r.value().size(), hi - lo) << "hole in the log";
    for (const consensus::Entry& e : r.value()) {
      std::string real = crash::CommandFor(e.index).Encode();
      if (e.index <= max_reported) {
        ASSERT_EQ(e.data, real) << "entry " << e.index;
      } else {
        ASSERT_TRUE(e.data == real || e.data == crash::TentativeData(e.index)) << e.index;
      }
    }
  }

  // Applied index within the log; the KV table is exactly entries 1..applied.
  EXPECT_LE(applied, last);
  EXPECT_GE(applied + 1, first) << "entries were compacted before being applied";
  consensus::SnapshotMetadata snap = log.snapshot_metadata();
  *snapshot_index = snap.index;
  *first_index = first;
  EXPECT_LE(snap.index, applied);
  EXPECT_LE(first, snap.index + 1);
  std::map<std::string, std::string> model = crash::ModelAfter(applied);
  std::map<std::string, std::string> actual;
  std::string cursor;
  for (int pages = 0; pages < 10000; ++pages) {
    auto page = store->kv().Scan(cursor, 100, crash::kNow);
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    for (const std::string& k : page.value().keys) {
      auto v = store->kv().Get(k, crash::kNow);
      ASSERT_TRUE(v.ok());
      actual[k] = v.value().value_or("<missing>");
    }
    cursor = page.value().cursor;
    if (cursor.empty()) break;
  }
  EXPECT_EQ(actual, model) << "KV state differs from entries 1.." << applied;
  EXPECT_EQ(store->kv().DbSize(), model.size());
}

int Iterations() {
  if (const char* s = std::getenv("PHALANX_CRASH_ITERATIONS")) return std::atoi(s);
  if (testing::LongMode()) return 120;
  if (testing::Sanitized()) return 5;
  return 20;
}

TEST(EngineCrash, KilledChildLosesNoDurableBatch) {
  testing::TempDir dir;
  std::string home = dir.Sub("store");
  {  // Create the store here, so no kill lands in the very first creation.
    auto s = Store::Open(crash::CrashOptions(home));
    ASSERT_TRUE(s.ok()) << s.status().ToString();
  }
  const int iterations = Iterations();
  uint64_t seed = 12345;
  if (const char* s = std::getenv("PHALANX_CRASH_SEED")) seed = std::strtoull(s, nullptr, 10);
  std::mt19937_64 rng(seed);
  uint64_t max_reported = 0, batches = 0, snapshot_index = 0, first_index = 0;
  auto started = Clock::now();
  for (int it = 0; it < iterations; ++it) {
    auto delay = std::chrono::milliseconds(rng() % 400);
    ChildRun run = RunAndKill(home, rng(), delay);
    ASSERT_TRUE(run.killed) << "iteration " << it << ": child exited early, status " << run.status;
    ASSERT_TRUE(WIFSIGNALED(run.status) && WTERMSIG(run.status) == SIGKILL)
        << "iteration " << it << ": child status " << run.status;
    ASSERT_GE(run.max_reported, max_reported);
    max_reported = std::max(max_reported, run.max_reported);
    batches += run.batches;
    Verify(home, max_reported, it, &snapshot_index, &first_index);
    if (HasFatalFailure()) return;
  }
  double secs = std::chrono::duration<double>(Clock::now() - started).count();
  std::printf(
      "crash test: %d kills, %llu durable batches reported, last index %llu, snapshot at %llu, "
      "log starts at %llu, %.1f s\n",
      iterations, static_cast<unsigned long long>(batches),
      static_cast<unsigned long long>(max_reported),
      static_cast<unsigned long long>(snapshot_index), static_cast<unsigned long long>(first_index),
      secs);
  EXPECT_GT(batches, 0u);
}

}  // namespace
}  // namespace phalanx::storage
