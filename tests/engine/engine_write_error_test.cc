// Write errors: the caller gets a clear error, the store turns fail-stop
// (refuses every later write) and nothing acknowledged is lost. Tested with a
// real full disk (a size-limited tmpfs, when this process may mount one) and
// with errors injected at the engine's boundary with WiredTiger.
#include <gtest/gtest.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <sstream>

#include "test_util.h"

namespace phalanx::storage {
namespace {

using consensus::Entry;
using consensus::HardState;
using testing::MakeEntries;
using testing::MakeEntry;
using testing::OpenOrDie;
using testing::TempDir;
using testing::TestOptions;

// Fails the `nth` call (1-based) at `site` with `err`, and every later one.
struct Injector {
  std::string site;
  int nth;
  int err;
  std::shared_ptr<std::atomic<int>> calls = std::make_shared<std::atomic<int>>(0);
  int operator()(std::string_view s) const {
    if (s != site) return 0;
    return ++*calls >= nth ? err : 0;
  }
};

void ExpectFailStop(Store& s) {
  EXPECT_TRUE(s.failed());
  EXPECT_EQ(s.health().code(), Status::Code::kFailed);
  uint64_t last = s.log().LastIndex();
  EXPECT_EQ(s.log().Save(std::nullopt, {MakeEntry(last + 1, 9, "x")}).code(),
            Status::Code::kFailed);
  EXPECT_EQ(s.log().Save(HardState{9, 0, 0}, {}).code(), Status::Code::kFailed);
  EXPECT_EQ(
      s.kv().Apply({MakeEntry(s.kv().applied_index() + 1, 1, "")}, std::nullopt).status().code(),
      Status::Code::kFailed);
  EXPECT_EQ(s.CreateSnapshot().status().code(), Status::Code::kFailed);
  EXPECT_EQ(s.CompactLog(1).code(), Status::Code::kFailed);
  EXPECT_EQ(s.log().LastIndex(), last);
}

TEST(EngineWriteError, LogFlushErrorFailsStopAndKeepsAcknowledgedEntries) {
  TempDir dir;
  Options o = TestOptions(dir.path());
  o.fault_injector = Injector{"log.flush", 6, EIO};
  uint64_t acked = 0;
  {
    auto s = OpenOrDie(o);
    ASSERT_TRUE(s);
    Status st;
    for (uint64_t i = 1; i <= 20; ++i) {
      st =
          s->log().Save(HardState{1, 1, i}, {MakeEntry(i, 1, Command::IncrBy("n", 1, 0).Encode())});
      if (!st.ok()) break;
      acked = i;
    }
    EXPECT_EQ(acked, 5u);
    EXPECT_EQ(st.code(), Status::Code::kIoError);
    EXPECT_NE(st.message().find("Input/output error"), std::string::npos) << st.ToString();
    ExpectFailStop(*s);
    // Reads still work on what is there.
    EXPECT_EQ(s->log().Entries(1, acked + 1, consensus::kNoLimit).value().size(), acked);
  }
  o.fault_injector = nullptr;
  auto s = OpenOrDie(o);
  ASSERT_TRUE(s);
  EXPECT_FALSE(s->failed());
  EXPECT_GE(s->log().LastIndex(), acked);
  EXPECT_GE(s->log().hard_state().commit, acked);
  ASSERT_TRUE(s->log().Save(std::nullopt, {MakeEntry(s->log().LastIndex() + 1, 1, "y")}).ok());
}

TEST(EngineWriteError, CommitErrorLeavesNothingBehind) {
  TempDir dir;
  Options o = TestOptions(dir.path());
  o.fault_injector = Injector{"log.commit", 3, ENOSPC};
  auto s = OpenOrDie(o);
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->log().Save(std::nullopt, MakeEntries(1, 5, 1)).ok());
  ASSERT_TRUE(s->log().Save(std::nullopt, MakeEntries(5, 9, 1)).ok());
  Status st = s->log().Save(HardState{2, 0, 0}, MakeEntries(3, 12, 2));  // would truncate
  EXPECT_EQ(st.code(), Status::Code::kIoError);
  EXPECT_NE(st.message().find("No space left on device"), std::string::npos) << st.ToString();
  // The failed transaction changed nothing, in memory or on disk.
  EXPECT_EQ(s->log().LastIndex(), 8u);
  EXPECT_EQ(s->log().Term(5).value(), 1u);
  EXPECT_TRUE(s->log().hard_state().IsEmpty());
  ExpectFailStop(*s);
  s.reset();
  o.fault_injector = nullptr;
  s = OpenOrDie(o);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->log().LastIndex(), 8u);
  EXPECT_EQ(s->log().Term(8).value(), 1u);
}

TEST(EngineWriteError, ApplyErrorKeepsAppliedIndexAndData) {
  TempDir dir;
  Options o = TestOptions(dir.path());
  o.fault_injector = Injector{"kv.commit", 2, EIO};
  auto s = OpenOrDie(o);
  ASSERT_TRUE(s);
  ASSERT_TRUE(
      s->kv().Apply({MakeEntry(1, 1, Command::Set("a", "1", 0).Encode())}, std::nullopt).ok());
  auto r = s->kv().Apply({MakeEntry(2, 1, Command::Set("a", "2", 0).Encode())}, std::nullopt);
  EXPECT_EQ(r.status().code(), Status::Code::kIoError);
  EXPECT_EQ(s->kv().applied_index(), 1u);
  EXPECT_EQ(s->kv().Get("a", 0).value(), std::optional<std::string>("1"));
  ExpectFailStop(*s);
}

TEST(EngineWriteError, SnapshotErrorsFailStop) {
  for (const char* site : {"snapshot.checkpoint", "snapshot.write"}) {
    SCOPED_TRACE(site);
    TempDir a, b;
    auto leader = OpenOrDie(TestOptions(a.path()));
    Options ob = TestOptions(b.path());
    ob.fault_injector = Injector{site, 1, EIO};
    auto follower = OpenOrDie(ob);
    ASSERT_TRUE(leader && follower);
    std::vector<Entry> batch;
    for (uint64_t i = 1; i <= 20; ++i) {
      batch.push_back(MakeEntry(i, 1, Command::Set("k" + std::to_string(i), "v", 0).Encode()));
    }
    ASSERT_TRUE(leader->kv().Apply(batch, std::nullopt).ok());
    ASSERT_TRUE(leader->CreateSnapshot().ok());
    auto reader = leader->OpenSnapshot();
    ASSERT_TRUE(reader.ok());
    auto writer = follower->BeginSnapshotInstall(reader.value()->metadata());
    ASSERT_TRUE(writer.ok());
    std::string chunk;
    ASSERT_TRUE(reader.value()->Next(&chunk).value());
    Status st = writer.value()->Write(chunk);
    if (st.ok()) st = follower->FinishSnapshotInstall(std::move(writer).value(), std::nullopt);
    EXPECT_EQ(st.code(), Status::Code::kIoError);
    EXPECT_EQ(follower->kv().applied_index(), 0u);
    ExpectFailStop(*follower);
  }
}

// A real full disk: the store lives on a 24 MB tmpfs mounted in a private
// mount namespace (gone with this process). Needs root; skipped otherwise.
// Run alone (ctest runs each test in its own process): unshare() needs a
// single-threaded process.
TEST(EngineWriteError, DiskFullOnASmallFileSystem) {
  if (::geteuid() != 0) GTEST_SKIP() << "not root: cannot mount a size-limited tmpfs";
  if (::unshare(CLONE_NEWNS) != 0) {
    GTEST_SKIP() << "cannot create a mount namespace: " << std::strerror(errno);
  }
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    GTEST_SKIP() << "cannot make mounts private: " << std::strerror(errno);
  }
  TempDir dir;
  if (::mount("tmpfs", dir.path().c_str(), "tmpfs", 0, "size=24m") != 0) {
    GTEST_SKIP() << "cannot mount a tmpfs: " << std::strerror(errno);
  }
  struct Unmount {
    std::string path;
    ~Unmount() { ::umount2(path.c_str(), MNT_DETACH); }
  } unmount{dir.path()};

  Options o = TestOptions(dir.Sub("store"));
  o.log_file_max_mb = 1;
  // The writer runs in a child process, as a node would: on fail-stop it
  // exits, leaving WiredTiger unclosed (closing can hang on a full disk).
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(fds[0]);
    auto opened = Store::Open(o);
    if (!opened.ok()) ::_exit(10);
    std::unique_ptr<Store> s = std::move(opened).value();
    std::string payload(4096, 'd');
    uint64_t acked = 0;
    Status failure;
    for (uint64_t i = 1; i <= 20000; ++i) {  // 80 MB: more than the disk
      Status st = s->log().Save(HardState{1, 1, i}, {MakeEntry(i, 1, payload)});
      if (!st.ok()) {
        failure = st;
        break;
      }
      acked = i;
    }
    // Fail-stop: later writes refused at once, reads still served.
    bool refused = s->log().Save(HardState{2, 0, 0}, {}).code() == Status::Code::kFailed &&
                   s->kv().Apply({MakeEntry(1, 1, "")}, std::nullopt).status().code() ==
                       Status::Code::kFailed &&
                   s->failed();
    bool readable = s->log().Entries(1, acked + 1, consensus::kNoLimit).ok();
    std::string report =
        std::to_string(acked) + " " + std::to_string(static_cast<int>(failure.code())) + " " +
        (refused ? "1" : "0") + " " + (readable ? "1" : "0") + " " + failure.ToString();
    s.reset();  // must not hang
    if (::write(fds[1], report.data(), report.size()) < 0) ::_exit(11);
    ::_exit(0);
  }
  ::close(fds[1]);
  std::string report;
  char buf[4096];
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{fds[0], POLLIN, 0};
    if (::poll(&p, 1, 500) <= 0) continue;
    ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n <= 0) break;
    report.append(buf, static_cast<size_t>(n));
  }
  ::close(fds[0]);
  ::kill(pid, SIGKILL);  // no-op if it already exited
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "writer status " << status;
  std::istringstream in(report);
  uint64_t acked = 0;
  int code = 0, refused = 0, readable = 0;
  in >> acked >> code >> refused >> readable;
  std::string failure;
  std::getline(in, failure);
  std::printf("disk full after %llu acknowledged entries:%s\n",
              static_cast<unsigned long long>(acked), failure.c_str());
  EXPECT_EQ(code, static_cast<int>(Status::Code::kIoError)) << failure;
  EXPECT_NE(failure.find("No space left on device"), std::string::npos) << failure;
  EXPECT_GT(acked, 100u);
  EXPECT_EQ(refused, 1) << "later writes were not refused";
  EXPECT_EQ(readable, 1) << "acknowledged entries were not readable after the failure";

  // More room, and everything acknowledged must be there.
  ASSERT_EQ(::mount(nullptr, dir.path().c_str(), nullptr, MS_REMOUNT, "size=256m"), 0)
      << std::strerror(errno);
  auto s = OpenOrDie(o);
  ASSERT_TRUE(s);
  ASSERT_GE(s->log().LastIndex(), acked);
  auto all = s->log().Entries(1, acked + 1, consensus::kNoLimit);
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_EQ(all.value().size(), acked);
  EXPECT_GE(s->log().hard_state().commit, acked);
  EXPECT_TRUE(s->log().Save(std::nullopt, {MakeEntry(s->log().LastIndex() + 1, 1, "z")}).ok());
}

}  // namespace
}  // namespace phalanx::storage
