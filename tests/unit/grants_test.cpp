// The pure parts of gabe-grants and of the shared outbox: the status pipeline, the settings'
// day lists, the retry backoff, subscriber URLs, outgoing signatures (checked with gabe-ingest's
// verifier) and the calendar writer (parsed back with libical).
#include <gtest/gtest.h>
#include <libical/ical.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string_view>
#include <vector>

#include "calendar.hpp"
#include "gabe/crypto.hpp"
#include "gabe/outbox.hpp"
#include "gabe/service.hpp"
#include "gabe/webhook_sender.hpp"
#include "grants_settings.hpp"
#include "status.hpp"
#include "webhook_signature.hpp"

namespace gabe {
namespace {

TEST(GrantStatus, FollowsThePipelineAndNothingElse) {
  using grants::is_allowed_move;
  EXPECT_TRUE(is_allowed_move("prospect", "loi"));
  EXPECT_TRUE(is_allowed_move("prospect", "drafting"));
  EXPECT_TRUE(is_allowed_move("submitted", "awarded"));
  EXPECT_TRUE(is_allowed_move("submitted", "rejected"));
  EXPECT_TRUE(is_allowed_move("awarded", "reporting"));
  EXPECT_TRUE(is_allowed_move("reporting", "closed"));
  EXPECT_TRUE(is_allowed_move("rejected", "prospect"));
  EXPECT_FALSE(is_allowed_move("prospect", "awarded"));
  EXPECT_FALSE(is_allowed_move("drafting", "awarded"));
  EXPECT_FALSE(is_allowed_move("closed", "prospect"));
  EXPECT_FALSE(is_allowed_move("awarded", "submitted"));
  EXPECT_FALSE(is_allowed_move("unknown", "loi"));
  // Every status can be reached from prospect, and every move leads to a known status.
  const auto& all = grants::grant_statuses();
  for (auto from : all) {
    for (auto to : grants::allowed_moves(from)) {
      EXPECT_NE(std::find(all.begin(), all.end(), to), all.end()) << from << " -> " << to;
    }
  }
  std::vector<std::string_view> reached = {"prospect"};
  for (std::size_t i = 0; i < reached.size(); ++i) {
    for (auto to : grants::allowed_moves(reached[i])) {
      if (std::find(reached.begin(), reached.end(), to) == reached.end()) reached.push_back(to);
    }
  }
  for (auto status : all) {
    EXPECT_NE(std::find(reached.begin(), reached.end(), status), reached.end()) << status;
  }
}

TEST(GrantsSettings, DayListsAreCheckedAndSortedLatestFirst) {
  EXPECT_EQ(grants::parse_day_list("30,14,7,1", "X"), (std::vector<int>{30, 14, 7, 1}));
  EXPECT_EQ(grants::parse_day_list(" 1, 60 ,7", "X"), (std::vector<int>{60, 7, 1}));
  for (const char* bad :
       {"", "0", "366", "7,7", "a", "7,", ",7", "-1", "1,2,3,4,5,6,7,8,9,10,11", "1000"}) {
    EXPECT_THROW(grants::parse_day_list(bad, "GABE_GRANTS_REMINDER_OFFSETS"), ConfigError) << bad;
  }
  try {
    grants::parse_day_list("x", "GABE_GRANTS_REMINDER_OFFSETS");
    ADD_FAILURE() << "no ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("GABE_GRANTS_REMINDER_OFFSETS"), std::string::npos);
  }
}

TEST(GrantsSettings, ArchitectureDocListsEveryGrantsSetting) {
  std::ifstream in(std::string(GABE_SOURCE_DIR) + "/docs/architecture.md");
  std::stringstream doc;
  doc << in.rdbuf();
  for (const auto& s : grants::settings()) {
    const auto row = doc.str().find("| `" + s.name + "` | " + s.default_value + " |");
    EXPECT_NE(row, std::string::npos) << s.name << " with default " << s.default_value;
  }
}

TEST(Outbox, BackoffDoublesFromTheBaseUpToTheMaximum) {
  using std::chrono::milliseconds;
  EXPECT_EQ(outbox::backoff(1, milliseconds(2000), milliseconds(3600000)), milliseconds(2000));
  EXPECT_EQ(outbox::backoff(2, milliseconds(2000), milliseconds(3600000)), milliseconds(4000));
  EXPECT_EQ(outbox::backoff(5, milliseconds(2000), milliseconds(3600000)), milliseconds(32000));
  EXPECT_EQ(outbox::backoff(40, milliseconds(2000), milliseconds(3600000)), milliseconds(3600000));
  EXPECT_EQ(outbox::backoff(0, milliseconds(200), milliseconds(1000)), milliseconds(200));
}

TEST(WebhookUrl, AcceptsHttpAndHttpsUrlsOnly) {
  auto u = webhooks::parse_webhook_url("https://hooks.example.org/gabe?team=1");
  ASSERT_TRUE(u);
  EXPECT_TRUE(u->https);
  EXPECT_EQ(u->host, "hooks.example.org");
  EXPECT_EQ(u->port, 443);
  EXPECT_EQ(u->target, "/gabe?team=1");
  u = webhooks::parse_webhook_url("HTTP://127.0.0.1:8085");
  ASSERT_TRUE(u);
  EXPECT_FALSE(u->https);
  EXPECT_EQ(u->port, 8085);
  EXPECT_EQ(u->target, "/");
  u = webhooks::parse_webhook_url("http://[::1]:9000/x");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->host, "::1");
  for (const char* bad :
       {"", "ftp://x", "http://", "http://user:pw@host/", "http://host:0/", "http://host:65536/",
        "http://host:/", "http://ho st/", "http://host/a b", "http://host/#frag", "https://-x/",
        "http://[::1/", "http://[..]:9/", "javascript:alert(1)", "http://host/\x01"}) {
    EXPECT_FALSE(webhooks::parse_webhook_url(bad)) << bad;
  }
  EXPECT_FALSE(webhooks::parse_webhook_url("http://h/" + std::string(2000, 'a')));
}

TEST(OutgoingWebhook, WhatTheSenderSignsTheIngestVerifierAccepts) {
  const std::string secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
  const std::string body = R"({"type":"deadline.reminder","data":{}})";
  const auto header = webhooks::sign(secret, "msg_1", 1700000000, body);
  EXPECT_EQ(header.rfind("v1,", 0), 0U);
  EXPECT_EQ(header, ingest::sign_webhook(secret, "msg_1", 1700000000, body));
  EXPECT_EQ(
      ingest::verify_webhook_signature({secret}, "msg_1", "1700000000", header, body, 1700000010),
      ingest::SignatureCheck::ok);
  EXPECT_EQ(ingest::verify_webhook_signature({secret}, "msg_1", "1700000000", header, body + " ",
                                             1700000010),
            ingest::SignatureCheck::mismatch);
}

// One implementation signs and verifies: a secret without the "whsec_" prefix is an HMAC key
// as it is on both sides (ingest's sources may have such secrets), not Base64 to decode.
TEST(OutgoingWebhook, OneImplementationSignsAndVerifiesEverySecretForm) {
  const std::string body = R"({"type":"deadline.reminder"})";
  for (const char* secret : {"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "plain-source-secret"}) {
    const auto header = webhooks::sign(secret, "msg_2", 1700000000, body);
    EXPECT_EQ(webhooks::verify({secret}, "msg_2", "1700000000", header, body, 1700000000),
              webhooks::SignatureCheck::ok)
        << secret;
  }
  EXPECT_EQ(webhooks::sign("plain-source-secret", "msg_2", 1700000000, body),
            "v1," + crypto::base64_encode(
                        crypto::hmac_sha256("plain-source-secret", "msg_2.1700000000." + body)));
  EXPECT_EQ(webhooks::verify({"plain-source-secret"}, "msg_2", "1700000000",
                             webhooks::sign("other", "msg_2", 1700000000, body), body, 1700000000),
            webhooks::SignatureCheck::mismatch);
}

TEST(OutgoingWebhook, InternalHostsAreRecognisedInEveryForm) {
  for (const char* internal : {"http://127.0.0.1/",
                               "http://127.1/",
                               "http://2130706433/",
                               "http://0x7f000001/",
                               "http://0.0.0.0/",
                               "http://0/",
                               "http://169.254.169.254/latest/meta-data/",
                               "http://10.0.0.1/",
                               "http://172.16.0.1/",
                               "http://172.31.255.255/",
                               "http://192.168.1.1/",
                               "http://100.64.0.1/",
                               "http://224.0.0.1/",
                               "http://255.255.255.255/",
                               "http://[::1]/",
                               "http://[::]/",
                               "http://[fe80::1]/",
                               "http://[fd00::1]/",
                               "http://[::ffff:127.0.0.1]/",
                               "http://[::ffff:a9fe:a9fe]/",
                               "http://[64:ff9b::10.0.0.1]/",
                               "http://localhost:8080/",
                               "http://LocalHost./",
                               "http://api.localhost/"}) {
    auto url = webhooks::parse_webhook_url(internal);
    ASSERT_TRUE(url) << internal;
    EXPECT_TRUE(webhooks::is_internal_host(*url)) << internal;
  }
  for (const char* external :
       {"https://hooks.example.org/x", "http://8.8.8.8/", "http://172.32.0.1/",
        "http://169.255.0.1/", "http://[2001:4860:4860::8888]/", "http://[::ffff:8.8.8.8]/",
        "http://notlocalhost/", "http://localhost.example.org/"}) {
    auto url = webhooks::parse_webhook_url(external);
    ASSERT_TRUE(url) << external;
    EXPECT_FALSE(webhooks::is_internal_host(*url)) << external;
  }
}

// At delivery the resolved addresses decide: "localhost" is a name, and it is not connected to
// unless internal addresses are allowed (then the closed port answers "connection refused").
TEST(OutgoingWebhook, ANameResolvingToLoopbackIsNotConnectedTo) {
  const webhooks::WebhookUrl url{false, "localhost", 1, "/"};
  auto refused = webhooks::post_signed(url, "whsec_c2VjcmV0", "msg_1", 1700000000, "{}",
                                       std::chrono::seconds(2), false);
  EXPECT_EQ(refused.status, 0);
  EXPECT_EQ(refused.error.rfind("refused:", 0), 0U) << refused.error;
  auto allowed = webhooks::post_signed(url, "whsec_c2VjcmV0", "msg_1", 1700000000, "{}",
                                       std::chrono::seconds(2), true);
  EXPECT_EQ(allowed.status, 0);
  EXPECT_EQ(allowed.error.rfind("connect", 0), 0U) << allowed.error;
}

TEST(GrantsCalendarWriter, WritesRfc5545ThatLibicalReadsBack) {
  grants::CalendarEvent open;
  open.deadline_id = 7;
  open.occurrence = 2;
  open.sequence = 3;
  open.due_epoch = 1806530340;
  open.modified_epoch = 1700000000;
  open.summary = std::string("Antrag; Brücke, \"Öffentlichkeit\" ") + std::string(60, 'x') + "äöü";
  open.description = "Zeile 1\nZeile 2\\";
  grants::CalendarEvent gone = open;
  gone.occurrence = 3;
  gone.cancelled = true;
  // Done, and already past: shown, but without alarms.
  grants::CalendarEvent done = open;
  done.occurrence = 4;
  done.done = true;
  grants::CalendarEvent past = open;
  past.occurrence = 1;
  past.due_epoch = 1600000000;
  const auto text = grants::write_calendar({open, gone, done, past}, {7, 1}, 1700000000, "Fristen");
  std::size_t pos = 0;
  while (pos < text.size()) {
    const auto end = text.find("\r\n", pos);
    ASSERT_NE(end, std::string::npos);
    EXPECT_LE(end - pos, 75U);
    pos = end + 2;
  }
  EXPECT_NE(text.find("METHOD:PUBLISH"), std::string::npos);
  icalcomponent* cal = icalparser_parse_string(text.c_str());
  ASSERT_NE(cal, nullptr);
  icalcomponent* ev = icalcomponent_get_first_component(cal, ICAL_VEVENT_COMPONENT);
  ASSERT_NE(ev, nullptr);
  EXPECT_EQ(std::string(icalcomponent_get_uid(ev)), "deadline-7-2@gabe-grants");
  EXPECT_EQ(std::string(icalcomponent_get_summary(ev)), open.summary);
  EXPECT_EQ(std::string(icalcomponent_get_description(ev)), open.description);
  EXPECT_EQ(icalcomponent_count_components(ev, ICAL_VALARM_COMPONENT), 2);
  EXPECT_EQ(icalcomponent_get_status(ev), ICAL_STATUS_CONFIRMED);
  ev = icalcomponent_get_next_component(cal, ICAL_VEVENT_COMPONENT);
  ASSERT_NE(ev, nullptr);
  EXPECT_EQ(icalcomponent_get_status(ev), ICAL_STATUS_CANCELLED);
  EXPECT_EQ(icalcomponent_count_components(ev, ICAL_VALARM_COMPONENT), 0);
  for (const char* uid : {"deadline-7-4@gabe-grants", "deadline-7-1@gabe-grants"}) {
    ev = icalcomponent_get_next_component(cal, ICAL_VEVENT_COMPONENT);
    ASSERT_NE(ev, nullptr) << uid;
    EXPECT_EQ(std::string(icalcomponent_get_uid(ev)), uid);
    EXPECT_EQ(icalcomponent_get_status(ev), ICAL_STATUS_CONFIRMED) << uid;
    EXPECT_EQ(icalcomponent_count_components(ev, ICAL_VALARM_COMPONENT), 0) << uid;
  }
  icalcomponent_free(cal);
}

}  // namespace
}  // namespace gabe
