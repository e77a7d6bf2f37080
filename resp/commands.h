// The command layer: grammar, validation and byte-exact replies for every
// command the front end knows, independent of sockets and threads.
//
// Prepare() turns one request into a Prepared action: a finished reply, a
// read (run after a read barrier), a write (a WriteCommand for Store::Write
// plus how to turn its StoreResult into a reply), or a request
// for every loop's client list. The connection runs the action and keeps the
// replies in request order.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "resp/reply.h"
#include "resp/server_state.h"
#include "resp/store.h"

namespace phalanx::resp {

struct Prepared {
  enum class Kind : uint8_t {
    kReply,       // `reply` is complete
    kRead,        // after Store::ReadBarrier succeeds: `read`
    kWrite,       // Store::Write(`write`), then `on_result`
    kAdmin,       // Store::Admin(`admin_args`), then `on_result`; ordered as a write
    kClientList,  // gather every connection's line, then `on_client_list`
    kDrop,        // close the connection now, without a reply (HTTP requests)
  };
  Kind kind = Kind::kReply;
  int proto = 2;                        // the protocol the reply is encoded in
  std::string reply;                    // kReply
  bool close_after_reply = false;       // QUIT
  WriteCommand write;                   // kWrite
  std::vector<std::string> admin_args;  // kAdmin
  std::function<void(const StoreResult&, ReplyBuilder&)> on_result;
  std::function<void(Store&, int64_t now_ms, ReplyBuilder&)> read;
  std::function<void(const std::string& lines, ReplyBuilder&)> on_client_list;
};

class CommandExecutor {
 public:
  explicit CommandExecutor(SharedState* shared) : shared_(shared) {}

  // `client` is updated in place (AUTH, HELLO, CLIENT SETNAME, RESET, ...).
  Prepared Prepare(ClientState* client, std::vector<std::string>& argv);

  // Maps a Store result for a write whose reply is the result itself.
  static void ReplyFromResult(const StoreResult& r, ReplyBuilder& rb);

  // One CLIENT LIST line (without the trailing newline).
  static std::string FormatClientLine(const ClientState& c, int64_t now_monotonic_ms);

  // INFO's text for the given (lower-case) section arguments.
  std::string Info(const std::vector<std::string>& sections) const;

  // Names of every command in the table, in table order.
  static std::vector<std::string> CommandNames();

 private:
  SharedState* shared_;
};

}  // namespace phalanx::resp
