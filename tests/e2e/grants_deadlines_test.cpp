// Deadlines end to end: due_on as 23:59 Europe/Berlin across the DST changes, recurrence with
// month-end clamping, occurrences listed by window and state, completion per occurrence.
#include <gtest/gtest.h>

#include "grants_fixture.hpp"

namespace gabe::test {
namespace {

class GrantsDeadlines : public GrantsTest {};

std::vector<std::string> due_times(const rapidjson::Value& deadline) {
  std::vector<std::string> out;
  for (const auto& o : deadline["occurrences"].GetArray())
    out.emplace_back(o["due_at"].GetString());
  return out;
}

TEST_F(GrantsDeadlines, DueOnIsTheEndOfThatDayInBerlinOnBothSidesOfEachDstChange) {
  const auto grant = make_grant();
  // 2026: summer time starts on Sunday 29 March and ends on Sunday 25 October.
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"2026-03-28", "2026-03-28T22:59:00Z"},  // CET, +01:00
      {"2026-03-29", "2026-03-29T21:59:00Z"},  // the change day: already CEST at 23:59
      {"2026-10-24", "2026-10-24T21:59:00Z"},  // CEST, +02:00
      {"2026-10-25", "2026-10-25T22:59:00Z"},  // the change day: CET again at 23:59
  };
  for (const auto& [day, instant] : cases) {
    const auto id = make_deadline(grant, R"("kind": "application", "due_on": ")" + day + "\"");
    auto r = get("/v1/deadlines/" + std::to_string(id), viewer_token_);
    ASSERT_EQ(r.status, 200) << r.body;
    auto doc = json(r);
    EXPECT_EQ(std::string((*doc)["due_at"].GetString()), instant) << day;
    EXPECT_EQ(std::string((*doc)["due_on"].GetString()), day);
    EXPECT_EQ(due_times(*doc), std::vector<std::string>{instant}) << day;
  }
}

TEST_F(GrantsDeadlines, RecurrenceKeepsTheLocalTimeAndClampsToTheMonthsEnd) {
  const auto grant = make_grant();
  const auto monthly = make_deadline(
      grant,
      R"("kind": "interim_report", "due_on": "2027-01-31", "internal_due_on": "2027-01-20",
         "recurrence": {"every_months": 1, "until": "2027-05-31"})");
  auto doc = json(get("/v1/deadlines/" + std::to_string(monthly)));
  EXPECT_EQ(due_times(*doc),
            (std::vector<std::string>{"2027-01-31T22:59:00Z", "2027-02-28T22:59:00Z",
                                      "2027-03-31T21:59:00Z", "2027-04-30T21:59:00Z",
                                      "2027-05-31T21:59:00Z"}));
  EXPECT_EQ(std::string((*doc)["occurrences"][1]["internal_due_on"].GetString()), "2027-02-20");

  // 09:00 local time every six months, across the summer: the instant moves, the hour not.
  const auto half_yearly =
      make_deadline(grant, R"("kind": "financial_report", "due_at": "2027-01-15T09:00:00+01:00",
                "recurrence": {"every_months": 6, "until": "2028-01-15"})");
  doc = json(get("/v1/deadlines/" + std::to_string(half_yearly)));
  EXPECT_EQ(due_times(*doc),
            (std::vector<std::string>{"2027-01-15T08:00:00Z", "2027-07-15T07:00:00Z",
                                      "2028-01-15T08:00:00Z"}));

  // Shortening the recurrence removes occurrences; the revision counts the change.
  auto r = call("PATCH", "/v1/deadlines/" + std::to_string(monthly),
                R"({"recurrence": {"every_months": 1, "until": "2027-02-28"}})");
  ASSERT_EQ(r.status, 200) << r.body;
  doc = json(r);
  EXPECT_EQ(due_times(*doc).size(), 2U);
  EXPECT_EQ((*doc)["revision"].GetInt(), 2);
}

TEST_F(GrantsDeadlines, ListsOccurrencesByWindowAndStateSortedByDueTime) {
  const auto grant = make_grant();
  const auto overdue =
      make_deadline(grant, R"("kind": "loi", "due_at": ")" + instant_from_now(-2 * 86400) + "\"");
  const auto soon = make_deadline(
      grant, R"("kind": "application", "due_at": ")" + instant_from_now(5 * 86400) + "\"");
  const auto later = make_deadline(
      grant, R"("kind": "final_report", "due_at": ")" + instant_from_now(60 * 86400) + "\"");
  const auto ids = [&](const std::string& query) {
    auto r = get("/v1/deadlines" + query, viewer_token_);
    EXPECT_EQ(r.status, 200) << r.body;
    std::vector<std::int64_t> out;
    const auto doc = json(r);  // alive for the loop: a temporary in the range would not be
    for (const auto& item : (*doc)["items"].GetArray()) out.push_back(item["id"].GetInt64());
    return out;
  };
  EXPECT_EQ(ids(""), (std::vector<std::int64_t>{overdue, soon, later}));
  EXPECT_EQ(ids("?within_days=7"), (std::vector<std::int64_t>{overdue, soon}));
  EXPECT_EQ(ids("?state=overdue"), (std::vector<std::int64_t>{overdue}));
  EXPECT_EQ(ids("?state=open&within_days=30"), (std::vector<std::int64_t>{soon}));
  EXPECT_EQ(ids("?state=done"), std::vector<std::int64_t>{});

  auto done =
      call("POST", "/v1/deadlines/" + std::to_string(overdue) + "/complete", "", fundraiser_token_);
  ASSERT_EQ(done.status, 200) << done.body;
  EXPECT_EQ(ids("?state=done"), (std::vector<std::int64_t>{overdue}));
  EXPECT_EQ(ids("?state=overdue"), std::vector<std::int64_t>{});

  // Paging: one at a time, the cursor leads through all three in order.
  std::vector<std::int64_t> paged;
  std::string after;
  for (int i = 0; i < 5; ++i) {
    auto r = get("/v1/deadlines?limit=1" + (after.empty() ? "" : "&after=" + after));
    ASSERT_EQ(r.status, 200) << r.body;
    auto doc = json(r);
    for (const auto& item : (*doc)["items"].GetArray()) paged.push_back(item["id"].GetInt64());
    if ((*doc)["next"].IsNull()) break;
    after = (*doc)["next"].GetString();
  }
  EXPECT_EQ(paged, (std::vector<std::int64_t>{overdue, soon, later}));
  EXPECT_EQ(get("/v1/deadlines?state=late").status, 422);
  EXPECT_EQ(get("/v1/deadlines?within_days=-1").status, 422);
}

TEST_F(GrantsDeadlines, CompletionIsPerOccurrence) {
  const auto grant = make_grant();
  const auto id = make_deadline(grant, R"("kind": "interim_report", "due_on": "2027-06-30",
      "recurrence": {"every_months": 6, "until": "2028-06-30"})");
  const std::string target = "/v1/deadlines/" + std::to_string(id) + "/complete";
  auto first = call("POST", target, "", fundraiser_token_);
  ASSERT_EQ(first.status, 200) << first.body;
  auto doc = json(first);
  EXPECT_EQ(std::string((*doc)["occurrences"][0]["state"].GetString()), "done");
  EXPECT_EQ(std::string((*doc)["occurrences"][1]["state"].GetString()), "open");
  auto third = call("POST", target, R"({"occurrence": 3})", fundraiser_token_);
  ASSERT_EQ(third.status, 200) << third.body;
  doc = json(third);
  EXPECT_EQ(std::string((*doc)["occurrences"][1]["state"].GetString()), "open");
  EXPECT_EQ(std::string((*doc)["occurrences"][2]["state"].GetString()), "done");
  // Again: nothing changes, the answer is the same.
  EXPECT_EQ(call("POST", target, R"({"occurrence": 3})", fundraiser_token_).status, 200);
  EXPECT_EQ(call("POST", target, R"({"occurrence": 9})", fundraiser_token_).status, 422);
  EXPECT_EQ(call("POST", target, "", fundraiser_token_).status, 200);  // the second
  EXPECT_EQ(call("POST", target, "", fundraiser_token_).status, 409);  // all three done
  EXPECT_EQ(scalar("SELECT count(*) FROM grants.completions"), "3");
}

TEST_F(GrantsDeadlines, BadDeadlinesAreRefusedNamingTheField) {
  const auto grant = make_grant();
  const std::string target = "/v1/grants/" + std::to_string(grant) + "/deadlines";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"kind": "loi"})", "due_on"},
      {R"({"kind": "loi", "due_on": "2027-01-01", "due_at": "2027-01-01T10:00:00Z"})", "due_at"},
      {R"({"kind": "party", "due_on": "2027-01-01"})", "kind"},
      {R"({"kind": "loi", "due_on": "2027-02-30"})", "due_on"},
      {R"({"kind": "loi", "due_at": "tomorrow"})", "due_at"},
      {R"({"kind": "loi", "due_on": "2027-01-10", "internal_due_on": "2027-01-11"})",
       "internal_due_on"},
      {R"({"kind": "loi", "due_on": "2027-01-10", "recurrence": {"every_months": 0, "until": "2028-01-01"}})",
       "recurrence.every_months"},
      {R"({"kind": "loi", "due_on": "2027-01-10", "recurrence": {"every_months": 1, "until": "2026-01-01"}})",
       "recurrence.until"},
      {R"({"kind": "loi", "due_on": "2027-01-10", "recurrence": {"every_months": 1, "until": "2199-01-01"}})",
       "recurrence.until"},
      {R"({"kind": "loi", "due_on": "2027-01-10", "recurrence": "monthly"})", "recurrence"},
  };
  for (const auto& [body, field] : cases) {
    auto r = call("POST", target, body, fundraiser_token_);
    EXPECT_EQ(r.status, 422) << body << " " << r.body;
    EXPECT_NE(r.body.find("\"field\":\"" + field + "\""), std::string::npos) << body << r.body;
  }
  EXPECT_EQ(scalar("SELECT count(*) FROM grants.deadlines"), "0");
  EXPECT_EQ(
      call("POST", "/v1/grants/999999/deadlines", R"({"kind": "loi", "due_on": "2027-01-01"})")
          .status,
      404);
}

}  // namespace
}  // namespace gabe::test
