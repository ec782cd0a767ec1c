// Exact, fast evaluation and explanation of trained XGBoost 1.7 tree ensembles.
//
// A Forest is read from XGBoost's JSON serialisation and evaluated exactly as XGBoost does, so
// its margins equal XGBoosterPredictFromDense(type=margin) and its contributions equal XGBoost's
// own pred_contribs (path-dependent TreeSHAP), only much faster: tables precomputed over the
// subsets of each leaf's path features (Fast TreeSHAP v2), summed per group of up to four
// leaves, and many rows per tree at a time. Each call runs on the calling thread; split rows
// over threads to use more cores. docs/trees.md explains how and why the numbers are exact.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

namespace gabe::trees {

struct Model;  // the trees, flattened, and their precomputed SHAP tables (private)

// A trained XGBoost 1.7 gbtree binary:logistic model, read from its JSON serialisation
// (XGBoosterSaveModelToBuffer with {"format":"json"}), evaluated exactly as XGBoost does
// (float thresholds, `x < split_condition` goes left, missing = NaN takes default_left).
// Immutable once built; cheap to copy (shared); thread-safe for concurrent const calls.
class Forest {
 public:
  static Forest from_xgboost_json(std::string_view json);  // throws std::invalid_argument
  std::size_t feature_count() const;
  double base_margin() const;  // the bias in margin space (logit of base_score)
  // rows: n × feature_count() floats, row-major, NaN = missing. out: n margins (log-odds).
  void predict_margin(const float* rows, std::size_t n, double* out) const;
  // Exact TreeSHAP (interventional=false, i.e. the path-dependent algorithm XGBoost's
  // pred_contribs uses): out: n × (feature_count() + 1), the last column the bias;
  // row sums equal predict_margin within 1e-6 relative.
  void contributions(const float* rows, std::size_t n, double* out) const;
  // Top k features by |contribution| per row (ties by feature index), with margin; for
  // scoring runs over a million rows without materialising n × F doubles at once.
  // k must be ≤ feature_count(); rows with fewer non-zero contributions still get k entries
  // (the rest with contribution 0, by feature index).
  struct Reason {
    std::uint32_t feature;
    double contribution;
  };
  void top_reasons(const float* rows, std::size_t n, std::size_t k, Reason* reasons /* n×k */,
                   double* margins /* n */) const;

 private:
  explicit Forest(std::shared_ptr<const Model> model);
  std::shared_ptr<const Model> model_;
};

}  // namespace gabe::trees
