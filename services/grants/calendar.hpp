// The iCalendar feed (RFC 5545) of the deadlines, written with libical: CRLF line ends,
// folding at 75 octets and text escaping are libical's. Pure: the handler passes the rows in,
// tests parse the text back with libical.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace gabe::grants {

struct CalendarEvent {
  std::int64_t deadline_id = 0;
  int occurrence = 1;
  int sequence = 0;                 // the deadline's revision: bumped on every change
  std::int64_t due_epoch = 0;       // DTSTART, UTC
  std::int64_t modified_epoch = 0;  // LAST-MODIFIED
  std::string summary;
  std::string description;
  bool done = false;       // completed: shown without alarms
  bool cancelled = false;  // deleted, or removed from a recurrence: STATUS:CANCELLED
};

// A stable UID per deadline occurrence: "deadline-<id>-<occurrence>@gabe-grants".
std::string event_uid(std::int64_t deadline_id, int occurrence);

// The whole VCALENDAR (METHOD:PUBLISH). `alarm_days`: a DISPLAY VALARM that many days before
// each open event that is still ahead of `now_epoch`. DTSTAMP is `now_epoch`.
std::string write_calendar(const std::vector<CalendarEvent>& events,
                           const std::vector<int>& alarm_days, std::int64_t now_epoch,
                           const std::string& calendar_name);

}  // namespace gabe::grants
