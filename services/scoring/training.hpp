// Training a propensity model for a target as of a date, and its model card.
//
// Examples come from rolling cut-offs c_k = as_of - (k + 1) * horizon (k = 0..windows): the
// features of each eligible donor as of c_k, the label from (c_k, c_k + horizon]. Every label
// window ends by as_of, so no data after as_of is read at all. The newest window (k = 0)
// validates and early-stops; the older ones train. Same data, same parameters: the same model,
// byte for byte (fixed seed, fixed thread count, rows in donor order).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

#include <pqxx/pqxx>

#include "dates.hpp"
#include "gabe/targets.hpp"
#include "train_params.hpp"

namespace gabe::scoring {

struct TrainedModel {
  std::string model_bytes;  // XGBoost UBJSON
  std::string sha256_hex;
  std::string card_json;  // the trained part of the card (no status or activation)
  bool fairness_passed = true;
};

// Reads the history in `tx` (give it a repeatable-read snapshot) and trains. `progress` gets
// short phase names; `stop` set ends the training early with an error. Throws std::runtime_error
// with a message for people when the history cannot support a model (too few examples, one class
// only).
TrainedModel train_model(pqxx::transaction_base& tx, const Target& target, Day as_of,
                         const TrainParams& params,
                         const std::function<void(const std::string&)>& progress = {},
                         const std::atomic<bool>* stop = nullptr);

}  // namespace gabe::scoring
