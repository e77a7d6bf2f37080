// engine_append: durable Raft log appends (LogStore::Save, fsync'd) per
// second and MB/s for batch sizes 1, 16 and 256 with 128 B and 4 KB entries,
// beside a raw write+fdatasync loop on the same disk in the same run.
//
//   engine_append [--dir DIR] [--seconds S]
//
// DIR (default ./engine_append.data, removed afterwards) decides the disk.
// Each case runs S seconds (default 2). The last line is
//   batch1_ratio_vs_fdatasync=<R> batch256_mb_per_s=<M>
// R = durable appends/s with batch 1 and 128 B entries ÷ the raw loop's
// syncs/s with 128 B writes (the faster of appending to a growing file and
// overwriting a preallocated one); M = payload MB/s with batches of 256
// 4 KB entries.
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bench_util.h"
#include "engine/storage/store.h"

using namespace phalanx;
using bench::Clock;
using bench::Die;
using bench::Seconds;

namespace {

// write()+fdatasync() of `size`-byte records. prealloc: overwrite a file
// already written and synced (no metadata changes); else append.
double RawSyncsPerSecond(const std::string& path, size_t size, bool prealloc, double seconds) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) Die("open " + path + ": " + std::strerror(errno));
  std::string rec(size, 'r');
  if (prealloc) {
    std::string mb(1 << 20, '\0');
    for (int i = 0; i < 64; ++i) {
      if (::write(fd, mb.data(), mb.size()) != static_cast<ssize_t>(mb.size())) Die("write");
    }
    if (::fsync(fd) != 0) Die("fsync");
    ::lseek(fd, 0, SEEK_SET);
  }
  uint64_t n = 0;
  auto start = Clock::now();
  while (Seconds(start) < seconds) {
    if (::write(fd, rec.data(), rec.size()) != static_cast<ssize_t>(rec.size())) Die("write");
    if (::fdatasync(fd) != 0) Die("fdatasync");
    ++n;
    if (prealloc && n % 100000 == 0) ::lseek(fd, 0, SEEK_SET);
  }
  double rate = static_cast<double>(n) / Seconds(start);
  ::close(fd);
  ::unlink(path.c_str());
  return rate;
}

struct Result {
  double appends_per_s;
  double batches_per_s;
  double mb_per_s;
};

// One writer appending `batch` entries of `size` bytes per Save, with the
// hard state, for `seconds`.
Result RunSaves(storage::Store& s, size_t batch, size_t size, double seconds) {
  std::string payload(size, 'p');
  uint64_t last = s.log().LastIndex();
  uint64_t entries = 0, batches = 0;
  std::vector<consensus::Entry> es(batch);
  auto start = Clock::now();
  while (Seconds(start) < seconds) {
    for (size_t i = 0; i < batch; ++i) {
      es[i].index = last + 1 + i;
      es[i].term = 1;
      es[i].data = payload;
    }
    storage::Status st = s.log().Save(consensus::HardState{1, 1, last}, es);
    if (!st.ok()) Die("save: " + st.ToString());
    last += batch;
    entries += batch;
    ++batches;
  }
  double t = Seconds(start);
  return {static_cast<double>(entries) / t, static_cast<double>(batches) / t,
          static_cast<double>(entries * size) / t / 1e6};
}

// `writers` threads each appending single entries: indices are handed out
// under a lock around Write(), the fsync wait happens outside it, so
// concurrent writers share flushes (group commit).
Result RunConcurrent(storage::Store& s, int writers, size_t size, double seconds) {
  std::mutex mu;
  uint64_t last = s.log().LastIndex();
  std::atomic<uint64_t> entries{0};
  std::string payload(size, 'c');
  uint64_t flushes_before = s.stats().log_flushes;
  auto start = Clock::now();
  std::vector<std::thread> threads;
  threads.reserve(static_cast<size_t>(writers));
  for (int w = 0; w < writers; ++w) {
    threads.emplace_back([&] {
      while (Seconds(start) < seconds) {
        uint64_t ticket;
        {
          std::lock_guard<std::mutex> l(mu);
          consensus::Entry e{1, last + 1, consensus::EntryType::kNormal, payload};
          auto t = s.log().Write(std::nullopt, {e});
          if (!t.ok()) Die("write: " + t.status().ToString());
          ++last;
          ticket = t.value();
        }
        storage::Status st = s.log().WaitDurable(ticket);
        if (!st.ok()) Die("wait: " + st.ToString());
        ++entries;
      }
    });
  }
  for (auto& t : threads)
    t.join();
  double t = Seconds(start);
  double flushes = static_cast<double>(s.stats().log_flushes - flushes_before);
  return {static_cast<double>(entries.load()) / t, flushes / t,
          static_cast<double>(entries.load() * size) / t / 1e6};
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = "engine_append.data";
  double seconds = 2.0;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--dir" && i + 1 < argc) {
      dir = argv[++i];
    } else if (a == "--seconds" && i + 1 < argc) {
      seconds = std::atof(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: engine_append [--dir DIR] [--seconds S]\n");
      return 2;
    }
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  std::filesystem::create_directories(dir, ec);
  if (ec) Die("create " + dir + ": " + ec.message());
  std::printf("engine_append: dir %s, %.1f s per case\n", dir.c_str(), seconds);

  double raw_append = RawSyncsPerSecond(dir + "/raw", 128, false, seconds);
  double raw_over = RawSyncsPerSecond(dir + "/raw", 128, true, seconds);
  double raw_4k = RawSyncsPerSecond(dir + "/raw", 4096, true, seconds);
  std::printf("raw write+fdatasync 128 B, appending:    %10.0f syncs/s\n", raw_append);
  std::printf("raw write+fdatasync 128 B, preallocated: %10.0f syncs/s\n", raw_over);
  std::printf("raw write+fdatasync 4 KB,  preallocated: %10.0f syncs/s\n", raw_4k);
  double raw = std::max(raw_append, raw_over);

  storage::Options o;
  o.dir = dir + "/store";
  o.cache_size_mb = 512;
  o.message_sink = [](std::string_view line) {
    std::fprintf(stderr, "storage: %.*s\n", static_cast<int>(line.size()), line.data());
  };
  auto opened = storage::Store::Open(o);
  if (!opened.ok()) Die("open: " + opened.status().ToString());
  std::unique_ptr<storage::Store> store = std::move(opened).value();

  double batch1 = 0, batch256_mb = 0;
  for (size_t size : {size_t{128}, size_t{4096}}) {
    for (size_t batch : {size_t{1}, size_t{16}, size_t{256}}) {
      Result r = RunSaves(*store, batch, size, seconds);
      std::printf("Save batch %3zu x %4zu B: %10.0f appends/s %8.0f fsyncs/s %8.1f MB/s\n", batch,
                  size, r.appends_per_s, r.batches_per_s, r.mb_per_s);
      if (batch == 1 && size == 128) batch1 = r.appends_per_s;
      if (batch == 256 && size == 4096) batch256_mb = r.mb_per_s;
    }
  }
  Result c = RunConcurrent(*store, 4, 128, seconds);
  std::printf("4 writers, 1 x 128 B each (group commit): %10.0f appends/s %8.0f fsyncs/s\n",
              c.appends_per_s, c.batches_per_s);
  store.reset();
  std::filesystem::remove_all(dir, ec);
  std::printf("batch1_ratio_vs_fdatasync=%.2f batch256_mb_per_s=%.1f\n", batch1 / raw, batch256_mb);
  return 0;
}
