#include "features.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace gabe::scoring {

namespace {

constexpr float kMissing = std::numeric_limits<float>::quiet_NaN();

std::vector<const FeatureInfo*> build_model_features() {
  std::vector<const FeatureInfo*> out;
  for (const auto& f : kRequiredFeatures)
    if (f.model_feature) out.push_back(&f);
  for (const auto& f : kBehaviouralFeatures)
    if (f.model_feature) out.push_back(&f);
  return out;
}

// Column positions, checked against the catalogue once (model_features()).
enum Column : std::size_t {
  gift_count,
  gift_count_365d,
  gift_amount_total,
  gift_amount_365d,
  largest_gift,
  last_gift_amount,
  days_since_last_gift,
  recurring_active,
  recurring_monthly_amount,
  days_since_first_gift,
  gift_count_90d,
  gift_count_prev_365d,
  gift_amount_prev_365d,
  mean_gift_amount,
  mean_interval_days,
  interval_regularity,
  days_overdue,
  december_gift_share,
  active_years,
  recurring_gift_share,
  online_gift_share,
  campaign_gift_share,
  appeals_365d,
  appeal_response_rate_365d,
  column_count
};

constexpr const char* kColumnNames[] = {"gift_count",
                                        "gift_count_365d",
                                        "gift_amount_total",
                                        "gift_amount_365d",
                                        "largest_gift",
                                        "last_gift_amount",
                                        "days_since_last_gift",
                                        "recurring_active",
                                        "recurring_monthly_amount",
                                        "days_since_first_gift",
                                        "gift_count_90d",
                                        "gift_count_prev_365d",
                                        "gift_amount_prev_365d",
                                        "mean_gift_amount",
                                        "mean_interval_days",
                                        "interval_regularity",
                                        "days_overdue",
                                        "december_gift_share",
                                        "active_years",
                                        "recurring_gift_share",
                                        "online_gift_share",
                                        "campaign_gift_share",
                                        "appeals_365d",
                                        "appeal_response_rate_365d"};

// Gifts on or before as_of: the prefix of the sorted list.
std::span<const GiftRecord> known_gifts(const DonorHistory& d, Day as_of) {
  auto end = std::upper_bound(d.gifts.begin(), d.gifts.end(), as_of,
                              [](Day day, const GiftRecord& g) { return day < g.day; });
  return d.gifts.first(static_cast<std::size_t>(end - d.gifts.begin()));
}

}  // namespace

const std::vector<const FeatureInfo*>& model_features() {
  static const auto features = [] {
    auto f = build_model_features();
    // The computation below writes columns by position: the catalogue must list exactly these.
    if (f.size() != column_count) throw std::logic_error("model feature catalogue mismatch");
    for (std::size_t i = 0; i < f.size(); ++i)
      if (f[i]->name != kColumnNames[i]) throw std::logic_error("model feature catalogue order");
    return f;
  }();
  return features;
}

std::size_t feature_count() {
  return column_count;
}

int feature_index(std::string_view name) {
  const auto& f = model_features();
  for (std::size_t i = 0; i < f.size(); ++i)
    if (f[i]->name == name) return static_cast<int>(i);
  return -1;
}

void compute_features(const DonorHistory& donor, Day as_of, float* out) {
  std::fill(out, out + column_count, kMissing);
  const auto gifts = known_gifts(donor, as_of);
  const Day since365 = as_of - 364;
  const Day since90 = as_of - 89;
  const Day since730 = as_of - 729;
  std::int64_t count = 0, count365 = 0, count90 = 0, count_prev = 0;
  std::int64_t sum = 0, sum365 = 0, sum_prev = 0, largest = 0;
  std::int64_t december = 0, online = 0, campaign = 0, recurring = 0, campaign365 = 0, years = 0;
  int last_year = INT32_MIN;
  double interval_sum = 0, interval_sq = 0;
  for (std::size_t i = 0; i < gifts.size(); ++i) {
    const auto& g = gifts[i];
    ++count;
    sum += g.cents;
    largest = std::max(largest, g.cents);
    if (g.day >= since365) {
      ++count365;
      sum365 += g.cents;
      if (g.flags & GiftRecord::kCampaign) ++campaign365;
    } else if (g.day >= since730) {
      ++count_prev;
      sum_prev += g.cents;
    }
    if (g.day >= since90) ++count90;
    if (month_of(g.day) == 12) ++december;
    if (g.flags & GiftRecord::kOnline) ++online;
    if (g.flags & GiftRecord::kCampaign) ++campaign;
    if (g.flags & GiftRecord::kRecurring) ++recurring;
    if (const int y = year_of(g.day); y != last_year) {
      ++years;
      last_year = y;
    }
    if (i > 0) {
      const double d = gifts[i].day - gifts[i - 1].day;
      interval_sum += d;
      interval_sq += d * d;
    }
  }
  const auto eur = [](std::int64_t cents) {
    return static_cast<float>(static_cast<double>(cents) / 100.0);
  };
  out[gift_count] = static_cast<float>(count);
  out[gift_count_365d] = static_cast<float>(count365);
  out[gift_amount_total] = eur(sum);
  out[gift_amount_365d] = eur(sum365);
  out[gift_count_90d] = static_cast<float>(count90);
  out[gift_count_prev_365d] = static_cast<float>(count_prev);
  out[gift_amount_prev_365d] = eur(sum_prev);
  out[active_years] = static_cast<float>(years);
  if (count > 0) {
    out[largest_gift] = eur(largest);
    out[last_gift_amount] = eur(gifts.back().cents);
    out[days_since_last_gift] = static_cast<float>(as_of - gifts.back().day);
    out[days_since_first_gift] = static_cast<float>(as_of - gifts.front().day);
    out[mean_gift_amount] =
        static_cast<float>(static_cast<double>(sum) / 100.0 / static_cast<double>(count));
    const auto n = static_cast<double>(count);
    out[december_gift_share] = static_cast<float>(static_cast<double>(december) / n);
    out[recurring_gift_share] = static_cast<float>(static_cast<double>(recurring) / n);
    out[online_gift_share] = static_cast<float>(static_cast<double>(online) / n);
    out[campaign_gift_share] = static_cast<float>(static_cast<double>(campaign) / n);
  }
  if (count >= 2) {
    const double intervals = static_cast<double>(count - 1);
    const double mean = interval_sum / intervals;
    out[mean_interval_days] = static_cast<float>(mean);
    out[days_overdue] = static_cast<float>(static_cast<double>(as_of - gifts.back().day) - mean);
    if (count >= 3 && mean > 0) {
      const double var = std::max(0.0, interval_sq / intervals - mean * mean);
      out[interval_regularity] = static_cast<float>(std::sqrt(var) / mean);
    }
  }
  bool active = false;
  std::int64_t monthly = 0;
  for (const auto& r : donor.recurring) {
    const bool stopped_by_status = !r.status_active && r.status_day <= as_of;
    if (r.started <= as_of && r.cancelled > as_of && !stopped_by_status) {
      active = true;
      monthly += r.monthly_cents;
    }
  }
  out[recurring_active] = active ? 1.0F : 0.0F;
  out[recurring_monthly_amount] = eur(monthly);
  const auto a_begin = std::lower_bound(donor.appeals.begin(), donor.appeals.end(), since365);
  const auto a_end = std::upper_bound(donor.appeals.begin(), donor.appeals.end(), as_of);
  const auto appeals = a_end > a_begin ? a_end - a_begin : 0;
  out[appeals_365d] = static_cast<float>(appeals);
  if (appeals > 0)
    out[appeal_response_rate_365d] =
        static_cast<float>(static_cast<double>(campaign365) / static_cast<double>(appeals));
}

bool eligible(const DonorHistory& donor, const Target& target, Day as_of) {
  const auto gifts = known_gifts(donor, as_of);
  if (gifts.empty()) return false;
  if (target.kind == TargetKind::lapse) return gifts.back().day >= as_of - 364;
  return true;
}

bool label(const DonorHistory& donor, const Target& target, Day as_of) {
  const Day end = as_of + target.horizon_days;
  bool gave = false;
  for (auto it = known_gifts(donor, as_of).end(); it != donor.gifts.end() && it->day <= end; ++it) {
    if (target.kind == TargetKind::lapse || it->cents >= target.min_amount_cents) {
      gave = true;
      break;
    }
  }
  return target.kind == TargetKind::give ? gave : !gave;
}

}  // namespace gabe::scoring
