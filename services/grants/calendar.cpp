#include "calendar.hpp"

#include <libical/ical.h>

#include <memory>
#include <stdexcept>

namespace gabe::grants {

namespace {

struct ComponentFree {
  void operator()(icalcomponent* c) const { icalcomponent_free(c); }
};
using Component = std::unique_ptr<icalcomponent, ComponentFree>;

icaltimetype utc_time(std::int64_t epoch) {
  return icaltime_from_timet_with_zone(static_cast<time_t>(epoch), 0,
                                       icaltimezone_get_utc_timezone());
}

icalcomponent* make_alarm(int days, const std::string& summary) {
  icalcomponent* alarm = icalcomponent_new(ICAL_VALARM_COMPONENT);
  icalcomponent_add_property(alarm, icalproperty_new_action(ICAL_ACTION_DISPLAY));
  icalcomponent_add_property(alarm,
                             icalproperty_new_trigger(icaltriggertype_from_int(-days * 86400)));
  icalcomponent_add_property(alarm, icalproperty_new_description(summary.c_str()));
  return alarm;
}

}  // namespace

std::string event_uid(std::int64_t deadline_id, int occurrence) {
  return "deadline-" + std::to_string(deadline_id) + "-" + std::to_string(occurrence) +
         "@gabe-grants";
}

std::string write_calendar(const std::vector<CalendarEvent>& events,
                           const std::vector<int>& alarm_days, std::int64_t now_epoch,
                           const std::string& calendar_name) {
  Component cal(icalcomponent_new(ICAL_VCALENDAR_COMPONENT));
  icalcomponent_add_property(cal.get(), icalproperty_new_version("2.0"));
  icalcomponent_add_property(cal.get(), icalproperty_new_prodid("-//Gabe//gabe-grants//EN"));
  icalcomponent_add_property(cal.get(), icalproperty_new_calscale("GREGORIAN"));
  icalcomponent_add_property(cal.get(), icalproperty_new_method(ICAL_METHOD_PUBLISH));
  icalproperty* name = icalproperty_new_x(calendar_name.c_str());
  icalproperty_set_x_name(name, "X-WR-CALNAME");
  icalcomponent_add_property(cal.get(), name);
  // How often clients that honour it (Outlook, Apple) should fetch again.
  icalcomponent_add_property(cal.get(),
                             icalproperty_new_refreshinterval(icaldurationtype_from_int(3600)));
  icalproperty* ttl = icalproperty_new_x("PT1H");
  icalproperty_set_x_name(ttl, "X-PUBLISHED-TTL");
  icalcomponent_add_property(cal.get(), ttl);

  const icaltimetype stamp = utc_time(now_epoch);
  for (const auto& e : events) {
    icalcomponent* ev = icalcomponent_new(ICAL_VEVENT_COMPONENT);
    const std::string uid = event_uid(e.deadline_id, e.occurrence);
    icalcomponent_add_property(ev, icalproperty_new_uid(uid.c_str()));
    icalcomponent_add_property(ev, icalproperty_new_dtstamp(stamp));
    icalcomponent_add_property(ev, icalproperty_new_dtstart(utc_time(e.due_epoch)));
    icalcomponent_add_property(ev, icalproperty_new_sequence(e.sequence));
    icalcomponent_add_property(ev, icalproperty_new_lastmodified(utc_time(e.modified_epoch)));
    icalcomponent_add_property(ev, icalproperty_new_summary(e.summary.c_str()));
    if (!e.description.empty()) {
      icalcomponent_add_property(ev, icalproperty_new_description(e.description.c_str()));
    }
    icalcomponent_add_property(ev, icalproperty_new_transp(ICAL_TRANSP_TRANSPARENT));
    icalcomponent_add_property(
        ev, icalproperty_new_status(e.cancelled ? ICAL_STATUS_CANCELLED : ICAL_STATUS_CONFIRMED));
    if (!e.cancelled && !e.done && e.due_epoch > now_epoch) {
      for (int days : alarm_days) icalcomponent_add_component(ev, make_alarm(days, e.summary));
    }
    icalcomponent_add_component(cal.get(), ev);
  }
  char* text = icalcomponent_as_ical_string_r(cal.get());
  if (text == nullptr) throw std::runtime_error("libical could not write the calendar");
  std::string out(text);
  icalmemory_free_buffer(text);
  return out;
}

}  // namespace gabe::grants
