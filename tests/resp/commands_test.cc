// The command layer without sockets: grammar tables (arity, syntax errors,
// option conflicts), how writes become WriteCommands (flags, absolute
// expiries), and reads against the in-memory Store.
#include "resp/commands.h"

#include <gtest/gtest.h>

#include <climits>
#include <string>
#include <vector>

#include "phalanx/version.h"
#include "resp/util.h"
#include "tests/resp/memory_store.h"

namespace phalanx::resp {
namespace {

using Argv = std::vector<std::string>;

class RespCommands : public ::testing::Test {
 public:
  RespCommands() : shared_(Options(), &store_), exec_(&shared_) {}

  static ServerOptions Options() {
    ServerOptions o;
    o.extra_config["node-id"] = "n1";
    return o;
  }

  Prepared Run(Argv argv) { return exec_.Prepare(&client_, argv); }

  // The reply a request gets, running reads and writes against the store.
  std::string Reply(Argv argv) {
    Prepared p = Run(std::move(argv));
    std::string out;
    ReplyBuilder rb(&out, p.proto);
    switch (p.kind) {
      case Prepared::Kind::kReply:
        return p.reply;
      case Prepared::Kind::kRead:
        p.read(store_, WallClockMs(), rb);
        return out;
      case Prepared::Kind::kWrite: {
        StoreResult result;
        store_.Write(std::move(p.write), [&](StoreResult r) { result = std::move(r); });
        p.on_result(result, rb);
        return out;
      }
      case Prepared::Kind::kAdmin: {
        StoreResult result;
        store_.Admin(std::move(p.admin_args), [&](StoreResult r) { result = std::move(r); });
        p.on_result(result, rb);
        return out;
      }
      case Prepared::Kind::kClientList:
        p.on_client_list("id=1 addr=x\n", rb);
        return out;
      case Prepared::Kind::kDrop:
        return "<drop>";
    }
    return out;
  }

  testing::MemoryStore store_;
  SharedState shared_;
  CommandExecutor exec_;
  ClientState client_;
};

struct ReplyCase {
  Argv argv;
  std::string reply;
};

void ExpectReplies(RespCommands* t, const std::vector<ReplyCase>& cases,
                   std::string (RespCommands::*reply)(Argv)) {
  for (const ReplyCase& c : cases) {
    std::string joined;
    for (const auto& a : c.argv)
      joined += a + " ";
    EXPECT_EQ((t->*reply)(c.argv), c.reply) << joined;
  }
}

TEST_F(RespCommands, ArityAndUnknownCommands) {
  const std::vector<ReplyCase> cases = {
      {{"GET"}, "-ERR wrong number of arguments for 'get' command\r\n"},
      {{"get", "a", "b"}, "-ERR wrong number of arguments for 'get' command\r\n"},
      {{"SET", "k"}, "-ERR wrong number of arguments for 'set' command\r\n"},
      {{"PING", "a", "b"}, "-ERR wrong number of arguments for 'ping' command\r\n"},
      {{"MSET", "a"}, "-ERR wrong number of arguments for 'mset' command\r\n"},
      {{"MSET", "a", "1", "b"}, "-ERR wrong number of arguments for 'mset' command\r\n"},
      {{"MSETNX", "a", "1", "b"}, "-ERR wrong number of arguments for 'msetnx' command\r\n"},
      {{"CLIENT"}, "-ERR wrong number of arguments for 'client' command\r\n"},
      {{"CLIENT", "SETNAME"}, "-ERR wrong number of arguments for 'client|setname' command\r\n"},
      {{"CONFIG", "SET", "a"}, "-ERR wrong number of arguments for 'config|set' command\r\n"},
      {{"CONFIG", "SET", "a", "b", "c"}, "-ERR syntax error\r\n"},
      {{"client", "foo"}, "-ERR unknown subcommand 'foo'. Try CLIENT HELP.\r\n"},
      {{"COMMAND", "nope"}, "-ERR unknown subcommand 'nope'. Try COMMAND HELP.\r\n"},
      {{"foo"}, "-ERR unknown command 'foo', with args beginning with: \r\n"},
      {{"foo", "a", "b"}, "-ERR unknown command 'foo', with args beginning with: 'a' 'b' \r\n"},
      {{"foo", "a\r\nb"}, "-ERR unknown command 'foo', with args beginning with: 'a  b' \r\n"},
      {{"GETDEL"}, "-ERR wrong number of arguments for 'getdel' command\r\n"},
      {{"GETDEL", "k", "x"}, "-ERR wrong number of arguments for 'getdel' command\r\n"},
      {{"GETEX"}, "-ERR wrong number of arguments for 'getex' command\r\n"},
      {{"INCRBYFLOAT", "k"}, "-ERR wrong number of arguments for 'incrbyfloat' command\r\n"},
      {{"SETRANGE", "k", "0"}, "-ERR wrong number of arguments for 'setrange' command\r\n"},
      {{"GETEXX", "k"}, "-ERR unknown command 'GETEXX', with args beginning with: 'k' \r\n"},
  };
  ExpectReplies(this, cases, &RespCommands::Reply);
  // Arguments are cut after 128 bytes, like Redis's "%.128s".
  std::string reply = Reply({std::string(200, 'x'), std::string(200, 'y')});
  EXPECT_EQ(reply, "-ERR unknown command '" + std::string(128, 'x') +
                       "', with args beginning with: '" + std::string(128, 'y') + "' \r\n");
}

// PHALANX subcommands go to the node (Store::Admin) and come back as replies.
TEST_F(RespCommands, PhalanxAdminGoesToTheStore) {
  const std::vector<ReplyCase> cases = {
      {{"PHALANX"}, "-ERR wrong number of arguments for 'phalanx' command\r\n"},
      {{"phalanx", "ECHO-ADMIN", "a", "b"}, "$3\r\na b\r\n"},
      {{"PHALANX", "nope"}, "-ERR unknown subcommand\r\n"},
  };
  ExpectReplies(this, cases, &RespCommands::Reply);
}

TEST_F(RespCommands, SetGrammar) {
  const std::vector<ReplyCase> cases = {
      {{"SET", "k", "v", "NX", "XX"}, "-ERR syntax error\r\n"},
      {{"SET", "k", "v", "XX", "NX"}, "-ERR syntax error\r\n"},
      {{"SET", "k", "v", "EX", "10", "PX", "10"}, "-ERR syntax error\r\n"},
      {{"SET", "k", "v", "EX", "10", "KEEPTTL"}, "-ERR syntax error\r\n"},
      {{"SET", "k", "v", "KEEPTTL", "PXAT", "10"}, "-ERR syntax error\r\n"},
      {{"SET", "k", "v", "EX"}, "-ERR syntax error\r\n"},
      {{"SET", "k", "v", "FOO"}, "-ERR syntax error\r\n"},
      {{"SET", "k", "v", "EX", "0"}, "-ERR invalid expire time in 'set' command\r\n"},
      {{"SET", "k", "v", "EX", "-1"}, "-ERR invalid expire time in 'set' command\r\n"},
      {{"SET", "k", "v", "PX", "0"}, "-ERR invalid expire time in 'set' command\r\n"},
      {{"SET", "k", "v", "EX", "9223372036854775"},
       "-ERR invalid expire time in 'set' command\r\n"},
      {{"SET", "k", "v", "EX", "x"}, "-ERR value is not an integer or out of range\r\n"},
      {{"SET", "k", "v", "EX", "010"}, "-ERR value is not an integer or out of range\r\n"},
      {{"SETEX", "k", "0", "v"}, "-ERR invalid expire time in 'setex' command\r\n"},
      {{"PSETEX", "k", "-5", "v"}, "-ERR invalid expire time in 'psetex' command\r\n"},
      {{"SETEX", "k", "x", "v"}, "-ERR value is not an integer or out of range\r\n"},
      // Accepted by Redis: repeated options, the last expiry wins.
      {{"SET", "k", "v", "EX", "10", "EX", "20"}, "+OK\r\n"},
      {{"SET", "k", "v", "nx", "nx"}, "$-1\r\n"},
      {{"SET", "k", "v2", "xx", "get"}, "$1\r\nv\r\n"},
      {{"SET", "k2", "v", "GET"}, "$-1\r\n"},
  };
  ExpectReplies(this, cases, &RespCommands::Reply);
}

TEST_F(RespCommands, SetBecomesAnAbsoluteExpiry) {
  int64_t before = WallClockMs();
  Prepared p = Run({"SET", "k", "v", "PX", "5000", "NX", "GET"});
  int64_t after = WallClockMs();
  ASSERT_EQ(p.kind, Prepared::Kind::kWrite);
  EXPECT_EQ(p.write.op, WriteOp::kSet);
  EXPECT_EQ(p.write.flags, kSetNx | kSetGet);
  EXPECT_GE(p.write.expire_at_ms, before + 5000);
  EXPECT_LE(p.write.expire_at_ms, after + 5000);
  EXPECT_EQ(p.write.expire_at_ms - p.write.now_ms, 5000);
  p = Run({"SET", "k", "v", "EXAT", "2000000000"});
  EXPECT_EQ(p.write.expire_at_ms, 2000000000000LL);
  p = Run({"SET", "k", "v", "PXAT", "123"});
  EXPECT_EQ(p.write.expire_at_ms, 123);
  p = Run({"SET", "k", "v", "KEEPTTL", "XX"});
  EXPECT_EQ(p.write.flags, kSetKeepTtl | kSetXx);
  EXPECT_EQ(p.write.expire_at_ms, 0);
  p = Run({"SETEX", "k", "10", "v"});
  EXPECT_EQ(p.write.expire_at_ms - p.write.now_ms, 10000);
  EXPECT_EQ(p.write.args, (Argv{"k", "v"}));
  p = Run({"GETSET", "k", "v"});
  EXPECT_EQ(p.write.flags, kSetGet);
}

TEST_F(RespCommands, ExpireGrammar) {
  Reply({"SET", "k", "v"});
  const std::vector<ReplyCase> cases = {
      {{"EXPIRE", "k", "10", "NX", "XX"},
       "-ERR NX and XX, GT or LT options at the same time are not compatible\r\n"},
      {{"EXPIRE", "k", "10", "NX", "GT"},
       "-ERR NX and XX, GT or LT options at the same time are not compatible\r\n"},
      {{"EXPIRE", "k", "10", "GT", "LT"},
       "-ERR GT and LT options at the same time are not compatible\r\n"},
      {{"EXPIRE", "k", "10", "foo"}, "-ERR Unsupported option foo\r\n"},
      {{"EXPIRE", "k", "x", "foo"}, "-ERR Unsupported option foo\r\n"},
      {{"EXPIRE", "k", "x"}, "-ERR value is not an integer or out of range\r\n"},
      {{"EXPIRE", "k", "9223372036854775807"}, "-ERR invalid expire time in 'expire' command\r\n"},
      {{"PEXPIRE", "k", "9223372036854775807"},
       "-ERR invalid expire time in 'pexpire' command\r\n"},
      {{"EXPIREAT", "k", "-9223372036854775808"},
       "-ERR invalid expire time in 'expireat' command\r\n"},
      {{"EXPIRE", "nokey", "10"}, ":0\r\n"},
      {{"EXPIRE", "k", "100", "XX"}, ":0\r\n"},
      {{"EXPIRE", "k", "100", "NX"}, ":1\r\n"},
      {{"EXPIRE", "k", "50", "GT"}, ":0\r\n"},
      {{"EXPIRE", "k", "50", "LT"}, ":1\r\n"},
      {{"TTL", "k"}, ":50\r\n"},
      {{"PERSIST", "k"}, ":1\r\n"},
      {{"TTL", "k"}, ":-1\r\n"},
      {{"TTL", "nokey"}, ":-2\r\n"},
      {{"PEXPIREAT", "k", "1"}, ":1\r\n"},  // in the past: deletes
      {{"EXISTS", "k"}, ":0\r\n"},
  };
  ExpectReplies(this, cases, &RespCommands::Reply);
  Prepared p = Run({"EXPIREAT", "k", "100"});
  EXPECT_EQ(p.write.expire_at_ms, 100000);
  p = Run({"PEXPIRE", "k", "100", "gt"});
  EXPECT_EQ(p.write.expire_at_ms - p.write.now_ms, 100);
  EXPECT_EQ(p.write.flags, kExpireGt);
}

TEST_F(RespCommands, CountersAndStrings) {
  const std::vector<ReplyCase> cases = {
      {{"INCR", "n"}, ":1\r\n"},
      {{"INCRBY", "n", "41"}, ":42\r\n"},
      {{"DECR", "n"}, ":41\r\n"},
      {{"DECRBY", "n", "-9"}, ":50\r\n"},
      {{"INCRBY", "n", "x"}, "-ERR value is not an integer or out of range\r\n"},
      {{"INCRBY", "n", "9223372036854775808"}, "-ERR value is not an integer or out of range\r\n"},
      {{"DECRBY", "n", "-9223372036854775808"}, "-ERR decrement would overflow\r\n"},
      {{"INCRBY", "n", "9223372036854775807"}, "-ERR increment or decrement would overflow\r\n"},
      {{"SET", "s", "hello world"}, "+OK\r\n"},
      {{"INCR", "s"}, "-ERR value is not an integer or out of range\r\n"},
      {{"APPEND", "s", "!"}, ":12\r\n"},
      {{"STRLEN", "s"}, ":12\r\n"},
      {{"STRLEN", "none"}, ":0\r\n"},
      {{"GETRANGE", "s", "0", "4"}, "$5\r\nhello\r\n"},
      {{"GETRANGE", "s", "-6", "-2"}, "$5\r\nworld\r\n"},
      {{"GETRANGE", "s", "-1", "-5"}, "$0\r\n\r\n"},
      {{"GETRANGE", "s", "5", "1"}, "$0\r\n\r\n"},
      {{"GETRANGE", "s", "0", "9223372036854775807"}, "$12\r\nhello world!\r\n"},
      {{"GETRANGE", "s", "-9223372036854775808", "2"}, "$3\r\nhel\r\n"},
      {{"GETRANGE", "none", "0", "1"}, "$0\r\n\r\n"},
      {{"GETRANGE", "s", "a", "1"}, "-ERR value is not an integer or out of range\r\n"},
      {{"MSET", "a", "1", "b", "2"}, "+OK\r\n"},
      {{"MSETNX", "a", "1", "c", "3"}, ":0\r\n"},
      {{"MSETNX", "c", "3", "d", "4"}, ":1\r\n"},
      {{"MGET", "a", "zz", "d"}, "*3\r\n$1\r\n1\r\n$-1\r\n$1\r\n4\r\n"},
      {{"SETNX", "a", "x"}, ":0\r\n"},
      {{"SETNX", "e", "x"}, ":1\r\n"},
      {{"GETSET", "e", "y"}, "$1\r\nx\r\n"},
      {{"EXISTS", "a", "a", "zz"}, ":2\r\n"},
      {{"DEL", "a", "b", "zz"}, ":2\r\n"},
      {{"UNLINK", "c"}, ":1\r\n"},
      {{"TYPE", "d"}, "+string\r\n"},
      {{"TYPE", "zz"}, "+none\r\n"},
  };
  ExpectReplies(this, cases, &RespCommands::Reply);
}

TEST_F(RespCommands, GetdelAndGetex) {
  const std::vector<ReplyCase> cases = {
      {{"GETDEL", "k"}, "$-1\r\n"},
      {{"SET", "k", "v"}, "+OK\r\n"},
      {{"GETDEL", "k"}, "$1\r\nv\r\n"},
      {{"EXISTS", "k"}, ":0\r\n"},
      {{"GETEX", "k"}, "$-1\r\n"},
      // A missing key answers nil before Redis looks at the expire time.
      {{"GETEX", "k", "EX", "-1"}, "$-1\r\n"},
      {{"GETEX", "k", "EX", "x"}, "$-1\r\n"},
      {{"GETEX", "k", "EX"}, "-ERR syntax error\r\n"},
      {{"GETEX", "k", "EX", "10", "PX", "10"}, "-ERR syntax error\r\n"},
      {{"GETEX", "k", "PERSIST", "EX", "10"}, "-ERR syntax error\r\n"},
      {{"GETEX", "k", "EX", "10", "PERSIST"}, "-ERR syntax error\r\n"},
      {{"GETEX", "k", "KEEPTTL"}, "-ERR syntax error\r\n"},
      {{"SET", "k", "v"}, "+OK\r\n"},
      {{"GETEX", "k", "EX", "0"}, "-ERR invalid expire time in 'getex' command\r\n"},
      {{"GETEX", "k", "PX", "-5"}, "-ERR invalid expire time in 'getex' command\r\n"},
      {{"GETEX", "k", "EX", "9223372036854775807"},
       "-ERR invalid expire time in 'getex' command\r\n"},
      {{"GETEX", "k", "EX", "x"}, "-ERR value is not an integer or out of range\r\n"},
      {{"TTL", "k"}, ":-1\r\n"},
      {{"GETEX", "k", "ex", "5", "EX", "100"}, "$1\r\nv\r\n"},  // the last one wins
      {{"TTL", "k"}, ":100\r\n"},
      {{"GETEX", "k"}, "$1\r\nv\r\n"},
      {{"TTL", "k"}, ":100\r\n"},
      {{"GETEX", "k", "persist"}, "$1\r\nv\r\n"},
      {{"TTL", "k"}, ":-1\r\n"},
      {{"GETEX", "k", "PXAT", "1"}, "$1\r\nv\r\n"},  // in the past: replies, then deletes
      {{"EXISTS", "k"}, ":0\r\n"},
  };
  ExpectReplies(this, cases, &RespCommands::Reply);
  Reply({"SET", "k", "v"});
  Prepared p = Run({"GETEX", "k", "PX", "1500"});
  ASSERT_EQ(p.kind, Prepared::Kind::kWrite);
  EXPECT_EQ(p.write.op, WriteOp::kGetEx);
  EXPECT_EQ(p.write.flags, kGetExSetExpiry);
  EXPECT_EQ(p.write.expire_at_ms - p.write.now_ms, 1500);
  p = Run({"GETEX", "k", "EXAT", "2000000000"});
  EXPECT_EQ(p.write.expire_at_ms, 2000000000000LL);
  p = Run({"GETEX", "k", "PERSIST"});
  EXPECT_EQ(p.write.flags, kGetExPersist);
  p = Run({"GETDEL", "k"});
  EXPECT_EQ(p.write.op, WriteOp::kGetDel);
}

TEST_F(RespCommands, IncrbyfloatAndSetrange) {
  const std::vector<ReplyCase> cases = {
      {{"INCRBYFLOAT", "f", "10.5"}, "$4\r\n10.5\r\n"},
      {{"INCRBYFLOAT", "f", "0.1"}, "$4\r\n10.6\r\n"},
      // Redis's %.17Lf shows the long double's rounding, as here.
      {{"INCRBYFLOAT", "f", "-5.0e3"}, "$23\r\n-4989.39999999999999991\r\n"},
      {{"INCRBYFLOAT", "t", "1e-30"}, "$1\r\n0\r\n"},
      {{"SET", "g", "5.0e3"}, "+OK\r\n"},
      {{"INCRBYFLOAT", "g", "2.0e2"}, "$4\r\n5200\r\n"},
      {{"INCRBYFLOAT", "g", "-5200"}, "$1\r\n0\r\n"},
      {{"INCRBYFLOAT", "f", "abc"}, "-ERR value is not a valid float\r\n"},
      {{"INCRBYFLOAT", "f", " 1"}, "-ERR value is not a valid float\r\n"},
      {{"INCRBYFLOAT", "f", "1 "}, "-ERR value is not a valid float\r\n"},
      {{"INCRBYFLOAT", "f", ""}, "-ERR value is not a valid float\r\n"},
      {{"INCRBYFLOAT", "f", "nan"}, "-ERR value is not a valid float\r\n"},
      {{"INCRBYFLOAT", "f", "inf"}, "-ERR increment would produce NaN or Infinity\r\n"},
      {{"SET", "s", "hello"}, "+OK\r\n"},
      {{"INCRBYFLOAT", "s", "1"}, "-ERR value is not a valid float\r\n"},
      {{"SETRANGE", "s", "-1", "x"}, "-ERR offset is out of range\r\n"},
      {{"SETRANGE", "s", "x", "x"}, "-ERR value is not an integer or out of range\r\n"},
      {{"SETRANGE", "s", "536870912", "x"},
       "-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n"},
      {{"SETRANGE", "s", "9223372036854775807", "x"},
       "-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n"},
      {{"SETRANGE", "s", "536870912", ""}, ":5\r\n"},
      {{"SETRANGE", "s", "1", "ipp"}, ":5\r\n"},
      {{"GET", "s"}, "$5\r\nhippo\r\n"},
      {{"SETRANGE", "s", "7", "!"}, ":8\r\n"},
      {{"GET", "s"}, std::string("$8\r\nhippo\0\0!\r\n", 14)},
      {{"SETRANGE", "none", "0", ""}, ":0\r\n"},
      {{"EXISTS", "none"}, ":0\r\n"},
      {{"SETRANGE", "none", "2", "ab"}, ":4\r\n"},
      {{"GET", "none"}, std::string("$4\r\n\0\0ab\r\n", 10)},
  };
  ExpectReplies(this, cases, &RespCommands::Reply);
  Prepared p = Run({"SETRANGE", "k", "3", "v"});
  ASSERT_EQ(p.kind, Prepared::Kind::kWrite);
  EXPECT_EQ(p.write.op, WriteOp::kSetRange);
  EXPECT_EQ(p.write.delta, 3);
  EXPECT_EQ(p.write.args, (Argv{"k", "v"}));
  p = Run({"INCRBYFLOAT", "k", "1.5"});
  EXPECT_EQ(p.write.op, WriteOp::kIncrByFloat);
  EXPECT_EQ(p.write.args, (Argv{"k", "1.5"}));
}

TEST_F(RespCommands, KeysAndScan) {
  Reply({"MSET", "user:1", "a", "user:2", "b", "other", "c"});
  EXPECT_EQ(Reply({"KEYS", "user:*"}), "*2\r\n$6\r\nuser:1\r\n$6\r\nuser:2\r\n");
  EXPECT_EQ(Reply({"KEYS", "*"}), "*3\r\n$5\r\nother\r\n$6\r\nuser:1\r\n$6\r\nuser:2\r\n");
  EXPECT_EQ(Reply({"SCAN", "0", "COUNT", "2"}),
            "*2\r\n$1\r\n2\r\n*2\r\n$5\r\nother\r\n$6\r\nuser:1\r\n");
  EXPECT_EQ(Reply({"SCAN", "2", "MATCH", "user:*"}), "*2\r\n$1\r\n0\r\n*1\r\n$6\r\nuser:2\r\n");
  EXPECT_EQ(Reply({"SCAN", "0", "TYPE", "hash"}), "*2\r\n$1\r\n0\r\n*0\r\n");
  EXPECT_EQ(Reply({"SCAN", "0", "TYPE", "STRING", "MATCH", "o*"}),
            "*2\r\n$1\r\n0\r\n*1\r\n$5\r\nother\r\n");
  const std::vector<ReplyCase> cases = {
      {{"SCAN", "x"}, "-ERR invalid cursor\r\n"},
      {{"SCAN", " 1"}, "-ERR invalid cursor\r\n"},
      {{"SCAN", "99999999999999999999999"}, "-ERR invalid cursor\r\n"},
      {{"SCAN", "0", "COUNT", "0"}, "-ERR syntax error\r\n"},
      {{"SCAN", "0", "COUNT", "x"}, "-ERR value is not an integer or out of range\r\n"},
      {{"SCAN", "0", "MATCH"}, "-ERR syntax error\r\n"},
      {{"SCAN", "0", "FOO", "x"}, "-ERR syntax error\r\n"},
      {{"DBSIZE"}, ":3\r\n"},
      {{"RANDOMKEY"}, "$5\r\nother\r\n"},
  };
  ExpectReplies(this, cases, &RespCommands::Reply);
}

TEST_F(RespCommands, ConnectionCommands) {
  const std::vector<ReplyCase> cases = {
      {{"PING"}, "+PONG\r\n"},
      {{"PING", "hi"}, "$2\r\nhi\r\n"},
      {{"ECHO", ""}, "$0\r\n\r\n"},
      {{"SELECT", "0"}, "+OK\r\n"},
      {{"SELECT", "1"}, "-ERR DB index is out of range\r\n"},
      {{"SELECT", "x"}, "-ERR value is not an integer or out of range\r\n"},
      {{"READONLY"}, "+OK\r\n"},
      {{"READWRITE"}, "+OK\r\n"},
      {{"AUTH", "x"},
       "-ERR AUTH <password> called without any password configured for the default user. Are "
       "you sure your configuration is correct?\r\n"},
      {{"AUTH", "default", "anything"}, "+OK\r\n"},
      {{"AUTH", "bob", "x"}, "-WRONGPASS invalid username-password pair or user is disabled.\r\n"},
      {{"AUTH", "a", "b", "c"}, "-ERR syntax error\r\n"},
      {{"CLIENT", "SETNAME", "a b"},
       "-ERR Client names cannot contain spaces, newlines or special characters.\r\n"},
      {{"CLIENT", "GETNAME"}, "$-1\r\n"},
      {{"CLIENT", "SETNAME", "conn1"}, "+OK\r\n"},
      {{"CLIENT", "GETNAME"}, "$5\r\nconn1\r\n"},
      {{"CLIENT", "SETINFO", "LIB-NAME", "redis-py"}, "+OK\r\n"},
      {{"CLIENT", "SETINFO", "lib-ver", "1 2"},
       "-ERR lib-ver cannot contain spaces, newlines or special characters.\r\n"},
      {{"CLIENT", "SETINFO", "foo", "x"}, "-ERR Unrecognized option 'foo'\r\n"},
      {{"CLIENT", "LIST", "TYPE", "pubsub"}, "$0\r\n\r\n"},
      {{"CLIENT", "LIST", "TYPE", "foo"}, "-ERR Unknown client type 'foo'\r\n"},
      {{"CLIENT", "LIST", "ID", "x"}, "-ERR Invalid client ID\r\n"},
      {{"CLIENT", "LIST", "foo"}, "-ERR syntax error\r\n"},
      {{"CLIENT", "LIST", "ID", "1"}, "$12\r\nid=1 addr=x\n\r\n"},
      {{"CLIENT", "LIST", "ID", "2"}, "$0\r\n\r\n"},
      {{"HELLO", "4"}, "-NOPROTO unsupported protocol version\r\n"},
      {{"HELLO", "x"}, "-ERR Protocol version is not an integer or out of range\r\n"},
      {{"HELLO", "3", "SETNAME"}, "-ERR Syntax error in HELLO option 'SETNAME'\r\n"},
      {{"HELLO", "3", "AUTH", "bob", "x"},
       "-WRONGPASS invalid username-password pair or user is disabled.\r\n"},
      {{"FLUSHALL", "foo"}, "-ERR syntax error\r\n"},
      {{"FLUSHALL", "ASYNC"}, "+OK\r\n"},
      {{"FLUSHDB"}, "+OK\r\n"},
      {{"QUIT"}, "+OK\r\n"},
  };
  ExpectReplies(this, cases, &RespCommands::Reply);
  EXPECT_EQ(client_.name, "conn1");
  EXPECT_EQ(client_.lib_name, "redis-py");
}

TEST_F(RespCommands, HelloSwitchesProtocolAndRepliesAsAMap) {
  client_.id = 7;
  std::string r = Reply({"HELLO", "3", "SETNAME", "x"});
  EXPECT_EQ(r,
            "%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15\r\n$5\r\nproto\r\n"
            ":3\r\n$2\r\nid\r\n:7\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\n"
            "master\r\n$7\r\nmodules\r\n*0\r\n");
  EXPECT_EQ(client_.proto, 3);
  EXPECT_EQ(Reply({"GET", "missing"}), "_\r\n");
  EXPECT_EQ(Reply({"CONFIG", "GET", "maxmemory"}), "%1\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n");
  EXPECT_EQ(Reply({"RESET"}), "+RESET\r\n");
  EXPECT_EQ(client_.proto, 2);
  EXPECT_EQ(client_.name, "");
  EXPECT_EQ(Reply({"HELLO"}).substr(0, 4), "*14\r");
}

TEST_F(RespCommands, AuthWithPassword) {
  shared_.config.set_requirepass("secret");
  client_.authenticated = false;
  const std::vector<ReplyCase> cases = {
      {{"GET", "k"}, "-NOAUTH Authentication required.\r\n"},
      {{"PING"}, "-NOAUTH Authentication required.\r\n"},
      {{"GET"}, "-ERR wrong number of arguments for 'get' command\r\n"},  // arity first
      {{"foo"}, "-ERR unknown command 'foo', with args beginning with: \r\n"},
      {{"HELLO", "3"},
       "-NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO "
       "AUTH <user> <pass> option can be used to authenticate the client and select the RESP "
       "protocol version at the same time\r\n"},
      {{"AUTH", "wrong"}, "-WRONGPASS invalid username-password pair or user is disabled.\r\n"},
      {{"AUTH", "default", "wrong"},
       "-WRONGPASS invalid username-password pair or user is disabled.\r\n"},
      {{"AUTH", "secret"}, "+OK\r\n"},
      {{"PING"}, "+PONG\r\n"},
      {{"RESET"}, "+RESET\r\n"},
      {{"PING"}, "-NOAUTH Authentication required.\r\n"},
      {{"AUTH", "default", "secret"}, "+OK\r\n"},
      {{"CONFIG", "GET", "requirepass"}, "*2\r\n$11\r\nrequirepass\r\n$6\r\nsecret\r\n"},
  };
  ExpectReplies(this, cases, &RespCommands::Reply);
  client_.authenticated = false;
  EXPECT_EQ(Reply({"HELLO", "2", "AUTH", "default", "secret"}).substr(0, 4), "*14\r");
  EXPECT_TRUE(client_.authenticated);
}

TEST_F(RespCommands, Config) {
  const std::vector<ReplyCase> cases = {
      {{"CONFIG", "GET", "save"}, "*2\r\n$4\r\nsave\r\n$0\r\n\r\n"},
      {{"CONFIG", "GET", "appendonly"}, "*2\r\n$10\r\nappendonly\r\n$2\r\nno\r\n"},
      {{"CONFIG", "GET", "databases"}, "*2\r\n$9\r\ndatabases\r\n$1\r\n1\r\n"},
      {{"CONFIG", "GET", "node-id"}, "*2\r\n$7\r\nnode-id\r\n$2\r\nn1\r\n"},
      {{"CONFIG", "GET", "nosuch"}, "*0\r\n"},
      {{"CONFIG", "GET", "MAXCLIENTS", "maxc*"}, "*2\r\n$10\r\nmaxclients\r\n$5\r\n10000\r\n"},
      {{"CONFIG", "SET", "foo", "bar"},
       "-ERR Unknown option or number of arguments for CONFIG SET - 'foo'\r\n"},
      {{"CONFIG", "SET", "databases", "3"},
       "-ERR CONFIG SET failed (possibly related to argument 'databases') - can't set immutable "
       "config\r\n"},
      {{"CONFIG", "SET", "maxclients", "x"},
       "-ERR CONFIG SET failed (possibly related to argument 'maxclients') - argument couldn't be "
       "parsed into an integer\r\n"},
      {{"CONFIG", "SET", "timeout", "5", "timeout", "6"},
       "-ERR CONFIG SET failed (possibly related to argument 'timeout') - duplicate parameter\r\n"},
      {{"CONFIG", "SET", "timeout", "5", "maxclients", "100"}, "+OK\r\n"},
      {{"CONFIG", "GET", "timeout"}, "*2\r\n$7\r\ntimeout\r\n$1\r\n5\r\n"},
      {{"CONFIG", "SET", "proto-max-bulk-len", "2mb"}, "+OK\r\n"},
      {{"CONFIG", "GET", "proto-max-bulk-len"},
       "*2\r\n$18\r\nproto-max-bulk-len\r\n$7\r\n2097152\r\n"},
      {{"CONFIG", "RESETSTAT"}, "+OK\r\n"},
  };
  ExpectReplies(this, cases, &RespCommands::Reply);
  EXPECT_EQ(shared_.config.maxclients(), 100);
}

TEST_F(RespCommands, CommandIntrospection) {
  std::string count = Reply({"COMMAND", "COUNT"});
  EXPECT_EQ(count, ":" + std::to_string(53) + "\r\n");
  // GET's entry is Redis 7.0.15's, byte for byte.
  EXPECT_EQ(Reply({"COMMAND", "INFO", "get"}),
            "*1\r\n*10\r\n$3\r\nget\r\n:2\r\n*2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n*3\r\n"
            "+@read\r\n+@string\r\n+@fast\r\n*0\r\n*1\r\n*6\r\n$5\r\nflags\r\n*2\r\n+RO\r\n+access"
            "\r\n$12\r\nbegin_search\r\n*4\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n*2\r\n$5"
            "\r\nindex\r\n:1\r\n$9\r\nfind_keys\r\n*4\r\n$4\r\ntype\r\n$5\r\nrange\r\n$4\r\nspec"
            "\r\n*6\r\n$7\r\nlastkey\r\n:0\r\n$7\r\nkeystep\r\n:1\r\n$5\r\nlimit\r\n:0\r\n*0\r\n");
  EXPECT_EQ(Reply({"COMMAND", "INFO", "nosuch"}), "*1\r\n$-1\r\n");
  std::string sub = Reply({"COMMAND", "INFO", "client|setname"});
  EXPECT_EQ(sub.substr(0, 29), "*1\r\n*10\r\n$14\r\nclient|setname\r");
  std::string docs = Reply({"COMMAND", "DOCS", "echo", "nosuch"});
  EXPECT_EQ(docs.substr(0, 16), "*2\r\n$4\r\necho\r\n*1");
  std::string all = Reply({"COMMAND"});
  EXPECT_EQ(all.substr(0, 5), "*53\r\n");
  std::string list = Reply({"COMMAND", "LIST"});
  EXPECT_NE(list.find("$14\r\nclient|setinfo\r\n"), std::string::npos);
  client_.proto = 3;
  EXPECT_EQ(Reply({"COMMAND", "INFO", "nosuch"}), "*1\r\n_\r\n");
  EXPECT_EQ(Reply({"COMMAND", "DOCS", "echo"}).substr(0, 16), "%1\r\n$4\r\necho\r\n%5");
}

TEST_F(RespCommands, InfoSections) {
  std::string info = Reply({"INFO"});
  ASSERT_EQ(info[0], '$');
  for (const char* section : {"# Server\r\n", "# Clients\r\n", "# Memory\r\n", "# Persistence\r\n",
                              "# Stats\r\n", "# Keyspace\r\n", "# Raft\r\n", "# Membership\r\n"}) {
    EXPECT_NE(info.find(section), std::string::npos) << section;
  }
  EXPECT_NE(info.find("redis_version:7.0.15\r\n"), std::string::npos);
  // Phalanx's own version is the one CMake's project() declares.
  EXPECT_NE(info.find("phalanx_version:" + std::string(util::kPhalanxVersion) + "\r\n"),
            std::string::npos);
  EXPECT_NE(info.find("\r\n\r\n# Raft\r\nrole:leader\r\nnode_id:n1\r\n"), std::string::npos);
  std::string raft = Reply({"INFO", "RAFT"});
  EXPECT_EQ(raft.substr(raft.find("\r\n") + 2, 10), "# Raft\r\nro");
  EXPECT_EQ(raft.find("# Server"), std::string::npos);
  EXPECT_EQ(Reply({"INFO", "nosuch"}), "$0\r\n\r\n");
  client_.proto = 3;
  EXPECT_EQ(Reply({"INFO", "nosuch"}), "=4\r\ntxt:\r\n");
}

TEST_F(RespCommands, HttpRequestsAreDropped) {
  EXPECT_EQ(Reply({"POST", "/", "HTTP/1.1"}), "<drop>");
  EXPECT_EQ(Reply({"Host:", "example.com"}), "<drop>");
  shared_.config.set_requirepass("x");
  client_.authenticated = false;
  EXPECT_EQ(Reply({"post"}), "<drop>");
}

TEST_F(RespCommands, WritesCarryTheProposerClock) {
  int64_t before = WallClockMs();
  for (Argv argv : std::vector<Argv>{{"DEL", "a", "b"},
                                     {"INCR", "a"},
                                     {"MSET", "a", "1"},
                                     {"PERSIST", "a"},
                                     {"FLUSHALL"},
                                     {"APPEND", "a", "b"}}) {
    Prepared p = Run(argv);
    ASSERT_EQ(p.kind, Prepared::Kind::kWrite) << argv[0];
    EXPECT_GE(p.write.now_ms, before) << argv[0];
  }
  Prepared p = Run({"DECRBY", "a", "5"});
  EXPECT_EQ(p.write.delta, -5);
  p = Run({"MSETNX", "a", "1", "b", "2"});
  EXPECT_EQ(p.write.op, WriteOp::kMSetNx);
  EXPECT_EQ(p.write.args, (Argv{"a", "1", "b", "2"}));
}

}  // namespace
}  // namespace phalanx::resp
