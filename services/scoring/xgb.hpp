// A thin RAII layer over XGBoost's C API (libxgboost 1.7): matrices, boosters, training steps,
// predictions and (de)serialisation. Every failed call throws std::runtime_error with
// XGBoost's message.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gabe::scoring::xgb {

class Matrix {
 public:
  // Dense row-major floats, NaN = missing.
  Matrix(const float* rows, std::size_t n, std::size_t columns);
  ~Matrix();
  Matrix(const Matrix&) = delete;
  Matrix& operator=(const Matrix&) = delete;
  void set_labels(const std::vector<float>& labels);
  void* handle() const { return handle_; }

 private:
  void* handle_ = nullptr;
};

class Booster {
 public:
  explicit Booster(const std::vector<const Matrix*>& cache);
  // A saved model (UBJSON or JSON).
  static Booster load(std::string_view bytes);
  ~Booster();
  Booster(Booster&& other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
  Booster& operator=(Booster&&) = delete;
  Booster(const Booster&) = delete;
  Booster& operator=(const Booster&) = delete;

  void set_param(const std::string& name, const std::string& value);
  void update(int iteration, const Matrix& train);
  // The evaluation line of one round, e.g. "[3]\tvalid-logloss:0.41".
  std::string eval(int iteration, const Matrix& data, const std::string& name);
  // The first `rounds` boosting rounds as a model of its own.
  Booster slice(int rounds) const;
  // type 0: probabilities, 1: margins, 2: contributions (n × (columns + 1), bias last).
  std::vector<float> predict(const Matrix& data, int type) const;
  std::string save(std::string_view format) const;  // "ubj" or "json"

 private:
  struct Empty {};
  explicit Booster(Empty) {}
  void* handle_ = nullptr;
};

}  // namespace gabe::scoring::xgb
