// gabe-scoring end to end: train, card, activate, run, scores with exact reasons, the
// donor's scores, and the rules around them.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <iostream>
#include <set>
#include <tuple>
#include <vector>

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
  // Training and run are audited with what was asked for.
  EXPECT_EQ(scalar("SELECT service || ' ' || actor || ' ' || entity || ' ' || "
                   "(details = '{\"target\": \"give_90d\", \"as_of\": \"2026-06-30\"}') "
                   "FROM gabe.audit_log WHERE action = 'model.train'"),
            "scoring ops model:" + std::to_string(model_id) + " true");
  EXPECT_EQ(scalar("SELECT service || ' ' || actor || ' ' || entity || ' ' || "
                   "(details = jsonb_build_object('model_id', " +
                   std::to_string(model_id) +
                   ", 'as_of', '2026-06-30')) FROM gabe.audit_log WHERE action = 'run.start'"),
            "scoring ops run:" + std::to_string(run_id) + " true");
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
    // The check above passes on any body that names "problem" (every problem type does); this
    // one is what it meant.
    EXPECT_EQ(r.header("content-type").value_or(""), "application/problem+json") << body;
  }
  // An unknown member of any body (the request, its target object, its params) is a 422 that
  // names it, never ignored.
  for (
      const auto& [path, body, field] :
      std::vector<std::tuple<std::string, std::string, std::string>>{
          {"/v1/models", R"({"target": "give_90d", "as_of": "2026-06-30", "asof": "2026-06-30"})",
           "asof"},
          {"/v1/models",
           R"({"target": {"kind": "give", "horizon_days": 90, "horizon": 30}, "as_of": "2026-06-30"})",
           "target.horizon"},
          {"/v1/models", R"({"target": "give_90d", "as_of": "2026-06-30", "params": {"depth": 3}})",
           "params.depth"},
          {"/v1/models/1/activate", R"({"reason": "better", "force": true})", "force"},
          {"/v1/runs", R"({"target": "give_90d", "shard": "1/2"})", "shard"}}) {
    auto r = admin("POST", path, body);
    EXPECT_EQ(r.status, 422) << body << " " << r.body;
    EXPECT_NE(
        r.body.find(R"({"field":")" + field + R"(","message":"is not a field of this request"})"),
        std::string::npos)
        << r.body;
  }
  EXPECT_EQ(scalar("SELECT count(*) FROM scoring.runs"), "0");
  EXPECT_EQ(scalar("SELECT count(*) FROM scoring.models"), "0");
  auto r =
      client_->request("POST", "/v1/models", {{"Authorization", "Bearer " + fundraiser_token_}},
                       R"({"target": "give_90d", "as_of": "2026-06-30"})");
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(get("/v1/models/12345").status, 404);
  EXPECT_EQ(get("/v1/runs/12345").status, 404);
  EXPECT_EQ(get("/v1/runs?status=bogus").status, 422);
}

// Every route checks its role before it reads the body or the database: no token 401, a role
// below the route's 403, and nothing is written.
TEST_F(ScoringApiTest, EveryRouteChecksItsRole) {
  struct Route {
    std::string method, target, body, role;  // role: the least that may call it
  };
  const std::string train_body = R"({"target": "give_90d", "as_of": "2026-06-30"})";
  const std::vector<Route> routes = {
      {"GET", "/v1/features", "", "viewer"},
      {"POST", "/v1/models", train_body, "admin"},
      {"GET", "/v1/models", "", "viewer"},
      {"GET", "/v1/models/1", "", "viewer"},
      {"GET", "/v1/models/1/card.html", "", "viewer"},
      {"POST", "/v1/models/1/activate", R"({"reason": "x"})", "admin"},
      {"POST", "/v1/runs", train_body, "admin"},
      {"GET", "/v1/runs", "", "viewer"},
      {"GET", "/v1/runs/1", "", "viewer"},
      {"GET", "/v1/runs/1/scores", "", "fundraiser"},
      {"GET", "/v1/donors/1/scores", "", "viewer"},
  };
  const std::vector<std::pair<std::string, std::string>> roles = {
      {"viewer", viewer_token_}, {"fundraiser", fundraiser_token_}, {"admin", admin_token_}};
  const auto rank = [&](const std::string& role) {
    for (std::size_t i = 0; i < roles.size(); ++i)
      if (roles[i].first == role) return i;
    return roles.size();
  };
  for (const auto& route : routes) {
    const std::vector<std::pair<std::string, std::string>> json_type = {
        {"Content-Type", "application/json"}};
    auto r = client_->request(route.method, route.target, json_type, route.body);
    EXPECT_EQ(r.status, 401) << route.method << " " << route.target;
    r = client_->request(route.method, route.target,
                         {{"Authorization", "Bearer not-a-token"}, json_type[0]}, route.body);
    EXPECT_EQ(r.status, 401) << route.method << " " << route.target;
    for (const auto& [role, token] : roles) {
      if (rank(role) >= rank(route.role)) continue;
      r = client_->request(route.method, route.target,
                           {{"Authorization", "Bearer " + token}, json_type[0]}, route.body);
      EXPECT_EQ(r.status, 403) << role << " " << route.method << " " << route.target;
    }
  }
  EXPECT_EQ(scalar("SELECT count(*) FROM scoring.models"), "0");
  EXPECT_EQ(scalar("SELECT count(*) FROM scoring.runs"), "0");
  EXPECT_EQ(scalar("SELECT count(*) FROM gabe.audit_log WHERE action LIKE 'model.%' OR action "
                   "LIKE 'run.%'"),
            "0");
}

// Invalid UTF-8, NUL, deep nesting and oversize values in bodies, paths and queries: a clear
// 4xx, and nothing is written.
TEST_F(ScoringApiTest, HostileBodiesAndParametersAreA4xxAndChangeNothing) {
  const std::string bad_utf8 = "\xff\xfe";
  const std::string overlong = "\xc0\xaf";
  for (const auto& [target, body] : std::vector<std::pair<std::string, std::string>>{
           {"/v1/models",
            R"({"target": "give_90d", "as_of": "2026-06-30", "x": ")" + bad_utf8 + "\"}"},
           {"/v1/models", R"({"target": "give_9)" + overlong + R"(", "as_of": "2026-06-30"})"},
           {"/v1/models/1/activate", R"({"reason": ")" + bad_utf8 + "\"}"},
           {"/v1/runs", R"({"target": "give_90d", "as_of": "2026-)" + overlong + "\"}"},
           // More digits than a double keeps exactly: refused by the parser, not rounded.
           {"/v1/models", R"({"target": "give_90d", "as_of": "2026-06-30",
                             "params": {"max_rounds": 99999999999999999999}})"},
           {"/v1/runs", R"({"model_id": 99999999999999999999})"},
       }) {
    auto r = admin("POST", target, body);
    EXPECT_EQ(r.status, 400) << target << " " << r.body;
  }
  // A body that is not declared JSON is not read.
  for (const char* target : {"/v1/models", "/v1/models/1/activate", "/v1/runs"}) {
    auto r = client_->request(
        "POST", target,
        {{"Authorization", "Bearer " + admin_token_}, {"Content-Type", "text/plain"}},
        R"({"target": "give_90d", "as_of": "2026-06-30", "reason": "x"})");
    EXPECT_EQ(r.status, 415) << target << " " << r.body;
  }
  // Deep nesting: the parser's limit, wherever the depth is.
  const std::string deep = std::string(10000, '[') + std::string(10000, ']');
  for (const char* target : {"/v1/models", "/v1/models/1/activate", "/v1/runs"}) {
    EXPECT_EQ(admin("POST", target, deep).status, 400) << target;
    EXPECT_EQ(admin("POST", target,
                    R"({"target": "give_90d", "as_of": "2026-06-30", "params": )" + deep + "}")
                  .status,
              400)
        << target;
  }
  // Oversize: over the body limit 413; long or absurd values 422.
  EXPECT_EQ(admin("POST", "/v1/models",
                  R"({"target": "give_90d", "as_of": "2026-06-30", "x": ")" +
                      std::string(2 << 20, 'a') + "\"}")
                .status,
            413);
  for (const auto& [target, body] : std::vector<std::pair<std::string, std::string>>{
           {"/v1/models",
            R"({"target": "give_)" + std::string(100000, '9') + R"(d", "as_of": "2026-06-30"})"},
           {"/v1/models", R"({"target": {"kind": "give", "horizon_days": 1e300},
                             "as_of": "2026-06-30"})"},
           {"/v1/models", R"({"target": "give_90d", "as_of": "2026-06-30",
                             "params": {"eta": -1e308, "seed": -1, "nthread": 1000}})"},
           {"/v1/models/1/activate", R"({"reason": ")" + std::string(1001, 'a') + "\"}"},
           {"/v1/models/1/activate", R"({"reason": "a\u0000b"})"},
           {"/v1/models/1/activate", R"({"reason": " \t "})"},
           {"/v1/runs", R"({"model_id": -1})"},
           {"/v1/runs", R"({"model_id": "1"})"},
       }) {
    auto r = admin("POST", target, body);
    EXPECT_EQ(r.status, 422) << target << " " << body.substr(0, 80) << " " << r.body;
  }
  // Paths and queries: invalid UTF-8 400, absurd values 404 or 422, a request line over the
  // header limit 431.
  EXPECT_EQ(get("/v1/models/%ff").status, 400);
  EXPECT_EQ(get("/v1/runs/1%00").status, 400);
  EXPECT_EQ(get("/v1/models?target=%ff%fe").status, 400);
  EXPECT_EQ(get("/v1/runs?target=give_90d%00").status, 400);
  EXPECT_EQ(get("/v1/models/99999999999999999999999").status, 404);
  EXPECT_EQ(get("/v1/runs/99999999999999999999999/scores").status, 404);
  EXPECT_EQ(get("/v1/donors/1e9/scores").status, 404);
  EXPECT_EQ(get("/v1/models?target=" + std::string(1000, 'a')).status, 422);
  EXPECT_EQ(get("/v1/models?target=" + std::string(100000, 'a')).status, 431);  // header limit
  EXPECT_EQ(get("/v1/models?target=give_" + std::string(50, '9') + "d").status, 422);
  EXPECT_EQ(get("/v1/runs?limit=99999999999999999999").status, 422);
  EXPECT_EQ(get("/v1/runs?after=-1").status, 422);
  EXPECT_EQ(get("/v1/runs/1/scores?format=xml").status, 422);
  EXPECT_EQ(get("/v1/runs/1/scores?format=csv&reasons=all").status, 422);
  EXPECT_EQ(scalar("SELECT count(*) FROM scoring.models"), "0");
  EXPECT_EQ(scalar("SELECT count(*) FROM scoring.runs"), "0");
}

// A held lock stalls the database: the request gets a 503 with Retry-After in time, health
// answers meanwhile, nothing is half-written, and the service carries on once the lock is gone.
TEST_F(ScoringApiTest, AStalledDatabaseGives503WithRetryAfter) {
  ASSERT_EQ(get("/v1/models").status, 200);  // the pool holds its connections
  pqxx::connection locker(cluster_->url(db_name_));
  pqxx::work lock(locker);
  lock.exec("LOCK TABLE scoring.models IN ACCESS EXCLUSIVE MODE");
  for (const auto& [method, target, body] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
           {"GET", "/v1/models", ""},
           {"POST", "/v1/models", R"({"target": "give_90d", "as_of": "2026-06-30"})"}}) {
    const auto start = std::chrono::steady_clock::now();
    auto r = admin(method, target, body);
    const auto waited = std::chrono::steady_clock::now() - start;
    EXPECT_EQ(r.status, 503) << method << " " << target << " " << r.body;
    EXPECT_TRUE(r.header("retry-after").has_value()) << target;
    EXPECT_LT(waited, std::chrono::seconds(10)) << target;
  }
  HttpClient probe(service_->port(), 2000);
  EXPECT_EQ(probe.get("/healthz").status, 200);
  lock.abort();
  EXPECT_EQ(scalar("SELECT count(*) FROM scoring.models"), "0");
  EXPECT_EQ(get("/v1/models").status, 200);
}

// The database away: every route that reads it answers 503 with Retry-After, the feature
// catalogue (no database) and health still answer, and all works again once it is back.
class ScoringDatabaseDown : public ScoringTest {
 protected:
  ScoringDatabaseDown() { own_cluster_ = true; }  // stopping a shared server stops other tests
};

TEST_F(ScoringDatabaseDown, RoutesAnswer503AndRecoverWhenTheDatabaseIsBack) {
  ASSERT_EQ(get("/v1/models").status, 200);
  cluster_->stop();
  const auto started = std::chrono::steady_clock::now();
  for (const auto& [method, target, body] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
           {"POST", "/v1/models", R"({"target": "give_90d", "as_of": "2026-06-30"})"},
           {"GET", "/v1/models", ""},
           {"GET", "/v1/models/1", ""},
           {"GET", "/v1/models/1/card.html", ""},
           {"POST", "/v1/models/1/activate", R"({"reason": "checked"})"},
           {"POST", "/v1/runs", R"({"model_id": 1})"},
           {"GET", "/v1/runs", ""},
           {"GET", "/v1/runs/1", ""},
           {"GET", "/v1/runs/1/scores", ""},
           {"GET", "/v1/donors/1/scores", ""}}) {
    auto r = admin(method, target, body);
    EXPECT_EQ(r.status, 503) << method << " " << target << " " << r.body;
    EXPECT_TRUE(r.header("retry-after").has_value()) << target;
  }
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(60));
  EXPECT_EQ(get("/v1/features").status, 200);
  EXPECT_EQ(client_->get("/healthz").status, 200);
  EXPECT_TRUE(service_->process().running());
  cluster_->start();
  EXPECT_TRUE(
      wait_until([&] { return get("/v1/models").status == 200; }, std::chrono::seconds(10)));
  EXPECT_EQ(scalar("SELECT count(*) FROM scoring.models"), "0");
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
