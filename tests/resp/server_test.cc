// End to end over real TCP sockets on 127.0.0.1: the Server with the
// in-memory Store — pipelining and reply order while the Store answers late
// and out of order, protocol errors, HTTP requests, limits, timeouts, RESP3,
// many clients across loops, and a few replies checked with redis-cli.
#include "resp/server.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tests/resp/memory_store.h"
#include "tests/resp/test_client.h"
#include "tests/support/test_util.h"

namespace phalanx::resp {
namespace {

using testing::MemoryStore;
using testing::Multibulk;
using testing::TestClient;

class RespServer : public ::testing::Test {
 protected:
  void Start(ServerOptions o = {}) {
    o.listen = "127.0.0.1:0";
    if (o.threads == 0) o.threads = 2;
    server_ = std::make_unique<Server>(o, &store_);
    Status s = server_->Start();
    ASSERT_TRUE(s.ok()) << s.message();
    port_ = server_->port();
    ASSERT_GT(port_, 0);
  }
  void TearDown() override {
    if (server_) server_->Stop();
  }

  // Polls INFO until `field` reaches at least `want` (bounded).
  int64_t WaitInfoField(const std::string& field, int64_t want, int timeout_ms = 5000) {
    int64_t v = -1;
    test_support::Eventually(
        [&] {
          TestClient c(port_);
          std::string info = c.Reply({"INFO", "stats"});
          size_t at = info.find(field + ":");
          if (at != std::string::npos) v = std::stoll(info.substr(at + field.size() + 1));
          return v >= want;
        },
        std::chrono::milliseconds(timeout_ms), std::chrono::milliseconds(20));
    return v;
  }

  MemoryStore store_;  // declared before the server: outlives it
  std::unique_ptr<Server> server_;
  int port_ = 0;
};

TEST_F(RespServer, StartReportsBadAddressesAsValues) {
  MemoryStore store;
  ServerOptions o;
  o.listen = "not-an-address";
  Server s(o, &store);
  Status st = s.Start();
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("resp.listen"), std::string::npos);
  ServerOptions o2;
  o2.listen = "127.0.0.1:0";
  o2.maxclients = 0;
  Server s2(o2, &store);
  EXPECT_FALSE(s2.Start().ok());
}

TEST_F(RespServer, PingSetGet) {
  Start();
  TestClient c(port_);
  ASSERT_TRUE(c.connected());
  EXPECT_EQ(c.Reply({"PING"}), "+PONG\r\n");
  EXPECT_EQ(c.Reply({"SET", "k", "v"}), "+OK\r\n");
  EXPECT_EQ(c.Reply({"GET", "k"}), "$1\r\nv\r\n");
  c.Send("get k\r\n");  // inline
  EXPECT_EQ(c.ReadReplies(1), "$1\r\nv\r\n");
}

TEST_F(RespServer, PipelineInOneWrite) {
  Start();
  TestClient c(port_);
  std::string req, want;
  for (int i = 0; i < 2000; ++i) {
    req += Multibulk({"SET", "k" + std::to_string(i), std::to_string(i)});
    req += Multibulk({"GET", "k" + std::to_string(i)});
    req += "PING\r\n";
    want += "+OK\r\n$" + std::to_string(std::to_string(i).size()) + "\r\n" + std::to_string(i) +
            "\r\n+PONG\r\n";
  }
  ASSERT_TRUE(c.Send(req));
  EXPECT_EQ(c.ReadReplies(6000, 20000), want);
}

TEST_F(RespServer, RepliesStayInOrderWhileTheStoreAnswersLateAndOutOfOrder) {
  store_.set_delay(0, 5);
  Start();
  TestClient c(port_);
  std::string req, want;
  for (int i = 0; i < 200; ++i) {
    std::string v = std::to_string(i);
    req += Multibulk({"SET", "k", v});
    req += "PING\r\n";
    req += Multibulk({"GET", "k"});
    req += Multibulk({"INCR", "n"});
    want += "+OK\r\n+PONG\r\n$" + std::to_string(v.size()) + "\r\n" + v +
            "\r\n:" + std::to_string(i + 1) + "\r\n";
  }
  ASSERT_TRUE(c.Send(req));
  EXPECT_EQ(c.ReadReplies(800, 30000), want);
  EXPECT_EQ(store_.max_inflight_writes(), 1);  // one connection's writes, one at a time
}

TEST_F(RespServer, PipelinedWritesWhenTheStoreOrdersThem) {
  store_.set_delay(3, 3);  // equal delays: completions stay in call order
  ServerOptions o;
  o.store_orders_writes = true;
  Start(o);
  TestClient c(port_);
  std::string req, want;
  for (int i = 0; i < 200; ++i) {
    req += Multibulk({"SET", "k", std::to_string(i)});
    want += "+OK\r\n";
  }
  req += Multibulk({"GET", "k"});
  want += "$3\r\n199\r\n";
  ASSERT_TRUE(c.Send(req));
  EXPECT_EQ(c.ReadReplies(201, 20000), want);
  EXPECT_GT(store_.max_inflight_writes(), 1);  // proposed together
}

TEST_F(RespServer, PipelinedReadsShareReadBarriers) {
  store_.set_delay(2, 2);
  Start();
  TestClient c(port_);
  EXPECT_EQ(c.Reply({"SET", "k", "v"}), "+OK\r\n");
  uint64_t before = store_.barriers();
  std::string req;
  for (int i = 0; i < 500; ++i)
    req += Multibulk({"GET", "k"});
  ASSERT_TRUE(c.Send(req));
  std::string got = c.ReadReplies(500, 20000);
  EXPECT_EQ(testing::CountReplies(got), 500u);
  EXPECT_LT(store_.barriers() - before, 100u);
}

TEST_F(RespServer, StoreErrorsPassThrough) {
  Start();
  TestClient c(port_);
  store_.fail_next_writes(1, "CLUSTERDOWN No raft leader");
  EXPECT_EQ(c.Reply({"SET", "k", "v"}), "-CLUSTERDOWN No raft leader\r\n");
  EXPECT_EQ(c.Reply({"SET", "k", "v"}), "+OK\r\n");
}

TEST_F(RespServer, ProtocolErrorRepliesAndClosesOnlyThatConnection) {
  Start();
  TestClient other(port_);
  EXPECT_EQ(other.Reply({"PING"}), "+PONG\r\n");
  struct Case {
    std::string input, reply;
  };
  const Case cases[] = {
      {"PING\r\n*abc\r\n", "+PONG\r\n-ERR Protocol error: invalid multibulk length\r\n"},
      {"*1\r\n$-1\r\n", "-ERR Protocol error: invalid bulk length\r\n"},
      {"*1\r\n$600000000\r\n", "-ERR Protocol error: invalid bulk length\r\n"},
      {"*3000000\r\n", "-ERR Protocol error: invalid multibulk length\r\n"},
      {"*1\r\n:1\r\n", "-ERR Protocol error: expected '$', got ':'\r\n"},
      {"ECHO \"abc\r\n", "-ERR Protocol error: unbalanced quotes in request\r\n"},
      {std::string(70000, 'x'), "-ERR Protocol error: too big inline request\r\n"},
  };
  for (const Case& k : cases) {
    TestClient c(port_);
    c.Send(k.input);
    EXPECT_EQ(c.ReadUntilClosed(), k.reply) << k.input.substr(0, 30);
    EXPECT_TRUE(c.closed_by_peer());
  }
  EXPECT_EQ(other.Reply({"PING"}), "+PONG\r\n");
}

TEST_F(RespServer, HttpRequestsCloseSilently) {
  Start();
  for (const char* req :
       {"POST / HTTP/1.1\r\nHost: localhost\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: localhost\r\nAccept: */*\r\n\r\n", "PING\r\nHost: x\r\n"}) {
    TestClient c(port_);
    c.Send(req);
    EXPECT_EQ(c.ReadUntilClosed(), "") << req;
    EXPECT_TRUE(c.closed_by_peer());
  }
}

TEST_F(RespServer, QuitClosesAfterItsReply) {
  store_.set_delay(5, 5);
  Start();
  TestClient c(port_);
  c.Send("SET k v\r\nQUIT\r\nPING\r\n");
  EXPECT_EQ(c.ReadUntilClosed(), "+OK\r\n+OK\r\n");
  EXPECT_TRUE(c.closed_by_peer());
}

TEST_F(RespServer, HalfClosedClientStillGetsPendingReplies) {
  store_.set_delay(20, 20);
  Start();
  TestClient c(port_);
  c.Send("SET k v\r\nGET k\r\n");
  c.ShutdownWrite();
  EXPECT_EQ(c.ReadUntilClosed(), "+OK\r\n$1\r\nv\r\n");
}

TEST_F(RespServer, MaxClients) {
  ServerOptions o;
  o.maxclients = 2;
  Start(o);
  TestClient a(port_), b(port_);
  EXPECT_EQ(a.Reply({"PING"}), "+PONG\r\n");
  EXPECT_EQ(b.Reply({"PING"}), "+PONG\r\n");
  TestClient c(port_);
  EXPECT_EQ(c.ReadUntilClosed(), "-ERR max number of clients reached\r\n");
  EXPECT_EQ(a.Reply({"INFO", "stats"}).find("rejected_connections:1\r\n") != std::string::npos,
            true);
}

TEST_F(RespServer, IdleTimeout) {
  ServerOptions o;
  o.timeout = 1;
  Start(o);
  TestClient c(port_);
  EXPECT_EQ(c.Reply({"PING"}), "+PONG\r\n");
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(c.ReadUntilClosed(5000), "");
  EXPECT_TRUE(c.closed_by_peer());
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(900));
}

TEST_F(RespServer, ClientThatDoesNotReadIsClosedAtTheHardLimit) {
  ServerOptions o;
  o.output_buffer_hard_limit = size_t{256} * 1024;
  Start(o);
  TestClient setup(port_);
  EXPECT_EQ(setup.Reply({"SET", "big", std::string(size_t{64} * 1024, 'b')}), "+OK\r\n");
  TestClient slow(port_);
  std::string req;
  for (int i = 0; i < 4000; ++i)
    req += "GET big\r\n";  // 256 MB of replies, never read
  slow.Send(req);
  EXPECT_GE(WaitInfoField("client_output_buffer_limit_disconnections", 1, 10000), 1);
  EXPECT_EQ(setup.Reply({"PING"}), "+PONG\r\n");
}

TEST_F(RespServer, UnauthenticatedClientsGetASmallOutputLimit) {
  ServerOptions o;
  o.requirepass = "secret";
  Start(o);
  TestClient flood(port_);
  std::string req;
  for (int i = 0; i < 50000; ++i)
    req += "PING\r\n";
  for (int i = 0; i < 20 && flood.Send(req); ++i) {
  }
  TestClient admin(port_);
  EXPECT_EQ(admin.Reply({"AUTH", "secret"}), "+OK\r\n");
  std::string info;
  test_support::Eventually(
      [&] {
        info = admin.Reply({"INFO", "stats"});
        return info.find("client_output_buffer_limit_disconnections:0") == std::string::npos;
      },
      std::chrono::seconds(10), std::chrono::milliseconds(20));
  EXPECT_EQ(info.find("client_output_buffer_limit_disconnections:0"), std::string::npos);
}

TEST_F(RespServer, AuthFlowOverTheWire) {
  ServerOptions o;
  o.requirepass = "secret";
  Start(o);
  TestClient c(port_);
  EXPECT_EQ(c.Reply({"GET", "k"}), "-NOAUTH Authentication required.\r\n");
  c.Send("*11\r\n");
  EXPECT_EQ(c.ReadUntilClosed(), "-ERR Protocol error: unauthenticated multibulk length\r\n");
  TestClient d(port_);
  // AUTH and a large request in one write: the limit follows AUTH at once.
  d.Send("AUTH secret\r\n" + Multibulk({"MSET", "a", "1", "b", "2", "c", "3", "d", "4", "e", "5"}));
  EXPECT_EQ(d.ReadReplies(2), "+OK\r\n+OK\r\n");
}

TEST_F(RespServer, Resp3AfterHello) {
  Start();
  TestClient c(port_);
  std::string hello = c.Reply({"HELLO", "3"});
  EXPECT_EQ(hello.substr(0, 3), "%7\r");
  EXPECT_EQ(c.Reply({"GET", "missing"}), "_\r\n");
  EXPECT_EQ(c.Reply({"CONFIG", "GET", "appendonly"}), "%1\r\n$10\r\nappendonly\r\n$2\r\nno\r\n");
  std::string info = c.Reply({"CLIENT", "INFO"});
  EXPECT_EQ(info.substr(0, 1), "=");
  EXPECT_NE(info.find("resp=3"), std::string::npos);
}

TEST_F(RespServer, ManyClientsAcrossLoops) {
  ServerOptions o;
  o.threads = 4;
  store_.set_delay(0, 2);
  Start(o);
  constexpr int kClients = 40, kIncrs = 50;
  std::vector<std::thread> threads;
  threads.reserve(kClients);
  std::atomic<int> ok{0};
  for (int t = 0; t < kClients; ++t) {
    threads.emplace_back([&] {
      TestClient c(port_);
      std::string req;
      for (int i = 0; i < kIncrs; ++i)
        req += "INCR counter\r\n";
      c.Send(req);
      std::string got = c.ReadReplies(kIncrs, 20000);
      if (testing::CountReplies(got) == static_cast<size_t>(kIncrs)) ok.fetch_add(1);
    });
  }
  for (auto& t : threads)
    t.join();
  EXPECT_EQ(ok.load(), kClients);
  TestClient c(port_);
  EXPECT_EQ(c.Reply({"GET", "counter"}), "$4\r\n2000\r\n");
  // CLIENT LIST gathers every loop's clients.
  std::vector<std::unique_ptr<TestClient>> extra;
  for (int i = 0; i < 6; ++i) {
    extra.push_back(std::make_unique<TestClient>(port_));
    EXPECT_EQ(extra.back()->Reply({"CLIENT", "SETNAME", "x" + std::to_string(i)}), "+OK\r\n");
  }
  std::string list = c.Reply({"CLIENT", "LIST"});
  for (int i = 0; i < 6; ++i) {
    EXPECT_NE(list.find("name=x" + std::to_string(i) + " "), std::string::npos) << list;
  }
  EXPECT_NE(list.find("cmd=client|list"), std::string::npos);
}

TEST_F(RespServer, StopWithRequestsInFlight) {
  store_.set_delay(300, 300);
  Start();
  TestClient c(port_);
  c.Send("SET k v\r\nGET k\r\n");
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  server_->Stop();
  EXPECT_EQ(c.ReadUntilClosed(2000), "");
  server_->Stop();  // idempotent
}

TEST_F(RespServer, LargeValuesRoundTrip) {
  Start();
  TestClient c(port_);
  std::string value(size_t{8} << 20, 'z');
  value[12345] = '\0';
  EXPECT_EQ(c.Reply({"SET", "big", value}, 20000), "+OK\r\n");
  EXPECT_EQ(c.Reply({"GET", "big"}, 20000), "$8388608\r\n" + value + "\r\n");
}

// ---- redis-cli against the server ----

std::string RunCli(int port, const std::string& args) {
  std::string cmd =
      "timeout 10 " REDIS_CLI_BIN " -h 127.0.0.1 -p " + std::to_string(port) + " " + args + " 2>&1";
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return "<popen failed>";
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0)
    out.append(buf, n);
  pclose(p);
  return out;
}

TEST_F(RespServer, RedisCli) {
  if (access(REDIS_CLI_BIN, X_OK) != 0) GTEST_SKIP() << "redis-cli not installed";
  Start();
  EXPECT_EQ(RunCli(port_, "PING"), "PONG\n");
  EXPECT_EQ(RunCli(port_, "SET greeting hello"), "OK\n");
  EXPECT_EQ(RunCli(port_, "GET greeting"), "hello\n");
  EXPECT_EQ(RunCli(port_, "--no-raw INCR visits"), "(integer) 1\n");
  EXPECT_EQ(RunCli(port_, "--no-raw GET nosuch"), "(nil)\n");
  EXPECT_EQ(RunCli(port_, "--no-raw SET k v NX XX"), "(error) ERR syntax error\n");
  EXPECT_EQ(RunCli(port_, "-3 --no-raw GET nosuch"), "(nil)\n");
  EXPECT_EQ(RunCli(port_, "--no-raw MGET greeting nosuch"), "1) \"hello\"\n2) (nil)\n");
  EXPECT_EQ(RunCli(port_, "DBSIZE"), "2\n");
  std::string info = RunCli(port_, "INFO raft");
  EXPECT_NE(info.find("# Raft"), std::string::npos);
  EXPECT_NE(info.find("role:leader"), std::string::npos);
  EXPECT_EQ(RunCli(port_, "--no-raw FOOBAR x"),
            "(error) ERR unknown command 'FOOBAR', with args beginning with: 'x' \n");
}

}  // namespace
}  // namespace phalanx::resp
