// CiviCRM webhooks through the real gabe-ingest: consent per channel as German law has it (with
// and without configured opt-in groups, GroupContact bodies, deceased and trashed contacts),
// test and template contributions answered but not stored, bare contribution status ids, the
// post hook's contact types, Europe/Berlin modification times and weekly recurring gifts; and
// the opt-in groups set with the real gabectl.
#include <chrono>
#include <thread>

#include "ingest_fixture.hpp"

namespace gabe::test {
namespace {

class CivicrmPush : public IngestTest {
 protected:
  // Registers source `name` (adapter civicrm) with `options`; keeps its secret.
  void add_source(const std::string& name, std::vector<std::string> options = {}) {
    std::vector<std::string> args = {"source", "add", name, "--adapter", "civicrm"};
    args.insert(args.end(), options.begin(), options.end());
    std::string out, err;
    ASSERT_EQ(gabectl(args, &out, &err), 0) << err;
    source_ = name;
    civi_secret_ = last_line(out);
  }

  HttpResponse send(const std::string& body) {
    return webhook(body, "civi-" + std::to_string(++sent_), source_, civi_secret_);
  }

  std::string consent(const std::string& ref) { return consent_of(source_, ref); }

  std::string source_;
  std::string civi_secret_;
  int sent_ = 0;
};

std::string contact(const std::string& id, const std::string& modified, const std::string& more) {
  return R"({"entity":"Individual","action":"edit","values":{"id":)" + id +
         R"(,"first_name":"Anna","last_name":"Schmidt","modified_date":")" + modified + "\"" +
         (more.empty() ? "" : "," + more) + "}}";
}

constexpr const char* kAllClear =
    R"("do_not_email":false,"is_opt_out":false,"do_not_mail":false,"do_not_phone":false,"do_not_sms":false)";

TEST_F(CivicrmPush, OptInChannelsFollowTheConfiguredGroups) {
  add_source("civi", {"--email-optin-group", "12", "--phone-optin-group", "13"});
  // A member of all three groups: e-mail and phone have their group, SMS has none.
  ASSERT_EQ(
      send(contact("1", "2026-11-20 10:00:00", std::string(kAllClear) + R"(,"groups":[12,13,14])"))
          .status,
      200);
  EXPECT_EQ(consent("1"), "email=yes post=yes phone=yes sms=no");
  // Flags without group information neither grant nor withdraw an opt-in channel.
  ASSERT_EQ(send(contact("1", "2026-11-21 10:00:00", kAllClear)).status, 200);
  EXPECT_EQ(consent("1"), "email=yes post=yes phone=yes sms=no");
  // A withdrawal flag withdraws its channel, membership or not.
  ASSERT_EQ(
      send(contact("1", "2026-11-22 10:00:00", R"("do_not_phone":true,"do_not_mail":true)")).status,
      200);
  EXPECT_EQ(consent("1"), "email=yes post=no phone=no sms=no");
  // Leaving the e-mail group withdraws e-mail.
  auto left = send(
      R"({"entity":"GroupContact","action":"edit","values":{"contact_id":1,"group_id":12,"status":"Removed"}})");
  ASSERT_EQ(left.status, 200) << left.body;
  EXPECT_STREQ((*json(left))["status"].GetString(), "processed");
  EXPECT_EQ(consent("1"), "email=no post=no phone=no sms=no");
  // Joining it again, with the contact's flags joined in, grants it again.
  auto joined = send(
      R"({"entity":"GroupContact","action":"create","values":{"contact_id":1,"group_id":12,"status":"Added",
          "contact_id.do_not_email":false,"contact_id.is_opt_out":false}})");
  ASSERT_EQ(joined.status, 200) << joined.body;
  EXPECT_EQ(consent("1"), "email=yes post=no phone=no sms=no");
  // Without those flags a membership is no evidence: answered, not stored.
  auto unknown = send(
      R"({"entity":"GroupContact","action":"create","values":{"contact_id":1,"group_id":13,"status":"Added"}})");
  ASSERT_EQ(unknown.status, 200) << unknown.body;
  EXPECT_STREQ((*json(unknown))["status"].GetString(), "ignored");
  EXPECT_EQ(consent("1"), "email=yes post=no phone=no sms=no");
  // The e-mail history: granted, withdrawn, granted again; nothing for the bodies that did not
  // know.
  EXPECT_EQ(scalar("SELECT count(*) FROM donor.consent_history h JOIN donor.donors d ON d.id = "
                   "h.donor_id WHERE d.ref = '1' AND h.channel = 'email'"),
            "3");
}

TEST_F(CivicrmPush, WithoutConfiguredGroupsNoOptInChannelHasConsent) {
  add_source("civi");
  ASSERT_EQ(
      send(contact("2", "2026-11-20 10:00:00", std::string(kAllClear) + R"(,"groups":[12,13,14])"))
          .status,
      200);
  EXPECT_EQ(consent("2"), "email=no post=yes phone=no sms=no");
  // A GroupContact of a group that is no opt-in group is answered and not stored.
  auto r = send(
      R"({"entity":"GroupContact","action":"create","values":{"contact_id":2,"group_id":12,"status":"Added",
          "contact_id.do_not_email":false,"contact_id.is_opt_out":false}})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_STREQ((*json(r))["status"].GetString(), "ignored");
  EXPECT_EQ(consent("2"), "email=no post=yes phone=no sms=no");
}

TEST_F(CivicrmPush, GroupsChangedWithGabectlApplyToLaterWebhooks) {
  add_source("civi", {"--email-optin-group", "12"});
  const std::string member = std::string(kAllClear) + R"(,"groups":[12,14])";
  ASSERT_EQ(send(contact("3", "2026-11-20 10:00:00", member)).status, 200);
  EXPECT_EQ(consent("3"), "email=yes post=yes phone=no sms=no");
  std::string out, err;
  ASSERT_EQ(gabectl({"source", "set", "civi", "--sms-optin-group", "14"}, &out, &err), 0) << err;
  EXPECT_NE(out.find("email=12 phone=none (no consent) sms=14"), std::string::npos) << out;
  // The service reloads its sources within two seconds.
  std::this_thread::sleep_for(std::chrono::milliseconds(2100));
  ASSERT_EQ(send(contact("3", "2026-11-21 10:00:00", member)).status, 200);
  EXPECT_EQ(consent("3"), "email=yes post=yes phone=no sms=yes");
}

TEST_F(CivicrmPush, DeceasedAndTrashedContactsLoseEveryChannelButKeepTheirData) {
  add_source("civi",
             {"--email-optin-group", "12", "--phone-optin-group", "13", "--sms-optin-group", "14"});
  const std::string member = std::string(kAllClear) + R"(,"groups":[12,13,14])";
  for (const char* id : {"4", "5"}) {
    ASSERT_EQ(send(contact(id, "2026-11-20 10:00:00", member)).status, 200);
    EXPECT_EQ(consent(id), "email=yes post=yes phone=yes sms=yes");
  }
  ASSERT_EQ(send(contact("4", "2026-11-21 10:00:00", member + R"(,"is_deceased":true)")).status,
            200);
  ASSERT_EQ(send(contact("5", "2026-11-21 10:00:00", member + R"(,"is_deleted":true)")).status,
            200);
  EXPECT_EQ(consent("4"), "email=no post=no phone=no sms=no");
  EXPECT_EQ(consent("5"), "email=no post=no phone=no sms=no");
  auto trashed = json(get("/v1/donors?source=civi&ref=5"));
  EXPECT_STREQ((*trashed)["contact"]["last_name"].GetString(), "Schmidt");
  // Restored from the trash, the channels come back as CiviCRM shows them.
  ASSERT_EQ(send(contact("5", "2026-11-22 10:00:00", member + R"(,"is_deleted":false)")).status,
            200);
  EXPECT_EQ(consent("5"), "email=yes post=yes phone=yes sms=yes");
}

TEST_F(CivicrmPush, TestAndTemplateContributionsAreAnsweredButNotStored) {
  add_source("civi");
  const auto inbox = scalar("SELECT count(*) FROM ingest.inbox");
  for (const char* values : {R"("id":70,"is_test":true,"contribution_status_id:name":"Completed")",
                             R"("id":71,"contribution_status_id":11)",
                             R"("id":72,"contribution_status_id:name":"Template")"}) {
    auto r = send(R"({"entity":"Contribution","action":"create","values":{"contact_id":6,)"
                  R"("total_amount":"25.00","receive_date":"2026-11-20 10:00:00",)" +
                  std::string(values) + "}}");
    ASSERT_EQ(r.status, 200) << r.body;
    auto d = json(r);
    EXPECT_STREQ((*d)["status"].GetString(), "ignored") << values;
    EXPECT_TRUE((*d)["reason"].IsString());
  }
  EXPECT_EQ(scalar("SELECT count(*) FROM ingest.inbox"), inbox);
  EXPECT_EQ(scalar("SELECT count(*) FROM donor.gifts"), "0");
  EXPECT_EQ(get("/v1/donors?source=civi&ref=6").status, 404);
}

TEST_F(CivicrmPush, BareStatusIdsResolveOrAreRefused) {
  add_source("civi");
  auto gift = [&](const std::string& id, const std::string& status) {
    return send(R"({"entity":"Contribution","action":"create","values":{"id":)" + id +
                R"(,"contact_id":7,"total_amount":"10.00","receive_date":"2026-11-20",)"
                R"("contribution_status_id":)" +
                status + "}}");
  };
  ASSERT_EQ(gift("80", "1").status, 200);
  ASSERT_EQ(gift("81", "2").status, 200);
  ASSERT_EQ(gift("82", "\"9\"").status, 200);
  ASSERT_EQ(gift("83", "4").status, 200);
  auto unknown = gift("84", "42");
  EXPECT_EQ(unknown.status, 422) << unknown.body;
  EXPECT_EQ(scalar("SELECT string_agg(ref || ':' || status, ' ' ORDER BY ref) FROM donor.gifts"),
            "80:completed 81:pending 82:refunded 83:failed");
  // Kept as rejected, to be replayed after a fix.
  EXPECT_EQ(scalar("SELECT status FROM ingest.inbox WHERE source = 'civi' AND event_id = 'civi-5'"),
            "rejected");
}

TEST_F(CivicrmPush, PostHookTypesBerlinTimesAndWeeklyGifts) {
  add_source("civi");
  for (const char* type : {"Individual", "Organization", "Household"}) {
    auto r = send(std::string(R"({"entity":")") + type +
                  R"(","action":"create","values":{"id":9,"organization_name":"Verein",)"
                  R"("modified_date":"2026-07-01 12:00:00"}})");
    EXPECT_EQ(r.status, 200) << type << " " << r.body;
  }
  // 12:00 in Berlin in summer is 10:00 UTC.
  EXPECT_EQ(scalar("SELECT to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') FROM "
                   "donor.donors WHERE ref = '9'"),
            "2026-07-01 10:00");
  auto weekly = send(
      R"({"entity":"ContributionRecur","action":"create","values":{"id":30,"contact_id":9,"amount":"3.00",
          "frequency_unit":"week","frequency_interval":1,"contribution_status_id:name":"In Progress",
          "payment_instrument_id:name":"RCUR"}})");
  ASSERT_EQ(weekly.status, 200) << weekly.body;
  auto daily = send(
      R"({"entity":"ContributionRecur","action":"create","values":{"id":31,"contact_id":9,"amount":"1.00",
          "frequency_unit":"day","frequency_interval":1,"contribution_status_id:name":"In Progress"}})");
  ASSERT_EQ(daily.status, 200) << daily.body;
  EXPECT_EQ(
      scalar("SELECT string_agg(ref || ':' || interval, ' ' ORDER BY ref) FROM donor.recurring"),
      "30:weekly 31:daily");
  auto sepa = send(
      R"({"entity":"Contribution","action":"create","values":{"id":90,"contact_id":9,"total_amount":"3.00",
          "receive_date":"2026-11-20","contribution_status_id:name":"Completed","payment_instrument_id:name":"FRST"}})");
  ASSERT_EQ(sepa.status, 200) << sepa.body;
  EXPECT_EQ(scalar("SELECT channel FROM donor.gifts WHERE ref = '90'"), "sepa");
}

// Bodies that the adapter before these rules rejected (a Template status, a GroupContact) are
// kept; a replay maps them with the source's current opt-in groups.
TEST_F(CivicrmPush, ReplayUsesTheSourcesGroupsAndDropsWhatIsNowIgnored) {
  add_source("civi", {"--email-optin-group", "12"});
  ASSERT_EQ(send(contact("8", "2026-11-20 10:00:00", kAllClear)).status, 200);
  auto stored = [&](const std::string& event_id, const std::string& body) {
    return scalar(
        "INSERT INTO ingest.inbox (source, event_id, type, adapter, donor_ref, occurred_at, raw, "
        "status, error) VALUES ('civi', '" +
        event_id + "', 'civicrm', 'civicrm', '8', '2026-11-25T10:00:00Z', '" + body +
        "', 'rejected', 'old mapping') RETURNING id");
  };
  const auto tmpl = stored(
      "old-1",
      R"({"entity":"Contribution","action":"create","values":{"id":60,"contact_id":8,"total_amount":"5.00","receive_date":"2026-11-20","contribution_status_id:name":"Template"}})");
  const auto joined = stored(
      "old-2",
      R"({"entity":"GroupContact","action":"create","values":{"contact_id":8,"group_id":12,"status":"Added","contact_id.do_not_email":false,"contact_id.is_opt_out":false}})");
  auto r = admin("POST", "/v1/events/" + tmpl + "/replay");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_STREQ((*json(r))["status"].GetString(), "ignored");
  EXPECT_EQ(scalar("SELECT count(*) FROM ingest.inbox WHERE id = " + tmpl), "0");
  EXPECT_EQ(scalar("SELECT count(*) FROM donor.gifts"), "0");
  EXPECT_EQ(scalar("SELECT details ->> 'outcome' FROM gabe.audit_log WHERE action = "
                   "'event.replay' AND entity = 'event:" +
                   tmpl + "'"),
            "ignored");
  EXPECT_EQ(consent("8"), "email=- post=yes phone=no sms=no");
  r = admin("POST", "/v1/events/" + joined + "/replay");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_STREQ((*json(r))["status"].GetString(), "processed");
  EXPECT_EQ(consent("8"), "email=yes post=yes phone=no sms=no");
}

TEST_F(CivicrmPush, GabectlSetsAndRefusesOptInGroups) {
  std::string out, err;
  ASSERT_EQ(gabectl({"source", "add", "civi", "--adapter", "civicrm", "--email-optin-group", "12",
                     "--phone-optin-group", "13"},
                    &out, &err),
            0)
      << err;
  EXPECT_EQ(last_line(out).rfind("whsec_", 0), 0u) << out;
  auto groups = [&] {
    return scalar(
        "SELECT string_agg(channel || '=' || group_id, ' ' ORDER BY channel) FROM "
        "ingest.source_optin_groups WHERE source = 'civi'");
  };
  EXPECT_EQ(groups(), "email=12 phone=13");
  ASSERT_EQ(gabectl({"source", "set", "civi", "--phone-optin-group", "", "--sms-optin-group", "14"},
                    &out, &err),
            0)
      << err;
  EXPECT_EQ(groups(), "email=12 sms=14");
  EXPECT_EQ(scalar("SELECT details::text FROM gabe.audit_log WHERE action = "
                   "'source.optin_groups' ORDER BY id DESC LIMIT 1"),
            R"({"optin_groups": {"sms": 14, "email": 12}})");
  // Refused, changing nothing: two channels in one group, a bad channel or id, a non-civicrm
  // source, an unknown source.
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"source", "set", "civi", "--phone-optin-group", "12"},
           {"source", "set", "civi", "--post-optin-group", "12"},
           {"source", "set", "civi", "--email-optin-group", "abc"},
           {"source", "set", "civi", "--email-optin-group", "0"},
           {"source", "set", "civi", "--email-optin-group", "1", "--email-optin-group", "2"},
           {"source", "set", "crm", "--email-optin-group", "12"},
           {"source", "set", "nosuch", "--email-optin-group", "12"},
           {"source", "add", "other", "--adapter", "generic", "--email-optin-group", "12"}}) {
    EXPECT_EQ(gabectl(args, &out, &err), 2) << args[3] << " " << args.back();
  }
  EXPECT_EQ(groups(), "email=12 sms=14");
  EXPECT_EQ(scalar("SELECT count(*) FROM ingest.sources WHERE name = 'other'"), "0");
}

}  // namespace
}  // namespace gabe::test
