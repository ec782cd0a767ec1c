// gabe-scoring end to end: train, card, activate, run, scores with exact reasons, the
// donor's scores, and the rules around them.
#include <gtest/gtest.h>

#include <cmath>
#include <iostream>
#include <set>

#include "scoring_fixture.hpp"

namespace gabe::test {
namespace {

class ScoringApiTest : public ScoringTest {
 protected:
  void prepare_database() override {
    insert_donors(800);
    insert_gifts(synthetic_gifts(800, "2023-01-01", "2026-09-30", 7));
  }
};

double number(const rapidjson::Value& v) {
  return v.GetDouble();
}

TEST_F(ScoringApiTest, TrainActivateRunAndExplain) {
  auto card = train("give_90d", "2026-06-30");
  std::cerr << "AUC " << (*card)["metrics"]["auc"].GetDouble() << " RFM "
            << (*card)["metrics"]["rfm_baseline_auc"].GetDouble() << "\n";
  ASSERT_STREQ((*card)["status"].GetString(), "ready") << (*card)["error"].GetString();
  const auto model_id = (*card)["model_id"].GetInt64();
  const auto& metrics = (*card)["metrics"];
  EXPECT_GT(number(metrics["auc"]), 0.6);
  EXPECT_TRUE(metrics["rfm_baseline_auc"].IsNumber());
  for (const char* k : {"pr_auc", "logloss", "brier", "top_decile_lift", "base_rate"})
    EXPECT_TRUE(metrics[k].IsNumber()) << k;
  EXPECT_EQ(metrics["calibration"].Size(), 10U);
  EXPECT_EQ((*card)["importance"].Size(), (*card)["features"].Size());
  EXPECT_TRUE((*card)["fairness"].IsObject());
  EXPECT_EQ(std::string((*card)["windows"]["validation"]["cutoff"].GetString()), "2026-04-01");
  EXPECT_GT((*card)["sizes"]["training_examples"].GetInt64(), 0);
  EXPECT_EQ(std::string((*card)["created_by"].GetString()), "ops");
  for (const auto& f : (*card)["features"].GetArray())
    for (const char* never : {"gender", "age_band", "postal_code", "first_name"})
      EXPECT_STRNE(f.GetString(), never);

  // The page renders; the JSON list shows it.
  auto page = get("/v1/models/" + std::to_string(model_id) + "/card.html");
  EXPECT_EQ(page.status, 200);
  EXPECT_NE(page.header("content-type").value_or("").find("text/html"), std::string::npos);
  EXPECT_NE(page.body.find("<svg"), std::string::npos);
  EXPECT_EQ(page.body.find("<script"), std::string::npos);
  auto list = json(get("/v1/models?target=give_90d"));
  EXPECT_EQ((*list)["items"].Size(), 1U);

  // No run before activation; activation needs a reason and an admin.
  auto r = admin("POST", "/v1/runs", R"({"target": "give_90d", "as_of": "2026-06-30"})");
  EXPECT_EQ(r.status, 409) << r.body;
  r = admin("POST", "/v1/models/" + std::to_string(model_id) + "/activate", "{}");
  EXPECT_EQ(r.status, 422) << r.body;
  r = client_->request("POST", "/v1/models/" + std::to_string(model_id) + "/activate",
                       {{"Authorization", "Bearer " + fundraiser_token_}}, R"({"reason": "x"})");
  EXPECT_EQ(r.status, 403);
  activate(model_id);
  EXPECT_EQ(scalar("SELECT count(*) FROM gabe.audit_log WHERE action = 'model.activate'"), "1");

  auto run_doc = run("give_90d", "2026-06-30");
  ASSERT_STREQ((*run_doc)["status"].GetString(), "succeeded") << (*run_doc)["error"].GetString();
  const auto run_id = (*run_doc)["run_id"].GetInt64();
  const auto scored = (*run_doc)["donors_scored"].GetInt64();
  EXPECT_EQ(
      std::to_string(scored),
      scalar("SELECT count(DISTINCT donor_id) FROM donor.gifts WHERE received_on <= '2026-06-30'"));
  EXPECT_EQ((*run_doc)["histogram"].Size(), 20U);
  EXPECT_EQ((*run_doc)["progress"]["donors_done"].GetInt64(), scored);

  // Every donor's reasons add up exactly: bias + contributions = margin, score = sigmoid(margin).
  std::size_t seen = 0;
  std::string after;
  for (;;) {
    auto scores = json(get("/v1/runs/" + std::to_string(run_id) +
                           "/scores?format=json&reasons=all&limit=1000" +
                           (after.empty() ? "" : "&after=" + after)));
    for (const auto& item : (*scores)["items"].GetArray()) {
      ++seen;
      double sum = item["bias"].GetDouble();
      for (auto it = item["contributions"].MemberBegin(); it != item["contributions"].MemberEnd();
           ++it)
        sum += it->value.GetDouble();
      const double margin = item["margin"].GetDouble();
      EXPECT_NEAR(sum, margin, 1e-4);
      EXPECT_NEAR(item["score"].GetDouble(), 1 / (1 + std::exp(-margin)), 1e-9);
      EXPECT_EQ(item["reasons"].Size(), 3U);
      const int decile = item["decile"].GetInt();
      EXPECT_TRUE(decile >= 1 && decile <= 10);
    }
    if ((*scores)["next"].IsNull()) break;
    after = (*scores)["next"].GetString();
  }
  EXPECT_EQ(static_cast<std::int64_t>(seen), scored);

  // CSV: a header and one line per donor.
  auto csv = client_->request("GET", "/v1/runs/" + std::to_string(run_id) + "/scores?format=csv",
                              {{"Authorization", "Bearer " + fundraiser_token_}});
  EXPECT_EQ(csv.status, 200);
  EXPECT_EQ(csv.body.rfind("donor_id,source,ref,score,decile,reason_1,reason_2,reason_3\r\n", 0),
            0U);
  EXPECT_EQ(static_cast<std::int64_t>(std::count(csv.body.begin(), csv.body.end(), '\n')),
            scored + 1);
  auto viewer = client_->request("GET", "/v1/runs/" + std::to_string(run_id) + "/scores",
                                 {{"Authorization", "Bearer " + viewer_token_}});
  EXPECT_EQ(viewer.status, 403);

  // Segments read the current scores: one per donor, deciles 1..10 of about equal size.
  EXPECT_EQ(scalar("SELECT count(*) FROM scoring.current_scores WHERE target = 'give_90d'"),
            std::to_string(scored));
  EXPECT_EQ(scalar("SELECT count(DISTINCT decile) FROM scoring.current_scores"), "10");
  EXPECT_EQ(scalar("SELECT (SELECT min(score) FROM scoring.current_scores WHERE decile = 1) >= "
                   "(SELECT max(score) FROM scoring.current_scores WHERE decile = 2)"),
            "t");

  // The donor's own scores, in both languages.
  const auto donor = scalar("SELECT min(donor_id) FROM scoring.current_scores");
  auto de =
      client_->request("GET", "/v1/donors/" + donor + "/scores",
                       {{"Authorization", "Bearer " + viewer_token_}, {"Accept-Language", "de"}});
  auto en =
      client_->request("GET", "/v1/donors/" + donor + "/scores",
                       {{"Authorization", "Bearer " + viewer_token_}, {"Accept-Language", "en"}});
  ASSERT_EQ(de.status, 200) << de.body;
  auto de_doc = json(de), en_doc = json(en);
  ASSERT_EQ((*de_doc)["scores"].Size(), 1U);
  const auto& reason_de = (*de_doc)["scores"][0]["reasons"][0];
  const auto& reason_en = (*en_doc)["scores"][0]["reasons"][0];
  EXPECT_STREQ(reason_de["feature"].GetString(), reason_en["feature"].GetString());
  EXPECT_NE(std::string(reason_de["text"].GetString()), std::string(reason_en["text"].GetString()));
  EXPECT_NE(std::string(reason_en["text"].GetString()).find("likelihood"), std::string::npos);
  EXPECT_NE(std::string(reason_de["text"].GetString()).find("Wahrscheinlichkeit"),
            std::string::npos);
  EXPECT_EQ(get("/v1/donors/999999/scores").status, 404);

  // A second run: drift against the first.
  auto second = run("give_90d", "2026-06-30");
  ASSERT_STREQ((*second)["status"].GetString(), "succeeded");
  EXPECT_EQ((*second)["drift"]["previous_run_id"].GetInt64(), run_id);
  EXPECT_NEAR((*second)["drift"]["psi"].GetDouble(), 0.0, 1e-9);
}

TEST_F(ScoringApiTest, LapseModelScoresOnlyRecentDonors) {
  auto card = train("lapse_90d", "2026-06-30");
  ASSERT_STREQ((*card)["status"].GetString(), "ready") << (*card)["error"].GetString();
  EXPECT_STREQ((*card)["target"]["kind"].GetString(), "lapse");
  EXPECT_GT((*card)["metrics"]["auc"].GetDouble(), 0.6);
  EXPECT_GT((*card)["metrics"]["rfm_baseline_auc"].GetDouble(), 0.5) << "RFM is reversed for lapse";
  activate((*card)["model_id"].GetInt64());
  auto r = run("lapse_90d", "2026-06-30");
  ASSERT_STREQ((*r)["status"].GetString(), "succeeded");
  EXPECT_EQ(std::to_string((*r)["donors_scored"].GetInt64()),
            scalar("SELECT count(DISTINCT donor_id) FROM donor.gifts WHERE received_on BETWEEN "
                   "'2026-06-30'::date - 364 AND '2026-06-30'"));
}

TEST_F(ScoringApiTest, FeatureCatalogueListsRequiredRollupsAndNeverFeatures) {
  auto r =
      client_->request("GET", "/v1/features",
                       {{"Authorization", "Bearer " + viewer_token_}, {"Accept-Language", "en"}});
  ASSERT_EQ(r.status, 200);
  auto doc = json(r);
  std::set<std::string> names;
  for (const auto& f : (*doc)["items"].GetArray()) names.insert(f["name"].GetString());
  for (const char* required :
       {"gift_count", "gift_count_365d", "gift_amount_total", "gift_amount_365d", "largest_gift",
        "last_gift_amount", "first_gift_on", "last_gift_on", "days_since_last_gift",
        "recurring_active", "recurring_monthly_amount", "tags", "language", "country",
        "interval_regularity", "december_gift_share"})
    EXPECT_TRUE(names.count(required)) << required;
  std::set<std::string> never;
  for (const auto& n : (*doc)["never_features"].GetArray()) never.insert(n.GetString());
  for (const auto& n : never) EXPECT_FALSE(names.count(n)) << n;
  EXPECT_TRUE(never.count("gender") && never.count("postal_code"));
}

TEST_F(ScoringApiTest, BadRequestsAreClearAndChangeNothing) {
  for (const char* body :
       {R"({"target": "give_0d", "as_of": "2026-06-30"})",
        R"({"target": "give_90d", "as_of": "0000-00-00"})",
        R"({"target": {"kind": "upsell", "horizon_days": 90}, "as_of": "2026-06-30"})",
        R"({"target": "give_90d", "as_of": "2026-06-30", "params": {"max_depth": 99}})",
        R"({"target": "give_90d", "as_of": "2999-01-01"})", R"({"as_of": "2026-06-30"})",
        R"([1,2])"}) {
    auto r = admin("POST", "/v1/models", body);
    EXPECT_TRUE(r.status == 422 || r.status == 400) << body << " " << r.status;
    EXPECT_NE(r.body.find("problem") == std::string::npos
                  ? r.header("content-type").value_or("").find("problem")
                  : 0U,
              std::string::npos);
  }
  EXPECT_EQ(scalar("SELECT count(*) FROM scoring.models"), "0");
  auto r =
      client_->request("POST", "/v1/models", {{"Authorization", "Bearer " + fundraiser_token_}},
                       R"({"target": "give_90d", "as_of": "2026-06-30"})");
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(get("/v1/models/12345").status, 404);
  EXPECT_EQ(get("/v1/runs/12345").status, 404);
  EXPECT_EQ(get("/v1/runs?status=bogus").status, 422);
}

TEST_F(ScoringApiTest, LeastPrivilegeReadsBehaviourNeverPii) {
  EXPECT_EQ(as_role("gabe_scoring", "SELECT count(*) FROM pii.donor_pii"), "42501");
  EXPECT_EQ(as_role("gabe_scoring", "SELECT count(*) FROM donor.gifts"), "ok");
  EXPECT_EQ(as_role("gabe_scoring", "DELETE FROM donor.gifts"), "42501");
  EXPECT_EQ(as_role("gabe_scoring", "SELECT count(*) FROM scoring.scores"), "ok");
  EXPECT_EQ(as_role("gabe_segments", "SELECT count(*) FROM scoring.current_scores"), "ok");
  EXPECT_EQ(as_role("gabe_segments", "SELECT count(*) FROM scoring.scores"), "42501");
}

}  // namespace
}  // namespace gabe::test
