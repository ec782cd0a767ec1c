#include "train_params.hpp"

#include <cstdio>
#include <vector>

namespace gabe::scoring {

namespace {

std::string fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

}  // namespace

TrainParams TrainParams::from_json(const JsonValue* params) {
  TrainParams p;
  if (params == nullptr) return p;
  if (!params->IsObject())
    throw unprocessable("The request contains invalid fields.", {{"params", "must be an object"}});
  FieldReader r(*params, "params.");
  const auto real = [&](std::string_view key, double min, double max, double& out) {
    const auto* v = member(*params, key);
    if (v == nullptr) return;
    if (!v->IsNumber() || v->GetDouble() < min || v->GetDouble() > max) {
      r.add_error(key, "must be a number from " + fmt(min) + " to " + fmt(max));
      return;
    }
    out = v->GetDouble();
  };
  const auto whole = [&](std::string_view key, std::int64_t min, std::int64_t max, auto& out) {
    if (auto v = r.integer(key, false, min, max))
      out = static_cast<std::remove_reference_t<decltype(out)>>(*v);
  };
  r.refuse_unknown({"max_depth", "eta", "max_rounds", "early_stopping_rounds", "min_child_weight",
                    "subsample", "colsample_bytree", "lambda", "seed", "nthread", "windows",
                    "max_training_rows"});
  whole("max_depth", 1, 10, p.max_depth);
  real("eta", 0.001, 1, p.eta);
  whole("max_rounds", 1, 2000, p.max_rounds);
  whole("early_stopping_rounds", 1, 500, p.early_stopping_rounds);
  real("min_child_weight", 0, 1000, p.min_child_weight);
  real("subsample", 0.1, 1, p.subsample);
  real("colsample_bytree", 0.1, 1, p.colsample_bytree);
  real("lambda", 0, 1000, p.lambda);
  whole("seed", 0, 2147483647, p.seed);
  whole("nthread", 1, 64, p.nthread);
  whole("windows", 1, 24, p.windows);
  whole("max_training_rows", 1000, 20000000, p.max_training_rows);
  r.throw_if_errors();
  return p;
}

std::string TrainParams::to_json() const {
  JsonWriter w;
  w.begin_object()
      .field("max_depth", max_depth)
      .field("eta", eta)
      .field("max_rounds", max_rounds)
      .field("early_stopping_rounds", early_stopping_rounds)
      .field("min_child_weight", min_child_weight)
      .field("subsample", subsample)
      .field("colsample_bytree", colsample_bytree)
      .field("lambda", lambda)
      .field("seed", seed)
      .field("nthread", nthread)
      .field("windows", windows)
      .field("max_training_rows", max_training_rows)
      .end_object();
  return w.take();
}

}  // namespace gabe::scoring
