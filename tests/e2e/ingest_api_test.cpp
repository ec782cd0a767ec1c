// gabe-ingest against a real PostgreSQL: every status code of the contract, idempotency,
// ordering, placeholders, merges, erasure and export, import.
#include <gtest/gtest.h>

#include <algorithm>
#include <ctime>
#include <fstream>
#include <thread>

#include "gabe/json.hpp"
#include "ingest_fixture.hpp"
#include "webhook_signature.hpp"

namespace gabe::test {
namespace {

const char* kGift =
    R"({"gift_ref":"g1","donor_ref":"d1","amount":"19.99","received_on":"2026-11-20"})";

class IngestApi : public IngestTest {};

TEST_F(IngestApi, SignedWebhookIsProcessedAndTheDonorCanBeSeen) {
  auto r = event(
      "donor.upserted",
      R"({"donor_ref":"d1","first_name":"Anna","last_name":"Schmidt","email":"anna@example.org",
                     "consent":{"email":true,"post":false},"tags":["mitglied"]})",
      "ev-1");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, R"({"status":"processed","event_id":"ev-1"})");
  ASSERT_EQ(event("gift.created", kGift, "ev-2").status, 200);

  auto found = get("/v1/donors?source=crm&ref=d1", viewer_token_);
  ASSERT_EQ(found.status, 200) << found.body;
  auto d = json(found);
  EXPECT_STREQ((*d)["contact"]["first_name"].GetString(), "Anna");
  EXPECT_TRUE((*d)["consent"]["email"]["granted"].GetBool());
  EXPECT_FALSE((*d)["consent"]["post"]["granted"].GetBool());
  EXPECT_STREQ((*d)["gifts"]["amount_total"].GetString(), "19.99");
  EXPECT_STREQ((*d)["tags"][0].GetString(), "mitglied");
  const auto id = std::to_string((*d)["id"].GetInt64());
  auto gifts = get("/v1/donors/" + id + "/gifts", viewer_token_);
  ASSERT_EQ(gifts.status, 200);
  auto g = json(gifts);
  ASSERT_EQ((*g)["items"].Size(), 1u);
  EXPECT_STREQ((*g)["items"][0]["amount"].GetString(), "19.99");
  EXPECT_TRUE((*g)["next"].IsNull());
}

TEST_F(IngestApi, SameWebhookIdAgainIsADuplicateWithoutEffect) {
  ASSERT_EQ(event("gift.created", kGift, "ev-1").status, 200);
  auto again = event(
      "gift.created",
      R"({"gift_ref":"g1","donor_ref":"d1","amount":"500.00","received_on":"2026-11-20"})", "ev-1");
  ASSERT_EQ(again.status, 200);
  EXPECT_EQ(again.body, R"({"status":"duplicate","event_id":"ev-1"})");
  EXPECT_EQ(scalar("SELECT sum(amount_cents) FROM donor.gifts"), "1999");
  EXPECT_EQ(scalar("SELECT count(*) FROM ingest.inbox"), "1");
}

TEST_F(IngestApi, BadSignaturesUnknownSourcesAndStaleTimestampsAre401) {
  const std::string body = R"({"type":"gift.created","data":{}})";
  EXPECT_EQ(webhook(body, "x1", "crm", "whsec_c2VjcmV0LW51bWJlci10d28tZm9yLXRlc3Rz").status, 401);
  EXPECT_EQ(webhook(body, "x2", "nosuchsource").status, 401);
  EXPECT_EQ(webhook(body, "x3", "crm", "", -400).status, 401);
  EXPECT_EQ(webhook(body, "x4", "crm", "", +400).status, 401);
  auto missing = client_->request("POST", "/v1/webhooks/crm", {}, body);
  EXPECT_EQ(missing.status, 401);
  EXPECT_EQ(missing.header("content-type"), "application/problem+json");
  EXPECT_EQ(scalar("SELECT count(*) FROM ingest.inbox"), "0");
}

TEST_F(IngestApi, RotatedSecretsAreBothValidUntilTheOldIsRetired) {
  // A first webhook fills the service's source cache, which the rotation must get past.
  ASSERT_EQ(
      webhook(R"({"type":"gift.created","data":)" + std::string(kGift) + "}", "0", "crm", secret_)
          .status,
      200);
  std::string out;
  ASSERT_EQ(gabectl({"source", "rotate", "crm"}, &out), 0);
  const auto fresh = last_line(out);
  ASSERT_NE(fresh, secret_);
  std::this_thread::sleep_for(std::chrono::milliseconds(2100));  // the service's source cache
  EXPECT_EQ(
      webhook(R"({"type":"gift.created","data":)" + std::string(kGift) + "}", "a", "crm", fresh)
          .status,
      200);
  EXPECT_EQ(
      webhook(R"({"type":"gift.created","data":)" + std::string(kGift) + "}", "b", "crm", secret_)
          .status,
      200);
  ASSERT_EQ(gabectl({"source", "rotate", "crm", "--retire-old"}, &out), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(2100));
  EXPECT_EQ(
      webhook(R"({"type":"gift.created","data":)" + std::string(kGift) + "}", "c", "crm", secret_)
          .status,
      401);
  EXPECT_EQ(
      webhook(R"({"type":"gift.created","data":)" + std::string(kGift) + "}", "d", "crm", fresh)
          .status,
      200);
  auto audit = get("/v1/audit?entity=source:crm");
  ASSERT_EQ(audit.status, 200);
  EXPECT_EQ((*json(audit))["items"].Size(), 3u);  // add, rotate, retire
}

TEST_F(IngestApi, MalformedBodiesAre400AndChangeNothing) {
  EXPECT_EQ(webhook("not json", "m1").status, 400);
  EXPECT_EQ(webhook(R"({"type":"gift.created","data":{"gift_ref":"g1")", "m2").status, 400);
  EXPECT_EQ(webhook(R"({"data":{}})", "m3").status, 400);
  EXPECT_EQ(webhook(R"({"type":"gift.created"})", "m4").status, 400);
  EXPECT_EQ(webhook(std::string(10000, '[') + std::string(10000, ']'), "m5").status, 400);
  EXPECT_EQ(
      webhook("{\"type\":\"gift.created\",\"data\":{\"gift_ref\":\"\xff\xfe\"}}", "m6").status,
      400);
  EXPECT_EQ(scalar("SELECT count(*) FROM ingest.inbox"), "0");
  EXPECT_EQ(scalar("SELECT count(*) FROM donor.donors"), "0");
}

TEST_F(IngestApi, WrongContentTypeIs415AndOversizedBodyIs413) {
  auto now = std::to_string(std::time(nullptr));
  auto r = client_->request("POST", "/v1/webhooks/crm",
                            {{"Content-Type", "text/plain"},
                             {"webhook-id", "ct"},
                             {"webhook-timestamp", now},
                             {"webhook-signature", "v1,AAAA"}},
                            "{}");
  EXPECT_EQ(r.status, 401);  // the signature is checked first
  const std::string body = R"({"type":"gift.created","data":)" + std::string(kGift) + "}";
  auto sig = ingest::sign_webhook(secret_, "ct", std::stol(now), body);
  HttpClient c(service_->port());
  auto typed = c.request("POST", "/v1/webhooks/crm",
                         {{"Content-Type", "text/plain"},
                          {"webhook-id", "ct"},
                          {"webhook-timestamp", now},
                          {"webhook-signature", sig}},
                         body);
  EXPECT_EQ(typed.status, 415);
  HttpClient big(service_->port());
  auto large = big.request("POST", "/v1/webhooks/crm", {}, std::string(2 << 20, ' '));
  EXPECT_EQ(large.status, 413);
  EXPECT_EQ(large.header("content-type"), "application/problem+json");
}

TEST_F(IngestApi, InvalidEventsAre422KeptAsRejectedAndReplayable) {
  auto r = event("gift.created",
                 R"({"gift_ref":"g1","donor_ref":"d1","amount":"-5","received_on":"0000-00-00"})",
                 "bad-1");
  ASSERT_EQ(r.status, 422);
  auto p = json(r);
  EXPECT_EQ((*p)["errors"].Size(), 2u);
  EXPECT_STREQ((*p)["errors"][0]["field"].GetString(), "data.amount");
  EXPECT_EQ(event("donor.exploded", "{}", "bad-2").status, 422);

  // A refund that arrives before its gift is rejected and can be replayed once the gift is in.
  ASSERT_EQ(
      event("gift.refunded", R"({"gift_ref":"g9"})", "refund-1", "2026-11-25T10:00:00Z").status,
      422);
  auto rejected = get("/v1/events?status=rejected");
  ASSERT_EQ(rejected.status, 200);
  auto list = json(rejected);
  ASSERT_EQ((*list)["items"].Size(), 3u);
  const auto refund_id = (*list)["items"][2]["id"].GetInt64();
  EXPECT_STREQ((*list)["items"][2]["error"].GetString(), "unknown gift_ref");

  ASSERT_EQ(
      event("gift.created",
            R"({"gift_ref":"g9","donor_ref":"d1","amount":"30.00","received_on":"2026-11-20"})",
            "gift-9", "2026-11-24T10:00:00Z")
          .status,
      200);
  auto replay = admin("POST", "/v1/events/" + std::to_string(refund_id) + "/replay");
  ASSERT_EQ(replay.status, 200) << replay.body;
  EXPECT_STREQ((*json(replay))["status"].GetString(), "processed");
  EXPECT_EQ(scalar("SELECT status FROM donor.gifts WHERE ref = 'g9'"), "refunded");
  EXPECT_EQ(admin("POST", "/v1/events/" + std::to_string(refund_id) + "/replay").status, 409);
  EXPECT_EQ(admin("POST", "/v1/events/999999/replay").status, 404);
  EXPECT_EQ(scalar("SELECT count(*) FROM gabe.audit_log WHERE action = 'event.replay'"), "1");
}

TEST_F(IngestApi, MoneyIsExact) {
  ASSERT_EQ(
      event("gift.created",
            R"({"gift_ref":"a","donor_ref":"d","amount":0.1,"received_on":"2026-11-20"})", "1")
          .status,
      200);
  ASSERT_EQ(
      event("gift.created",
            R"({"gift_ref":"b","donor_ref":"d","amount":0.2,"received_on":"2026-11-20"})", "2")
          .status,
      200);
  ASSERT_EQ(
      event("gift.created",
            R"({"gift_ref":"c","donor_ref":"d","amount":"19.99","received_on":"2026-11-20"})", "3")
          .status,
      200);
  auto stats = json(get("/v1/stats", viewer_token_));
  EXPECT_STREQ((*stats)["gift_amount_total"].GetString(), "20.29");
  EXPECT_EQ((*stats)["gifts"].GetInt(), 3);
  EXPECT_EQ((*stats)["events"]["processed"].GetInt(), 3);
  EXPECT_EQ(scalar("SELECT amount_cents FROM donor.gifts WHERE ref = 'c'"), "1999");
}

TEST_F(IngestApi, OlderUpdatesDoNotOverwriteNewerData) {
  ASSERT_EQ(
      event("donor.upserted",
            R"({"donor_ref":"d1","first_name":"Neu","updated_at":"2026-11-24T12:00:00Z"})", "1")
          .status,
      200);
  ASSERT_EQ(
      event("donor.upserted",
            R"({"donor_ref":"d1","first_name":"Alt","updated_at":"2026-11-24T08:00:00Z"})", "2")
          .status,
      200);
  EXPECT_EQ(scalar("SELECT first_name FROM pii.donor_pii"), "Neu");
  ASSERT_EQ(
      event("gift.updated",
            R"({"gift_ref":"g","donor_ref":"d1","amount":"20.00","received_on":"2026-11-20"})", "3",
            "2026-11-24T12:00:00Z")
          .status,
      200);
  ASSERT_EQ(
      event("gift.created",
            R"({"gift_ref":"g","donor_ref":"d1","amount":"10.00","received_on":"2026-11-20"})", "4",
            "2026-11-24T09:00:00Z")
          .status,
      200);
  EXPECT_EQ(scalar("SELECT amount_cents FROM donor.gifts WHERE ref = 'g'"), "2000");
  // Consent: the newer withdrawal wins over an older grant that arrives later.
  ASSERT_EQ(
      event("consent.changed",
            R"({"donor_ref":"d1","channel":"email","granted":false,"at":"2026-11-24T12:00:00Z"})",
            "5")
          .status,
      200);
  ASSERT_EQ(
      event("consent.changed",
            R"({"donor_ref":"d1","channel":"email","granted":true,"at":"2026-11-20T12:00:00Z"})",
            "6")
          .status,
      200);
  EXPECT_EQ(scalar("SELECT granted FROM donor.consents WHERE channel = 'email'"), "f");
  EXPECT_EQ(scalar("SELECT count(*) FROM donor.consent_history"), "2");
}

TEST_F(IngestApi, GiftForUnknownDonorCreatesAPlaceholderThatTheUpsertFills) {
  ASSERT_EQ(event("gift.created", kGift, "1").status, 200);
  auto d = json(get("/v1/donors?source=crm&ref=d1"));
  EXPECT_TRUE((*d)["placeholder"].GetBool());
  EXPECT_TRUE((*d)["contact"].IsNull());
  ASSERT_EQ(event("donor.upserted", R"({"donor_ref":"d1","last_name":"Weber"})", "2").status, 200);
  auto filled = json(get("/v1/donors?source=crm&ref=d1"));
  EXPECT_FALSE((*filled)["placeholder"].GetBool());
  EXPECT_STREQ((*filled)["contact"]["last_name"].GetString(), "Weber");
  EXPECT_EQ((*filled)["id"].GetInt64(), (*d)["id"].GetInt64());
  EXPECT_EQ(scalar("SELECT count(*) FROM donor.donors"), "1");
}

TEST_F(IngestApi, MergeMovesEverythingToTheSurvivorAndOldRefsResolveToIt) {
  ASSERT_EQ(event("donor.upserted",
                  R"({"donor_ref":"keep","last_name":"Koch","consent":{"post":true}})", "1")
                .status,
            200);
  ASSERT_EQ(event("donor.upserted", R"({"donor_ref":"dup","last_name":"Koch"})", "2").status, 200);
  ASSERT_EQ(
      event("gift.created",
            R"({"gift_ref":"g1","donor_ref":"keep","amount":"10.00","received_on":"2026-01-01"})",
            "3")
          .status,
      200);
  ASSERT_EQ(
      event("gift.created",
            R"({"gift_ref":"g2","donor_ref":"dup","amount":"15.00","received_on":"2026-02-01"})",
            "4")
          .status,
      200);
  ASSERT_EQ(
      event(
          "recurring.upserted",
          R"({"recurring_ref":"r1","donor_ref":"dup","amount":"5.00","interval":"monthly","status":"active"})",
          "5")
          .status,
      200);
  ASSERT_EQ(event("donor.merged", R"({"donor_ref":"keep","merged_refs":["dup"]})", "6").status,
            200);
  auto survivor = json(get("/v1/donors?source=crm&ref=keep"));
  EXPECT_STREQ((*survivor)["gifts"]["amount_total"].GetString(), "25.00");
  auto via_old = json(get("/v1/donors?source=crm&ref=dup"));
  EXPECT_EQ((*via_old)["id"].GetInt64(), (*survivor)["id"].GetInt64());
  EXPECT_EQ(scalar("SELECT count(*) FROM donor.recurring r JOIN ingest.donor_refs x ON x.donor_id "
                   "= r.donor_id AND x.ref = 'keep'"),
            "1");
  // A later gift for the old ref lands on the survivor.
  ASSERT_EQ(
      event("gift.created",
            R"({"gift_ref":"g3","donor_ref":"dup","amount":"1.00","received_on":"2026-03-01"})",
            "7")
          .status,
      200);
  EXPECT_STREQ((*json(get("/v1/donors?source=crm&ref=keep")))["gifts"]["amount_total"].GetString(),
               "26.00");
  EXPECT_EQ(scalar("SELECT count(*) FROM pii.donor_pii"), "1");
}

TEST_F(IngestApi, ErasureRemovesPersonalDataKeepsGiftsAndLeavesATombstone) {
  ASSERT_EQ(
      event("donor.upserted", R"({"donor_ref":"d1","first_name":"Erika","email":"erika@example.org",
                    "consent":{"email":true},"audit":{"gender":"f","age_band":"60-74"}})",
            "1")
          .status,
      200);
  ASSERT_EQ(event("gift.created", kGift, "2").status, 200);
  // What the erasure must remove is there before it (so the checks after it can fail).
  ASSERT_EQ(scalar("SELECT count(*) FROM ingest.inbox WHERE raw LIKE '%Erika%'"), "1");
  ASSERT_EQ(scalar("SELECT count(*) FROM pii.donor_pii"), "1");
  const auto id = scalar("SELECT id FROM donor.donors");
  EXPECT_EQ(
      admin("DELETE", "/v1/donors/" + id, R"({"reason":"Art. 17 request by letter of 2026-11-20"})")
          .status,
      200);
  EXPECT_EQ(scalar("SELECT details ->> 'reason' FROM gabe.audit_log WHERE action = 'donor.erase'"),
            "Art. 17 request by letter of 2026-11-20");
  auto d = json(get("/v1/donors/" + id));
  EXPECT_TRUE((*d)["erased"].GetBool());
  EXPECT_TRUE((*d)["contact"].IsNull());
  EXPECT_TRUE((*d)["ref"].IsNull());
  EXPECT_STREQ((*d)["gifts"]["amount_total"].GetString(), "19.99");  // kept, pseudonymised
  EXPECT_EQ(scalar("SELECT count(*) FROM pii.donor_pii"), "0");
  EXPECT_EQ(scalar("SELECT count(*) FROM donor.audit_attributes"), "0");
  EXPECT_EQ(scalar("SELECT count(*) FROM ingest.inbox WHERE raw LIKE '%Erika%'"), "0");
  EXPECT_EQ(
      scalar("SELECT count(*) FROM gabe.audit_log WHERE action = 'donor.erase' AND actor = 'ops'"),
      "1");
  EXPECT_EQ(get("/v1/donors?source=crm&ref=d1").status, 404);

  // The tombstone: no profile comes back without a fresh upsert that carries consent.
  ASSERT_EQ(event("donor.upserted", R"({"donor_ref":"d1","first_name":"Erika"})", "3").status, 200);
  EXPECT_EQ(get("/v1/donors?source=crm&ref=d1").status, 404);
  ASSERT_EQ(
      event("gift.created",
            R"({"gift_ref":"g2","donor_ref":"d1","amount":"5.00","received_on":"2026-11-21"})", "4")
          .status,
      200);
  EXPECT_EQ(scalar("SELECT donor_id FROM donor.gifts WHERE ref = 'g2'"), id);
  EXPECT_EQ(scalar("SELECT count(*) FROM pii.donor_pii"), "0");
  // Neither that gift nor a rejected one for the erased ref is kept in the clear.
  ASSERT_EQ(
      event("gift.created", R"({"gift_ref":"g3","donor_ref":"d1","amount":"-1"})", "4b").status,
      422);
  EXPECT_EQ(scalar("SELECT string_agg(event_id || ':' || (raw IS NULL), ',' ORDER BY event_id) "
                   "FROM ingest.inbox WHERE event_id IN ('4', '4b')"),
            "4:true,4b:true");
  ASSERT_EQ(event("donor.upserted",
                  R"({"donor_ref":"d1","first_name":"Erika","consent":{"post":true}})", "5")
                .status,
            200);
  auto fresh = get("/v1/donors?source=crm&ref=d1");
  ASSERT_EQ(fresh.status, 200);
  EXPECT_NE(std::to_string((*json(fresh))["id"].GetInt64()), id);
  // Erasing again is harmless; an unknown donor is 404; viewers may not erase.
  EXPECT_EQ(admin("DELETE", "/v1/donors/" + id).status, 200);
  EXPECT_EQ(admin("DELETE", "/v1/donors/987654").status, 404);
  EXPECT_EQ(
      client_->request("DELETE", "/v1/donors/" + id, {{"Authorization", "Bearer " + viewer_token_}})
          .status,
      403);
}

TEST_F(IngestApi, CrmErasureEventErasesToo) {
  ASSERT_EQ(event("donor.upserted", R"({"donor_ref":"d1","first_name":"Horst"})", "1").status, 200);
  ASSERT_EQ(event("donor.erased", R"({"donor_ref":"d1"})", "2").status, 200);
  EXPECT_EQ(scalar("SELECT count(*) FROM pii.donor_pii"), "0");
  EXPECT_EQ(scalar("SELECT actor FROM gabe.audit_log WHERE action = 'donor.erase'"), "crm:crm");
}

TEST_F(IngestApi, ExportHasEverythingAndIsAudited) {
  ASSERT_EQ(event("donor.upserted",
                  R"({"donor_ref":"d1","first_name":"Petra","consent":{"email":true}})", "1")
                .status,
            200);
  ASSERT_EQ(
      event(
          "consent.changed",
          R"({"donor_ref":"d1","channel":"email","granted":false,"at":"2026-11-25T09:00:00Z","source":"Abmeldelink"})",
          "2")
          .status,
      200);
  ASSERT_EQ(event("gift.created", kGift, "3").status, 200);
  ASSERT_EQ(
      event("appeal.sent",
            R"({"campaign_ref":"xmas","donor_ref":"d1","sent_on":"2026-11-01","channel":"post"})",
            "4")
          .status,
      200);
  const auto id = scalar("SELECT id FROM donor.donors");
  auto r = get("/v1/donors/" + id + "/export?reason=Auskunftsersuchen");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(scalar("SELECT details ->> 'reason' FROM gabe.audit_log WHERE action = 'donor.export'"),
            "Auskunftsersuchen");
  auto e = json(r);
  EXPECT_STREQ((*e)["contact"]["first_name"].GetString(), "Petra");
  EXPECT_EQ((*e)["consent_history"].Size(), 2u);
  EXPECT_STREQ((*e)["consent_history"][1]["source"].GetString(), "Abmeldelink");
  EXPECT_EQ((*e)["gifts"].Size(), 1u);
  EXPECT_EQ((*e)["appeals"].Size(), 1u);
  EXPECT_EQ((*e)["inbox_events"].Size(), 4u);  // the raw events as received
  EXPECT_EQ(
      scalar(
          "SELECT count(*) FROM gabe.audit_log WHERE action = 'donor.export' AND entity = 'donor:" +
          id + "'"),
      "1");
  auto second = json(get("/v1/donors/" + id + "/export"));
  EXPECT_EQ((*second)["audit"].Size(), 1u);  // the first export is part of the second
  EXPECT_EQ(get("/v1/donors/" + id + "/export", viewer_token_).status, 403);
  EXPECT_EQ(get("/v1/donors/424242/export").status, 404);
}

// Content-Type is compared by its media type: parameters pass, longer type names do not.
TEST_F(IngestApi, JsonMediaTypeIsParsedNotComparedAsAPrefix) {
  auto send = [&](const std::string& id, const std::string& content_type) {
    const auto now = std::to_string(std::time(nullptr));
    const std::string body = R"({"type":"gift.created","data":)" + std::string(kGift) + "}";
    HttpClient c(service_->port());
    return c
        .request("POST", "/v1/webhooks/crm",
                 {{"Content-Type", content_type},
                  {"webhook-id", id},
                  {"webhook-timestamp", now},
                  {"webhook-signature", ingest::sign_webhook(secret_, id, std::stol(now), body)}},
                 body)
        .status;
  };
  EXPECT_EQ(send("mt1", "application/jsonx"), 415);
  EXPECT_EQ(send("mt2", "application/json-seq"), 415);
  EXPECT_EQ(send("mt3", "application/json; charset=utf-8"), 200);
  EXPECT_EQ(send("mt4", "Application/JSON"), 200);
}

// Every list, the audit log's too, is paged the same way and names a bad query parameter.
TEST_F(IngestApi, AuditListIsPagedAndBadParametersAreNamed) {
  std::string out;
  ASSERT_EQ(gabectl({"source", "rotate", "crm"}, &out), 0);
  ASSERT_EQ(gabectl({"source", "rotate", "crm"}, &out), 0);
  auto first = get("/v1/audit?entity=source:crm&limit=2");
  ASSERT_EQ(first.status, 200) << first.body;
  auto page1 = json(first);
  ASSERT_EQ((*page1)["items"].Size(), 2u);
  ASSERT_TRUE((*page1)["next"].IsString());
  const auto& newest = (*page1)["items"][0];
  EXPECT_TRUE(newest["id"].IsString());
  EXPECT_STREQ(newest["action"].GetString(), "source.rotate");
  EXPECT_STREQ(newest["entity"].GetString(), "source:crm");
  EXPECT_TRUE(newest["details"].IsObject());
  EXPECT_EQ(std::string(newest["at"].GetString()).size(), 27u);  // 2026-11-27T10:00:00.123456Z
  auto page2 = json(get(std::string("/v1/audit?entity=source:crm&limit=2&after=") +
                        (*page1)["next"].GetString()));
  ASSERT_EQ((*page2)["items"].Size(), 1u);  // the source.add entry
  EXPECT_STREQ((*page2)["items"][0]["action"].GetString(), "source.add");
  EXPECT_TRUE((*page2)["next"].IsNull());

  auto field = [&](const std::string& target) {
    auto r = get(target);
    EXPECT_EQ(r.status, 422) << target;
    auto doc = json(r);
    return doc->HasMember("errors") ? std::string((*doc)["errors"][0]["field"].GetString()) : "";
  };
  EXPECT_EQ(field("/v1/audit?after=abc"), "after");
  EXPECT_EQ(field("/v1/audit?limit=1001"), "limit");
  EXPECT_EQ(field("/v1/events?status=bogus"), "status");
  EXPECT_EQ(field("/v1/donors?limit=x"), "limit");
}

TEST_F(IngestApi, AuthRoutesAndMethods) {
  EXPECT_EQ(client_->get("/v1/stats").status, 401);
  EXPECT_EQ(client_->get("/v1/stats", "gabe_nonsense").status, 401);
  EXPECT_EQ(get("/v1/stats", viewer_token_).status, 200);
  EXPECT_EQ(get("/v1/events", viewer_token_).status, 403);
  EXPECT_EQ(get("/v1/nowhere").status, 404);
  EXPECT_EQ(admin("PUT", "/v1/stats").status, 405);
  EXPECT_EQ(get("/v1/donors/abc").status, 404);
  EXPECT_EQ(get("/v1/donors/5").status, 404);
  EXPECT_EQ(get("/v1/donors?limit=0").status, 422);
  EXPECT_EQ(get("/v1/audit", viewer_token_).status, 403);
  auto en = client_->request("GET", "/v1/stats", {{"Accept-Language", "en"}});
  EXPECT_STREQ((*json(en))["title"].GetString(), "Unauthorized");
}

TEST_F(IngestApi, ListsArePaged) {
  for (int i = 0; i < 5; ++i) {
    ASSERT_EQ(event("donor.upserted", R"({"donor_ref":"d)" + std::to_string(i) + R"("})",
                    "e" + std::to_string(i))
                  .status,
              200);
  }
  auto first = json(get("/v1/donors?limit=2"));
  ASSERT_EQ((*first)["items"].Size(), 2u);
  ASSERT_TRUE((*first)["next"].IsString());
  auto second = json(get(std::string("/v1/donors?limit=2&after=") + (*first)["next"].GetString()));
  ASSERT_EQ((*second)["items"].Size(), 2u);
  EXPECT_GT((*second)["items"][0]["id"].GetInt64(), (*first)["items"][1]["id"].GetInt64());
  auto third = json(get(std::string("/v1/donors?limit=2&after=") + (*second)["next"].GetString()));
  EXPECT_EQ((*third)["items"].Size(), 1u);
  EXPECT_TRUE((*third)["next"].IsNull());
}

TEST_F(IngestApi, CivicrmAdapterMapsContactsAndContributions) {
  std::string out;
  ASSERT_EQ(gabectl({"source", "add", "civi", "--adapter", "civicrm"}, &out), 0);
  const auto secret = last_line(out);
  auto contact =
      webhook(R"({"entity":"Contact","action":"create","values":{"id":42,"first_name":"Jürgen",
      "last_name":"König","email_primary.email":"jk@example.org","do_not_mail":true}})",
              "c1", "civi", secret);
  ASSERT_EQ(contact.status, 200) << contact.body;
  auto gift =
      webhook(R"({"entity":"Contribution","action":"create","values":{"id":7,"contact_id":42,
      "total_amount":"12.34","receive_date":"2026-11-20 10:00:00","contribution_status_id:name":"Completed"}})",
              "c2", "civi", secret);
  ASSERT_EQ(gift.status, 200) << gift.body;
  auto d = json(get("/v1/donors?source=civi&ref=42"));
  EXPECT_STREQ((*d)["contact"]["last_name"].GetString(), "König");
  EXPECT_FALSE((*d)["consent"]["post"]["granted"].GetBool());
  EXPECT_STREQ((*d)["gifts"]["amount_total"].GetString(), "12.34");
  EXPECT_EQ(webhook(R"({"entity":"Activity","action":"create","values":{}})", "c3", "civi", secret)
                .status,
            422);
}

TEST_F(IngestApi, BulkImportStreamsCountsAndIsIdempotent) {
  const std::string file = "/tmp/gabe-import-" + db_name_ + ".ndjson";
  std::string out, err;
  ASSERT_EQ(run_command(bin_dir() + "/gabectl",
                        {"demo-data", "--donors", "200", "--seed", "3", "--source", "crm"}, {},
                        &out, &err),
            0);
  const auto lines = static_cast<int>(std::count(out.begin(), out.end(), '\n'));
  std::string body =
      out + "this is not json\n" +
      R"({"id":"bad-1","type":"gift.created","data":{"gift_ref":"x","donor_ref":"y","amount":"0"}})" +
      "\n";
  auto r = import_ndjson(body);
  ASSERT_EQ(r.status, 200) << r.body;
  auto s = json(r);
  EXPECT_EQ((*s)["received"].GetInt(), lines + 2);
  EXPECT_EQ((*s)["processed"].GetInt(), lines);
  EXPECT_EQ((*s)["rejected"].GetInt(), 2);
  EXPECT_EQ((*s)["errors"][0]["line"].GetInt(), lines + 1);
  EXPECT_EQ((*s)["errors"][1]["line"].GetInt(), lines + 2);
  EXPECT_EQ(scalar("SELECT count(*) FROM donor.donors"), "200");
  const auto total = scalar("SELECT sum(amount_cents) FROM donor.gifts");

  // The same file through gabectl: every event a duplicate, nothing changes.
  {
    std::ofstream f(file);
    f << out;
  }
  std::string summary;
  ASSERT_EQ(gabectl({"import", file, "--source", "crm"}, &summary), 0) << summary;
  auto again = parse_json(summary);
  EXPECT_EQ((*again)["duplicates"].GetInt(), lines);
  EXPECT_EQ((*again)["processed"].GetInt(), 0);
  EXPECT_EQ(scalar("SELECT sum(amount_cents) FROM donor.gifts"), total);
  std::remove(file.c_str());

  EXPECT_EQ(
      client_->request("POST", "/v1/import", {{"Authorization", "Bearer " + admin_token_}}, "{}")
          .status,
      415);
  EXPECT_EQ(client_
                ->request("POST", "/v1/import",
                          {{"Authorization", "Bearer " + viewer_token_},
                           {"Content-Type", "application/x-ndjson"}},
                          "{}")
                .status,
            403);
}

// One import batch holds every kind of event: the rules that hold across webhooks hold
// inside a batch too, whatever the order of the lines.
TEST_F(IngestApi, TextThatIsNotUnicodeIsRefusedAloneAndNeverReachesTheDatabase) {
  // A lone surrogate escape used to become bytes PostgreSQL refuses: a 500 for a webhook, and
  // in an import the whole batch failed. Now it is a malformed document like any other.
  auto hook =
      webhook(R"({"type":"donor.upserted","data":{"donor_ref":"lone-1","first_name":"a\udc00b"}})",
              "lone-1");
  EXPECT_EQ(hook.status, 400) << hook.body;
  auto dup = webhook(
      R"({"type":"gift.created","data":{"gift_ref":"g","donor_ref":"d","amount":"1.00","amount":"900.00","received_on":"2026-11-20"}})",
      "dup-1");
  EXPECT_EQ(dup.status, 400) << dup.body;
  const std::string good1 =
      R"({"id":"u-1","source":"crm","type":"gift.created","timestamp":"2026-11-24T10:00:00Z","data":{"gift_ref":"u1","donor_ref":"ud","amount":"5.00","received_on":"2026-11-20"}})";
  const std::string bad =
      R"({"id":"u-2","source":"crm","type":"donor.upserted","timestamp":"2026-11-24T10:00:00Z","data":{"donor_ref":"ud","first_name":"a\udc00b"}})";
  const std::string good2 =
      R"({"id":"u-3","source":"crm","type":"gift.created","timestamp":"2026-11-24T10:00:00Z","data":{"gift_ref":"u3","donor_ref":"ud","amount":"12345.67","received_on":"2026-11-20"}})";
  const std::string inexact =
      R"({"id":"u-4","source":"crm","type":"gift.created","timestamp":"2026-11-24T10:00:00Z","data":{"gift_ref":"u4","donor_ref":"ud","amount":12345.678,"received_on":"2026-11-20"}})";
  auto r = import_ndjson(good1 + "\n" + bad + "\n   \n" + good2 + "\n" + inexact + "\n");
  ASSERT_EQ(r.status, 200) << r.body;
  auto s = json(r);
  EXPECT_EQ((*s)["processed"].GetInt(), 2);
  EXPECT_EQ((*s)["rejected"].GetInt(), 2);  // the blank line is skipped, not rejected
  EXPECT_EQ((*s)["errors"][0]["line"].GetInt(), 2);
  EXPECT_EQ((*s)["errors"][1]["line"].GetInt(), 5);
  EXPECT_EQ(scalar("SELECT sum(amount_cents) FROM donor.gifts WHERE source = 'crm'"), "1235067");
}

TEST_F(IngestApi, ImportAppliesTheSameRulesWithinOneBatch) {
  auto line = [](const std::string& id, const std::string& type, const std::string& ts,
                 const std::string& data) {
    return R"({"id":")" + id + R"(","source":"crm","type":")" + type + R"(","timestamp":")" + ts +
           R"(","data":)" + data + "}\n";
  };
  std::string body;
  // Newest wins: the older update comes later in the file and changes nothing.
  body += line("e1", "gift.created", "2026-11-24T10:00:00Z",
               R"({"gift_ref":"g1","donor_ref":"d1","amount":"20.00","received_on":"2026-11-20"})");
  body += line("e2", "gift.updated", "2026-11-24T09:00:00Z",
               R"({"gift_ref":"g1","donor_ref":"d1","amount":"10.00","received_on":"2026-11-20"})");
  // A refund after the gift it refunds, in the same batch.
  body += line("e3", "gift.created", "2026-11-24T10:00:00Z",
               R"({"gift_ref":"g2","donor_ref":"d1","amount":"5.00","received_on":"2026-11-20",)"
               R"("channel":"sepa","campaign_ref":"xmas","fund":"Tafel","recurring_ref":"r9"})");
  body += line("e4", "gift.refunded", "2026-11-24T11:00:00Z", R"({"gift_ref":"g2"})");
  // The same id again: a duplicate, whatever it says.
  body +=
      line("e1", "gift.created", "2026-11-24T12:00:00Z",
           R"({"gift_ref":"g1","donor_ref":"d1","amount":"999.00","received_on":"2026-11-20"})");
  // A donor and their gift: the gift lands on the profile, not on a second record.
  body += line("e5", "gift.created", "2026-11-24T10:00:00Z",
               R"({"gift_ref":"g3","donor_ref":"d2","amount":"7.50","received_on":"2026-11-21"})");
  body += line("e6", "donor.upserted", "2026-11-24T10:00:00Z",
               R"({"donor_ref":"d2","first_name":"Ada","consent":{"email":true}})");
  // Rejected: a gift of nothing, and a refund of a gift nobody knows.
  body += line("e7", "gift.created", "2026-11-24T10:00:00Z",
               R"({"gift_ref":"g4","donor_ref":"d2","amount":"0","received_on":"2026-11-21"})");
  body += line("e8", "gift.refunded", "2026-11-24T10:00:00Z", R"({"gift_ref":"nope"})");
  // Enough further gifts to make it a large batch (planned for its actual size).
  for (int i = 0; i < 150; ++i) {
    body +=
        line("f" + std::to_string(i), "gift.created", "2026-11-24T10:00:00Z",
             R"({"gift_ref":"f)" + std::to_string(i) + R"(","donor_ref":"d)" +
                 std::to_string(3 + i % 7) + R"(","amount":"1.00","received_on":"2026-11-22"})");
  }
  auto r = import_ndjson(body);
  ASSERT_EQ(r.status, 200) << r.body;
  auto s = json(r);
  EXPECT_EQ((*s)["received"].GetInt(), 159) << r.body.substr(0, 400);
  EXPECT_EQ((*s)["processed"].GetInt(), 156) << r.body.substr(0, 400);
  EXPECT_EQ((*s)["duplicates"].GetInt(), 1);
  EXPECT_EQ((*s)["rejected"].GetInt(), 2);
  ASSERT_EQ((*s)["errors"].Size(), 2u);
  EXPECT_EQ((*s)["errors"][0]["line"].GetInt(), 8);
  EXPECT_EQ((*s)["errors"][1]["line"].GetInt(), 9);
  EXPECT_NE(std::string((*s)["errors"][1]["message"].GetString()).find("unknown gift_ref"),
            std::string::npos)
      << r.body;

  EXPECT_EQ(scalar("SELECT amount_cents || ' ' || status FROM donor.gifts WHERE ref = 'g1'"),
            "2000 completed");
  EXPECT_EQ(scalar("SELECT concat_ws(' ', amount_cents, status, channel, campaign_ref, fund, "
                   "recurring_ref, currency, received_on) FROM donor.gifts WHERE ref = 'g2'"),
            "500 refunded sepa xmas Tafel r9 EUR 2026-11-20");
  EXPECT_EQ(scalar("SELECT count(DISTINCT g.donor_id) FROM donor.gifts g JOIN donor.donors d "
                   "ON d.id = g.donor_id WHERE g.ref = 'g3' AND d.ref = 'd2' "
                   "AND NOT d.is_placeholder"),
            "1");
  EXPECT_EQ(scalar("SELECT count(*) FROM donor.donors"), "9");  // d1..d9, no duplicates
  EXPECT_EQ(scalar("SELECT sum(amount_cents) FROM donor.gifts WHERE ref LIKE 'f%'"), "15000");
  EXPECT_EQ(scalar("SELECT string_agg(event_id || ':' || status, ',' ORDER BY event_id) "
                   "FROM ingest.inbox WHERE event_id IN ('e1', 'e7', 'e8')"),
            "e1:processed,e7:rejected,e8:rejected");
}

}  // namespace
}  // namespace gabe::test

namespace gabe::test {
namespace {

class IngestPrivacy : public IngestTest {};

TEST_F(IngestPrivacy, ErasureAlsoCoversMergedRecordsRejectedEventsAndLaterArrivals) {
  ASSERT_EQ(event("donor.upserted", R"({"donor_ref":"keep","first_name":"Greta"})", "1").status,
            200);
  ASSERT_EQ(event("donor.upserted", R"({"donor_ref":"old","first_name":"Greta","tags":["x"]})", "2")
                .status,
            200);
  ASSERT_EQ(event("donor.merged", R"({"donor_ref":"keep","merged_refs":["old"]})", "3").status,
            200);
  ASSERT_EQ(event("gift.created",
                  R"({"gift_ref":"g","donor_ref":"old","amount":"oops","note":"Greta"})", "4")
                .status,
            422);
  ASSERT_EQ(scalar("SELECT count(*) FROM ingest.inbox WHERE raw LIKE '%Greta%'"), "3");
  const auto id = scalar("SELECT id FROM donor.donors WHERE ref = 'keep'");
  ASSERT_EQ(admin("DELETE", "/v1/donors/" + id).status, 200);
  EXPECT_EQ(scalar("SELECT count(*) FROM donor.donors WHERE ref IS NOT NULL OR tags <> '{}'"), "0");
  EXPECT_EQ(scalar("SELECT count(*) FROM ingest.inbox WHERE raw LIKE '%Greta%'"), "0");
  // Arrivals after the erasure are not kept in the clear, and a merge into the erased
  // record does nothing.
  ASSERT_EQ(event("donor.upserted", R"({"donor_ref":"keep","first_name":"Greta"})", "5").status,
            200);
  ASSERT_EQ(event("donor.upserted",
                  R"({"donor_ref":"other","first_name":"Otto","consent":{"post":true}})", "6")
                .status,
            200);
  ASSERT_EQ(event("donor.merged", R"({"donor_ref":"keep","merged_refs":["other"]})", "7").status,
            200);
  EXPECT_EQ(scalar("SELECT count(*) FROM ingest.inbox WHERE raw LIKE '%Greta%'"), "0");
  EXPECT_EQ(scalar("SELECT count(*) FROM pii.donor_pii WHERE first_name = 'Otto'"), "1");
  EXPECT_EQ(get("/v1/donors?source=crm&ref=other").status, 200);
  // A fresh profile for the merged-away ref can be created with consent.
  ASSERT_EQ(event("donor.upserted",
                  R"({"donor_ref":"old","first_name":"Greta","consent":{"email":true}})", "8")
                .status,
            200);
  EXPECT_EQ(get("/v1/donors?source=crm&ref=old").status, 200);
}

TEST_F(IngestPrivacy, ImportedEventsOfACivicrmSourceCanBeReplayed) {
  std::string out;
  ASSERT_EQ(gabectl({"source", "add", "civi", "--adapter", "civicrm"}, &out), 0);
  auto import = [&](const std::string& line) { return import_ndjson(line + "\n"); };
  auto r = import(
      R"({"id":"i1","source":"civi","type":"gift.refunded","timestamp":"2026-11-25T10:00:00Z","data":{"gift_ref":"g1"}})");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ((*json(r))["rejected"].GetInt(), 1);  // the gift is not there yet
  ASSERT_EQ(
      import(
          R"({"id":"i2","source":"civi","type":"gift.created","timestamp":"2026-11-24T10:00:00Z","data":{"gift_ref":"g1","donor_ref":"d","amount":"5.00","received_on":"2026-11-20"}})")
          .status,
      200);
  const auto id = scalar("SELECT id FROM ingest.inbox WHERE event_id = 'i1'");
  auto replay = admin("POST", "/v1/events/" + id + "/replay");
  ASSERT_EQ(replay.status, 200) << replay.body;
  EXPECT_STREQ((*json(replay))["status"].GetString(), "processed");
  EXPECT_EQ(scalar("SELECT status FROM donor.gifts WHERE ref = 'g1'"), "refunded");
}

}  // namespace
}  // namespace gabe::test

namespace gabe::test {
namespace {

class IngestMergeErasure : public IngestTest {};

// CRMs delete the duplicate contact when they merge: that erasure retires the merged-away
// ref and leaves the survivor alone.
TEST_F(IngestMergeErasure, ErasingAMergedAwayRefKeepsTheSurvivor) {
  ASSERT_EQ(event("donor.upserted", R"({"donor_ref":"keep","first_name":"Ida"})", "1").status, 200);
  ASSERT_EQ(event("donor.upserted", R"({"donor_ref":"dup","first_name":"Ida"})", "2").status, 200);
  ASSERT_EQ(event("donor.merged", R"({"donor_ref":"keep","merged_refs":["dup"]})", "3").status,
            200);
  ASSERT_EQ(
      scalar("SELECT count(*) FROM ingest.inbox WHERE raw LIKE '%Ida%' AND donor_ref = 'dup'"),
      "1");
  ASSERT_EQ(event("donor.erased", R"({"donor_ref":"dup"})", "4").status, 200);
  auto survivor = get("/v1/donors?source=crm&ref=keep");
  ASSERT_EQ(survivor.status, 200);
  EXPECT_FALSE((*json(survivor))["erased"].GetBool());
  EXPECT_EQ(scalar("SELECT count(*) FROM pii.donor_pii"), "1");
  EXPECT_EQ(get("/v1/donors?source=crm&ref=dup").status, 404);
  // A merge cannot bring an erased ref back.
  ASSERT_EQ(event("donor.merged", R"({"donor_ref":"keep","merged_refs":["dup"]})", "5").status,
            200);
  EXPECT_EQ(get("/v1/donors?source=crm&ref=dup").status, 404);
  // A rejected event for an erased ref is not kept in the clear.
  ASSERT_EQ(
      event("gift.created", R"({"gift_ref":"g","donor_ref":"dup","amount":"x","memo":"Ida"})", "6")
          .status,
      422);
  EXPECT_EQ(scalar("SELECT count(*) FROM ingest.inbox WHERE event_id = '6'"), "1");  // kept
  EXPECT_EQ(
      scalar("SELECT count(*) FROM ingest.inbox WHERE raw LIKE '%Ida%' AND donor_ref = 'dup'"),
      "0");
}

}  // namespace
}  // namespace gabe::test

namespace gabe::test {
namespace {

class IngestMergeRepeat : public IngestTest {};

// A gift that ended on a merged-away record (another process applied it during the merge)
// moves to the survivor when the merge is sent again.
TEST_F(IngestMergeRepeat, RepeatingAMergeSweepsUpLeftovers) {
  ASSERT_EQ(event("donor.upserted", R"({"donor_ref":"keep"})", "1").status, 200);
  ASSERT_EQ(event("donor.upserted", R"({"donor_ref":"dup"})", "2").status, 200);
  ASSERT_EQ(event("donor.merged", R"({"donor_ref":"keep","merged_refs":["dup"]})", "3").status,
            200);
  // Simulate the race: a gift written to the merged-away record.
  scalar(
      "INSERT INTO donor.gifts (source, ref, donor_id, amount_cents, currency, received_on, "
      "status, updated_at) "
      "SELECT 'crm', 'late', id, 500, 'EUR', '2026-11-20', 'completed', now() FROM donor.donors "
      "WHERE ref = 'dup' "
      "RETURNING 1");
  ASSERT_EQ(event("donor.merged", R"({"donor_ref":"keep","merged_refs":["dup"]})", "4").status,
            200);
  EXPECT_EQ(scalar("SELECT d.ref FROM donor.gifts g JOIN donor.donors d ON d.id = g.donor_id WHERE "
                   "g.ref = 'late'"),
            "keep");
}

}  // namespace
}  // namespace gabe::test
