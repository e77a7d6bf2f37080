#include "resp/commands.h"

#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <string_view>
#include <unordered_map>

#include "phalanx/version.h"
#include "resp/glob.h"
#include "resp/util.h"

namespace phalanx::resp {

// The Redis version Phalanx's replies are modelled on (HELLO, INFO). Phalanx's
// own (INFO server's phalanx_version) is util::kPhalanxVersion, from CMake.
inline constexpr std::string_view kRedisVersion = "7.0.15";

namespace {

constexpr std::string_view kErrSyntax = "ERR syntax error";
constexpr std::string_view kErrNotInt = "ERR value is not an integer or out of range";
constexpr std::string_view kErrNotFloat = "ERR value is not a valid float";
constexpr std::string_view kErrOffsetRange = "ERR offset is out of range";
constexpr std::string_view kErrStringTooLong =
    "ERR string exceeds maximum allowed size (proto-max-bulk-len)";
constexpr std::string_view kErrNoAuth = "NOAUTH Authentication required.";
constexpr std::string_view kErrWrongPass =
    "WRONGPASS invalid username-password pair or user is disabled.";

// ---- WriteCommand construction ----

WriteCommand MakeCommand(WriteOp op, int64_t now_ms, std::vector<std::string> args) {
  WriteCommand c;
  c.op = op;
  c.now_ms = now_ms;
  c.args = std::move(args);
  return c;
}

WriteCommand MakeKeyValue(WriteOp op, std::string key, std::string value, int64_t now_ms) {
  std::vector<std::string> args;
  args.push_back(std::move(key));
  args.push_back(std::move(value));
  return MakeCommand(op, now_ms, std::move(args));
}

WriteCommand MakeSet(std::string key, std::string value, int64_t now_ms, int64_t expire_at_ms,
                     uint8_t flags) {
  WriteCommand c = MakeKeyValue(WriteOp::kSet, std::move(key), std::move(value), now_ms);
  c.expire_at_ms = expire_at_ms;
  c.flags = flags;
  return c;
}

WriteCommand MakeIncrBy(std::string key, int64_t delta, int64_t now_ms) {
  std::vector<std::string> args;
  args.push_back(std::move(key));
  WriteCommand c = MakeCommand(WriteOp::kIncrBy, now_ms, std::move(args));
  c.delta = delta;
  return c;
}

WriteCommand MakeExpireAt(std::string key, int64_t at_ms, int64_t now_ms, uint8_t flags) {
  std::vector<std::string> args;
  args.push_back(std::move(key));
  WriteCommand c = MakeCommand(WriteOp::kExpire, now_ms, std::move(args));
  c.expire_at_ms = at_ms;
  c.flags = flags;
  return c;
}

WriteCommand MakeGetEx(std::string key, int64_t now_ms, uint8_t flags, int64_t expire_at_ms) {
  std::vector<std::string> args;
  args.push_back(std::move(key));
  WriteCommand c = MakeCommand(WriteOp::kGetEx, now_ms, std::move(args));
  c.flags = flags;
  c.expire_at_ms = expire_at_ms;
  return c;
}

WriteCommand MakeSetRange(std::string key, int64_t offset, std::string value, int64_t now_ms) {
  WriteCommand c = MakeKeyValue(WriteOp::kSetRange, std::move(key), std::move(value), now_ms);
  c.delta = offset;
  return c;
}

// ---- the command table ----

struct Ctx;
using Handler = void (*)(Ctx&);

enum SpecFlag : uint32_t {
  kNoAuth = 1,  // allowed before AUTH
};

struct Spec {
  std::string_view name;  // lower case; "client|setname" for a subcommand
  int arity;              // > 0: exactly; < 0: at least -arity arguments (the name included)
  uint32_t flags;
  Handler handler;
};

struct Ctx {
  SharedState* shared;
  const CommandExecutor* exec;
  ClientState* client;
  std::vector<std::string>& argv;
  Prepared* out;
  ReplyBuilder rb;
  int64_t now_ms;

  size_t argc() const { return argv.size(); }
  void Error(std::string_view text) {
    shared->stats.total_error_replies.fetch_add(1, std::memory_order_relaxed);
    rb.Error(text);
  }
  void Write(WriteCommand cmd, std::function<void(const StoreResult&, ReplyBuilder&)> on_result =
                                   CommandExecutor::ReplyFromResult) {
    out->kind = Prepared::Kind::kWrite;
    out->write = std::move(cmd);
    out->on_result = std::move(on_result);
  }
  void Read(std::function<void(Store&, int64_t, ReplyBuilder&)> fn) {
    out->kind = Prepared::Kind::kRead;
    out->read = std::move(fn);
  }
};

// Redis's %.Ns of a C string: stops at a NUL byte and after `max` bytes.
std::string CString(std::string_view s, size_t max) {
  size_t nul = s.find('\0');
  if (nul != std::string_view::npos) s = s.substr(0, nul);
  return std::string(s.substr(0, std::min(max, s.size())));
}

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

void ErrArity(Ctx& ctx, std::string_view fullname) {
  ctx.Error("ERR wrong number of arguments for '" + std::string(fullname) + "' command");
}

void ErrExpireTime(Ctx& ctx, std::string_view name) {
  ctx.Error("ERR invalid expire time in '" + std::string(name) + "' command");
}

bool ParseInt(Ctx& ctx, const std::string& s, int64_t* out, std::string_view err = kErrNotInt) {
  if (StringToInt64(s, out)) return true;
  ctx.Error(err);
  return false;
}

// Checked a + b for expiry arithmetic; false on overflow.
bool AddOverflows(int64_t a, int64_t b, int64_t* out) {
  return __builtin_add_overflow(a, b, out);
}

// ---------------------------------------------------------------- connection

void CmdPing(Ctx& ctx) {
  if (ctx.argc() > 2) return ErrArity(ctx, "ping");
  if (ctx.argc() == 1) {
    ctx.rb.SimpleString("PONG");
  } else {
    ctx.rb.Bulk(ctx.argv[1]);
  }
}

void CmdEcho(Ctx& ctx) {
  ctx.rb.Bulk(ctx.argv[1]);
}

void CmdQuit(Ctx& ctx) {
  ctx.rb.Ok();
  ctx.out->close_after_reply = true;
}

void CmdReset(Ctx& ctx) {
  ClientState* c = ctx.client;
  c->proto = 2;
  c->name.clear();
  c->readonly = false;
  c->authenticated = !ctx.shared->config.has_password();
  ctx.rb.SimpleString("RESET");
}

// The default user's password check: with no requirepass, any password.
bool CheckPassword(Ctx& ctx, std::string_view user, std::string_view pass) {
  if (user != "default") return false;
  std::string required = ctx.shared->config.requirepass();
  return required.empty() || pass == required;
}

void CmdAuth(Ctx& ctx) {
  if (ctx.argc() > 3) return ctx.Error(kErrSyntax);
  std::string_view user = "default";
  std::string_view pass;
  if (ctx.argc() == 2) {
    if (!ctx.shared->config.has_password()) {
      return ctx.Error(
          "ERR AUTH <password> called without any password configured for the default user. "
          "Are you sure your configuration is correct?");
    }
    pass = ctx.argv[1];
  } else {
    user = ctx.argv[1];
    pass = ctx.argv[2];
  }
  if (!CheckPassword(ctx, user, pass)) return ctx.Error(kErrWrongPass);
  ctx.client->authenticated = true;
  ctx.rb.Ok();
}

bool ValidClientAttr(std::string_view s) {
  for (char ch : s) {
    if (ch < '!' || ch > '~') return false;
  }
  return true;
}

void CmdHello(Ctx& ctx) {
  int64_t ver = 0;
  size_t next = 1;
  if (ctx.argc() >= 2) {
    if (!ParseInt(ctx, ctx.argv[next++], &ver,
                  "ERR Protocol version is not an integer or out of range")) {
      return;
    }
    if (ver < 2 || ver > 3) return ctx.Error("NOPROTO unsupported protocol version");
  }
  const std::string* user = nullptr;
  const std::string* pass = nullptr;
  const std::string* name = nullptr;
  for (size_t j = next; j < ctx.argc(); ++j) {
    size_t more = ctx.argc() - 1 - j;
    const std::string& opt = ctx.argv[j];
    if (EqualsIgnoreCase(opt, "auth") && more >= 2) {
      user = &ctx.argv[j + 1];
      pass = &ctx.argv[j + 2];
      j += 2;
    } else if (EqualsIgnoreCase(opt, "setname") && more >= 1) {
      name = &ctx.argv[j + 1];
      ++j;
    } else {
      return ctx.Error("ERR Syntax error in HELLO option '" + CString(opt, SIZE_MAX) + "'");
    }
  }
  if (user != nullptr) {
    if (!CheckPassword(ctx, *user, *pass)) return ctx.Error(kErrWrongPass);
    ctx.client->authenticated = true;
  }
  if (!ctx.client->authenticated && ctx.shared->config.has_password()) {
    return ctx.Error(
        "NOAUTH HELLO must be called with the client already authenticated, otherwise the "
        "HELLO AUTH <user> <pass> option can be used to authenticate the client and select the "
        "RESP protocol version at the same time");
  }
  if (name != nullptr) {
    if (!ValidClientAttr(*name)) {
      return ctx.Error("ERR Client names cannot contain spaces, newlines or special characters.");
    }
    ctx.client->name = *name;
  }
  if (ver != 0) ctx.client->proto = static_cast<int>(ver);
  // The reply is encoded in the protocol just chosen.
  ctx.rb = ReplyBuilder(&ctx.out->reply, ctx.client->proto);
  ctx.out->proto = ctx.client->proto;
  ReplyBuilder& rb = ctx.rb;
  rb.MapHeader(7);
  rb.Bulk("server");
  rb.Bulk("redis");
  rb.Bulk("version");
  rb.Bulk(kRedisVersion);
  rb.Bulk("proto");
  rb.Integer(ctx.client->proto);
  rb.Bulk("id");
  rb.Integer(static_cast<int64_t>(ctx.client->id));
  rb.Bulk("mode");
  rb.Bulk("standalone");
  rb.Bulk("role");
  rb.Bulk("master");
  rb.Bulk("modules");
  rb.ArrayHeader(0);
}

void CmdSelect(Ctx& ctx) {
  int64_t id;
  if (!ParseInt(ctx, ctx.argv[1], &id)) return;
  if (id < INT_MIN || id > INT_MAX) {
    return ctx.Error("ERR value is out of range, value must between -2147483648 and 2147483647");
  }
  if (id != 0) return ctx.Error("ERR DB index is out of range");
  ctx.rb.Ok();
}

void CmdReadonly(Ctx& ctx) {
  ctx.client->readonly = true;
  ctx.rb.Ok();
}

void CmdReadwrite(Ctx& ctx) {
  ctx.client->readonly = false;
  ctx.rb.Ok();
}

void CmdTime(Ctx& ctx) {
  int64_t us = WallClockUs();
  ctx.rb.ArrayHeader(2);
  ctx.rb.Bulk(std::to_string(us / 1000000));
  ctx.rb.Bulk(std::to_string(us % 1000000));
}

void AddHelp(Ctx& ctx, std::string_view cmd, std::initializer_list<std::string_view> lines) {
  ctx.rb.ArrayHeader(lines.size() + 3);
  ctx.rb.SimpleString(std::string(cmd) +
                      " <subcommand> [<arg> [value] [opt] ...]. Subcommands are:");
  for (std::string_view l : lines)
    ctx.rb.SimpleString(l);
  ctx.rb.SimpleString("HELP");
  ctx.rb.SimpleString("    Print this help.");
}

// ---------------------------------------------------------------- CLIENT

void CmdClientSetname(Ctx& ctx) {
  if (!ValidClientAttr(ctx.argv[2])) {
    return ctx.Error("ERR Client names cannot contain spaces, newlines or special characters.");
  }
  ctx.client->name = ctx.argv[2];
  ctx.rb.Ok();
}

void CmdClientGetname(Ctx& ctx) {
  if (ctx.client->name.empty()) {
    ctx.rb.Null();
  } else {
    ctx.rb.Bulk(ctx.client->name);
  }
}

void CmdClientId(Ctx& ctx) {
  ctx.rb.Integer(static_cast<int64_t>(ctx.client->id));
}

void CmdClientSetinfo(Ctx& ctx) {
  const std::string& attr = ctx.argv[2];
  std::string* dest;
  if (EqualsIgnoreCase(attr, "lib-name")) {
    dest = &ctx.client->lib_name;
  } else if (EqualsIgnoreCase(attr, "lib-ver")) {
    dest = &ctx.client->lib_ver;
  } else {
    return ctx.Error("ERR Unrecognized option '" + CString(attr, SIZE_MAX) + "'");
  }
  if (!ValidClientAttr(ctx.argv[3])) {
    return ctx.Error("ERR " + CString(attr, SIZE_MAX) +
                     " cannot contain spaces, newlines or special characters.");
  }
  *dest = ctx.argv[3];
  ctx.rb.Ok();
}

void CmdClientInfo(Ctx& ctx) {
  ctx.rb.Verbatim(CommandExecutor::FormatClientLine(*ctx.client, MonotonicMs()) + "\n");
}

void CmdClientList(Ctx& ctx) {
  bool none = false;  // TYPE master/replica/pubsub: Phalanx has no such clients
  std::set<uint64_t> ids;
  bool by_id = false;
  if (ctx.argc() == 4 && EqualsIgnoreCase(ctx.argv[2], "type")) {
    const std::string& t = ctx.argv[3];
    if (EqualsIgnoreCase(t, "normal")) {
    } else if (EqualsIgnoreCase(t, "master") || EqualsIgnoreCase(t, "replica") ||
               EqualsIgnoreCase(t, "slave") || EqualsIgnoreCase(t, "pubsub")) {
      none = true;
    } else {
      return ctx.Error("ERR Unknown client type '" + CString(t, SIZE_MAX) + "'");
    }
  } else if (ctx.argc() > 3 && EqualsIgnoreCase(ctx.argv[2], "id")) {
    by_id = true;
    for (size_t j = 3; j < ctx.argc(); ++j) {
      int64_t id;
      if (!ParseInt(ctx, ctx.argv[j], &id, "ERR Invalid client ID")) return;
      ids.insert(static_cast<uint64_t>(id));
    }
  } else if (ctx.argc() != 2) {
    return ctx.Error(kErrSyntax);
  }
  if (none) {
    ctx.rb.Verbatim("");
    return;
  }
  ctx.out->kind = Prepared::Kind::kClientList;
  ctx.out->on_client_list = [by_id, ids = std::move(ids)](const std::string& lines,
                                                          ReplyBuilder& rb) {
    if (!by_id) {
      rb.Verbatim(lines);
      return;
    }
    std::string out;
    size_t start = 0;
    while (start < lines.size()) {
      size_t end = lines.find('\n', start);
      if (end == std::string::npos) end = lines.size();
      std::string_view line(lines.data() + start, end - start);
      uint64_t id = std::strtoull(std::string(line.substr(3)).c_str(), nullptr, 10);
      if (ids.count(id) != 0) {
        out.append(line);
        out.push_back('\n');
      }
      start = end + 1;
    }
    rb.Verbatim(out);
  };
}

void CmdClientHelp(Ctx& ctx) {
  AddHelp(
      ctx, "CLIENT",
      {"GETNAME", "    Return the name of the current connection.", "ID",
       "    Return the ID of the current connection.", "INFO",
       "    Return information about the current client connection.", "LIST [options ...]",
       "    Return information about client connections. Options:",
       "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)", "      Return clients of specified type.",
       "    * ID <client-id> [<client-id> ...]", "      Return clients of specified IDs only.",
       "SETNAME <name>", "    Assign the name <name> to the current connection.",
       "SETINFO <option> <value>", "    Set client meta attr. Options are: LIB-NAME, LIB-VER."});
}

// ---------------------------------------------------------------- COMMAND

struct DocEntry {
  std::string_view name;
  std::string_view info;  // RESP3
  std::string_view docs;  // RESP3
};

constexpr DocEntry kDocs[] = {
#include "resp/command_docs.inc"
};

const DocEntry* FindDocs(std::string_view name) {
  for (const DocEntry& d : kDocs) {
    if (d.name == name) return &d;
  }
  return nullptr;
}

// A RESP3 fragment in the client's protocol.
void AddResp3(ReplyBuilder& rb, std::string_view resp3) {
  if (rb.proto() == 3) {
    rb.Raw(resp3);
  } else {
    Resp3ToResp2(resp3, rb.buffer());
  }
}

// The COMMAND INFO entry of a command or subcommand ("client|setname"),
// looked up inside its container's entry. Empty when unknown.
std::string_view FindInfo(std::string_view name);

void CmdCommand(Ctx& ctx) {
  ctx.rb.ArrayHeader(std::size(kDocs));
  for (const DocEntry& d : kDocs)
    AddResp3(ctx.rb, d.info);
}

void CmdCommandCount(Ctx& ctx) {
  ctx.rb.Integer(static_cast<int64_t>(std::size(kDocs)));
}

void CmdCommandInfo(Ctx& ctx) {
  if (ctx.argc() == 2) return CmdCommand(ctx);
  ctx.rb.ArrayHeader(ctx.argc() - 2);
  for (size_t j = 2; j < ctx.argc(); ++j) {
    std::string_view info = FindInfo(ToLower(ctx.argv[j]));
    if (info.empty()) {
      ctx.rb.Null();
    } else {
      AddResp3(ctx.rb, info);
    }
  }
}

void CmdCommandDocs(Ctx& ctx) {
  std::vector<const DocEntry*> found;
  if (ctx.argc() == 2) {
    for (const DocEntry& d : kDocs)
      found.push_back(&d);
  } else {
    for (size_t j = 2; j < ctx.argc(); ++j) {
      if (const DocEntry* d = FindDocs(ToLower(ctx.argv[j]))) found.push_back(d);
    }
  }
  ctx.rb.MapHeader(found.size());
  for (const DocEntry* d : found) {
    ctx.rb.Bulk(d->name);
    AddResp3(ctx.rb, d->docs);
  }
}

void CmdCommandList(Ctx& ctx) {
  if (ctx.argc() != 2) return ctx.Error(kErrSyntax);
  std::vector<std::string> names = CommandExecutor::CommandNames();
  ctx.rb.ArrayHeader(names.size());
  for (const std::string& n : names)
    ctx.rb.Bulk(n);
}

void CmdCommandHelp(Ctx& ctx) {
  AddHelp(ctx, "COMMAND",
          {"(no subcommand)", "    Return details about all Redis commands.", "COUNT",
           "    Return the total number of commands in this Redis server.", "LIST",
           "    Return a list of all commands in this Redis server.", "INFO [<command-name> ...]",
           "    Return details about multiple Redis commands.",
           "    If no command names are given, documentation details for all",
           "    commands are returned.", "DOCS [<command-name> ...]",
           "    Return documentation details about multiple Redis commands.",
           "    If no command names are given, documentation details for all",
           "    commands are returned."});
}

// ---------------------------------------------------------------- CONFIG

struct ConfigParam {
  std::string name;
  std::string value;
  bool settable;
};

std::string FormatOutputLimit(const ServerOptions& o) {
  return "normal " + std::to_string(o.output_buffer_hard_limit) + " " +
         std::to_string(o.output_buffer_soft_limit) + " " +
         std::to_string(o.output_buffer_soft_seconds) + " replica 0 0 0 pubsub 0 0 0";
}

std::vector<ConfigParam> ConfigParams(const SharedState& s) {
  const ServerOptions& o = s.options;
  std::string host;
  int port = 0;
  ParseListenAddress(o.listen, &host, &port);
  std::vector<ConfigParam> p = {
      {"bind", host, false},
      {"port", std::to_string(s.port), false},
      {"requirepass", s.config.requirepass(), true},
      {"maxclients", std::to_string(s.config.maxclients()), true},
      {"timeout", std::to_string(s.config.timeout()), true},
      {"proto-max-bulk-len", std::to_string(s.config.proto_max_bulk_len()), true},
      {"tcp-keepalive", std::to_string(o.tcp_keepalive), false},
      {"client-query-buffer-limit", std::to_string(o.client_query_buffer_limit), false},
      {"client-output-buffer-limit", FormatOutputLimit(o), false},
      {"io-threads", std::to_string(s.threads), false},
      {"databases", "1", false},
      {"save", "", false},
      {"appendonly", "no", false},
      {"appendfsync", "everysec", false},
      {"maxmemory", "0", false},
      {"maxmemory-policy", "noeviction", false},
      {"cluster-enabled", "no", false},
  };
  for (const auto& [k, v] : o.extra_config)
    p.push_back({k, v, false});
  return p;
}

void CmdConfigGet(Ctx& ctx) {
  std::vector<ConfigParam> params = ConfigParams(*ctx.shared);
  std::vector<const ConfigParam*> matched;
  std::set<std::string_view> seen;
  for (size_t j = 2; j < ctx.argc(); ++j) {
    std::string pattern = ToLower(ctx.argv[j]);
    for (const ConfigParam& p : params) {
      if (seen.count(p.name) == 0 && GlobMatch(pattern, p.name)) {
        seen.insert(p.name);
        matched.push_back(&p);
      }
    }
  }
  ctx.rb.MapHeader(matched.size());
  for (const ConfigParam* p : matched) {
    ctx.rb.Bulk(p->name);
    ctx.rb.Bulk(p->value);
  }
}

// Redis's memtoull: an integer with an optional k/kb/m/mb/g/gb unit.
bool ParseMemory(std::string_view s, int64_t* out) {
  std::string lower = ToLower(s);
  int64_t mul = 1;
  auto ends = [&](std::string_view suf) {
    return lower.size() > suf.size() &&
           lower.compare(lower.size() - suf.size(), suf.size(), suf) == 0;
  };
  size_t cut = 0;
  if (ends("kb")) {
    mul = 1024;
    cut = 2;
  } else if (ends("mb")) {
    mul = int64_t{1024} * 1024;
    cut = 2;
  } else if (ends("gb")) {
    mul = 1024LL * 1024 * 1024;
    cut = 2;
  } else if (ends("k")) {
    mul = 1000;
    cut = 1;
  } else if (ends("m")) {
    mul = int64_t{1000} * 1000;
    cut = 1;
  } else if (ends("g")) {
    mul = 1000LL * 1000 * 1000;
    cut = 1;
  }
  int64_t v;
  if (!StringToInt64(std::string_view(lower).substr(0, lower.size() - cut), &v) || v < 0) {
    return false;
  }
  if (__builtin_mul_overflow(v, mul, out)) return false;
  return true;
}

void CmdConfigSet(Ctx& ctx) {
  if (ctx.argc() % 2 != 0) return ctx.Error(kErrSyntax);
  std::vector<ConfigParam> params = ConfigParams(*ctx.shared);
  struct Change {
    std::string name;
    std::string value;
  };
  std::vector<Change> changes;
  std::set<std::string> names;
  for (size_t j = 2; j + 1 < ctx.argc(); j += 2) {
    std::string name = ToLower(ctx.argv[j]);
    auto it = std::find_if(params.begin(), params.end(),
                           [&](const ConfigParam& p) { return p.name == name; });
    if (it == params.end()) {
      return ctx.Error("ERR Unknown option or number of arguments for CONFIG SET - '" +
                       CString(ctx.argv[j], SIZE_MAX) + "'");
    }
    if (!names.insert(name).second) {
      return ctx.Error("ERR CONFIG SET failed (possibly related to argument '" + name +
                       "') - duplicate parameter");
    }
    if (!it->settable) {
      return ctx.Error("ERR CONFIG SET failed (possibly related to argument '" + name +
                       "') - can't set immutable config");
    }
    changes.push_back({name, ctx.argv[j + 1]});
  }
  // Validate everything first, then apply: all or nothing, as Redis does.
  struct Parsed {
    std::string name;
    int64_t number = 0;
    std::string text;
  };
  std::vector<Parsed> parsed;
  for (const Change& c : changes) {
    Parsed p{c.name, 0, c.value};
    auto fail = [&](const std::string& why) {
      ctx.Error("ERR CONFIG SET failed (possibly related to argument '" + c.name + "') - " + why);
    };
    if (c.name == "maxclients" || c.name == "timeout") {
      if (!StringToInt64(c.value, &p.number))
        return fail("argument couldn't be parsed into an integer");
      int64_t lo = c.name == "maxclients" ? 1 : 0;
      int64_t hi = c.name == "maxclients" ? 4294967295LL : INT_MAX;
      if (p.number < lo || p.number > hi) {
        return fail("argument must be between " + std::to_string(lo) + " and " +
                    std::to_string(hi) + " inclusive");
      }
    } else if (c.name == "proto-max-bulk-len") {
      if (!ParseMemory(c.value, &p.number)) return fail("argument must be a memory value");
      if (p.number < int64_t{1024} * 1024 || p.number > LLONG_MAX) {
        return fail("argument must be between 1048576 and 9223372036854775807 inclusive");
      }
    }
    parsed.push_back(std::move(p));
  }
  RuntimeConfig& cfg = ctx.shared->config;
  for (const Parsed& p : parsed) {
    if (p.name == "maxclients") cfg.set_maxclients(p.number);
    if (p.name == "timeout") cfg.set_timeout(p.number);
    if (p.name == "proto-max-bulk-len") cfg.set_proto_max_bulk_len(p.number);
    if (p.name == "requirepass") cfg.set_requirepass(p.text);
  }
  ctx.rb.Ok();
}

void CmdConfigResetstat(Ctx& ctx) {
  ServerStats& s = ctx.shared->stats;
  s.total_connections_received = 0;
  s.rejected_connections = 0;
  s.total_commands_processed = 0;
  s.total_net_input_bytes = 0;
  s.total_net_output_bytes = 0;
  s.keyspace_hits = 0;
  s.keyspace_misses = 0;
  s.total_error_replies = 0;
  s.client_output_limit_disconnections = 0;
  s.client_query_buffer_limit_disconnections = 0;
  ctx.rb.Ok();
}

void CmdConfigHelp(Ctx& ctx) {
  AddHelp(
      ctx, "CONFIG",
      {"GET <pattern>", "    Return parameters matching the glob-like <pattern> and their values.",
       "SET <directive> <value>", "    Set the configuration <directive> to <value>.", "RESETSTAT",
       "    Reset statistics reported by the INFO command."});
}

// ---------------------------------------------------------------- server

void CmdInfo(Ctx& ctx) {
  std::vector<std::string> sections;
  for (size_t j = 1; j < ctx.argc(); ++j)
    sections.push_back(ToLower(ctx.argv[j]));
  ctx.rb.Verbatim(ctx.exec->Info(sections));
}

void CmdDbsize(Ctx& ctx) {
  ctx.Read([](Store& store, int64_t now, ReplyBuilder& rb) {
    rb.Integer(static_cast<int64_t>(store.DbSize(now)));
  });
}

void CmdFlushall(Ctx& ctx) {
  if (ctx.argc() == 2 &&
      (EqualsIgnoreCase(ctx.argv[1], "sync") || EqualsIgnoreCase(ctx.argv[1], "async"))) {
  } else if (ctx.argc() != 1) {
    return ctx.Error(kErrSyntax);
  }
  ctx.Write(MakeCommand(WriteOp::kFlushAll, ctx.now_ms, {}));
}

// ---------------------------------------------------------------- strings

// SET's flags as Redis's parseExtendedStringArgumentsOrReply keeps them.
enum SetOpt : uint32_t {
  kOptNx = 1,
  kOptXx = 2,
  kOptEx = 4,
  kOptPx = 8,
  kOptKeepTtl = 16,
  kOptGet = 32,
  kOptExAt = 64,
  kOptPxAt = 128,
};

// Redis's getExpireMillisecondsOrReply: the absolute expiry in ms, or the
// error text ("" on success).
std::string ExpireMsOrError(const std::string& arg, bool seconds, bool relative, int64_t now_ms,
                            std::string_view cmd, int64_t* out) {
  int64_t v;
  if (!StringToInt64(arg, &v)) return std::string(kErrNotInt);
  std::string bad_time = "ERR invalid expire time in '" + std::string(cmd) + "' command";
  if (v <= 0 || (seconds && v > LLONG_MAX / 1000)) return bad_time;
  if (seconds) v *= 1000;
  if (relative && AddOverflows(v, now_ms, &v)) return bad_time;
  *out = v;
  return {};
}

bool ExpireMs(Ctx& ctx, const std::string& arg, bool seconds, bool relative, std::string_view cmd,
              int64_t* out) {
  std::string error = ExpireMsOrError(arg, seconds, relative, ctx.now_ms, cmd, out);
  if (error.empty()) return true;
  ctx.Error(error);
  return false;
}

void CmdSet(Ctx& ctx) {
  uint32_t f = 0;
  const std::string* expire = nullptr;
  for (size_t j = 3; j < ctx.argc(); ++j) {
    const std::string& opt = ctx.argv[j];
    bool has_next = j + 1 < ctx.argc();
    constexpr uint32_t kAnyExpiry = kOptEx | kOptPx | kOptExAt | kOptPxAt;
    if (EqualsIgnoreCase(opt, "nx") && !(f & kOptXx)) {
      f |= kOptNx;
    } else if (EqualsIgnoreCase(opt, "xx") && !(f & kOptNx)) {
      f |= kOptXx;
    } else if (EqualsIgnoreCase(opt, "get")) {
      f |= kOptGet;
    } else if (EqualsIgnoreCase(opt, "keepttl") && !(f & kAnyExpiry)) {
      f |= kOptKeepTtl;
    } else if (EqualsIgnoreCase(opt, "ex") && !(f & (kOptKeepTtl | kOptExAt | kOptPx | kOptPxAt)) &&
               has_next) {
      f |= kOptEx;
      expire = &ctx.argv[++j];
    } else if (EqualsIgnoreCase(opt, "px") && !(f & (kOptKeepTtl | kOptEx | kOptExAt | kOptPxAt)) &&
               has_next) {
      f |= kOptPx;
      expire = &ctx.argv[++j];
    } else if (EqualsIgnoreCase(opt, "exat") && !(f & (kOptKeepTtl | kOptEx | kOptPx | kOptPxAt)) &&
               has_next) {
      f |= kOptExAt;
      expire = &ctx.argv[++j];
    } else if (EqualsIgnoreCase(opt, "pxat") && !(f & (kOptKeepTtl | kOptEx | kOptExAt | kOptPx)) &&
               has_next) {
      f |= kOptPxAt;
      expire = &ctx.argv[++j];
    } else {
      return ctx.Error(kErrSyntax);
    }
  }
  int64_t at = 0;
  if (expire != nullptr) {
    bool seconds = (f & (kOptEx | kOptExAt)) != 0;
    bool relative = (f & (kOptEx | kOptPx)) != 0;
    if (!ExpireMs(ctx, *expire, seconds, relative, "set", &at)) return;
  }
  uint8_t flags = 0;
  if (f & kOptNx) flags |= kSetNx;
  if (f & kOptXx) flags |= kSetXx;
  if (f & kOptGet) flags |= kSetGet;
  if (f & kOptKeepTtl) flags |= kSetKeepTtl;
  ctx.Write(MakeSet(std::move(ctx.argv[1]), std::move(ctx.argv[2]), ctx.now_ms, at, flags));
}

// SETNX: SET NX with an integer reply.
void ReplySetNx(const StoreResult& r, ReplyBuilder& rb) {
  if (r.type == StoreResult::Type::kOk) {
    rb.Integer(1);
  } else if (r.type == StoreResult::Type::kNil) {
    rb.Integer(0);
  } else {
    CommandExecutor::ReplyFromResult(r, rb);
  }
}

void CmdSetnx(Ctx& ctx) {
  ctx.Write(MakeSet(std::move(ctx.argv[1]), std::move(ctx.argv[2]), ctx.now_ms, 0, kSetNx),
            ReplySetNx);
}

void SetExGeneric(Ctx& ctx, bool seconds, std::string_view name) {
  int64_t at;
  if (!ExpireMs(ctx, ctx.argv[2], seconds, true, name, &at)) return;
  ctx.Write(MakeSet(std::move(ctx.argv[1]), std::move(ctx.argv[3]), ctx.now_ms, at, 0));
}

void CmdSetex(Ctx& ctx) {
  SetExGeneric(ctx, true, "setex");
}
void CmdPsetex(Ctx& ctx) {
  SetExGeneric(ctx, false, "psetex");
}

void CmdGetset(Ctx& ctx) {
  ctx.Write(MakeSet(std::move(ctx.argv[1]), std::move(ctx.argv[2]), ctx.now_ms, 0, kSetGet));
}

void MSetGeneric(Ctx& ctx, WriteOp op, std::string_view name) {
  if (ctx.argc() % 2 == 0) return ErrArity(ctx, name);
  std::vector<std::string> args(std::make_move_iterator(ctx.argv.begin() + 1),
                                std::make_move_iterator(ctx.argv.end()));
  ctx.Write(MakeCommand(op, ctx.now_ms, std::move(args)));
}

void CmdMset(Ctx& ctx) {
  MSetGeneric(ctx, WriteOp::kMSet, "mset");
}
void CmdMsetnx(Ctx& ctx) {
  MSetGeneric(ctx, WriteOp::kMSetNx, "msetnx");
}

void CmdDel(Ctx& ctx) {
  std::vector<std::string> keys(std::make_move_iterator(ctx.argv.begin() + 1),
                                std::make_move_iterator(ctx.argv.end()));
  ctx.Write(MakeCommand(WriteOp::kDel, ctx.now_ms, std::move(keys)));
}

void CmdIncr(Ctx& ctx) {
  ctx.Write(MakeIncrBy(std::move(ctx.argv[1]), 1, ctx.now_ms));
}
void CmdDecr(Ctx& ctx) {
  ctx.Write(MakeIncrBy(std::move(ctx.argv[1]), -1, ctx.now_ms));
}

void CmdIncrby(Ctx& ctx) {
  int64_t d;
  if (!ParseInt(ctx, ctx.argv[2], &d)) return;
  ctx.Write(MakeIncrBy(std::move(ctx.argv[1]), d, ctx.now_ms));
}

void CmdDecrby(Ctx& ctx) {
  int64_t d;
  if (!ParseInt(ctx, ctx.argv[2], &d)) return;
  if (d == LLONG_MIN) return ctx.Error("ERR decrement would overflow");
  ctx.Write(MakeIncrBy(std::move(ctx.argv[1]), -d, ctx.now_ms));
}

void CmdAppend(Ctx& ctx) {
  std::vector<std::string> args;
  args.push_back(std::move(ctx.argv[1]));
  args.push_back(std::move(ctx.argv[2]));
  ctx.Write(MakeCommand(WriteOp::kAppend, ctx.now_ms, std::move(args)));
}

void CmdGetdel(Ctx& ctx) {
  ctx.Write(MakeCommand(WriteOp::kGetDel, ctx.now_ms, {std::move(ctx.argv[1])}));
}

// GETEX key [EX s | PX ms | EXAT s | PXAT ms | PERSIST], parsed like Redis
// 7.0's parseExtendedStringArgumentsOrReply(COMMAND_GET): the same option may
// repeat (the last value wins), different expiry options or PERSIST with one
// do not mix.
void CmdGetex(Ctx& ctx) {
  constexpr uint32_t kOptPersist = 256;
  uint32_t f = 0;
  const std::string* expire = nullptr;
  for (size_t j = 2; j < ctx.argc(); ++j) {
    const std::string& opt = ctx.argv[j];
    bool has_next = j + 1 < ctx.argc();
    if (EqualsIgnoreCase(opt, "persist") && !(f & (kOptEx | kOptPx | kOptExAt | kOptPxAt))) {
      f |= kOptPersist;
    } else if (EqualsIgnoreCase(opt, "ex") && !(f & (kOptPersist | kOptExAt | kOptPx | kOptPxAt)) &&
               has_next) {
      f |= kOptEx;
      expire = &ctx.argv[++j];
    } else if (EqualsIgnoreCase(opt, "px") && !(f & (kOptPersist | kOptEx | kOptExAt | kOptPxAt)) &&
               has_next) {
      f |= kOptPx;
      expire = &ctx.argv[++j];
    } else if (EqualsIgnoreCase(opt, "exat") && !(f & (kOptPersist | kOptEx | kOptPx | kOptPxAt)) &&
               has_next) {
      f |= kOptExAt;
      expire = &ctx.argv[++j];
    } else if (EqualsIgnoreCase(opt, "pxat") && !(f & (kOptPersist | kOptEx | kOptExAt | kOptPx)) &&
               has_next) {
      f |= kOptPxAt;
      expire = &ctx.argv[++j];
    } else {
      return ctx.Error(kErrSyntax);
    }
  }
  uint8_t flags = 0;
  int64_t at = 0;
  if (expire != nullptr) {
    bool seconds = (f & (kOptEx | kOptExAt)) != 0;
    bool relative = (f & (kOptEx | kOptPx)) != 0;
    // Redis checks the expiry only after finding the key: a missing key
    // replies nil even to a bad time. A bad time changes nothing, so answer
    // it with a read instead of a write through the log.
    std::string error = ExpireMsOrError(*expire, seconds, relative, ctx.now_ms, "getex", &at);
    if (!error.empty()) {
      return ctx.Read([key = std::move(ctx.argv[1]), error = std::move(error), s = ctx.shared](
                          Store& store, int64_t now, ReplyBuilder& rb) {
        if (!store.Get(key, now)) return rb.Null();
        s->stats.total_error_replies.fetch_add(1, std::memory_order_relaxed);
        rb.Error(error);
      });
    }
    flags = kGetExSetExpiry;
  } else if (f & kOptPersist) {
    flags = kGetExPersist;
  }
  ctx.Write(MakeGetEx(std::move(ctx.argv[1]), ctx.now_ms, flags, at));
}

void CmdIncrbyfloat(Ctx& ctx) {
  long double incr;
  if (!StringToLongDouble(ctx.argv[2], &incr)) return ctx.Error(kErrNotFloat);
  ctx.Write(MakeKeyValue(WriteOp::kIncrByFloat, std::move(ctx.argv[1]), std::move(ctx.argv[2]),
                         ctx.now_ms));
}

void CmdSetrange(Ctx& ctx) {
  int64_t offset;
  if (!ParseInt(ctx, ctx.argv[2], &offset)) return;
  if (offset < 0) return ctx.Error(kErrOffsetRange);
  // Redis's checkStringLength, done before looking at the key (an empty value
  // is never too long); apply checks the storage limit again.
  const std::string& value = ctx.argv[3];
  int64_t total;
  if (!value.empty() && (AddOverflows(offset, static_cast<int64_t>(value.size()), &total) ||
                         total > static_cast<int64_t>(ctx.shared->config.proto_max_bulk_len()))) {
    return ctx.Error(kErrStringTooLong);
  }
  ctx.Write(MakeSetRange(std::move(ctx.argv[1]), offset, std::move(ctx.argv[3]), ctx.now_ms));
}

void CountHit(SharedState* s, bool hit) {
  (hit ? s->stats.keyspace_hits : s->stats.keyspace_misses).fetch_add(1, std::memory_order_relaxed);
}

void CmdGet(Ctx& ctx) {
  ctx.Read(
      [key = std::move(ctx.argv[1]), s = ctx.shared](Store& store, int64_t now, ReplyBuilder& rb) {
        std::optional<Record> r = store.Get(key, now);
        CountHit(s, r.has_value());
        if (r) {
          rb.Bulk(r->value);
        } else {
          rb.Null();
        }
      });
}

void CmdMget(Ctx& ctx) {
  std::vector<std::string> keys(std::make_move_iterator(ctx.argv.begin() + 1),
                                std::make_move_iterator(ctx.argv.end()));
  ctx.Read([keys = std::move(keys), s = ctx.shared](Store& store, int64_t now, ReplyBuilder& rb) {
    rb.ArrayHeader(keys.size());
    for (const std::string& k : keys) {
      std::optional<Record> r = store.Get(k, now);
      CountHit(s, r.has_value());
      if (r) {
        rb.Bulk(r->value);
      } else {
        rb.Null();
      }
    }
  });
}

void CmdExists(Ctx& ctx) {
  std::vector<std::string> keys(std::make_move_iterator(ctx.argv.begin() + 1),
                                std::make_move_iterator(ctx.argv.end()));
  ctx.Read([keys = std::move(keys)](Store& store, int64_t now, ReplyBuilder& rb) {
    int64_t n = 0;
    for (const std::string& k : keys)
      n += store.Get(k, now).has_value() ? 1 : 0;
    rb.Integer(n);
  });
}

void CmdStrlen(Ctx& ctx) {
  ctx.Read([key = std::move(ctx.argv[1])](Store& store, int64_t now, ReplyBuilder& rb) {
    std::optional<Record> r = store.Get(key, now);
    rb.Integer(r ? static_cast<int64_t>(r->value.size()) : 0);
  });
}

void CmdGetrange(Ctx& ctx) {
  int64_t start, end;
  if (!ParseInt(ctx, ctx.argv[2], &start) || !ParseInt(ctx, ctx.argv[3], &end)) return;
  ctx.Read([key = std::move(ctx.argv[1]), start, end](Store& store, int64_t now,
                                                      ReplyBuilder& rb) mutable {
    std::optional<Record> r = store.Get(key, now);
    if (!r) return rb.Bulk("");
    const int64_t len = static_cast<int64_t>(r->value.size());
    if (start < 0 && end < 0 && start > end) return rb.Bulk("");
    if (start < 0) start = len + start;
    if (end < 0) end = len + end;
    if (start < 0) start = 0;
    if (end < 0) end = 0;
    if (end >= len) end = len - 1;
    if (start > end || len == 0) return rb.Bulk("");
    rb.Bulk(std::string_view(r->value).substr(static_cast<size_t>(start),
                                              static_cast<size_t>(end - start + 1)));
  });
}

// TTL, PTTL, EXPIRETIME, PEXPIRETIME (Redis's ttlGenericCommand).
void TtlGeneric(Ctx& ctx, bool output_ms, bool output_abs) {
  ctx.Read([key = std::move(ctx.argv[1]), output_ms, output_abs](Store& store, int64_t now,
                                                                 ReplyBuilder& rb) {
    std::optional<Record> r = store.Get(key, now);
    if (!r) return rb.Integer(-2);
    if (r->expire_at_ms == 0) return rb.Integer(-1);
    int64_t ttl = output_abs ? r->expire_at_ms : r->expire_at_ms - now;
    if (ttl < 0) ttl = 0;
    rb.Integer(output_ms ? ttl : (ttl + 500) / 1000);
  });
}

void CmdTtl(Ctx& ctx) {
  TtlGeneric(ctx, false, false);
}
void CmdPttl(Ctx& ctx) {
  TtlGeneric(ctx, true, false);
}
void CmdExpiretime(Ctx& ctx) {
  TtlGeneric(ctx, false, true);
}
void CmdPexpiretime(Ctx& ctx) {
  TtlGeneric(ctx, true, true);
}

// EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT (Redis's expireGenericCommand).
void ExpireGeneric(Ctx& ctx, bool relative, bool seconds, std::string_view name) {
  uint8_t flags = 0;
  bool nx = false, xx = false, gt = false, lt = false;
  for (size_t j = 3; j < ctx.argc(); ++j) {
    const std::string& opt = ctx.argv[j];
    if (EqualsIgnoreCase(opt, "nx")) {
      flags |= kExpireNx;
      nx = true;
    } else if (EqualsIgnoreCase(opt, "xx")) {
      flags |= kExpireXx;
      xx = true;
    } else if (EqualsIgnoreCase(opt, "gt")) {
      flags |= kExpireGt;
      gt = true;
    } else if (EqualsIgnoreCase(opt, "lt")) {
      flags |= kExpireLt;
      lt = true;
    } else {
      return ctx.Error("ERR Unsupported option " + CString(opt, SIZE_MAX));
    }
  }
  if ((nx && xx) || (nx && gt) || (nx && lt)) {
    return ctx.Error("ERR NX and XX, GT or LT options at the same time are not compatible");
  }
  if (gt && lt) return ctx.Error("ERR GT and LT options at the same time are not compatible");
  int64_t when;
  if (!ParseInt(ctx, ctx.argv[2], &when)) return;
  if (seconds) {
    if (when > LLONG_MAX / 1000 || when < LLONG_MIN / 1000) return ErrExpireTime(ctx, name);
    when *= 1000;
  }
  int64_t base = relative ? ctx.now_ms : 0;
  if (when > LLONG_MAX - base) return ErrExpireTime(ctx, name);
  when += base;
  ctx.Write(MakeExpireAt(std::move(ctx.argv[1]), when, ctx.now_ms, flags));
}

void CmdExpire(Ctx& ctx) {
  ExpireGeneric(ctx, true, true, "expire");
}
void CmdPexpire(Ctx& ctx) {
  ExpireGeneric(ctx, true, false, "pexpire");
}
void CmdExpireat(Ctx& ctx) {
  ExpireGeneric(ctx, false, true, "expireat");
}
void CmdPexpireat(Ctx& ctx) {
  ExpireGeneric(ctx, false, false, "pexpireat");
}

void CmdPersist(Ctx& ctx) {
  ctx.Write(MakeCommand(WriteOp::kPersist, ctx.now_ms, {std::move(ctx.argv[1])}));
}

void CmdType(Ctx& ctx) {
  ctx.Read([key = std::move(ctx.argv[1])](Store& store, int64_t now, ReplyBuilder& rb) {
    rb.SimpleString(store.Get(key, now) ? "string" : "none");
  });
}

constexpr size_t kKeysPage = 1024;

void CmdKeys(Ctx& ctx) {
  ctx.Read([pattern = std::move(ctx.argv[1])](Store& store, int64_t now, ReplyBuilder& rb) {
    const bool all = pattern == "*";
    std::vector<std::string> keys;
    uint64_t cursor = 0;
    do {
      ScanPage page = store.Scan(cursor, kKeysPage, now);
      for (std::string& k : page.keys) {
        if (all || GlobMatch(pattern, k)) keys.push_back(std::move(k));
      }
      cursor = page.next_cursor;
    } while (cursor != 0);
    rb.ArrayHeader(keys.size());
    for (const std::string& k : keys)
      rb.Bulk(k);
  });
}

void CmdScan(Ctx& ctx) {
  // Redis's parseScanCursorOrReply: strtoul, no leading space, nothing after.
  const std::string& c = ctx.argv[1];
  errno = 0;
  char* end = nullptr;
  unsigned long long cursor = std::strtoull(c.c_str(), &end, 10);
  bool leading_space = !c.empty() && std::isspace(static_cast<unsigned char>(c[0]));
  if (leading_space || *end != '\0' || errno == ERANGE) return ctx.Error("ERR invalid cursor");
  int64_t count = 10;
  std::string pattern;
  bool use_pattern = false;
  std::string type;
  bool use_type = false;
  for (size_t i = 2; i < ctx.argc();) {
    size_t j = ctx.argc() - i;
    if (EqualsIgnoreCase(ctx.argv[i], "count") && j >= 2) {
      if (!ParseInt(ctx, ctx.argv[i + 1], &count)) return;
      if (count < 1) return ctx.Error(kErrSyntax);
      i += 2;
    } else if (EqualsIgnoreCase(ctx.argv[i], "match") && j >= 2) {
      pattern = ctx.argv[i + 1];
      use_pattern = pattern != "*";
      i += 2;
    } else if (EqualsIgnoreCase(ctx.argv[i], "type") && j >= 2) {
      type = ctx.argv[i + 1];
      use_type = true;
      i += 2;
    } else {
      return ctx.Error(kErrSyntax);
    }
  }
  ctx.Read([cursor, count, pattern = std::move(pattern), use_pattern, use_type,
            string_type = !use_type || EqualsIgnoreCase(type, "string")](Store& store, int64_t now,
                                                                         ReplyBuilder& rb) {
    ScanPage page = store.Scan(cursor, static_cast<size_t>(count), now);
    std::vector<std::string*> keys;
    if (!use_type || string_type) {
      for (std::string& k : page.keys) {
        if (!use_pattern || GlobMatch(pattern, k)) keys.push_back(&k);
      }
    }
    rb.ArrayHeader(2);
    rb.Bulk(std::to_string(page.next_cursor));
    rb.ArrayHeader(keys.size());
    for (const std::string* k : keys)
      rb.Bulk(*k);
  });
}

void CmdRandomkey(Ctx& ctx) {
  ctx.Read([](Store& store, int64_t now, ReplyBuilder& rb) {
    std::optional<std::string> k = store.RandomKey(now);
    if (k) {
      rb.Bulk(*k);
    } else {
      rb.Null();
    }
  });
}

// PHALANX <subcommand> [args...]: cluster administration, answered by the
// node (Store::Admin). Ordered like a write on its connection.
void CmdPhalanx(Ctx& ctx) {
  ctx.out->kind = Prepared::Kind::kAdmin;
  ctx.out->admin_args.assign(std::make_move_iterator(ctx.argv.begin() + 1),
                             std::make_move_iterator(ctx.argv.end()));
  ctx.out->on_result = CommandExecutor::ReplyFromResult;
}

// HTTP requests ("POST", "Host:"): Redis's securityWarningCommand closes
// the connection without a reply.
void CmdSecurityWarning(Ctx& ctx) {
  ctx.out->kind = Prepared::Kind::kDrop;
}

// ---- the table ----

const Spec kCommands[] = {
    {"ping", -1, 0, CmdPing},
    {"echo", 2, 0, CmdEcho},
    {"quit", -1, kNoAuth, CmdQuit},
    {"reset", 1, kNoAuth, CmdReset},
    {"hello", -1, kNoAuth, CmdHello},
    {"auth", -2, kNoAuth, CmdAuth},
    {"select", 2, 0, CmdSelect},
    {"client", -2, 0, nullptr},
    {"command", -1, 0, CmdCommand},
    {"config", -2, 0, nullptr},
    {"info", -1, 0, CmdInfo},
    {"dbsize", 1, 0, CmdDbsize},
    {"time", 1, 0, CmdTime},
    {"readonly", 1, 0, CmdReadonly},
    {"readwrite", 1, 0, CmdReadwrite},
    {"flushall", -1, 0, CmdFlushall},
    {"flushdb", -1, 0, CmdFlushall},
    {"set", -3, 0, CmdSet},
    {"get", 2, 0, CmdGet},
    {"getset", 3, 0, CmdGetset},
    {"setnx", 3, 0, CmdSetnx},
    {"setex", 4, 0, CmdSetex},
    {"psetex", 4, 0, CmdPsetex},
    {"mset", -3, 0, CmdMset},
    {"msetnx", -3, 0, CmdMsetnx},
    {"mget", -2, 0, CmdMget},
    {"del", -2, 0, CmdDel},
    {"unlink", -2, 0, CmdDel},
    {"exists", -2, 0, CmdExists},
    {"incr", 2, 0, CmdIncr},
    {"incrby", 3, 0, CmdIncrby},
    {"decr", 2, 0, CmdDecr},
    {"decrby", 3, 0, CmdDecrby},
    {"append", 3, 0, CmdAppend},
    {"getdel", 2, 0, CmdGetdel},
    {"getex", -2, 0, CmdGetex},
    {"incrbyfloat", 3, 0, CmdIncrbyfloat},
    {"setrange", 4, 0, CmdSetrange},
    {"strlen", 2, 0, CmdStrlen},
    {"getrange", 4, 0, CmdGetrange},
    {"expire", -3, 0, CmdExpire},
    {"pexpire", -3, 0, CmdPexpire},
    {"expireat", -3, 0, CmdExpireat},
    {"pexpireat", -3, 0, CmdPexpireat},
    {"ttl", 2, 0, CmdTtl},
    {"pttl", 2, 0, CmdPttl},
    {"expiretime", 2, 0, CmdExpiretime},
    {"pexpiretime", 2, 0, CmdPexpiretime},
    {"persist", 2, 0, CmdPersist},
    {"type", 2, 0, CmdType},
    {"keys", 2, 0, CmdKeys},
    {"scan", -2, 0, CmdScan},
    {"randomkey", 1, 0, CmdRandomkey},
    {"phalanx", -2, 0, CmdPhalanx},
};

const Spec kSubcommands[] = {
    {"client|setname", 3, 0, CmdClientSetname},
    {"client|getname", 2, 0, CmdClientGetname},
    {"client|id", 2, 0, CmdClientId},
    {"client|setinfo", 4, 0, CmdClientSetinfo},
    {"client|info", 2, 0, CmdClientInfo},
    {"client|list", -2, 0, CmdClientList},
    {"client|help", 2, 0, CmdClientHelp},
    {"command|count", 2, 0, CmdCommandCount},
    {"command|docs", -2, 0, CmdCommandDocs},
    {"command|info", -2, 0, CmdCommandInfo},
    {"command|list", -2, 0, CmdCommandList},
    {"command|help", 2, 0, CmdCommandHelp},
    {"config|get", -3, 0, CmdConfigGet},
    {"config|set", -4, 0, CmdConfigSet},
    {"config|resetstat", 2, 0, CmdConfigResetstat},
    {"config|help", 2, 0, CmdConfigHelp},
};

// Commands not in the table that Redis answers by closing the connection.
const Spec kSecurity[] = {
    {"post", -1, kNoAuth, CmdSecurityWarning},
    {"host:", -1, kNoAuth, CmdSecurityWarning},
};

struct Table {
  std::unordered_map<std::string_view, const Spec*> commands;
  std::unordered_map<std::string_view, const Spec*> subcommands;  // "client|setname"
  std::set<std::string_view> containers;
};

const Table& GetTable() {
  static const Table table = [] {
    Table t;
    for (const Spec& s : kCommands)
      t.commands[s.name] = &s;
    for (const Spec& s : kSecurity)
      t.commands[s.name] = &s;
    for (const Spec& s : kSubcommands) {
      t.subcommands[s.name] = &s;
      t.containers.insert(s.name.substr(0, s.name.find('|')));
    }
    return t;
  }();
  return table;
}

std::string_view FindInfo(std::string_view name) {
  size_t bar = name.find('|');
  const DocEntry* d = FindDocs(name.substr(0, bar));
  if (d == nullptr) return {};
  if (bar == std::string_view::npos) return d->info;
  if (GetTable().subcommands.count(name) == 0) return {};
  // Find the subcommand's *10 entry inside the container's: it starts with
  // "*10\r\n$<len>\r\n<name>\r\n" and runs to the next such header or the end.
  std::string header =
      "*10\r\n$" + std::to_string(name.size()) + "\r\n" + std::string(name) + "\r\n";
  size_t start = d->info.find(header);
  if (start == std::string_view::npos) return {};
  size_t end = d->info.find("*10\r\n$", start + header.size());
  if (end == std::string_view::npos) end = d->info.size();
  return d->info.substr(start, end - start);
}

}  // namespace

std::vector<std::string> CommandExecutor::CommandNames() {
  std::vector<std::string> names;
  for (const Spec& s : kCommands) {
    names.emplace_back(s.name);
    for (const Spec& sub : kSubcommands) {
      if (sub.name.substr(0, sub.name.find('|')) == s.name) names.emplace_back(sub.name);
    }
  }
  return names;
}

void CommandExecutor::ReplyFromResult(const StoreResult& r, ReplyBuilder& rb) {
  switch (r.type) {
    case StoreResult::Type::kOk:
      rb.Ok();
      break;
    case StoreResult::Type::kNil:
      rb.Null();
      break;
    case StoreResult::Type::kInteger:
      rb.Integer(r.integer);
      break;
    case StoreResult::Type::kBulk:
      rb.Bulk(r.bytes);
      break;
    case StoreResult::Type::kError:
      rb.Error(r.bytes);
      break;
  }
}

Prepared CommandExecutor::Prepare(ClientState* client, std::vector<std::string>& argv) {
  Prepared out;
  out.proto = client->proto;
  Ctx ctx{shared_,      this, client, argv, &out, ReplyBuilder(&out.reply, client->proto),
          WallClockMs()};
  const Table& table = GetTable();
  std::string name = ToLower(argv[0]);
  auto it = table.commands.find(name);
  const Spec* spec = it == table.commands.end() ? nullptr : it->second;
  if (spec != nullptr && table.containers.count(spec->name) != 0 && argv.size() >= 2) {
    std::string full = name + "|" + ToLower(argv[1]);
    auto sub = table.subcommands.find(full);
    if (sub == table.subcommands.end()) {
      ctx.Error("ERR unknown subcommand '" + CString(argv[1], 128) + "'. Try " + Upper(argv[0]) +
                " HELP.");
      return out;
    }
    spec = sub->second;
  }
  if (spec == nullptr) {
    std::string args;
    for (size_t i = 1; i < argv.size() && args.size() < 128; ++i) {
      // Redis: "'%.*s' " with 128 - sdslen(args) measured before the quote.
      // Appended piece by piece (GCC 12 -O3 -Wrestrict false positive).
      const size_t room = 128 - args.size();
      args += '\'';
      args += CString(argv[i], room);
      args += "' ";
    }
    ctx.Error("ERR unknown command '" + CString(argv[0], 128) +
              "', with args beginning with: " + args);
    return out;
  }
  if (spec->handler == CmdSecurityWarning) {
    out.kind = Prepared::Kind::kDrop;
    return out;
  }
  const int64_t argc = static_cast<int64_t>(argv.size());
  if ((spec->arity > 0 && spec->arity != argc) || argc < -spec->arity) {
    ErrArity(ctx, spec->name);
    return out;
  }
  if (!client->authenticated && (spec->flags & kNoAuth) == 0 && shared_->config.has_password()) {
    ctx.Error(kErrNoAuth);
    return out;
  }
  client->last_command = std::string(spec->name);
  shared_->stats.total_commands_processed.fetch_add(1, std::memory_order_relaxed);
  if (spec->handler == nullptr) {  // a container called without a subcommand
    ErrArity(ctx, spec->name);
    return out;
  }
  spec->handler(ctx);
  return out;
}

std::string CommandExecutor::FormatClientLine(const ClientState& c, int64_t now) {
  std::string s;
  s.reserve(320);
  auto field = [&](std::string_view k, std::string_view v) {
    if (!s.empty()) s.push_back(' ');
    s.append(k);
    s.push_back('=');
    s.append(v);
  };
  auto num = [&](std::string_view k, int64_t v) { field(k, std::to_string(v)); };
  num("id", static_cast<int64_t>(c.id));
  field("addr", c.addr);
  field("laddr", c.laddr);
  num("fd", c.fd);
  field("name", c.name);
  num("age", (now - c.created_ms) / 1000);
  num("idle", (now - c.last_interaction_ms) / 1000);
  field("flags", c.readonly ? "r" : "N");
  num("db", 0);
  num("sub", 0);
  num("psub", 0);
  num("ssub", 0);
  num("multi", -1);
  num("qbuf", static_cast<int64_t>(c.query_buffer));
  num("qbuf-free", 0);
  num("argv-mem", 0);
  num("multi-mem", 0);
  num("rbs", 0);
  num("rbp", 0);
  num("obl", 0);
  num("oll", 0);
  num("omem", static_cast<int64_t>(c.output_bytes));
  num("tot-mem", static_cast<int64_t>(c.query_buffer + c.output_bytes));
  field("events", "r");
  field("cmd", c.last_command);
  field("user", "default");
  num("redir", -1);
  num("resp", c.proto);
  field("lib-name", c.lib_name);
  field("lib-ver", c.lib_ver);
  return s;
}

namespace {

std::string BytesToHuman(uint64_t n) {
  char buf[64];
  double d = static_cast<double>(n);
  if (n < 1024) {
    snprintf(buf, sizeof(buf), "%lluB", static_cast<unsigned long long>(n));
  } else if (n < 1024ULL * 1024) {
    snprintf(buf, sizeof(buf), "%.2fK", d / 1024);
  } else if (n < 1024ULL * 1024 * 1024) {
    snprintf(buf, sizeof(buf), "%.2fM", d / (1024 * 1024));
  } else {
    snprintf(buf, sizeof(buf), "%.2fG", d / (1024.0 * 1024 * 1024));
  }
  return buf;
}

uint64_t ResidentBytes() {
  std::ifstream statm("/proc/self/statm");
  uint64_t size = 0, resident = 0;
  if (!(statm >> size >> resident)) return 0;
  return resident * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
}

}  // namespace

std::string CommandExecutor::Info(const std::vector<std::string>& args) const {
  static constexpr std::string_view kAll[] = {"server", "clients",     "memory", "persistence",
                                              "stats",  "replication", "cpu",    "keyspace",
                                              "raft",   "membership"};
  std::set<std::string> want;
  if (args.empty()) {
    for (std::string_view s : kAll)
      want.emplace(s);
  }
  for (const std::string& a : args) {
    if (a == "all" || a == "everything" || a == "default") {
      for (std::string_view s : kAll)
        want.emplace(s);
    } else {
      want.insert(a);
    }
  }
  const SharedState& sh = *shared_;
  const ServerStats& st = sh.stats;
  std::string out;
  auto section = [&](std::string_view title) {
    if (!out.empty()) out += "\r\n";
    out += "# ";
    out += title;
    out += "\r\n";
  };
  auto line = [&](std::string_view k, const std::string& v) {
    out.append(k);
    out.push_back(':');
    out.append(v);
    out += "\r\n";
  };
  auto num = [&](std::string_view k, int64_t v) { line(k, std::to_string(v)); };
  auto store_lines = [&](std::string_view name) {
    std::string lines = sh.store->InfoSection(name);
    out += lines;
    if (!lines.empty() && lines.back() != '\n') out += "\r\n";
  };
  if (want.count("server")) {
    section("Server");
    struct utsname u;
    uname(&u);
    int64_t uptime = (MonotonicMs() - sh.start_monotonic_ms) / 1000;
    line("redis_version", std::string(kRedisVersion));
    line("redis_git_sha1", "00000000");
    line("redis_git_dirty", "0");
    line("redis_build_id", "0");
    line("redis_mode", "standalone");
    line("os", std::string(u.sysname) + " " + u.release + " " + u.machine);
    line("arch_bits", std::to_string(sizeof(void*) * 8));
    line("monotonic_clock", "POSIX clock_gettime");
    line("multiplexing_api", "epoll");
    num("process_id", getpid());
    line("process_supervised", "no");
    line("run_id", sh.run_id);
    num("tcp_port", sh.port);
    num("server_time_usec", WallClockUs());
    num("uptime_in_seconds", uptime);
    num("uptime_in_days", uptime / 86400);
    num("hz", 10);
    num("configured_hz", 10);
    num("io_threads_active", 0);
    line("phalanx_version", std::string(util::kPhalanxVersion));
    num("phalanx_event_loops", sh.threads);
  }
  if (want.count("clients")) {
    section("Clients");
    num("connected_clients", st.connected_clients.load());
    num("cluster_connections", 0);
    num("maxclients", sh.config.maxclients());
    num("client_recent_max_input_buffer", 0);
    num("client_recent_max_output_buffer", 0);
    num("blocked_clients", 0);
    num("tracking_clients", 0);
    num("clients_in_timeout_table", 0);
  }
  if (want.count("memory")) {
    section("Memory");
    uint64_t rss = ResidentBytes();
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    uint64_t peak = static_cast<uint64_t>(ru.ru_maxrss) * 1024;
    num("used_memory", static_cast<int64_t>(rss));
    line("used_memory_human", BytesToHuman(rss));
    num("used_memory_rss", static_cast<int64_t>(rss));
    line("used_memory_rss_human", BytesToHuman(rss));
    num("used_memory_peak", static_cast<int64_t>(peak));
    line("used_memory_peak_human", BytesToHuman(peak));
    num("maxmemory", 0);
    line("maxmemory_human", "0B");
    line("maxmemory_policy", "noeviction");
    line("mem_allocator", "libc");
  }
  if (want.count("persistence")) {
    section("Persistence");
    store_lines("persistence");
  }
  if (want.count("stats")) {
    section("Stats");
    num("total_connections_received", static_cast<int64_t>(st.total_connections_received.load()));
    num("total_commands_processed", static_cast<int64_t>(st.total_commands_processed.load()));
    num("instantaneous_ops_per_sec", 0);
    num("total_net_input_bytes", static_cast<int64_t>(st.total_net_input_bytes.load()));
    num("total_net_output_bytes", static_cast<int64_t>(st.total_net_output_bytes.load()));
    num("rejected_connections", static_cast<int64_t>(st.rejected_connections.load()));
    num("expired_keys", 0);
    num("evicted_keys", 0);
    num("keyspace_hits", static_cast<int64_t>(st.keyspace_hits.load()));
    num("keyspace_misses", static_cast<int64_t>(st.keyspace_misses.load()));
    num("total_error_replies", static_cast<int64_t>(st.total_error_replies.load()));
    num("client_query_buffer_limit_disconnections",
        static_cast<int64_t>(st.client_query_buffer_limit_disconnections.load()));
    num("client_output_buffer_limit_disconnections",
        static_cast<int64_t>(st.client_output_limit_disconnections.load()));
  }
  if (want.count("replication")) {
    section("Replication");
    line("role", "master");
    num("connected_slaves", 0);
  }
  if (want.count("cpu")) {
    section("CPU");
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    char buf[64];
    snprintf(buf, sizeof(buf), "%ld.%06ld", static_cast<long>(ru.ru_stime.tv_sec),
             static_cast<long>(ru.ru_stime.tv_usec));
    line("used_cpu_sys", buf);
    snprintf(buf, sizeof(buf), "%ld.%06ld", static_cast<long>(ru.ru_utime.tv_sec),
             static_cast<long>(ru.ru_utime.tv_usec));
    line("used_cpu_user", buf);
  }
  if (want.count("keyspace")) {
    section("Keyspace");
    store_lines("keyspace");
  }
  if (want.count("raft")) {
    section("Raft");
    store_lines("raft");
  }
  if (want.count("membership")) {
    section("Membership");
    store_lines("membership");
  }
  return out;
}

}  // namespace phalanx::resp
