// State shared by every event loop of one Server: the options, the settings
// CONFIG SET may change, counters for INFO, and the per-connection state the
// command layer reads and changes. Internal to resp/.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>

#include "resp/server.h"
#include "resp/store.h"

namespace phalanx::resp {

// Settings that CONFIG SET may change while the server runs.
class RuntimeConfig {
 public:
  explicit RuntimeConfig(const ServerOptions& o)
      : requirepass_(o.requirepass),
        maxclients_(o.maxclients),
        timeout_(o.timeout),
        proto_max_bulk_len_(o.proto_max_bulk_len) {}

  std::string requirepass() const {
    std::lock_guard<std::mutex> lock(mu_);
    return requirepass_;
  }
  bool has_password() const {
    std::lock_guard<std::mutex> lock(mu_);
    return !requirepass_.empty();
  }
  void set_requirepass(std::string v) {
    std::lock_guard<std::mutex> lock(mu_);
    requirepass_ = std::move(v);
  }
  int64_t maxclients() const { return maxclients_.load(std::memory_order_relaxed); }
  void set_maxclients(int64_t v) { maxclients_.store(v, std::memory_order_relaxed); }
  int64_t timeout() const { return timeout_.load(std::memory_order_relaxed); }
  void set_timeout(int64_t v) { timeout_.store(v, std::memory_order_relaxed); }
  int64_t proto_max_bulk_len() const { return proto_max_bulk_len_.load(std::memory_order_relaxed); }
  void set_proto_max_bulk_len(int64_t v) {
    proto_max_bulk_len_.store(v, std::memory_order_relaxed);
  }

 private:
  mutable std::mutex mu_;
  std::string requirepass_;
  std::atomic<int64_t> maxclients_;
  std::atomic<int64_t> timeout_;
  std::atomic<int64_t> proto_max_bulk_len_;
};

struct ServerStats {
  std::atomic<uint64_t> total_connections_received{0};
  std::atomic<uint64_t> rejected_connections{0};
  std::atomic<uint64_t> total_commands_processed{0};
  std::atomic<uint64_t> total_net_input_bytes{0};
  std::atomic<uint64_t> total_net_output_bytes{0};
  std::atomic<uint64_t> keyspace_hits{0};
  std::atomic<uint64_t> keyspace_misses{0};
  std::atomic<uint64_t> total_error_replies{0};
  std::atomic<uint64_t> client_output_limit_disconnections{0};
  std::atomic<uint64_t> client_query_buffer_limit_disconnections{0};
  std::atomic<int64_t> connected_clients{0};
};

struct SharedState {
  SharedState(ServerOptions o, Store* s) : options(std::move(o)), store(s), config(options) {}
  const ServerOptions options;
  Store* const store;
  RuntimeConfig config;
  ServerStats stats;
  int64_t start_ms = 0;  // wall clock at Start
  int64_t start_monotonic_ms = 0;
  std::string run_id;  // 40 hex characters, new per Start
  int port = 0;        // the bound TCP port
  int threads = 1;
  std::atomic<uint64_t> next_client_id{1};
};

// One client connection as the command layer sees it.
struct ClientState {
  uint64_t id = 0;
  int proto = 2;
  bool authenticated = true;
  std::string name;
  std::string lib_name;
  std::string lib_ver;
  // Filled by the connection, shown by CLIENT INFO / CLIENT LIST.
  std::string addr;
  std::string laddr;
  int fd = -1;
  int64_t created_ms = 0;           // monotonic
  int64_t last_interaction_ms = 0;  // monotonic
  std::string last_command = "NULL";
  size_t query_buffer = 0;
  size_t output_bytes = 0;
  bool readonly = false;
};

}  // namespace phalanx::resp
