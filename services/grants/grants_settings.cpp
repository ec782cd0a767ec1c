#include "grants_settings.hpp"

#include <algorithm>
#include <string>

#include "gabe/outbox.hpp"

namespace gabe::grants {

config::SettingsTable settings() {
  using namespace config;
  auto table = SettingsTable{
      text_setting("GABE_GRANTS_REMINDER_OFFSETS", "30,14,7,1",
                   "days before a deadline when reminders go out (1-365, comma-separated)"),
      text_setting("GABE_GRANTS_CALENDAR_ALARMS", "7,1",
                   "days before a deadline when calendar alarms ring (1-365, comma-separated)"),
      integer_setting("GABE_GRANTS_SCHEDULER_SECONDS", 5, 1, 10,
                      "seconds between reminder decisions and metric refreshes"),
      integer_setting("GABE_GRANTS_OVERDUE_REMINDER_DAYS", 7, 1, 365,
                      "an overdue reminder is sent only this many days after the due time"),
      integer_setting("GABE_GRANTS_TOMBSTONE_DAYS", 90, 1, 3650,
                      "days a deleted deadline stays in the calendar feed as cancelled"),
  };
  for (auto& s : outbox::settings()) table.push_back(std::move(s));
  return table;
}

std::vector<int> parse_day_list(std::string_view text, std::string_view name) {
  std::vector<int> days;
  const auto bad = [&] {
    return ConfigError(std::string(name) + "='" + std::string(text.substr(0, 100)) +
                       "' is not a comma-separated list of whole days from 1 to 365");
  };
  std::size_t pos = 0;
  while (pos <= text.size()) {
    auto end = text.find(',', pos);
    if (end == std::string_view::npos) end = text.size();
    auto item = text.substr(pos, end - pos);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (item.empty() || item.size() > 3) throw bad();
    int value = 0;
    for (char c : item) {
      if (c < '0' || c > '9') throw bad();
      value = value * 10 + (c - '0');
    }
    if (value < 1 || value > 365) throw bad();
    if (std::find(days.begin(), days.end(), value) != days.end()) throw bad();
    days.push_back(value);
    if (days.size() > 10) throw bad();
    pos = end + 1;
  }
  std::sort(days.rbegin(), days.rend());
  return days;
}

GrantsSettings GrantsSettings::from(const config::Settings& settings) {
  GrantsSettings s;
  s.reminder_offsets =
      parse_day_list(settings.text("GABE_GRANTS_REMINDER_OFFSETS"), "GABE_GRANTS_REMINDER_OFFSETS");
  s.calendar_alarms =
      parse_day_list(settings.text("GABE_GRANTS_CALENDAR_ALARMS"), "GABE_GRANTS_CALENDAR_ALARMS");
  s.scheduler_seconds = settings.integer("GABE_GRANTS_SCHEDULER_SECONDS");
  s.overdue_days = settings.integer("GABE_GRANTS_OVERDUE_REMINDER_DAYS");
  s.tombstone_days = settings.integer("GABE_GRANTS_TOMBSTONE_DAYS");
  return s;
}

}  // namespace gabe::grants
