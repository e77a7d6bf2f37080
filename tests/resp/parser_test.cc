// RequestParser and ReplyBuilder: every split point of a request, pipelines,
// inline commands, each malformed form with Redis's exact error text, and the
// limits (checked before the payload arrives).
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "resp/glob.h"
#include "resp/reply.h"
#include "resp/request_parser.h"

namespace phalanx::resp {
namespace {

using Argv = std::vector<std::string>;

struct Outcome {
  std::vector<Argv> requests;
  RequestParser::Result last = RequestParser::Result::kNeedMore;
  std::string error;
  bool operator==(const Outcome&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Outcome& o) {
  os << "{";
  for (const Argv& a : o.requests) {
    os << "[";
    for (const std::string& s : a)
      os << "'" << s << "' ";
    os << "]";
  }
  return os << " last=" << static_cast<int>(o.last) << " error='" << o.error << "'}";
}

void Drain(RequestParser& p, Outcome* o) {
  for (;;) {
    Argv argv;
    RequestParser::Result r = p.Next(&argv);
    o->last = r;
    if (r == RequestParser::Result::kRequest) {
      o->requests.push_back(argv);
      continue;
    }
    if (r == RequestParser::Result::kError) o->error = p.error();
    return;
  }
}

// Feeds `input` split into pieces at the given points.
Outcome ParseSplit(const std::string& input, const std::vector<size_t>& cuts,
                   ParserLimits limits = {}, bool auth_required = false) {
  RequestParser p(limits);
  p.set_auth_required(auth_required);
  Outcome o;
  size_t prev = 0;
  std::vector<size_t> points = cuts;
  points.push_back(input.size());
  for (size_t cut : points) {
    p.Feed(std::string_view(input).substr(prev, cut - prev));
    prev = cut;
    Drain(p, &o);
    if (o.last == RequestParser::Result::kError) break;
  }
  return o;
}

Outcome Parse(const std::string& input, ParserLimits limits = {}, bool auth_required = false) {
  return ParseSplit(input, {}, limits, auth_required);
}

// Every way of cutting the input in two, and byte by byte, gives the same
// outcome as feeding it whole.
void ExpectSplitInvariant(const std::string& input) {
  Outcome whole = Parse(input);
  for (size_t cut = 0; cut <= input.size(); ++cut) {
    EXPECT_EQ(ParseSplit(input, {cut}), whole) << "cut at " << cut << " of " << input;
  }
  std::vector<size_t> every;
  for (size_t i = 1; i < input.size(); ++i)
    every.push_back(i);
  EXPECT_EQ(ParseSplit(input, every), whole) << "byte by byte: " << input;
}

std::string Multibulk(const Argv& argv) {
  std::string out = "*" + std::to_string(argv.size()) + "\r\n";
  for (const std::string& a : argv)
    out += "$" + std::to_string(a.size()) + "\r\n" + a + "\r\n";
  return out;
}

TEST(RespParser, MultibulkRequest) {
  Outcome o = Parse("*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n");
  ASSERT_EQ(o.requests.size(), 1u);
  EXPECT_EQ(o.requests[0], (Argv{"GET", "key"}));
  EXPECT_EQ(o.last, RequestParser::Result::kNeedMore);
}

// A request whose arguments add up to more than max_request_bytes is read
// and dropped as it arrives: kTooLarge with its size, nothing of it held, and
// the requests around it are parsed as usual, at every split point.
TEST(RespParser, RequestOverMaxRequestBytesIsDroppedAndParsingGoesOn) {
  ParserLimits limits;
  limits.max_request_bytes = 20;
  const std::string big = Multibulk({"SET", "key", std::string(15, 'v')});  // 21 bytes
  const std::string input = Multibulk({"GET", "a"}) + big + Multibulk({"GET", "b"});
  for (size_t cut = 0; cut <= input.size(); ++cut) {
    RequestParser p(limits);
    std::vector<RequestParser::Result> results;
    std::vector<Argv> requests;
    for (std::string_view piece :
         {std::string_view(input).substr(0, cut), std::string_view(input).substr(cut)}) {
      p.Feed(piece);
      for (int i = 0; i < 10; ++i) {
        Argv argv;
        RequestParser::Result r = p.Next(&argv);
        if (r == RequestParser::Result::kNeedMore) break;
        results.push_back(r);
        if (r == RequestParser::Result::kRequest) requests.push_back(argv);
        if (r == RequestParser::Result::kTooLarge) {
          EXPECT_EQ(p.too_large_bytes(), 21u);
        }
      }
    }
    EXPECT_EQ(results, (std::vector<RequestParser::Result>{RequestParser::Result::kRequest,
                                                           RequestParser::Result::kTooLarge,
                                                           RequestParser::Result::kRequest}))
        << "cut at " << cut;
    EXPECT_EQ(requests, (std::vector<Argv>{{"GET", "a"}, {"GET", "b"}})) << "cut at " << cut;
  }
  // At the limit exactly, the request is kept.
  limits.max_request_bytes = 21;
  Outcome o = Parse(big, limits);
  ASSERT_EQ(o.requests.size(), 1u);
  EXPECT_EQ(o.requests[0][2], std::string(15, 'v'));
}

TEST(RespParser, DroppedRequestIsNotBuffered) {
  ParserLimits limits;
  limits.max_request_bytes = 1 << 20;
  RequestParser p(limits);
  const size_t len = size_t{64} << 20;  // 64 MiB declared, sent in 64 KiB pieces
  p.Feed("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$" + std::to_string(len) + "\r\n");
  const std::string chunk(size_t{64} * 1024, 'x');
  size_t max_buffered = 0;
  Argv argv;
  for (size_t sent = 0; sent < len; sent += chunk.size()) {
    p.Feed(chunk);
    ASSERT_EQ(p.Next(&argv), RequestParser::Result::kNeedMore);
    max_buffered = std::max(max_buffered, p.buffered_bytes());
  }
  p.Feed("\r\n*1\r\n$4\r\nPING\r\n");
  ASSERT_EQ(p.Next(&argv), RequestParser::Result::kTooLarge);
  EXPECT_EQ(p.too_large_bytes(), len + 4);
  ASSERT_EQ(p.Next(&argv), RequestParser::Result::kRequest);
  EXPECT_EQ(argv, (Argv{"PING"}));
  EXPECT_LE(max_buffered, 2 * chunk.size());
}

TEST(RespParser, BinarySafeArguments) {
  std::string value("a\0b\r\nc", 6);
  Outcome o = Parse(Multibulk({"SET", "k", value}));
  ASSERT_EQ(o.requests.size(), 1u);
  EXPECT_EQ(o.requests[0][2], value);
}

TEST(RespParser, EmptyBulkAndEmptyArraysAreSkipped) {
  Outcome o = Parse("*0\r\n*-1\r\n*2\r\n$4\r\nECHO\r\n$0\r\n\r\n");
  ASSERT_EQ(o.requests.size(), 1u);
  EXPECT_EQ(o.requests[0], (Argv{"ECHO", ""}));
}

TEST(RespParser, EverySplitPointOfEveryForm) {
  ExpectSplitInvariant("*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n");
  ExpectSplitInvariant(Multibulk({"SET", "key", std::string(300, 'x'), "EX", "10"}));
  ExpectSplitInvariant("PING\r\nECHO \"a b\" 'c\\'d'\r\n\r\nGET k\n");
  ExpectSplitInvariant("*1\r\n$4\r\nPING\r\nPING\r\n*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\n");
  // Malformed forms split anywhere still give the same error.
  ExpectSplitInvariant("*1\r\n$4\r\nPING\r\n*1\r\n$-1\r\n");
  ExpectSplitInvariant("PING\r\n*abc\r\n");
  ExpectSplitInvariant("*2\r\n$4\r\nECHO\r\n:5\r\n");
  ExpectSplitInvariant("ECHO \"unterminated\r\n");
}

TEST(RespParser, Pipeline) {
  std::string in;
  for (int i = 0; i < 100; ++i)
    in += Multibulk({"SET", "k" + std::to_string(i), "v"});
  in += "PING\r\n";
  Outcome o = Parse(in);
  ASSERT_EQ(o.requests.size(), 101u);
  EXPECT_EQ(o.requests[57], (Argv{"SET", "k57", "v"}));
  EXPECT_EQ(o.requests[100], (Argv{"PING"}));
}

TEST(RespParser, RedisQuirks) {
  // Redis skips the two bytes after a payload without looking at them, and
  // the byte after the '\r' of a header.
  Outcome o = Parse("*1\r\n$4\r\nPINGxx*1\rX$4\r\nPING\r\n");
  ASSERT_EQ(o.requests.size(), 2u);
  EXPECT_EQ(o.requests[1], (Argv{"PING"}));
  // An inline line may end in a bare "\n".
  o = Parse("PING\nPING\r\n");
  EXPECT_EQ(o.requests.size(), 2u);
  // A request starting with '$' or ':' is an inline command.
  o = Parse("$4\r\n");
  ASSERT_EQ(o.requests.size(), 1u);
  EXPECT_EQ(o.requests[0], (Argv{"$4"}));
}

TEST(RespParser, InlineSplitting) {
  struct Case {
    std::string line;
    bool ok;
    Argv argv;
  };
  const Case cases[] = {
      {"set k v", true, {"set", "k", "v"}},
      {"  set   k\tv  ", true, {"set", "k", "v"}},
      {"echo \"a b\"", true, {"echo", "a b"}},
      {"echo \"a\\x41\\n\\r\\t\\b\\a\\\\\\\"\"", true, {"echo", "aA\n\r\t\b\a\\\""}},
      {"echo 'it\\'s'", true, {"echo", "it's"}},
      {"echo 'a\\nb'", true, {"echo", "a\\nb"}},
      {"echo \"\"", true, {"echo", ""}},
      {"echo \"a\"b", false, {}},
      {"echo 'a'b", false, {}},
      {"echo \"abc", false, {}},
      {"echo 'abc", false, {}},
      {"", true, {}},
      {std::string("ab\0cd", 5), true, {"ab"}},
  };
  for (const Case& c : cases) {
    Argv argv;
    EXPECT_EQ(RequestParser::SplitInline(c.line, &argv), c.ok) << c.line;
    if (c.ok) {
      EXPECT_EQ(argv, c.argv) << c.line;
    }
  }
}

struct ErrorCase {
  std::string input;
  std::string error;
  size_t requests_before;
};

TEST(RespParser, MalformedRequestsGiveRedisErrors) {
  const ErrorCase cases[] = {
      {"*abc\r\n", "ERR Protocol error: invalid multibulk length", 0},
      {"*01\r\n", "ERR Protocol error: invalid multibulk length", 0},
      {"*+1\r\n", "ERR Protocol error: invalid multibulk length", 0},
      {"*1048577\r\n", "ERR Protocol error: invalid multibulk length", 0},
      {"*1\r\n$-1\r\n", "ERR Protocol error: invalid bulk length", 0},
      {"*1\r\n$abc\r\n", "ERR Protocol error: invalid bulk length", 0},
      {"*1\r\n$04\r\nPING\r\n", "ERR Protocol error: invalid bulk length", 0},
      {"*1\r\n$ 4\r\nPING\r\n", "ERR Protocol error: invalid bulk length", 0},
      {"*1\r\n$536870913\r\n", "ERR Protocol error: invalid bulk length", 0},
      {"*1\r\n+PING\r\n", "ERR Protocol error: expected '$', got '+'", 0},
      {"*1\r\n:1\r\n", "ERR Protocol error: expected '$', got ':'", 0},
      {"*1\r\n*1\r\n", "ERR Protocol error: expected '$', got '*'", 0},
      {"PING\r\n\"abc\r\n", "ERR Protocol error: unbalanced quotes in request", 1},
      {"*1\r\n$4\r\nPING\r\n*x\r\n", "ERR Protocol error: invalid multibulk length", 1},
  };
  for (const ErrorCase& c : cases) {
    Outcome o = Parse(c.input);
    EXPECT_EQ(o.last, RequestParser::Result::kError) << c.input;
    EXPECT_EQ(o.error, c.error) << c.input;
    EXPECT_EQ(o.requests.size(), c.requests_before) << c.input;
  }
}

TEST(RespParser, LimitsApplyBeforeThePayloadArrives) {
  // The bulk header alone is enough to refuse: nothing of the 600 MB is sent.
  Outcome o = Parse("*1\r\n$600000000\r\n");
  EXPECT_EQ(o.error, "ERR Protocol error: invalid bulk length");
  ParserLimits small;
  small.max_bulk_len = 10;
  o = Parse("*1\r\n$11\r\n", small);
  EXPECT_EQ(o.error, "ERR Protocol error: invalid bulk length");
  o = Parse("*1\r\n$10\r\n0123456789\r\n", small);
  EXPECT_EQ(o.requests.size(), 1u);
  // The multibulk count is checked before any element is read.
  o = Parse("*2000000\r\n");
  EXPECT_EQ(o.error, "ERR Protocol error: invalid multibulk length");
  o = Parse("*1048576\r\n");
  EXPECT_EQ(o.last, RequestParser::Result::kNeedMore);
}

TEST(RespParser, TooLongLinesWithoutNewline) {
  std::string big(64 * 1024 + 1, 'a');
  EXPECT_EQ(Parse(big).error, "ERR Protocol error: too big inline request");
  EXPECT_EQ(Parse(std::string(size_t{64} * 1024, 'a')).last, RequestParser::Result::kNeedMore);
  EXPECT_EQ(Parse("*" + std::string(64 * 1024 + 1, '1')).error,
            "ERR Protocol error: too big mbulk count string");
  EXPECT_EQ(Parse("*1\r\n$" + std::string(64 * 1024 + 1, '1')).error,
            "ERR Protocol error: too big bulk count string");
  // A long inline line that did arrive whole is accepted, as in Redis.
  Outcome o = Parse("ECHO " + std::string(70000, 'x') + "\r\n");
  ASSERT_EQ(o.requests.size(), 1u);
}

TEST(RespParser, UnauthenticatedLimits) {
  EXPECT_EQ(Parse("*11\r\n", {}, true).error,
            "ERR Protocol error: unauthenticated multibulk length");
  EXPECT_EQ(Parse("*10\r\n$16385\r\n", {}, true).error,
            "ERR Protocol error: unauthenticated bulk length");
  EXPECT_EQ(Parse("*10\r\n$16384\r\n", {}, true).last, RequestParser::Result::kNeedMore);
  EXPECT_EQ(Parse("*11\r\n", {}, false).last, RequestParser::Result::kNeedMore);
}

TEST(RespParser, AuthStateIsReadPerRequest) {
  // The pull model: a request's headers are checked with the auth state in
  // force after the previous request ran.
  RequestParser p;
  p.set_auth_required(true);
  p.Feed("*2\r\n$4\r\nAUTH\r\n$1\r\np\r\n*11\r\n");
  Argv argv;
  ASSERT_EQ(p.Next(&argv), RequestParser::Result::kRequest);
  p.set_auth_required(false);  // AUTH succeeded
  EXPECT_EQ(p.Next(&argv), RequestParser::Result::kNeedMore);
}

TEST(RespParser, QueryBufferLimitClosesWithoutReply) {
  ParserLimits l;
  l.max_query_buffer = 1000;
  l.max_bulk_len = 1 << 20;
  RequestParser p(l);
  p.Feed("*1\r\n$5000\r\n");
  Argv argv;
  EXPECT_EQ(p.Next(&argv), RequestParser::Result::kNeedMore);
  p.Feed(std::string(999, 'x'));
  EXPECT_EQ(p.Next(&argv), RequestParser::Result::kError);
  EXPECT_EQ(p.error(), "");
}

TEST(RespParser, LargePayloadInChunks) {
  std::string value(3 * 1024 * 1024 + 7, 'v');
  std::string in = Multibulk({"SET", "k", value});
  std::vector<size_t> cuts;
  for (size_t i = 4096; i < in.size(); i += 65536)
    cuts.push_back(i);
  Outcome o = ParseSplit(in, cuts);
  ASSERT_EQ(o.requests.size(), 1u);
  EXPECT_EQ(o.requests[0][2], value);
}

// ---- ReplyBuilder ----

std::string Encode(int proto, const std::function<void(ReplyBuilder&)>& fn) {
  std::string out;
  ReplyBuilder rb(&out, proto);
  fn(rb);
  return out;
}

TEST(RespReply, Resp2AndResp3Encodings) {
  EXPECT_EQ(Encode(2, [](ReplyBuilder& r) { r.Ok(); }), "+OK\r\n");
  EXPECT_EQ(Encode(2, [](ReplyBuilder& r) { r.Error("ERR a\r\nb"); }), "-ERR a  b\r\n");
  EXPECT_EQ(Encode(2, [](ReplyBuilder& r) { r.Integer(-42); }), ":-42\r\n");
  EXPECT_EQ(Encode(2, [](ReplyBuilder& r) { r.Integer(INT64_MIN); }), ":-9223372036854775808\r\n");
  EXPECT_EQ(Encode(2, [](ReplyBuilder& r) { r.Bulk(""); }), "$0\r\n\r\n");
  EXPECT_EQ(Encode(2, [](ReplyBuilder& r) { r.Null(); }), "$-1\r\n");
  EXPECT_EQ(Encode(3, [](ReplyBuilder& r) { r.Null(); }), "_\r\n");
  EXPECT_EQ(Encode(2, [](ReplyBuilder& r) { r.NullArray(); }), "*-1\r\n");
  EXPECT_EQ(Encode(3, [](ReplyBuilder& r) { r.NullArray(); }), "_\r\n");
  EXPECT_EQ(Encode(2, [](ReplyBuilder& r) { r.MapHeader(2); }), "*4\r\n");
  EXPECT_EQ(Encode(3, [](ReplyBuilder& r) { r.MapHeader(2); }), "%2\r\n");
  EXPECT_EQ(Encode(2, [](ReplyBuilder& r) { r.SetHeader(3); }), "*3\r\n");
  EXPECT_EQ(Encode(3, [](ReplyBuilder& r) { r.SetHeader(3); }), "~3\r\n");
  EXPECT_EQ(Encode(2, [](ReplyBuilder& r) { r.Double(1.5); }), "$3\r\n1.5\r\n");
  EXPECT_EQ(Encode(3, [](ReplyBuilder& r) { r.Double(1.5); }), ",1.5\r\n");
  EXPECT_EQ(Encode(3, [](ReplyBuilder& r) { r.Double(1.0 / 0.0); }), ",inf\r\n");
  EXPECT_EQ(Encode(2, [](ReplyBuilder& r) { r.Bool(true); }), ":1\r\n");
  EXPECT_EQ(Encode(3, [](ReplyBuilder& r) { r.Bool(false); }), "#f\r\n");
  EXPECT_EQ(Encode(2, [](ReplyBuilder& r) { r.Verbatim("a:b"); }), "$3\r\na:b\r\n");
  EXPECT_EQ(Encode(3, [](ReplyBuilder& r) { r.Verbatim("a:b"); }), "=7\r\ntxt:a:b\r\n");
}

TEST(RespReply, Resp3ToResp2) {
  std::string out;
  ASSERT_TRUE(Resp3ToResp2("%1\r\n$1\r\na\r\n~2\r\n+x\r\n_\r\n", &out));
  EXPECT_EQ(out, "*2\r\n$1\r\na\r\n*2\r\n+x\r\n$-1\r\n");
  out.clear();
  ASSERT_TRUE(Resp3ToResp2("=8\r\ntxt:abcd\r\n#t\r\n,2.5\r\n", &out));
  EXPECT_EQ(out, "$4\r\nabcd\r\n:1\r\n$3\r\n2.5\r\n");
  out.clear();
  EXPECT_FALSE(Resp3ToResp2("*2\r\n:1\r\n", &out));
}

// ---- glob ----

TEST(RespGlob, RedisSemantics) {
  struct Case {
    std::string pattern, str;
    bool match;
  };
  const Case cases[] = {
      {"*", "anything", true},
      {"*", "", false},
      {"", "", true},
      {"h?llo", "hello", true},
      {"h?llo", "hllo", false},
      {"h*llo", "heeeello", true},
      {"h[ae]llo", "hallo", true},
      {"h[ae]llo", "hillo", false},
      {"h[^e]llo", "hallo", true},
      {"h[^e]llo", "hello", false},
      {"h[a-b]llo", "hbllo", true},
      {"h[b-a]llo", "hallo", true},
      {"h\\*llo", "h*llo", true},
      {"h\\*llo", "hello", false},
      {"a*b*c", "axxbyyc", true},
      {"a*b*c", "axxbyy", false},
      {"*a", "bba", true},
      {"k[", "k[", false},
      {"k[a", "ka", true},
      {"k\\", "k\\", true},
      {"[\\]]", "]", true},
      {"user:*:name", "user:42:name", true},
      {"a**", "a", true},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(GlobMatch(c.pattern, c.str), c.match) << c.pattern << " vs " << c.str;
  }
}

TEST(RespGlob, PathologicalPatternsStayBounded) {
  // CVE-2022-36021: exponential backtracking; CVE-2024-31228: deep recursion.
  std::string pattern;
  for (int i = 0; i < 5000; ++i)
    pattern += "*a";
  pattern += "b";
  std::string str(20000, 'a');
  EXPECT_FALSE(GlobMatch(pattern, str));  // returns promptly (work cap)
  std::string nested;
  for (int i = 0; i < 100000; ++i)
    nested += "a]";
  EXPECT_FALSE(GlobMatch("*" + nested + "*c", std::string(1000, 'a')));
  // A long character class costs its length on every step.
  std::string klass = "*[" + std::string(60000, 'x') + "]z";
  EXPECT_FALSE(GlobMatch(klass, std::string(100000, 'a')));
  // Patterns past the length cap match nothing.
  EXPECT_FALSE(GlobMatch(std::string(kGlobMaxPatternLen + 1, '*'), "a"));
  EXPECT_TRUE(GlobMatch(std::string(kGlobMaxPatternLen, '*'), "a"));
}

}  // namespace
}  // namespace phalanx::resp
