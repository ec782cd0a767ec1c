#include "dates.hpp"

#include <chrono>
#include <cstdio>

#include "gabe/values.hpp"

namespace gabe::scoring {

namespace {

std::chrono::year_month_day civil(Day day) {
  return std::chrono::year_month_day{std::chrono::sys_days{std::chrono::days{day}}};
}

}  // namespace

std::optional<Day> parse_day(std::string_view text) {
  if (text.size() != 10 || !is_valid_date(text)) return std::nullopt;
  const auto num = [&](std::size_t at, std::size_t n) {
    unsigned v = 0;
    for (std::size_t i = at; i < at + n; ++i) v = v * 10 + static_cast<unsigned>(text[i] - '0');
    return v;
  };
  return static_cast<Day>(days_from_civil(num(0, 4), num(5, 2), num(8, 2)));
}

std::string format_day(Day day) {
  const auto ymd = civil(day);
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
  return buf;
}

unsigned month_of(Day day) {
  return static_cast<unsigned>(civil(day).month());
}
int year_of(Day day) {
  return static_cast<int>(civil(day).year());
}

Day today_berlin() {
  // Berlin is UTC+1 in winter and UTC+2 in summer; the date changes at local midnight. The
  // exact rule: CEST from the last Sunday of March 01:00 UTC to the last Sunday of October
  // 01:00 UTC.
  const auto now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  const auto utc_day = std::chrono::floor<std::chrono::days>(now);
  const std::chrono::year_month_day ymd{utc_day};
  const auto last_sunday = [&](std::chrono::month m) {
    const std::chrono::sys_days last{ymd.year() / m / std::chrono::last};
    const std::chrono::weekday wd{last};
    return last - (wd - std::chrono::Sunday);
  };
  const auto dst_start =
      std::chrono::sys_seconds{last_sunday(std::chrono::March)} + std::chrono::hours(1);
  const auto dst_end =
      std::chrono::sys_seconds{last_sunday(std::chrono::October)} + std::chrono::hours(1);
  const auto offset =
      (now >= dst_start && now < dst_end) ? std::chrono::hours(2) : std::chrono::hours(1);
  return static_cast<Day>(
      std::chrono::floor<std::chrono::days>(now + offset).time_since_epoch().count());
}

}  // namespace gabe::scoring
