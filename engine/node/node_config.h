// NodeConfig: everything a `phalanx` process reads from its TOML file.
//
// The keys users, scripts and tests rely on are fixed by DESIGN.md ([node],
// [resp], [raft], [membership]); every key, with its default, is documented in
// conf/README.md. Loading is strict: an unknown key, a wrong type or a bad
// address is an error naming the key — a typo never silently falls back to a
// default.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace phalanx::node {

struct HostPort {
  std::string host;
  uint16_t port = 0;
  std::string ToString() const { return host + ":" + std::to_string(port); }
  bool operator==(const HostPort&) const = default;
};

// "host:port" with a numeric port in 1..65535 and a non-empty host.
std::optional<HostPort> ParseHostPort(const std::string& text);

struct PeerSpec {
  std::string id;
  HostPort raft_address;
  bool operator==(const PeerSpec&) const = default;
};

struct NodeConfig {
  struct Node {
    std::string id;                  // stable and unique in the cluster
    std::string data_dir;            // created when missing
    std::string log_level = "info";  // trace, debug, info, warn, error
  } node;

  struct Resp {
    HostPort listen{"127.0.0.1", 6379};
    int threads = 0;  // 0: one event loop per core
    std::string requirepass;
    uint64_t proto_max_bulk_len = 512ull * 1024 * 1024;
    int maxclients = 10000;
    int timeout_seconds = 0;  // idle client timeout; 0: none
  } resp;

  struct Raft {
    HostPort listen{"127.0.0.1", 7379};
    // Voters at first boot; ignored once data_dir holds Raft state. Empty: a
    // single-node cluster of this node.
    std::vector<PeerSpec> initial_cluster;
    int tick_ms = 100;
    int election_ticks = 10;
    int heartbeat_ticks = 1;
    int request_timeout_ms = 5000;
    uint64_t snapshot_entries = 10000;              // snapshot when the log holds this many entries
    uint64_t snapshot_bytes = 64ull * 1024 * 1024;  // ... or this many bytes
    std::string read_mode = "readindex";            // or "lease" (needs check_quorum; see README)
    // The largest Raft entry one client command may make (its arguments plus
    // a few bytes of framing). Larger commands are refused before anything is
    // proposed. Bounds every append, forwarded request and transport queue;
    // see conf/README.md for why 16 MiB.
    uint64_t max_entry_bytes = 16ull << 20;
    int max_voters = 5;
    bool pre_vote = true;
    bool check_quorum = true;
    // Test-only: lets an admin command drop or delay traffic to chosen peers.
    bool fault_injection = false;
  } raft;

  struct Membership {
    HostPort listen{"127.0.0.1", 7946};
    std::vector<HostPort> seeds;
    int auto_remove_dead_after_seconds = 0;  // 0: never remove voters automatically
    int period_ms = 1000;            // SWIM protocol period: one probe per member per period
    bool leave_on_shutdown = false;  // SIGTERM/SIGINT: PHALANX LEAVE before stopping
  } membership;
};

// Parses TOML text. `source` names the file in error messages. On failure
// returns nullopt and sets *error to one line naming the problem, e.g.
// "conf/n1.toml: raft.tick_ms: expected an integer, got a string".
std::optional<NodeConfig> ParseNodeConfig(const std::string& text, const std::string& source,
                                          std::string* error);
// Reads and parses a file; a missing or unreadable file is an error too.
std::optional<NodeConfig> LoadNodeConfig(const std::string& path, std::string* error);

}  // namespace phalanx::node
