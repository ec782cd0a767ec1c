#include "civicrm_adapter.hpp"

#include <gtest/gtest.h>

namespace gabe::ingest {
namespace {

CanonicalEvent map(const std::string& body) {
  CanonicalEvent e;
  e.source = "civi";
  e.event_id = "e1";
  e.occurred_at = "2026-11-24T12:00:00Z";
  auto doc = parse_json(body);
  map_civicrm_event(e, *doc);
  return e;
}

TEST(CiviCrmAdapter, ContactBecomesDonorUpsertWithConsentFromFlags) {
  auto e = map(R"({"entity":"Contact","action":"create","values":{"id":17,"first_name":"Anna",
      "last_name":"Schmidt","email_primary.email":"anna@example.org","address_primary.city":"Köln",
      "address_primary.postal_code":"50667","do_not_email":false,"do_not_mail":true,"is_opt_out":false,
      "preferred_language":"de_DE"}})");
  ASSERT_FALSE(e.reject) << *e.reject;
  EXPECT_EQ(e.type, "donor.upserted");
  auto d = parse_json(e.data_json);
  EXPECT_STREQ((*d)["donor_ref"].GetString(), "17");
  EXPECT_STREQ((*d)["email"].GetString(), "anna@example.org");
  EXPECT_STREQ((*d)["city"].GetString(), "Köln");
  EXPECT_STREQ((*d)["language"].GetString(), "de");
  EXPECT_TRUE((*d)["consent"]["email"].GetBool());
  EXPECT_FALSE((*d)["consent"]["post"].GetBool());
}

TEST(CiviCrmAdapter, OptOutWithdrawsEmailConsent) {
  auto e = map(R"({"entity":"Contact","action":"edit","values":{"id":"17","is_opt_out":1}})");
  auto d = parse_json(e.data_json);
  EXPECT_FALSE((*d)["consent"]["email"].GetBool());
  EXPECT_FALSE((*d)["consent"]["sms"].GetBool());
  EXPECT_FALSE((*d)["consent"].HasMember("post"));  // not said, so not changed
  EXPECT_FALSE((*d)["grants_consent"].GetBool());
}

TEST(CiviCrmAdapter, ContactWithoutFlagsGrantsNothing) {
  auto e = map(R"({"entity":"Contact","action":"edit","values":{"id":"17","first_name":"Anna",
      "address_primary.country_id:abbr":"DE"}})");
  ASSERT_FALSE(e.reject) << *e.reject;
  auto d = parse_json(e.data_json);
  EXPECT_FALSE(d->HasMember("consent"));
  EXPECT_FALSE((*d)["grants_consent"].GetBool());
  EXPECT_STREQ((*d)["country"].GetString(), "DE");
}

TEST(CiviCrmAdapter, ContributionBecomesGiftWithExactAmount) {
  auto e = map(R"({"entity":"Contribution","action":"create","values":{"id":901,"contact_id":17,
      "total_amount":"50.10","currency":"EUR","receive_date":"2026-11-20 14:03:00",
      "contribution_status_id:name":"Completed","campaign_id":3,"payment_instrument_id:name":"SEPA Direct Debit",
      "contribution_recur_id":12,"financial_type_id:name":"Donation"}})");
  ASSERT_FALSE(e.reject) << *e.reject;
  EXPECT_EQ(e.type, "gift.created");
  auto d = parse_json(e.data_json);
  EXPECT_STREQ((*d)["gift_ref"].GetString(), "901");
  EXPECT_STREQ((*d)["donor_ref"].GetString(), "17");
  EXPECT_EQ((*d)["amount_cents"].GetInt64(), 5010);
  EXPECT_STREQ((*d)["received_on"].GetString(), "2026-11-20");
  EXPECT_STREQ((*d)["channel"].GetString(), "sepa");
  EXPECT_STREQ((*d)["campaign_ref"].GetString(), "3");
  EXPECT_STREQ((*d)["recurring_ref"].GetString(), "12");
  EXPECT_STREQ((*d)["fund"].GetString(), "Donation");

  auto edit = map(R"({"entity":"Contribution","action":"edit","values":{"id":901,"contact_id":17,
      "total_amount":50.1,"receive_date":"2026-11-20","contribution_status_id:name":"Refunded"}})");
  EXPECT_EQ(edit.type, "gift.updated");
  EXPECT_STREQ((*parse_json(edit.data_json))["status"].GetString(), "refunded");
}

TEST(CiviCrmAdapter, RecurringAndCampaign) {
  auto r = map(R"({"entity":"ContributionRecur","action":"create","values":{"id":12,"contact_id":17,
      "amount":"10.00","frequency_unit":"month","frequency_interval":3,
      "contribution_status_id:name":"In Progress","start_date":"2025-01-01 00:00:00"}})");
  ASSERT_FALSE(r.reject) << *r.reject;
  auto d = parse_json(r.data_json);
  EXPECT_STREQ((*d)["interval"].GetString(), "quarterly");
  EXPECT_STREQ((*d)["status"].GetString(), "active");
  auto c = map(R"({"entity":"Campaign","action":"create","values":{"id":3,"title":"Weihnachten",
      "start_date":"2026-11-01","end_date":"2026-12-24","goal_revenue":"5000"}})");
  ASSERT_FALSE(c.reject) << *c.reject;
  EXPECT_EQ(c.type, "campaign.upserted");
}

TEST(CiviCrmAdapter, UnsupportedEntityIsRejectedAndMalformedBodyIsABadRequest) {
  auto e = map(R"({"entity":"Activity","action":"create","values":{"id":1}})");
  EXPECT_TRUE(e.reject);
  EXPECT_THROW(map(R"({"entity":"Contact","values":{}})"), Problem);
  EXPECT_THROW(map(R"({"entity":"Contact","action":"create","values":[]})"), Problem);
  auto bad = map(R"({"entity":"Contribution","action":"create","values":{"id":1,"contact_id":2,
      "total_amount":"abc","receive_date":"yesterday"}})");
  EXPECT_TRUE(bad.reject);
}

TEST(CiviCrmAdapter, ReceiveDateMustBeADateAndNothingMore) {
  auto gift = [](const std::string& date, const std::string& amount = "\"10.00\"") {
    return map(R"({"entity":"Contribution","action":"create","values":{"id":1,"contact_id":2,)"
               R"("total_amount":)" +
               amount + R"(,"receive_date":")" + date + R"("}})");
  };
  for (const char* bad : {"2026-11-03garbage", "2026-11-03 25:00:00", "2026-11-03T10:00:00xx",
                          "2026-02-30", "20260230100000", "2026-11-03 10:00"}) {
    EXPECT_TRUE(gift(bad).reject) << bad;
  }
  for (const char* good : {"2026-11-03", "2026-11-03 10:00:00", "20261103100000"}) {
    auto e = gift(good);
    ASSERT_FALSE(e.reject) << good;
    EXPECT_STREQ((*parse_json(e.data_json))["received_on"].GetString(), "2026-11-03");
  }
  // total_amount is exact as well: a third decimal is refused, not rounded.
  EXPECT_TRUE(gift("2026-11-03", "12345.678").reject);
  EXPECT_TRUE(gift("2026-11-03", "\"1000.001\"").reject);
}

TEST(CiviCrmAdapter, OptOutFlagsAreNoAffirmativeConsent) {
  auto e = map(
      R"({"entity":"Contact","action":"edit","values":{"id":1,"do_not_email":0,"do_not_mail":0}})");
  ASSERT_FALSE(e.reject);
  auto d = parse_json(e.data_json);
  EXPECT_TRUE((*d)["consent"]["email"].GetBool());
  EXPECT_FALSE((*d)["grants_consent"].GetBool());  // so it cannot lift an erasure tombstone
}

}  // namespace
}  // namespace gabe::ingest
