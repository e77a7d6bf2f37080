// The state machine's command format: what a proposer puts in a Raft entry and
// what KvStore::Apply executes, plus the result each apply hands back.
//
// Determinism: applying the same entries in the same order gives the same
// state and results on every replica. Everything that depends on a clock is
// decided by the proposer and carried in the command: `now_ms` (keys whose
// expiry is <= now_ms count as absent) and absolute expiry times in ms since
// the Unix epoch. Apply never reads a clock.
//
// Encoding, version 1 (all integers LEB128 varints, signed ones zigzagged):
//
//   u8 version(=1) | u8 op | u8 flags | svarint now_ms |
//   [svarint expire_at_ms]   for kSet, kExpire and kGetEx
//   [svarint delta]          for kIncrBy and kSetRange (the offset)
//   varint argc | argc x (varint length | bytes)
//
// A newer version must keep decoding version 1 entries: they stay in logs and
// snapshots of running clusters. Decoding rejects unknown versions, unknown
// ops or flags, wrong argument counts and trailing bytes; Apply turns such an
// entry into an error result (never a crash, never a state change).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/storage/status.h"

namespace phalanx::storage {

inline constexpr uint8_t kCommandVersion = 1;

enum class CommandOp : uint8_t {
  kSet = 1,            // args: key, value. flags: SetFlag. expire_at_ms: 0 = no expiry
  kDel = 2,            // args: keys (>= 1). Result: integer, live keys removed
  kIncrBy = 3,         // args: key. delta. Result: integer or error
  kAppend = 4,         // args: key, value. Result: integer, new length
  kMSet = 5,           // args: k1, v1, k2, v2, ... Result: OK
  kMSetNx = 6,         // args as kMSet. Result: integer 1 if all set, 0 if any key existed
  kExpire = 7,         // args: key. expire_at_ms. flags: ExpireFlag. Result: integer 1/0
  kPersist = 8,        // args: key. Result: integer 1/0
  kFlushAll = 9,       // no args. Result: OK
  kPurgeExpired = 10,  // args: keys. Deletes those expired at now_ms. Result: integer count
  // Added later in version 1: new op codes only ever get appended, so every
  // entry written before stays decodable with its meaning unchanged.
  kGetDel = 11,       // args: key. Result: the value (bulk) or nil; the key is deleted
  kGetEx = 12,        // args: key. flags: GetExFlag. expire_at_ms. Result: bulk or nil
  kIncrByFloat = 13,  // args: key, increment (text). Result: bulk new value or error
  kSetRange = 14,     // args: key, value. delta: offset (>= 0). Result: integer, new length
};

// SET options (Redis 7 semantics). NX and XX are exclusive (the front end
// rejects both; if both are set anyway, NX wins).
enum SetFlag : uint8_t {
  kSetNx = 1,       // only if the key does not exist
  kSetXx = 2,       // only if the key exists
  kSetGet = 4,      // reply with the old value (bulk or nil) instead of OK/nil
  kSetKeepTtl = 8,  // keep the key's current expiry (expire_at_ms is ignored)
};

// EXPIRE options (Redis 7). A key without expiry counts as an infinite TTL for
// GT and LT.
enum ExpireFlag : uint8_t {
  kExpireNx = 1,  // only if the key has no expiry
  kExpireXx = 2,  // only if the key has an expiry
  kExpireGt = 4,  // only if the new expiry is greater than the current one
  kExpireLt = 8,  // only if the new expiry is less than the current one
};

// GETEX options. Without either flag GETEX is a plain GET that goes through
// the log (harmless, and keeps one code path).
enum GetExFlag : uint8_t {
  kGetExPersist = 1,    // remove the key's expiry
  kGetExSetExpiry = 2,  // set expiry to expire_at_ms (at or before now_ms: delete the key)
};

// A command as a proposer builds it. Owns its bytes.
struct Command {
  CommandOp op = CommandOp::kSet;
  uint8_t flags = 0;
  int64_t now_ms = 0;        // the proposer's clock
  int64_t expire_at_ms = 0;  // kSet: absolute expiry (0 = none); kExpire: the new expiry
  int64_t delta = 0;         // kIncrBy: the delta; kSetRange: the offset
  std::vector<std::string> args;

  // SET key value [NX|XX] [GET] [KEEPTTL | expire_at_ms]. An expiry at or before
  // now_ms deletes the key (the write happened and expired at once).
  static Command Set(std::string key, std::string value, int64_t now_ms, int64_t expire_at_ms = 0,
                     uint8_t flags = 0);
  static Command Del(std::vector<std::string> keys, int64_t now_ms);
  // INCRBY/DECRBY/INCR/DECR. The integer check happens at apply.
  static Command IncrBy(std::string key, int64_t delta, int64_t now_ms);
  static Command Append(std::string key, std::string value, int64_t now_ms);
  static Command MSet(std::vector<std::pair<std::string, std::string>> pairs, int64_t now_ms);
  static Command MSetNx(std::vector<std::pair<std::string, std::string>> pairs, int64_t now_ms);
  // EXPIRE/PEXPIRE/EXPIREAT/PEXPIREAT, normalized by the proposer to an absolute
  // time in ms. A time at or before now_ms deletes the key (Redis behaviour).
  static Command ExpireAt(std::string key, int64_t at_ms, int64_t now_ms, uint8_t flags = 0);
  static Command Persist(std::string key, int64_t now_ms);
  static Command FlushAll(int64_t now_ms);
  // Active expiry: the leader proposes this for keys it found expired; apply
  // deletes each key only if it is still expired at now_ms (a key SET again
  // in between survives).
  static Command PurgeExpired(std::vector<std::string> keys, int64_t now_ms);
  static Command GetDel(std::string key, int64_t now_ms);
  // GETEX key [EX|PX|EXAT|PXAT t | PERSIST]: flags 0 (no change), kGetExPersist,
  // or kGetExSetExpiry with the absolute expiry the proposer computed.
  static Command GetEx(std::string key, int64_t now_ms, uint8_t flags = 0,
                       int64_t expire_at_ms = 0);
  // INCRBYFLOAT: the increment travels as the client's text; apply parses it
  // (ParseLongDouble) and the stored value and adds in long double. Replicas
  // agree only if they share the long double format (x86-64: 80-bit); see
  // README.md "Applied index with the data".
  static Command IncrByFloat(std::string key, std::string increment, int64_t now_ms);
  // SETRANGE: the proposer has rejected offset < 0.
  static Command SetRange(std::string key, int64_t offset, std::string value, int64_t now_ms);

  // The version-1 bytes to put in an entry.
  std::string Encode() const;
};

// A decoded command whose args point into the encoded bytes: valid only while
// those bytes live and are unchanged.
struct CommandView {
  CommandOp op = CommandOp::kSet;
  uint8_t flags = 0;
  int64_t now_ms = 0;
  int64_t expire_at_ms = 0;
  int64_t delta = 0;
  std::vector<std::string_view> args;
};

// Decodes `data` into *out (reusing its capacity). kCorruption, naming what is
// wrong, for anything but a well-formed version-1 command.
Status DecodeCommand(std::string_view data, CommandView* out);

// What one applied entry produced, for whoever waits on it. Maps one to one to
// a RESP reply: kOk "+OK", kNil null, kInteger ":n", kBulk "$n", kError "-...".
struct ApplyResult {
  enum class Type : uint8_t { kOk, kNil, kInteger, kBulk, kError };
  Type type = Type::kOk;
  int64_t integer = 0;
  std::string bytes;  // kBulk: the value; kError: the full Redis error text ("ERR ...")

  static ApplyResult Ok() { return {}; }
  static ApplyResult Nil() { return {Type::kNil, 0, {}}; }
  static ApplyResult Integer(int64_t v) { return {Type::kInteger, v, {}}; }
  static ApplyResult Bulk(std::string v) { return {Type::kBulk, 0, std::move(v)}; }
  static ApplyResult Error(std::string text) { return {Type::kError, 0, std::move(text)}; }
  bool operator==(const ApplyResult&) const = default;
};

// Redis's error texts, byte for byte.
inline constexpr std::string_view kErrNotInteger = "ERR value is not an integer or out of range";
inline constexpr std::string_view kErrOverflow = "ERR increment or decrement would overflow";
inline constexpr std::string_view kErrStringTooLong =
    "ERR string exceeds maximum allowed size (proto-max-bulk-len)";
inline constexpr std::string_view kErrNotFloat = "ERR value is not a valid float";
inline constexpr std::string_view kErrNanOrInf = "ERR increment would produce NaN or Infinity";
inline constexpr std::string_view kErrOffsetRange = "ERR offset is out of range";

// Redis's string2ld: strtold over the whole string; refuses empty or overlong
// (>= 5120 bytes) text, leading space, trailing bytes, NaN, and overflow or
// underflow. "inf" is accepted (INCRBYFLOAT then reports NaN or Infinity).
bool ParseLongDouble(std::string_view s, long double* out);

// Redis's ld2string in human mode ("%.17Lf", trailing zeros and a trailing
// '.' stripped, "-0" as "0"): the text INCRBYFLOAT stores and replies.
std::string FormatLongDouble(long double v);

}  // namespace phalanx::storage
