// The SWIM core's rules, one at a time, driven by hand: incarnations and
// refutation, update precedence, suspicion timeouts, foreign packets, leave,
// packet sizes and determinism.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "membership/codec.h"
#include "membership/simulator.h"
#include "membership/suspicion.h"
#include "membership/swim.h"

namespace phalanx::membership {
namespace {

Config MakeConfig(const std::string& id, uint64_t seed = 1) {
  Config c;
  c.meta = NodeMeta{id, id + ":6379", id + ":7379", "c1"};
  c.address = id + ":7946";
  c.seed = seed;
  return c;
}

std::unique_ptr<Swim> Make(const std::string& id) {
  return Swim::Create(MakeConfig(id)).value();
}

Update AliveOf(const std::string& id, uint64_t inc) {
  return Update{Update::Kind::kAlive, id, inc, id + ":7946", id + ":6379", id + ":7379", ""};
}
Update Of(Update::Kind kind, const std::string& id, uint64_t inc, const std::string& from = "z") {
  return Update{kind, id, inc, "", "", "", from};
}
Packet GossipFrom(const std::string& from, std::vector<Update> updates) {
  return Packet{PacketType::kGossip, "c1", from, 0, "", "", false, std::move(updates)};
}

TEST(SwimConfig, ValidateNamesTheProblem) {
  Config c = MakeConfig("a");
  EXPECT_TRUE(c.Validate().ok());
  c.meta.id.clear();
  EXPECT_EQ(c.Validate().message(), "meta.id must be set");
  c = MakeConfig("a");
  c.meta.cluster_id = std::string(300, 'x');
  EXPECT_EQ(c.Validate().message(), "meta.cluster_id exceeds 255 bytes");
  c = MakeConfig("a");
  c.probe_timeout_ticks = c.ticks_per_period;
  EXPECT_FALSE(c.Validate().ok());
  c = MakeConfig("a");
  c.max_packet_bytes = 100;
  EXPECT_FALSE(Swim::Create(c).ok());
}

TEST(SwimRules, AliveSuspectDeadPrecedence) {
  auto s = Make("a");
  s->Receive("b:7946", GossipFrom("b", {AliveOf("x", 1)}));
  EXPECT_EQ(s->Find("x")->state, State::kAlive);
  // Suspect at the same incarnation beats alive.
  s->Receive("b:7946", GossipFrom("b", {Of(Update::Kind::kSuspect, "x", 1)}));
  EXPECT_EQ(s->Find("x")->state, State::kSuspect);
  // Alive needs a strictly higher incarnation to clear it.
  s->Receive("b:7946", GossipFrom("b", {AliveOf("x", 1)}));
  EXPECT_EQ(s->Find("x")->state, State::kSuspect);
  s->Receive("b:7946", GossipFrom("b", {AliveOf("x", 2)}));
  EXPECT_EQ(s->Find("x")->state, State::kAlive);
  // Older news is ignored.
  s->Receive("b:7946", GossipFrom("b", {Of(Update::Kind::kSuspect, "x", 1)}));
  s->Receive("b:7946", GossipFrom("b", {Of(Update::Kind::kDead, "x", 1)}));
  EXPECT_EQ(s->Find("x")->state, State::kAlive);
  // Dead at the current incarnation wins, and only a higher alive revives.
  s->Receive("b:7946", GossipFrom("b", {Of(Update::Kind::kDead, "x", 2)}));
  EXPECT_EQ(s->Find("x")->state, State::kDead);
  s->Receive("b:7946", GossipFrom("b", {Of(Update::Kind::kSuspect, "x", 3)}));
  EXPECT_EQ(s->Find("x")->state, State::kDead);
  s->Receive("b:7946", GossipFrom("b", {AliveOf("x", 3)}));
  EXPECT_EQ(s->Find("x")->state, State::kAlive);
  // Left is its own state, not dead.
  s->Receive("b:7946", GossipFrom("b", {Of(Update::Kind::kLeft, "x", 4)}));
  EXPECT_EQ(s->Find("x")->state, State::kLeft);

  std::vector<Event::Kind> kinds;
  for (const Event& e : s->DrainEvents())
    kinds.push_back(e.kind);
  using K = Event::Kind;
  EXPECT_EQ(kinds,
            (std::vector<K>{K::kJoined, K::kSuspect, K::kAlive, K::kDead, K::kAlive, K::kLeft}));
  // Updates about unknown members other than alive teach nothing.
  s->Receive("b:7946", GossipFrom("b", {Of(Update::Kind::kDead, "ghost", 9)}));
  EXPECT_EQ(s->Find("ghost"), nullptr);
}

TEST(SwimRules, SuspectedMemberRefutesWithHigherIncarnation) {
  auto s = Make("a");
  EXPECT_EQ(s->self().incarnation, 0u);
  s->Receive("b:7946", GossipFrom("b", {AliveOf("b", 0), Of(Update::Kind::kSuspect, "a", 0)}));
  EXPECT_EQ(s->self().incarnation, 1u);
  EXPECT_EQ(s->self().state, State::kAlive);
  EXPECT_EQ(s->stats().refutations, 1u);
  // Lifeguard: being suspected counts against our own health.
  EXPECT_EQ(s->health(), 1);
  // The accuser hears the refutation at once, on a packet of its own.
  auto out = s->DrainOutbox();
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(out[0].to, "b:7946");
  bool refuted = false;
  for (const Update& u : out[0].packet.updates) {
    refuted |= u.kind == Update::Kind::kAlive && u.id == "a" && u.incarnation == 1;
  }
  EXPECT_TRUE(refuted);
  // An accusation about an older incarnation is already refuted.
  s->Receive("b:7946", GossipFrom("b", {Of(Update::Kind::kDead, "a", 0)}));
  EXPECT_EQ(s->self().incarnation, 1u);
  // A death at our incarnation (or above) is outbid.
  s->Receive("b:7946", GossipFrom("b", {Of(Update::Kind::kDead, "a", 5)}));
  EXPECT_EQ(s->self().incarnation, 6u);
  // A previous life's announcement with other addresses is outbid too.
  Update old = AliveOf("a", 6);
  old.address = "elsewhere:1";
  s->Receive("b:7946", GossipFrom("b", {old}));
  EXPECT_EQ(s->self().incarnation, 7u);
  // Our own announcement echoing back is not news.
  s->Receive("b:7946", GossipFrom("b", {AliveOf("a", 7)}));
  EXPECT_EQ(s->self().incarnation, 7u);
}

TEST(SwimRules, RestartedMemberComesBackAliveAboveItsOldIncarnation) {
  SimOptions o;
  o.members = 3;
  Simulator sim(o);
  ASSERT_TRUE(sim.RunUntil([&] { return sim.Converged(); }, 500));
  sim.Crash(2);
  ASSERT_TRUE(sim.RunUntil([&] { return sim.AllSee(2, State::kDead); }, 1000));
  const uint64_t dead_inc = *sim.IncarnationOf(0, 2);
  // A fresh process starts again at incarnation 0; it learns it was
  // declared dead and outbids that.
  sim.Restart(2, 0, /*seed=*/0);
  ASSERT_TRUE(sim.RunUntil([&] { return sim.Converged(); }, 1000));
  EXPECT_GT(*sim.IncarnationOf(0, 2), dead_inc);
  EXPECT_GT(*sim.IncarnationOf(1, 2), dead_inc);
}

TEST(SwimRules, SuspicionShrinksWithIndependentConfirmations) {
  // k = 2, min 40 ticks, max 240 ticks (memberlist's LAN shape at n ≤ 10).
  Suspicion s("a", 2, 40, 240, 1000);
  EXPECT_EQ(s.Deadline(), 1240u);
  EXPECT_FALSE(s.Confirm("a"));  // the originator is not a confirmation
  EXPECT_TRUE(s.Confirm("b"));
  EXPECT_FALSE(s.Confirm("b"));  // nor is the same member twice
  // 240 − 200·log(2)/log(3) = 113.8
  EXPECT_EQ(s.Timeout(), 113u);
  EXPECT_TRUE(s.Confirm("c"));
  EXPECT_EQ(s.Timeout(), 40u);
  EXPECT_FALSE(s.Confirm("d"));  // no shorter than min
  EXPECT_EQ(s.Deadline(), 1040u);
  Suspicion none("a", 0, 40, 240, 0);
  EXPECT_EQ(none.Timeout(), 40u);
}

TEST(SwimRules, SuspicionTimesOutIntoDeadAndCountsConfirmations) {
  auto s = Make("a");
  std::vector<Update> members;
  for (int i = 0; i < 9; ++i)
    members.push_back(AliveOf("m" + std::to_string(i), 0));
  s->Receive("m0:7946", GossipFrom("m0", members));
  ASSERT_EQ(s->live_count(), 10);
  // n = 10: min = 4 · log10(10) = 4 periods = 40 ticks, max = 6 × 40.
  EXPECT_EQ(s->SuspicionMinTicks(), 40u);
  EXPECT_EQ(s->SuspicionMaxTicks(), 240u);
  s->Receive("m0:7946", GossipFrom("m0", {Of(Update::Kind::kSuspect, "m5", 0, "m0")}));
  s->Receive("m1:7946", GossipFrom("m1", {Of(Update::Kind::kSuspect, "m5", 0, "m1")}));
  // One confirmation: 113 ticks. Meanwhile every probe `a` sends is
  // answered, so its own verdicts do not interfere.
  auto tick = [&] {
    s->Tick();
    for (const Outgoing& o : s->DrainOutbox()) {
      if (o.packet.type != PacketType::kPing) continue;
      s->Receive(
          o.to,
          Packet{PacketType::kAck, "c1", o.packet.target_id, o.packet.seq, "", "", false, {}});
    }
  };
  for (int t = 0; t < 112; ++t)
    tick();
  EXPECT_EQ(s->Find("m5")->state, State::kSuspect);
  tick();
  EXPECT_EQ(s->Find("m5")->state, State::kDead);
  EXPECT_EQ(s->Find("m4")->state, State::kAlive);
}

TEST(SwimRules, ForeignAndMisdirectedPacketsAreIgnored) {
  auto s = Make("a");
  Packet foreign = GossipFrom("b", {AliveOf("b", 0)});
  foreign.cluster_id = "other";
  s->Receive("b:7946", foreign);
  EXPECT_EQ(s->Find("b"), nullptr);
  EXPECT_EQ(s->stats().foreign_packets, 1u);
  // A ping for a previous owner of our address gets no ack.
  s->Receive("b:7946", Packet{PacketType::kPing, "c1", "b", 5, "not-a", "", false, {}});
  EXPECT_TRUE(s->DrainOutbox().empty());
  s->Receive("b:7946", Packet{PacketType::kPing, "c1", "b", 5, "a", "", false, {}});
  auto out = s->DrainOutbox();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].packet.type, PacketType::kAck);
  EXPECT_EQ(out[0].packet.seq, 5u);
  // Packets claiming to come from ourselves are ignored.
  s->Receive("b:7946", GossipFrom("a", {Of(Update::Kind::kDead, "a", 9)}));
  EXPECT_EQ(s->self().incarnation, 0u);
}

TEST(SwimRules, SuspectHintRidesOnProbesOfASuspect) {
  auto s = Make("a");
  s->Receive("b:7946", GossipFrom("b", {AliveOf("b", 0), Of(Update::Kind::kSuspect, "b", 0, "c")}));
  s->DrainOutbox();
  // Every packet to b now starts with "you are suspected", whatever the
  // broadcast queue holds, so a live b refutes on the spot.
  for (int t = 0; t < 30; ++t) {
    s->Tick();
    for (const Outgoing& o : s->DrainOutbox()) {
      if (o.to != "b:7946") continue;
      ASSERT_FALSE(o.packet.updates.empty());
      EXPECT_EQ(o.packet.updates[0].kind, Update::Kind::kSuspect);
      EXPECT_EQ(o.packet.updates[0].id, "b");
    }
  }
}

TEST(SwimRules, LeaveIsGossipedAsLeftNotDead) {
  SimOptions o;
  o.members = 5;
  Simulator sim(o);
  ASSERT_TRUE(sim.RunUntil([&] { return sim.Converged(); }, 500));
  int dead_events = 0;
  sim.on_event = [&](const SimEvent& e) { dead_events += e.event.kind == Event::Kind::kDead; };
  sim.Leave(3);
  ASSERT_TRUE(sim.RunUntil([&] { return sim.AllSee(3, State::kLeft); }, 100));
  sim.Crash(3);  // the process exits after leaving
  sim.RunPeriods(200);
  EXPECT_TRUE(sim.AllSee(3, State::kLeft));
  EXPECT_EQ(dead_events, 0);
  EXPECT_EQ(sim.member(0).live_count(), 4);
}

TEST(SwimRules, UpdatedMetadataReachesEveryone) {
  SimOptions o;
  o.members = 5;
  Simulator sim(o);
  ASSERT_TRUE(sim.RunUntil([&] { return sim.Converged(); }, 500));
  int updated = 0;
  sim.on_event = [&](const SimEvent& e) { updated += e.event.kind == Event::Kind::kUpdated; };
  NodeMeta meta = sim.member(2).self().meta;
  meta.resp_address = "10.9.9.9:6380";
  ASSERT_TRUE(sim.member(2).UpdateMeta(meta).ok());
  meta.id = "renamed";
  EXPECT_FALSE(sim.member(2).UpdateMeta(meta).ok());
  sim.RunPeriods(10);
  EXPECT_EQ(updated, 4);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(sim.member(i).Find(sim.id(2))->meta.resp_address, "10.9.9.9:6380");
  }
}

TEST(SwimRules, EveryPacketFitsInADatagram) {
  // A member that knows 300 others: push-pull is split into many packets,
  // piggybacking is cut to fit, nothing exceeds 1400 bytes.
  auto s = Make("a");
  std::vector<Update> batch;
  for (int i = 0; i < 300; ++i) {
    batch.push_back(AliveOf("member-with-a-longish-name-" + std::to_string(i), 0));
    if (batch.size() == 20) {
      s->Receive("b:7946", GossipFrom("b", batch));
      batch.clear();
    }
  }
  ASSERT_EQ(s->live_count(), 301);
  s->Receive("b:7946", Packet{PacketType::kPushPull, "c1", "b", 0, "", "", true, {}});
  auto out = s->DrainOutbox();
  ASSERT_GT(out.size(), 10u);
  size_t carried = 0;
  for (const Outgoing& o : out) {
    auto bytes = codec::Encode(o.packet);
    ASSERT_TRUE(bytes.ok());
    EXPECT_LE(bytes.value().size(), 1400u);
    if (o.packet.type == PacketType::kPushPull) carried += o.packet.updates.size();
  }
  EXPECT_EQ(carried, 301u);  // the whole state, ourselves included
  for (int t = 0; t < 50; ++t) {
    s->Tick();
    for (const Outgoing& o : s->DrainOutbox()) {
      EXPECT_LE(codec::EncodedSize(o.packet), 1400u);
    }
  }
}

TEST(SwimRules, SameSeedSameRun) {
  auto run = [](uint64_t seed) {
    SimOptions o;
    o.members = 12;
    o.seed = seed;
    o.loss = 0.1;
    o.max_delay_ticks = 3;
    Simulator sim(o);
    std::string trace;
    sim.on_event = [&](const SimEvent& e) {
      trace += std::to_string(e.tick) + ":" + std::to_string(e.observer) + ":" +
               EventKindName(e.event.kind) + ":" + e.event.member.meta.id + ":" +
               std::to_string(e.event.member.incarnation) + "\n";
    };
    sim.RunPeriods(100);
    sim.Crash(4);
    sim.RunPeriods(100);
    return trace + std::to_string(sim.counters().bytes_sent);
  };
  EXPECT_EQ(run(5), run(5));
  EXPECT_NE(run(5), run(6));
}

}  // namespace
}  // namespace phalanx::membership
