#include "progress.hpp"

#include <gtest/gtest.h>

#include <sstream>

namespace gabe::gabectl {
namespace {

using namespace std::chrono_literals;

// A clock the test moves by hand.
struct FakeClock {
  std::chrono::steady_clock::time_point now{};
  Progress::Clock fn() {
    return [this] { return now; };
  }
};

TEST(Progress, FormatsCountRateShareAndTimeLeft) {
  EXPECT_EQ(group_thousands(0), "0");
  EXPECT_EQ(group_thousands(999), "999");
  EXPECT_EQ(group_thousands(1234567), "1,234,567");
  EXPECT_EQ(Progress::format(120000, "lines", 10, 250, 1000),
            "120,000 lines  12,000 lines/s  25%  0:30 left");
  EXPECT_EQ(Progress::format(5000, "events", 3725, 1000, 1000),
            "5,000 events  1 events/s  100%  1:02:05");
  // Without a total: the time so far instead of a share.
  EXPECT_EQ(Progress::format(1500, "lines", 75, 0, 0), "1,500 lines  20 lines/s  1:15");
  EXPECT_EQ(Progress::format(0, "lines", 0, 0, 100), "0 lines  0%");
}

TEST(Progress, WritesNothingWhenNotOnATerminal) {
  std::ostringstream out;
  FakeClock clock;
  Progress p(out, false, "lines", 100, clock.fn());
  for (int i = 1; i <= 100; ++i) {
    clock.now += 1s;
    p.update(static_cast<std::uint64_t>(i), static_cast<std::uint64_t>(i));
  }
  p.finish();
  EXPECT_EQ(out.str(), "");
}

TEST(Progress, RewritesOneLineAtMostFourTimesASecond) {
  std::ostringstream out;
  FakeClock clock;
  Progress p(out, true, "lines", 1000, clock.fn());
  clock.now += 100ms;
  p.update(10, 100);
  EXPECT_EQ(out.str(), "") << "drawn before a quarter second passed";
  clock.now += 150ms;
  p.update(5000, 250);  // 0.25 s
  EXPECT_EQ(out.str(), "\r5,000 lines  20,000 lines/s  25%  0:01 left");
  out.str("");
  clock.now += 100ms;
  p.update(6000, 300);
  EXPECT_EQ(out.str(), "") << "drawn again within a quarter second";
  clock.now += 150ms;
  p.update(800, 500);  // 0.5 s: a shorter line, padded over the longer one
  EXPECT_EQ(out.str(), "\r800 lines  1,600 lines/s  50%  0:01 left   ");
  out.str("");
  clock.now += 500ms;
  p.update(9000, 1000);
  out.str("");
  p.finish();
  EXPECT_EQ(out.str(), "\r9,000 lines  9,000 lines/s  100%  0:01\n");
}

TEST(Progress, AShortCommandPrintsNothing) {
  std::ostringstream out;
  FakeClock clock;
  Progress p(out, true, "events", 0, clock.fn());
  clock.now += 200ms;
  p.update(100);
  p.finish();
  EXPECT_EQ(out.str(), "");
}

}  // namespace
}  // namespace gabe::gabectl
