// Placeholder until the implementation lands: the contract links, every call throws.
#include <stdexcept>

#include "gabe/trees.hpp"

namespace gabe::trees {

struct Model {};

namespace {
[[noreturn]] void not_yet() {
  throw std::logic_error("gabe_trees: not implemented yet");
}
}  // namespace

Forest::Forest(std::shared_ptr<const Model> model) : model_(std::move(model)) {}
Forest Forest::from_xgboost_json(std::string_view /*json*/) {
  not_yet();
}
std::size_t Forest::feature_count() const {
  not_yet();
}
double Forest::base_margin() const {
  not_yet();
}
void Forest::predict_margin(const float* /*rows*/, std::size_t /*n*/, double* /*out*/) const {
  not_yet();
}
void Forest::contributions(const float* /*rows*/, std::size_t /*n*/, double* /*out*/) const {
  not_yet();
}
void Forest::top_reasons(const float* /*rows*/, std::size_t /*n*/, std::size_t /*k*/,
                         Reason* /*reasons*/, double* /*margins*/) const {
  not_yet();
}

}  // namespace gabe::trees
