// Model quality on a held-out window: pure arithmetic over scores and 0/1 labels.
#pragma once

#include <cstdint>
#include <vector>

namespace gabe::scoring {

// ROC AUC (ties count half); 0.5 when one class is absent.
double roc_auc(const std::vector<double>& scores, const std::vector<std::uint8_t>& labels);
// Average precision (the area under the precision-recall curve, step-wise).
double pr_auc(const std::vector<double>& scores, const std::vector<std::uint8_t>& labels);
double log_loss(const std::vector<double>& probabilities, const std::vector<std::uint8_t>& labels);
double brier(const std::vector<double>& probabilities, const std::vector<std::uint8_t>& labels);
// Positive rate among the highest-scored tenth over the overall positive rate.
double top_decile_lift(const std::vector<double>& scores, const std::vector<std::uint8_t>& labels);

struct CalibrationBin {
  int decile = 0;  // 1 = highest scores
  std::size_t count = 0;
  double mean_score = 0;
  double observed_rate = 0;
};
std::vector<CalibrationBin> calibration(const std::vector<double>& probabilities,
                                        const std::vector<std::uint8_t>& labels);

// The RFM ranking: the sum of the ranks (ties averaged) of recency (more recent is better),
// frequency and monetary value, higher is better.
std::vector<double> rfm_scores(const std::vector<double>& days_since_last,
                               const std::vector<double>& frequency,
                               const std::vector<double>& monetary);

// Ranks 1..n with ties averaged.
std::vector<double> average_ranks(const std::vector<double>& values);

// Population stability index of two histograms over the same bins (an empty bin counts as
// 0.5 donors, so the index stays finite).
double psi(const std::vector<double>& expected, const std::vector<double>& actual);

}  // namespace gabe::scoring
