#include "xgb.hpp"

#include <xgboost/c_api.h>

#include <limits>
#include <stdexcept>

namespace gabe::scoring::xgb {

namespace {

void check(int rc) {
  if (rc != 0) throw std::runtime_error(std::string("xgboost: ") + XGBGetLastError());
}

}  // namespace

Matrix::Matrix(const float* rows, std::size_t n, std::size_t columns) {
  check(XGDMatrixCreateFromMat(rows, static_cast<bst_ulong>(n), static_cast<bst_ulong>(columns),
                               std::numeric_limits<float>::quiet_NaN(), &handle_));
}

Matrix::~Matrix() {
  if (handle_) XGDMatrixFree(handle_);
}

void Matrix::set_labels(const std::vector<float>& labels) {
  check(XGDMatrixSetFloatInfo(handle_, "label", labels.data(),
                              static_cast<bst_ulong>(labels.size())));
}

Booster::Booster(const std::vector<const Matrix*>& cache) {
  std::vector<DMatrixHandle> handles;
  handles.reserve(cache.size());
  for (const auto* m : cache) handles.push_back(m->handle());
  check(XGBoosterCreate(handles.data(), static_cast<bst_ulong>(handles.size()), &handle_));
}

Booster Booster::load(std::string_view bytes) {
  Booster b{Empty{}};
  check(XGBoosterCreate(nullptr, 0, &b.handle_));
  check(
      XGBoosterLoadModelFromBuffer(b.handle_, bytes.data(), static_cast<bst_ulong>(bytes.size())));
  return b;
}

Booster::~Booster() {
  if (handle_) XGBoosterFree(handle_);
}

void Booster::set_param(const std::string& name, const std::string& value) {
  check(XGBoosterSetParam(handle_, name.c_str(), value.c_str()));
}

void Booster::update(int iteration, const Matrix& train) {
  check(XGBoosterUpdateOneIter(handle_, iteration, train.handle()));
}

std::string Booster::eval(int iteration, const Matrix& data, const std::string& name) {
  DMatrixHandle handles[] = {data.handle()};
  const char* names[] = {name.c_str()};
  const char* out = nullptr;
  check(XGBoosterEvalOneIter(handle_, iteration, handles, names, 1, &out));
  return out;
}

Booster Booster::slice(int rounds) const {
  Booster b{Empty{}};
  check(XGBoosterSlice(handle_, 0, rounds, 1, &b.handle_));
  return b;
}

std::vector<float> Booster::predict(const Matrix& data, int type) const {
  const std::string config =
      R"({"type": )" + std::to_string(type) +
      R"(, "training": false, "iteration_begin": 0, "iteration_end": 0, "strict_shape": false})";
  const bst_ulong* shape = nullptr;
  bst_ulong dim = 0;
  const float* result = nullptr;
  check(XGBoosterPredictFromDMatrix(handle_, data.handle(), config.c_str(), &shape, &dim, &result));
  std::size_t size = 1;
  for (bst_ulong i = 0; i < dim; ++i) size *= shape[i];
  return {result, result + size};
}

std::string Booster::save(std::string_view format) const {
  const std::string config = R"({"format": ")" + std::string(format) + "\"}";
  bst_ulong len = 0;
  const char* out = nullptr;
  check(XGBoosterSaveModelToBuffer(handle_, config.c_str(), &len, &out));
  return {out, out + len};
}

}  // namespace gabe::scoring::xgb
