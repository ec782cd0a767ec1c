// Plain-language reason texts: what a feature's value was and which way it moved the score.
#pragma once

#include <string>

#include "gabe/json.hpp"
#include "gabe/problem.hpp"

namespace gabe::scoring {

// The value as people read it: money "25.00", shares "40 %", days and counts whole, booleans
// yes/no; NaN is "unknown".
std::string reason_value_text(std::size_t feature, float value, Language lang);
// "Spenden in den letzten 365 Tagen: 3 – erhöht die Wahrscheinlichkeit" /
// "Completed gifts in the last 365 days: 3 – raises the likelihood".
std::string reason_text(std::size_t feature, float value, double contribution, Language lang);
// The feature's value for JSON: a number, or null when missing.
void write_feature_value(JsonWriter& w, float value);

}  // namespace gabe::scoring
