// The iCalendar feed end to end: fetched with ?token= as calendar apps do, checked for RFC 5545
// framing (CRLF, folding at 75 octets) and parsed back with libical: stable UIDs, SEQUENCE
// bumped on change, VALARMs, escaping, cancelled events for deleted deadlines.
#include <gtest/gtest.h>
#include <libical/ical.h>

#include <map>

#include "gabe/values.hpp"
#include "grants_fixture.hpp"

namespace gabe::test {
namespace {

class GrantsCalendar : public GrantsTest {
 protected:
  HttpResponse feed() { return client_->get("/v1/calendar.ics?token=" + viewer_token_); }
};

struct Event {
  std::string summary;
  std::string description;
  int sequence = -1;
  std::int64_t start = 0;
  bool cancelled = false;
  int alarms = 0;
  bool has_dtstamp = false;
};

// Checks the framing and parses the feed with libical: UID -> event.
std::map<std::string, Event> parse_feed(const std::string& text) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    auto end = text.find("\r\n", pos);
    EXPECT_NE(end, std::string::npos) << "a line without CRLF at " << pos;
    if (end == std::string::npos) break;
    EXPECT_LE(end - pos, 75U) << text.substr(pos, end - pos);
    EXPECT_EQ(text.substr(pos, end - pos).find('\n'), std::string::npos);
    pos = end + 2;
  }
  std::map<std::string, Event> out;
  icalcomponent* cal = icalparser_parse_string(text.c_str());
  EXPECT_NE(cal, nullptr);
  if (cal == nullptr) return out;
  EXPECT_EQ(icalcomponent_isa(cal), ICAL_VCALENDAR_COMPONENT);
  EXPECT_EQ(icalcomponent_count_errors(cal), 0);
  for (icalcomponent* ev = icalcomponent_get_first_component(cal, ICAL_VEVENT_COMPONENT);
       ev != nullptr; ev = icalcomponent_get_next_component(cal, ICAL_VEVENT_COMPONENT)) {
    Event e;
    e.summary = icalcomponent_get_summary(ev) ? icalcomponent_get_summary(ev) : "";
    e.description = icalcomponent_get_description(ev) ? icalcomponent_get_description(ev) : "";
    icalproperty* seq = icalcomponent_get_first_property(ev, ICAL_SEQUENCE_PROPERTY);
    if (seq) e.sequence = icalproperty_get_sequence(seq);
    e.start =
        icaltime_as_timet_with_zone(icalcomponent_get_dtstart(ev), icaltimezone_get_utc_timezone());
    e.cancelled = icalcomponent_get_status(ev) == ICAL_STATUS_CANCELLED;
    e.alarms = icalcomponent_count_components(ev, ICAL_VALARM_COMPONENT);
    e.has_dtstamp = icalcomponent_get_first_property(ev, ICAL_DTSTAMP_PROPERTY) != nullptr;
    out[icalcomponent_get_uid(ev)] = e;
  }
  icalcomponent_free(cal);
  return out;
}

TEST_F(GrantsCalendar, FeedIsValidIcalendarWithStableUidsSequencesAndAlarms) {
  // Commas, semicolons, a backslash, a newline and many umlauts: escaping and folding at 75
  // octets (never inside a UTF-8 character) are libical's, and must come back intact.
  const std::string title =
      "Förderung; Übergänge, Brücken \\ Öffentlichkeitsarbeit für ältere Menschen in "
      "Großstädten – ein langes Vorhaben";
  const auto grant = make_grant(title);
  const auto due = now_epoch_seconds() + 10 * 86400;
  const auto id = make_deadline(grant, R"("kind": "application", "owner": "KM",
      "notes": "Zeile 1\nZeile 2", "due_at": ")" +
                                           format_instant({due, 0}) + "\"");
  auto r = feed();
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.header("content-type").value_or(""), "text/calendar; charset=utf-8");
  auto events = parse_feed(r.body);
  const std::string uid = "deadline-" + std::to_string(id) + "-1@gabe-grants";
  ASSERT_EQ(events.count(uid), 1U) << r.body;
  const auto& e = events[uid];
  EXPECT_EQ(e.summary, "Antrag: " + title + " (Aktion Mensch)");
  EXPECT_NE(e.description.find("Verantwortlich: KM"), std::string::npos) << e.description;
  EXPECT_NE(e.description.find("Zeile 1\nZeile 2"), std::string::npos) << e.description;
  EXPECT_EQ(e.start, due);
  EXPECT_EQ(e.sequence, 1);
  EXPECT_EQ(e.alarms, 2);  // GABE_GRANTS_CALENDAR_ALARMS 7,1
  EXPECT_TRUE(e.has_dtstamp);
  EXPECT_FALSE(e.cancelled);

  // A change keeps the UID and raises SEQUENCE.
  ASSERT_EQ(call("PATCH", "/v1/deadlines/" + std::to_string(id), R"({"owner": "AB"})").status, 200);
  events = parse_feed(feed().body);
  EXPECT_EQ(events[uid].sequence, 2);
  EXPECT_NE(events[uid].description.find("Verantwortlich: AB"), std::string::npos);

  // English on request; the Bearer header works as well as ?token=.
  auto en =
      client_->request("GET", "/v1/calendar.ics",
                       {{"Authorization", "Bearer " + viewer_token_}, {"Accept-Language", "en"}});
  ASSERT_EQ(en.status, 200);
  EXPECT_EQ(parse_feed(en.body)[uid].summary, "Application: " + title + " (Aktion Mensch)");
}

TEST_F(GrantsCalendar, ACompletionCanBeUndoneAuditedAndSeenInTheFeed) {
  const auto grant = make_grant();
  const auto id = make_deadline(grant, R"("kind": "interim_report", "due_on": "2027-06-30",
      "recurrence": {"every_months": 6, "until": "2028-06-30"})");
  const std::string base = "/v1/deadlines/" + std::to_string(id);
  const std::string uid = "deadline-" + std::to_string(id) + "-2@gabe-grants";
  // Nothing is done yet: nothing to reopen.
  EXPECT_EQ(call("POST", base + "/reopen", "", fundraiser_token_).status, 409);
  ASSERT_EQ(call("POST", base + "/complete", R"({"occurrence": 2})", fundraiser_token_).status,
            200);
  auto events = parse_feed(feed().body);
  EXPECT_EQ(events[uid].summary.rfind("Erledigt", 0), 0U) << events[uid].summary;
  EXPECT_EQ(events[uid].sequence, 2);

  EXPECT_EQ(call("POST", base + "/reopen", "", viewer_token_).status, 403);
  EXPECT_EQ(call("POST", base + "/reopen", R"({"occurrence": 9})", fundraiser_token_).status, 422);
  EXPECT_EQ(call("POST", base + "/reopen", R"({"occurrence": "2"})", fundraiser_token_).status,
            422);
  EXPECT_EQ(
      call("POST", base + "/reopen", R"({"occurrence": 2, "x": 1})", fundraiser_token_).status,
      422);
  EXPECT_EQ(call("POST", "/v1/deadlines/999999/reopen", "", fundraiser_token_).status, 404);
  auto reopened = call("POST", base + "/reopen", "", fundraiser_token_);  // the one done last
  ASSERT_EQ(reopened.status, 200) << reopened.body;
  EXPECT_EQ(std::string((*json(reopened))["occurrences"][1]["state"].GetString()), "open");
  EXPECT_EQ(scalar("SELECT count(*) FROM grants.completions"), "0");
  events = parse_feed(feed().body);
  EXPECT_EQ(events[uid].summary.rfind("Zwischenbericht", 0), 0U) << events[uid].summary;
  EXPECT_EQ(events[uid].sequence, 3);
  // Reopening an open occurrence changes nothing and is answered the same.
  EXPECT_EQ(call("POST", base + "/reopen", R"({"occurrence": 2})", fundraiser_token_).status, 200);
  EXPECT_EQ(parse_feed(feed().body)[uid].sequence, 3);
  auto audit = get("/v1/audit?action=deadline.reopen");
  ASSERT_EQ(audit.status, 200);
  ASSERT_EQ((*json(audit))["items"].Size(), 1U) << audit.body;
}

TEST_F(GrantsCalendar, RecurrencesAreEventsAndDeletedOnesAreCancelled) {
  const auto grant = make_grant();
  const auto id = make_deadline(grant, R"("kind": "interim_report", "due_on": "2027-03-31",
      "recurrence": {"every_months": 3, "until": "2027-12-31"})");
  auto events = parse_feed(feed().body);
  const auto uid = [&](int occurrence) {
    return "deadline-" + std::to_string(id) + "-" + std::to_string(occurrence) + "@gabe-grants";
  };
  for (int k = 1; k <= 4; ++k) ASSERT_EQ(events.count(uid(k)), 1U) << k;
  EXPECT_EQ(events[uid(1)].start, 1806530340);  // 2027-03-31T21:59:00Z (CEST)
  EXPECT_EQ(events[uid(4)].start, 1830293940);  // 2027-12-31T22:59:00Z (CET)

  // Shortened: the occurrences it lost are published as cancelled.
  ASSERT_EQ(call("PATCH", "/v1/deadlines/" + std::to_string(id),
                 R"({"recurrence": {"every_months": 3, "until": "2027-06-30"}})")
                .status,
            200);
  events = parse_feed(feed().body);
  EXPECT_FALSE(events[uid(2)].cancelled);
  EXPECT_TRUE(events[uid(3)].cancelled);
  EXPECT_TRUE(events[uid(4)].cancelled);
  EXPECT_EQ(events[uid(4)].alarms, 0);

  // Deleted: every event stays in the feed as cancelled, with a higher SEQUENCE.
  ASSERT_EQ(call("DELETE", "/v1/deadlines/" + std::to_string(id)).status, 200);
  events = parse_feed(feed().body);
  for (int k = 1; k <= 4; ++k) {
    EXPECT_TRUE(events[uid(k)].cancelled) << k;
    EXPECT_EQ(events[uid(k)].sequence, 3) << k;
  }
  EXPECT_EQ(get("/v1/deadlines/" + std::to_string(id)).status, 404);
}

TEST_F(GrantsCalendar, TheFeedNeedsAValidToken) {
  EXPECT_EQ(client_->get("/v1/calendar.ics").status, 401);
  EXPECT_EQ(client_->get("/v1/calendar.ics?token=gabe_nonsense").status, 401);
  EXPECT_EQ(client_->get("/v1/calendar.ics?token=").status, 401);
  EXPECT_EQ(feed().status, 200);
}

// Hostile ?token= and ?owner= values: bytes that are not text are refused where the query is
// read (400), a token of the wrong shape is just not a token (401), an owner over its length
// is a 422 naming it, and a header that is not a bearer token is not overridden by ?token=.
TEST_F(GrantsCalendar, HostileTokenAndOwnerParametersAreRefused) {
  const std::string base = "/v1/calendar.ics?token=";
  EXPECT_EQ(client_->get(base + "%FF%FE").status, 400);
  EXPECT_EQ(client_->get(base + "gabe_%00x").status, 400);
  EXPECT_EQ(client_->get(base + "gabe_x%0D%0AAuthorization:%20Bearer%20" + viewer_token_).status,
            401);
  EXPECT_EQ(client_->get(base + std::string(300, 'a')).status, 401);
  EXPECT_EQ(client_->get(base + viewer_token_ + "x").status, 401);
  EXPECT_EQ(client_->get(base + "%20" + viewer_token_).status, 401);
  // Every role may read the feed; the token in the URL works for each.
  EXPECT_EQ(client_->get(base + fundraiser_token_).status, 200);
  EXPECT_EQ(client_->get(base + admin_token_).status, 200);
  // A header that is there wins, even when it is not a bearer token.
  EXPECT_EQ(
      client_
          ->request("GET", base + viewer_token_, {{"Authorization", "Basic dXNlcjpwYXNzd29yZA=="}})
          .status,
      401);

  auto long_owner = client_->get(base + viewer_token_ + "&owner=" + std::string(201, 'K'));
  EXPECT_EQ(long_owner.status, 422) << long_owner.body;
  EXPECT_NE(long_owner.body.find("owner"), std::string::npos) << long_owner.body;
  EXPECT_EQ(client_->get(base + viewer_token_ + "&owner=%C3%28").status, 400);
  // SQL-looking text is a filter value that matches nobody.
  make_deadline(make_grant(), R"("kind": "loi", "owner": "KM", "due_on": "2099-01-10")");
  ASSERT_NE(feed().body.find("BEGIN:VEVENT"), std::string::npos);
  auto evil = client_->get(base + viewer_token_ + "&owner=x%27%20OR%201=1;--");
  ASSERT_EQ(evil.status, 200) << evil.body;
  EXPECT_EQ(evil.body.find("BEGIN:VEVENT"), std::string::npos) << evil.body;
}

}  // namespace
}  // namespace gabe::test
