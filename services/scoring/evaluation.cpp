#include "evaluation.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace gabe::scoring {

namespace {

// Indices by score, highest first; ties by position, so the order is deterministic.
std::vector<std::size_t> by_score_desc(const std::vector<double>& scores) {
  std::vector<std::size_t> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return scores[a] > scores[b]; });
  return order;
}

double clamp_probability(double p) {
  return std::clamp(p, 1e-15, 1 - 1e-15);
}

}  // namespace

std::vector<double> average_ranks(const std::vector<double>& values) {
  std::vector<std::size_t> order(values.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return values[a] < values[b]; });
  std::vector<double> ranks(values.size());
  for (std::size_t i = 0; i < order.size();) {
    std::size_t j = i;
    while (j + 1 < order.size() && values[order[j + 1]] == values[order[i]]) ++j;
    const double r = (static_cast<double>(i) + static_cast<double>(j)) / 2.0 + 1.0;
    for (std::size_t k = i; k <= j; ++k) ranks[order[k]] = r;
    i = j + 1;
  }
  return ranks;
}

double roc_auc(const std::vector<double>& scores, const std::vector<std::uint8_t>& labels) {
  const auto ranks = average_ranks(scores);
  double pos = 0, rank_sum = 0;
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (labels[i]) {
      pos += 1;
      rank_sum += ranks[i];
    }
  }
  const double neg = static_cast<double>(labels.size()) - pos;
  if (pos == 0 || neg == 0) return 0.5;
  return (rank_sum - pos * (pos + 1) / 2) / (pos * neg);
}

double pr_auc(const std::vector<double>& scores, const std::vector<std::uint8_t>& labels) {
  const auto order = by_score_desc(scores);
  const double total_pos = static_cast<double>(std::count(labels.begin(), labels.end(), 1));
  if (total_pos == 0) return 0;
  double tp = 0, ap = 0;
  std::size_t seen = 0;
  for (std::size_t i = 0; i < order.size();) {
    // A group of tied scores is one threshold.
    std::size_t j = i;
    double group_tp = 0;
    while (j < order.size() && scores[order[j]] == scores[order[i]]) group_tp += labels[order[j++]];
    seen += j - i;
    tp += group_tp;
    ap += (group_tp / total_pos) * (tp / static_cast<double>(seen));
    i = j;
  }
  return ap;
}

double log_loss(const std::vector<double>& p, const std::vector<std::uint8_t>& y) {
  if (p.empty()) return 0;
  double s = 0;
  for (std::size_t i = 0; i < p.size(); ++i) {
    const double q = clamp_probability(p[i]);
    s -= y[i] ? std::log(q) : std::log(1 - q);
  }
  return s / static_cast<double>(p.size());
}

double brier(const std::vector<double>& p, const std::vector<std::uint8_t>& y) {
  if (p.empty()) return 0;
  double s = 0;
  for (std::size_t i = 0; i < p.size(); ++i) s += (p[i] - y[i]) * (p[i] - y[i]);
  return s / static_cast<double>(p.size());
}

double top_decile_lift(const std::vector<double>& scores, const std::vector<std::uint8_t>& labels) {
  if (scores.empty()) return 0;
  const auto order = by_score_desc(scores);
  const std::size_t top = std::max<std::size_t>(1, (scores.size() + 9) / 10);
  double top_pos = 0;
  for (std::size_t i = 0; i < top; ++i) top_pos += labels[order[i]];
  const double base = static_cast<double>(std::count(labels.begin(), labels.end(), 1)) /
                      static_cast<double>(labels.size());
  if (base == 0) return 0;
  return (top_pos / static_cast<double>(top)) / base;
}

std::vector<CalibrationBin> calibration(const std::vector<double>& p,
                                        const std::vector<std::uint8_t>& y) {
  std::vector<CalibrationBin> bins(10);
  const auto order = by_score_desc(p);
  const std::size_t n = p.size();
  for (std::size_t i = 0; i < 10; ++i) bins[i].decile = static_cast<int>(i) + 1;
  for (std::size_t rank = 0; rank < n; ++rank) {
    auto& b = bins[rank * 10 / std::max<std::size_t>(n, 1)];
    ++b.count;
    b.mean_score += p[order[rank]];
    b.observed_rate += y[order[rank]];
  }
  for (auto& b : bins) {
    if (b.count == 0) continue;
    b.mean_score /= static_cast<double>(b.count);
    b.observed_rate /= static_cast<double>(b.count);
  }
  return bins;
}

std::vector<double> rfm_scores(const std::vector<double>& days_since_last,
                               const std::vector<double>& frequency,
                               const std::vector<double>& monetary) {
  std::vector<double> recency(days_since_last.size());
  for (std::size_t i = 0; i < recency.size(); ++i) recency[i] = -days_since_last[i];
  const auto r = average_ranks(recency);
  const auto f = average_ranks(frequency);
  const auto m = average_ranks(monetary);
  std::vector<double> out(r.size());
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = r[i] + f[i] + m[i];
  return out;
}

double psi(const std::vector<double>& expected, const std::vector<double>& actual) {
  const double te = std::accumulate(expected.begin(), expected.end(), 0.0);
  const double ta = std::accumulate(actual.begin(), actual.end(), 0.0);
  if (te <= 0 || ta <= 0 || expected.size() != actual.size()) return 0;
  double s = 0;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const double e = std::max(expected[i], 0.5) / te;
    const double a = std::max(actual[i], 0.5) / ta;
    s += (a - e) * std::log(a / e);
  }
  return s;
}

}  // namespace gabe::scoring
