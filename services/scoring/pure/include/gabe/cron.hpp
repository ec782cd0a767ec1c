// Five-field cron schedules (GABE_SCORING_SCHEDULE), evaluated in Europe/Berlin.
//
// Syntax (Vixie cron): `minute hour day-of-month month day-of-week`, each field `*`, a number,
// a range `a-b`, a step over `*` or a range (`*/15`, `1-30/5`), or a comma list of those.
// Months take JAN..DEC and weekdays SUN..SAT (case-insensitive, also in ranges); weekday 0 and
// 7 are both Sunday. `@yearly`, `@annually`, `@monthly`, `@weekly`, `@daily`, `@midnight` and
// `@hourly` stand for their usual five fields.
//
// Days (the Vixie rule): when both day fields are restricted, a day matches if EITHER matches
// ("0 3 1 * MON" fires on the 1st and on every Monday); otherwise both must match. As in Vixie
// cron, a field that begins with `*` (also `*/2`) counts as unrestricted.
//
// Daylight saving time (the wall clock of Europe/Berlin, from ICU's zone rules):
// - A wall time skipped in spring (02:00-02:59 on the last Sunday of March) fires once, at the
//   first valid instant after the gap: 03:00 CEST (01:00 UTC). Several skipped times of one
//   schedule ("*/15 2 * * *") fire together at that one instant, once.
// - A wall time repeated in autumn (02:00-02:59 on the last Sunday of October) fires once, at
//   its first occurrence (CEST): "30 2 * * *" fires at 00:30 UTC that day, not again at 01:30
//   UTC. So "*/15 * * * *" is silent for the repeated hour's second pass.
#pragma once

#include <bitset>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace gabe {

struct Cron {
  std::bitset<60> minutes;
  std::bitset<24> hours;
  std::bitset<32> days_of_month;  // bits 1..31
  std::bitset<13> months;         // bits 1..12
  std::bitset<7> days_of_week;    // bit 0 = Sunday
  bool day_of_month_restricted = false;
  bool day_of_week_restricted = false;
  std::string text;  // the expression as given, for logs and messages
};

// Why an expression was rejected, e.g. field "hour", message "cron field 2 (hour): 24 is
// outside 0-23 in \"0 24 * * *\"".
struct CronError {
  std::string field;    // "minute", "hour", "day-of-month", "month", "day-of-week" or "expression"
  std::string message;  // one line, names the field and the bad part
};

// A Cron or the error of parsing it (std::expected's shape; GCC 12 has no <expected>).
class CronResult {
 public:
  CronResult(Cron cron) : cron_(std::move(cron)) {}          // NOLINT(google-explicit-constructor)
  CronResult(CronError error) : error_(std::move(error)) {}  // NOLINT(google-explicit-constructor)
  bool has_value() const { return cron_.has_value(); }
  explicit operator bool() const { return has_value(); }
  const Cron& value() const { return cron_.value(); }
  const Cron& operator*() const { return *cron_; }
  const Cron* operator->() const { return &*cron_; }
  const CronError& error() const { return error_; }

 private:
  std::optional<Cron> cron_;
  CronError error_;
};

// Parses a five-field expression (fields separated by spaces or tabs). Rejects, with a
// message naming the field: wrong field counts, unknown names, values out of range, reversed
// ranges, zero steps, a step after a single value ("5/10"), and schedules that can never fire
// ("0 0 30 2 *").
CronResult parse_cron(std::string_view expression);

// The first instant strictly after `after` at which `cron` fires (whole minutes, second 0),
// read on the Europe/Berlin wall clock with the DST rules above. `after` must lie in the
// years 1970..9000 (std::out_of_range otherwise). Every parsed Cron fires within 400 years (a
// Gregorian cycle); one combining a month day with a weekday ("0 5 */31 9 TUE": 1 September on a
// Tuesday, 11 years after 2026) may wait for years, and a call then walks through those days.
std::chrono::sys_seconds next_fire(const Cron& cron, std::chrono::sys_seconds after);

}  // namespace gabe
