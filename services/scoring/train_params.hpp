// Training parameters: the defaults a non-data-scientist never needs to touch, and the checked
// overrides of POST /v1/models and gabe-scoring train --params (outside input: fuzzed).
#pragma once

#include <cstdint>
#include <string>

#include "gabe/json.hpp"

namespace gabe::scoring {

struct TrainParams {
  int max_depth = 4;
  double eta = 0.1;
  int max_rounds = 300;
  int early_stopping_rounds = 20;
  double min_child_weight = 5;
  double subsample = 0.8;
  double colsample_bytree = 1.0;
  double lambda = 1.0;
  int seed = 42;
  int nthread = 2;
  int windows = 4;  // training cut-offs (the validation window comes on top)
  std::int64_t max_training_rows = 500000;

  // The defaults with the given fields replaced; throws a 422 naming every bad field.
  static TrainParams from_json(const JsonValue* params);
  std::string to_json() const;
};

}  // namespace gabe::scoring
