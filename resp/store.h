// Store: the narrow interface between the Redis front end and the node.
//
// resp/ owns the Redis protocol — parsing, command grammar, validation and
// byte-exact replies — and knows nothing of Raft. It turns each write command
// into a storage::Command (normalized by the proposer: relative expiries made
// absolute with the current clock) and hands it to Write(); reads first wait
// on ReadBarrier() and then read the applied state through the calls below.
// The node orchestrator implements Store on top of Raft and WiredTiger.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/storage/command.h"

namespace phalanx::resp {

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
  std::vector<storage::Command> cmds;
  std::vector<storage::ApplyResult> results;
  std::function<void(std::vector<storage::ApplyResult>)> done;
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
  virtual void Write(storage::Command cmd, std::function<void(storage::ApplyResult)> done) = 0;

  // Proposes `cmds` so that they apply in this order with nothing of the same
  // caller in between (one client's pipelined writes), and calls `done`
  // exactly once with one result per command, in order. Errors as Write's.
  // The default chains Write() calls, one after the other; the node
  // overrides it with one proposal for the whole group.
  virtual void WriteBatch(std::vector<storage::Command> cmds,
                          std::function<void(std::vector<storage::ApplyResult>)> done) {
    auto chain = std::make_shared<WriteChain>();
    chain->store = this;
    chain->results.reserve(cmds.size());
    chain->cmds = std::move(cmds);
    chain->done = std::move(done);
    WriteChain::Next(std::move(chain));
  }

  // Calls `done` exactly once, from any thread, when reads issued from now on
  // reflect every write acknowledged before this call (ApplyResult::Ok), or
  // with an error result as Write's.
  virtual void ReadBarrier(std::function<void(storage::ApplyResult)> done) = 0;

  // Reads of the applied state. Thread-safe; never block on consensus. Keys
  // whose expiry is at or before now_ms are absent.
  virtual std::optional<Record> Get(std::string_view key, int64_t now_ms) = 0;
  // A page of live keys in a stable order; cursor 0 starts an iteration.
  // Every key live for the whole iteration is returned at least once.
  virtual ScanPage Scan(uint64_t cursor, size_t count, int64_t now_ms) = 0;
  virtual uint64_t DbSize(int64_t now_ms) = 0;
  virtual std::optional<std::string> RandomKey(int64_t now_ms) = 0;

  // Lines ("field:value\r\n" ...) for the INFO sections the node owns:
  // "raft", "membership", "persistence", "keyspace". Empty for others.
  virtual std::string InfoSection(std::string_view section) = 0;

  // `PHALANX <subcommand> [args...]`: cluster administration, implemented by
  // the node (README "Admin commands"). `args` holds the subcommand (as sent)
  // and its arguments. Calls `done` exactly once, from any thread: kOk → +OK,
  // kBulk → a bulk string (multi-line text for listings), kInteger, kNil, or
  // kError with the full error line (an unknown subcommand included).
  virtual void Admin(std::vector<std::string> args,
                     std::function<void(storage::ApplyResult)> done) = 0;
};

inline void WriteChain::Next(std::shared_ptr<WriteChain> chain) {
  size_t i = chain->results.size();
  if (i == chain->cmds.size()) {
    chain->done(std::move(chain->results));
    return;
  }
  Store* store = chain->store;
  store->Write(std::move(chain->cmds[i]), [chain](storage::ApplyResult r) {
    chain->results.push_back(std::move(r));
    Next(chain);
  });
}

}  // namespace phalanx::resp
