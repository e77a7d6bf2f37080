// Store: the narrow interface between the Redis front end and the node.
//
// resp/ owns the Redis protocol — parsing, command grammar, validation and
// byte-exact replies — and knows nothing of Raft or of the state machine's
// command format. It describes each write as a WriteCommand (normalized by
// the proposer: relative expiries made absolute with the current clock) and
// hands it to Write(); reads first wait on ReadBarrier() and then read the
// applied state through the calls below. Every outcome comes back as a
// StoreResult. The node orchestrator implements Store on top of Raft and
// WiredTiger (engine/node/command_translation.h maps both types onto the
// state machine's).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace phalanx::resp {

// What a write does. Results as StoreResult types; "ok" is StoreResult::Ok().
enum class WriteOp : uint8_t {
  kSet,          // args: key, value. flags: SetFlag. expire_at_ms: 0 = no expiry. Ok or nil;
                 // with kSetGet the old value (bulk) or nil
  kDel,          // args: keys (>= 1). Integer: live keys removed
  kIncrBy,       // args: key. delta. Integer: the new value, or an error
  kAppend,       // args: key, value. Integer: the new length
  kMSet,         // args: k1, v1, k2, v2, ... Ok
  kMSetNx,       // args as kMSet. Integer: 1 if all were set, 0 if any key existed
  kExpire,       // args: key. expire_at_ms: the new expiry. flags: ExpireFlag. Integer 1/0
  kPersist,      // args: key. Integer 1/0
  kFlushAll,     // no args. Ok
  kGetDel,       // args: key. The value (bulk) or nil; the key is deleted
  kGetEx,        // args: key. flags: GetExFlag. expire_at_ms. The value (bulk) or nil
  kIncrByFloat,  // args: key, increment (the client's text). Bulk: the new value, or an error
  kSetRange,     // args: key, value. delta: the offset (>= 0). Integer: the new length
};

// SET options (Redis 7). NX and XX are exclusive (Prepare rejects both).
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

// GETEX options; neither: a plain GET that goes through the log.
enum GetExFlag : uint8_t {
  kGetExPersist = 1,    // remove the key's expiry
  kGetExSetExpiry = 2,  // set the expiry to expire_at_ms (at or before now_ms: delete the key)
};

// One write as the front end hands it over. Everything that depends on a clock
// is decided here: `now_ms` is the proposer's clock (keys whose expiry is at or
// before it count as absent), expiries are absolute ms since the Unix epoch.
// Owns its bytes.
struct WriteCommand {
  WriteOp op = WriteOp::kSet;
  uint8_t flags = 0;         // SetFlag, ExpireFlag or GetExFlag bits, by op
  int64_t now_ms = 0;        // the proposer's clock
  int64_t expire_at_ms = 0;  // kSet, kExpire, kGetEx (see WriteOp)
  int64_t delta = 0;         // kIncrBy: the delta; kSetRange: the offset
  std::vector<std::string> args;
  bool operator==(const WriteCommand&) const = default;
};

// The outcome of a write, a read barrier or an admin command. Maps one to one
// to a reply: kOk "+OK", kNil null, kInteger ":n", kBulk "$n", kError "-...".
struct StoreResult {
  enum class Type : uint8_t { kOk, kNil, kInteger, kBulk, kError };
  Type type = Type::kOk;
  int64_t integer = 0;
  std::string bytes;  // kBulk: the value; kError: the full Redis error text ("ERR ...")

  static StoreResult Ok() { return {}; }
  static StoreResult Nil() { return {Type::kNil, 0, {}}; }
  static StoreResult Integer(int64_t v) { return {Type::kInteger, v, {}}; }
  static StoreResult Bulk(std::string v) { return {Type::kBulk, 0, std::move(v)}; }
  static StoreResult Error(std::string text) { return {Type::kError, 0, std::move(text)}; }
  bool operator==(const StoreResult&) const = default;
};

// One live key as reads see it.
struct Record {
  std::string value;
  int64_t expire_at_ms = 0;  // absolute, ms since the Unix epoch; 0 = no expiry
};

struct ScanPage {
  uint64_t next_cursor = 0;  // 0: the iteration is complete
  std::vector<std::string> keys;
};

class Store;

// The default WriteBatch's state: the next command goes out when the
// previous one's result arrives, so order holds whatever Write does.
struct WriteChain {
  Store* store = nullptr;
  std::vector<WriteCommand> cmds;
  std::vector<StoreResult> results;
  std::function<void(std::vector<StoreResult>)> done;
  static void Next(std::shared_ptr<WriteChain> chain);
};

class Store {
 public:
  virtual ~Store() = default;

  // Proposes `cmd` through consensus and calls `done` exactly once, from any
  // thread, with the applied result — or with an error result whose text is
  // the full Redis error line without the leading '-': "CLUSTERDOWN No raft
  // leader" when no leader can be reached within the request timeout, "ERR
  // outcome unknown: ..." when the write may or may not have happened.
  virtual void Write(WriteCommand cmd, std::function<void(StoreResult)> done) = 0;

  // Proposes `cmds` so that they apply in this order with nothing of the same
  // caller in between (one client's pipelined writes), and calls `done`
  // exactly once with one result per command, in order. Errors as Write's.
  // The default chains Write() calls, one after the other; the node
  // overrides it with one proposal for the whole group.
  virtual void WriteBatch(std::vector<WriteCommand> cmds,
                          std::function<void(std::vector<StoreResult>)> done) {
    auto chain = std::make_shared<WriteChain>();
    chain->store = this;
    chain->results.reserve(cmds.size());
    chain->cmds = std::move(cmds);
    chain->done = std::move(done);
    WriteChain::Next(std::move(chain));
  }

  // Calls `done` exactly once, from any thread, when reads issued from now on
  // reflect every write acknowledged before this call (StoreResult::Ok), or
  // with an error result as Write's.
  virtual void ReadBarrier(std::function<void(StoreResult)> done) = 0;

  // Reads of the applied state. Thread-safe; never block on consensus. Keys
  // whose expiry is at or before now_ms are absent.
  virtual std::optional<Record> Get(std::string_view key, int64_t now_ms) = 0;
  // A page of live keys in a stable order; cursor 0 starts an iteration.
  // Every key live for the whole iteration is returned at least once.
  virtual ScanPage Scan(uint64_t cursor, size_t count, int64_t now_ms) = 0;
  virtual uint64_t DbSize(int64_t now_ms) = 0;
  virtual std::optional<std::string> RandomKey(int64_t now_ms) = 0;

  // The largest request (the sum of its argument lengths) the store can
  // take; 0: no limit. The server reads and drops a larger request as it
  // arrives, never holding it whole, and answers it with TooLargeError.
  virtual uint64_t MaxRequestBytes() const { return 0; }
  // The error line (without '-') for a request of `bytes` over the limit.
  virtual std::string TooLargeError(uint64_t bytes) const {
    return "ERR request is too large: " + std::to_string(bytes) + " bytes";
  }

  // Lines ("field:value\r\n" ...) for the INFO sections the node owns:
  // "raft", "membership", "persistence", "keyspace". Empty for others.
  virtual std::string InfoSection(std::string_view section) = 0;

  // `PHALANX <subcommand> [args...]`: cluster administration, implemented by
  // the node (README "Admin commands"). `args` holds the subcommand (as sent)
  // and its arguments. Calls `done` exactly once, from any thread: kOk → +OK,
  // kBulk → a bulk string (multi-line text for listings), kInteger, kNil, or
  // kError with the full error line (an unknown subcommand included).
  virtual void Admin(std::vector<std::string> args, std::function<void(StoreResult)> done) = 0;
};

inline void WriteChain::Next(std::shared_ptr<WriteChain> chain) {
  size_t i = chain->results.size();
  if (i == chain->cmds.size()) {
    chain->done(std::move(chain->results));
    return;
  }
  Store* store = chain->store;
  store->Write(std::move(chain->cmds[i]), [chain](StoreResult r) {
    chain->results.push_back(std::move(r));
    Next(chain);
  });
}

}  // namespace phalanx::resp
