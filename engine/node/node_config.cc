#include "engine/node/node_config.h"

#include <toml++/toml.h>

#include <cctype>
#include <fstream>
#include <set>
#include <sstream>

namespace phalanx::node {

std::optional<HostPort> ParseHostPort(const std::string& text) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) return std::nullopt;
  std::string host = text.substr(0, colon);
  std::string port_text = text.substr(colon + 1);
  if (host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host.empty() || port_text.size() > 5) return std::nullopt;
  uint32_t port = 0;
  for (char c : port_text) {
    if (c < '0' || c > '9') return std::nullopt;
    port = port * 10 + static_cast<uint32_t>(c - '0');
  }
  if (port == 0 || port > 65535) return std::nullopt;
  return HostPort{host, static_cast<uint16_t>(port)};
}

namespace {

const char* TypeName(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a float";
    case toml::node_type::boolean:
      return "a boolean";
    default:
      return "a date/time";
  }
}

// Reads one section strictly: every key must be known, with the right type.
class SectionReader {
 public:
  SectionReader(std::string source, std::string section, const toml::table* table)
      : source_(std::move(source)), section_(std::move(section)), table_(table) {}

  // Each Read* records a failure in error_ (first one wins) and returns false.
  void String(const char* key, std::string* out) {
    Use(key, [&](const toml::node& n) {
      if (!n.is_string()) return Fail(key, "expected a string, got " + std::string(TypeName(n)));
      *out = n.as_string()->get();
      return true;
    });
  }
  void Bool(const char* key, bool* out) {
    Use(key, [&](const toml::node& n) {
      if (!n.is_boolean()) return Fail(key, "expected a boolean, got " + std::string(TypeName(n)));
      *out = n.as_boolean()->get();
      return true;
    });
  }
  template <typename Int>
  void Integer(const char* key, Int* out, int64_t min, int64_t max) {
    Use(key, [&](const toml::node& n) {
      if (!n.is_integer()) {
        return Fail(key, "expected an integer, got " + std::string(TypeName(n)));
      }
      int64_t v = n.as_integer()->get();
      if (v < min || v > max) {
        return Fail(key, "must be between " + std::to_string(min) + " and " + std::to_string(max) +
                             ", got " + std::to_string(v));
      }
      *out = static_cast<Int>(v);
      return true;
    });
  }
  void Address(const char* key, HostPort* out) {
    std::string text;
    bool present = false;
    Use(key, [&](const toml::node& n) {
      if (!n.is_string()) return Fail(key, "expected a string, got " + std::string(TypeName(n)));
      text = n.as_string()->get();
      present = true;
      return true;
    });
    if (!present) return;
    auto hp = ParseHostPort(text);
    if (!hp) {
      Fail(key, "bad address '" + text + "' (expected host:port with port 1-65535)");
      return;
    }
    *out = *hp;
  }
  void StringArray(const char* key, std::vector<std::string>* out) {
    Use(key, [&](const toml::node& n) {
      if (!n.is_array()) return Fail(key, "expected an array, got " + std::string(TypeName(n)));
      out->clear();
      for (const toml::node& item : *n.as_array()) {
        if (!item.is_string()) {
          return Fail(key, "expected an array of strings, found " + std::string(TypeName(item)));
        }
        out->push_back(item.as_string()->get());
      }
      return true;
    });
  }

  // After all reads: any key nobody asked for is an error (a typo).
  void RejectUnknownKeys() {
    if (!table_ || !error_.empty()) return;
    for (auto&& [k, v] : *table_) {
      std::string key(k.str());
      if (!known_.count(key)) {
        error_ = source_ + ": unknown key '" + section_ + "." + key + "'";
        return;
      }
    }
  }

  bool Fail(const std::string& key, const std::string& why) {
    if (error_.empty()) error_ = source_ + ": " + section_ + "." + key + ": " + why;
    return false;
  }
  const std::string& error() const { return error_; }

 private:
  template <typename Fn>
  void Use(const char* key, Fn&& fn) {
    known_.insert(key);
    if (!table_ || !error_.empty()) return;
    const toml::node* n = table_->get(key);
    if (n) fn(*n);
  }

  std::string source_;
  std::string section_;
  const toml::table* table_;
  std::set<std::string> known_;
  std::string error_;
};

}  // namespace

std::optional<NodeConfig> ParseNodeConfig(const std::string& text, const std::string& source,
                                          std::string* error) {
  toml::table root;
  try {
    root = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    std::ostringstream msg;
    msg << source << ":" << where.line << ":" << where.column << ": " << e.description();
    *error = msg.str();
    return std::nullopt;
  }

  static const char* kSections[] = {"node", "resp", "raft", "membership"};
  for (auto&& [k, v] : root) {
    std::string key(k.str());
    bool known = false;
    for (const char* s : kSections)
      known |= key == s;
    if (!known) {
      *error =
          source + ": unknown " + (v.is_table() ? "section [" + key + "]" : "key '" + key + "'");
      return std::nullopt;
    }
    if (!v.is_table()) {
      *error = source;
      error->append(": '").append(key).append("' must be a section ([").append(key).append("])");
      return std::nullopt;
    }
  }
  auto section = [&](const char* name) { return root[name].as_table(); };

  NodeConfig c;

  SectionReader node(source, "node", section("node"));
  node.String("id", &c.node.id);
  node.String("data_dir", &c.node.data_dir);
  node.String("log_level", &c.node.log_level);
  node.RejectUnknownKeys();
  if (!node.error().empty()) return *error = node.error(), std::nullopt;
  if (c.node.id.empty()) return *error = source + ": node.id is required", std::nullopt;
  for (char ch : c.node.id) {
    if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_' || ch == '.')) {
      *error =
          source + ": node.id: '" + c.node.id + "' may hold only letters, digits, '-', '_' and '.'";
      return std::nullopt;
    }
  }
  if (c.node.data_dir.empty()) c.node.data_dir = "data/" + c.node.id;
  static const std::set<std::string> kLevels = {"trace", "debug", "info", "warn", "error"};
  if (!kLevels.count(c.node.log_level)) {
    *error = source + ": node.log_level: must be trace, debug, info, warn or error, got '" +
             c.node.log_level + "'";
    return std::nullopt;
  }

  SectionReader resp(source, "resp", section("resp"));
  resp.Address("listen", &c.resp.listen);
  resp.Integer("threads", &c.resp.threads, 0, 256);
  resp.String("requirepass", &c.resp.requirepass);
  resp.Integer("proto_max_bulk_len", &c.resp.proto_max_bulk_len, 1, int64_t{1} << 40);
  resp.Integer("maxclients", &c.resp.maxclients, 1, 1000000);
  resp.Integer("timeout", &c.resp.timeout_seconds, 0, int64_t{365} * 24 * 3600);
  resp.RejectUnknownKeys();
  if (!resp.error().empty()) return *error = resp.error(), std::nullopt;

  SectionReader raft(source, "raft", section("raft"));
  std::vector<std::string> cluster;
  raft.Address("listen", &c.raft.listen);
  raft.StringArray("initial_cluster", &cluster);
  raft.Integer("tick_ms", &c.raft.tick_ms, 1, 10000);
  raft.Integer("election_ticks", &c.raft.election_ticks, 2, 1000);
  raft.Integer("heartbeat_ticks", &c.raft.heartbeat_ticks, 1, 1000);
  raft.Integer("request_timeout_ms", &c.raft.request_timeout_ms, 1, int64_t{3600} * 1000);
  raft.Integer("snapshot_entries", &c.raft.snapshot_entries, 1, int64_t{1} << 40);
  raft.Integer("snapshot_bytes", &c.raft.snapshot_bytes, 1, int64_t{1} << 50);
  raft.String("read_mode", &c.raft.read_mode);
  raft.Integer("max_entry_bytes", &c.raft.max_entry_bytes, 4096, int64_t{1} << 30);
  raft.Integer("max_voters", &c.raft.max_voters, 1, 15);
  raft.Bool("pre_vote", &c.raft.pre_vote);
  raft.Bool("check_quorum", &c.raft.check_quorum);
  raft.Bool("fault_injection", &c.raft.fault_injection);
  raft.RejectUnknownKeys();
  if (!raft.error().empty()) return *error = raft.error(), std::nullopt;
  if (c.raft.heartbeat_ticks >= c.raft.election_ticks) {
    *error = source + ": raft.heartbeat_ticks must be smaller than raft.election_ticks";
    return std::nullopt;
  }
  if (c.raft.read_mode != "readindex" && c.raft.read_mode != "lease") {
    *error = source + ": raft.read_mode: must be \"readindex\" or \"lease\", got '" +
             c.raft.read_mode + "'";
    return std::nullopt;
  }
  if (c.raft.read_mode == "lease" && !c.raft.check_quorum) {
    *error = source + ": raft.read_mode = \"lease\" needs raft.check_quorum = true";
    return std::nullopt;
  }
  std::set<std::string> ids;
  for (const std::string& item : cluster) {
    auto eq = item.find('=');
    auto hp = eq == std::string::npos ? std::nullopt : ParseHostPort(item.substr(eq + 1));
    if (eq == 0 || !hp) {
      *error = source;
      *error += ": raft.initial_cluster: bad entry '" + item + "' (expected id=host:port)";
      return std::nullopt;
    }
    std::string id = item.substr(0, eq);
    if (!ids.insert(id).second) {
      *error = source;
      *error += ": raft.initial_cluster: node '" + id + "' appears twice";
      return std::nullopt;
    }
    c.raft.initial_cluster.push_back({id, *hp});
  }
  if (!c.raft.initial_cluster.empty() && !ids.count(c.node.id)) {
    *error = source + ": raft.initial_cluster does not name this node ('" + c.node.id + "')";
    return std::nullopt;
  }

  SectionReader membership(source, "membership", section("membership"));
  std::vector<std::string> seeds;
  membership.Address("listen", &c.membership.listen);
  membership.StringArray("seeds", &seeds);
  membership.Integer("auto_remove_dead_after", &c.membership.auto_remove_dead_after_seconds, 0,
                     int64_t{365} * 24 * 3600);
  membership.Integer("period_ms", &c.membership.period_ms, 10, 60000);
  membership.Bool("leave_on_shutdown", &c.membership.leave_on_shutdown);
  membership.RejectUnknownKeys();
  if (!membership.error().empty()) return *error = membership.error(), std::nullopt;
  for (const std::string& s : seeds) {
    auto hp = ParseHostPort(s);
    if (!hp) {
      *error = source;
      *error += ": membership.seeds: bad address '" + s + "'";
      return std::nullopt;
    }
    c.membership.seeds.push_back(*hp);
  }
  return c;
}

std::optional<NodeConfig> LoadNodeConfig(const std::string& path, std::string* error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = path + ": cannot open config file";
    return std::nullopt;
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    *error = path + ": cannot read config file";
    return std::nullopt;
  }
  return ParseNodeConfig(text.str(), path, error);
}

}  // namespace phalanx::node
