// Campaign results (GET /v1/campaigns/{ref}/results): treatment against holdout, the uplift
// with a 95 % confidence interval and the return on the mailing's cost. Pure arithmetic.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

namespace gabe::segments {

struct GroupOutcome {
  std::int64_t donors = 0;
  std::int64_t responders = 0;  // donors with a completed gift to the campaign after assignment
  std::int64_t revenue_cents = 0;
};

struct Uplift {
  double response_rate = 0;              // treatment rate - holdout rate
  std::pair<double, double> ci95{0, 0};  // normal approximation of the difference
  double revenue_per_donor_cents = 0;    // treatment - holdout
};

double response_rate(const GroupOutcome& g);
double revenue_per_donor_cents(const GroupOutcome& g);
// Wald interval for the difference of two proportions:
// d ± 1.96 · sqrt(p_t (1 - p_t) / n_t + p_h (1 - p_h) / n_h); an empty group contributes no
// variance term.
Uplift uplift(const GroupOutcome& treatment, const GroupOutcome& holdout);
// (incremental revenue - cost) / cost, where incremental revenue is the uplift in revenue per
// donor times the treated donors; nullopt when nothing was spent.
std::optional<double> roi(const GroupOutcome& treatment, const GroupOutcome& holdout,
                          std::int64_t cost_cents);

// The whole answer as JSON; rates, interval and ROI rounded to six decimals.
std::string results_json(const std::string& campaign_ref, std::int64_t run_id,
                         const GroupOutcome& treatment, const GroupOutcome& holdout,
                         std::int64_t cost_cents);

// Cents (possibly fractional) as a decimal string with two places, rounded half away from 0.
std::string money_text(double cents);

}  // namespace gabe::segments
