#include "gabe/cron.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <vector>

#include "gabe/berlin.hpp"

namespace gabe {
namespace {

struct FieldSpec {
  const char* name;
  int first;
  int last;
  // Names accepted for values first.. (month JAN = 1, weekday SUN = 0), or empty.
  std::vector<std::string_view> names;
};

const std::array<FieldSpec, 5>& field_specs() {
  static const std::array<FieldSpec, 5> specs{{
      {"minute", 0, 59, {}},
      {"hour", 0, 23, {}},
      {"day-of-month", 1, 31, {}},
      {"month",
       1,
       12,
       {"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}},
      // 7 is Sunday too, as in Vixie cron.
      {"day-of-week", 0, 7, {"sun", "mon", "tue", "wed", "thu", "fri", "sat"}},
  }};
  return specs;
}

constexpr std::size_t kMaxExpressionLength = 200;

class FieldParser {
 public:
  FieldParser(const FieldSpec& spec, std::size_t index, std::string_view expression)
      : spec_(spec), index_(index), expression_(expression) {}

  // The values of one field (bit v for value v), or an error.
  std::optional<CronError> parse(std::string_view field, std::vector<bool>& values) {
    values.assign(static_cast<std::size_t>(spec_.last) + 1, false);
    std::size_t start = 0;
    while (true) {
      const std::size_t comma = field.find(',', start);
      const std::string_view item = field.substr(
          start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
      if (auto error = parse_item(item, values)) return error;
      if (comma == std::string_view::npos) break;
      start = comma + 1;
    }
    return std::nullopt;
  }

 private:
  CronError fail(const std::string& what) const {
    return CronError{spec_.name, "cron field " + std::to_string(index_ + 1) + " (" + spec_.name +
                                     "): " + what + " in \"" + std::string(expression_) + "\""};
  }

  static std::string quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

  // A number or (months, weekdays) a three-letter name.
  std::optional<int> value(std::string_view text, std::optional<CronError>& error) const {
    if (text.empty()) {
      error = fail("a value is missing");
      return std::nullopt;
    }
    if (text.size() <= 4 && text.find_first_not_of("0123456789") == std::string_view::npos) {
      int v = 0;
      for (char c : text) v = v * 10 + (c - '0');
      if (v < spec_.first || v > spec_.last) {
        error = fail(std::string(text) + " is outside " + std::to_string(spec_.first) + "-" +
                     std::to_string(spec_.last));
        return std::nullopt;
      }
      return v;
    }
    if (text.size() == 3) {
      std::string lower;
      for (char c : text) lower += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
      for (std::size_t i = 0; i < spec_.names.size(); ++i)
        if (spec_.names[i] == lower) return spec_.first + static_cast<int>(i);
    }
    error = fail(quoted(text) + (spec_.names.empty()
                                     ? std::string(" is not a number")
                                     : " is neither a number nor a name like " +
                                           std::string(spec_.first == 0 ? "MON" : "JAN")));
    return std::nullopt;
  }

  std::optional<CronError> parse_item(std::string_view item, std::vector<bool>& values) const {
    if (item.empty()) return fail("an empty list item");
    std::string_view range = item;
    int step = 1;
    bool stepped = false;
    if (const std::size_t slash = item.find('/'); slash != std::string_view::npos) {
      range = item.substr(0, slash);
      const std::string_view step_text = item.substr(slash + 1);
      if (step_text.empty() || step_text.size() > 4 ||
          step_text.find_first_not_of("0123456789") != std::string_view::npos)
        return fail("the step " + quoted(step_text) + " is not a number");
      step = 0;
      for (char c : step_text) step = step * 10 + (c - '0');
      if (step == 0) return fail("a step of 0");
      stepped = true;
    }
    int low = spec_.first;
    int high = spec_.last;
    if (range != "*") {
      std::optional<CronError> error;
      const std::size_t dash = range.find('-');
      const auto a = value(range.substr(0, dash), error);
      if (!a) return error;
      low = high = *a;
      if (dash != std::string_view::npos) {
        const auto b = value(range.substr(dash + 1), error);
        if (!b) return error;
        high = *b;
        if (high < low) return fail("the range " + quoted(range) + " runs backwards");
      } else if (stepped) {
        return fail("a step needs a range or *, e.g. " + std::to_string(low) + "-" +
                    std::to_string(spec_.last) + "/" + std::to_string(step) + ", not " +
                    quoted(item));
      }
    }
    for (int v = low; v <= high; v += step) values[static_cast<std::size_t>(v)] = true;
    return std::nullopt;
  }

  const FieldSpec& spec_;
  std::size_t index_;
  std::string_view expression_;
};

std::optional<std::string_view> macro(std::string_view name) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 7> kMacros{{
      {"@yearly", "0 0 1 1 *"},
      {"@annually", "0 0 1 1 *"},
      {"@monthly", "0 0 1 * *"},
      {"@weekly", "0 0 * * 0"},
      {"@daily", "0 0 * * *"},
      {"@midnight", "0 0 * * *"},
      {"@hourly", "0 * * * *"},
  }};
  for (const auto& [key, fields] : kMacros)
    if (key == name) return fields;
  return std::nullopt;
}

bool is_blank(char c) {
  return c == ' ' || c == '\t';
}

std::vector<std::string_view> split_fields(std::string_view s) {
  std::vector<std::string_view> fields;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && is_blank(s[i])) ++i;
    const std::size_t start = i;
    while (i < s.size() && !is_blank(s[i])) ++i;
    if (i > start) fields.push_back(s.substr(start, i - start));
  }
  return fields;
}

constexpr std::array<int, 13> kMaxDaysInMonth{0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

bool day_matches(const Cron& cron, const std::chrono::year_month_day& ymd,
                 std::chrono::weekday weekday) {
  const bool dom = cron.days_of_month.test(static_cast<unsigned>(ymd.day()));
  const bool dow = cron.days_of_week.test(weekday.c_encoding());
  if (cron.day_of_month_restricted && cron.day_of_week_restricted) return dom || dow;
  return dom && dow;
}

// The instant at which a Berlin wall time (seconds since 1970 read as if it were UTC) fires:
// its first occurrence when it occurs twice, the end of the gap when it does not occur.
std::int64_t fire_instant(std::int64_t wall) {
  const std::int64_t former = wall - berlin::offset_of_wall(wall, berlin::Reading::former);
  const std::int64_t latter = wall - berlin::offset_of_wall(wall, berlin::Reading::latter);
  const std::int64_t earlier = std::min(former, latter);
  const std::int64_t later = std::max(former, latter);
  if (earlier + berlin::offset_at(earlier) == wall) return earlier;
  if (later + berlin::offset_at(later) == wall) return later;
  // Skipped: the clock jumps over `wall` at the transition between the two readings.
  const auto transition = berlin::next_transition(earlier);
  if (!transition)
    throw std::runtime_error("ICU has no transition for a skipped Europe/Berlin time");
  return *transition;
}

}  // namespace

CronResult parse_cron(std::string_view expression) {
  if (expression.size() > kMaxExpressionLength)
    return CronError{"expression", "cron expression: longer than " +
                                       std::to_string(kMaxExpressionLength) + " characters"};
  std::vector<std::string_view> fields = split_fields(expression);
  if (fields.size() == 1 && !fields[0].empty() && fields[0][0] == '@') {
    const auto fields_of_macro = macro(fields[0]);
    if (!fields_of_macro)
      return CronError{"expression", "cron expression: unknown macro \"" + std::string(fields[0]) +
                                         "\" (known: @yearly, @annually, @monthly, @weekly, "
                                         "@daily, @midnight, @hourly)"};
    fields = split_fields(*fields_of_macro);
  }
  if (fields.size() != 5)
    return CronError{"expression",
                     "cron expression: " + std::to_string(fields.size()) + " fields in \"" +
                         std::string(expression) +
                         "\", expected 5 (minute hour day-of-month month day-of-week)"};
  Cron cron;
  cron.text = std::string(expression);
  std::vector<bool> values;
  for (std::size_t i = 0; i < 5; ++i) {
    const FieldSpec& spec = field_specs()[i];
    if (auto error = FieldParser(spec, i, expression).parse(fields[i], values)) return *error;
    for (int v = spec.first; v <= spec.last; ++v) {
      if (!values[static_cast<std::size_t>(v)]) continue;
      const auto bit = static_cast<std::size_t>(v);
      switch (i) {
        case 0:
          cron.minutes.set(bit);
          break;
        case 1:
          cron.hours.set(bit);
          break;
        case 2:
          cron.days_of_month.set(bit);
          break;
        case 3:
          cron.months.set(bit);
          break;
        default:
          cron.days_of_week.set(bit % 7);
          break;
      }
    }
  }
  cron.day_of_month_restricted = fields[2][0] != '*';
  cron.day_of_week_restricted = fields[4][0] != '*';
  // With the days of the month alone deciding, some month must have one of them.
  if (cron.day_of_month_restricted && !cron.day_of_week_restricted) {
    bool possible = false;
    for (int month = 1; month <= 12 && !possible; ++month) {
      if (!cron.months.test(static_cast<std::size_t>(month))) continue;
      for (int day = 1; day <= kMaxDaysInMonth[static_cast<std::size_t>(month)]; ++day)
        if (cron.days_of_month.test(static_cast<std::size_t>(day))) possible = true;
    }
    if (!possible)
      return CronError{"day-of-month",
                       "cron field 3 (day-of-month): no such day in the months "
                       "of field 4, the schedule never fires, in \"" +
                           std::string(expression) + "\""};
  }
  return cron;
}

std::chrono::sys_seconds next_fire(const Cron& cron, std::chrono::sys_seconds after) {
  using namespace std::chrono;
  constexpr std::int64_t kDay = 86400;
  constexpr std::int64_t kLastMinuteOfHour = 3540;
  const std::int64_t t = after.time_since_epoch().count();
  const std::int64_t lowest = sys_seconds(sys_days(1970y / January / 1)).time_since_epoch().count();
  const std::int64_t highest =
      sys_seconds(sys_days(year(9000) / December / 31)).time_since_epoch().count();
  if (t < lowest || t > highest)
    throw std::out_of_range("next_fire: the instant is outside the years 1970..9000");
  // Local wall-clock day of `after`; a day earlier covers an offset change that day.
  std::int64_t day = (t + berlin::offset_at(t)) / kDay - 1;
  // Weekdays repeat on the same dates every 400 years (146,097 days), so a parsed schedule
  // fires within that; most fire within a year ("0 5 */31 9 TUE", 1 September on a Tuesday, waits
  // 11 years from 2026).
  const std::int64_t last_day = day + 146097 + 2;
  for (; day <= last_day; ++day) {
    const sys_days date{days(day)};
    const year_month_day ymd(date);
    if (!cron.months.test(static_cast<unsigned>(ymd.month())) ||
        !day_matches(cron, ymd, weekday(date)))
      continue;
    for (std::size_t h = 0; h < 24; ++h) {
      if (!cron.hours.test(h)) continue;
      // Berlin's offset is never negative, so a wall time fires at or before its reading as
      // UTC: an hour whose last minute reads as `after` or earlier has nothing to offer.
      const std::int64_t hour_wall = day * kDay + static_cast<std::int64_t>(h) * 3600;
      if (hour_wall + kLastMinuteOfHour <= t) continue;
      for (std::size_t m = 0; m < 60; ++m) {
        if (!cron.minutes.test(m)) continue;
        const std::int64_t fire = fire_instant(hour_wall + static_cast<std::int64_t>(m) * 60);
        if (fire > t) return sys_seconds(seconds(fire));
      }
    }
  }
  throw std::logic_error("next_fire: no firing within 400 years of a parsed schedule");
}

}  // namespace gabe
