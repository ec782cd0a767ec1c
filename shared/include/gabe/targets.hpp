// Prediction targets: `give` (a completed gift of at least min_amount in the H days after the
// as-of date) and `lapse` (a donor who gave in the 365 days up to as-of gives nothing in the
// next H days). A target is named <kind>_<H>d[_min<amount>] and is accepted as its name or as
// its JSON object wherever one is given. Scoring writes scores under name(); segments finds
// them by the same name, so both read targets with these functions only.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "gabe/json.hpp"

namespace gabe {

enum class TargetKind { give, lapse };

struct Target {
  TargetKind kind = TargetKind::give;
  int horizon_days = 90;
  std::int64_t min_amount_cents = 0;  // give only

  std::string name() const;
  // {"name", "kind", "horizon_days"[, "min_amount"]}
  std::string to_json() const;
  bool operator==(const Target&) const = default;
};

inline constexpr int kMaxHorizonDays = 730;

// give_90d, lapse_180d, give_90d_min50, give_90d_min12.50; throws a 422 naming `field`.
Target parse_target_name(std::string_view name, std::string_view field = "target");
// A name (string) or an object {"kind", "horizon_days", "min_amount"} (and "name", as to_json
// writes it, which must then agree); throws a 422 naming `field` and any unknown member.
Target parse_target(const JsonValue& value, std::string_view field = "target");
// The member `key` of a request body `object` as a target (parse_target), its errors collected
// in `r` (which reads `object`): "is required" only when `required`.
std::optional<Target> read_target(FieldReader& r, const JsonValue& object,
                                  std::string_view key = "target", bool required = false);
// The target a name stands for, or nullopt: for a name inside a larger one (score.<name>).
std::optional<Target> target_of_name(std::string_view name);

}  // namespace gabe
