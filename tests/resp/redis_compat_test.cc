// Byte-for-byte comparison with the real Redis: the same requests go to a
// redis-server 7 (Debian's redis-server package, started here on a unix
// socket in a temporary directory) and to the Phalanx server with the
// in-memory Store, and the reply bytes (and whether the connection was
// closed) must be identical. Skipped when redis-server is not installed.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "resp/server.h"
#include "tests/resp/memory_store.h"
#include "tests/resp/test_client.h"
#include "tests/support/test_util.h"

namespace phalanx::resp {
namespace {

using testing::MemoryStore;
using testing::Multibulk;
using testing::TestClient;

// A redis-server child process in a temporary directory; stopped (and
// reaped) by the destructor, which also removes the directory.
class RedisProcess {
 public:
  explicit RedisProcess(const std::string& requirepass) : socket_(dir_.Sub("redis.sock")) {
    std::vector<std::string> args = {
        REDIS_SERVER_BIN, "--port", "0",     "--unixsocket", socket_,     "--save",       "",
        "--appendonly",   "no",     "--dir", dir_.path(),    "--logfile", dir_.Sub("log")};
    if (!requirepass.empty()) {
      args.push_back("--requirepass");
      args.push_back(requirepass);
    }
    std::vector<char*> argv;
    argv.reserve(args.size() + 1);
    for (auto& a : args)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_ = fork();
    if (pid_ == 0) {
      // The server dies with the test process, even if the test crashes.
      prctl(PR_SET_PDEATHSIG, SIGTERM);
      execv(REDIS_SERVER_BIN, argv.data());
      _exit(127);
    }
    if (pid_ < 0) return;
    ready_ = test_support::Eventually(
        [&] {
          TestClient c(0, socket_);
          if (!c.connected()) return false;
          c.Send("PING\r\n");
          std::string r = c.ReadReplies(1, 1000);
          return r == "+PONG\r\n" || r.rfind("-NOAUTH", 0) == 0;
        },
        std::chrono::seconds(10), std::chrono::milliseconds(20));
  }
  ~RedisProcess() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    int status;
    if (!test_support::Eventually([&] { return waitpid(pid_, &status, WNOHANG) != 0; },
                                  std::chrono::seconds(5), std::chrono::milliseconds(10))) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
    }
  }
  bool ready() const { return ready_; }
  const std::string& socket() const { return socket_; }

 private:
  test_support::TempDir dir_{"phalanx-resp-redis"};  // removed after the server stopped
  std::string socket_;
  pid_t pid_ = -1;
  bool ready_ = false;
};

struct Case {
  std::string request;  // raw bytes
  size_t replies;       // complete replies to wait for
  bool closes = false;  // the server closes the connection afterwards
  bool resp3 = false;   // run after HELLO 3 (whose reply is not compared: ids differ)
};

// Inline lines, one reply each.
Case Lines(std::initializer_list<std::string> lines) {
  Case c{"", lines.size()};
  for (const std::string& l : lines)
    c.request += l + "\r\n";
  return c;
}

Case Cmd(const std::vector<std::string>& argv) {
  return Case{Multibulk(argv), 1};
}

class RespRedisCompat : public ::testing::Test {
 protected:
  void Run(const std::vector<Case>& cases, const std::string& requirepass = "") {
    if (access(REDIS_SERVER_BIN, X_OK) != 0) GTEST_SKIP() << "redis-server not installed";
    RedisProcess redis(requirepass);
    ASSERT_TRUE(redis.ready()) << "redis-server did not start";
    MemoryStore store;
    ServerOptions o;
    o.listen = "127.0.0.1:0";
    o.threads = 2;
    o.requirepass = requirepass;
    Server server(o, &store);
    ASSERT_TRUE(server.Start().ok());
    auto flush = [&](TestClient& c) {
      if (!requirepass.empty()) c.Send("AUTH " + requirepass + "\r\n");
      c.Send("FLUSHALL\r\n");
      c.ReadReplies(requirepass.empty() ? 1 : 2, 3000);
    };
    for (const Case& k : cases) {
      std::string got[2];
      bool closed[2];
      for (int side = 0; side < 2; ++side) {
        {
          TestClient f(side == 0 ? 0 : server.port(), side == 0 ? redis.socket() : "");
          flush(f);
        }
        TestClient c(side == 0 ? 0 : server.port(), side == 0 ? redis.socket() : "");
        if (k.resp3) {
          c.Send("HELLO 3\r\n");
          c.ReadReplies(1, 3000);
        }
        c.Send(k.request);
        got[side] = k.closes ? c.ReadUntilClosed(3000) : c.ReadReplies(k.replies, 3000);
        closed[side] = c.closed_by_peer();
      }
      std::string shown = k.request.substr(0, 120);
      EXPECT_EQ(got[1], got[0]) << "request: " << shown;
      EXPECT_EQ(closed[1], closed[0]) << "request: " << shown;
      EXPECT_EQ(testing::CountReplies(got[0]), k.replies) << "(redis) request: " << shown;
    }
  }
};

TEST_F(RespRedisCompat, ProtocolErrorsAndHttp) {
  Run({
      {"*abc\r\n", 1, true},
      {"*01\r\n", 1, true},
      {"PING\r\n*1\r\n$-1\r\n", 2, true},
      {"*1\r\n$abc\r\n", 1, true},
      {"*1\r\n$+4\r\nPING\r\n", 1, true},
      {"*1\r\n$600000000\r\n", 1, true},
      {"*1\r\n+PING\r\n", 1, true},
      {"*1\r\n:1\r\n", 1, true},
      {"*2\r\n$4\r\nECHO\r\n*1\r\n", 1, true},
      {"\"abc\r\n", 1, true},
      {"ping \"a\"b\r\n", 1, true},
      {std::string(70000, 'a'), 1, true},
      {"*" + std::string(70000, '1'), 1, true},
      {"*1\r\n$" + std::string(70000, '1'), 1, true},
      {"*1\r\n$4\r\nPINGxx*1\rX$4\r\nPING\r\n", 2},
      {"*0\r\n*-1\r\nPING\r\n\r\n   \r\nPING\nPING\r\n", 3},
      {"$4\r\nPING\r\n", 2},
      {":1\r\n", 1},
      {"POST / HTTP/1.1\r\nHost: x\r\n\r\n", 0, true},
      {"GET / HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n", 0, true},
      {"PING\r\nhost: x\r\n", 0, true},
      {"ECHO \"a\\x41\\n\" 'b\\'c'\r\n", 1},
      {"QUIT\r\nPING\r\n", 1, true},
  });
}

TEST_F(RespRedisCompat, ConnectionAndServerCommands) {
  Run({
      Lines({"PING", "PING hello", "PING a b", "ECHO", "ECHO x", "ECHO \"\""}),
      Lines({"SELECT 0", "SELECT x", "SELECT 99999999999", "SELECT -1"}),
      Lines({"foo", "foo a b c", "CLIENT foo", "client", "CONFIG", "CONFIG foo", "COMMAND foo"}),
      Cmd({std::string(300, 'x'), std::string(100, 'a'), std::string(100, 'b'), "c"}),
      Cmd({"foo", "a\r\nb", std::string("c\0d", 3)}),
      Lines({"AUTH x", "AUTH default x", "AUTH a b c", "AUTH bob x"}),
      Lines({"HELLO 4", "HELLO x", "HELLO 3 SETNAME", "HELLO 3 AUTH bob x", "HELLO 2 foo",
             "HELLO 1", "HELLO 2 setname \"a b\""}),
      Lines({"CLIENT SETNAME \"a b\"", "CLIENT GETNAME", "CLIENT SETNAME x", "CLIENT GETNAME",
             "CLIENT SETNAME \"\"", "CLIENT GETNAME", "CLIENT SETNAME", "CLIENT GETNAME x"}),
      Lines({"CLIENT LIST foo", "CLIENT LIST TYPE foo", "CLIENT LIST ID x",
             "CLIENT LIST TYPE pubsub", "CLIENT LIST TYPE master", "CLIENT ID x"}),
      Lines({"CONFIG GET save", "CONFIG GET appendonly", "CONFIG GET maxmemory",
             "CONFIG GET nosuch", "CONFIG GET", "CONFIG SET foo bar", "CONFIG SET databases 3",
             "CONFIG SET maxclients x", "CONFIG SET timeout", "CONFIG SET a b c"}),
      Lines({"INFO nosuch", "DBSIZE", "DBSIZE x", "TIME x", "FLUSHALL foo", "FLUSHALL SYNC",
             "FLUSHDB ASYNC", "FLUSHDB a b"}),
      Lines({"COMMAND INFO nosuch get", "COMMAND INFO client|setname", "COMMAND DOCS nosuch",
             "COMMAND INFO GET SET", "COMMAND DOCS get", "COMMAND LIST FILTERBY"}),
      Case{"GET nosuch\r\nCONFIG GET maxmemory\r\nMGET a b\r\nINFO nosuch\r\nCLIENT GETNAME\r\n"
           "COMMAND INFO get nosuch\r\nCOMMAND DOCS get\r\n",
           7, false, true},
  });
}

TEST_F(RespRedisCompat, CommandInfoAndDocsForEveryCommand) {
  std::vector<Case> cases;
  for (const char* name : {"ping",
                           "echo",
                           "quit",
                           "reset",
                           "hello",
                           "auth",
                           "select",
                           "info",
                           "dbsize",
                           "time",
                           "readonly",
                           "readwrite",
                           "flushall",
                           "flushdb",
                           "set",
                           "get",
                           "getset",
                           "setnx",
                           "setex",
                           "psetex",
                           "mset",
                           "msetnx",
                           "mget",
                           "del",
                           "unlink",
                           "exists",
                           "incr",
                           "incrby",
                           "decr",
                           "decrby",
                           "append",
                           "strlen",
                           "getrange",
                           "expire",
                           "pexpire",
                           "expireat",
                           "pexpireat",
                           "ttl",
                           "pttl",
                           "expiretime",
                           "pexpiretime",
                           "persist",
                           "type",
                           "keys",
                           "scan",
                           "randomkey",
                           "client|setname",
                           "client|getname",
                           "client|id",
                           "client|info",
                           "client|list",
                           "command|count",
                           "command|docs",
                           "command|info",
                           "config|get",
                           "config|set"}) {
    cases.push_back(Cmd({"COMMAND", "INFO", name}));
    if (std::string(name).find('|') == std::string::npos) {
      cases.push_back(Cmd({"COMMAND", "DOCS", name}));
      cases.push_back(Case{Multibulk({"COMMAND", "INFO", name}), 1, false, true});
    }
  }
  // Arity errors, one too few (or too many) arguments for each command.
  for (const char* req : {"ECHO",           "RESET x",
                          "AUTH",           "SELECT",
                          "DBSIZE x",       "TIME x",
                          "READONLY x",     "READWRITE x",
                          "SET k",          "GET",
                          "GETSET k",       "SETNX k",
                          "SETEX k 1",      "PSETEX k 1",
                          "MSET k",         "MSETNX k",
                          "MGET",           "DEL",
                          "UNLINK",         "EXISTS",
                          "INCR",           "INCRBY k",
                          "DECR",           "DECRBY k",
                          "APPEND k",       "STRLEN",
                          "GETRANGE k 1",   "EXPIRE k",
                          "PEXPIRE k",      "EXPIREAT k",
                          "PEXPIREAT k",    "TTL",
                          "PTTL",           "EXPIRETIME",
                          "PEXPIRETIME",    "PERSIST",
                          "TYPE",           "KEYS",
                          "SCAN",           "RANDOMKEY x",
                          "CLIENT ID x",    "CLIENT INFO x",
                          "CLIENT SETNAME", "CONFIG GET",
                          "CONFIG SET x",   "COMMAND COUNT x",
                          "MSET a 1 b",     "MSETNX a 1 b"}) {
    cases.push_back(Lines({req}));
  }
  Run(cases);
}

TEST_F(RespRedisCompat, StringsAndKeys) {
  Run({
      Lines({"SET k v NX XX", "SET k v XX NX", "SET k v EX 10 PX 10", "SET k v EX 10 KEEPTTL",
             "SET k v KEEPTTL PXAT 10", "SET k v EX", "SET k v FOO", "SET k v EX 0",
             "SET k v EX -1", "SET k v PX 0", "SET k v EX 9223372036854775", "SET k v EX x",
             "SET k v EX 010", "SET k v EXAT 0", "SET k v PXAT -1", "SETEX k 0 v", "PSETEX k -5 v",
             "SETEX k x v"}),
      Lines({"SET k v EX 10 EX 20",
             "TTL k",
             "SET k v nx nx",
             "SET k v2 xx get",
             "SET k2 v GET",
             "SET k3 v NX GET",
             "SET k3 w NX GET",
             "SET k3 x XX",
             "GET k3",
             "SET k3 y KEEPTTL",
             "TTL k3",
             "SET k3 z PX 100000 XX",
             "TTL k3",
             "SET k3 a",
             "TTL k3",
             "SET k4 v EXAT 1",
             "EXISTS k4",
             "GETSET k3 b",
             "GETSET nk b",
             "TTL nk"}),
      Lines({"INCR n", "INCRBY n 41", "DECR n", "DECRBY n -9", "INCRBY n x",
             "INCRBY n 9223372036854775808", "DECRBY n -9223372036854775808",
             "INCRBY n 9223372036854775807", "INCRBY n -9223372036854775808", "GET n",
             "SET s \"hello world\"", "INCR s", "DECR s", "SET z \" 1\"", "INCR z", "SET z 01",
             "INCR z", "SET z -0", "INCR z"}),
      Lines({"SET s \"hello world\"", "APPEND s !", "APPEND new abc", "STRLEN s", "STRLEN none",
             "GETRANGE s 0 4", "GETRANGE s -6 -2", "GETRANGE s -1 -5", "GETRANGE s 5 1",
             "GETRANGE s 0 9223372036854775807", "GETRANGE s -9223372036854775808 2",
             "GETRANGE none 0 1", "GETRANGE s a 1", "GETRANGE s 0 a", "GETRANGE s 100 200",
             "GETRANGE s -100 -50", "GETRANGE s -1 -1", "GETRANGE s 0 -1"}),
      Lines({"MSET a 1 b 2", "MSETNX a 1 c 3", "MSETNX c 3 d 4", "MGET a zz d", "SETNX a x",
             "SETNX e x", "EXISTS a a zz", "DEL a b zz", "UNLINK c", "DEL c", "TYPE d", "TYPE zz",
             "DEL d", "DBSIZE", "RANDOMKEY", "KEYS *", "KEYS e", "KEYS [ed]", "KEYS zz*"}),
      Lines({"SET k v",
             "EXPIRE k 10 NX XX",
             "EXPIRE k 10 NX GT",
             "EXPIRE k 10 GT LT",
             "EXPIRE k 10 foo",
             "EXPIRE k x foo",
             "EXPIRE k x",
             "EXPIRE k 9223372036854775807",
             "PEXPIRE k 9223372036854775807",
             "EXPIREAT k -9223372036854775808",
             "EXPIRE nokey 10",
             "EXPIRE k 100 XX",
             "EXPIRE k 100 NX",
             "EXPIRE k 50 GT",
             "EXPIRE k 50 LT",
             "TTL k",
             "EXPIRE k 100 gt",
             "TTL k",
             "PERSIST k",
             "PERSIST k",
             "TTL k",
             "TTL nokey",
             "PTTL nokey",
             "PTTL k",
             "EXPIRETIME k",
             "EXPIRETIME nokey",
             "PEXPIRETIME nokey",
             "EXPIREAT k 4000000000",
             "EXPIRETIME k",
             "PEXPIRETIME k",
             "PEXPIREAT k 4000000000123",
             "PEXPIRETIME k",
             "EXPIRETIME k",
             "PEXPIREAT k 1",
             "EXISTS k",
             "SET k v",
             "EXPIRE k -1",
             "EXISTS k",
             "SET k v",
             "EXPIRE k 0 XX",
             "SET k v",
             "PERSIST k",
             "EXPIRE k 10 LT",
             "TTL k"}),
      Lines({"GETDEL k",
             "SET k v",
             "GETDEL k",
             "GETDEL k",
             "GETDEL",
             "GETDEL a b",
             "GETEX k",
             "GETEX k EX -1",
             "GETEX k EX x",
             "GETEX k EX",
             "GETEX k FOO",
             "SET k v",
             "GETEX k EX 0",
             "GETEX k PX -5",
             "GETEX k EXAT 0",
             "GETEX k EX x",
             "GETEX k EX 9223372036854775807",
             "GETEX k PX 9223372036854775807",
             "GETEX k EX 10 PX 10",
             "GETEX k PERSIST EX 10",
             "GETEX k EX 10 PERSIST",
             "GETEX k KEEPTTL",
             "GETEX k EX 10 EX 100",
             "TTL k",
             "GETEX k",
             "TTL k",
             "GETEX k persist persist",
             "TTL k",
             "GETEX k PXAT 1",
             "EXISTS k",
             "GETEX"}),
      Lines({"INCRBYFLOAT f 10.50",
             "INCRBYFLOAT f 0.1",
             "INCRBYFLOAT f -5.0e3",
             "INCRBYFLOAT f 1e300",
             "INCRBYFLOAT f -1e300",
             "INCRBYFLOAT g 1e-30",
             "INCRBYFLOAT g 0x10",
             "INCRBYFLOAT g 3.0000",
             "INCRBYFLOAT f abc",
             "INCRBYFLOAT f \" 1\"",
             "INCRBYFLOAT f \"1 \"",
             "INCRBYFLOAT f \"\"",
             "INCRBYFLOAT f nan",
             "INCRBYFLOAT f inf",
             "INCRBYFLOAT f -inf",
             "SET s hello",
             "INCRBYFLOAT s 1",
             "SET b 1e4932",
             "INCRBYFLOAT b 1e4932",
             "GET b",
             "SET n 5",
             "INCRBYFLOAT n 1",
             "INCR n",
             "INCRBYFLOAT n",
             "INCRBYFLOAT n 1 2"}),
      Lines({"SETRANGE s 0 \"\"",
             "EXISTS s",
             "SETRANGE s 5 \"\"",
             "EXISTS s",
             "SETRANGE s 3 ab",
             "GET s",
             "SET h \"Hello World\"",
             "SETRANGE h 6 Redis",
             "GET h",
             "SETRANGE h 0 \"\"",
             "SETRANGE h 100 \"\"",
             "SETRANGE h -1 x",
             "SETRANGE h x x",
             "SETRANGE h 536870911 \"\"",
             "SETRANGE h 536870912 x",
             "SETRANGE h 536870911 xy",
             "SETRANGE h 9223372036854775807 x",
             "SETRANGE h -9223372036854775808 x",
             "SETRANGE h 11 !",
             "GET h",
             "SETRANGE h 1",
             "SETRANGE h 1 2 3"}),
      Lines({"SET only v", "SCAN x", "SCAN \" 1\"", "SCAN 99999999999999999999999",
             "SCAN 0 COUNT 0", "SCAN 0 COUNT x", "SCAN 0 MATCH", "SCAN 0 FOO x", "SCAN 0 TYPE hash",
             "SCAN 0 TYPE STRING", "SCAN 0 MATCH o*", "SCAN 0 MATCH x*",
             "SCAN 0 COUNT 5 MATCH * TYPE string", "SCAN \"\"", "KEYS o?ly", "KEYS \\\\o*"}),
  });
}

TEST_F(RespRedisCompat, WithRequirepass) {
  Run(
      {
          Lines({"GET k", "PING", "GET", "foo", "CLIENT foo"}),
          Lines({"HELLO 3", "HELLO 3 AUTH default wrong", "AUTH wrong", "AUTH default wrong",
                 "AUTH a b c", "CLIENT SETNAME x"}),
          {"*11\r\n", 1, true},
          {"*10\r\n$16385\r\n", 1, true},
          {"*10\r\n$16384\r\n", 0, false},
          {"AUTH secret\r\n*11\r\n$4\r\nPING\r\n", 1},
          Lines({"AUTH secret", "PING", "RESET", "PING", "AUTH default secret", "PING",
                 "CONFIG GET requirepass"}),
          {"QUIT\r\n", 1, true},
          {"POST / HTTP/1.1\r\n", 0, true},
      },
      "secret");
}

}  // namespace
}  // namespace phalanx::resp
