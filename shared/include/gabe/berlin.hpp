// The wall clock of Europe/Berlin, the zone of the associations Gabe is for: ICU's zone rules
// (not hand-written DST rules, and not the process-wide TZ variable, which other threads read),
// loaded once. Times are Unix seconds; a "wall" time is Berlin's wall clock read as if it were
// UTC (what timegm() makes of the local date and time).
#pragma once

#include <cstdint>
#include <optional>

namespace gabe::berlin {

// Which reading of a wall time that occurs twice (the hour repeated in autumn) or not at all
// (the hour skipped in spring): the offset in force before the change, or the one after it.
enum class Reading { former, latter };

// Berlin's offset from UTC at the instant `unix_seconds`, in seconds (3600 or 7200).
std::int64_t offset_at(std::int64_t unix_seconds);

// The offset from UTC that the wall time `wall_seconds` has, read as `reading` says when it is
// ambiguous or skipped: the instant is wall_seconds - the result.
std::int64_t offset_of_wall(std::int64_t wall_seconds, Reading reading);

// The first change of the offset after the instant `unix_seconds` (Unix seconds), if any.
std::optional<std::int64_t> next_transition(std::int64_t unix_seconds);

// Today's date in Berlin as days since 1970-01-01 (the date a fundraiser means by "today").
std::int32_t today();

}  // namespace gabe::berlin
