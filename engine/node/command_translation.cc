#include "engine/node/command_translation.h"

#include <cstdlib>
#include <utility>

namespace phalanx::node {

namespace {

struct FlagPair {
  uint8_t resp;
  uint8_t storage;
};

constexpr FlagPair kSetFlags[] = {
    {resp::kSetNx, storage::kSetNx},
    {resp::kSetXx, storage::kSetXx},
    {resp::kSetGet, storage::kSetGet},
    {resp::kSetKeepTtl, storage::kSetKeepTtl},
};
constexpr FlagPair kExpireFlags[] = {
    {resp::kExpireNx, storage::kExpireNx},
    {resp::kExpireXx, storage::kExpireXx},
    {resp::kExpireGt, storage::kExpireGt},
    {resp::kExpireLt, storage::kExpireLt},
};
constexpr FlagPair kGetExFlags[] = {
    {resp::kGetExPersist, storage::kGetExPersist},
    {resp::kGetExSetExpiry, storage::kGetExSetExpiry},
};

template <size_t N>
uint8_t MapFlags(const FlagPair (&pairs)[N], uint8_t flags) {
  uint8_t out = 0;
  for (const FlagPair& p : pairs) {
    if (flags & p.resp) out |= p.storage;
  }
  return out;
}

}  // namespace

storage::CommandOp ToStorageOp(resp::WriteOp op) {
  using resp::WriteOp;
  using storage::CommandOp;
  switch (op) {
    case WriteOp::kSet:
      return CommandOp::kSet;
    case WriteOp::kDel:
      return CommandOp::kDel;
    case WriteOp::kIncrBy:
      return CommandOp::kIncrBy;
    case WriteOp::kAppend:
      return CommandOp::kAppend;
    case WriteOp::kMSet:
      return CommandOp::kMSet;
    case WriteOp::kMSetNx:
      return CommandOp::kMSetNx;
    case WriteOp::kExpire:
      return CommandOp::kExpire;
    case WriteOp::kPersist:
      return CommandOp::kPersist;
    case WriteOp::kFlushAll:
      return CommandOp::kFlushAll;
    case WriteOp::kGetDel:
      return CommandOp::kGetDel;
    case WriteOp::kGetEx:
      return CommandOp::kGetEx;
    case WriteOp::kIncrByFloat:
      return CommandOp::kIncrByFloat;
    case WriteOp::kSetRange:
      return CommandOp::kSetRange;
  }
  std::abort();  // not a WriteOp: resp/ never makes one
}

uint8_t ToStorageFlags(resp::WriteOp op, uint8_t flags) {
  switch (op) {
    case resp::WriteOp::kSet:
      return MapFlags(kSetFlags, flags);
    case resp::WriteOp::kExpire:
      return MapFlags(kExpireFlags, flags);
    case resp::WriteOp::kGetEx:
      return MapFlags(kGetExFlags, flags);
    default:
      return 0;
  }
}

storage::Command ToStorageCommand(resp::WriteCommand cmd) {
  storage::Command out;
  out.op = ToStorageOp(cmd.op);
  out.flags = ToStorageFlags(cmd.op, cmd.flags);
  out.now_ms = cmd.now_ms;
  out.expire_at_ms = cmd.expire_at_ms;
  out.delta = cmd.delta;
  out.args = std::move(cmd.args);
  return out;
}

resp::StoreResult::Type ToStoreResultType(storage::ApplyResult::Type type) {
  using From = storage::ApplyResult::Type;
  using To = resp::StoreResult::Type;
  switch (type) {
    case From::kOk:
      return To::kOk;
    case From::kNil:
      return To::kNil;
    case From::kInteger:
      return To::kInteger;
    case From::kBulk:
      return To::kBulk;
    case From::kError:
      return To::kError;
  }
  std::abort();  // not an ApplyResult::Type: DecodeApplyResult rejects those
}

resp::StoreResult ToStoreResult(storage::ApplyResult r) {
  resp::StoreResult out;
  out.type = ToStoreResultType(r.type);
  out.integer = r.integer;
  out.bytes = std::move(r.bytes);
  return out;
}

std::vector<resp::StoreResult> ToStoreResults(std::vector<storage::ApplyResult> rs) {
  std::vector<resp::StoreResult> out;
  out.reserve(rs.size());
  for (auto& r : rs)
    out.push_back(ToStoreResult(std::move(r)));
  return out;
}

}  // namespace phalanx::node
