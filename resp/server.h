// Server: the Redis protocol front end of a Phalanx node.
//
//   resp::ServerOptions opts;            // the [resp] keys, plus limits
//   opts.listen = "127.0.0.1:6379";
//   resp::Server server(opts, &store);   // store outlives the server
//   if (resp::Status s = server.Start(); !s.ok()) { ...s.message()... }
//   ...
//   server.Stop();                       // idempotent; also done by ~Server
//
// Threads: `threads` event loops (epoll, non-blocking sockets), each owning
// its connections; no thread per client. All loops wait on the one listening
// socket (EPOLLEXCLUSIVE), so whichever loop is free accepts. Store
// completions arrive on any thread and are posted back to the connection's
// loop through an eventfd-signalled queue. Replies leave in request order.
// See resp/README.md for ordering, limits and what is byte-exact.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "resp/store.h"
#include "util/status.h"

namespace phalanx::resp {

struct ServerOptions {
  // ---- the [resp] keys ----
  std::string listen = "127.0.0.1:6379";  // "host:port", "[v6]:port"; port 0: any free port
  int threads = 0;                        // event loops; 0: number of cores
  std::string requirepass;                // empty: no AUTH needed
  int64_t proto_max_bulk_len = 512LL * 1024 * 1024;
  int64_t maxclients = 10000;
  int64_t timeout = 0;  // idle client timeout in seconds; 0: never

  // ---- limits with Redis's defaults or documented choices ----
  int tcp_keepalive = 300;                        // seconds; 0: off
  size_t client_query_buffer_limit = 1ULL << 30;  // 1 GB, client-query-buffer-limit
  // client-output-buffer-limit for normal clients: close the connection when
  // its pending replies exceed `hard`, or stay above `soft` for `soft_seconds`.
  // Redis's default is 0 0 0 (unlimited); Phalanx bounds it.
  size_t output_buffer_hard_limit = 1ULL << 30;
  size_t output_buffer_soft_limit = 256ULL << 20;
  int output_buffer_soft_seconds = 60;
  // Before AUTH (when requirepass is set) the output buffer limit is this
  // (cf. CVE-2025-21605: unauthenticated clients must not grow it unbounded).
  size_t unauthenticated_output_limit = 64 * 1024;
  // Pause reading from a client while this much input waits behind a
  // command that cannot start yet (TCP back-pressure instead of buffering).
  size_t read_pause_threshold = 1 << 20;
  // Whether Store::Write applies the writes of one caller in call order. When
  // true, pipelined writes of a connection are all proposed at once; when
  // false, each waits for the previous one's result (always correct).
  bool store_orders_writes = false;

  // Extra read-only settings shown by CONFIG GET (the node's own settings,
  // e.g. {"node-id", "n1"}). Names are lower case.
  std::map<std::string, std::string> extra_config;
};

// Errors as values: OK, or an error with a one-line message (never empty).
struct StatusTag {};
using Status = util::MessageStatus<StatusTag>;

class Server {
 public:
  Server(ServerOptions options, Store* store);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds, listens and starts the event loops. One call per Server.
  Status Start();
  // Closes the listener and every connection, and joins the loops. Store
  // callbacks that arrive later are dropped. Idempotent.
  void Stop();

  // The bound port (useful with port 0); 0 before Start.
  int port() const;

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// Splits "host:port" / "[v6]:port". False on a malformed address.
bool ParseListenAddress(const std::string& listen, std::string* host, int* port);

}  // namespace phalanx::resp
