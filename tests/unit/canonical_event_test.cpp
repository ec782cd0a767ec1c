#include "canonical_event.hpp"

#include <gtest/gtest.h>

namespace gabe::ingest {
namespace {

CanonicalEvent map(const std::string& envelope) {
  CanonicalEvent e;
  e.source = "crm";
  e.event_id = "e1";
  auto doc = parse_json(envelope);
  map_generic_envelope(e, *doc, "2026-11-24T12:00:00Z");
  return e;
}

TEST(CanonicalEvent, NormalisesAGift) {
  auto e = map(R"({"type":"gift.created","timestamp":"2026-11-24T11:00:00+01:00",
                   "data":{"gift_ref":"g1","donor_ref":"d1","amount":"19.99","received_on":"2026-11-20"}})");
  ASSERT_FALSE(e.reject) << *e.reject;
  EXPECT_EQ(e.occurred_at, "2026-11-24T10:00:00Z");
  auto data = parse_json(e.data_json);
  EXPECT_EQ((*data)["amount_cents"].GetInt64(), 1999);
  EXPECT_STREQ((*data)["currency"].GetString(), "EUR");
  EXPECT_STREQ((*data)["status"].GetString(), "completed");
}

TEST(CanonicalEvent, AValidGiftCarriesItsTypedColumns) {
  auto e = map(R"({"type":"gift.updated","data":{"gift_ref":"g1","donor_ref":"d1","amount":25,
                   "currency":"CHF","received_on":"2026-11-20","campaign_ref":"xmas",
                   "channel":"sepa","fund":"Kältehilfe","recurring_ref":"r1","status":"pending"}})");
  ASSERT_FALSE(e.reject) << *e.reject;
  ASSERT_TRUE(e.gift);
  EXPECT_EQ(e.gift->gift_ref, "g1");
  EXPECT_EQ(e.gift->amount_cents, 2500);
  EXPECT_EQ(e.gift->currency, "CHF");
  EXPECT_EQ(e.gift->received_on, "2026-11-20");
  EXPECT_EQ(e.gift->campaign_ref, "xmas");
  EXPECT_EQ(e.gift->channel, "sepa");
  EXPECT_EQ(e.gift->fund, "Kältehilfe");
  EXPECT_EQ(e.gift->recurring_ref, "r1");
  EXPECT_EQ(e.gift->status, "pending");
  EXPECT_EQ(e.donor_ref, "d1");

  auto plain = map(R"({"type":"gift.created","data":{"gift_ref":"g2","donor_ref":"d1",
                       "amount":"1.00","received_on":"2026-11-20"}})");
  ASSERT_TRUE(plain.gift);
  EXPECT_EQ(plain.gift->currency, "EUR");
  EXPECT_EQ(plain.gift->status, "completed");
  EXPECT_FALSE(plain.gift->campaign_ref);
  EXPECT_FALSE(plain.gift->channel);
}

TEST(CanonicalEvent, OnlyValidGiftsHaveTypedColumnsAndRefundsNameNoPerson) {
  auto bad = map(R"({"type":"gift.created","data":{"gift_ref":"g1","donor_ref":"d1","amount":"1.00",
                     "received_on":"2026-11-20","channel":"pigeon"}})");
  ASSERT_TRUE(bad.reject);
  EXPECT_FALSE(bad.gift);
  EXPECT_EQ(bad.donor_ref, "d1");  // so that erasure finds the rejected event
  auto refund = map(R"({"type":"gift.refunded","data":{"gift_ref":"g1","donor_ref":"d1"}})");
  ASSERT_FALSE(refund.reject);
  EXPECT_FALSE(refund.gift);
  EXPECT_EQ(refund.donor_ref, "");
}

TEST(CanonicalEvent, RejectsInvalidGiftsNamingEachField) {
  auto e =
      map(R"({"type":"gift.created","data":{"gift_ref":"g1","amount":-5,"received_on":"0000-00-00",
                   "channel":"pigeon","currency":"euro"}})");
  ASSERT_TRUE(e.reject);
  std::vector<std::string> fields;
  for (const auto& f : e.errors) fields.push_back(f.field);
  EXPECT_EQ(fields, (std::vector<std::string>{"data.donor_ref", "data.amount", "data.currency",
                                              "data.received_on", "data.channel"}));
}

TEST(CanonicalEvent, AbsurdAmountsAndWrongTypesAreRejected) {
  EXPECT_TRUE(
      map(R"({"type":"gift.created","data":{"gift_ref":"g","donor_ref":"d","amount":"99999999999.00",
                      "received_on":"2026-01-01"}})")
          .reject);
  EXPECT_TRUE(map(R"({"type":"gift.created","data":{"gift_ref":7,"donor_ref":"d","amount":"1.00",
                      "received_on":"2026-01-01"}})")
                  .reject);
  EXPECT_TRUE(map(R"({"type":"gift.created","data":{"gift_ref":"g","donor_ref":"d","amount":1.005,
                      "received_on":"2026-01-01"}})")
                  .reject);
  // Large amounts with a third decimal were rounded instead of refused.
  for (const char* amount : {"12345.678", "1000.001"}) {
    EXPECT_TRUE(
        map(std::string(R"({"type":"gift.created","data":{"gift_ref":"g","donor_ref":"d",)") +
            R"("amount":)" + amount + R"(,"received_on":"2026-01-01"}})")
            .reject)
        << amount;
  }
  // Three capital letters are not yet a currency.
  EXPECT_TRUE(map(R"({"type":"gift.created","data":{"gift_ref":"g","donor_ref":"d","amount":"1.00",
                      "currency":"ABC","received_on":"2026-01-01"}})")
                  .reject);
  EXPECT_TRUE(map(R"({"type":"recurring.upserted","data":{"recurring_ref":"r","donor_ref":"d",
                      "amount":"5.00","currency":"QQQ","interval":"monthly","status":"active"}})")
                  .reject);
}

TEST(CanonicalEvent, DonorConsentAndUpdatedAt) {
  auto e =
      map(R"({"type":"donor.upserted","data":{"donor_ref":"d1","first_name":"Jürgen","country":"DE",
                   "language":"de-DE","consent":{"email":true,"post":false},"tags":["a"],
                   "audit":{"gender":"m","age_band":"60-74"}}})");
  ASSERT_FALSE(e.reject) << *e.reject;
  auto data = parse_json(e.data_json);
  EXPECT_STREQ((*data)["updated_at"].GetString(), "2026-11-24T12:00:00Z");  // the fallback time
  EXPECT_STREQ((*data)["language"].GetString(), "de");
  EXPECT_TRUE((*data)["grants_consent"].GetBool());
  EXPECT_TRUE((*data)["consent"]["email"].GetBool());
  EXPECT_STREQ((*data)["audit"]["age_band"].GetString(), "60-74");
}

TEST(CanonicalEvent, RejectsUnknownConsentChannelsAndBadCountry) {
  auto e = map(R"({"type":"donor.upserted","data":{"donor_ref":"d1","country":"Germany",
                   "consent":{"fax":true},"audit":{"gender":"x"}}})");
  ASSERT_TRUE(e.reject);
  std::vector<std::string> fields;
  for (const auto& f : e.errors) fields.push_back(f.field);
  EXPECT_EQ(fields,
            (std::vector<std::string>{"data.country", "data.consent.fax", "data.audit.gender"}));
}

TEST(CanonicalEvent, FutureTimesAndOddLanguagesAreRejected) {
  EXPECT_TRUE(
      map(R"({"type":"donor.upserted","timestamp":"2199-01-01T00:00:00Z","data":{"donor_ref":"d"}})")
          .reject);
  EXPECT_TRUE(
      map(R"({"type":"donor.upserted","data":{"donor_ref":"d","updated_at":"2199-01-01T00:00:00Z"}})")
          .reject);
  EXPECT_TRUE(map(R"({"type":"donor.upserted","data":{"donor_ref":"d","language":"-x"}})").reject);
  EXPECT_FALSE(
      map(R"({"type":"donor.upserted","data":{"donor_ref":"d","language":"de_DE"}})").reject);
}

TEST(CanonicalEvent, RejectedEventsStillNameTheirDonor) {
  auto e = map(R"({"type":"gift.created","data":{"donor_ref":"d7","amount":"x"}})");
  ASSERT_TRUE(e.reject);
  EXPECT_EQ(e.donor_ref, "d7");
}

TEST(CanonicalEvent, UnknownTypeIsRejectedNotABadRequest) {
  auto e = map(R"({"type":"donor.exploded","data":{}})");
  EXPECT_TRUE(e.reject);
  EXPECT_EQ(e.errors.at(0).field, "type");
}

TEST(CanonicalEvent, EnvelopeWithoutTypeOrDataIsABadRequest) {
  for (const char* bad : {R"({"data":{}})", R"({"type":"gift.created"})", R"({"type":5,"data":{}})",
                          R"({"type":"gift.created","data":[]})", R"([1,2])"}) {
    try {
      map(bad);
      FAIL() << bad;
    } catch (const Problem& p) {
      EXPECT_EQ(p.status(), 400) << bad;
    }
  }
}

TEST(CanonicalEvent, EveryTypeHasItsRequiredFields) {
  for (const char* type : {"donor.upserted", "donor.merged", "donor.erased", "consent.changed",
                           "gift.created", "gift.updated", "gift.refunded", "recurring.upserted",
                           "campaign.upserted", "appeal.sent"}) {
    auto e = map(std::string(R"({"type":")") + type + R"(","data":{}})");
    EXPECT_TRUE(e.reject) << type;
  }
  EXPECT_FALSE(
      map(R"({"type":"consent.changed","data":{"donor_ref":"d","channel":"profiling","granted":false}})")
          .reject);
  EXPECT_FALSE(
      map(R"({"type":"donor.merged","data":{"donor_ref":"d","merged_refs":["a","b"]}})").reject);
  EXPECT_TRUE(map(R"({"type":"donor.merged","data":{"donor_ref":"d","merged_refs":[]}})").reject);
  EXPECT_FALSE(
      map(R"({"type":"recurring.upserted","data":{"recurring_ref":"r","donor_ref":"d","amount":"10",
                       "interval":"monthly","status":"active"}})")
          .reject);
  EXPECT_FALSE(
      map(R"({"type":"campaign.upserted","data":{"campaign_ref":"c","starts_on":"2026-01-01",
                       "ends_on":"2026-02-01","cost_per_contact":"0.85"}})")
          .reject);
  EXPECT_TRUE(
      map(R"({"type":"campaign.upserted","data":{"campaign_ref":"c","starts_on":"2026-02-01",
                      "ends_on":"2026-01-01"}})")
          .reject);
  EXPECT_FALSE(
      map(R"({"type":"appeal.sent","data":{"campaign_ref":"c","donor_ref":"d","sent_on":"2026-01-01"}})")
          .reject);
}

TEST(CanonicalEvent, ImportLinesCarryIdAndSource) {
  CanonicalEvent e;
  auto doc = parse_json(R"({"id":"x1","type":"donor.erased","data":{"donor_ref":"d"}})");
  map_import_line(e, *doc, "crm", "2026-11-24T12:00:00Z");
  EXPECT_EQ(e.event_id, "x1");
  EXPECT_EQ(e.source, "crm");
  EXPECT_TRUE(e.is_barrier());
  auto no_id = parse_json(R"({"type":"donor.erased","data":{"donor_ref":"d"}})");
  CanonicalEvent f;
  EXPECT_THROW(map_import_line(f, *no_id, "crm", "2026-11-24T12:00:00Z"), Problem);
}

}  // namespace
}  // namespace gabe::ingest
