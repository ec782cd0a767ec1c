// Europe/Berlin's wall clock (shared/src/berlin.cpp): offsets in winter and summer, both
// readings of the skipped and the repeated hour, the transitions, and today's date against
// glibc's own zone data.
#include "gabe/berlin.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <ctime>

namespace gabe::berlin {
namespace {

constexpr std::int64_t kWinterNoon = 1768478400;    // 2026-01-15 12:00 UTC
constexpr std::int64_t kSummerNoon = 1784116800;    // 2026-07-15 12:00 UTC
constexpr std::int64_t kSpringChange = 1774746000;  // 2026-03-29 01:00 UTC: 02:00 -> 03:00
constexpr std::int64_t kAutumnChange = 1792890000;  // 2026-10-25 01:00 UTC: 03:00 -> 02:00
constexpr std::int64_t kSpring0230 = 1774751400;    // wall 2026-03-29 02:30 (does not exist)
constexpr std::int64_t kAutumn0230 = 1792895400;    // wall 2026-10-25 02:30 (exists twice)

TEST(Berlin, OffsetIsOneHourInWinterAndTwoInSummer) {
  EXPECT_EQ(offset_at(kWinterNoon), 3600);
  EXPECT_EQ(offset_at(kSummerNoon), 7200);
  EXPECT_EQ(offset_at(kSpringChange - 1), 3600);
  EXPECT_EQ(offset_at(kSpringChange), 7200);
  EXPECT_EQ(offset_at(kAutumnChange - 1), 7200);
  EXPECT_EQ(offset_at(kAutumnChange), 3600);
}

TEST(Berlin, WallTimesReadInPlainDaysAreUnambiguous) {
  for (auto reading : {Reading::former, Reading::latter}) {
    EXPECT_EQ(offset_of_wall(kWinterNoon, reading), 3600);
    EXPECT_EQ(offset_of_wall(kSummerNoon, reading), 7200);
  }
}

TEST(Berlin, SkippedAndRepeatedHoursHaveTwoReadings) {
  // Spring: 02:30 does not exist; read with winter time it is 01:30 UTC, with summer time 00:30.
  EXPECT_EQ(offset_of_wall(kSpring0230, Reading::former), 3600);
  EXPECT_EQ(offset_of_wall(kSpring0230, Reading::latter), 7200);
  // Autumn: 02:30 happens twice, first in summer time (00:30 UTC), then in winter time.
  EXPECT_EQ(offset_of_wall(kAutumn0230, Reading::former), 7200);
  EXPECT_EQ(offset_of_wall(kAutumn0230, Reading::latter), 3600);
}

TEST(Berlin, NextTransitionIsTheNextClockChange) {
  EXPECT_EQ(next_transition(kWinterNoon), kSpringChange);
  EXPECT_EQ(next_transition(kSpringChange - 1), kSpringChange);
  EXPECT_EQ(next_transition(kSpringChange), kAutumnChange);
  EXPECT_EQ(next_transition(kSummerNoon), kAutumnChange);
}

TEST(Berlin, TodayIsTheDateOnBerlinsWallClock) {
  // glibc's reading of the same zone (this test process has no other threads reading TZ).
  ::setenv("TZ", "Europe/Berlin", 1);
  ::tzset();
  for (int attempt = 0; attempt < 3; ++attempt) {
    const std::time_t now = std::time(nullptr);
    std::tm local{};
    ASSERT_NE(::localtime_r(&now, &local), nullptr);
    const auto expected =
        std::chrono::sys_days{std::chrono::year{local.tm_year + 1900} /
                              std::chrono::month{static_cast<unsigned>(local.tm_mon + 1)} /
                              std::chrono::day{static_cast<unsigned>(local.tm_mday)}};
    const auto day = today();
    if (std::time(nullptr) != now) continue;  // a second turned over: midnight may have passed
    EXPECT_EQ(day, expected.time_since_epoch().count());
    return;
  }
}

}  // namespace
}  // namespace gabe::berlin
