// Cron schedules in Europe/Berlin (services/scoring/pure/cron.cpp): parsing, the Vixie day rule,
// and exact instants around both daylight saving changes of 2026 (29 March, 25 October).
#include "gabe/cron.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <stdexcept>
#include <string>

namespace gabe {
namespace {

using std::chrono::sys_seconds;

// "2026-03-29T01:00:00Z" -> instant.
sys_seconds at(const std::string& iso) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  if (std::sscanf(iso.c_str(), "%d-%d-%dT%d:%d:%dZ", &y, &mo, &d, &h, &mi, &s) != 6)
    throw std::invalid_argument(iso);
  using namespace std::chrono;
  return sys_seconds(
             sys_days(year(y) / month(static_cast<unsigned>(mo)) / day(static_cast<unsigned>(d)))) +
         hours(h) + minutes(mi) + seconds(s);
}

std::string iso(sys_seconds t) {
  using namespace std::chrono;
  const auto day_start = floor<days>(t);
  const year_month_day ymd(day_start);
  const hh_mm_ss time(t - day_start);
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%04d-%02u-%02uT%02ld:%02ld:%02ldZ",
                static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                static_cast<unsigned>(ymd.day()), static_cast<long>(time.hours().count()),
                static_cast<long>(time.minutes().count()),
                static_cast<long>(time.seconds().count()));
  return buffer;
}

Cron parsed(const std::string& expression) {
  const CronResult result = parse_cron(expression);
  if (!result) throw std::invalid_argument(result.error().message);
  return *result;
}

std::string next(const std::string& expression, const std::string& after) {
  return iso(next_fire(parsed(expression), at(after)));
}

TEST(Cron, ParsesListsRangesStepsAndNames) {
  const Cron c = parsed("*/15 9-17/4 1,15 jan,Jul-SEP MON-FRI");
  for (std::size_t m = 0; m < 60; ++m) EXPECT_EQ(c.minutes.test(m), m % 15 == 0) << m;
  for (std::size_t h = 0; h < 24; ++h) EXPECT_EQ(c.hours.test(h), h == 9 || h == 13 || h == 17);
  EXPECT_TRUE(c.days_of_month.test(1));
  EXPECT_TRUE(c.days_of_month.test(15));
  EXPECT_EQ(c.days_of_month.count(), 2U);
  EXPECT_EQ(c.months.count(), 4U);
  EXPECT_TRUE(c.months.test(1) && c.months.test(7) && c.months.test(8) && c.months.test(9));
  EXPECT_EQ(c.days_of_week.count(), 5U);
  EXPECT_FALSE(c.days_of_week.test(0));
  EXPECT_FALSE(c.days_of_week.test(6));
  EXPECT_TRUE(c.day_of_month_restricted);
  EXPECT_TRUE(c.day_of_week_restricted);
  EXPECT_EQ(c.text, "*/15 9-17/4 1,15 jan,Jul-SEP MON-FRI");
}

TEST(Cron, SundayIsZeroAndSevenAndMacrosExpand) {
  EXPECT_EQ(parsed("0 0 * * 7").days_of_week, parsed("0 0 * * 0").days_of_week);
  EXPECT_EQ(parsed("0 0 * * 5-7").days_of_week.count(), 3U);
  EXPECT_TRUE(parsed("0 0 * * 5-7").days_of_week.test(0));
  const Cron daily = parsed("@daily");
  const Cron fields = parsed("0 0 * * *");
  EXPECT_EQ(daily.minutes, fields.minutes);
  EXPECT_EQ(daily.hours, fields.hours);
  EXPECT_EQ(next("@hourly", "2026-11-27T12:10:00Z"), "2026-11-27T13:00:00Z");
  EXPECT_EQ(next("@weekly", "2026-11-27T12:00:00Z"), "2026-11-28T23:00:00Z");  // Sun 00:00 CET
  EXPECT_EQ(next(" \t0  3 * *\t* ", "2026-11-27T12:00:00Z"), "2026-11-28T02:00:00Z");
}

TEST(Cron, RejectsWithAMessageNamingTheField) {
  struct Case {
    const char* expression;
    const char* field;
    const char* mentions;
  };
  const Case cases[] = {
      {"61 * * * *", "minute", "61 is outside 0-59"},
      {"0 24 * * *", "hour", "cron field 2 (hour): 24 is outside 0-23"},
      {"0 0 0 * *", "day-of-month", "0 is outside 1-31"},
      {"0 0 32 * *", "day-of-month", "32"},
      {"0 0 * 13 *", "month", "13 is outside 1-12"},
      {"0 0 * foo *", "month", "\"foo\" is neither a number nor a name like JAN"},
      {"0 0 * * 8", "day-of-week", "8 is outside 0-7"},
      {"0 0 * * FRIDAY", "day-of-week", "\"FRIDAY\""},
      {"5-1 * * * *", "minute", "the range \"5-1\" runs backwards"},
      {"*/0 * * * *", "minute", "a step of 0"},
      {"*/x * * * *", "minute", "the step \"x\" is not a number"},
      {"5/10 * * * *", "minute", "a step needs a range or *, e.g. 5-59/10"},
      {"1,,2 * * * *", "minute", "an empty list item"},
      {"0 - * * *", "hour", "a value is missing"},
      {"0 0 30 2 *", "day-of-month", "never fires"},
      {"0 0 31 4,6,9,11 *", "day-of-month", "never fires"},
      {"* * * *", "expression", "4 fields"},
      {"* * * * * *", "expression", "6 fields"},
      {"", "expression", "0 fields"},
      {"@reboot", "expression", "unknown macro \"@reboot\""},
  };
  for (const Case& c : cases) {
    const CronResult result = parse_cron(c.expression);
    ASSERT_FALSE(result) << c.expression;
    EXPECT_EQ(result.error().field, c.field) << c.expression;
    EXPECT_NE(result.error().message.find(c.mentions), std::string::npos)
        << c.expression << ": " << result.error().message;
  }
  EXPECT_FALSE(parse_cron(std::string(300, '*')));
  // 30 February never comes, but with a weekday too the Vixie rule lets Mondays fire.
  EXPECT_TRUE(parse_cron("0 0 30 2 MON"));
  EXPECT_TRUE(parse_cron("0 0 29 2 *"));
}

TEST(Cron, FiresOnTheBerlinWallClockInWinterAndSummer) {
  EXPECT_EQ(next("0 3 * * *", "2026-11-27T12:00:00Z"), "2026-11-28T02:00:00Z");  // CET
  EXPECT_EQ(next("0 3 * * *", "2026-07-01T12:00:00Z"), "2026-07-02T01:00:00Z");  // CEST
  // Strictly after: a fire time equal to `after` is not returned again; seconds round up.
  EXPECT_EQ(next("0 3 * * *", "2026-11-28T02:00:00Z"), "2026-11-29T02:00:00Z");
  EXPECT_EQ(next("* * * * *", "2026-11-27T12:00:30Z"), "2026-11-27T12:01:00Z");
  // New Year in Berlin is still 31 December in UTC.
  EXPECT_EQ(next("0 0 1 1 *", "2026-06-01T00:00:00Z"), "2026-12-31T23:00:00Z");
  EXPECT_EQ(next("0 0 29 2 *", "2026-01-01T00:00:00Z"), "2028-02-28T23:00:00Z");
  EXPECT_EQ(next("0 0 29 2 *", "2097-01-01T00:00:00Z"), "2104-02-28T23:00:00Z");  // not 2100
  // Days 1, 10, 19, 28 (a field beginning with *: both days must match) of September on a
  // Tuesday; with day 1 alone the wait is 11 years.
  EXPECT_EQ(next("0 5 */9 9 TUE", "2026-11-27T12:00:00Z"), "2027-09-28T03:00:00Z");
  EXPECT_EQ(next("0 5 */871 9 TUE", "2026-11-27T12:00:00Z"), "2037-09-01T03:00:00Z");
  EXPECT_THROW(next_fire(parsed("* * * * *"), at("9500-01-01T00:00:00Z")), std::out_of_range);
}

TEST(Cron, ASkippedSpringTimeFiresOnceAtTheFirstValidInstantAfter) {
  // 29 March 2026: 02:00 CET becomes 03:00 CEST at 01:00 UTC.
  EXPECT_EQ(next("30 2 * * *", "2026-03-28T12:00:00Z"), "2026-03-29T01:00:00Z");
  EXPECT_EQ(next("30 2 * * *", "2026-03-29T01:00:00Z"), "2026-03-30T00:30:00Z");
  // Four skipped times of one schedule fire together, once.
  EXPECT_EQ(next("*/15 2 * * *", "2026-03-29T00:00:00Z"), "2026-03-29T01:00:00Z");
  EXPECT_EQ(next("*/15 2 * * *", "2026-03-29T01:00:00Z"), "2026-03-30T00:00:00Z");
  // Around the gap, every minute: 01:59 CET, then 03:00 CEST (the skipped hour merged into it).
  EXPECT_EQ(next("* * * * *", "2026-03-29T00:58:00Z"), "2026-03-29T00:59:00Z");
  EXPECT_EQ(next("* * * * *", "2026-03-29T00:59:00Z"), "2026-03-29T01:00:00Z");
  EXPECT_EQ(next("* * * * *", "2026-03-29T01:00:00Z"), "2026-03-29T01:01:00Z");
  // Times next to the gap are untouched.
  EXPECT_EQ(next("30 1 * * *", "2026-03-28T12:00:00Z"), "2026-03-29T00:30:00Z");
  EXPECT_EQ(next("30 3 * * *", "2026-03-28T12:00:00Z"), "2026-03-29T01:30:00Z");
}

TEST(Cron, ARepeatedAutumnTimeFiresOnceAtItsFirstOccurrence) {
  // 25 October 2026: 03:00 CEST becomes 02:00 CET at 01:00 UTC; 02:00-02:59 happens twice.
  EXPECT_EQ(next("30 2 * * *", "2026-10-24T12:00:00Z"), "2026-10-25T00:30:00Z");
  EXPECT_EQ(next("30 2 * * *", "2026-10-25T00:30:00Z"), "2026-10-26T01:30:00Z");
  EXPECT_EQ(next("0 * * * *", "2026-10-24T23:30:00Z"), "2026-10-25T00:00:00Z");  // 02:00 CEST
  EXPECT_EQ(next("0 * * * *", "2026-10-25T00:00:00Z"), "2026-10-25T02:00:00Z");  // 03:00 CET
  EXPECT_EQ(next("*/30 * * * *", "2026-10-25T00:30:00Z"), "2026-10-25T02:00:00Z");
  EXPECT_EQ(next("30 1 * * *", "2026-10-24T12:00:00Z"), "2026-10-24T23:30:00Z");
  EXPECT_EQ(next("30 3 * * *", "2026-10-24T12:00:00Z"), "2026-10-25T02:30:00Z");
}

TEST(Cron, BothDayFieldsRestrictedMeansEither) {
  // 27 November 2026 is a Friday. "1st of the month or Monday":
  EXPECT_EQ(next("0 12 1 * MON", "2026-11-27T12:00:00Z"), "2026-11-30T11:00:00Z");  // Mon
  EXPECT_EQ(next("0 12 1 * MON", "2026-11-30T11:00:00Z"), "2026-12-01T11:00:00Z");  // Tue 1st
  EXPECT_EQ(next("0 12 1 * MON", "2026-12-01T11:00:00Z"), "2026-12-07T11:00:00Z");  // Mon
  // A field beginning with * counts as unrestricted (Vixie): odd days AND Monday.
  EXPECT_EQ(next("0 12 */2 * MON", "2026-11-27T12:00:00Z"), "2026-12-07T11:00:00Z");
  EXPECT_EQ(next("0 12 * * MON", "2026-11-27T12:00:00Z"), "2026-11-30T11:00:00Z");
  EXPECT_EQ(next("0 12 13 * *", "2026-11-27T12:00:00Z"), "2026-12-13T11:00:00Z");
}

TEST(Cron, AYearOfEverySeventhMinuteFiresInOrderAndOnlyOnce) {
  // 365 days of 24 × 9 wall times, less the spring hour's 9, which merge into 03:00 CEST
  // (itself a fire time); the autumn hour's second pass does not fire.
  const Cron cron = parsed("*/7 * * * *");
  sys_seconds t = at("2025-12-31T22:59:59Z");  // a second before midnight in Berlin
  const sys_seconds end = at("2026-12-31T23:00:00Z");
  std::size_t fires = 0;
  while (true) {
    const sys_seconds next_time = next_fire(cron, t);
    ASSERT_GT(next_time, t);
    if (next_time >= end) break;
    ++fires;
    t = next_time;
  }
  EXPECT_EQ(fires, 365U * 24 * 9 - 9);
}

}  // namespace
}  // namespace gabe
