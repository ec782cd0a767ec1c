// The CiviCRM pull connector through the real gabe-ingest and gabectl against the APIv4 stand-in
// (tests/support/civicrm_standin.cpp, which answers with the field names and value formats of
// civicrm-core's schema/Contact/Contact.entityType.php,
// schema/Contribute/Contribution.entityType.php,
// schema/Contribute/ContributionRecur.entityType.php, schema/Campaign/Campaign.entityType.php,
// schema/Contact/GroupContact.entityType.php, schema/Contact/SubscriptionHistory.entityType.php
// and schema/Activity/ActivityContact.entityType.php, and records merges as
// CRM/Dedupe/Merger.php's createMergeActivities() does): full and incremental syncs with exact
// totals, trash and restore, merges, permanent deletions and the safety limit of their
// erasure, every status and instrument, consent per channel from the opt-in groups, a wrong
// key, a site that is down, slow or answers garbage, a sync killed half-way, webhooks answered
// during a long sync, and hostile input to the source routes.
#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "civicrm_standin.hpp"
#include "gabe/text.hpp"
#include "ingest_fixture.hpp"

namespace gabe::test {
namespace {

namespace civi = gabe::test::civicrm;

// A CiviCRM day-time `days` before now ("YYYY-MM-DD 10:00:00"), for contributions inside the
// re-read window.
std::string days_ago(int days) {
  const std::time_t t = std::time(nullptr) - static_cast<std::time_t>(days) * 86400;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char out[64];
  std::snprintf(out, sizeof out, "%04d-%02d-%02d 10:00:00", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday);
  return out;
}

std::string with(std::string json, const std::string& from, const std::string& to) {
  const auto at = json.find(from);
  if (at == std::string::npos) throw std::invalid_argument("with: no " + from);
  return json.replace(at, from.size(), to);
}

class CivicrmPull : public IngestTest {
 protected:
  CivicrmPull() {
    // Syncs run when a test asks (POST /v1/sources/civi/sync), in small pages.
    settings_["GABE_CIVICRM_SYNC_SECONDS"] = "3600";
    settings_["GABE_CIVICRM_PAGE_SIZE"] = "10";
    settings_["GABE_CIVICRM_FULL_PAGE_SIZE"] = "10";
    settings_["GABE_CIVICRM_TIMEOUT_SECONDS"] = "2";
  }

  void TearDown() override {
    // The service's warnings and errors explain a failed sync.
    if (HasFailure() && service_) {
      std::ifstream log(service_->log_file());
      for (std::string line; std::getline(log, line);) {
        if (line.find("\"level\":\"info\"") == std::string::npos) std::cerr << line << "\n";
      }
    }
    IngestTest::TearDown();
  }

  // `gabectl source add civi --adapter civicrm --pull URL OPTIONS` with `key` on stdin.
  int add_pull_source(std::vector<std::string> options = {}, const std::string& key = "",
                      std::string* out = nullptr, std::string* err = nullptr) {
    std::vector<std::string> args = {"source",  "add",    "civi",          "--adapter",
                                     "civicrm", "--pull", civi_.base_url()};
    args.insert(args.end(), options.begin(), options.end());
    return gabectl(args, out, err, key_file(key.empty() ? civi_.api_key() : key));
  }

  std::string key_file(const std::string& key) {
    const std::string path =
        "/tmp/gabe-civicrm-key-" + std::to_string(::getpid()) + "-" + std::to_string(++files_);
    std::ofstream(path) << key << "\n";
    return path;
  }

  std::unique_ptr<rapidjson::Document> status() {
    auto r = get("/v1/sources/civi");
    EXPECT_EQ(r.status, 200) << r.body;
    return json(r);
  }

  std::string pull_text(const char* field) {
    auto s = status();
    if (!s->IsObject() || !(*s)["pull"].IsObject()) return "<no pull>";
    const auto& v = (*s)["pull"][field];
    if (v.IsNull()) return "";
    if (v.IsString()) return v.GetString();
    return "<not text>";
  }

  // Asks for a pass and waits until one has completed after the request; false on timeout
  // (also when the pass fails: last_error says why).
  bool sync(bool full = false, std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    const auto before = pull_text("last_sync_at");
    auto r = admin("POST", "/v1/sources/civi/sync", full ? R"({"full": true})" : "");
    EXPECT_EQ(r.status, 202) << r.body;
    return wait_until(
        [&] {
          auto s = status();
          const auto& p = (*s)["pull"];
          return p["running"].IsNull() && p["requested"].IsNull() && p["last_sync_at"].IsString() &&
                 before != p["last_sync_at"].GetString();
        },
        timeout);
  }

  std::string last_error() { return pull_text("last_error"); }

  // Completed gifts of the source: count and sum in cents.
  std::string totals() {
    return scalar(
        "SELECT count(*) || ' ' || COALESCE(sum(amount_cents), 0) FROM donor.gifts "
        "WHERE source = 'civi' AND status = 'completed'");
  }

  std::string donor_of(const std::string& ref) {
    return scalar("SELECT donor_id FROM ingest.donor_refs WHERE source = 'civi' AND ref = '" + ref +
                  "'");
  }

  std::string consent(const std::string& ref) { return consent_of("civi", ref); }

  CivicrmStandin civi_;
  int files_ = 0;
};

TEST_F(CivicrmPull, FullThenIncrementalSyncWithExactTotals) {
  civi_.put("Campaign", civi::campaign(1, "xmas_2026", "Weihnachten 2026", "2026-10-01 09:00:00"));
  civi_.put("Contact", civi::contact(1, "Individual", "Anna", "Schmidt", "anna@example.org",
                                     "2026-11-01 10:00:00"));
  civi_.put("Contact", with(civi::contact(2, "Organization", "", "", "info@verein.example",
                                          "2026-11-01 10:00:00"),
                            R"("contact_type":"Organization")",
                            R"("contact_type":"Organization","organization_name":"Verein e.V.")"));
  civi_.put("Contact", with(civi::contact(3, "Household", "", "", "", "2026-11-01 10:00:00"),
                            R"("contact_type":"Household")",
                            R"("contact_type":"Household","household_name":"Familie Meier")"));
  for (int i = 1; i <= 25; ++i) {  // three pages of contributions
    civi_.put("Contribution",
              civi::contribution(i, 1 + i % 3, "10.01", "2026-06-01 12:00:00", "Completed"));
  }
  civi_.put("ContributionRecur",
            civi::contribution_recur(1, 1, "15.00", "month", 1, "2026-11-01 10:00:00"));

  ASSERT_EQ(add_pull_source(), 0);
  ASSERT_TRUE(sync()) << last_error();
  EXPECT_EQ(totals(), "25 25025");
  EXPECT_EQ(pull_text("running_since"), "");  // null: no pass runs
  EXPECT_EQ(
      scalar("SELECT count(*) FROM donor.donors WHERE source = 'civi' AND NOT is_placeholder"),
      "3");
  EXPECT_EQ(scalar("SELECT organization_name FROM pii.donor_pii WHERE donor_id = " + donor_of("2")),
            "Verein e.V.");
  EXPECT_EQ(scalar("SELECT organization_name FROM pii.donor_pii WHERE donor_id = " + donor_of("3")),
            "Familie Meier");
  EXPECT_EQ(scalar("SELECT interval || ' ' || amount_cents FROM donor.recurring WHERE source = "
                   "'civi'"),
            "monthly 1500");
  EXPECT_EQ(scalar("SELECT name FROM donor.campaigns WHERE source = 'civi'"), "Weihnachten 2026");
  auto s = status();
  EXPECT_EQ((*s)["adapter"].GetString(), std::string("civicrm"));
  EXPECT_EQ((*s)["pull"]["records"]["Contact"].GetInt64(), 3);
  EXPECT_EQ((*s)["pull"]["records"]["Contribution"].GetInt64(), 25);
  EXPECT_TRUE((*s)["pull"]["last_error"].IsNull());
  EXPECT_TRUE((*s)["pull"]["lag_seconds"].IsInt64());

  // Reading everything again changes nothing and stores nothing new.
  const auto events = scalar("SELECT count(*) FROM ingest.inbox WHERE source = 'civi'");
  ASSERT_TRUE(sync(true)) << last_error();
  EXPECT_EQ(totals(), "25 25025");
  EXPECT_EQ(scalar("SELECT count(*) FROM ingest.inbox WHERE source = 'civi'"), events);

  // Incremental: a new contribution, a changed contact, a recent gift refunded.
  civi_.put("Contribution", civi::contribution(26, 2, "100.00", days_ago(1), "Completed"));
  civi_.put("Contribution", civi::contribution(27, 3, "5.00", days_ago(2), "Completed"));
  ASSERT_TRUE(sync()) << last_error();
  EXPECT_EQ(totals(), "27 35525");
  civi_.put("Contribution", civi::contribution(27, 3, "5.00", days_ago(2), "Refunded"));
  civi_.put("Contact", civi::contact(1, "Individual", "Anna", "Schmidt-Lang", "anna@example.org",
                                     "2026-11-25 10:00:00"));
  ASSERT_TRUE(sync()) << last_error();
  EXPECT_EQ(totals(), "26 35025");
  EXPECT_EQ(scalar("SELECT last_name FROM pii.donor_pii WHERE donor_id = " + donor_of("1")),
            "Schmidt-Lang");
  // The incremental pass asked only for what changed since the last one (with the overlap).
  bool asked_since = false;
  for (const auto& [target, params] : civi_.requests()) {
    if (target == "Contact/get" && params.find("modified_date") != std::string::npos &&
        params.find("2026-11-01 08:55:00") != std::string::npos)
      asked_since = true;
  }
  EXPECT_TRUE(asked_since);
}

TEST_F(CivicrmPull, EveryStatusAndInstrument) {
  civi_.put("Contact",
            civi::contact(1, "Individual", "Anna", "Schmidt", "", "2026-11-01 10:00:00"));
  const std::vector<std::pair<std::string, std::string>> statuses = {
      {"Completed", "completed"},    {"Pending", "pending"},     {"In Progress", "pending"},
      {"Partially paid", "pending"}, {"Failed", "failed"},       {"Cancelled", "cancelled"},
      {"Refunded", "refunded"},      {"Chargeback", "refunded"}, {"Pending refund", "refunded"},
  };
  int id = 0;
  for (const auto& [civi_status, expected] : statuses) {
    civi_.put("Contribution",
              civi::contribution(++id, 1, "1.00", "2026-05-01 10:00:00", civi_status));
  }
  civi_.put("Contribution", civi::contribution(++id, 1, "1.00", "2026-05-01 10:00:00", "Template"));
  civi_.put("Contribution",
            civi::contribution(++id, 1, "1.00", "2026-05-01 10:00:00", "Completed", "Cash", true));
  const std::vector<std::pair<std::string, std::string>> instruments = {
      {"Credit Card", "card"}, {"Debit Card", "card"}, {"Cash", "cash"},
      {"EFT", "transfer"},     {"Check", "transfer"},  {"FRST", "sepa"},
      {"RCUR", "sepa"},        {"OOFF", "sepa"},       {"PayPal", "paypal"},
  };
  const int first_instrument = id + 1;
  for (const auto& [name, expected] : instruments) {
    civi_.put("Contribution",
              civi::contribution(++id, 1, "2.00", "2026-05-02 10:00:00", "Completed", name));
  }
  ASSERT_EQ(add_pull_source(), 0);
  ASSERT_TRUE(sync()) << last_error();
  for (std::size_t i = 0; i < statuses.size(); ++i) {
    EXPECT_EQ(scalar("SELECT status FROM donor.gifts WHERE source = 'civi' AND ref = '" +
                     std::to_string(i + 1) + "'"),
              statuses[i].second)
        << statuses[i].first;
  }
  // Template and test contributions are not gifts.
  EXPECT_EQ(
      scalar("SELECT count(*) FROM donor.gifts WHERE source = 'civi' AND ref IN ('10', '11')"),
      "0");
  for (std::size_t i = 0; i < instruments.size(); ++i) {
    EXPECT_EQ(scalar("SELECT channel FROM donor.gifts WHERE source = 'civi' AND ref = '" +
                     std::to_string(first_instrument + static_cast<int>(i)) + "'"),
              instruments[i].second)
        << instruments[i].first;
  }
  // Recurring intervals by frequency_unit and frequency_interval.
  civi_.put("ContributionRecur",
            civi::contribution_recur(1, 1, "5.00", "week", 1, "2026-11-20 10:00:00"));
  civi_.put("ContributionRecur",
            civi::contribution_recur(2, 1, "5.00", "day", 1, "2026-11-20 10:00:00"));
  civi_.put("ContributionRecur",
            civi::contribution_recur(3, 1, "5.00", "month", 3, "2026-11-20 10:00:00"));
  civi_.put("ContributionRecur",
            civi::contribution_recur(4, 1, "5.00", "year", 1, "2026-11-20 10:00:00"));
  ASSERT_TRUE(sync()) << last_error();
  EXPECT_EQ(scalar("SELECT string_agg(interval, ',' ORDER BY ref) FROM donor.recurring WHERE "
                   "source = 'civi'"),
            "weekly,daily,quarterly,yearly");
}

TEST_F(CivicrmPull, ConsentPerChannelFromTheOptInGroups) {
  // 1: in the e-mail and phone groups, flags clear; 2: in the e-mail group but do_not_email;
  // 3: in no group but do_not_mail; 4: deceased, in every group.
  civi_.put("Contact",
            civi::contact(1, "Individual", "A", "One", "a@example.org", "2026-11-01 10:00:00"));
  civi_.put("Contact",
            with(civi::contact(2, "Individual", "B", "Two", "b@example.org", "2026-11-01 10:00:00"),
                 R"("do_not_email":false)", R"("do_not_email":true)"));
  civi_.put("Contact", with(civi::contact(3, "Individual", "C", "Three", "c@example.org",
                                          "2026-11-01 10:00:00"),
                            R"("do_not_mail":false)", R"("do_not_mail":true)"));
  civi_.put("Contact", with(civi::contact(4, "Individual", "D", "Four", "d@example.org",
                                          "2026-11-01 10:00:00"),
                            R"("is_deceased":false)", R"("is_deceased":true)"));
  civi_.put("GroupContact", civi::group_contact(1, 12, 1, "Added"));
  civi_.put("GroupContact", civi::group_contact(2, 13, 1, "Added"));
  civi_.put("GroupContact", civi::group_contact(3, 12, 2, "Added"));
  civi_.put("GroupContact", civi::group_contact(4, 14, 1, "Added"));  // not an opt-in group
  civi_.put("GroupContact", civi::group_contact(5, 12, 4, "Added"));
  civi_.put("GroupContact", civi::group_contact(6, 13, 4, "Added"));
  civi_.put("GroupContact", civi::group_contact(7, 12, 3, "Removed"));
  ASSERT_EQ(add_pull_source({"--email-optin-group", "12", "--phone-optin-group", "13"}), 0);
  ASSERT_TRUE(sync()) << last_error();
  EXPECT_EQ(consent("1"), "email=yes post=yes phone=yes sms=no");
  EXPECT_EQ(consent("2"), "email=no post=yes phone=no sms=no");
  EXPECT_EQ(consent("3"), "email=no post=no phone=no sms=no");
  EXPECT_EQ(consent("4"), "email=no post=no phone=no sms=no");

  // Contact 3 joins the e-mail group, contact 1 leaves it: GroupContact has no modification
  // time, SubscriptionHistory records the change with its date.
  civi_.put("GroupContact", civi::group_contact(7, 12, 3, "Added"));
  civi_.put("GroupContact", civi::group_contact(1, 12, 1, "Removed"));
  civi_.put("SubscriptionHistory",
            civi::subscription_history(1, 12, 3, "Added", "2026-11-26 10:00:00"));
  civi_.put("SubscriptionHistory",
            civi::subscription_history(2, 12, 1, "Removed", "2026-11-26 10:00:00"));
  ASSERT_TRUE(sync()) << last_error();
  EXPECT_EQ(consent("1"), "email=no post=yes phone=yes sms=no");
  EXPECT_EQ(consent("3"), "email=yes post=no phone=no sms=no");
}

TEST_F(CivicrmPull, TrashAndRestore) {
  civi_.put("Contact",
            civi::contact(1, "Individual", "A", "One", "a@example.org", "2026-11-01 10:00:00"));
  civi_.put("GroupContact", civi::group_contact(1, 12, 1, "Added"));
  civi_.put("Contribution", civi::contribution(1, 1, "20.00", "2026-05-01 10:00:00", "Completed"));
  ASSERT_EQ(add_pull_source({"--email-optin-group", "12"}), 0);
  ASSERT_TRUE(sync()) << last_error();
  EXPECT_EQ(consent("1"), "email=yes post=yes phone=no sms=no");
  // Trashed: the data stays, no channel.
  civi_.put("Contact", civi::contact(1, "Individual", "A", "One", "a@example.org",
                                     "2026-11-25 10:00:00", true));
  ASSERT_TRUE(sync()) << last_error();
  EXPECT_EQ(consent("1"), "email=no post=no phone=no sms=no");
  EXPECT_EQ(scalar("SELECT email FROM pii.donor_pii WHERE donor_id = " + donor_of("1")),
            "a@example.org");
  EXPECT_EQ(totals(), "1 2000");
  // A full reconciliation keeps a trashed contact (it is returned, with is_deleted).
  ASSERT_TRUE(sync(true)) << last_error();
  EXPECT_EQ(scalar("SELECT erased_at IS NULL FROM donor.donors WHERE id = " + donor_of("1")), "t");
  // Restored: the channels come back.
  civi_.put("Contact", civi::contact(1, "Individual", "A", "One", "a@example.org",
                                     "2026-11-26 10:00:00", false));
  ASSERT_TRUE(sync()) << last_error();
  EXPECT_EQ(consent("1"), "email=yes post=yes phone=no sms=no");
}

TEST_F(CivicrmPull, MergeBecomesDonorMerged) {
  civi_.put("Contact", civi::contact(1, "Individual", "Anna", "Schmidt", "anna@example.org",
                                     "2026-11-01 10:00:00"));
  civi_.put("Contact", civi::contact(2, "Individual", "Anna", "Schmitt", "anna@example.org",
                                     "2026-11-01 10:00:00"));
  civi_.put("Contribution", civi::contribution(1, 1, "10.00", "2026-05-01 10:00:00", "Completed"));
  civi_.put("Contribution", civi::contribution(2, 2, "30.00", "2026-05-02 10:00:00", "Completed"));
  ASSERT_EQ(add_pull_source(), 0);
  ASSERT_TRUE(sync()) << last_error();
  ASSERT_NE(donor_of("1"), donor_of("2"));
  // CiviCRM merges 2 into 1: 2 is trashed, its contribution moves to 1, two activities.
  civi_.put("Contact", civi::contact(2, "Individual", "Anna", "Schmitt", "anna@example.org",
                                     "2026-11-26 10:00:00", true));
  civi_.put("Contribution", civi::contribution(2, 1, "30.00", "2026-05-02 10:00:00", "Completed"));
  for (const auto& r : civi::merge_activity_targets(1, 100, 1, 2)) civi_.put("ActivityContact", r);
  ASSERT_TRUE(sync()) << last_error();
  EXPECT_EQ(donor_of("2"), donor_of("1"));
  EXPECT_EQ(scalar("SELECT sum(amount_cents) FROM donor.gifts WHERE donor_id = " + donor_of("1") +
                   " AND status = 'completed'"),
            "4000");
  // The survivor keeps its own data and consent, also after a full reconciliation that reads
  // the trashed duplicate again.
  ASSERT_TRUE(sync(true)) << last_error();
  EXPECT_EQ(scalar("SELECT last_name FROM pii.donor_pii WHERE donor_id = " + donor_of("1")),
            "Schmidt");
  EXPECT_EQ(consent("1"), "email=no post=yes phone=no sms=no");
  EXPECT_EQ(totals(), "2 4000");
}

TEST_F(CivicrmPull, PermanentDeletionErasesAtTheFullReconciliation) {
  civi_.put("Contact",
            civi::contact(1, "Individual", "A", "One", "a@example.org", "2026-11-01 10:00:00"));
  civi_.put("Contact",
            civi::contact(2, "Individual", "B", "Two", "b@example.org", "2026-11-01 10:00:00"));
  civi_.put("Contribution", civi::contribution(1, 2, "10.00", "2026-05-01 10:00:00", "Completed"));
  civi_.put("Contribution", civi::contribution(2, 1, "7.00", "2026-05-01 10:00:00", "Completed"));
  ASSERT_EQ(add_pull_source(), 0);
  ASSERT_TRUE(sync()) << last_error();
  const auto donor = donor_of("2");
  civi_.erase("Contact", 2);
  civi_.erase("Contribution", 2);  // contact 1's gift deleted in CiviCRM
  // An incremental sync cannot see what is gone.
  ASSERT_TRUE(sync()) << last_error();
  EXPECT_EQ(scalar("SELECT erased_at IS NULL FROM donor.donors WHERE id = " + donor), "t");
  ASSERT_TRUE(sync(true)) << last_error();
  EXPECT_EQ(scalar("SELECT erased_at IS NOT NULL FROM donor.donors WHERE id = " + donor), "t");
  EXPECT_EQ(scalar("SELECT count(*) FROM pii.donor_pii WHERE donor_id = " + donor +
                   " AND email IS NOT NULL"),
            "0");
  EXPECT_EQ(scalar("SELECT status FROM donor.gifts WHERE source = 'civi' AND ref = '2'"),
            "refunded");
  EXPECT_EQ(scalar("SELECT erased_at IS NULL FROM donor.donors WHERE id = " + donor_of("1")), "t");
  auto s = status();
  EXPECT_EQ((*s)["pull"]["records"]["Contact"].GetInt64(), 1);
}

// The safety limit of the check of ids (docs/ingest.md 15.4): when more than
// GABE_CIVICRM_MAX_ERASE_PERCENT (10) of the contacts or contributions held, and more than 10,
// are missing at once (a lost permission, another site behind the URL), nothing is erased or
// refunded and last_error says so; a full sync that reads no contact at all erases nobody.
TEST_F(CivicrmPull, MassDisappearanceErasesNothingAndSaysSo) {
  for (int i = 1; i <= 20; ++i) {
    civi_.put("Contact",
              civi::contact(i, "Individual", "P", "Person" + std::to_string(i),
                            "p" + std::to_string(i) + "@example.org", "2026-11-01 10:00:00"));
    civi_.put("Contribution",
              civi::contribution(i, i, "10.00", "2026-05-01 10:00:00", "Completed"));
  }
  ASSERT_EQ(add_pull_source(), 0);
  ASSERT_TRUE(sync()) << last_error();
  ASSERT_EQ(totals(), "20 20000");
  for (int i = 1; i <= 12; ++i) {
    civi_.erase("Contact", i);
    civi_.erase("Contribution", i);
  }
  ASSERT_TRUE(sync(true)) << last_error();
  EXPECT_NE(last_error().find("12 of 20 contacts are missing"), std::string::npos) << last_error();
  EXPECT_NE(last_error().find("12 of 20 contributions are missing"), std::string::npos)
      << last_error();
  EXPECT_EQ(scalar("SELECT count(*) FROM donor.donors WHERE source = 'civi' AND erased_at IS NULL"),
            "20");
  EXPECT_EQ(totals(), "20 20000");
}

TEST_F(CivicrmPull, AFullSyncThatReadsNoContactErasesNobody) {
  for (int i = 1; i <= 3; ++i) {
    civi_.put("Contact", civi::contact(i, "Individual", "P", "Person" + std::to_string(i), "",
                                       "2026-11-01 10:00:00"));
  }
  ASSERT_EQ(add_pull_source(), 0);
  ASSERT_TRUE(sync()) << last_error();
  // Three missing are below the limit's floor of 10, but no contact was read at all.
  for (int i = 1; i <= 3; ++i) civi_.erase("Contact", i);
  ASSERT_TRUE(sync(true)) << last_error();
  EXPECT_NE(last_error().find("3 of 3 contacts are missing"), std::string::npos) << last_error();
  EXPECT_EQ(scalar("SELECT count(*) FROM donor.donors WHERE source = 'civi' AND erased_at IS NULL"),
            "3");
}

TEST_F(CivicrmPull, WrongKeyChangesNothingAndShowsInLastError) {
  civi_.put("Contact",
            civi::contact(1, "Individual", "A", "One", "a@example.org", "2026-11-01 10:00:00"));
  ASSERT_EQ(add_pull_source({}, "wrong-key"), 0);
  admin("POST", "/v1/sources/civi/sync");
  ASSERT_TRUE(wait_until([&] { return !last_error().empty(); }, std::chrono::seconds(20)));
  EXPECT_NE(last_error().find("401"), std::string::npos) << last_error();
  EXPECT_EQ(scalar("SELECT count(*) FROM donor.donors WHERE source = 'civi'"), "0");
  auto metrics = get("/metrics");
  bool counted = false;
  std::istringstream lines(metrics.body);
  for (std::string line; std::getline(lines, line);) {
    counted = counted || (line.rfind("gabe_civicrm_sync_failures_total{", 0) == 0 &&
                          line.find(R"(kind="bad_key")") != std::string::npos &&
                          line.find(R"(source="civi")") != std::string::npos);
  }
  EXPECT_TRUE(counted) << metrics.body;
  // The right key, set with gabectl (on stdin), and the sync works.
  std::string out, err;
  ASSERT_EQ(gabectl({"source", "set", "civi", "--new-key"}, &out, &err, key_file(civi_.api_key())),
            0)
      << err;
  ASSERT_TRUE(sync()) << last_error();
  EXPECT_EQ(scalar("SELECT count(*) FROM donor.donors WHERE source = 'civi'"), "1");
  EXPECT_EQ(last_error(), "");
}

TEST_F(CivicrmPull, DownSlowOrMalformedChangesNothing) {
  civi_.put("Contact",
            civi::contact(1, "Individual", "A", "One", "a@example.org", "2026-11-01 10:00:00"));
  civi_.put("Contribution", civi::contribution(1, 1, "10.00", days_ago(1), "Completed"));
  ASSERT_EQ(add_pull_source(), 0);
  ASSERT_TRUE(sync()) << last_error();
  ASSERT_EQ(totals(), "1 1000");
  civi_.put("Contribution", civi::contribution(1, 1, "10.00", days_ago(1), "Refunded"));
  civi_.put("Contribution", civi::contribution(2, 1, "99.00", days_ago(1), "Completed"));

  auto fails_with = [&](const std::string& what) {
    const auto before = scalar("SELECT count(*) FROM ingest.inbox");
    admin("POST", "/v1/sources/civi/sync", R"({"full": true})");
    EXPECT_TRUE(wait_until([&] { return last_error().find(what) != std::string::npos; },
                           std::chrono::seconds(20)))
        << what << ": " << last_error();
    EXPECT_EQ(totals(), "1 1000");
    EXPECT_EQ(scalar("SELECT count(*) FROM ingest.inbox"), before);
  };
  civi_.set_down(true);
  fails_with("503");
  civi_.set_down(false);
  civi_.set_malformed(true);
  fails_with("not valid JSON");
  civi_.set_malformed(false);
  civi_.set_delay(std::chrono::milliseconds(3000));  // above GABE_CIVICRM_TIMEOUT_SECONDS
  fails_with("timed out");
  civi_.set_delay(std::chrono::milliseconds(0));
  // Back: the pass that failed is resumed and completes.
  admin("POST", "/v1/sources/civi/sync");
  ASSERT_TRUE(wait_until([&] { return last_error().empty() && pull_text("running").empty(); },
                         std::chrono::seconds(60)))
      << last_error();
  EXPECT_EQ(totals(), "1 9900");
}

// A full pass reads contacts and contributions GABE_CIVICRM_FULL_PAGE_SIZE at a time (fewer,
// larger page transactions); an incremental pass and the other reads GABE_CIVICRM_PAGE_SIZE.
class CivicrmPullLargeFullPages : public CivicrmPull {
 protected:
  CivicrmPullLargeFullPages() { settings_["GABE_CIVICRM_FULL_PAGE_SIZE"] = "20"; }

  // The Contribution/get requests since request number `from`, by their limit.
  std::map<std::string, int> contribution_pages(std::size_t from) {
    std::map<std::string, int> out;
    const auto requests = civi_.requests();
    for (std::size_t i = from; i < requests.size(); ++i) {
      if (requests[i].first != "Contribution/get") continue;
      const auto at = requests[i].second.find("\"limit\":");
      ++out[at == std::string::npos ? "none" : requests[i].second.substr(at + 8, 2)];
    }
    return out;
  }
};

TEST_F(CivicrmPullLargeFullPages, AFullPassReadsInLargerPagesAnIncrementalOneDoesNot) {
  std::int64_t cents = 0;
  civi_.put("Contact",
            civi::contact(1, "Individual", "Anna", "Schmidt", "", "2026-11-01 10:00:00"));
  for (int i = 1; i <= 45; ++i) {
    cents += 1000 + i;
    civi_.put("Contribution",
              civi::contribution(i, 1, "10." + std::string(i < 10 ? "0" : "") + std::to_string(i),
                                 "2026-06-01 12:00:00", "Completed"));
  }
  ASSERT_EQ(add_pull_source(), 0);
  ASSERT_TRUE(sync()) << last_error();
  EXPECT_EQ(totals(), "45 " + std::to_string(cents));
  // 20 + 20 + 5: the last page is short, so no fourth request.
  EXPECT_EQ(contribution_pages(0), (std::map<std::string, int>{{"20", 3}}));

  const auto before = civi_.requests().size();
  civi_.put("Contribution", civi::contribution(46, 1, "1.00", "2026-06-02 12:00:00", "Completed"));
  ASSERT_TRUE(sync()) << last_error();
  EXPECT_EQ(totals(), "46 " + std::to_string(cents + 100));
  const auto incremental = contribution_pages(before);
  EXPECT_EQ(incremental.count("20"), 0U);
  EXPECT_GE(incremental.count("10"), 1U);
}

TEST_F(CivicrmPull, KilledHalfWayResumesWithNothingLostOrDoubled) {
  std::int64_t cents = 0;
  for (int i = 1; i <= 150; ++i) {
    civi_.put("Contact", civi::contact(i, "Individual", "P", "Person" + std::to_string(i), "",
                                       "2026-11-01 10:00:00"));
  }
  for (int i = 1; i <= 300; ++i) {
    const int amount = 100 + i;
    cents += amount;
    civi_.put("Contribution",
              civi::contribution(i, 1 + i % 150,
                                 std::to_string(amount / 100) + "." +
                                     (amount % 100 < 10 ? "0" : "") + std::to_string(amount % 100),
                                 "2026-03-01 10:00:00", "Completed"));
  }
  civi_.set_delay(std::chrono::milliseconds(150));
  ASSERT_EQ(add_pull_source(), 0);
  admin("POST", "/v1/sources/civi/sync");
  // Kill -9 while the contributions are being read.
  ASSERT_TRUE(wait_until(
      [&] { return scalar("SELECT step >= 4 AND after_id >= 50 FROM ingest.sync_state") == "t"; },
      std::chrono::seconds(60)))
      << scalar("SELECT row_to_json(s)::text FROM ingest.sync_state s");
  service_->kill9();
  const auto applied = scalar("SELECT count(*) FROM donor.gifts WHERE source = 'civi'");
  EXPECT_NE(applied, "300");
  civi_.set_delay(std::chrono::milliseconds(0));
  const auto requests_before = civi_.requests().size();
  service_->restart();
  ASSERT_TRUE(wait_until(
      [&] {
        return scalar("SELECT pass IS NULL AND last_sync_at IS NOT NULL FROM ingest.sync_state") ==
               "t";
      },
      std::chrono::seconds(60)));
  EXPECT_EQ(totals(), "300 " + std::to_string(cents));
  EXPECT_EQ(scalar("SELECT count(*) FROM donor.donors WHERE source = 'civi'"), "150");
  // Resumed, not started over: the contacts were not read again.
  std::size_t contact_pages = 0;
  const auto requests = civi_.requests();
  for (std::size_t i = requests_before; i < requests.size(); ++i) {
    if (requests[i].first == "Contact/get") ++contact_pages;
  }
  EXPECT_EQ(contact_pages, 0U);
}

TEST_F(CivicrmPull, WebhooksAreAnsweredDuringALongSync) {
  for (int i = 1; i <= 300; ++i) {
    civi_.put("Contact", civi::contact(i, "Individual", "P", "Person", "", "2026-11-01 10:00:00"));
  }
  civi_.set_delay(std::chrono::milliseconds(100));
  ASSERT_EQ(add_pull_source(), 0);
  admin("POST", "/v1/sources/civi/sync");
  ASSERT_TRUE(wait_until([&] { return pull_text("running") == "full"; }, std::chrono::seconds(20)));
  // When the running pass started (sync_state.pass_started_at), to the second, in UTC.
  const auto since = pull_text("running_since");
  EXPECT_EQ(since.size(), 20U) << since;
  EXPECT_EQ(since, scalar("SELECT to_char(pass_started_at AT TIME ZONE 'UTC', "
                          "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM ingest.sync_state"));
  for (int i = 0; i < 20; ++i) {
    const auto start = std::chrono::steady_clock::now();
    auto r = event("gift.created",
                   R"({"gift_ref":"w)" + std::to_string(i) +
                       R"(","donor_ref":"d1","amount":"5.00","received_on":"2026-11-20"})",
                   "during-" + std::to_string(i));
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(1000));
  }
  EXPECT_EQ(pull_text("running"), "full");  // the sync was still going
}

TEST_F(CivicrmPull, KeyOnlyFromStdinAndReadableOnlyByIngest) {
  std::string out, err;
  ASSERT_EQ(add_pull_source({}, "", &out, &err), 0) << err;
  EXPECT_EQ(out.find(civi_.api_key()), std::string::npos);
  EXPECT_EQ(out.find("whsec_"), std::string::npos);  // a pull source has no webhook secret
  EXPECT_EQ(scalar("SELECT api_key FROM ingest.source_pull WHERE source = 'civi'"),
            civi_.api_key());
  EXPECT_EQ(as_role("gabe_ingest", "SELECT api_key FROM ingest.source_pull"), "ok");
  for (const char* role : {"gabe_scoring", "gabe_segments", "gabe_grants"}) {
    EXPECT_EQ(as_role(role, "SELECT api_key FROM ingest.source_pull"), "42501") << role;
  }
  // No key on stdin, a key as an argument, an unknown option, a bad URL: errors.
  EXPECT_EQ(gabectl({"source", "add", "c2", "--adapter", "civicrm", "--pull", civi_.base_url()},
                    &out, &err, key_file("")),
            2);
  EXPECT_EQ(gabectl({"source", "add", "c3", "--adapter", "civicrm", "--pull", civi_.base_url(),
                     "--key", "secret"},
                    &out, &err, key_file("k")),
            2);
  EXPECT_EQ(
      gabectl({"source", "add", "c4", "--adapter", "generic", "--bogus-flag", "1"}, &out, &err), 2);
  EXPECT_EQ(gabectl({"source", "add", "c5", "--adapter", "civicrm", "--pull", "ftp://x/y"}, &out,
                    &err, key_file("k")),
            2);
  EXPECT_EQ(gabectl({"source", "add", "c6", "--adapter", "generic", "--pull", civi_.base_url()},
                    &out, &err, key_file("k")),
            2);
  EXPECT_EQ(scalar("SELECT count(*) FROM ingest.sources WHERE name LIKE 'c_'"), "0");
  // The status of a push source has no pull; sync requests for it are refused.
  auto push = get("/v1/sources/crm");
  ASSERT_EQ(push.status, 200);
  EXPECT_TRUE((*json(push))["pull"].IsNull());
  EXPECT_EQ(admin("POST", "/v1/sources/crm/sync").status, 409);
  EXPECT_EQ(admin("POST", "/v1/sources/nope/sync").status, 404);
  EXPECT_EQ(get("/v1/sources/civi", viewer_token_).status, 403);
  EXPECT_EQ(admin("POST", "/v1/sources/civi/sync", R"({"full": "yes"})").status, 422);
}

// Hostile input to GET /v1/sources/{name} and POST /v1/sources/{name}/sync: every role but
// admin, names that are not a source or not text, bodies that are not JSON, too deep or not
// UTF-8. Each is refused with a problem that is itself valid JSON, and nothing is requested.
TEST_F(CivicrmPull, SourceRoutesRefuseWrongRolesBadNamesAndBadBodies) {
  ASSERT_EQ(add_pull_source(), 0);
  auto audits = [&] {
    return scalar("SELECT count(*) FROM gabe.audit_log WHERE action = 'source.sync'");
  };
  auto problem = [](const HttpResponse& r) -> std::string {
    return gabe::is_valid_utf8(r.body) && json(r)->IsObject() ? "problem" : "not a problem";
  };
  for (const auto& token : {fundraiser_token_, viewer_token_, std::string("not-a-token")}) {
    EXPECT_EQ(get("/v1/sources/civi", token).status, token == "not-a-token" ? 401 : 403);
    auto r = client_->request("POST", "/v1/sources/civi/sync",
                              {{"Authorization", "Bearer " + token}}, R"({"full": true})");
    EXPECT_EQ(r.status, token == "not-a-token" ? 401 : 403) << r.body;
  }
  EXPECT_EQ(client_->request("POST", "/v1/sources/civi/sync").status, 401);
  // Names: unknown, longer than any source, cut inside a character, not UTF-8 at all.
  const std::string umlauts = "%C3%A4%C3%A4%C3%A4%C3%A4%C3%A4%C3%A4%C3%A4%C3%A4%C3%A4%C3%A4";
  for (const std::string& name :
       {std::string("nope"), std::string(5000, 'a'), umlauts + umlauts + umlauts + umlauts}) {
    auto g = get("/v1/sources/" + name);
    EXPECT_EQ(g.status, 404) << name.substr(0, 20);
    EXPECT_EQ(problem(g), "problem") << g.body;
    auto p = admin("POST", "/v1/sources/" + name + "/sync");
    EXPECT_EQ(p.status, 404) << name.substr(0, 20);
    EXPECT_EQ(problem(p), "problem") << p.body;
  }
  for (const char* name : {"%FF%FE", "civi%00", "%C3"}) {
    EXPECT_EQ(get(std::string("/v1/sources/") + name).status, 400) << name;
    EXPECT_EQ(admin("POST", std::string("/v1/sources/") + name + "/sync").status, 400) << name;
  }
  // Bodies.
  for (const std::string& body :
       {std::string("{"), std::string(R"({"full": tru})"), std::string("{\"full\": \"\xff\"}"),
        std::string("{\"\xc3\": true}"), std::string(100, '[') + std::string(100, ']')}) {
    auto r = admin("POST", "/v1/sources/civi/sync", body);
    EXPECT_EQ(r.status, 400) << body.substr(0, 20) << ": " << r.body;
    EXPECT_EQ(problem(r), "problem") << r.body;
  }
  for (const std::string& body : {std::string(R"({"full": "yes"})"), std::string(R"({"full": 1})"),
                                  std::string(R"({"full": {"deep": true}})")}) {
    EXPECT_EQ(admin("POST", "/v1/sources/civi/sync", body).status, 422) << body;
  }
  // A body that is not an object is a 400, as every body of the wrong type in ingest; a member
  // the route does not know is a 422 naming it, never ignored.
  for (const char* body : {"[true]", "true", R"("full")", "17", "null"}) {
    auto r = admin("POST", "/v1/sources/civi/sync", body);
    EXPECT_EQ(r.status, 400) << body << ": " << r.body;
    EXPECT_EQ(problem(r), "problem") << r.body;
  }
  auto typo = admin("POST", "/v1/sources/civi/sync", R"({"full": true, "fulll": true})");
  EXPECT_EQ(typo.status, 422) << typo.body;
  EXPECT_NE(typo.body.find(R"({"field":"fulll","message":"is not a field of this request"})"),
            std::string::npos)
      << typo.body;
  auto text = client_->request(
      "POST", "/v1/sources/civi/sync",
      {{"Authorization", "Bearer " + admin_token_}, {"Content-Type", "text/plain"}},
      R"({"full": true})");
  EXPECT_EQ(text.status, 415) << text.body;
  EXPECT_EQ(pull_text("requested"), "");
  EXPECT_EQ(audits(), "0");
  // And the route still works.
  EXPECT_EQ(admin("POST", "/v1/sources/civi/sync", R"({"full": true})").status, 202);
  EXPECT_EQ(audits(), "1");
}

// A database that stalls behind the source routes: 503 with Retry-After within 10 s, nothing
// requested while it stalls, and the request is taken once it moves again.
TEST_F(CivicrmPull, SourceRoutesAnswer503WhileTheDatabaseIsLocked) {
  ASSERT_EQ(add_pull_source(), 0);
  ASSERT_TRUE(sync()) << last_error();
  {
    pqxx::connection locker(url_);
    pqxx::work lock(locker);
    lock.exec("LOCK TABLE ingest.sources IN ACCESS EXCLUSIVE MODE");
    for (const auto& [method, target] : std::vector<std::pair<std::string, std::string>>{
             {"GET", "/v1/sources/civi"}, {"POST", "/v1/sources/civi/sync"}}) {
      const auto start = std::chrono::steady_clock::now();
      auto r = admin(method, target, method == "POST" ? R"({"full": true})" : "");
      const auto waited = std::chrono::steady_clock::now() - start;
      EXPECT_EQ(r.status, 503) << target << ": " << r.body;
      EXPECT_TRUE(r.header("retry-after").has_value()) << target;
      EXPECT_LT(waited, std::chrono::seconds(10)) << target;
    }
    lock.abort();
  }
  EXPECT_EQ(scalar("SELECT count(*) FROM gabe.audit_log WHERE action = 'source.sync'"), "1");
  EXPECT_EQ(pull_text("requested"), "");
  ASSERT_TRUE(sync(true)) << last_error();
}

}  // namespace
}  // namespace gabe::test
