// gabe-grants' own settings, read with the common ones (gabe::common_settings), and the shared
// outbox's GABE_WEBHOOK_* settings.
#pragma once

#include <string_view>
#include <vector>

#include "gabe/config.hpp"

namespace gabe::grants {

config::SettingsTable settings();

// "30,14,7,1" -> {30, 14, 7, 1}: whole days from 1 to 365, each once, at most 10. Throws
// ConfigError naming `name` otherwise.
std::vector<int> parse_day_list(std::string_view text, std::string_view name);

struct GrantsSettings {
  std::vector<int> reminder_offsets;  // GABE_GRANTS_REMINDER_OFFSETS
  std::vector<int> calendar_alarms;   // GABE_GRANTS_CALENDAR_ALARMS
  long scheduler_seconds = 5;         // GABE_GRANTS_SCHEDULER_SECONDS
  long overdue_days = 7;              // GABE_GRANTS_OVERDUE_REMINDER_DAYS
  long tombstone_days = 90;           // GABE_GRANTS_TOMBSTONE_DAYS
  static GrantsSettings from(const config::Settings& settings);
};

}  // namespace gabe::grants
