// XGBoost itself, through its C API, as the reference gabe_trees is checked and benchmarked
// against (tests/unit/trees_test.cpp, bench/trees_bench.cpp): training a binary:logistic model
// on a dense float matrix (NaN = missing), saving it as JSON, its dense margins and its exact
// pred_contribs. Header-only so only the test and the bench link libxgboost.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <xgboost/c_api.h>

namespace gabe::trees::testing {

inline void check(int rc, const char* what) {
  if (rc != 0) throw std::runtime_error(std::string(what) + ": " + XGBGetLastError());
}

class DMatrix {
 public:
  DMatrix(const float* rows, std::size_t n, std::size_t features) {
    check(XGDMatrixCreateFromMat(rows, n, features, std::numeric_limits<float>::quiet_NaN(),
                                 &handle_),
          "XGDMatrixCreateFromMat");
  }
  DMatrix(const DMatrix&) = delete;
  DMatrix& operator=(const DMatrix&) = delete;
  ~DMatrix() { XGDMatrixFree(handle_); }
  DMatrixHandle get() const { return handle_; }

 private:
  DMatrixHandle handle_ = nullptr;
};

class Booster {
 public:
  // Trains `rounds` trees on rows (n × features) with labels in {0, 1}; params are XGBoost's
  // (name, value) pairs applied after the defaults below.
  Booster(const float* rows, std::size_t n, std::size_t features, const std::vector<float>& labels,
          int rounds, const std::vector<std::pair<std::string, std::string>>& params) {
    DMatrix train(rows, n, features);
    check(XGDMatrixSetFloatInfo(train.get(), "label", labels.data(), labels.size()),
          "XGDMatrixSetFloatInfo");
    DMatrixHandle matrices[] = {train.get()};
    check(XGBoosterCreate(matrices, 1, &handle_), "XGBoosterCreate");
    set("objective", "binary:logistic");
    set("seed", "7");
    set("verbosity", "0");
    for (const auto& [name, value] : params) set(name, value);
    for (int i = 0; i < rounds; ++i) {
      check(XGBoosterUpdateOneIter(handle_, i, train.get()), "XGBoosterUpdateOneIter");
    }
  }
  explicit Booster(const std::string& json) {
    check(XGBoosterCreate(nullptr, 0, &handle_), "XGBoosterCreate");
    check(XGBoosterLoadModelFromBuffer(handle_, json.data(), json.size()),
          "XGBoosterLoadModelFromBuffer");
  }
  Booster(const Booster&) = delete;
  Booster& operator=(const Booster&) = delete;
  ~Booster() { XGBoosterFree(handle_); }

  void set(const std::string& name, const std::string& value) {
    check(XGBoosterSetParam(handle_, name.c_str(), value.c_str()), "XGBoosterSetParam");
  }

  std::string json() const {
    bst_ulong length = 0;
    const char* data = nullptr;
    check(XGBoosterSaveModelToBuffer(handle_, R"({"format":"json"})", &length, &data),
          "XGBoosterSaveModelToBuffer");
    return {data, static_cast<std::size_t>(length)};
  }

  // XGBoosterPredictFromDense (in-place), type 1 = margin.
  std::vector<float> predict_margin(const float* rows, std::size_t n, std::size_t features) const {
    const std::string array = R"({"data": [)" +
                              std::to_string(reinterpret_cast<std::uintptr_t>(rows)) +
                              R"(, true], "shape": [)" + std::to_string(n) + ", " +
                              std::to_string(features) + R"(], "typestr": "<f4", "version": 3})";
    const char* config =
        R"({"type": 1, "training": false, "iteration_begin": 0, "iteration_end": 0,)"
        R"( "strict_shape": false, "cache_id": 0, "missing": NaN})";
    const bst_ulong* shape = nullptr;
    bst_ulong dims = 0;
    const float* result = nullptr;
    check(
        XGBoosterPredictFromDense(handle_, array.c_str(), config, nullptr, &shape, &dims, &result),
        "XGBoosterPredictFromDense");
    return {result, result + n};
  }

  // Exact path-dependent TreeSHAP (pred_contribs): n × (features + 1), the bias last.
  std::vector<float> contributions(const float* rows, std::size_t n, std::size_t features) const {
    DMatrix matrix(rows, n, features);
    const char* config =
        R"({"type": 2, "training": false, "iteration_begin": 0, "iteration_end": 0,)"
        R"( "strict_shape": false})";
    const bst_ulong* shape = nullptr;
    bst_ulong dims = 0;
    const float* result = nullptr;
    check(XGBoosterPredictFromDMatrix(handle_, matrix.get(), config, &shape, &dims, &result),
          "XGBoosterPredictFromDMatrix");
    return {result, result + n * (features + 1)};
  }

 private:
  BoosterHandle handle_ = nullptr;
};

// A synthetic donor-like matrix: continuous, skewed and few-valued features (so rows often sit
// exactly on a threshold), `missing` of the values NaN, and a label that depends on a band of
// feature 0 (trees split it twice on one path), on interactions and on missingness.
struct Dataset {
  std::size_t rows = 0;
  std::size_t features = 0;
  std::vector<float> x;
  std::vector<float> labels;
};

inline Dataset synthetic(std::size_t rows, std::size_t features, std::uint64_t seed,
                         double missing = 0.1) {
  Dataset data{rows, features, std::vector<float>(rows * features), std::vector<float>(rows)};
  std::mt19937_64 random(seed);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  for (std::size_t r = 0; r < rows; ++r) {
    float* row = &data.x[r * features];
    for (std::size_t f = 0; f < features; ++f) {
      const double u = unit(random);
      switch (f % 3) {
        case 0:
          row[f] = static_cast<float>(u * 4.0 - 2.0);
          break;
        case 1:
          row[f] = static_cast<float>(std::floor(u * 5.0));
          break;
        default:
          row[f] = static_cast<float>(-std::log(1.0 - u) * 30.0);
          break;
      }
      if (f > 0 && unit(random) < missing) row[f] = std::numeric_limits<float>::quiet_NaN();
    }
    double score = std::abs(row[0]) < 0.7 ? 1.2 : -0.8;
    for (std::size_t f = 1; f < features && f < 8; ++f) {
      const float v = row[f];
      if (std::isnan(v)) {
        score += (f % 2 == 0) ? 0.4 : -0.3;
      } else {
        score += (f % 3 == 1   ? 0.25 * (v - 2.0)
                  : f % 3 == 2 ? -0.02 * (v - 30.0)
                               : 0.5 * v) *
                 (f % 2 == 0 ? 1.0 : -0.7);
      }
    }
    if (features > 2 && !std::isnan(row[1]) && !std::isnan(row[2])) {
      score += row[1] >= 3.0F && row[2] < 20.0F ? 0.9 : 0.0;
    }
    data.labels[r] = unit(random) < 1.0 / (1.0 + std::exp(-score)) ? 1.0F : 0.0F;
  }
  return data;
}

}  // namespace gabe::trees::testing
