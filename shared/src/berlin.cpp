#include "gabe/berlin.hpp"

#include <chrono>
#include <memory>
#include <stdexcept>

#include <unicode/basictz.h>
#include <unicode/timezone.h>
#include <unicode/tztrans.h>

namespace gabe::berlin {

namespace {

// Loaded once; ICU's zone objects are safe to read from several threads.
const icu::BasicTimeZone& zone() {
  static const std::unique_ptr<const icu::BasicTimeZone> berlin = [] {
    std::unique_ptr<icu::TimeZone> tz(icu::TimeZone::createTimeZone("Europe/Berlin"));
    icu::UnicodeString id;
    tz->getID(id);
    // An unknown zone comes back as "Etc/Unknown" (UTC), which would pass silently.
    if (dynamic_cast<icu::BasicTimeZone*>(tz.get()) == nullptr ||
        id != icu::UnicodeString("Europe/Berlin"))
      throw std::runtime_error("ICU has no zone Europe/Berlin");
    return std::unique_ptr<const icu::BasicTimeZone>(
        dynamic_cast<const icu::BasicTimeZone*>(tz.release()));
  }();
  return *berlin;
}

UDate milliseconds(std::int64_t seconds) {
  return static_cast<UDate>(seconds) * 1000.0;
}

}  // namespace

std::int64_t offset_at(std::int64_t unix_seconds) {
  int32_t raw = 0, dst = 0;
  UErrorCode status = U_ZERO_ERROR;
  zone().getOffset(milliseconds(unix_seconds), false, raw, dst, status);
  if (U_FAILURE(status)) throw std::runtime_error("ICU could not read Europe/Berlin's offset");
  return (raw + dst) / 1000;
}

std::int64_t offset_of_wall(std::int64_t wall_seconds, Reading reading) {
  const auto option = reading == Reading::former ? UCAL_TZ_LOCAL_FORMER : UCAL_TZ_LOCAL_LATTER;
  int32_t raw = 0, dst = 0;
  UErrorCode status = U_ZERO_ERROR;
  zone().getOffsetFromLocal(milliseconds(wall_seconds), option, option, raw, dst, status);
  if (U_FAILURE(status)) throw std::runtime_error("ICU could not read Europe/Berlin's offset");
  return (raw + dst) / 1000;
}

std::optional<std::int64_t> next_transition(std::int64_t unix_seconds) {
  icu::TimeZoneTransition transition;
  if (!zone().getNextTransition(milliseconds(unix_seconds), false, transition)) return std::nullopt;
  return static_cast<std::int64_t>(transition.getTime() / 1000.0);
}

std::int32_t today() {
  const auto now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now())
                       .time_since_epoch()
                       .count();
  const std::int64_t wall = now + offset_at(now);
  return static_cast<std::int32_t>(wall >= 0 ? wall / 86400 : (wall - 86399) / 86400);
}

}  // namespace gabe::berlin
