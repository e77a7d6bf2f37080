// phalanx: one node of a Phalanx cluster.
//
//   phalanx --config FILE     start a node
//   phalanx --help | --version
//
// Exit codes: 0 after a clean shutdown (SIGTERM/SIGINT) or --help/--version;
// 2 for a bad flag or configuration (one line on stderr names the problem);
// 1 when the node cannot start or fails while running.
#include <malloc.h>
#include <pthread.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <thread>

#include "engine/node/node.h"
#include "engine/node/node_config.h"
#include "phalanx/version.h"
#include "resp/server.h"

namespace {

int Usage(const std::string& line) {
  std::fprintf(stderr, "phalanx: %s (see phalanx --help)\n", line.c_str());
  return 2;
}

}  // namespace

static int Run(int argc, char** argv) {
  // Large values (up to raft.max_entry_bytes, replies up to
  // proto_max_bulk_len) pass through a node as short-lived buffers. glibc's
  // adaptive mmap threshold would move them onto the heap after the first
  // one is freed, where their pages stay resident for good; a fixed threshold
  // keeps every buffer of 1 MiB or more in its own mapping, returned on free.
  mallopt(M_MMAP_THRESHOLD, 1 << 20);
  CLI::App app{"phalanx: a replicated, linearizable key-value server that speaks Redis"};
  app.set_version_flag("--version", "phalanx " + std::string(phalanx::util::kPhalanxVersion));
  std::string config_path;
  app.add_option("-c,--config", config_path, "TOML configuration file (see conf/README.md)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::printf("%s", app.help().c_str());
    return 0;
  } catch (const CLI::CallForVersion&) {
    std::printf("phalanx %s\n", std::string(phalanx::util::kPhalanxVersion).c_str());
    return 0;
  } catch (const CLI::ParseError& e) {
    return Usage(e.what());
  }

  if (config_path.empty()) return Usage("missing --config FILE");

  std::string error;
  auto config = phalanx::node::LoadNodeConfig(config_path, &error);
  if (!config) {
    std::fprintf(stderr, "phalanx: %s\n", error.c_str());
    return 2;
  }
  spdlog::set_level(spdlog::level::from_str(config->node.log_level));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ [" + config->node.id + "] %v");

  // Signals are taken by this thread alone (sigwait), so every other thread
  // starts with them blocked.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  auto node = phalanx::node::Node::Open(*config, &error);
  if (!node) {
    spdlog::error("cannot start: {}", error);
    return 1;
  }
  if (!node->Start(&error)) {
    spdlog::error("cannot start: {}", error);
    return 1;
  }

  phalanx::resp::ServerOptions ro;
  ro.listen = config->resp.listen.ToString();
  ro.threads = config->resp.threads;
  ro.requirepass = config->resp.requirepass;
  ro.proto_max_bulk_len = static_cast<int64_t>(config->resp.proto_max_bulk_len);
  ro.maxclients = config->resp.maxclients;
  ro.timeout = config->resp.timeout_seconds;
  ro.extra_config = {{"node-id", config->node.id},
                     {"raft-listen", config->raft.listen.ToString()},
                     {"raft-read-mode", config->raft.read_mode},
                     {"raft-request-timeout-ms", std::to_string(config->raft.request_timeout_ms)}};
  phalanx::resp::Server server(ro, node.get());
  if (auto s = server.Start(); !s.ok()) {
    spdlog::error("cannot start: resp.listen {}: {}", ro.listen, s.message());
    node->Stop();
    return 1;
  }
  spdlog::info("serving Redis clients on {}", ro.listen);

  int sig = 0;
  sigwait(&signals, &sig);
  spdlog::info("received {}, shutting down (send it again to exit at once)", strsignal(sig));
  // A second signal while draining exits immediately.
  std::thread([signals]() mutable {
    int again = 0;
    sigwait(&signals, &again);
    std::fprintf(stderr, "phalanx: second signal, exiting now\n");
    _exit(1);
  }).detach();
  if (config->membership.leave_on_shutdown) {
    // Out of Raft first, so the cluster does not count a voter that is gone.
    auto r = node->LeaveAndWait();
    if (r.type == phalanx::storage::ApplyResult::Type::kError) {
      spdlog::warn("leave on shutdown: {}", r.bytes);
    }
  }
  server.Stop();  // stop accepting; then let the node finish in-flight work
  node->Stop();
  spdlog::info("stopped cleanly");
  return 0;
}

// What escapes Run (std::bad_alloc, a library's exception) ends the process
// with one line, not std::terminate's abort.
int main(int argc, char** argv) {
  try {
    return Run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", "phalanx", e.what());
  } catch (...) {
    std::fprintf(stderr, "%s: unknown exception\n", "phalanx");
  }
  return 1;
}
