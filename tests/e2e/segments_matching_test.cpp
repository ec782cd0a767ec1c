// Matching and campaign results end to end: capacities, the ask limit, the rest period,
// consent and erasure; the holdout's size and seed; recording a mailing as appeals; and the
// results arithmetic of treatment against holdout.
#include <gtest/gtest.h>

#include <cmath>

#include "segments_fixture.hpp"

namespace gabe::test {
namespace {

struct Assigned {
  std::map<std::string, std::set<std::int64_t>> treatment, holdout;
  std::map<std::pair<std::string, std::int64_t>, std::string> value;
};

class Matching : public SegmentsTest {
 protected:
  // A donor with one completed gift of `gift_cents` 30 days ago (so an expected gift of that
  // much), a give_90d score and the given consents.
  static DonorSpec donor(std::int64_t id, std::optional<double> score,
                         std::map<std::string, bool> consent, std::int64_t gift_cents = 10000) {
    DonorSpec d;
    d.id = id;
    d.score = score;
    d.decile = 1;
    d.consent = std::move(consent);
    d.gifts = {{gift_cents, 30, "completed", ""}};
    d.first_name = "V" + std::to_string(id);
    d.last_name = "N" + std::to_string(id);
    return d;
  }

  // The donors of the constraint tests (see ConstraintsHoldAndTheBestPairsWin).
  void write_constraint_donors() {
    const std::map<std::string, bool> both{{"post", true}, {"email", true}};
    const std::map<std::string, bool> post{{"post", true}};
    auto rested = donor(5, 0.95, post);
    rested.last_ask_days_ago = 10;
    auto erased = donor(6, 0.99, post);
    erased.erased = true;
    write_donors({donor(1, 0.9, both), donor(2, 0.8, both), donor(3, 0.7, post),
                  donor(4, 0.6, post), rested, erased, donor(7, 0.5, {{"email", true}}),
                  donor(8, 0.4, post), donor(9, 0.3, post), donor(10, 0.85, {{"post", false}}),
                  donor(11, std::nullopt, post)});
  }

  static std::string two_campaigns(int max_asks, int min_days) {
    return R"({"campaigns": [
        {"campaign_ref": "spring-post", "target": "give_90d", "capacity": 3,
         "cost_per_contact": "1.00", "channel": "post"},
        {"campaign_ref": "spring-mail", "target": {"kind": "give", "horizon_days": 90},
         "capacity": 2, "cost_per_contact": 0.5, "channel": "email"}],
      "max_asks_per_donor": )" +
           std::to_string(max_asks) + R"(, "min_days_since_last_ask": )" +
           std::to_string(min_days) + R"(, "holdout_fraction": 0, "seed": 1})";
  }

  std::int64_t run(const std::string& body) {
    auto r = call("POST", "/v1/matching/runs", body);
    EXPECT_EQ(r.status, 201) << r.body;
    if (r.status != 201) return 0;
    return (*json(r))["id"].GetInt64();
  }

  Assigned assignments(std::int64_t run_id) {
    Assigned a;
    std::string after;
    for (int page = 0; page < 100; ++page) {
      auto r = call("GET", "/v1/matching/runs/" + std::to_string(run_id) +
                               "/assignments?format=json&limit=1000" +
                               (after.empty() ? "" : "&after=" + after));
      EXPECT_EQ(r.status, 200) << r.body;
      if (r.status != 200) break;
      auto doc = json(r);
      for (const auto& item : (*doc)["items"].GetArray()) {
        const std::string ref = item["campaign_ref"].GetString();
        const auto id = item["donor_id"].GetInt64();
        (std::string(item["group"].GetString()) == "treatment" ? a.treatment : a.holdout)[ref]
            .insert(id);
        a.value[{ref, id}] = item["expected_value"].GetString();
      }
      if ((*doc)["next"].IsNull()) break;
      after = (*doc)["next"].GetString();
    }
    return a;
  }
};

using Ids = std::set<std::int64_t>;

TEST_F(Matching, ConstraintsHoldAndTheBestPairsWin) {
  write_constraint_donors();
  // Values (score x 100.00 - cost): donor 1 post 89.00 / e-mail 89.50, donor 2 79.00 / 79.50,
  // 3: 69.00, 4: 59.00, 8: 39.00, 9: 29.00, 7 (e-mail only): 49.50. Donor 5 was asked 10 days
  // ago (rest 30), 6 is erased, 10 refused post, 11 has no score.
  const auto id = run(two_campaigns(1, 30));
  auto a = assignments(id);
  EXPECT_EQ(a.treatment["spring-mail"], (Ids{1, 2}));
  EXPECT_EQ(a.treatment["spring-post"], (Ids{3, 4, 8}));
  EXPECT_TRUE(a.holdout.empty());
  EXPECT_EQ((a.value[{"spring-post", 3}]), "69.00");
  EXPECT_EQ((a.value[{"spring-mail", 1}]), "89.50");

  auto summary = json(call("GET", "/v1/matching/runs/" + std::to_string(id), "", viewer_token_));
  // Greedy took 336.00; the best plan (1 by post, 2 and 7 by e-mail, 3 and 4 by post) is
  // 346.00, and the reported bound is at least that.
  EXPECT_STREQ((*summary)["expected_value"].GetString(), "336.00");
  EXPECT_GE(std::stod((*summary)["upper_bound"].GetString()), 346.0);
  EXPECT_GT((*summary)["optimality_gap"].GetDouble(), 0.0);
  EXPECT_EQ((*summary)["campaigns"][0]["treatment"].GetInt64(), 3);

  // Two asks per donor: donors 1 and 2 get both campaigns.
  auto b = assignments(run(two_campaigns(2, 30)));
  EXPECT_EQ(b.treatment["spring-mail"], (Ids{1, 2}));
  EXPECT_EQ(b.treatment["spring-post"], (Ids{1, 2, 3}));

  // Without a rest period, donor 5 (asked 10 days ago) is the best post donor.
  auto c = assignments(run(two_campaigns(1, 0)));
  EXPECT_EQ(c.treatment["spring-post"], (Ids{5, 3, 4}));
}

TEST_F(Matching, HoldoutHasItsSizeAndFollowsTheSeed) {
  seed_donors(260, 17);
  auto body = [](int seed) {
    return R"({"campaigns": [{"campaign_ref": "autumn", "target": "give_90d", "capacity": 40,
               "cost_per_contact": "0.80", "channel": "post"}],
               "holdout_fraction": 0.25, "seed": )" +
           std::to_string(seed) + "}";
  };
  auto a = assignments(run(body(5)));
  const auto n = a.treatment["autumn"].size() + a.holdout["autumn"].size();
  EXPECT_EQ(n, 40u);
  EXPECT_EQ(a.holdout["autumn"].size(), 10u);
  for (auto id : a.treatment["autumn"]) {
    const auto& d = donors_.at(static_cast<std::size_t>(id - 1));
    EXPECT_TRUE(eligible(d) && d.score && d.consent.count("post") && d.consent.at("post")) << id;
  }
  auto same = assignments(run(body(5)));
  EXPECT_EQ(same.holdout["autumn"], a.holdout["autumn"]);
  auto other = assignments(run(body(6)));
  EXPECT_NE(other.holdout["autumn"], a.holdout["autumn"]);
  EXPECT_EQ(other.holdout["autumn"].size(), 10u);
}

TEST_F(Matching, RecordedAppealsStartTheRestPeriod) {
  write_constraint_donors();
  const auto id = std::to_string(run(two_campaigns(1, 30)));
  const auto today = date_ago(0);
  auto r = call("POST", "/v1/matching/runs/" + id + "/record-appeals",
                R"({"campaign_ref": "spring-post", "sent_on": ")" + today + "\"}");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ((*json(r))["recorded"].GetInt64(), 3);
  EXPECT_EQ(sql("SELECT string_agg(donor_id::text, ',' ORDER BY donor_id) FROM donor.appeals "
                "WHERE campaign_ref = 'spring-post' AND sent_on = '" +
                today + "' AND channel = 'post'"),
            "3,4,8");
  // Again with the same day: nothing new; with another day: refused.
  r = call("POST", "/v1/matching/runs/" + id + "/record-appeals",
           R"({"campaign_ref": "spring-post", "sent_on": ")" + today + "\"}");
  EXPECT_EQ((*json(r))["recorded"].GetInt64(), 0);
  EXPECT_EQ(call("POST", "/v1/matching/runs/" + id + "/record-appeals",
                 R"({"campaign_ref": "spring-post", "sent_on": "2020-01-01"})")
                .status,
            409);
  EXPECT_EQ(call("POST", "/v1/matching/runs/" + id + "/record-appeals",
                 R"({"campaign_ref": "nope", "sent_on": "2020-01-01"})")
                .status,
            422);
  auto unknown =
      call("POST", "/v1/matching/runs/" + id + "/record-appeals",
           R"({"campaign_ref": "spring-post", "sent_on": ")" + today + R"(", "channel": "post"})");
  EXPECT_EQ(unknown.status, 422);
  EXPECT_NE(unknown.body.find(R"({"field":"channel","message":"is not a field of this request"})"),
            std::string::npos)
      << unknown.body;
  // The next run leaves the donors just asked alone.
  auto next = assignments(run(two_campaigns(1, 30)));
  EXPECT_EQ(next.treatment["spring-post"], (Ids{9}));
}

TEST_F(Matching, ResultsCompareTreatmentWithHoldout) {
  std::vector<DonorSpec> donors;
  for (int i = 1; i <= 40; ++i) donors.push_back(donor(i, 0.5, {{"post", true}}));
  write_donors(donors);
  const auto id = run(R"({"campaigns": [{"campaign_ref": "xmas", "target": "give_90d",
      "capacity": 40, "cost_per_contact": "1.00", "channel": "post"}],
      "holdout_fraction": 0.25, "seed": 9})");
  auto a = assignments(id);
  ASSERT_EQ(a.treatment["xmas"].size(), 30u);
  ASSERT_EQ(a.holdout["xmas"].size(), 10u);
  std::vector<std::int64_t> t(a.treatment["xmas"].begin(), a.treatment["xmas"].end());
  std::vector<std::int64_t> h(a.holdout["xmas"].begin(), a.holdout["xmas"].end());
  int n = 0;
  auto gift = [&](std::int64_t donor, std::int64_t cents, int days_ago, const std::string& ref,
                  const std::string& status = "completed") {
    sql("INSERT INTO donor.gifts (source, ref, donor_id, amount_cents, currency, received_on, "
        "campaign_ref, status, updated_at) VALUES ('crm', 'x" +
        std::to_string(++n) + "', " + std::to_string(donor) + ", " + std::to_string(cents) +
        ", 'EUR', (now() AT TIME ZONE 'Europe/Berlin')::date - " + std::to_string(days_ago) +
        ", '" + ref + "', '" + status + "', now())");
  };
  for (int i = 0; i < 6; ++i) gift(t[i], 5000, 0, "xmas");  // six treated responders
  gift(t[0], 5000, 0, "xmas");                              // one of them twice
  gift(t[10], 9900, 0, "xmas", "pending");                  // not completed: no response
  gift(t[11], 9900, 0, "easter");                           // another campaign
  gift(h[0], 2000, 0, "xmas");                              // one held-out responder
  gift(h[1], 9900, 1, "xmas");                              // before the assignment

  auto r = call("GET", "/v1/campaigns/xmas/results", "", viewer_token_);
  ASSERT_EQ(r.status, 200) << r.body;
  auto doc = json(r);
  const auto& tr = (*doc)["treatment"];
  const auto& ho = (*doc)["holdout"];
  EXPECT_EQ((*doc)["run_id"].GetInt64(), id);
  EXPECT_EQ(tr["donors"].GetInt64(), 30);
  EXPECT_EQ(tr["responders"].GetInt64(), 6);
  EXPECT_DOUBLE_EQ(tr["response_rate"].GetDouble(), 0.2);
  EXPECT_STREQ(tr["revenue"].GetString(), "350.00");
  EXPECT_STREQ(tr["revenue_per_donor"].GetString(), "11.67");
  EXPECT_EQ(ho["donors"].GetInt64(), 10);
  EXPECT_EQ(ho["responders"].GetInt64(), 1);
  EXPECT_DOUBLE_EQ(ho["response_rate"].GetDouble(), 0.1);
  EXPECT_STREQ(ho["revenue"].GetString(), "20.00");
  EXPECT_STREQ(ho["revenue_per_donor"].GetString(), "2.00");
  const auto& up = (*doc)["uplift"];
  EXPECT_DOUBLE_EQ(up["response_rate"].GetDouble(), 0.1);
  const double half = 1.959964 * std::sqrt(0.2 * 0.8 / 30 + 0.1 * 0.9 / 10);
  EXPECT_NEAR(up["ci95"][0].GetDouble(), 0.1 - half, 1e-5);
  EXPECT_NEAR(up["ci95"][1].GetDouble(), 0.1 + half, 1e-5);
  EXPECT_STREQ(up["revenue_per_donor"].GetString(), "9.67");
  EXPECT_STREQ((*doc)["cost"].GetString(), "30.00");
  // (9.6667 x 30 - 30.00) / 30.00
  EXPECT_NEAR((*doc)["roi"].GetDouble(), (35000.0 / 30 - 200) * 30 / 3000 - 1, 1e-6);

  EXPECT_EQ(call("GET", "/v1/campaigns/nope/results").status, 404);
}

TEST_F(Matching, AssignmentExportsAreAuditedAndErasureRemovesAssignments) {
  write_constraint_donors();
  const auto id = std::to_string(run(two_campaigns(1, 30)));
  auto r = call("GET", "/v1/matching/runs/" + id + "/assignments?format=csv");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.header("content-type").value_or(""), "text/csv; charset=utf-8");
  EXPECT_EQ(r.body.substr(0, r.body.find("\r\n")),
            "donor_id,source,ref,campaign_ref,group,expected_value");
  EXPECT_NE(r.body.find("\r\n3,crm,r3,spring-post,treatment,69.00\r\n"), std::string::npos)
      << r.body;
  EXPECT_EQ(sql("SELECT details::text FROM gabe.audit_log WHERE action = 'matching.export' AND "
                "entity = 'matching_run:" +
                id + "'"),
            R"({"rows": 5, "format": "csv", "channel": null})");
  // One campaign's assignments as JSON: only its rows, and the audit entry names it.
  auto one = call("GET", "/v1/matching/runs/" + id + "/assignments?campaign_ref=spring-mail");
  ASSERT_EQ(one.status, 200) << one.body;
  const auto one_doc = json(one);
  ASSERT_EQ((*one_doc)["items"].Size(), 2u);
  for (const auto& item : (*one_doc)["items"].GetArray()) {
    EXPECT_STREQ(item["campaign_ref"].GetString(), "spring-mail");
    EXPECT_STREQ(item["source"].GetString(), "crm");
    EXPECT_TRUE(item["donor_id"].IsInt64());
  }
  EXPECT_EQ(sql("SELECT details::text FROM gabe.audit_log WHERE action = 'matching.export' AND "
                "entity = 'matching_run:" +
                id + "' ORDER BY id DESC LIMIT 1"),
            R"({"rows": 2, "format": "json", "channel": null, "campaign_ref": "spring-mail"})");
  EXPECT_EQ(call("GET", "/v1/matching/runs/" + id + "/assignments", "", viewer_token_).status, 403);

  EXPECT_NE(sql("SELECT gabe.export_donor(3)->>'matching_assignments'").find("spring-post"),
            std::string::npos);
  sql("SELECT gabe.erase_donor(3, 'ingest', 'ops')");
  EXPECT_EQ(sql("SELECT count(*) FROM segments.assignments WHERE donor_id = 3"), "0");
  auto a = assignments(std::stoll(id));
  EXPECT_EQ(a.treatment["spring-post"], (Ids{4, 8}));
}

// Scoring writes a target with a fractional minimum as give_90d_min12.50 (gabe/targets.hpp);
// a rule and a campaign that name it, as a string or an object, find those scores. A name
// that is no target of scoring's is a 422 and stores nothing.
TEST_F(Matching, TargetsAreNamedAsScoringWritesThem) {
  const std::map<std::string, bool> post{{"post", true}};
  write_donors({donor(1, std::nullopt, post), donor(2, std::nullopt, post), donor(3, 0.99, post)});
  sql("INSERT INTO scoring.current_scores VALUES "
      "('give_90d_min12.50', 1, 0.9, 1, 1, 1, now()), "
      "('give_90d_min12.50', 2, 0.2, 9, 1, 1, now())");

  const auto members_of = [&](const std::string& rule) {
    const auto id = create_segment(rule);
    refresh(id);
    return members(id);
  };
  EXPECT_EQ(members_of(R"({"field": "score.give_90d_min12.50", "op": ">", "value": 0.5})"),
            (Ids{1}));
  EXPECT_EQ(members_of(R"({"field": "decile.give_90d_min12.50", "op": ">=", "value": 5})"),
            (Ids{2}));
  for (const std::string target :
       {R"("give_90d_min12.50")", R"({"kind": "give", "horizon_days": 90, "min_amount": "12.50"})",
        R"({"kind": "give", "horizon_days": 90, "min_amount": 12.5})"}) {
    const auto a = assignments(run(R"({"campaigns": [{"campaign_ref": "min", "target": )" + target +
                                   R"(, "capacity": 5, "cost_per_contact": "1.00",
                                   "channel": "post"}], "holdout_fraction": 0, "seed": 1})"));
    EXPECT_EQ(a.treatment.at("min"), (Ids{1, 2})) << target;  // not 3: no score for this target
  }

  const auto segments_before = sql("SELECT count(*) FROM segments.segments");
  const auto runs_before = sql("SELECT count(*) FROM segments.matching_runs");
  for (const std::string name : {"lapse_9999d", "foo_90d", "give_90d_min12_50", "give_0d"}) {
    auto rule = call(
        "POST", "/v1/segments",
        R"({"name": "n", "rule": {"field": "score.)" + name + R"(", "op": ">", "value": 0.5}})");
    EXPECT_EQ(rule.status, 422) << name << " " << rule.body;
    EXPECT_NE(rule.body.find(R"("field":"rule.field")"), std::string::npos) << rule.body;
    auto campaign =
        call("POST", "/v1/matching/runs",
             R"({"campaigns": [{"campaign_ref": "x", "target": ")" + name +
                 R"(", "capacity": 5, "cost_per_contact": "1.00", "channel": "post"}]})");
    EXPECT_EQ(campaign.status, 422) << name << " " << campaign.body;
    EXPECT_NE(campaign.body.find(R"("field":"campaigns[0].target")"), std::string::npos)
        << campaign.body;
  }
  auto object = call("POST", "/v1/matching/runs",
                     R"({"campaigns": [{"campaign_ref": "x", "target": {"kind": "lapse",
                         "horizon_days": 9999}, "capacity": 5, "cost_per_contact": "1.00",
                         "channel": "post"}]})");
  EXPECT_EQ(object.status, 422) << object.body;
  EXPECT_NE(object.body.find(R"("field":"campaigns[0].target.horizon_days")"), std::string::npos)
      << object.body;
  EXPECT_EQ(sql("SELECT count(*) FROM segments.segments"), segments_before);
  EXPECT_EQ(sql("SELECT count(*) FROM segments.matching_runs"), runs_before);
}

TEST_F(Matching, InvalidRequestsAre422AndStoreNothing) {
  for (const char* body : {
           R"({})",
           R"({"campaigns": []})",
           R"({"campaigns": [{"campaign_ref": "a", "target": "give_90d", "capacity": 0,
               "cost_per_contact": "1.00", "channel": "post"}]})",
           R"({"campaigns": [{"campaign_ref": "a", "target": "give_90d", "capacity": 5,
               "cost_per_contact": "1.00", "channel": "fax"}]})",
           R"({"campaigns": [{"campaign_ref": "a", "target": "Robert'); DROP", "capacity": 5,
               "cost_per_contact": "1.00", "channel": "post"}]})",
           R"({"campaigns": [{"campaign_ref": "a", "target": "give_90d", "capacity": 5,
               "cost_per_contact": "-1.00", "channel": "post"}]})",
           R"({"campaigns": [{"campaign_ref": "a", "target": "give_90d", "capacity": 5,
               "cost_per_contact": "1.00", "channel": "post"},
              {"campaign_ref": "a", "target": "give_90d", "capacity": 5,
               "cost_per_contact": "1.00", "channel": "email"}]})",
           R"({"campaigns": [{"campaign_ref": "a", "target": "give_90d", "capacity": 5,
               "cost_per_contact": "1.00", "channel": "post"}], "holdout_fraction": 1.5})",
           R"({"campaigns": [{"campaign_ref": "a", "target": "give_90d", "capacity": 5,
               "cost_per_contact": "1.00", "channel": "post"}], "max_asks": 2})",
       }) {
    EXPECT_EQ(call("POST", "/v1/matching/runs", body).status, 422) << body;
  }
  // Unknown fields, of the request and of a campaign, are named.
  auto unknown = call("POST", "/v1/matching/runs",
                      R"({"campaigns": [{"campaign_ref": "a", "target": "give_90d", "capacity": 5,
                          "cost_per_contact": "1.00", "channel": "post", "colour": "red"}],
                          "max_asks": 2})");
  EXPECT_EQ(unknown.status, 422);
  for (const char* field : {"max_asks", "campaigns[0].colour"}) {
    EXPECT_NE(unknown.body.find(std::string(R"({"field":")") + field +
                                R"(","message":"is not a field of this request"})"),
              std::string::npos)
        << unknown.body;
  }
  auto segment = call("POST", "/v1/segments", R"({"name": "n", "rule": {"all": []}, "nmae": 1})");
  EXPECT_EQ(segment.status, 422);
  EXPECT_NE(segment.body.find(R"({"field":"nmae","message":"is not a field of this request"})"),
            std::string::npos)
      << segment.body;
  EXPECT_EQ(call("POST", "/v1/matching/runs", "[1, 2").status, 400);
  EXPECT_EQ(sql("SELECT count(*) FROM segments.matching_runs"), "0");
}

}  // namespace
}  // namespace gabe::test
