// Opening a damaged store: a missing or corrupt file gives one error naming
// it, and the open changes nothing on disk (no repair, no re-creation).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "test_util.h"

namespace phalanx::storage {
namespace {

namespace fs = std::filesystem;
using testing::MakeEntries;
using testing::MakeEntry;
using testing::OpenOrDie;
using testing::TempDir;
using testing::TestOptions;

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Every file's bytes, except the lock file WiredTiger rewrites on any open.
std::map<std::string, std::string> Contents(const std::string& dir) {
  std::map<std::string, std::string> out;
  for (const auto& de : fs::directory_iterator(dir)) {
    std::string name = de.path().filename().string();
    if (name == "WiredTiger.lock") continue;
    out[name] = ReadFile(de.path());
  }
  return out;
}

// A store with a log, applied data and a snapshot, cleanly closed.
void MakeStore(const std::string& dir) {
  auto s = OpenOrDie(TestOptions(dir));
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->log().Save(consensus::HardState{1, 1, 50}, MakeEntries(1, 51, 1, 100)).ok());
  std::vector<consensus::Entry> batch;
  for (uint64_t i = 1; i <= 50; ++i) {
    batch.push_back(MakeEntry(i, 1, Command::Set("k" + std::to_string(i), "v", 0).Encode()));
  }
  ASSERT_TRUE(s->kv().Apply(batch, std::nullopt).ok());
}

// Names of files added, removed or changed between two Contents().
std::vector<std::string> Changed(const std::map<std::string, std::string>& a,
                                 const std::map<std::string, std::string>& b) {
  std::vector<std::string> out;
  for (const auto& [name, bytes] : a) {
    auto it = b.find(name);
    if (it == b.end() || it->second != bytes) out.push_back(name);
  }
  for (const auto& [name, bytes] : b) {
    if (a.count(name) == 0) out.push_back(name);
  }
  return out;
}

// Opens, expects failure with `code` and a message naming `file`, and checks
// nothing on disk changed.
void ExpectRefused(const std::string& dir, Status::Code code, const std::string& file) {
  auto before = Contents(dir);
  auto s = Store::Open(TestOptions(dir));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), code) << s.status().ToString();
  EXPECT_NE(s.status().message().find(file), std::string::npos) << s.status().ToString();
  std::printf("refused as expected: %s\n", s.status().ToString().c_str());
  EXPECT_EQ(Changed(before, Contents(dir)), std::vector<std::string>{})
      << "a failed open changed files";
}

class OpenError : public ::testing::Test {
 protected:
  void SetUp() override { MakeStore(dir_.path()); }
  std::string File(const std::string& name) const { return dir_.Sub(name); }
  TempDir dir_;
};

TEST_F(OpenError, HealthyStoreOpens) {
  auto before = Contents(dir_.path());
  auto s = OpenOrDie(TestOptions(dir_.path()));
  ASSERT_TRUE(s);
  EXPECT_EQ(s->log().LastIndex(), 50u);
  EXPECT_EQ(s->kv().applied_index(), 50u);
}

TEST_F(OpenError, MissingLogTable) {
  fs::remove(File("raft_log.wt"));
  ExpectRefused(dir_.path(), Status::Code::kCorruption, File("raft_log.wt"));
}

TEST_F(OpenError, MissingKvTable) {
  fs::remove(File("kv_1.wt"));
  ExpectRefused(dir_.path(), Status::Code::kCorruption, File("kv_1.wt"));
}

TEST_F(OpenError, MissingWiredTigerMetadata) {
  fs::remove(File("WiredTiger.wt"));
  ExpectRefused(dir_.path(), Status::Code::kCorruption, File("WiredTiger.wt"));
}

TEST_F(OpenError, MissingLogFiles) {
  for (const auto& de : fs::directory_iterator(dir_.path())) {
    if (de.path().filename().string().rfind("WiredTigerLog.", 0) == 0) fs::remove(de.path());
  }
  ExpectRefused(dir_.path(), Status::Code::kCorruption, "WiredTigerLog");
}

TEST_F(OpenError, MissingMarker) {
  fs::remove(File("PHALANX_STORE"));
  ExpectRefused(dir_.path(), Status::Code::kCorruption, File("PHALANX_STORE"));
}

TEST_F(OpenError, GarbageMarker) {
  std::ofstream(File("PHALANX_STORE")) << "something else\n";
  ExpectRefused(dir_.path(), Status::Code::kCorruption, File("PHALANX_STORE"));
}

TEST_F(OpenError, CorruptLogTable) {
  // Overwrite everything after the file's first block: every page fails its
  // checksum.
  std::string bytes = ReadFile(File("raft_log.wt"));
  ASSERT_GT(bytes.size(), 4096u);
  for (size_t i = 4096; i < bytes.size(); ++i)
    bytes[i] = static_cast<char>(0xa5 ^ (i & 0xff));
  std::ofstream(File("raft_log.wt"), std::ios::binary | std::ios::trunc) << bytes;
  ExpectRefused(dir_.path(), Status::Code::kCorruption, "raft_log.wt");
}

TEST_F(OpenError, CorruptKvTableHeader) {
  std::string bytes = ReadFile(File("kv_1.wt"));
  for (size_t i = 0; i < std::min<size_t>(bytes.size(), 512); ++i)
    bytes[i] = 'Z';
  std::ofstream(File("kv_1.wt"), std::ios::binary | std::ios::trunc) << bytes;
  ExpectRefused(dir_.path(), Status::Code::kCorruption, "kv_1.wt");
}

TEST_F(OpenError, CorruptTurtle) {
  std::ofstream(File("WiredTiger.turtle"), std::ios::trunc) << "not a turtle\n";
  auto before = Contents(dir_.path());
  auto s = Store::Open(TestOptions(dir_.path()));
  ASSERT_FALSE(s.ok());
  std::printf("refused as expected: %s\n", s.status().ToString().c_str());
  EXPECT_NE(s.status().message().find("WiredTiger"), std::string::npos);
  EXPECT_EQ(Changed(before, Contents(dir_.path())), std::vector<std::string>{});
}

TEST(EngineOpenArgs, RefusesBadDirectories) {
  TempDir dir;
  Options o = TestOptions(dir.Sub("missing"));
  o.create_if_missing = false;
  EXPECT_EQ(Store::Open(o).status().code(), Status::Code::kNotFound);
  std::ofstream(dir.Sub("file")) << "x";
  EXPECT_EQ(Store::Open(TestOptions(dir.Sub("file"))).status().code(),
            Status::Code::kInvalidArgument);
  EXPECT_EQ(Store::Open(TestOptions("")).status().code(), Status::Code::kInvalidArgument);
  // Nested directories are created.
  auto s = Store::Open(TestOptions(dir.Sub("a/b/c")));
  EXPECT_TRUE(s.ok()) << s.status().ToString();
}

}  // namespace
}  // namespace phalanx::storage
