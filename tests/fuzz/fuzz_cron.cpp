// libFuzzer target: GABE_SCORING_SCHEDULE's cron parser and the next firing time, around both
// daylight saving changes of Europe/Berlin and in plain weeks.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "gabe/cron.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const gabe::CronResult cron = gabe::parse_cron(text);
  if (!cron) {
    if (cron.error().message.empty() || cron.error().field.empty()) __builtin_trap();
    return 0;
  }
  using std::chrono::seconds;
  using std::chrono::sys_seconds;
  // 2026-03-29 00:30 UTC (before the spring gap), 2026-10-25 00:15 UTC (inside the repeated
  // hour), 2026-11-27 12:00:30 UTC, 2096-03-01 (29 February eight years away).
  for (const std::int64_t after : {1774744200LL, 1792887300LL, 1795780830LL, 3981398400LL}) {
    const sys_seconds start{seconds(after)};
    const sys_seconds fire = gabe::next_fire(*cron, start);
    if (fire <= start || fire.time_since_epoch().count() % 60 != 0) __builtin_trap();
    // Nothing fires between `start` and `fire`, so one second before `fire` leads to it again.
    if (gabe::next_fire(*cron, fire - seconds(1)) != fire) __builtin_trap();
    if (gabe::next_fire(*cron, fire) <= fire) __builtin_trap();
  }
  return 0;
}
