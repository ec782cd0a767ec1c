#include "dates.hpp"

#include <chrono>
#include <cstdio>

#include "gabe/berlin.hpp"
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
  return berlin::today();
}

}  // namespace gabe::scoring
