#include "reasons.hpp"

#include <cmath>
#include <cstdio>

#include "features.hpp"

namespace gabe::scoring {

std::string reason_value_text(std::size_t feature, float value, Language lang) {
  const bool de = lang == Language::de;
  if (std::isnan(value)) return de ? "unbekannt" : "unknown";
  const auto& info = *model_features().at(feature);
  char buf[64];
  switch (info.type) {
    case FeatureType::money:
      std::snprintf(buf, sizeof buf, "%.2f EUR", static_cast<double>(value));
      if (de)
        for (char& c : buf)
          if (c == '.') c = ',';
      return buf;
    case FeatureType::boolean:
      return value != 0 ? (de ? "ja" : "yes") : (de ? "nein" : "no");
    case FeatureType::days:
      std::snprintf(buf, sizeof buf, "%.0f %s", static_cast<double>(value), de ? "Tage" : "days");
      return buf;
    default:
      break;
  }
  if (info.unit == "share") {
    std::snprintf(buf, sizeof buf, "%.0f %%", static_cast<double>(value) * 100);
    return buf;
  }
  if (info.unit == "count") {
    std::snprintf(buf, sizeof buf, "%.0f", static_cast<double>(value));
    return buf;
  }
  std::snprintf(buf, sizeof buf, "%.2f", static_cast<double>(value));
  if (de)
    for (char& c : buf)
      if (c == '.') c = ',';
  return buf;
}

std::string reason_text(std::size_t feature, float value, double contribution, Language lang) {
  const auto& info = *model_features().at(feature);
  const bool de = lang == Language::de;
  std::string text(de ? info.description_de : info.description_en);
  text += ": " + reason_value_text(feature, value, lang) + " – ";
  if (contribution >= 0)
    text += de ? "erhöht die Wahrscheinlichkeit" : "raises the likelihood";
  else
    text += de ? "senkt die Wahrscheinlichkeit" : "lowers the likelihood";
  return text;
}

void write_feature_value(JsonWriter& w, float value) {
  if (std::isnan(value)) {
    w.null();
  } else {
    w.value(static_cast<double>(value));
  }
}

}  // namespace gabe::scoring
