// The UDP driver on loopback: three drivers on free ports find each other
// through one seed, see a stopped one go dead and a leaving one leave, and
// count (and survive) malformed and foreign datagrams. Every wait is bounded.
#include "membership/udp_driver.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <thread>

#include "membership/codec.h"
#include "tests/support/test_util.h"

namespace phalanx::membership {
namespace {

using namespace std::chrono_literals;

// A short period keeps the test quick: 100 ms periods, 10 ms ticks.
constexpr auto kPeriod = 100ms;
constexpr auto kWait = 15s;  // far above the few periods each step needs

UdpDriverOptions Options(const std::string& id, std::vector<std::string> seeds) {
  UdpDriverOptions o;
  o.listen = "127.0.0.1:0";
  o.seeds = std::move(seeds);
  o.period = kPeriod;
  o.config.meta = NodeMeta{id, "127.0.0.1:6379", "127.0.0.1:7379", "test-cluster"};
  o.config.seed = std::hash<std::string>{}(id);
  return o;
}

bool WaitFor(const std::function<bool()>& done) {
  return test_support::Eventually(done, kWait, 10ms);
}

std::optional<State> StateIn(const UdpDriver& d, const std::string& id) {
  for (const Member& m : d.Members()) {
    if (m.meta.id == id) return m.state;
  }
  return std::nullopt;
}

bool SeesAllAlive(const UdpDriver& d, size_t n) {
  auto members = d.Members();
  return members.size() == n && std::all_of(members.begin(), members.end(), [](const Member& m) {
           return m.state == State::kAlive;
         });
}

void SendRaw(const std::string& to, const std::string& bytes) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  size_t colon = to.rfind(':');
  sa.sin_port = htons(static_cast<uint16_t>(std::stoi(to.substr(colon + 1))));
  inet_pton(AF_INET, to.substr(0, colon).c_str(), &sa.sin_addr);
  sendto(fd, bytes.data(), bytes.size(), 0, reinterpret_cast<sockaddr*>(&sa), sizeof(sa));
  close(fd);
}

TEST(UdpDriver, ThreeMembersJoinThroughOneSeedAndSeeAStoppedOneDead) {
  std::atomic<int> joined_events{0};
  auto o1 = Options("n1", {});
  o1.on_event = [&](const Event& e) { joined_events += e.kind == Event::Kind::kJoined; };
  auto d1 = UdpDriver::Start(o1);
  ASSERT_TRUE(d1.ok()) << d1.status().message();
  const std::string seed = d1.value()->address();
  auto d2 = UdpDriver::Start(Options("n2", {seed}));
  auto d3 = UdpDriver::Start(Options("n3", {seed}));
  ASSERT_TRUE(d2.ok() && d3.ok());

  ASSERT_TRUE(WaitFor([&] {
    return SeesAllAlive(*d1.value(), 3) && SeesAllAlive(*d2.value(), 3) &&
           SeesAllAlive(*d3.value(), 3);
  })) << "members did not find each other";
  EXPECT_EQ(joined_events.load(), 2);
  for (const Member& m : d2.value()->Members()) {
    EXPECT_EQ(m.meta.cluster_id, "test-cluster");
    EXPECT_EQ(m.address.rfind("127.0.0.1:", 0), 0u) << m.address;
  }

  // n3 stops without leaving: the others must find it dead.
  d3.value()->Stop();
  ASSERT_TRUE(WaitFor([&] {
    return StateIn(*d1.value(), "n3") == State::kDead && StateIn(*d2.value(), "n3") == State::kDead;
  })) << "a stopped member was not declared dead";
  EXPECT_EQ(StateIn(*d1.value(), "n2"), State::kAlive);

  // n2 leaves gracefully: left, not dead.
  d2.value()->Leave();
  ASSERT_TRUE(WaitFor([&] { return StateIn(*d1.value(), "n2") == State::kLeft; }));
  d2.value()->Stop();
  d1.value()->Stop();
  d1.value()->Stop();  // idempotent
}

TEST(UdpDriver, CountsAndDropsMalformedAndForeignDatagrams) {
  auto d = UdpDriver::Start(Options("n1", {}));
  ASSERT_TRUE(d.ok());
  SendRaw(d.value()->address(), "hello, not a packet");
  SendRaw(d.value()->address(), std::string("SW\x01\x03\xff", 5));
  Packet foreign{PacketType::kPing, "other-cluster", "x", 1, "n1", "", false, {}};
  SendRaw(d.value()->address(), codec::Encode(foreign).value());
  ASSERT_TRUE(WaitFor([&] {
    auto c = d.value()->counters();
    return c.malformed == 2 && c.foreign == 1;
  }));
  EXPECT_EQ(d.value()->Members().size(), 1u);
  EXPECT_EQ(d.value()->counters().sent, 0u);  // nothing answered
}

TEST(UdpDriver, RejectsBadAddresses) {
  auto o = Options("n1", {});
  o.listen = "not-an-address";
  EXPECT_FALSE(UdpDriver::Start(o).ok());
  o.listen = "127.0.0.1:99999";
  EXPECT_FALSE(UdpDriver::Start(o).ok());
  o.listen = "0.0.0.0:0";
  EXPECT_FALSE(UdpDriver::Start(o).ok());  // needs an advertise address
  o = Options("", {});
  EXPECT_FALSE(UdpDriver::Start(o).ok());  // the core's config is validated too
}

// A node joining through seeds does not know its cluster id: under the
// discovery id it learns it from a seed's answer, and is never admitted as a
// member (the seed keeps ignoring the foreign cluster).
TEST(UdpDriverTest, DiscoveringMemberLearnsTheClusterIdAndStaysOutside) {
  auto seed = UdpDriver::Start(Options("a", {}));
  ASSERT_TRUE(seed.ok()) << seed.status().message();
  auto opt = Options("joiner", {seed.value()->address()});
  opt.config.meta.cluster_id = kDiscoveryClusterId;
  auto joiner = UdpDriver::Start(std::move(opt));
  ASSERT_TRUE(joiner.ok()) << joiner.status().message();
  ASSERT_TRUE(WaitFor([&] { return !joiner.value()->DiscoveredClusterId().empty(); }));
  EXPECT_EQ(joiner.value()->DiscoveredClusterId(), "test-cluster");
  EXPECT_GE(seed.value()->counters().discovery_replies, 1u);
  EXPECT_EQ(seed.value()->Members().size(), 1u);
  EXPECT_EQ(joiner.value()->Members().size(), 1u);
}

}  // namespace
}  // namespace phalanx::membership
