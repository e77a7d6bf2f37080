// util/: Redis's string2ll byte for byte, the published FNV-1a and splitmix64
// sequences, WriteFileDurably's contract, and the Status/Result mechanism.
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "phalanx/version.h"
#include "tests/support/test_util.h"
#include "util/fnv1a.h"
#include "util/splitmix64.h"
#include "util/status.h"
#include "util/string2ll.h"
#include "util/write_file_durably.h"

namespace phalanx::util {
namespace {

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(String2ll, AcceptsWhatRedisAccepts) {
  int64_t v = 7;
  EXPECT_TRUE(StringToInt64("0", &v));
  EXPECT_EQ(v, 0);
  EXPECT_TRUE(StringToInt64("-1", &v));
  EXPECT_EQ(v, -1);
  EXPECT_TRUE(StringToInt64("12345", &v));
  EXPECT_EQ(v, 12345);
  EXPECT_TRUE(StringToInt64("9223372036854775807", &v));
  EXPECT_EQ(v, INT64_MAX);
  EXPECT_TRUE(StringToInt64("-9223372036854775808", &v));
  EXPECT_EQ(v, INT64_MIN);
}

TEST(String2ll, RefusesWhatRedisRefusesAndLeavesTheOutputAlone) {
  for (const char* bad :
       {"", "-", "-0", "01", "+1", " 1", "1 ", "1a", "9223372036854775808", "-9223372036854775809",
        "18446744073709551616", "99999999999999999999", "1.0", "0x10", "000000000000000000001"}) {
    int64_t v = 42;
    EXPECT_FALSE(StringToInt64(bad, &v)) << bad;
    EXPECT_EQ(v, 42) << bad;
  }
  int64_t v = 42;
  EXPECT_FALSE(StringToInt64(std::string_view("1\0", 2), &v));  // an embedded NUL
}

TEST(Fnv1a, MatchesThePublishedVectors) {
  EXPECT_EQ(Fnv1a64(""), 0xcbf29ce484222325ull);
  EXPECT_EQ(Fnv1a64("a"), 0xaf63dc4c8601ec8cull);
  EXPECT_EQ(Fnv1a64("foobar"), 0x85944171f73967e8ull);
  EXPECT_EQ(Fnv1a64(std::string_view("\xff", 1)), (0xcbf29ce484222325ull ^ 0xff) * kFnv1aPrime);
}

TEST(SplitMix64, MatchesTheReferenceSequence) {
  SplitMix64 g(0);
  EXPECT_EQ(g.Next(), 0xe220a8397b1dcdafull);
  EXPECT_EQ(g.Next(), 0x6e789e6aa1b965f4ull);
  EXPECT_EQ(g.Next(), 0x06c45d188009454full);
}

TEST(SplitMix64, SameSeedSameStreamAndBelowStaysBelow) {
  SplitMix64 a(12345), b(12345);
  for (int i = 0; i < 1000; ++i) {
    uint64_t x = a.Below(7);
    EXPECT_EQ(x, b.Below(7));
    EXPECT_LT(x, 7u);
  }
  EXPECT_EQ(a.Below(0), 0u);
}

TEST(WriteFileDurably, CreatesThenReplacesAndLeavesNoTemporary) {
  test_support::TempDir dir("phalanx-util");
  const std::string path = dir.Sub("cluster");
  ASSERT_TRUE(WriteFileDurably(path, "one\n").ok());
  EXPECT_EQ(Slurp(path), "one\n");
  std::string big(1 << 20, 'x');
  ASSERT_TRUE(WriteFileDurably(path, big).ok());
  EXPECT_EQ(Slurp(path), big);
  ASSERT_TRUE(WriteFileDurably(path, "").ok());
  EXPECT_EQ(Slurp(path), "");
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
}

TEST(WriteFileDurably, ReportsTheFailedStepAndKeepsTheOldContent) {
  test_support::TempDir dir("phalanx-util");
  FileStatus st = WriteFileDurably(dir.Sub("missing/cluster"), "x");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.message().rfind("create " + dir.Sub("missing/cluster.tmp") + ": ", 0), 0u)
      << st.message();

  // A directory where the file should go: the rename fails, nothing changes.
  const std::string path = dir.Sub("taken");
  std::filesystem::create_directories(path + "/child");
  st = WriteFileDurably(path, "x");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.message().rfind("rename " + path + ".tmp: ", 0), 0u) << st.message();
  EXPECT_TRUE(std::filesystem::is_directory(path + "/child"));
}

enum class TestCode : uint8_t { kOk = 0, kNotFound, kBroken };
class TestStatus : public StatusBase<TestStatus, TestCode> {
 public:
  TestStatus() = default;
  static TestStatus NotFound(std::string m) { return Error(Code::kNotFound, std::move(m)); }
};

TEST(Status, CarriesTheModulesCodeAndMessage) {
  EXPECT_TRUE(TestStatus::Ok().ok());
  EXPECT_EQ(TestStatus().code(), TestCode::kOk);
  TestStatus s = TestStatus::NotFound("no such key");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), TestStatus::Code::kNotFound);
  EXPECT_EQ(s.message(), "no such key");
  EXPECT_EQ(TestStatus::Error(TestCode::kBroken, "x").code(), TestCode::kBroken);
}

TEST(Status, MessageStatusNamesEveryFailure) {
  struct Tag {};
  using S = MessageStatus<Tag>;
  EXPECT_TRUE(S::Ok().ok());
  EXPECT_EQ(S::Ok().message(), "");
  EXPECT_FALSE(S::Error("bad seed").ok());
  EXPECT_EQ(S::Error("bad seed").message(), "bad seed");
  EXPECT_FALSE(S::Error("").ok());
  EXPECT_EQ(S::Error("").message(), "error");
}

TEST(Result, HoldsAValueOrTheStatus) {
  Result<std::string, TestStatus> good(std::string("v"));
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(good.value(), "v");
  EXPECT_TRUE(good.status().ok());
  EXPECT_EQ(std::move(good).value(), "v");

  Result<std::string, TestStatus> bad(TestStatus::NotFound("gone"));
  EXPECT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), TestCode::kNotFound);
  EXPECT_EQ(bad.status().message(), "gone");
}

TEST(Version, IsTheProjectsMajorMinorPatch) {
  int parts = 0;
  for (std::string_view rest = kPhalanxVersion; !rest.empty(); ++parts) {
    size_t dot = rest.find('.');
    int64_t n = -1;
    EXPECT_TRUE(StringToInt64(rest.substr(0, dot), &n)) << kPhalanxVersion;
    rest = dot == std::string_view::npos ? std::string_view() : rest.substr(dot + 1);
  }
  EXPECT_EQ(parts, 3) << kPhalanxVersion;
}

}  // namespace
}  // namespace phalanx::util
