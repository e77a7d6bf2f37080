// The TOML contract of DESIGN.md: the documented keys parse, defaults apply,
// and every kind of mistake is one clear line naming the key.
#include "engine/node/node_config.h"

#include <gtest/gtest.h>

namespace phalanx::node {
namespace {

std::string ErrorFor(const std::string& text) {
  std::string error;
  auto c = ParseNodeConfig(text, "t.toml", &error);
  EXPECT_FALSE(c.has_value()) << text;
  return error;
}

TEST(NodeConfig, ParsesTheDesignDocumentExample) {
  std::string error;
  auto c = ParseNodeConfig(R"(
[node]
id = "n1"
data_dir = "data/n1"
[resp]
listen = "127.0.0.1:6379"
[raft]
listen = "127.0.0.1:7379"
initial_cluster = ["n1=127.0.0.1:7379", "n2=127.0.0.1:7380", "n3=127.0.0.1:7381"]
[membership]
listen = "127.0.0.1:7946"
seeds = []
)",
                           "t.toml", &error);
  ASSERT_TRUE(c.has_value()) << error;
  EXPECT_EQ(c->node.id, "n1");
  EXPECT_EQ(c->node.data_dir, "data/n1");
  EXPECT_EQ(c->resp.listen, (HostPort{"127.0.0.1", 6379}));
  ASSERT_EQ(c->raft.initial_cluster.size(), 3u);
  EXPECT_EQ(c->raft.initial_cluster[2], (PeerSpec{"n3", {"127.0.0.1", 7381}}));
  EXPECT_TRUE(c->membership.seeds.empty());
}

TEST(NodeConfig, DefaultsApplyWhenKeysAreAbsent) {
  std::string error;
  auto c = ParseNodeConfig("[node]\nid = \"solo\"\n", "t.toml", &error);
  ASSERT_TRUE(c.has_value()) << error;
  EXPECT_EQ(c->node.data_dir, "data/solo");
  EXPECT_TRUE(c->raft.initial_cluster.empty());  // single-node cluster
  EXPECT_EQ(c->raft.request_timeout_ms, 5000);
  EXPECT_EQ(c->raft.read_mode, "readindex");
  EXPECT_EQ(c->resp.maxclients, 10000);
  EXPECT_EQ(c->resp.proto_max_bulk_len, 512ull * 1024 * 1024);
}

TEST(NodeConfig, UnknownKeyIsNamed) {
  EXPECT_EQ(ErrorFor("[node]\nid = \"n1\"\n[raft]\ntick_mss = 5\n"),
            "t.toml: unknown key 'raft.tick_mss'");
  EXPECT_EQ(ErrorFor("[node]\nid = \"n1\"\n[rafts]\n"), "t.toml: unknown section [rafts]");
}

TEST(NodeConfig, WrongTypeIsNamed) {
  EXPECT_EQ(ErrorFor("[node]\nid = \"n1\"\n[raft]\ntick_ms = \"100\"\n"),
            "t.toml: raft.tick_ms: expected an integer, got a string");
}

TEST(NodeConfig, BadAddressIsNamed) {
  EXPECT_EQ(ErrorFor("[node]\nid = \"n1\"\n[resp]\nlisten = \"127.0.0.1:99999\"\n"),
            "t.toml: resp.listen: bad address '127.0.0.1:99999' (expected host:port with port "
            "1-65535)");
  EXPECT_NE(ErrorFor("[node]\nid = \"n1\"\n[raft]\ninitial_cluster = [\"n1\"]\n")
                .find("raft.initial_cluster: bad entry 'n1'"),
            std::string::npos);
}

TEST(NodeConfig, ClusterMustNameThisNodeOnce) {
  EXPECT_NE(ErrorFor("[node]\nid = \"n9\"\n[raft]\ninitial_cluster = [\"n1=127.0.0.1:7379\"]\n")
                .find("does not name this node"),
            std::string::npos);
  EXPECT_NE(ErrorFor("[node]\nid = \"n1\"\n[raft]\ninitial_cluster = [\"n1=127.0.0.1:7379\", "
                     "\"n1=127.0.0.1:7380\"]\n")
                .find("appears twice"),
            std::string::npos);
}

TEST(NodeConfig, LeaseReadsNeedCheckQuorum) {
  EXPECT_NE(ErrorFor("[node]\nid = \"n1\"\n[raft]\nread_mode = \"lease\"\ncheck_quorum = false\n")
                .find("needs raft.check_quorum"),
            std::string::npos);
}

TEST(NodeConfig, SyntaxErrorHasLineAndColumn) {
  std::string e = ErrorFor("[node]\nid = \n");
  EXPECT_EQ(e.rfind("t.toml:2:", 0), 0u) << e;
}

TEST(NodeConfig, MissingIdAndMissingFile) {
  EXPECT_EQ(ErrorFor("[raft]\n"), "t.toml: node.id is required");
  std::string error;
  EXPECT_FALSE(LoadNodeConfig("/nonexistent/phalanx.toml", &error).has_value());
  EXPECT_EQ(error, "/nonexistent/phalanx.toml: cannot open config file");
}

TEST(NodeConfig, HostPortParsing) {
  EXPECT_EQ(ParseHostPort("localhost:1"), (HostPort{"localhost", 1}));
  EXPECT_EQ(ParseHostPort("[::1]:6379"), (HostPort{"::1", 6379}));
  EXPECT_FALSE(ParseHostPort("6379").has_value());
  EXPECT_FALSE(ParseHostPort(":6379").has_value());
  EXPECT_FALSE(ParseHostPort("h:0").has_value());
  EXPECT_FALSE(ParseHostPort("h:12a").has_value());
}

}  // namespace
}  // namespace phalanx::node

namespace phalanx::node {
namespace {

// Every example in conf/ must load: users copy them.
TEST(NodeConfig, ShippedExamplesLoad) {
  const std::string dir = PHALANX_SOURCE_DIR "/conf/";
  for (const char* name : {"single.toml", "cluster3-n1.toml", "cluster3-n2.toml",
                           "cluster3-n3.toml", "cluster5-n1.toml", "cluster5-n2.toml",
                           "cluster5-n3.toml", "cluster5-n4.toml", "cluster5-n5.toml"}) {
    std::string error;
    auto c = LoadNodeConfig(dir + name, &error);
    EXPECT_TRUE(c.has_value()) << name << ": " << error;
  }
}

}  // namespace
}  // namespace phalanx::node
