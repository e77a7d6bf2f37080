// The plain types' contracts: Payload shares bytes instead of copying them,
// and compares by content.
#include "consensus/types.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace phalanx::consensus {
namespace {

TEST(Payload, CopiesShareOneBuffer) {
  Payload a(std::string(1000, 'x'));
  Payload b = a;
  Entry e{1, 2, EntryType::kNormal, a};
  Entry f = e;
  EXPECT_EQ(a.data(), b.data());
  EXPECT_EQ(a.data(), f.data.data());
  EXPECT_EQ(f.data.size(), 1000u);
}

TEST(Payload, ComparesByContent) {
  Payload a("abc");
  Payload b(std::string("abc"));
  EXPECT_NE(a.data(), b.data());
  EXPECT_EQ(a, b);
  EXPECT_EQ(a, "abc");
  EXPECT_EQ(a, std::string("abc"));
  EXPECT_EQ(a, std::string_view("abc"));
  EXPECT_FALSE(a == "abd");
  EXPECT_EQ(a.str(), "abc");
}

TEST(Payload, EmptyIsEmptyHoweverMade) {
  Payload none;
  Payload from_empty(std::string{});
  EXPECT_TRUE(none.empty());
  EXPECT_TRUE(from_empty.empty());
  EXPECT_EQ(none, from_empty);
  EXPECT_EQ(none.str(), "");
  EXPECT_NE(none.data(), nullptr);
}

TEST(Payload, CopiesMayLiveOnOtherThreads) {
  Payload shared(std::string(64, 'y'));
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([shared] {
      for (int i = 0; i < 10000; ++i) {
        Payload copy = shared;
        ASSERT_EQ(copy.size(), 64u);
      }
    });
  }
  for (auto& th : threads)
    th.join();
  EXPECT_EQ(shared, std::string(64, 'y'));
}

}  // namespace
}  // namespace phalanx::consensus
