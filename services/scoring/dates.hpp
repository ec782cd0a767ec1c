// Calendar dates as whole days since 1970-01-01: the unit every window and feature is counted
// in. Text is YYYY-MM-DD only.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace gabe::scoring {

using Day = std::int32_t;

// A valid YYYY-MM-DD (1900..2199) as days, or nullopt.
std::optional<Day> parse_day(std::string_view text);
std::string format_day(Day day);
// Month (1..12) and year of a day.
unsigned month_of(Day day);
int year_of(Day day);
// Today in Europe/Berlin (the date a fundraiser means by "today").
Day today_berlin();

}  // namespace gabe::scoring
