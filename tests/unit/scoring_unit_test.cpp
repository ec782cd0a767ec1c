// Scoring's pure domain code: features as of a date, evaluation metrics, reason
// texts, and the settings' documentation.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <memory>
#include <sstream>

#include "evaluation.hpp"
#include "features.hpp"
#include "gabe/targets.hpp"
#include "lru_cache.hpp"
#include "reasons.hpp"
#include "settings.hpp"

namespace gabe::scoring {
namespace {

// The API's cache of loaded models (handlers.cpp) keeps at most its capacity, the least
// recently used going first.
TEST(ScoringModelCache, KeepsAtMostItsCapacityForgettingTheLeastRecentlyUsed) {
  LruCache<std::int64_t, std::shared_ptr<const int>> cache(3);
  for (std::int64_t id = 1; id <= 3; ++id) cache.insert(id, std::make_shared<const int>(id));
  EXPECT_EQ(cache.size(), 3U);
  ASSERT_TRUE(cache.find(1));  // 1 is now the most recently used; 2 the least
  cache.insert(4, std::make_shared<const int>(4));
  EXPECT_EQ(cache.size(), 3U);
  EXPECT_FALSE(cache.find(2));
  EXPECT_EQ(**cache.find(1), 1);
  EXPECT_EQ(**cache.find(3), 3);
  EXPECT_EQ(**cache.find(4), 4);
  for (std::int64_t id = 100; id < 1100; ++id) cache.insert(id, std::make_shared<const int>(7));
  EXPECT_EQ(cache.size(), 3U) << "a thousand different models asked for keep three loaded";
  EXPECT_TRUE(cache.find(1099));
  EXPECT_FALSE(cache.find(1));
}

TEST(ScoringModelCache, TheFirstValueKeptForAKeyWins) {
  LruCache<std::int64_t, std::shared_ptr<const int>> cache(2);
  const auto first = cache.insert(7, std::make_shared<const int>(1));
  // Two requests loaded the same model at once: both use the one kept first.
  const auto second = cache.insert(7, std::make_shared<const int>(2));
  EXPECT_EQ(first, second);
  EXPECT_EQ(**cache.find(7), 1);
  EXPECT_EQ(cache.size(), 1U);
  LruCache<int, int> tiny(0);  // a capacity below one keeps one
  tiny.insert(1, 1);
  tiny.insert(2, 2);
  EXPECT_EQ(tiny.size(), 1U);
  EXPECT_EQ(tiny.find(2), 2);
}

DonorHistory history(const std::vector<GiftRecord>& gifts, const std::vector<Day>& appeals = {},
                     const std::vector<RecurringRecord>& recurring = {}) {
  DonorHistory h;
  h.donor_id = 1;
  h.gifts = gifts;
  h.appeals = appeals;
  h.recurring = recurring;
  return h;
}

float value(const std::vector<float>& row, const char* name) {
  return row.at(static_cast<std::size_t>(feature_index(name)));
}

TEST(ScoringFeatures, AsOfADateNothingAfterItCounts) {
  const Day d = *parse_day("2026-06-30");
  std::vector<GiftRecord> gifts = {{d - 400, 1000, GiftRecord::kOnline},
                                   {d - 200, 3000, GiftRecord::kCampaign},
                                   {d - 100, 2000, 0},
                                   {d, 500, 0},
                                   {d + 1, 99900, 0}};
  const std::vector<Day> appeals = {d - 50, d - 10, d + 5};
  const auto h = history(gifts, appeals);
  std::vector<float> row(feature_count());
  compute_features(h, d, row.data());
  EXPECT_EQ(value(row, "gift_count"), 4);
  EXPECT_EQ(value(row, "gift_count_365d"), 3);
  EXPECT_FLOAT_EQ(value(row, "gift_amount_total"), 65.0F);
  EXPECT_FLOAT_EQ(value(row, "gift_amount_365d"), 55.0F);
  EXPECT_FLOAT_EQ(value(row, "largest_gift"), 30.0F);
  EXPECT_FLOAT_EQ(value(row, "last_gift_amount"), 5.0F);
  EXPECT_EQ(value(row, "days_since_last_gift"), 0);
  EXPECT_EQ(value(row, "days_since_first_gift"), 400);
  EXPECT_EQ(value(row, "gift_count_prev_365d"), 1);
  EXPECT_FLOAT_EQ(value(row, "mean_interval_days"), 400.0F / 3);
  EXPECT_FLOAT_EQ(value(row, "online_gift_share"), 0.25F);
  EXPECT_EQ(value(row, "appeals_365d"), 2);
  EXPECT_FLOAT_EQ(value(row, "appeal_response_rate_365d"), 0.5F);
  // A later gift changes nothing as of d; the 365-day window starts at d - 364.
  std::vector<float> again(feature_count());
  const std::vector<GiftRecord> earlier(gifts.begin(), gifts.end() - 1);
  const std::vector<Day> earlier_appeals = {d - 50, d - 10};
  compute_features(history(earlier, earlier_appeals), d, again.data());
  for (std::size_t i = 0; i < row.size(); ++i)
    EXPECT_TRUE(row[i] == again[i] || (std::isnan(row[i]) && std::isnan(again[i])))
        << model_features()[i]->name;
  compute_features(history({{d - 364, 100, 0}}), d, row.data());
  EXPECT_EQ(value(row, "gift_count_365d"), 1);
  compute_features(history({{d - 365, 100, 0}}), d, row.data());
  EXPECT_EQ(value(row, "gift_count_365d"), 0);
  EXPECT_TRUE(std::isnan(value(row, "mean_interval_days")));
}

TEST(ScoringFeatures, RecurringAsKnownOnTheDate) {
  const Day d = *parse_day("2026-06-30");
  RecurringRecord r;
  r.monthly_cents = 1000;
  r.started = d - 100;
  r.cancelled = d + 10;  // cancelled later: still active on d
  r.status_active = false;
  r.status_day = d + 10;
  std::vector<float> row(feature_count());
  compute_features(history({{d - 5, 1000, GiftRecord::kRecurring}}, {}, {r}), d, row.data());
  EXPECT_EQ(value(row, "recurring_active"), 1);
  EXPECT_FLOAT_EQ(value(row, "recurring_monthly_amount"), 10.0F);
  compute_features(history({{d - 5, 1000, GiftRecord::kRecurring}}, {}, {r}), d + 20, row.data());
  EXPECT_EQ(value(row, "recurring_active"), 0);
}

TEST(ScoringFeatures, PopulationsAndLabels) {
  const Day d = *parse_day("2026-06-30");
  const auto give = parse_target_name("give_90d");
  const auto give_min = parse_target_name("give_90d_min50");
  const auto lapse = parse_target_name("lapse_90d");
  std::vector<GiftRecord> gifts = {{d - 400, 1000, 0}, {d + 30, 2000, 0}};
  auto h = history(gifts);
  EXPECT_TRUE(eligible(h, give, d));
  EXPECT_FALSE(eligible(h, lapse, d)) << "no gift in the 365 days up to d";
  EXPECT_FALSE(eligible(h, give, d - 401));
  EXPECT_TRUE(label(h, give, d));
  EXPECT_FALSE(label(h, give_min, d)) << "20.00 is below the minimum";
  EXPECT_FALSE(label(h, give, d + 30)) << "the window starts after the date";
  gifts = {{d - 10, 1000, 0}, {d + 91, 1000, 0}};
  h = history(gifts);
  EXPECT_TRUE(eligible(h, lapse, d));
  EXPECT_TRUE(label(h, lapse, d)) << "nothing in (d, d + 90]";
}

TEST(ScoringFeatures, CatalogueNeverHoldsAProtectedAttribute) {
  for (const auto* f : model_features())
    for (auto never : kNeverFeatures) EXPECT_NE(f->name, never);
  for (const auto& f : kBehaviouralFeatures)
    for (auto never : kNeverFeatures) EXPECT_NE(f.name, never);
}

TEST(ScoringEvaluation, MetricsOnKnownNumbers) {
  const std::vector<double> s = {0.9, 0.8, 0.7, 0.6, 0.5, 0.4};
  const std::vector<std::uint8_t> y = {1, 1, 0, 1, 0, 0};
  EXPECT_NEAR(roc_auc(s, y), 8.0 / 9.0, 1e-12);
  EXPECT_NEAR(roc_auc({0.5, 0.5}, {1, 0}), 0.5, 1e-12) << "ties count half";
  EXPECT_NEAR(pr_auc(s, y), (1.0 + 1.0 + 0.75) / 3, 1e-12);
  EXPECT_NEAR(brier({1.0, 0.0}, {1, 0}), 0.0, 1e-12);
  EXPECT_NEAR(log_loss({0.5, 0.5}, {1, 0}), std::log(2.0), 1e-12);
  EXPECT_NEAR(top_decile_lift(s, y), 1.0 / 0.5, 1e-12);
  const auto bins = calibration(s, y);
  ASSERT_EQ(bins.size(), 10U);
  EXPECT_EQ(bins[0].decile, 1);
  EXPECT_NEAR(bins[0].mean_score, 0.9, 1e-12);
  EXPECT_EQ(average_ranks({3, 1, 3}), (std::vector<double>{2.5, 1, 2.5}));
  const auto rfm = rfm_scores({10, 100}, {5, 1}, {500, 20});
  EXPECT_GT(rfm[0], rfm[1]);
  EXPECT_NEAR(psi({10, 10}, {10, 10}), 0.0, 1e-12);
  EXPECT_GT(psi({10, 10}, {19, 1}), 0.1);
}

TEST(ScoringReasons, TextsInBothLanguages) {
  const auto i = static_cast<std::size_t>(feature_index("gift_count_365d"));
  EXPECT_EQ(reason_text(i, 3, 0.4, Language::de),
            "Spenden in den letzten 365 Tagen: 3 – erhöht die Wahrscheinlichkeit");
  EXPECT_EQ(reason_text(i, 3, -0.4, Language::en),
            "Completed gifts in the last 365 days: 3 – lowers the likelihood");
  const auto m = static_cast<std::size_t>(feature_index("gift_amount_total"));
  EXPECT_EQ(reason_value_text(m, 12.5F, Language::de), "12,50 EUR");
  EXPECT_EQ(reason_value_text(m, NAN, Language::en), "unknown");
}

TEST(ScoringSettings, ArchitectureDocListsEveryScoringSettingWithDefaultAndRange) {
  std::ifstream in(std::string(GABE_SOURCE_DIR) + "/docs/architecture.md");
  ASSERT_TRUE(in);
  std::stringstream doc;
  doc << in.rdbuf();
  const auto text = doc.str();
  for (const auto& s : settings()) {
    const auto row = text.find("| `" + s.name + "` | ");
    ASSERT_NE(row, std::string::npos) << s.name << " is missing from docs/architecture.md";
    const auto line = text.substr(row, text.find('\n', row) - row);
    EXPECT_NE(line.find(s.default_value), std::string::npos) << s.name;
    if (s.kind == config::Setting::Kind::integer) {
      EXPECT_NE(line.find(std::to_string(s.min) + "–" + std::to_string(s.max)), std::string::npos)
          << s.name;
    }
  }
}

}  // namespace
}  // namespace gabe::scoring
