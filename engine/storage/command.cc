#include "engine/storage/command.h"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "engine/storage/coding.h"

namespace phalanx::storage {

namespace {

bool HasExpireField(CommandOp op) {
  return op == CommandOp::kSet || op == CommandOp::kExpire || op == CommandOp::kGetEx;
}

bool HasDeltaField(CommandOp op) {
  return op == CommandOp::kIncrBy || op == CommandOp::kSetRange;
}

uint8_t AllowedFlags(CommandOp op) {
  switch (op) {
    case CommandOp::kSet:
      return kSetNx | kSetXx | kSetGet | kSetKeepTtl;
    case CommandOp::kExpire:
      return kExpireNx | kExpireXx | kExpireGt | kExpireLt;
    case CommandOp::kGetEx:
      return kGetExPersist | kGetExSetExpiry;
    default:
      return 0;
  }
}

// Whether `argc` arguments suit `op`.
bool ArgcFits(CommandOp op, uint64_t argc) {
  switch (op) {
    case CommandOp::kSet:
    case CommandOp::kAppend:
    case CommandOp::kIncrByFloat:
    case CommandOp::kSetRange:
      return argc == 2;
    case CommandOp::kIncrBy:
    case CommandOp::kExpire:
    case CommandOp::kPersist:
    case CommandOp::kGetDel:
    case CommandOp::kGetEx:
      return argc == 1;
    case CommandOp::kDel:
    case CommandOp::kPurgeExpired:
      return argc >= 1;
    case CommandOp::kMSet:
    case CommandOp::kMSetNx:
      return argc >= 2 && argc % 2 == 0;
    case CommandOp::kFlushAll:
      return argc == 0;
  }
  return false;
}

bool KnownOp(uint8_t op) {
  return op >= 1 && op <= 14;
}

Command Make(CommandOp op, int64_t now_ms, std::vector<std::string> args) {
  Command c;
  c.op = op;
  c.now_ms = now_ms;
  c.args = std::move(args);
  return c;
}

std::vector<std::string> Flatten(std::vector<std::pair<std::string, std::string>> pairs) {
  std::vector<std::string> out;
  out.reserve(pairs.size() * 2);
  for (auto& pair : pairs) {
    out.push_back(std::move(pair.first));
    out.push_back(std::move(pair.second));
  }
  return out;
}

}  // namespace

Command Command::Set(std::string key, std::string value, int64_t now_ms, int64_t expire_at_ms,
                     uint8_t flags) {
  std::vector<std::string> args;
  args.push_back(std::move(key));
  args.push_back(std::move(value));
  Command c = Make(CommandOp::kSet, now_ms, std::move(args));
  c.expire_at_ms = expire_at_ms;
  c.flags = flags;
  return c;
}

Command Command::Del(std::vector<std::string> keys, int64_t now_ms) {
  return Make(CommandOp::kDel, now_ms, std::move(keys));
}

Command Command::IncrBy(std::string key, int64_t delta, int64_t now_ms) {
  Command c = Make(CommandOp::kIncrBy, now_ms, {std::move(key)});
  c.delta = delta;
  return c;
}

Command Command::Append(std::string key, std::string value, int64_t now_ms) {
  std::vector<std::string> args;
  args.push_back(std::move(key));
  args.push_back(std::move(value));
  return Make(CommandOp::kAppend, now_ms, std::move(args));
}

Command Command::MSet(std::vector<std::pair<std::string, std::string>> pairs, int64_t now_ms) {
  return Make(CommandOp::kMSet, now_ms, Flatten(std::move(pairs)));
}

Command Command::MSetNx(std::vector<std::pair<std::string, std::string>> pairs, int64_t now_ms) {
  return Make(CommandOp::kMSetNx, now_ms, Flatten(std::move(pairs)));
}

Command Command::ExpireAt(std::string key, int64_t at_ms, int64_t now_ms, uint8_t flags) {
  Command c = Make(CommandOp::kExpire, now_ms, {std::move(key)});
  c.expire_at_ms = at_ms;
  c.flags = flags;
  return c;
}

Command Command::Persist(std::string key, int64_t now_ms) {
  return Make(CommandOp::kPersist, now_ms, {std::move(key)});
}

Command Command::FlushAll(int64_t now_ms) {
  return Make(CommandOp::kFlushAll, now_ms, {});
}

Command Command::PurgeExpired(std::vector<std::string> keys, int64_t now_ms) {
  return Make(CommandOp::kPurgeExpired, now_ms, std::move(keys));
}

Command Command::GetDel(std::string key, int64_t now_ms) {
  return Make(CommandOp::kGetDel, now_ms, {std::move(key)});
}

Command Command::GetEx(std::string key, int64_t now_ms, uint8_t flags, int64_t expire_at_ms) {
  Command c = Make(CommandOp::kGetEx, now_ms, {std::move(key)});
  c.flags = flags;
  c.expire_at_ms = expire_at_ms;
  return c;
}

Command Command::IncrByFloat(std::string key, std::string increment, int64_t now_ms) {
  std::vector<std::string> args;
  args.push_back(std::move(key));
  args.push_back(std::move(increment));
  return Make(CommandOp::kIncrByFloat, now_ms, std::move(args));
}

Command Command::SetRange(std::string key, int64_t offset, std::string value, int64_t now_ms) {
  std::vector<std::string> args;
  args.push_back(std::move(key));
  args.push_back(std::move(value));
  Command c = Make(CommandOp::kSetRange, now_ms, std::move(args));
  c.delta = offset;
  return c;
}

std::string Command::Encode() const {
  size_t size = 16;
  for (const std::string& a : args)
    size += a.size() + 5;
  std::string out;
  out.reserve(size);
  out.push_back(static_cast<char>(kCommandVersion));
  out.push_back(static_cast<char>(op));
  out.push_back(static_cast<char>(flags));
  coding::PutVarsint64(&out, now_ms);
  if (HasExpireField(op)) coding::PutVarsint64(&out, expire_at_ms);
  if (HasDeltaField(op)) coding::PutVarsint64(&out, delta);
  coding::PutVarint64(&out, args.size());
  for (const std::string& a : args)
    coding::PutLengthPrefixed(&out, a);
  return out;
}

Status DecodeCommand(std::string_view data, CommandView* out) {
  std::string_view in = data;
  uint8_t version, op, flags;
  if (!coding::GetByte(&in, &version) || !coding::GetByte(&in, &op) ||
      !coding::GetByte(&in, &flags)) {
    return Status::Corruption("command: truncated header");
  }
  if (version != kCommandVersion) {
    return Status::Corruption("command: unknown encoding version " + std::to_string(version));
  }
  if (!KnownOp(op)) return Status::Corruption("command: unknown op " + std::to_string(op));
  out->op = static_cast<CommandOp>(op);
  if ((flags & ~AllowedFlags(out->op)) != 0) {
    return Status::Corruption("command: flags " + std::to_string(flags) + " invalid for op " +
                              std::to_string(op));
  }
  out->flags = flags;
  out->expire_at_ms = 0;
  out->delta = 0;
  if (!coding::GetVarsint64(&in, &out->now_ms)) return Status::Corruption("command: bad now_ms");
  if (HasExpireField(out->op) && !coding::GetVarsint64(&in, &out->expire_at_ms)) {
    return Status::Corruption("command: bad expiry");
  }
  if (HasDeltaField(out->op) && !coding::GetVarsint64(&in, &out->delta)) {
    return Status::Corruption("command: bad delta");
  }
  uint64_t argc;
  // Each argument takes at least one byte, so a count beyond the remaining
  // bytes is a lie: refuse it before reserving anything.
  if (!coding::GetVarint64(&in, &argc) || argc > in.size()) {
    return Status::Corruption("command: bad argument count");
  }
  if (!ArgcFits(out->op, argc)) {
    return Status::Corruption("command: " + std::to_string(argc) + " arguments invalid for op " +
                              std::to_string(op));
  }
  out->args.clear();
  out->args.reserve(argc);
  for (uint64_t i = 0; i < argc; ++i) {
    std::string_view a;
    if (!coding::GetLengthPrefixed(&in, &a)) return Status::Corruption("command: bad argument");
    out->args.push_back(a);
  }
  if (!in.empty()) return Status::Corruption("command: trailing bytes");
  return Status::Ok();
}

bool ParseLongDouble(std::string_view s, long double* out) {
  // Mirrors Redis 7.0's string2ld (util.c). MAX_LONG_DOUBLE_CHARS is 5 * 1024.
  constexpr size_t kMaxChars = size_t{5} * 1024;
  if (s.empty() || s.size() >= kMaxChars) return false;
  std::string buf(s);  // NUL-terminated for strtold
  errno = 0;
  char* end = nullptr;
  long double v = strtold(buf.c_str(), &end);
  if (std::isspace(static_cast<unsigned char>(buf[0])) ||
      *end != '\0' ||  // as Redis: text after an embedded NUL is not looked at
      (errno == ERANGE && (v == HUGE_VALL || v == -HUGE_VALL || std::fpclassify(v) == FP_ZERO)) ||
      std::isnan(v)) {
    return false;
  }
  *out = v;
  return true;
}

std::string FormatLongDouble(long double v) {
  // Mirrors Redis 7.0's ld2string(..., LD_STR_HUMAN). The largest finite long
  // double prints with ~4950 digits, so size the buffer from snprintf.
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  int n = std::snprintf(nullptr, 0, "%.17Lf", v);
  if (n <= 0) return "0";
  std::string buf(static_cast<size_t>(n) + 1, '\0');
  std::snprintf(buf.data(), buf.size(), "%.17Lf", v);
  buf.resize(static_cast<size_t>(n));
  if (buf.find('.') != std::string::npos) {
    while (!buf.empty() && buf.back() == '0')
      buf.pop_back();
    if (!buf.empty() && buf.back() == '.') buf.pop_back();
  }
  if (buf == "-0") buf = "0";
  return buf;
}

}  // namespace phalanx::storage
