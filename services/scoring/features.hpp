// The model features of one donor as of a date, from the donor's history: pure code, no
// database (history.cpp streams the history in). Only events on or before the as-of date are
// read, so a feature never sees the future.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dates.hpp"
#include "gabe/features.hpp"
#include "gabe/targets.hpp"

namespace gabe::scoring {

struct GiftRecord {
  Day day = 0;
  std::int64_t cents = 0;
  std::uint8_t flags = 0;  // kOnline | kCampaign | kRecurring
  static constexpr std::uint8_t kOnline = 1;
  static constexpr std::uint8_t kCampaign = 2;
  static constexpr std::uint8_t kRecurring = 4;
};

// A recurring commitment as far as it can be known as of a date: active from started_on until
// cancelled_on; a paused/lapsed/cancelled status counts only from the day it was recorded.
struct RecurringRecord {
  std::int64_t monthly_cents = 0;
  Day started = INT32_MIN;     // unknown start: from the beginning
  Day cancelled = INT32_MAX;   // not cancelled
  Day status_day = INT32_MAX;  // day the current status was recorded
  bool status_active = true;
};

struct DonorHistory {
  std::int64_t donor_id = 0;
  std::span<const GiftRecord> gifts;  // completed, sorted by day
  std::span<const Day> appeals;       // sorted
  std::span<const RecurringRecord> recurring;
};

// The model's input columns, in order: the catalogue entries marked model_feature.
const std::vector<const FeatureInfo*>& model_features();
std::size_t feature_count();
// Index of a model feature by name, or -1.
int feature_index(std::string_view name);

// Writes feature_count() values (NaN = missing) for the donor as of `as_of`.
void compute_features(const DonorHistory& donor, Day as_of, float* out);

// Whether the donor belongs to the target's population as of `as_of`: at least one completed
// gift on or before it (give), or one in the 365 days up to it (lapse).
bool eligible(const DonorHistory& donor, const Target& target, Day as_of);
// The label of the window (as_of, as_of + horizon]: give = a gift of at least min_amount in
// it, lapse = no gift in it.
bool label(const DonorHistory& donor, const Target& target, Day as_of);

}  // namespace gabe::scoring
