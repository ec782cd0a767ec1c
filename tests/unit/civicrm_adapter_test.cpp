#include "civicrm_adapter.hpp"

#include <gtest/gtest.h>

namespace gabe::ingest {
namespace {

// The opt-in groups of the examples: e-mail 12, phone 13, SMS 14.
SourceConfig groups_12_13_14() {
  SourceConfig c;
  c.optin_groups = {{"email", "12"}, {"phone", "13"}, {"sms", "14"}};
  return c;
}

CanonicalEvent map(const std::string& body, const SourceConfig& config = groups_12_13_14()) {
  CanonicalEvent e;
  e.source = "civi";
  e.event_id = "e1";
  e.occurred_at = "2026-11-24T12:00:00Z";
  auto doc = parse_json(body);
  map_civicrm_event(e, *doc, config);
  return e;
}

// The consent a contact body states: channel → granted, "-" for a channel it does not state.
std::string consent_of(const CanonicalEvent& e) {
  if (e.reject) return "rejected: " + *e.reject;
  auto d = parse_json(e.data_json);
  std::string out;
  for (const char* c : {"email", "post", "phone", "sms"}) {
    out += std::string(out.empty() ? "" : " ") + c + "=";
    if (!d->HasMember("consent") || !(*d)["consent"].HasMember(c)) {
      out += "-";
    } else {
      out += (*d)["consent"][c].GetBool() ? "yes" : "no";
    }
  }
  return out;
}

std::string contact(const std::string& values) {
  return R"({"entity":"Contact","action":"edit","values":{"id":17,)" + values + "}}";
}

constexpr const char* kAllClear =
    R"("do_not_email":false,"is_opt_out":false,"do_not_mail":false,"do_not_phone":false,"do_not_sms":false)";

TEST(CiviCrmAdapter, ContactBecomesDonorUpsert) {
  auto e = map(R"({"entity":"Contact","action":"create","values":{"id":17,"first_name":"Anna",
      "last_name":"Schmidt","email_primary.email":"anna@example.org","address_primary.city":"Köln",
      "address_primary.postal_code":"50667","address_primary.country_id:abbr":"DE",
      "preferred_language":"de_DE"}})");
  ASSERT_FALSE(e.reject) << *e.reject;
  EXPECT_EQ(e.type, "donor.upserted");
  auto d = parse_json(e.data_json);
  EXPECT_STREQ((*d)["donor_ref"].GetString(), "17");
  EXPECT_STREQ((*d)["email"].GetString(), "anna@example.org");
  EXPECT_STREQ((*d)["city"].GetString(), "Köln");
  EXPECT_STREQ((*d)["country"].GetString(), "DE");
  EXPECT_STREQ((*d)["language"].GetString(), "de");
}

TEST(CiviCrmAdapter, PostByLegitimateInterestUnlessObjected) {
  EXPECT_EQ(consent_of(map(contact(R"("do_not_mail":false)"))), "email=- post=yes phone=- sms=-");
  EXPECT_EQ(consent_of(map(contact(R"("do_not_mail":true)"))), "email=- post=no phone=- sms=-");
  EXPECT_EQ(consent_of(map(contact(R"("do_not_mail":"1")"))), "email=- post=no phone=- sms=-");
  // No do_not_mail: nothing known, nothing changed.
  EXPECT_EQ(consent_of(map(contact(R"("first_name":"Anna")"))), "email=- post=- phone=- sms=-");
}

TEST(CiviCrmAdapter, FlagsAloneGrantNoOptInChannel) {
  // Clear do_not_* flags are no opt-in (§7 UWG); without group information the opt-in
  // channels are neither granted nor withdrawn.
  EXPECT_EQ(consent_of(map(contact(kAllClear))), "email=- post=yes phone=- sms=-");
}

TEST(CiviCrmAdapter, OptInChannelsNeedMembershipOfTheirGroup) {
  EXPECT_EQ(consent_of(map(contact(std::string(kAllClear) + R"(,"groups":[12,14,99])"))),
            "email=yes post=yes phone=no sms=yes");
  EXPECT_EQ(consent_of(map(contact(std::string(kAllClear) + R"(,"groups":["13"])"))),
            "email=no post=yes phone=yes sms=no");
  EXPECT_EQ(consent_of(map(contact(std::string(kAllClear) + R"(,"groups":[])"))),
            "email=no post=yes phone=no sms=no");
  // A member whose withdrawal flags are not sent: not granted, not withdrawn.
  EXPECT_EQ(consent_of(map(contact(R"("groups":[12,13,14])"))), "email=- post=- phone=- sms=-");
  EXPECT_TRUE(map(contact(R"("groups":"12")")).reject);
  EXPECT_TRUE(map(contact(R"("groups":[{"id":12}])")).reject);
}

TEST(CiviCrmAdapter, FlagsWithdrawTheirChannelEvenForMembers) {
  const std::string members = R"(,"groups":[12,13,14])";
  auto with = [&](const std::string& flags) { return consent_of(map(contact(flags + members))); };
  EXPECT_EQ(with(R"("do_not_email":true,"is_opt_out":false)"), "email=no post=- phone=- sms=-");
  EXPECT_EQ(with(R"("do_not_email":false,"is_opt_out":1)"), "email=no post=- phone=- sms=-");
  EXPECT_EQ(with(R"("is_opt_out":1)"), "email=no post=- phone=- sms=-");
  EXPECT_EQ(with(R"("do_not_phone":true)"), "email=- post=- phone=no sms=-");
  EXPECT_EQ(with(R"("do_not_sms":true,"do_not_phone":false)"), "email=- post=- phone=yes sms=no");
}

TEST(CiviCrmAdapter, AChannelWithoutAConfiguredGroupHasNoConsent) {
  SourceConfig email_only;
  email_only.optin_groups = {{"email", "12"}};
  EXPECT_EQ(
      consent_of(map(contact(std::string(kAllClear) + R"(,"groups":[12,13,14])"), email_only)),
      "email=yes post=yes phone=no sms=no");
  EXPECT_EQ(consent_of(map(contact(R"("first_name":"Anna")"), SourceConfig{})),
            "email=no post=- phone=no sms=no");
}

TEST(CiviCrmAdapter, DeceasedOrTrashedContactsHaveNoChannel) {
  const std::string all = std::string(kAllClear) + R"(,"groups":[12,13,14])";
  EXPECT_EQ(consent_of(map(contact(all + R"(,"is_deceased":true)"))),
            "email=no post=no phone=no sms=no");
  EXPECT_EQ(consent_of(map(contact(all + R"(,"is_deleted":1)"))),
            "email=no post=no phone=no sms=no");
  EXPECT_EQ(consent_of(map(contact(R"("is_deleted":true)"))), "email=no post=no phone=no sms=no");
  // Restored from the trash: the channels come back as the body shows them.
  EXPECT_EQ(consent_of(map(contact(all + R"(,"is_deleted":false,"is_deceased":false)"))),
            "email=yes post=yes phone=yes sms=yes");
  // A trashed contact keeps its data.
  auto e = map(contact(R"("is_deleted":true,"first_name":"Anna")"));
  EXPECT_STREQ((*parse_json(e.data_json))["first_name"].GetString(), "Anna");
}

TEST(CiviCrmAdapter, ConsentFromCiviCrmIsNoAffirmativeConsent) {
  auto e = map(contact(std::string(kAllClear) + R"(,"groups":[12])"));
  ASSERT_FALSE(e.reject);
  auto d = parse_json(e.data_json);
  EXPECT_TRUE((*d)["consent"]["email"].GetBool());
  EXPECT_FALSE((*d)["grants_consent"].GetBool());  // so it cannot lift an erasure tombstone
}

TEST(CiviCrmAdapter, PostHookContactTypesAreContacts) {
  for (const char* type : {"Individual", "Organization", "Household"}) {
    auto e = map(std::string(R"({"entity":")") + type +
                 R"(","action":"create","values":{"id":5,"organization_name":"Verein"}})");
    ASSERT_FALSE(e.reject) << type;
    EXPECT_EQ(e.type, "donor.upserted") << type;
    EXPECT_EQ(e.donor_ref, "5") << type;
  }
}

std::string group_contact(const std::string& action, const std::string& values) {
  return R"({"entity":"GroupContact","action":")" + action +
         R"(","values":{"id":3,"contact_id":17,)" + values + "}}";
}

TEST(CiviCrmAdapter, GroupContactIsOptInEvidenceForItsChannel) {
  auto e = map(
      group_contact("create", R"("group_id":13,"status":"Added","contact_id.do_not_phone":false)"));
  ASSERT_FALSE(e.reject) << *e.reject;
  ASSERT_FALSE(e.ignored) << *e.ignored;
  EXPECT_EQ(e.type, "consent.changed");
  auto d = parse_json(e.data_json);
  EXPECT_STREQ((*d)["donor_ref"].GetString(), "17");
  EXPECT_STREQ((*d)["channel"].GetString(), "phone");
  EXPECT_TRUE((*d)["granted"].GetBool());
  EXPECT_STREQ((*d)["consent_source"].GetString(), "civicrm group 13");

  auto email =
      map(group_contact("create", R"("group_id":"12","status:name":"Added",)"
                                  R"("contact_id.do_not_email":0,"contact_id.is_opt_out":0)"));
  ASSERT_FALSE(email.ignored);
  EXPECT_TRUE((*parse_json(email.data_json))["granted"].GetBool());
}

TEST(CiviCrmAdapter, GroupContactGrantsOnlyWhatItKnows) {
  // Without the contact's withdrawal flags a membership is no evidence: answered, ignored.
  EXPECT_TRUE(map(group_contact("create", R"("group_id":12,"status":"Added")")).ignored);
  EXPECT_TRUE(
      map(group_contact("create",
                        R"("group_id":12,"status":"Added","contact_id.do_not_email":false)"))
          .ignored);  // is_opt_out missing
  // A flag set, or a deceased or trashed contact: withdrawn.
  for (
      const char* v :
      {R"("group_id":12,"status":"Added","contact_id.is_opt_out":true)",
       R"("group_id":13,"status":"Added","contact_id.do_not_phone":false,"contact_id.is_deceased":true)",
       R"("group_id":14,"status":"Added","contact_id.is_deleted":true)"}) {
    auto e = map(group_contact("create", v));
    ASSERT_FALSE(e.ignored) << v;
    EXPECT_FALSE((*parse_json(e.data_json))["granted"].GetBool()) << v;
  }
}

TEST(CiviCrmAdapter, LeavingTheGroupWithdraws) {
  for (const auto& [action, values] : std::vector<std::pair<std::string, std::string>>{
           {"edit", R"("group_id":14,"status":"Removed")"},
           {"edit", R"("group_id":14,"status":"Pending")"},
           {"delete", R"("group_id":14,"status":"Added","contact_id.do_not_sms":false)"}}) {
    auto e = map(group_contact(action, values));
    ASSERT_FALSE(e.ignored) << values;
    ASSERT_FALSE(e.reject) << values;
    auto d = parse_json(e.data_json);
    EXPECT_STREQ((*d)["channel"].GetString(), "sms");
    EXPECT_FALSE((*d)["granted"].GetBool()) << values;
  }
}

TEST(CiviCrmAdapter, GroupsThatAreNoOptInGroupAreIgnored) {
  EXPECT_TRUE(map(group_contact("create", R"("group_id":99,"status":"Added")")).ignored);
  EXPECT_TRUE(
      map(group_contact("create", R"("group_id":12,"status":"Removed")"), SourceConfig{}).ignored);
}

TEST(CiviCrmAdapter, ModifiedDateIsBerlinTime) {
  auto updated_at = [](const std::string& modified) {
    auto e = map(contact(R"("modified_date":")" + modified + "\""));
    if (e.reject) return "rejected: " + *e.reject;
    return std::string((*parse_json(e.data_json))["updated_at"].GetString());
  };
  EXPECT_EQ(updated_at("2025-01-15 10:00:00"), "2025-01-15T09:00:00Z");  // CET, +01:00
  EXPECT_EQ(updated_at("2025-07-15 10:00:00"), "2025-07-15T08:00:00Z");  // CEST, +02:00
  EXPECT_EQ(updated_at("20250715100000"), "2025-07-15T08:00:00Z");
  // The change days of 2025: 30 March 02:00 → 03:00, 26 October 03:00 → 02:00.
  EXPECT_EQ(updated_at("2025-03-30 01:59:59"), "2025-03-30T00:59:59Z");
  EXPECT_EQ(updated_at("2025-03-30 02:30:00"), "2025-03-30T01:30:00Z");  // skipped: read as CET
  EXPECT_EQ(updated_at("2025-03-30 03:00:00"), "2025-03-30T01:00:00Z");
  EXPECT_EQ(updated_at("2025-10-26 02:30:00"), "2025-10-26T00:30:00Z");  // twice: the first
  EXPECT_EQ(updated_at("2025-10-26 03:00:00"), "2025-10-26T02:00:00Z");
  // With an offset it is taken as it is.
  EXPECT_EQ(updated_at("2025-07-15T10:00:00+00:00"), "2025-07-15T10:00:00Z");
  EXPECT_NE(updated_at("2025-02-30 10:00:00").rfind("rejected", 0), std::string::npos);
  EXPECT_NE(updated_at("2025-07-15 24:00:00").rfind("rejected", 0), std::string::npos);
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

TEST(CiviCrmAdapter, BareContributionStatusIdsResolveToCoreStatuses) {
  auto status = [](const std::string& id) -> std::string {
    auto e = map(R"({"entity":"Contribution","action":"create","values":{"id":1,"contact_id":2,)"
                 R"("total_amount":"5.00","receive_date":"2026-11-03","contribution_status_id":)" +
                 id + "}}");
    if (e.ignored) return "ignored";
    if (e.reject) return "rejected";
    return (*parse_json(e.data_json))["status"].GetString();
  };
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"1", "completed"},   {"2", "pending"},   {"3", "cancelled"}, {"4", "failed"},
      {"5", "pending"},     {"6", "pending"},   {"7", "refunded"},  {"8", "pending"},
      {"9", "refunded"},    {"10", "refunded"}, {"11", "ignored"},  {"\"1\"", "completed"},
      {"\"7\"", "refunded"}};
  for (const auto& [id, want] : expected) EXPECT_EQ(status(id), want) << id;
  // Never a completed gift for what cannot be resolved.
  for (const char* bad : {"0", "12", "99", "\"42\"", "\"Shipped\"", "-1"})
    EXPECT_EQ(status(bad), "rejected") << bad;
  // A name given in the id field is read as a name.
  EXPECT_EQ(status("\"Completed\""), "completed");
}

TEST(CiviCrmAdapter, EveryStatusName) {
  auto status = [](const std::string& name) -> std::string {
    auto e =
        map(R"({"entity":"Contribution","action":"create","values":{"id":1,"contact_id":2,)"
            R"("total_amount":"5.00","receive_date":"2026-11-03","contribution_status_id:name":")" +
            name + "\"}}");
    if (e.ignored) return "ignored";
    if (e.reject) return "rejected";
    return (*parse_json(e.data_json))["status"].GetString();
  };
  EXPECT_EQ(status("Completed"), "completed");
  for (const char* p : {"Pending", "In Progress", "Partially paid", "Overdue"})
    EXPECT_EQ(status(p), "pending") << p;
  EXPECT_EQ(status("Failed"), "failed");
  EXPECT_EQ(status("Cancelled"), "cancelled");
  for (const char* r : {"Refunded", "Chargeback", "Pending refund"})
    EXPECT_EQ(status(r), "refunded") << r;
  EXPECT_EQ(status("Template"), "ignored");
  EXPECT_EQ(status("Shipped"), "rejected");
}

TEST(CiviCrmAdapter, TestAndTemplateContributionsAreIgnored) {
  const std::string gift =
      R"({"entity":"Contribution","action":"create","values":{"id":1,"contact_id":2,"total_amount":"5.00",)"
      R"("receive_date":"2026-11-03","contribution_status_id:name":"Completed")";
  EXPECT_FALSE(map(gift + "}}").ignored);
  EXPECT_FALSE(map(gift + R"(,"is_test":false}})").ignored);
  EXPECT_TRUE(map(gift + R"(,"is_test":true}})").ignored);
  EXPECT_TRUE(map(gift + R"(,"is_test":"1"}})").ignored);
  EXPECT_TRUE(map(gift + R"(,"is_template":1}})").ignored);
  EXPECT_TRUE(
      map(R"({"entity":"ContributionRecur","action":"create","values":{"id":1,"contact_id":2,)"
          R"("amount":"5.00","is_test":1,"contribution_status_id:name":"In Progress"}})")
          .ignored);
}

TEST(CiviCrmAdapter, CiviSepaInstrumentsAreSepa) {
  for (const char* instrument : {"FRST", "RCUR", "OOFF", "frst", "SEPA Direct Debit"}) {
    auto e =
        map(R"({"entity":"Contribution","action":"create","values":{"id":1,"contact_id":2,)"
            R"("total_amount":"5.00","receive_date":"2026-11-03","payment_instrument_id:name":")" +
            std::string(instrument) + "\"}}");
    ASSERT_FALSE(e.reject) << instrument;
    EXPECT_STREQ((*parse_json(e.data_json))["channel"].GetString(), "sepa") << instrument;
  }
}

TEST(CiviCrmAdapter, DailyAndWeeklyRecurring) {
  auto interval = [](const std::string& unit, int n) -> std::string {
    auto e =
        map(R"({"entity":"ContributionRecur","action":"create","values":{"id":12,"contact_id":17,)"
            R"("amount":"10.00","frequency_unit":")" +
            unit + R"(","frequency_interval":)" + std::to_string(n) +
            R"(,"contribution_status_id:name":"In Progress"}})");
    if (e.reject) return "rejected";
    return (*parse_json(e.data_json))["interval"].GetString();
  };
  EXPECT_EQ(interval("day", 1), "daily");
  EXPECT_EQ(interval("day", 7), "weekly");
  EXPECT_EQ(interval("week", 1), "weekly");
  EXPECT_EQ(interval("week", 2), "fortnightly");
  EXPECT_EQ(interval("day", 14), "fortnightly");
  EXPECT_EQ(interval("month", 1), "monthly");
  EXPECT_EQ(interval("month", 6), "half_yearly");
  EXPECT_EQ(interval("year", 1), "yearly");
  EXPECT_EQ(interval("week", 3), "rejected");
  EXPECT_EQ(interval("day", 3), "rejected");
  EXPECT_EQ(interval("year", 2), "rejected");
}

}  // namespace
}  // namespace gabe::ingest
