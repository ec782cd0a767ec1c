#include "results.hpp"

#include <cmath>

#include "gabe/json.hpp"
#include "gabe/values.hpp"

namespace gabe::segments {

double response_rate(const GroupOutcome& g) {
  return g.donors > 0 ? static_cast<double>(g.responders) / static_cast<double>(g.donors) : 0.0;
}

double revenue_per_donor_cents(const GroupOutcome& g) {
  return g.donors > 0 ? static_cast<double>(g.revenue_cents) / static_cast<double>(g.donors) : 0.0;
}

Uplift uplift(const GroupOutcome& treatment, const GroupOutcome& holdout) {
  Uplift u;
  const double pt = response_rate(treatment);
  const double ph = response_rate(holdout);
  u.response_rate = pt - ph;
  double variance = 0;
  if (treatment.donors > 0) variance += pt * (1 - pt) / static_cast<double>(treatment.donors);
  if (holdout.donors > 0) variance += ph * (1 - ph) / static_cast<double>(holdout.donors);
  const double half = 1.959963984540054 * std::sqrt(variance);
  u.ci95 = {u.response_rate - half, u.response_rate + half};
  u.revenue_per_donor_cents = revenue_per_donor_cents(treatment) - revenue_per_donor_cents(holdout);
  return u;
}

std::optional<double> roi(const GroupOutcome& treatment, const GroupOutcome& holdout,
                          std::int64_t cost_cents) {
  if (cost_cents <= 0) return std::nullopt;
  const double incremental =
      uplift(treatment, holdout).revenue_per_donor_cents * static_cast<double>(treatment.donors);
  return (incremental - static_cast<double>(cost_cents)) / static_cast<double>(cost_cents);
}

std::string money_text(double cents) {
  return format_money(static_cast<std::int64_t>(std::llround(cents)));
}

namespace {

// Rates and ratios in the answer carry six decimals: more would be noise, and every JSON
// reader keeps six exactly.
double six_places(double x) {
  return std::round(x * 1e6) / 1e6;
}

void group(JsonWriter& w, const char* name, const GroupOutcome& g) {
  w.key(name)
      .begin_object()
      .field("donors", g.donors)
      .field("responders", g.responders)
      .field("response_rate", six_places(response_rate(g)))
      .field("revenue", format_money(g.revenue_cents))
      .field("revenue_per_donor", money_text(revenue_per_donor_cents(g)))
      .end_object();
}

}  // namespace

std::string results_json(const std::string& campaign_ref, std::int64_t run_id,
                         const GroupOutcome& treatment, const GroupOutcome& holdout,
                         std::int64_t cost_cents) {
  const auto u = uplift(treatment, holdout);
  JsonWriter w;
  w.begin_object().field("campaign_ref", campaign_ref).field("run_id", run_id);
  group(w, "treatment", treatment);
  group(w, "holdout", holdout);
  w.key("uplift")
      .begin_object()
      .field("response_rate", six_places(u.response_rate))
      .key("ci95")
      .begin_array()
      .value(six_places(u.ci95.first))
      .value(six_places(u.ci95.second))
      .end_array()
      .field("revenue_per_donor", money_text(u.revenue_per_donor_cents))
      .end_object();
  auto r = roi(treatment, holdout, cost_cents);
  if (r) r = six_places(*r);
  w.field("cost", format_money(cost_cents)).field("roi", r);
  w.end_object();
  return w.take();
}

}  // namespace gabe::segments
