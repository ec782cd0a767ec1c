// Reading XGBoost 1.7's JSON model format (XGBoosterSaveModelToBuffer with {"format":"json"}).
// The numbers are parsed with full precision, so every float threshold is the float XGBoost
// wrote (XGBoost writes the shortest representation that reads back to the same float).
#include <charconv>
#include <cmath>
#include <memory>
#include <stdexcept>
#include <string>

#include <rapidjson/document.h>

#include "model.hpp"

namespace gabe::trees {

namespace {

using Value = rapidjson::Value;

[[noreturn]] void fail(const std::string& what) {
  throw std::invalid_argument("XGBoost model: " + what);
}

const Value& member(const Value& object, const char* key) {
  if (!object.IsObject()) fail(std::string("expected an object holding \"") + key + "\"");
  const auto it = object.FindMember(key);
  if (it == object.MemberEnd()) fail(std::string("\"") + key + "\" is missing");
  return it->value;
}

const Value* optional_member(const Value& object, const char* key) {
  const auto it = object.FindMember(key);
  return it == object.MemberEnd() ? nullptr : &it->value;
}

const Value& array(const Value& object, const char* key) {
  const Value& value = member(object, key);
  if (!value.IsArray()) fail(std::string("\"") + key + "\" is not an array");
  return value;
}

// learner_model_param holds numbers as strings ("5E-1", "30").
std::string_view text(const Value& object, const char* key) {
  const Value& value = member(object, key);
  if (!value.IsString()) fail(std::string("\"") + key + "\" is not a string");
  return {value.GetString(), value.GetStringLength()};
}

template <typename T>
T number_in_text(const Value& object, const char* key) {
  const std::string_view digits = text(object, key);
  T result{};
  const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), result);
  if (error != std::errc{} || end != digits.data() + digits.size()) {
    fail(std::string("\"") + key + "\" is not a number");
  }
  return result;
}

template <typename T>
std::vector<T> integers(const Value& tree, const char* key, std::int64_t min, std::int64_t max) {
  const Value& values = array(tree, key);
  std::vector<T> result;
  result.reserve(values.Size());
  for (const Value& value : values.GetArray()) {
    std::int64_t number = 0;
    if (value.IsInt64()) {
      number = value.GetInt64();
    } else if (value.IsBool()) {
      number = value.GetBool() ? 1 : 0;
    } else {
      fail(std::string("\"") + key + "\" holds a value that is not an integer");
    }
    if (number < min || number > max) fail(std::string("\"") + key + "\" is out of range");
    result.push_back(static_cast<T>(number));
  }
  return result;
}

std::vector<float> floats(const Value& tree, const char* key) {
  const Value& values = array(tree, key);
  std::vector<float> result;
  result.reserve(values.Size());
  for (const Value& value : values.GetArray()) {
    if (!value.IsNumber()) fail(std::string("\"") + key + "\" holds a value that is not a number");
    result.push_back(static_cast<float>(value.GetDouble()));
  }
  return result;
}

RawTree read_tree(const Value& tree) {
  if (const Value* types = optional_member(tree, "split_type"); types != nullptr) {
    if (!types->IsArray()) fail("\"split_type\" is not an array");
    for (const Value& type : types->GetArray()) {
      if (!type.IsInt() || type.GetInt() != 0) fail("categorical splits are not supported");
    }
  }
  RawTree raw;
  raw.left = integers<std::int32_t>(tree, "left_children", -1, INT32_MAX);
  raw.right = integers<std::int32_t>(tree, "right_children", -1, INT32_MAX);
  raw.feature = integers<std::uint32_t>(tree, "split_indices", 0, INT32_MAX);
  raw.default_left = integers<std::uint8_t>(tree, "default_left", 0, 1);
  raw.condition = floats(tree, "split_conditions");
  raw.cover = floats(tree, "sum_hessian");
  return raw;
}

// XGBoost keeps base_score as a probability for the logistic objectives and turns it into a
// margin in float arithmetic (ProbToMargin); the same here so the bias is bit for bit XGBoost's.
double base_margin(std::string_view objective, float base_score) {
  if (objective == "binary:logistic" || objective == "reg:logistic" ||
      objective == "binary:logitraw") {
    if (!(base_score > 0.0F && base_score < 1.0F)) fail("base_score must lie in (0, 1)");
    return -std::log(1.0F / base_score - 1.0F);
  }
  if (objective == "reg:squarederror") return base_score;
  fail("objective \"" + std::string(objective) + "\" is not supported");
}

}  // namespace

std::shared_ptr<const Model> read_xgboost_json(std::string_view json) {
  rapidjson::Document document;
  document.Parse<rapidjson::kParseFullPrecisionFlag | rapidjson::kParseIterativeFlag |
                 rapidjson::kParseValidateEncodingFlag>(json.data(), json.size());
  if (document.HasParseError()) fail("not valid JSON");
  const Value& learner = member(document, "learner");
  const Value& parameters = member(learner, "learner_model_param");
  const auto features = number_in_text<std::int64_t>(parameters, "num_feature");
  if (features <= 0 || features > (std::int64_t{1} << 24)) fail("num_feature is out of range");
  if (number_in_text<std::int64_t>(parameters, "num_class") > 1) {
    fail("multi-class models are not supported");
  }
  if (const Value* targets = optional_member(parameters, "num_target");
      targets != nullptr && number_in_text<std::int64_t>(parameters, "num_target") != 1) {
    fail("multi-target models are not supported");
  }
  const Value& objective = member(member(learner, "objective"), "name");
  if (!objective.IsString()) fail("\"objective.name\" is not a string");
  const Value& booster = member(learner, "gradient_booster");
  const Value& booster_name = member(booster, "name");
  if (!booster_name.IsString() || std::string_view(booster_name.GetString()) != "gbtree") {
    fail("only the gbtree booster is supported");
  }
  auto model = std::make_shared<Model>();
  model->feature_count = static_cast<std::size_t>(features);
  model->base_margin =
      base_margin(objective.GetString(), number_in_text<float>(parameters, "base_score"));
  const Value& trees = array(member(booster, "model"), "trees");
  model->bias = model->base_margin;
  model->trees.reserve(trees.Size());
  for (const Value& tree : trees.GetArray()) {
    model->trees.push_back(build_tree(read_tree(tree), model->feature_count));
    model->max_nodes = std::max(model->max_nodes, model->trees.back().nodes.size());
    model->bias += model->trees.back().expected_value;
  }
  return model;
}

}  // namespace gabe::trees
