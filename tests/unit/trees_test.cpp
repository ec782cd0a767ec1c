// gabe_trees against XGBoost 1.7 itself: models trained here through the C API (missing values,
// depths 2 to 6, 1 to 300 trees, features split twice on one path, rows sitting exactly on
// thresholds) must give XGBoost's margins and XGBoost's pred_contribs, and a deliberately
// perturbed model must not.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <ostream>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "gabe/trees.hpp"
#include "testing/xgboost_reference.hpp"

namespace {

using gabe::trees::Forest;
using gabe::trees::testing::Booster;
using gabe::trees::testing::Dataset;
using gabe::trees::testing::synthetic;

constexpr std::size_t kFeatures = 12;

rapidjson::Document parse(const std::string& json) {
  rapidjson::Document document;
  document.Parse<rapidjson::kParseFullPrecisionFlag>(json.c_str());
  EXPECT_FALSE(document.HasParseError());
  return document;
}

std::string serialise(const rapidjson::Document& document) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  document.Accept(writer);
  return buffer.GetString();
}

rapidjson::Value& trees_of(rapidjson::Document& document) {
  return document["learner"]["gradient_booster"]["model"]["trees"];
}

// Whether some root-to-leaf path of some tree splits on the same feature twice.
bool repeats_feature_on_a_path(const std::string& json) {
  rapidjson::Document document = parse(json);
  for (const auto& tree : trees_of(document).GetArray()) {
    const auto& left = tree["left_children"];
    const auto& right = tree["right_children"];
    const auto& feature = tree["split_indices"];
    std::function<bool(int, std::multiset<int>)> walk = [&](int node, std::multiset<int> seen) {
      if (left[node].GetInt() == -1) return false;
      const int f = feature[node].GetInt();
      if (seen.count(f) > 0) return true;
      seen.insert(f);
      return walk(left[node].GetInt(), seen) || walk(right[node].GetInt(), seen);
    };
    if (walk(0, {})) return true;
  }
  return false;
}

// Evaluation rows: fresh synthetic rows, and rows whose features sit exactly on thresholds the
// model uses (x == split_condition must go right, as in XGBoost).
std::vector<float> evaluation_rows(const std::string& json, std::size_t fresh,
                                   std::size_t on_split) {
  Dataset data = synthetic(fresh + on_split, kFeatures, 99);
  rapidjson::Document document = parse(json);
  std::vector<std::vector<float>> thresholds(kFeatures);
  for (const auto& tree : trees_of(document).GetArray()) {
    for (rapidjson::SizeType i = 0; i < tree["left_children"].Size(); ++i) {
      if (tree["left_children"][i].GetInt() == -1) continue;
      thresholds[tree["split_indices"][i].GetUint()].push_back(
          static_cast<float>(tree["split_conditions"][i].GetDouble()));
    }
  }
  std::mt19937 random(5);
  for (std::size_t r = fresh; r < fresh + on_split; ++r) {
    for (std::size_t f = 0; f < kFeatures; ++f) {
      if (!thresholds[f].empty() && random() % 2 == 0) {
        data.x[r * kFeatures + f] = thresholds[f][random() % thresholds[f].size()];
      }
    }
  }
  return data.x;
}

struct Case {
  int depth;
  int rounds;
  const char* method;
  const char* base_score;
};

void PrintTo(const Case& c, std::ostream* out) {
  *out << "depth " << c.depth << ", " << c.rounds << " trees, " << c.method << ", base_score "
       << c.base_score;
}

class TreesAgainstXGBoost : public ::testing::TestWithParam<Case> {
 protected:
  static constexpr std::size_t kFresh = 1500;
  static constexpr std::size_t kOnSplit = 500;
  static constexpr std::size_t kRows = kFresh + kOnSplit;

  void SetUp() override {
    const Case c = GetParam();
    const Dataset train = synthetic(3000, kFeatures, 1);
    booster_ = std::make_unique<Booster>(
        train.x.data(), train.rows, kFeatures, train.labels, c.rounds,
        std::vector<std::pair<std::string, std::string>>{{"max_depth", std::to_string(c.depth)},
                                                         {"tree_method", c.method},
                                                         {"base_score", c.base_score},
                                                         {"eta", "0.3"},
                                                         {"nthread", "1"}});
    json_ = booster_->json();
    rows_ = evaluation_rows(json_, kFresh, kOnSplit);
  }

  std::unique_ptr<Booster> booster_;
  std::string json_;
  std::vector<float> rows_;
};

// XGBoost adds its float leaf values in float; Forest adds them in double. The two agree to
// float rounding of the sum, far below any leaf value, so a wrong leaf anywhere shows.
double tolerance(double value) {
  return 1e-5 * std::max(1.0, std::abs(value));
}

TEST_P(TreesAgainstXGBoost, MarginsEqualXGBoostDensePredict) {
  const Forest forest = Forest::from_xgboost_json(json_);
  ASSERT_EQ(forest.feature_count(), kFeatures);
  const float base_score = std::stof(GetParam().base_score);
  EXPECT_NEAR(forest.base_margin(), std::log(base_score / (1.0 - base_score)), 1e-6);
  const std::vector<float> expected = booster_->predict_margin(rows_.data(), kRows, kFeatures);
  std::vector<double> margins(kRows);
  forest.predict_margin(rows_.data(), kRows, margins.data());
  for (std::size_t r = 0; r < kRows; ++r) {
    ASSERT_NEAR(margins[r], expected[r], tolerance(expected[r])) << "row " << r;
  }
}

TEST_P(TreesAgainstXGBoost, ContributionsEqualXGBoostPredContribs) {
  if (GetParam().depth >= 4) {
    EXPECT_TRUE(repeats_feature_on_a_path(json_));
  }
  const Forest forest = Forest::from_xgboost_json(json_);
  const std::vector<float> expected = booster_->contributions(rows_.data(), kRows, kFeatures);
  std::vector<double> phi(kRows * (kFeatures + 1));
  forest.contributions(rows_.data(), kRows, phi.data());
  std::vector<double> margins(kRows);
  forest.predict_margin(rows_.data(), kRows, margins.data());
  double worst = 0;
  for (std::size_t r = 0; r < kRows; ++r) {
    double sum = 0;
    for (std::size_t f = 0; f <= kFeatures; ++f) {
      const double ours = phi[r * (kFeatures + 1) + f];
      const double theirs = expected[r * (kFeatures + 1) + f];
      ASSERT_NEAR(ours, theirs, 1e-5) << "row " << r << " feature " << f;
      worst = std::max(worst, std::abs(ours - theirs));
      sum += ours;
    }
    ASSERT_NEAR(sum, margins[r], 1e-6 * std::max(1.0, std::abs(margins[r]))) << "row " << r;
  }
  RecordProperty("worst_difference", std::to_string(worst));
}

TEST_P(TreesAgainstXGBoost, TopReasonsAreTheLargestContributions) {
  const Forest forest = Forest::from_xgboost_json(json_);
  constexpr std::size_t kK = 3;
  std::vector<double> phi(kRows * (kFeatures + 1));
  forest.contributions(rows_.data(), kRows, phi.data());
  std::vector<double> margins(kRows);
  forest.predict_margin(rows_.data(), kRows, margins.data());
  std::vector<Forest::Reason> reasons(kRows * kK);
  std::vector<double> reason_margins(kRows);
  forest.top_reasons(rows_.data(), kRows, kK, reasons.data(), reason_margins.data());
  for (std::size_t r = 0; r < kRows; ++r) {
    const double* row_phi = &phi[r * (kFeatures + 1)];
    EXPECT_EQ(reason_margins[r], margins[r]) << "row " << r;
    std::vector<bool> chosen(kFeatures, false);
    for (std::size_t i = 0; i < kK; ++i) {
      const Forest::Reason& reason = reasons[r * kK + i];
      ASSERT_LT(reason.feature, kFeatures);
      EXPECT_EQ(reason.contribution, row_phi[reason.feature]);
      chosen[reason.feature] = true;
      if (i > 0) {
        const Forest::Reason& before = reasons[r * kK + i - 1];
        EXPECT_TRUE(std::abs(before.contribution) > std::abs(reason.contribution) ||
                    (std::abs(before.contribution) == std::abs(reason.contribution) &&
                     before.feature < reason.feature));
      }
    }
    const double last = std::abs(reasons[r * kK + kK - 1].contribution);
    for (std::size_t f = 0; f < kFeatures; ++f) {
      if (!chosen[f]) {
        EXPECT_LE(std::abs(row_phi[f]), last) << "row " << r;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Models, TreesAgainstXGBoost,
                         ::testing::Values(Case{2, 1, "exact", "0.5"}, Case{3, 30, "hist", "0.3"},
                                           Case{4, 100, "hist", "0.5"}, Case{5, 60, "exact", "0.7"},
                                           Case{6, 300, "hist", "0.5"}),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           return "depth" + std::to_string(info.param.depth) + "_trees" +
                                  std::to_string(info.param.rounds) + "_" + info.param.method;
                         });

class PerturbedModel : public ::testing::Test {
 protected:
  static constexpr std::size_t kRows = 2000;

  void SetUp() override {
    const Dataset train = synthetic(3000, kFeatures, 1);
    booster_ = std::make_unique<Booster>(
        train.x.data(), train.rows, kFeatures, train.labels, 40,
        std::vector<std::pair<std::string, std::string>>{
            {"max_depth", "4"}, {"tree_method", "hist"}, {"nthread", "1"}});
    json_ = booster_->json();
    rows_ = evaluation_rows(json_, kRows / 2, kRows / 2);
    expected_margins_ = booster_->predict_margin(rows_.data(), kRows, kFeatures);
    expected_phi_ = booster_->contributions(rows_.data(), kRows, kFeatures);
  }

  // The largest difference to XGBoost of a Forest read from the edited model.
  std::pair<double, double> differences(const std::function<void(rapidjson::Value&)>& edit) {
    rapidjson::Document document = parse(json_);
    edit(trees_of(document)[0]);
    const Forest forest = Forest::from_xgboost_json(serialise(document));
    std::vector<double> margins(kRows);
    forest.predict_margin(rows_.data(), kRows, margins.data());
    std::vector<double> phi(kRows * (kFeatures + 1));
    forest.contributions(rows_.data(), kRows, phi.data());
    double margin_difference = 0;
    double phi_difference = 0;
    for (std::size_t r = 0; r < kRows; ++r) {
      margin_difference = std::max(margin_difference, std::abs(margins[r] - expected_margins_[r]));
    }
    for (std::size_t i = 0; i < phi.size(); ++i) {
      phi_difference = std::max(phi_difference, std::abs(phi[i] - expected_phi_[i]));
    }
    return {margin_difference, phi_difference};
  }

  std::unique_ptr<Booster> booster_;
  std::string json_;
  std::vector<float> rows_;
  std::vector<float> expected_margins_;
  std::vector<float> expected_phi_;
};

TEST_F(PerturbedModel, UnchangedRoundTripStillAgrees) {
  const auto [margin, phi] = differences([](rapidjson::Value&) {});
  EXPECT_LT(margin, 1e-5);
  EXPECT_LT(phi, 1e-5);
}

TEST_F(PerturbedModel, ACoverChangeShowsInContributionsOnly) {
  const auto [margin, phi] = differences([](rapidjson::Value& tree) {
    const int left = tree["left_children"][0].GetInt();
    tree["sum_hessian"][left].SetDouble(tree["sum_hessian"][left].GetDouble() * 1.5);
  });
  EXPECT_LT(margin, 1e-5);
  EXPECT_GT(phi, 1e-3);
}

TEST_F(PerturbedModel, LessOrEqualInsteadOfLessShowsOnThresholdRows) {
  // The next float above every threshold: rows exactly on a threshold now go left.
  const auto [margin, phi] = differences([](rapidjson::Value& tree) {
    for (rapidjson::SizeType i = 0; i < tree["left_children"].Size(); ++i) {
      if (tree["left_children"][i].GetInt() == -1) continue;
      const auto threshold = static_cast<float>(tree["split_conditions"][i].GetDouble());
      tree["split_conditions"][i].SetDouble(
          std::nextafter(threshold, std::numeric_limits<float>::infinity()));
    }
  });
  EXPECT_GT(margin, 1e-3);
  EXPECT_GT(phi, 1e-3);
}

TEST_F(PerturbedModel, FlippedDefaultDirectionShowsOnMissingValues) {
  const auto [margin, phi] = differences([](rapidjson::Value& tree) {
    for (auto& flag : tree["default_left"].GetArray()) flag.SetInt(flag.GetInt() == 0 ? 1 : 0);
  });
  EXPECT_GT(margin, 1e-3);
  EXPECT_GT(phi, 1e-3);
}

TEST_F(PerturbedModel, ConcurrentCallsGiveTheSameAnswers) {
  const Forest forest = Forest::from_xgboost_json(json_);
  std::vector<double> alone(kRows * (kFeatures + 1));
  forest.contributions(rows_.data(), kRows, alone.data());
  std::vector<std::vector<double>> together(2, std::vector<double>(alone.size()));
  std::vector<std::thread> threads;
  for (auto& out : together) {
    threads.emplace_back([&forest, &out, this] {
      for (int i = 0; i < 5; ++i) forest.contributions(rows_.data(), kRows, out.data());
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(together[0], alone);
  EXPECT_EQ(together[1], alone);
}

TEST_F(PerturbedModel, EdgeCasesOfTopReasons) {
  const Forest forest = Forest::from_xgboost_json(json_);
  std::vector<Forest::Reason> reasons(kFeatures + 1);
  double margin = 0;
  EXPECT_THROW(forest.top_reasons(rows_.data(), 1, kFeatures + 1, reasons.data(), &margin),
               std::invalid_argument);
  forest.top_reasons(rows_.data(), 1, 0, reasons.data(), &margin);
  EXPECT_NEAR(margin, expected_margins_[0], 1e-5);
  forest.top_reasons(rows_.data(), 1, kFeatures, reasons.data(), &margin);
  std::set<std::uint32_t> all;
  for (std::size_t i = 0; i < kFeatures; ++i) all.insert(reasons[i].feature);
  EXPECT_EQ(all.size(), kFeatures);
  forest.top_reasons(rows_.data(), 0, 3, reasons.data(), &margin);
}

TEST_F(PerturbedModel, BrokenModelsAreRejected) {
  const auto rejected = [this](const std::function<void(rapidjson::Document&)>& edit) {
    rapidjson::Document document = parse(json_);
    edit(document);
    EXPECT_THROW(Forest::from_xgboost_json(serialise(document)), std::invalid_argument);
  };
  EXPECT_THROW(Forest::from_xgboost_json("not json"), std::invalid_argument);
  EXPECT_THROW(Forest::from_xgboost_json("{}"), std::invalid_argument);
  EXPECT_THROW(Forest::from_xgboost_json(json_.substr(0, json_.size() / 2)), std::invalid_argument);
  rejected([](rapidjson::Document& d) {
    d["learner"]["learner_model_param"]["num_class"].SetString("3");
  });
  rejected(
      [](rapidjson::Document& d) { d["learner"]["objective"]["name"].SetString("rank:pairwise"); });
  rejected([](rapidjson::Document& d) {
    d["learner"]["learner_model_param"]["base_score"].SetString("1.5");
  });
  rejected([](rapidjson::Document& d) {
    auto& tree = trees_of(d)[0];
    tree["left_children"][tree["left_children"][0].GetInt()].SetInt(0);  // a cycle
  });
  rejected([](rapidjson::Document& d) {
    auto& tree = trees_of(d)[0];
    tree["right_children"][0].SetInt(static_cast<int>(tree["right_children"].Size()));
  });
  rejected([](rapidjson::Document& d) { trees_of(d)[0]["split_indices"][0].SetInt(kFeatures); });
  rejected([](rapidjson::Document& d) { trees_of(d)[0]["split_type"][0].SetInt(1); });
  rejected([](rapidjson::Document& d) { trees_of(d)[0]["sum_hessian"].PopBack(); });
  rejected([](rapidjson::Document& d) { trees_of(d)[0]["sum_hessian"][0].SetDouble(0.0); });
  rejected([](rapidjson::Document& d) { trees_of(d)[0]["default_left"][0].SetString("x"); });
}

}  // namespace
