// Reminders through the transactional outbox, end to end with a local receiver
// (tests/support/webhook_receiver.hpp): the latest due level only, Standard Webhooks
// signatures checked by the receiver with gabe-ingest's verifier, retries with backoff, dead
// letters, and no second delivery of an acknowledged message after a kill -9 mid-delivery.
#include <gtest/gtest.h>

#include <csignal>
#include <map>
#include <thread>

#include "gabe/json.hpp"
#include "grants_fixture.hpp"
#include "webhook_receiver.hpp"

namespace gabe::test {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

class GrantsReminders : public GrantsTest {
 protected:
  explicit GrantsReminders(std::map<std::string, std::string> extra = {})
      : GrantsTest(std::move(extra)) {}

  // Subscribes the receiver to both reminder events.
  void subscribe() {
    JsonWriter w;
    w.begin_object()
        .field("url", receiver_.url())
        .field("events", std::vector<std::string>{"deadline.reminder", "deadline.overdue"})
        .end_object();
    auto r = call("POST", "/v1/subscriptions", w.take());
    ASSERT_EQ(r.status, 201) << r.body;
    auto doc = json(r);
    const std::string secret = (*doc)["secret"].GetString();
    ASSERT_EQ(secret.rfind("whsec_", 0), 0U);
    receiver_.set_secret(secret);
  }

  std::string message_states() {
    return scalar(
        "SELECT string_agg(state || ':' || attempts, ',' ORDER BY id) FROM outbox.messages");
  }

  WebhookReceiver receiver_;
};

TEST_F(GrantsReminders, OnlyTheLatestDueLevelIsSentSignedAndOnce) {
  subscribe();
  const auto grant = make_grant("Quartiersarbeit");
  // Due in 5 days: the 30-, 14- and 7-day levels have all come; only the 7-day one goes out.
  const auto id = make_deadline(grant, R"("kind": "application", "owner": "KM", "due_at": ")" +
                                           instant_from_now(5 * 86400) + "\"");
  ASSERT_TRUE(receiver_.wait_for(1, seconds(10))) << "no reminder within 10 s";
  std::this_thread::sleep_for(seconds(3));
  auto got = receiver_.received();
  ASSERT_EQ(got.size(), 1U) << message_states();
  const auto& w = got[0];
  EXPECT_TRUE(w.signature_ok) << w.headers.at("webhook-signature");
  EXPECT_EQ(w.headers.at("content-type"), "application/json");
  EXPECT_EQ(w.target, "/hook");
  auto body = parse_json(w.body);
  EXPECT_EQ(std::string((*body)["type"].GetString()), "deadline.reminder");
  EXPECT_TRUE((*body)["timestamp"].IsString());
  const auto& data = (*body)["data"];
  EXPECT_EQ(data["offset_days"].GetInt(), 7);
  EXPECT_EQ(data["deadline"]["id"].GetInt64(), id);
  EXPECT_EQ(data["deadline"]["occurrence"].GetInt(), 1);
  EXPECT_EQ(std::string(data["deadline"]["kind"].GetString()), "application");
  EXPECT_EQ(std::string(data["grant"]["title"].GetString()), "Quartiersarbeit");
  EXPECT_EQ(std::string(data["grant"]["funder"]["name"].GetString()), "Aktion Mensch");
  EXPECT_EQ(std::string(data["due_at"].GetString()),
            std::string(data["deadline"]["due_at"].GetString()));
  EXPECT_EQ(message_states(), "delivered:1");
  EXPECT_EQ(metric(R"(gabe_grants_reminders_total{outcome="delivered"})"), 1);
  EXPECT_EQ(metric(R"(gabe_grants_deadlines{state="open",window="7d"})"), 1);

  // The list shows the subscription without its secret.
  auto list = get("/v1/subscriptions");
  ASSERT_EQ(list.status, 200);
  EXPECT_EQ(list.body.find("whsec_"), std::string::npos) << list.body;
  EXPECT_NE(list.body.find(receiver_.url()), std::string::npos);

  // Moving the due time to tomorrow starts over: the 1-day level goes out.
  ASSERT_EQ(call("PATCH", "/v1/deadlines/" + std::to_string(id),
                 R"({"due_at": ")" + instant_from_now(20 * 3600) + "\"}")
                .status,
            200);
  ASSERT_TRUE(receiver_.wait_for(2, seconds(10)));
  EXPECT_EQ((*parse_json(receiver_.received()[1].body))["data"]["offset_days"].GetInt(), 1);
  // A completed deadline is reminded of no more.
  ASSERT_EQ(call("POST", "/v1/deadlines/" + std::to_string(id) + "/complete").status, 200);
  std::this_thread::sleep_for(seconds(2));
  EXPECT_EQ(receiver_.count(), 2U);
}

TEST_F(GrantsReminders, AfterDowntimeOnlyTheLatestLevelGoesOutNoBurst) {
  subscribe();
  // Due in 40 days: no level has come yet.
  const auto id = make_deadline(
      make_grant(), R"("kind": "final_report", "due_at": ")" + instant_from_now(40 * 86400) + "\"");
  std::this_thread::sleep_for(seconds(2));
  EXPECT_EQ(receiver_.count(), 0U);
  // The service is down while 39 days pass (the deadline moved closer behind its back, as the
  // clock would have moved it): the 30-, 14- and 7-day levels were all missed.
  service_->kill9();
  scalar(
      "UPDATE grants.deadlines SET first_due_at = now() + interval '1 day 2 hours', "
      "local_due = (now() + interval '1 day 2 hours') AT TIME ZONE 'Europe/Berlin' WHERE id = " +
      std::to_string(id));
  service_->restart();
  client_ = std::make_unique<HttpClient>(service_->port());
  ASSERT_TRUE(receiver_.wait_for(1, seconds(10))) << message_states();
  std::this_thread::sleep_for(seconds(3));
  ASSERT_EQ(receiver_.count(), 1U) << message_states();
  EXPECT_EQ((*parse_json(receiver_.received()[0].body))["data"]["offset_days"].GetInt(), 7);
}

// POST /v1/subscriptions with hostile bodies: a clear 4xx each, nothing stored.
TEST_F(GrantsReminders, HostileSubscriptionsAreA4xxAndStoreNothing) {
  const std::string hook = "http://hooks.example.org/gabe";
  auto with_url = [](const std::string& url) {
    return R"({"url": ")" + url + R"(", "events": ["deadline.reminder"]})";
  };
  std::string many_events;
  for (int i = 0; i < 21; ++i)
    many_events += std::string(i == 0 ? "" : ", ") + "\"deadline.reminder\"";
  const std::vector<std::pair<std::string, int>> cases = {
      {with_url("http://h/" + std::string(2000, 'a')), 422},
      {with_url("http://h/\xff\xfe"), 400},  // not UTF-8
      {with_url("http://h/\\u0000"), 422},
      {with_url("http://[::1"), 422},
      {R"({"url": ")" + hook + R"(", "events": []})", 422},
      {R"({"url": ")" + hook + R"(", "events": ["deadline.unknown"]})", 422},
      {R"({"url": ")" + hook + R"(", "events": "deadline.reminder"})", 422},
      {R"({"url": ")" + hook + R"(", "events": [)" + many_events + "]}", 422},
      {R"({"url": 7, "events": ["deadline.reminder"]})", 422},
      {R"({"events": ["deadline.reminder"]})", 422},
      {std::string(10000, '[') + std::string(10000, ']'), 400},
  };
  for (const auto& [body, status] : cases) {
    auto r = call("POST", "/v1/subscriptions", body);
    EXPECT_EQ(r.status, status) << testing::PrintToString(body.substr(0, 80)) << " " << r.body;
  }
  EXPECT_EQ(call("POST", "/v1/subscriptions", with_url(hook), viewer_token_).status, 403);
  EXPECT_EQ(get("/v1/subscriptions/abc").status, 404);
  EXPECT_EQ(get("/v1/subscriptions/99999999999999999999").status, 404);
  EXPECT_EQ(call("DELETE", "/v1/subscriptions/424242", "").status, 404);
  EXPECT_EQ(scalar("SELECT count(*) FROM outbox.subscriptions"), "0");
}

TEST_F(GrantsReminders, AFailedDeliveryIsRetriedWithBackoffUntilAcknowledged) {
  subscribe();
  receiver_.fail_first(3, 503);
  const auto grant = make_grant();
  make_deadline(grant, R"("kind": "loi", "due_at": ")" + instant_from_now(-3600) + "\"");
  ASSERT_TRUE(receiver_.wait_for(4, seconds(20))) << message_states();
  std::this_thread::sleep_for(seconds(2));
  auto got = receiver_.received();
  ASSERT_EQ(got.size(), 4U);
  for (const auto& w : got) {
    EXPECT_EQ(w.headers.at("webhook-id"), got[0].headers.at("webhook-id"));
    EXPECT_TRUE(w.signature_ok);
    EXPECT_EQ(std::string((*parse_json(w.body))["type"].GetString()), "deadline.overdue");
  }
  // Backoff: base 200 ms, doubling; the dispatcher looks every 500 ms at the latest.
  const auto gap = [&](int i) {
    return std::chrono::duration_cast<milliseconds>(got[i].at - got[i - 1].at).count();
  };
  EXPECT_GE(gap(1), 150);
  EXPECT_GE(gap(3), 700);
  EXPECT_LT(gap(1), 5000);
  EXPECT_EQ(message_states(), "delivered:4");
  EXPECT_EQ(metric(R"(gabe_grants_reminders_total{outcome="failed"})"), 3);
  EXPECT_EQ(metric(R"(gabe_grants_reminders_total{outcome="delivered"})"), 1);
}

TEST_F(GrantsReminders, SigtermDuringADeliveryExitsCleanlyAndTheMessageStaysPending) {
  subscribe();
  receiver_.hold(true);
  make_deadline(make_grant(), R"("kind": "loi", "due_at": ")" + instant_from_now(-60) + "\"");
  ASSERT_TRUE(receiver_.wait_for(1, seconds(10))) << message_states();
  const auto start = std::chrono::steady_clock::now();
  service_->process().signal(SIGTERM);
  // The attempt in flight ends at its timeout (2 s here), unacknowledged.
  EXPECT_EQ(service_->process().wait(seconds(20)), 0);
  EXPECT_LT(std::chrono::steady_clock::now() - start, seconds(15));
  receiver_.hold(false);
  EXPECT_EQ(message_states(), "pending:1");
}

TEST_F(GrantsReminders, TheServiceWorksAsItsOwnLeastPrivilegedRole) {
  // Everything above ran as the database owner; here a second gabe-grants runs as gabe_grants,
  // as deployments run it: every route and the background work must manage with its grants.
  service_->kill9();  // the fixture's owner-run service would deliver too
  login_role("gabe_grants");
  Service as_grants(
      "gabe-grants",
      "postgresql://gabe_grants@127.0.0.1:" + std::to_string(cluster_->port()) + "/" + db_name_,
      settings_);
  client_ = std::make_unique<HttpClient>(as_grants.port());
  subscribe();
  const auto grant = make_grant();
  ASSERT_EQ(call("PATCH", "/v1/grants/" + std::to_string(grant), R"({"status": "loi"})").status,
            200);
  const auto id =
      make_deadline(grant, R"("kind": "loi", "due_at": ")" + instant_from_now(-60) + "\"");
  ASSERT_TRUE(receiver_.wait_for(1, seconds(10))) << message_states();
  EXPECT_TRUE(receiver_.received()[0].signature_ok);
  EXPECT_EQ(client_->get("/v1/calendar.ics?token=" + viewer_token_).status, 200);
  EXPECT_EQ(get("/v1/deadlines?state=overdue").status, 200);
  EXPECT_EQ(call("POST", "/v1/deadlines/" + std::to_string(id) + "/complete").status, 200);
  EXPECT_EQ(call("DELETE", "/v1/deadlines/" + std::to_string(id)).status, 200);
  EXPECT_EQ(get("/v1/grants/" + std::to_string(grant) + "/history").status, 200);
  EXPECT_EQ(get("/v1/audit?action=grant.status").status, 200);
  EXPECT_EQ(call("DELETE", "/v1/subscriptions/1").status, 200);
  EXPECT_EQ(call("DELETE", "/v1/grants/" + std::to_string(grant)).status, 200);
  EXPECT_EQ(metric(R"(gabe_grants_reminders_total{outcome="delivered"})"), 1);
}

class GrantsDeadLetters : public GrantsReminders {
 protected:
  GrantsDeadLetters() : GrantsReminders({{"GABE_WEBHOOK_DEAD_LETTER_SECONDS", "3"}}) {}
};

TEST_F(GrantsDeadLetters, FailuresPastTheDeadLetterAgeStopAndAreCounted) {
  subscribe();
  receiver_.answer_always(500);
  const auto grant = make_grant();
  make_deadline(grant, R"("kind": "loi", "due_at": ")" + instant_from_now(-60) + "\"");
  ASSERT_TRUE(wait_until([&] { return message_states().rfind("dead", 0) == 0; }, seconds(20)))
      << message_states();
  const auto attempts = receiver_.count();
  EXPECT_GE(attempts, 2U);
  std::this_thread::sleep_for(seconds(3));
  EXPECT_EQ(receiver_.count(), attempts);
  EXPECT_EQ(metric(R"(gabe_grants_reminders_total{outcome="dead_letter"})"), 1);
  auto sub = json(get("/v1/subscriptions"));
  EXPECT_EQ((*sub)["items"][0]["dead_letters"].GetInt(), 1);
  EXPECT_EQ((*sub)["items"][0]["pending"].GetInt(), 0);
}

TEST_F(GrantsReminders, AKillDuringDeliveryNeverRepeatsAnAcknowledgedReminder) {
  subscribe();
  const auto grant = make_grant();
  receiver_.hold(true);
  for (int i = 0; i < 3; ++i) {
    make_deadline(grant, R"("kind": "other", "due_at": ")" + instant_from_now(-600 - i) + "\"");
  }
  // Deliveries are under way and unanswered: kill the service in the middle of them.
  ASSERT_TRUE(receiver_.wait_for(1, seconds(10))) << message_states();
  std::this_thread::sleep_for(milliseconds(300));
  const auto cut = receiver_.count();
  service_->kill9();
  receiver_.hold(false);
  EXPECT_EQ(scalar("SELECT count(*) FROM outbox.messages WHERE state = 'delivered'"), "0");

  service_->restart();
  client_ = std::make_unique<HttpClient>(service_->port());
  // The claims of the killed process run out (lease: timeout 2 s + 5 s), then all go out.
  ASSERT_TRUE(wait_until(
      [&] {
        return scalar("SELECT count(*) FROM outbox.messages WHERE state = 'delivered'") == "3";
      },
      seconds(30)))
      << message_states();
  std::this_thread::sleep_for(seconds(3));
  // The decision was made once: three levels, three messages, even across the restart.
  EXPECT_EQ(scalar("SELECT count(*) FROM grants.reminders"), "3");
  EXPECT_EQ(scalar("SELECT count(*) FROM outbox.messages"), "3");
  // Each webhook-id reached the receiver at most twice (the cut attempt and the acknowledged
  // one) and was answered by a living sender once: after acknowledgement, never again.
  std::map<std::string, int> per_id;
  for (const auto& w : receiver_.received()) ++per_id[w.headers.at("webhook-id")];
  EXPECT_EQ(per_id.size(), 3U);
  std::size_t total = 0;
  for (const auto& [id, n] : per_id) {
    EXPECT_LE(n, 2) << id;
    total += static_cast<std::size_t>(n);
  }
  EXPECT_EQ(total, 3U + cut) << "only the attempts cut by the kill were repeated";
}

// Without GABE_WEBHOOK_ALLOW_PRIVATE the service calls no internal address (SSRF): none is
// accepted as a subscriber URL, and a stored name that resolves to one is not connected to.
class GrantsRemindersGuarded : public GrantsReminders {
 protected:
  GrantsRemindersGuarded() : GrantsReminders({{"GABE_WEBHOOK_ALLOW_PRIVATE", "0"}}) {}
};

TEST_F(GrantsRemindersGuarded, InternalAddressesAreRefusedAtSubscriptionAndAtDelivery) {
  const std::vector<std::string> internal = {
      receiver_.url(),       "http://169.254.169.254/latest/meta-data/",
      "http://localhost:9/", "http://2130706433/",
      "http://[::1]:9/",     "http://10.1.2.3/",
      "http://0.0.0.0:9/",   "http://[::ffff:192.168.0.1]/"};
  for (const auto& url : internal) {
    JsonWriter w;
    w.begin_object()
        .field("url", url)
        .field("events", std::vector<std::string>{"deadline.reminder"})
        .end_object();
    auto r = call("POST", "/v1/subscriptions", w.take());
    EXPECT_EQ(r.status, 422) << url << " " << r.body;
  }
  EXPECT_EQ(scalar("SELECT count(*) FROM outbox.subscriptions"), "0");
  // A public host is still accepted (nothing is resolved at subscription time).
  EXPECT_EQ(call("POST", "/v1/subscriptions",
                 R"({"url": "https://hooks.example.org/gabe", "events": ["deadline.overdue"]})")
                .status,
            201);

  // A subscription stored before (or written around the API) whose name resolves to loopback.
  scalar(
      "INSERT INTO outbox.subscriptions (service, url, events, secret, created_by) VALUES "
      "('grants', 'http://localhost:" +
      std::to_string(receiver_.port()) +
      "/hook', '{deadline.reminder}', 'whsec_c2VjcmV0', 'test') RETURNING id");
  const auto grant = make_grant();
  make_deadline(grant, R"("kind": "application", "owner": "KM", "due_at": ")" +
                           instant_from_now(5 * 86400) + "\"");
  ASSERT_TRUE(wait_until(
      [&] {
        return scalar("SELECT count(*) FROM outbox.messages WHERE last_error LIKE 'refused%'") ==
               "1";
      },
      seconds(15)))
      << message_states();
  EXPECT_TRUE(receiver_.received().empty()) << "the receiver on loopback was called";
}

}  // namespace
}  // namespace gabe::test
