// A C client's view of a real phalanx process: hiredis (Debian's
// libhiredis-dev), the library most Redis clients in C and C++ sit on.
// Pipelined SET/GET, INCR, MGET, binary values, the new string commands,
// and error replies, each checked as the application would see it.
//
// (Debian 12's hiredis 0.14 speaks RESP2 only, so RESP3 is left to the
// byte comparison in test_redis_differential.py.)
//
// Run by run_with_node.py, which starts a 1-node cluster and passes its RESP
// port: hiredis_client_test <port>. Exits 0 when every check passed.
#include <hiredis/hiredis.h>
#include <sys/time.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

namespace {

int failures = 0;

#define CHECK(cond)                                                                 \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      ++failures;                                                                   \
    }                                                                               \
  } while (0)

struct ReplyFree {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, ReplyFree>;

struct ContextFree {
  void operator()(redisContext* c) const { redisFree(c); }
};
using Context = std::unique_ptr<redisContext, ContextFree>;

Reply Command(redisContext* c, const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (const std::string& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  return Reply(static_cast<redisReply*>(
      redisCommandArgv(c, static_cast<int>(args.size()), argv.data(), lens.data())));
}

void Append(redisContext* c, const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (const std::string& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  CHECK(redisAppendCommandArgv(c, static_cast<int>(args.size()), argv.data(), lens.data()) ==
        REDIS_OK);
}

Reply Next(redisContext* c) {
  void* r = nullptr;
  if (redisGetReply(c, &r) != REDIS_OK) return nullptr;
  return Reply(static_cast<redisReply*>(r));
}

bool IsStatus(const Reply& r, const std::string& s) {
  return r && r->type == REDIS_REPLY_STATUS && std::string(r->str, r->len) == s;
}
bool IsString(const Reply& r, const std::string& s) {
  return r && r->type == REDIS_REPLY_STRING && std::string(r->str, r->len) == s;
}
bool IsError(const Reply& r, const std::string& s) {
  return r && r->type == REDIS_REPLY_ERROR && std::string(r->str, r->len) == s;
}
bool IsInteger(const Reply& r, long long v) {
  return r && r->type == REDIS_REPLY_INTEGER && r->integer == v;
}
bool IsNil(const Reply& r) {
  return r && r->type == REDIS_REPLY_NIL;
}

Context Connect(int port) {
  struct timeval tv = {10, 0};
  Context c(redisConnectWithTimeout("127.0.0.1", port, tv));
  if (!c || c->err) {
    std::fprintf(stderr, "connect to port %d failed: %s\n", port, c ? c->errstr : "no memory");
    return nullptr;
  }
  redisSetTimeout(c.get(), tv);  // every reply is awaited at most 10 s
  return c;
}

void PipelinedSetGet(redisContext* c) {
  constexpr int kN = 1000;
  for (int i = 0; i < kN; ++i)
    Append(c, {"SET", "pipe:" + std::to_string(i), "value-" + std::to_string(i)});
  for (int i = 0; i < kN; ++i)
    Append(c, {"GET", "pipe:" + std::to_string(i)});
  int ok = 0, right = 0;
  for (int i = 0; i < kN; ++i)
    ok += IsStatus(Next(c), "OK") ? 1 : 0;
  // The GETs were sent after the SETs on one connection: each sees its SET.
  for (int i = 0; i < kN; ++i)
    right += IsString(Next(c), "value-" + std::to_string(i)) ? 1 : 0;
  CHECK(ok == kN);
  CHECK(right == kN);
}

void CountersAndMget(redisContext* c) {
  CHECK(IsInteger(Command(c, {"DEL", "counter"}), 0));
  for (int i = 0; i < 100; ++i)
    Append(c, {"INCR", "counter"});
  int in_order = 0;
  for (int i = 1; i <= 100; ++i)
    in_order += IsInteger(Next(c), i) ? 1 : 0;
  CHECK(in_order == 100);
  CHECK(IsInteger(Command(c, {"INCRBY", "counter", "-150"}), -50));
  CHECK(IsString(Command(c, {"GET", "counter"}), "-50"));

  Reply m = Command(c, {"MGET", "pipe:0", "no-such-key", "counter"});
  CHECK(m && m->type == REDIS_REPLY_ARRAY && m->elements == 3);
  if (m && m->type == REDIS_REPLY_ARRAY && m->elements == 3) {
    CHECK(m->element[0]->type == REDIS_REPLY_STRING &&
          std::string(m->element[0]->str) == "value-0");
    CHECK(m->element[1]->type == REDIS_REPLY_NIL);
    CHECK(m->element[2]->type == REDIS_REPLY_STRING && std::string(m->element[2]->str) == "-50");
  }
}

void BinaryValuesAndNewCommands(redisContext* c) {
  std::string bin("a\0b\r\n\xff", 6);
  // hiredis's printf-style %b: a binary-safe argument.
  Reply r(static_cast<redisReply*>(
      redisCommand(c, "SET %b %b", bin.data(), bin.size(), bin.data(), bin.size())));
  CHECK(IsStatus(r, "OK"));
  CHECK(IsString(Command(c, {"GET", bin}), bin));
  CHECK(IsInteger(Command(c, {"SETRANGE", bin, "8", "zz"}), 10));
  CHECK(IsString(Command(c, {"GETDEL", bin}), bin + std::string("\0\0zz", 4)));
  CHECK(IsNil(Command(c, {"GET", bin})));

  CHECK(IsString(Command(c, {"INCRBYFLOAT", "float", "10.50"}), "10.5"));
  CHECK(IsString(Command(c, {"INCRBYFLOAT", "float", "0.1"}), "10.6"));
  CHECK(IsStatus(Command(c, {"SET", "ttl", "v"}), "OK"));
  CHECK(IsString(Command(c, {"GETEX", "ttl", "EX", "100"}), "v"));
  CHECK(IsInteger(Command(c, {"TTL", "ttl"}), 100));
  CHECK(IsString(Command(c, {"GETEX", "ttl", "PERSIST"}), "v"));
  CHECK(IsInteger(Command(c, {"TTL", "ttl"}), -1));
}

void Errors(redisContext* c) {
  CHECK(IsError(Command(c, {"GET"}), "ERR wrong number of arguments for 'get' command"));
  CHECK(IsError(Command(c, {"NOSUCH", "x"}),
                "ERR unknown command 'NOSUCH', with args beginning with: 'x' "));
  CHECK(IsStatus(Command(c, {"SET", "text", "hello"}), "OK"));
  CHECK(IsError(Command(c, {"INCR", "text"}), "ERR value is not an integer or out of range"));
  CHECK(IsError(Command(c, {"INCRBYFLOAT", "text", "1"}), "ERR value is not a valid float"));
  CHECK(IsError(Command(c, {"SET", "k", "v", "NX", "XX"}), "ERR syntax error"));
  CHECK(IsError(Command(c, {"SETRANGE", "text", "-1", "x"}), "ERR offset is out of range"));
  CHECK(IsError(Command(c, {"GETEX", "text", "EX", "0"}),
                "ERR invalid expire time in 'getex' command"));
  // An error does not break the connection: the next command works.
  CHECK(IsString(Command(c, {"GET", "text"}), "hello"));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <resp-port>\n", argv[0]);
    return 2;
  }
  int port = std::atoi(argv[1]);
  Context c = Connect(port);
  if (!c) return 1;
  PipelinedSetGet(c.get());
  CountersAndMget(c.get());
  BinaryValuesAndNewCommands(c.get());
  Errors(c.get());
  if (failures != 0) {
    std::fprintf(stderr, "%d check(s) failed\n", failures);
    return 1;
  }
  std::printf("hiredis client test: all checks passed\n");
  return 0;
}
