// The in-service schedule (GABE_SCORING_SCHEDULE) and the run metrics.
#include <gtest/gtest.h>

#include "scoring_fixture.hpp"

namespace gabe::test {
namespace {

class ScoringScheduleTest : public ScoringTest {
 protected:
  ScoringScheduleTest()
      : ScoringTest({{"GABE_HTTP_WORKERS", "8"}, {"GABE_SCORING_SCHEDULE", "* * * * *"}}) {}
  void prepare_database() override {
    insert_donors(300);
    insert_gifts(synthetic_gifts(300, "2023-01-01", "2026-06-30", 5));
  }
};

TEST_F(ScoringScheduleTest, ScheduledRunScoresEveryActiveTargetAndShowsInMetrics) {
  auto card = train("give_90d", "2026-06-30");
  ASSERT_STREQ((*card)["status"].GetString(), "ready");
  activate((*card)["model_id"].GetInt64());
  // "* * * * *" fires at the next full minute.
  EXPECT_TRUE(wait_until(
      [&] {
        return scalar("SELECT status FROM scoring.runs WHERE trigger = 'schedule'") == "succeeded";
      },
      std::chrono::seconds(90)));
  EXPECT_EQ(scalar("SELECT count(*) FROM scoring.runs"), "1") << "one run per target and day";
  // Audited like the runs started through the API, with the schedule as the actor.
  EXPECT_EQ(scalar("SELECT a.actor || ' ' || a.service || ' ' || (a.details = "
                   "jsonb_build_object('model_id', r.model_id, 'as_of', r.as_of::text)) FROM "
                   "gabe.audit_log a JOIN scoring.runs r ON a.entity = 'run:' || r.id "
                   "WHERE a.action = 'run.start'"),
            "schedule scoring true");
  EXPECT_TRUE(wait_until(
      [&] {
        return client_->get("/metrics")
                       .body.find(
                           "gabe_scoring_donors_scored{service=\"scoring\",target=\"give_90d\"}") !=
                   std::string::npos ||
               client_->get("/metrics")
                       .body.find("gabe_scoring_donors_scored{target=\"give_90d\"") !=
                   std::string::npos;
      },
      std::chrono::seconds(20)))
      << client_->get("/metrics").body;
}

TEST_F(ScoringScheduleTest, ABadScheduleStopsTheServiceAtStartNamingIt) {
  std::string out, err;
  const int rc = run_command(bin_dir() + "/gabe-scoring", {},
                             {{"GABE_DATABASE_URL", url_},
                              {"GABE_LISTEN", "127.0.0.1:0"},
                              {"GABE_SCORING_SCHEDULE", "61 * * * *"}},
                             &out, &err);
  EXPECT_EQ(rc, 2);
  EXPECT_NE(err.find("GABE_SCORING_SCHEDULE"), std::string::npos) << err;
}

}  // namespace
}  // namespace gabe::test
