// gabe-grants end to end: funders and grants, status moves and their history, money, PATCH
// semantics, roles, hostile input (unknown fields included), the database role's grants, and the
// database going away and coming back.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>
#include <tuple>

#include "grants_fixture.hpp"

namespace gabe::test {
namespace {

class GrantsApi : public GrantsTest {};

std::string str(const rapidjson::Value& v, const char* key) {
  if (!v.HasMember(key) || !v[key].IsString()) return "<not a string>";
  return v[key].GetString();
}

TEST_F(GrantsApi, FundersAndGrantsWithExactMoneyAndStatusHistory) {
  auto f = call("POST", "/v1/funders",
                R"({"name": "Stiftung Mitarbeit", "kind": "foundation",
                    "website": "https://www.mitarbeit.de", "notes": "Kleinprojekte"})",
                fundraiser_token_);
  ASSERT_EQ(f.status, 201) << f.body;
  const auto funder = id_of(f);
  auto g = call("POST", "/v1/grants",
                R"({"funder_id": )" + std::to_string(funder) +
                    R"(, "title": "Nachbarschaftscafé", "programme": "Engagement vor Ort",
                    "amount_requested": "12500.50", "amount_awarded": 10000.1,
                    "owner": "KM", "period_start": "2027-01-01", "period_end": "2027-12-31"})",
                fundraiser_token_);
  ASSERT_EQ(g.status, 201) << g.body;
  const auto id = id_of(g);
  auto doc = json(g);
  EXPECT_EQ(str(*doc, "status"), "prospect");
  EXPECT_EQ(str(*doc, "amount_requested"), "12500.50");
  EXPECT_EQ(str(*doc, "amount_awarded"), "10000.10");
  EXPECT_TRUE((*doc)["amount_received"].IsNull());
  EXPECT_EQ(str(*doc, "funder"), "Stiftung Mitarbeit");

  const std::string target = "/v1/grants/" + std::to_string(id);
  for (const char* to : {"loi", "drafting", "submitted", "awarded", "reporting"}) {
    auto r = call("PATCH", target, std::string(R"({"status": ")") + to + "\"}", fundraiser_token_);
    ASSERT_EQ(r.status, 200) << to << ": " << r.body;
  }
  // An invalid move is a 422 that names both ends and changes nothing.
  auto bad = call("PATCH", target, R"({"status": "drafting", "title": "x"})", fundraiser_token_);
  ASSERT_EQ(bad.status, 422) << bad.body;
  EXPECT_NE(bad.body.find("from reporting to drafting"), std::string::npos) << bad.body;
  EXPECT_EQ(scalar("SELECT title FROM grants.grants WHERE id = " + std::to_string(id)),
            "Nachbarschaftscafé");

  auto received = call("PATCH", target, R"({"amount_received": "9999.99"})", fundraiser_token_);
  ASSERT_EQ(received.status, 200) << received.body;
  EXPECT_EQ(str(*json(received), "amount_received"), "9999.99");

  auto h = get(target + "/history", viewer_token_);
  ASSERT_EQ(h.status, 200) << h.body;
  auto hist = json(h);
  const auto& items = (*hist)["items"];
  ASSERT_EQ(items.Size(), 6U);
  EXPECT_TRUE(items[0]["from"].IsNull());
  EXPECT_EQ(str(items[0], "to"), "prospect");
  EXPECT_EQ(str(items[1], "from"), "prospect");
  EXPECT_EQ(str(items[1], "to"), "loi");
  EXPECT_EQ(str(items[5], "to"), "reporting");
  EXPECT_EQ(str(items[5], "actor"), "fundraiser");
  EXPECT_NE(str(items[5], "at"), "<not a string>");

  auto audit = get("/v1/audit?action=grant.status");
  ASSERT_EQ(audit.status, 200);
  EXPECT_EQ((*json(audit))["items"].Size(), 5U) << audit.body;

  auto list = get("/v1/grants?status=reporting", viewer_token_);
  ASSERT_EQ(list.status, 200);
  EXPECT_EQ((*json(list))["items"].Size(), 1U);
  auto none = get("/v1/grants?status=closed", viewer_token_);
  EXPECT_EQ((*json(none))["items"].Size(), 0U);

  // A funder with grants cannot go; the grant can, and then the funder.
  EXPECT_EQ(call("DELETE", "/v1/funders/" + std::to_string(funder), "", fundraiser_token_).status,
            409);
  EXPECT_EQ(call("DELETE", target, "", fundraiser_token_).status, 200);
  EXPECT_EQ(get(target).status, 404);
  EXPECT_EQ(call("DELETE", "/v1/funders/" + std::to_string(funder), "", fundraiser_token_).status,
            200);
}

TEST_F(GrantsApi, PatchSetsGivenFieldsClearsNullsAndKeepsTheRest) {
  const auto id = make_grant();
  const std::string target = "/v1/grants/" + std::to_string(id);
  ASSERT_EQ(call("PATCH", target, R"({"programme": "Teilhabe", "owner": "AB"})").status, 200);
  auto r = call("PATCH", target, R"({"programme": null})");
  ASSERT_EQ(r.status, 200) << r.body;
  auto doc = json(r);
  EXPECT_TRUE((*doc)["programme"].IsNull());
  EXPECT_EQ(str(*doc, "owner"), "AB");
  EXPECT_EQ(str(*doc, "title"), "Inklusion im Quartier");

  auto null_title = call("PATCH", target, R"({"title": null})");
  EXPECT_EQ(null_title.status, 422);
  EXPECT_NE(null_title.body.find("\"field\":\"title\""), std::string::npos) << null_title.body;
  auto period =
      call("PATCH", target, R"({"period_start": "2027-06-01", "period_end": "2027-01-01"})");
  EXPECT_EQ(period.status, 422);
  EXPECT_EQ(call("PATCH", "/v1/grants/999999", R"({"title": "x"})").status, 404);
}

TEST_F(GrantsApi, ViewerReadsFundraiserWritesAdminSubscribes) {
  const auto body = R"({"name": "Land Berlin", "kind": "public"})";
  EXPECT_EQ(call("POST", "/v1/funders", body, viewer_token_).status, 403);
  EXPECT_EQ(
      client_->request("POST", "/v1/funders", {{"Content-Type", "application/json"}}, body).status,
      401);
  EXPECT_EQ(call("POST", "/v1/funders", body, fundraiser_token_).status, 201);
  EXPECT_EQ(get("/v1/funders", viewer_token_).status, 200);
  const auto grant = make_grant();
  EXPECT_EQ(
      call("PATCH", "/v1/grants/" + std::to_string(grant), R"({"status": "loi"})", viewer_token_)
          .status,
      403);
  EXPECT_EQ(call("POST", "/v1/grants/" + std::to_string(grant) + "/deadlines",
                 R"({"kind": "loi", "due_on": "2027-03-01"})", viewer_token_)
                .status,
            403);
  const auto sub = R"({"url": "http://127.0.0.1:9/hook", "events": ["deadline.reminder"]})";
  EXPECT_EQ(call("POST", "/v1/subscriptions", sub, fundraiser_token_).status, 403);
  EXPECT_EQ(call("POST", "/v1/subscriptions", sub).status, 201);
  EXPECT_EQ(get("/v1/audit", fundraiser_token_).status, 403);
}

TEST_F(GrantsApi, HostileInputIsAClear4xxAndChangesNothing) {
  const auto grants_before = scalar("SELECT count(*) FROM grants.grants");
  EXPECT_EQ(call("POST", "/v1/funders", R"({"name": "x", "kind": )").status, 400);
  EXPECT_EQ(call("POST", "/v1/funders", R"(["name"])").status, 422);
  EXPECT_EQ(
      client_
          ->request("POST", "/v1/funders",
                    {{"Authorization", "Bearer " + admin_token_}, {"Content-Type", "text/plain"}},
                    R"({"name": "x", "kind": "eu"})")
          .status,
      415);
  EXPECT_EQ(call("POST", "/v1/funders", R"({"name": "x", "kind": "bank"})").status, 422);
  EXPECT_EQ(call("POST", "/v1/funders", R"({"name": "a\u0000b", "kind": "eu"})").status, 422);
  EXPECT_EQ(call("POST", "/v1/funders",
                 R"j({"name": "x", "kind": "eu", "website": "javascript:alert(1)"})j")
                .status,
            422);
  EXPECT_EQ(call("POST", "/v1/grants", R"({"funder_id": 424242, "title": "x"})").status, 422);
  const auto grant = make_grant();
  const std::string target = "/v1/grants/" + std::to_string(grant);
  for (const char* body : {R"({"amount_requested": "-5.00"})", R"({"amount_requested": "1.999"})",
                           R"({"amount_requested": 1e300})", R"({"period_start": "0000-00-00"})",
                           R"({"status": "won"})", R"({"funder_id": "1"})", R"({"title": 7})",
                           R"({"titel": "x"})", R"({"title": "x", "id": 5})"}) {
    auto r = call("PATCH", target, body);
    EXPECT_EQ(r.status, 422) << body << " " << r.body;
  }
  // Oversize and absurd bodies: over the body limit 413, deep nesting 400, a field over its
  // length 422.
  EXPECT_EQ(call("POST", "/v1/funders",
                 R"({"name": "x", "kind": "eu", "notes": ")" + std::string(2 << 20, 'a') + "\"}")
                .status,
            413);
  EXPECT_EQ(call("POST", "/v1/funders", std::string(10000, '[') + std::string(10000, ']')).status,
            400);
  EXPECT_EQ(call("POST", "/v1/funders",
                 R"({"name": "x", "kind": "eu", "notes": ")" + std::string(5001, 'a') + "\"}")
                .status,
            422);
  EXPECT_EQ(scalar("SELECT count(*) FROM grants.funders"), "1");  // make_grant's only
  // Unknown fields are named, not ignored, everywhere a body is read.
  auto typo = call("POST", "/v1/funders", R"({"name": "x", "kind": "eu", "webiste": "x"})");
  EXPECT_EQ(typo.status, 422);
  EXPECT_NE(typo.body.find(R"("field":"webiste")"), std::string::npos) << typo.body;
  auto nested = call("POST", target + "/deadlines",
                     R"({"kind": "loi", "due_on": "2027-01-10",
                         "recurrence": {"every_months": 1, "until": "2027-06-01", "count": 3}})");
  EXPECT_EQ(nested.status, 422);
  EXPECT_NE(nested.body.find(R"("field":"recurrence.count")"), std::string::npos) << nested.body;
  EXPECT_EQ(
      call("POST", target + "/deadlines", R"({"kind": "loi", "due_on": "2027-01-10", "x": 1})")
          .status,
      422);
  // The subscription route (shared outbox) names the unknown field as every other body does.
  auto secret = call("POST", "/v1/subscriptions",
                     R"({"url": "https://hooks.example.org/", "events": ["deadline.reminder"],
                         "secret": "whsec_mine"})");
  EXPECT_EQ(secret.status, 422);
  EXPECT_NE(secret.body.find(R"({"field":"secret","message":"is not a field of this request"})"),
            std::string::npos)
      << secret.body;
  EXPECT_EQ(scalar("SELECT count(*) FROM grants.deadlines"), "0");
  EXPECT_EQ(scalar("SELECT count(*) FROM outbox.subscriptions"), "0");
  EXPECT_EQ(get("/v1/grants/1%27%20OR%201=1").status, 404);
  EXPECT_EQ(get("/v1/grants?status=x%27;DROP%20TABLE%20grants.grants").status, 422);
  EXPECT_EQ(get("/v1/deadlines?after=1;DROP").status, 422);
  // SQL-looking text is data.
  const std::string evil = "x'); DROP TABLE grants.grants; --";
  auto r = call("PATCH", target, R"({"title": "x'); DROP TABLE grants.grants; --"})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(scalar("SELECT title FROM grants.grants WHERE id = " + std::to_string(grant)), evil);
  EXPECT_EQ(std::stoll(scalar("SELECT count(*) FROM grants.grants")),
            std::stoll(grants_before) + 1);
}

// The parts of a request that the other hostile tests leave out: bodies that are not UTF-8,
// the occurrence body of complete and reopen, and the query parameters of the lists (the
// occurrence cursor above all, which is parsed by hand).
TEST_F(GrantsApi, HostileBodiesAndQueryParametersOfEveryListAndAction) {
  EXPECT_EQ(call("POST", "/v1/funders",
                 "{\"name\": \"a\xff\xfe"
                 "b\", \"kind\": \"eu\"}")
                .status,
            400);
  EXPECT_EQ(call("POST", "/v1/funders", "{\"n\xc3\": \"x\", \"kind\": \"eu\"}").status, 400);
  EXPECT_EQ(scalar("SELECT count(*) FROM grants.funders"), "0");

  const auto grant = make_grant();
  const auto deadline = make_deadline(grant, R"("kind": "loi", "due_on": "2099-01-10")");
  const std::string complete = "/v1/deadlines/" + std::to_string(deadline) + "/complete";
  for (const char* body :
       {R"({"occurrence": 0})", R"({"occurrence": -1})", R"({"occurrence": 601})",
        R"({"occurrence": 1e30})", R"({"occurrence": 1.5})", R"({"occurrence": null, "x": 1})",
        R"([1])", R"("1")"}) {
    auto r = call("POST", complete, body, fundraiser_token_);
    EXPECT_EQ(r.status, 422) << body << " " << r.body;
  }
  EXPECT_EQ(call("POST", complete, R"({"occurrence": )", fundraiser_token_).status, 400);
  EXPECT_EQ(client_
                ->request("POST", complete,
                          {{"Authorization", "Bearer " + fundraiser_token_},
                           {"Content-Type", "text/plain"}},
                          R"({"occurrence": 1})")
                .status,
            415);
  EXPECT_EQ(call("POST", complete, "", viewer_token_).status, 403);
  EXPECT_EQ(scalar("SELECT count(*) FROM grants.completions"), "0");

  const std::string long_owner = "owner=" + std::string(201, 'K');
  for (const auto& query : std::vector<std::string>{
           "after=99999999999999999999.1.1", "after=1.99999999999999999999.1", "after=-.1.1",
           "after=1.2.3.4", "after=1..2", "after=.1.2", "after=1.2.", "after=--1.2.3",
           "after=1.-2.3", "after=%E2%80%8B1.2.3", "within_days=-1", "within_days=36501",
           "within_days=1e3", "limit=0", "limit=1001", "state=late", "grant_id=0", long_owner}) {
    auto r = get("/v1/deadlines?" + query, viewer_token_);
    EXPECT_EQ(r.status, 422) << query << " " << r.body;
  }
  // A negative due time (before 1970) is still a cursor.
  EXPECT_EQ(get("/v1/deadlines?after=-5.1.1", viewer_token_).status, 200);
  EXPECT_EQ(get("/v1/deadlines?owner=%FF", viewer_token_).status, 400);

  for (const char* query : {"status=won", "funder_id=0", "funder_id=x", "limit=0", "after=x"}) {
    EXPECT_EQ(get(std::string("/v1/grants?") + query, viewer_token_).status, 422) << query;
  }
  for (const char* query : {"kind=bank", "limit=100000", "after=-1x"}) {
    EXPECT_EQ(get(std::string("/v1/funders?") + query, viewer_token_).status, 422) << query;
  }
  EXPECT_EQ(get("/v1/grants/" + std::to_string(grant) + "/history?after=x", viewer_token_).status,
            422);
  EXPECT_EQ(
      get("/v1/grants/" + std::to_string(grant) + "/deadlines?limit=-1", viewer_token_).status,
      422);
  EXPECT_EQ(get("/v1/deadlines/99999999999999999999", viewer_token_).status, 404);
}

// The subscription routes the shared outbox registers for this service: every body the
// create route refuses, the roles, and ids that are not subscriptions of this service.
TEST_F(GrantsApi, HostileSubscriptionRequestsAreRefusedAndStoreNothing) {
  const std::string long_url = "https://hooks.example.org/" + std::string(2000, 'a');
  for (const std::string& body : {
           std::string(R"({"url": "https://hooks.example.org/", "events": []})"),
           std::string(R"({"url": "https://hooks.example.org/", "events": ["deadline.late"]})"),
           std::string(R"({"url": "https://hooks.example.org/", "events": "deadline.reminder"})"),
           std::string(R"({"url": "https://hooks.example.org/", "events": [7]})"),
           std::string(R"({"url": "https://hooks.example.org/"})"),
           std::string(R"({"events": ["deadline.reminder"]})"),
           std::string(R"({"url": "ftp://hooks.example.org/", "events": ["deadline.reminder"]})"),
           std::string(
               R"({"url": "https://u:p@hooks.example.org/", "events": ["deadline.reminder"]})"),
           R"({"url": ")" + long_url + R"(", "events": ["deadline.reminder"]})",
           std::string(R"(["https://hooks.example.org/"])"),
       }) {
    auto r = call("POST", "/v1/subscriptions", body);
    EXPECT_EQ(r.status, 422) << body.substr(0, 120) << " " << r.body;
  }
  EXPECT_EQ(call("POST", "/v1/subscriptions",
                 "{\"url\": \"https://hooks.example.org/\xff\", \"events\": []}")
                .status,
            400);
  const auto ok = R"({"url": "https://hooks.example.org/", "events": ["deadline.reminder"]})";
  EXPECT_EQ(call("POST", "/v1/subscriptions", ok, viewer_token_).status, 403);
  EXPECT_EQ(scalar("SELECT count(*) FROM outbox.subscriptions"), "0");

  EXPECT_EQ(get("/v1/subscriptions", viewer_token_).status, 403);
  EXPECT_EQ(get("/v1/subscriptions?limit=0").status, 422);
  EXPECT_EQ(get("/v1/subscriptions/1").status, 404);
  EXPECT_EQ(get("/v1/subscriptions/x").status, 404);
  EXPECT_EQ(call("DELETE", "/v1/subscriptions/99999999999999999999").status, 404);
  // Another service's subscription is not one of this service's.
  scalar(
      "INSERT INTO outbox.subscriptions (service, url, events, secret, created_by) VALUES "
      "('scoring', 'https://hooks.example.org/', '{deadline.reminder}', 'whsec_c2VjcmV0', 'test')");
  const auto other = scalar("SELECT id FROM outbox.subscriptions");
  EXPECT_EQ(get("/v1/subscriptions/" + other).status, 404);
  EXPECT_EQ(call("DELETE", "/v1/subscriptions/" + other, "", fundraiser_token_).status, 403);
  EXPECT_EQ(call("DELETE", "/v1/subscriptions/" + other).status, 404);
  EXPECT_EQ(scalar("SELECT count(*) FROM outbox.subscriptions WHERE deleted_at IS NULL"), "1");
}

// A database that stalls (a lock held by someone else) gives a 503 with Retry-After within
// seconds, for the reads and the writes of deadlines and for the calendar feed, and the same
// requests work once the lock is gone.
TEST_F(GrantsApi, AHeldLockGives503WithRetryAfterAndThenWorks) {
  const auto grant = make_grant();
  const auto deadline = make_deadline(grant, R"("kind": "loi", "due_on": "2099-01-10")");
  pqxx::connection locker(cluster_->url(db_name_));
  pqxx::work lock(locker);
  lock.exec("LOCK TABLE grants.deadlines IN ACCESS EXCLUSIVE MODE");
  const std::vector<std::pair<std::string, std::string>> requests = {
      {"GET", "/v1/deadlines"},
      {"GET", "/v1/calendar.ics?token=" + viewer_token_},
      {"POST", "/v1/deadlines/" + std::to_string(deadline) + "/complete"},
  };
  // The feed as calendar apps fetch it: the token in the URL, no header.
  const auto send = [&](const std::string& method, const std::string& target) {
    if (target.rfind("/v1/calendar.ics", 0) == 0) return client_->get(target);
    return call(method, target, "", fundraiser_token_);
  };
  for (const auto& [method, target] : requests) {
    const auto start = std::chrono::steady_clock::now();
    auto r = send(method, target);
    const auto waited = std::chrono::steady_clock::now() - start;
    EXPECT_EQ(r.status, 503) << method << " " << target << " " << r.body;
    EXPECT_TRUE(r.header("retry-after").has_value()) << target;
    EXPECT_LT(waited, std::chrono::seconds(10)) << target;
  }
  EXPECT_EQ(client_->get("/healthz").status, 200);
  lock.abort();
  EXPECT_EQ(scalar("SELECT count(*) FROM grants.completions"), "0");
  for (const auto& [method, target] : requests) {
    EXPECT_EQ(send(method, target).status, 200) << target;
  }
  EXPECT_EQ(scalar("SELECT count(*) FROM grants.completions"), "1");
}

TEST_F(GrantsApi, TheGrantsRoleReachesOnlyItsSchemaAndTheOutbox) {
  EXPECT_EQ(as_role("gabe_grants", "SELECT count(*) FROM grants.deadline_occurrences()"), "ok");
  EXPECT_EQ(as_role("gabe_grants", "SELECT secret FROM outbox.subscriptions"), "ok");
  EXPECT_EQ(as_role("gabe_grants", "SELECT count(*) FROM donor.donors"), "42501");
  EXPECT_EQ(as_role("gabe_grants", "SELECT count(*) FROM pii.donor_pii"), "42501");
  EXPECT_EQ(as_role("gabe_grants", "DELETE FROM gabe.audit_log"), "42501");
  EXPECT_EQ(as_role("gabe_grants", "DELETE FROM outbox.messages"), "42501");
  EXPECT_EQ(as_role("gabe_ingest", "SELECT secret FROM outbox.subscriptions"), "42501");
  EXPECT_EQ(as_role("gabe_scoring", "SELECT count(*) FROM grants.grants"), "42501");
}

// The database away: every route that needs it answers 503 with Retry-After, health stays
// up, the scheduler and the dispatcher survive, and all works again once it is back.
class GrantsDatabaseDown : public GrantsTest {
 protected:
  GrantsDatabaseDown() { own_cluster_ = true; }  // stopping a shared server stops other tests
};

TEST_F(GrantsDatabaseDown, RoutesAnswer503AndRecoverWhenTheDatabaseIsBack) {
  const auto grant = make_grant();
  const auto deadline = make_deadline(grant, R"("kind": "loi", "due_on": "2027-01-10")");
  cluster_->stop();
  const auto started = std::chrono::steady_clock::now();
  for (const auto& [method, target, body] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
           {"GET", "/v1/deadlines", ""},
           {"GET", "/v1/grants/" + std::to_string(grant), ""},
           {"POST", "/v1/deadlines/" + std::to_string(deadline) + "/complete", ""},
           {"POST", "/v1/funders", R"({"name": "Stiftung", "kind": "foundation"})"},
           {"GET", "/v1/calendar.ics?token=" + viewer_token_, ""}}) {
    auto r = call(method, target, body);
    EXPECT_EQ(r.status, 503) << method << " " << target << " " << r.body;
    EXPECT_TRUE(r.header("retry-after").has_value()) << target;
  }
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(30));
  EXPECT_EQ(client_->get("/healthz").status, 200);
  EXPECT_EQ(client_->get("/readyz").status, 503);
  std::this_thread::sleep_for(std::chrono::seconds(2));  // a few scheduler and dispatcher rounds
  EXPECT_TRUE(service_->process().running());
  cluster_->start();
  EXPECT_TRUE(
      wait_until([&] { return get("/v1/deadlines").status == 200; }, std::chrono::seconds(10)));
  EXPECT_EQ(call("POST", "/v1/deadlines/" + std::to_string(deadline) + "/complete").status, 200);
  EXPECT_EQ(client_->get("/readyz").status, 200);
}

// A body with 100,000 unknown keys is one 422 that lists the first 50 and counts the rest,
// not 100,000 errors; nothing is stored.
TEST_F(GrantsApi, ErrorListsAreCappedForHugeBodies) {
  std::string body = R"({"name": "x", "kind": "eu")";
  for (int i = 0; i < 100000; ++i) {
    std::string key;
    for (int n = i; n > 0 || key.empty(); n /= 36)
      key += "0123456789abcdefghijklmnopqrstuvwxyz"[n % 36];
    body += ",\"_" + key + "\":0";
  }
  body += "}";
  ASSERT_LT(body.size(), 1U << 20);
  const auto before = scalar("SELECT count(*) FROM grants.funders");
  auto r = call("POST", "/v1/funders", body);
  ASSERT_EQ(r.status, 422) << r.body.substr(0, 300);
  auto doc = json(r);
  const auto& errors = (*doc)["errors"];
  ASSERT_EQ(errors.Size(), 51U);
  EXPECT_STREQ(errors[0]["field"].GetString(), "_0");
  EXPECT_STREQ(errors[0]["message"].GetString(), "is not a field of this request");
  EXPECT_STREQ(errors[50]["field"].GetString(), "");
  EXPECT_STREQ(errors[50]["message"].GetString(), "99950 more errors left out");
  EXPECT_LT(r.body.size(), 10000U);
  EXPECT_EQ(scalar("SELECT count(*) FROM grants.funders"), before);
}

}  // namespace
}  // namespace gabe::test
