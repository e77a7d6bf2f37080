// cluster_propose: writes/s and latency of a real 3-node Phalanx cluster on
// loopback, proposing 128-byte SETs through the peer service (the same call a
// follower uses to forward to its leader), at 1 and 64 concurrent clients —
// beside the storage engine's durable batch-1 append rate measured on the
// same disk in the same run, which is what one write costs without group
// commit and pipelining. It also measures a loopback TCP round trip and prints
// c1's p50 against one fsync plus one round trip (issue 4's c1 target: 2x).
//
// Usage: cluster_propose [phalanx binary] [seconds per phase]
//        (default: the phalanx built beside this benchmark, 5 s)
// Last line: writes_per_second_c64=<N> p99_ms_c64=<X> writes_per_second_c1=<M>
//            c64_ratio_vs_engine_batch1=<R>
#include <arpa/inet.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "engine/storage/command.h"
#include "engine/storage/store.h"
#include "engine/transport/peer_client.h"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  socklen_t len = sizeof(a);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

double EngineBatch1AppendsPerSecond(const fs::path& dir, double seconds) {
  phalanx::storage::Options opt;
  opt.dir = dir.string();
  auto store = phalanx::storage::Store::Open(opt);
  if (!store.ok()) {
    std::fprintf(stderr, "engine: %s\n", store.status().ToString().c_str());
    return 0;
  }
  auto& log = store.value()->log();
  std::string payload(128, 'x');
  uint64_t index = log.LastIndex();
  uint64_t n = 0;
  auto start = Clock::now();
  auto end = start + std::chrono::duration<double>(seconds);
  while (Clock::now() < end) {
    phalanx::consensus::Entry e{1, ++index, phalanx::consensus::EntryType::kNormal, payload};
    if (!log.Save(std::nullopt, {e}).ok()) return 0;
    ++n;
  }
  return n / std::chrono::duration<double>(Clock::now() - start).count();
}

// Median round trip of 128 bytes over a loopback TCP connection (ping-pong
// between two threads): the network part of one write's floor.
double LoopbackRoundTripMs(int rounds) {
  int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  if (::bind(listener, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 ||
      ::listen(listener, 1) != 0 ||
      ::getsockname(listener, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    ::close(listener);
    return 0;
  }
  auto exchange = [](int fd, bool first_send, int n) {
    char buf[128] = {};
    for (int i = 0; i < n; ++i) {
      for (int step = 0; step < 2; ++step) {
        bool send_now = (step == 0) == first_send;
        size_t done = 0;
        while (done < sizeof(buf)) {
          ssize_t r = send_now ? ::send(fd, buf + done, sizeof(buf) - done, MSG_NOSIGNAL)
                               : ::recv(fd, buf + done, sizeof(buf) - done, 0);
          if (r <= 0) return false;
          done += static_cast<size_t>(r);
        }
      }
    }
    return true;
  };
  std::thread echo([&] {
    int fd = ::accept(listener, nullptr, nullptr);
    if (fd < 0) return;
    exchange(fd, false, rounds);
    ::close(fd);
  });
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  std::vector<double> samples;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0) {
    for (int i = 0; i < rounds; ++i) {
      auto t0 = Clock::now();
      if (!exchange(fd, true, 1)) break;
      samples.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    }
  }
  ::shutdown(fd, SHUT_RDWR);
  ::close(fd);
  echo.join();
  ::close(listener);
  if (samples.empty()) return 0;
  std::sort(samples.begin(), samples.end());
  return samples[samples.size() / 2];
}

struct Proc {
  pid_t pid = -1;
  int resp_port = 0;
  int raft_port = 0;
  int gossip_port = 0;  // SWIM (UDP); the default 7946 may be taken
  std::string name;
};

std::string LeaderName(int resp_port) {
  redisContext* c = redisConnect("127.0.0.1", resp_port);
  if (!c || c->err) {
    if (c) redisFree(c);
    return {};
  }
  std::string leader;
  auto* r = static_cast<redisReply*>(redisCommand(c, "INFO raft"));
  if (r && r->type == REDIS_REPLY_STRING) {
    std::string s(r->str, r->len);
    auto at = s.find("leader_id:");
    if (at != std::string::npos) leader = s.substr(at + 10, s.find('\r', at) - at - 10);
  }
  if (r) freeReplyObject(r);
  redisFree(c);
  return leader;
}

struct Phase {
  double writes_per_second = 0;
  double p50_ms = 0;
  double p99_ms = 0;
  uint64_t errors = 0;
};

Phase Run(const std::string& address, int clients, double seconds) {
  std::vector<std::unique_ptr<phalanx::transport::PeerClient>> conns;
  for (int i = 0; i < std::min(clients, 8); ++i) {
    conns.push_back(phalanx::transport::PeerClient::Connect(address, std::string()));
  }
  std::mutex mu;
  std::vector<double> latencies;
  std::atomic<uint64_t> errors{0};
  auto end = Clock::now() + std::chrono::duration<double>(seconds);
  std::vector<std::thread> threads;
  auto start = Clock::now();
  for (int t = 0; t < clients; ++t) {
    threads.emplace_back([&, t] {
      std::vector<double> mine;
      std::string value(128, 'v');
      for (uint64_t i = 0; Clock::now() < end; ++i) {
        auto cmd = phalanx::storage::Command::Set(
            "bench:" + std::to_string(t) + ":" + std::to_string(i % 1000), value, NowMs());
        auto t0 = Clock::now();
        auto r = conns[t % conns.size()]->Propose({cmd.Encode()}, std::chrono::seconds(5));
        auto t1 = Clock::now();
        if (!r.status.ok()) {
          ++errors;
          continue;
        }
        mine.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
      }
      std::lock_guard<std::mutex> lk(mu);
      latencies.insert(latencies.end(), mine.begin(), mine.end());
    });
  }
  for (auto& th : threads)
    th.join();
  double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  Phase p;
  p.errors = errors;
  p.writes_per_second = latencies.size() / elapsed;
  if (!latencies.empty()) {
    std::sort(latencies.begin(), latencies.end());
    p.p50_ms = latencies[latencies.size() / 2];
    p.p99_ms = latencies[std::min(latencies.size() - 1, latencies.size() * 99 / 100)];
  }
  return p;
}

}  // namespace

int main(int argc, char** argv) {
  std::string bin =
      argc > 1 ? argv[1] : (fs::path(argv[0]).parent_path().parent_path() / "phalanx").string();
  double seconds = argc > 2 ? std::atof(argv[2]) : 5.0;
  if (!fs::exists(bin)) {
    std::fprintf(stderr, "usage: cluster_propose [phalanx binary] [seconds]  (%s not found)\n",
                 bin.c_str());
    return 2;
  }
  fs::path dir = fs::temp_directory_path() / ("phalanx-bench-" + std::to_string(::getpid()));
  fs::create_directories(dir);

  double engine = EngineBatch1AppendsPerSecond(dir / "engine", std::min(seconds, 3.0));
  double rtt_ms = LoopbackRoundTripMs(2000);

  std::vector<Proc> procs(3);
  std::string members;
  for (int i = 0; i < 3; ++i) {
    procs[i].name = "n" + std::to_string(i + 1);
    procs[i].resp_port = FreePort();
    procs[i].raft_port = FreePort();
    procs[i].gossip_port = FreePort();
    members += (i ? ", " : "") + std::string("\"") + procs[i].name +
               "=127.0.0.1:" + std::to_string(procs[i].raft_port) + "\"";
  }
  for (auto& p : procs) {
    fs::path conf = dir / (p.name + ".toml");
    std::ofstream(conf) << "[node]\nid = \"" << p.name << "\"\ndata_dir = \""
                        << (dir / p.name).string() << "\"\nlog_level = \"warn\"\n[resp]\nlisten = "
                        << "\"127.0.0.1:" << p.resp_port << "\"\nthreads = 1\n[raft]\nlisten = "
                        << "\"127.0.0.1:" << p.raft_port << "\"\ninitial_cluster = [" << members
                        << "]\ntick_ms = 50\n[membership]\nlisten = \"127.0.0.1:" << p.gossip_port
                        << "\"\n";
    p.pid = ::fork();
    if (p.pid == 0) {
      std::string log = (dir / (p.name + ".log")).string();
      FILE* f = std::freopen(log.c_str(), "w", stderr);
      (void)f;
      ::execl(bin.c_str(), bin.c_str(), "--config", conf.c_str(), nullptr);
      _exit(127);
    }
  }
  std::string leader;
  for (int i = 0; i < 300 && leader.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    leader = LeaderName(procs[0].resp_port);
  }
  int rc = 0;
  if (leader.empty()) {
    std::fprintf(stderr, "no leader within 15 s; logs in %s\n", dir.c_str());
    rc = 1;
  } else {
    auto& lp = *std::find_if(procs.begin(), procs.end(), [&](auto& p) { return p.name == leader; });
    std::string address = "127.0.0.1:" + std::to_string(lp.raft_port);
    Run(address, 8, 1.0);  // warm up
    Phase c1 = Run(address, 1, seconds);
    Phase c64 = Run(address, 64, seconds);
    std::printf("engine durable batch-1 appends/s: %.0f\n", engine);
    std::printf("loopback TCP round trip (128 B, median): %.3f ms\n", rtt_ms);
    std::printf("%-8s %12s %10s %10s %8s\n", "clients", "writes/s", "p50 ms", "p99 ms", "errors");
    std::printf("%-8d %12.0f %10.2f %10.2f %8llu\n", 1, c1.writes_per_second, c1.p50_ms, c1.p99_ms,
                static_cast<unsigned long long>(c1.errors));
    std::printf("%-8d %12.0f %10.2f %10.2f %8llu\n", 64, c64.writes_per_second, c64.p50_ms,
                c64.p99_ms, static_cast<unsigned long long>(c64.errors));
    // Issue 4's c1 target: within 2x of one fsync plus one loopback round trip.
    double floor_ms = (engine > 0 ? 1000.0 / engine : 0) + rtt_ms;
    std::printf("c1 floor (one fsync + one round trip): %.3f ms; c1 p50 / floor = %.2f\n", floor_ms,
                floor_ms > 0 ? c1.p50_ms / floor_ms : 0.0);
    std::printf(
        "writes_per_second_c64=%.0f p99_ms_c64=%.2f writes_per_second_c1=%.0f "
        "c64_ratio_vs_engine_batch1=%.2f\n",
        c64.writes_per_second, c64.p99_ms, c1.writes_per_second,
        engine > 0 ? c64.writes_per_second / engine : 0.0);
  }
  for (auto& p : procs) {
    if (p.pid > 0) ::kill(p.pid, SIGTERM);
  }
  for (auto& p : procs) {
    if (p.pid > 0) ::waitpid(p.pid, nullptr, 0);
  }
  std::error_code ec;
  fs::remove_all(dir, ec);
  return rc;
}
