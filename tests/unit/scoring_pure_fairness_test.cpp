// The fairness report (services/scoring/pure/fairness.cpp) against numbers computed by hand.
#include "gabe/fairness.hpp"

#include <gtest/gtest.h>

#include <stdexcept>

namespace gabe {
namespace {

// 100 donors, donor i scoring 1 - i/100, so decile = i / 10 + 1 and donors 0..19 are selected
// (deciles 1 and 2). Gender: f = 0..11 and 20..49 (42, 12 selected), m = 12..19 and 50..89
// (48, 8 selected), d = 90..94 (5: too small), 95..99 unknown. Positives: 0..5, 12..15, 20..25,
// 50..57, 90. Age band: even donors "18-39", odd "40+".
FairnessInput hundred_donors() {
  FairnessInput input;
  AuditAttribute gender{"gender", {}};
  AuditAttribute age{"age_band", {}};
  for (int i = 0; i < 100; ++i) {
    input.scores.push_back(1.0 - i / 100.0);
    const bool positive =
        i <= 5 || (i >= 12 && i <= 15) || (i >= 20 && i <= 25) || (i >= 50 && i <= 57) || i == 90;
    input.labels.push_back(positive ? 1 : 0);
    if (i < 12 || (i >= 20 && i < 50))
      gender.groups.emplace_back("f");
    else if (i < 90)
      gender.groups.emplace_back("m");
    else if (i < 95)
      gender.groups.emplace_back("d");
    else
      gender.groups.emplace_back(std::nullopt);
    age.groups.emplace_back(i % 2 == 0 ? "18-39" : "40+");
  }
  input.attributes = {gender, age};
  return input;
}

TEST(Fairness, DecilesAreNtileOfTheScoresDescending) {
  // 13 donors: deciles 1-3 hold two, the rest one; equal scores keep their order.
  const std::vector<double> scores = {0.1, 0.9, 0.5, 0.5,  0.3,  0.2, 0.8,
                                      0.7, 0.6, 0.4, 0.05, 0.01, 0.95};
  EXPECT_EQ(score_deciles(scores), (std::vector<int>{8, 1, 3, 4, 6, 7, 2, 2, 3, 5, 9, 10, 1}));
  EXPECT_TRUE(score_deciles({}).empty());
  EXPECT_EQ(score_deciles({0.3, 0.7}), (std::vector<int>{2, 1}));
}

TEST(Fairness, ReportsRatesRatioAndEqualOpportunityByHand) {
  const FairnessReport report = fairness_report(hundred_donors());
  EXPECT_EQ(report.donors, 100U);
  ASSERT_EQ(report.attributes.size(), 2U);

  const AttributeFairness& gender = report.attributes[0];
  EXPECT_EQ(gender.attribute, "gender");
  EXPECT_EQ(gender.missing, 5U);
  ASSERT_EQ(gender.groups.size(), 3U);  // d, f, m (sorted)
  const GroupFairness& d = gender.groups[0];
  const GroupFairness& f = gender.groups[1];
  const GroupFairness& m = gender.groups[2];
  EXPECT_EQ(d.group, "d");
  EXPECT_EQ(d.count, 5U);
  EXPECT_TRUE(d.too_small);
  EXPECT_EQ(d.selected, 0U);
  EXPECT_EQ(d.positives, 1U);
  EXPECT_DOUBLE_EQ(*d.true_positive_rate, 0.0);
  EXPECT_EQ(f.count, 42U);
  EXPECT_EQ(f.selected, 12U);
  EXPECT_EQ(f.positives, 12U);
  EXPECT_EQ(f.selected_positives, 6U);
  EXPECT_FALSE(f.too_small);
  EXPECT_DOUBLE_EQ(f.selection_rate, 12.0 / 42.0);
  EXPECT_DOUBLE_EQ(*f.true_positive_rate, 0.5);
  EXPECT_EQ(m.count, 48U);
  EXPECT_EQ(m.selected, 8U);
  EXPECT_EQ(m.positives, 12U);
  EXPECT_EQ(m.selected_positives, 4U);
  EXPECT_DOUBLE_EQ(m.selection_rate, 8.0 / 48.0);
  EXPECT_DOUBLE_EQ(*m.true_positive_rate, 4.0 / 12.0);
  // The small group d (rate 0) is not judged: ratio m / f = (1/6) / (2/7) = 7/12.
  EXPECT_TRUE(gender.judged);
  EXPECT_NEAR(*gender.four_fifths_ratio, 7.0 / 12.0, 1e-12);
  EXPECT_NEAR(*gender.equal_opportunity_difference, 0.5 - 1.0 / 3.0, 1e-12);
  EXPECT_FALSE(gender.passes_four_fifths);

  const AttributeFairness& age = report.attributes[1];
  EXPECT_EQ(age.missing, 0U);
  ASSERT_EQ(age.groups.size(), 2U);
  EXPECT_EQ(age.groups[0].count, 50U);
  EXPECT_EQ(age.groups[0].selected, 10U);
  EXPECT_DOUBLE_EQ(*age.four_fifths_ratio, 1.0);
  // Even positives 13 (5 selected), odd 12 (5 selected).
  EXPECT_NEAR(*age.equal_opportunity_difference, 5.0 / 12.0 - 5.0 / 13.0, 1e-12);
  EXPECT_TRUE(age.passes_four_fifths);

  EXPECT_FALSE(report.passes_four_fifths);
}

TEST(Fairness, OptionsChangeTheSelectionTheSizeLimitAndTheThreshold) {
  FairnessInput input = hundred_donors();
  input.attributes.resize(1);  // gender
  // Top decile only: f selects 0..9 (10 of 42), m none: ratio 0.
  FairnessReport top = fairness_report(input, {1, 30, 0.8});
  EXPECT_EQ(top.attributes[0].groups[1].selected, 10U);
  EXPECT_DOUBLE_EQ(*top.attributes[0].four_fifths_ratio, 0.0);
  // With groups of 5 judged, d (rate 0) sets the ratio to 0.
  FairnessReport small = fairness_report(input, {2, 5, 0.8});
  EXPECT_FALSE(small.attributes[0].groups[0].too_small);
  EXPECT_DOUBLE_EQ(*small.attributes[0].four_fifths_ratio, 0.0);
  EXPECT_NEAR(*small.attributes[0].equal_opportunity_difference, 0.5, 1e-12);
  // 7/12 = 0.583... passes a threshold of 0.58, not one of 0.59.
  EXPECT_TRUE(fairness_report(input, {2, 30, 0.58}).passes_four_fifths);
  EXPECT_FALSE(fairness_report(input, {2, 30, 0.59}).passes_four_fifths);
}

TEST(Fairness, FewerThanTwoJudgedGroupsAreReportedNotJudged) {
  FairnessInput input = hundred_donors();
  input.attributes.resize(1);
  const FairnessReport report = fairness_report(input, {2, 45, 0.8});  // only m has 45+
  const AttributeFairness& gender = report.attributes[0];
  EXPECT_FALSE(gender.judged);
  EXPECT_FALSE(gender.four_fifths_ratio.has_value());
  EXPECT_FALSE(gender.equal_opportunity_difference.has_value());
  EXPECT_TRUE(gender.passes_four_fifths);
  EXPECT_TRUE(report.passes_four_fifths);
  // No attributes at all: nothing to judge, passes.
  FairnessInput none = hundred_donors();
  none.attributes.clear();
  EXPECT_TRUE(fairness_report(none).passes_four_fifths);
}

TEST(Fairness, GivenDecilesAreUsedInsteadOfTheScores) {
  FairnessInput input = hundred_donors();
  input.attributes.resize(1);
  input.deciles.assign(100, 10);
  for (int i = 0; i < 100; i += 5) input.deciles[static_cast<std::size_t>(i)] = 1;  // 20
  const FairnessReport report = fairness_report(input);
  // f: 0,5,10,20,25,...,45 = 3 + 6 = 9 of 42; m: 15 and 50..85 step 5 = 1 + 8 = 9 of 48.
  EXPECT_EQ(report.attributes[0].groups[1].selected, 9U);
  EXPECT_EQ(report.attributes[0].groups[2].selected, 9U);
  EXPECT_NEAR(*report.attributes[0].four_fifths_ratio, (9.0 / 48.0) / (9.0 / 42.0), 1e-12);
}

TEST(Fairness, RejectsInconsistentInput) {
  FairnessInput input = hundred_donors();
  input.labels.pop_back();
  EXPECT_THROW(fairness_report(input), std::invalid_argument);
  input = hundred_donors();
  input.labels[3] = 2;
  EXPECT_THROW(fairness_report(input), std::invalid_argument);
  input = hundred_donors();
  input.attributes[1].groups.pop_back();
  EXPECT_THROW(fairness_report(input), std::invalid_argument);
  input = hundred_donors();
  input.deciles.assign(100, 11);
  EXPECT_THROW(fairness_report(input), std::invalid_argument);
  EXPECT_THROW(fairness_report(hundred_donors(), {0, 30, 0.8}), std::invalid_argument);
  EXPECT_THROW(fairness_report(hundred_donors(), {2, 0, 0.8}), std::invalid_argument);
  EXPECT_THROW(fairness_report(hundred_donors(), {2, 30, 1.5}), std::invalid_argument);
}

TEST(Fairness, JsonCarriesEveryNumberAndNullsForTheUnknown) {
  FairnessInput input = hundred_donors();
  rapidjson::Document doc;
  const FairnessReport report = fairness_report(input, {2, 45, 0.8});
  const rapidjson::Value json = to_json(report, doc.GetAllocator());
  ASSERT_TRUE(json.IsObject());
  EXPECT_EQ(json["selected_deciles"].GetInt(), 2);
  EXPECT_EQ(json["min_group_size"].GetUint64(), 45U);
  EXPECT_DOUBLE_EQ(json["threshold"].GetDouble(), 0.8);
  EXPECT_EQ(json["donors"].GetUint64(), 100U);
  EXPECT_TRUE(json["passes_four_fifths"].GetBool());
  const rapidjson::Value& gender = json["attributes"][0];
  EXPECT_STREQ(gender["attribute"].GetString(), "gender");
  EXPECT_EQ(gender["missing"].GetUint64(), 5U);
  EXPECT_FALSE(gender["judged"].GetBool());
  EXPECT_TRUE(gender["four_fifths_ratio"].IsNull());
  EXPECT_TRUE(gender["equal_opportunity_difference"].IsNull());
  const rapidjson::Value& f = gender["groups"][1];
  EXPECT_STREQ(f["group"].GetString(), "f");
  EXPECT_EQ(f["count"].GetUint64(), 42U);
  EXPECT_EQ(f["positives"].GetUint64(), 12U);
  EXPECT_EQ(f["selected"].GetUint64(), 12U);
  EXPECT_EQ(f["selected_positives"].GetUint64(), 6U);
  EXPECT_DOUBLE_EQ(f["selection_rate"].GetDouble(), 12.0 / 42.0);
  EXPECT_DOUBLE_EQ(f["true_positive_rate"].GetDouble(), 0.5);
  EXPECT_TRUE(f["too_small"].GetBool());
  const rapidjson::Value& age = json["attributes"][1];
  EXPECT_TRUE(age["judged"].GetBool());
  EXPECT_DOUBLE_EQ(age["four_fifths_ratio"].GetDouble(), 1.0);
}

}  // namespace
}  // namespace gabe
