// Donor-to-campaign matching, the pure part: given every eligible (donor, campaign) pair with
// its expected net value, choose assignments under the campaigns' capacities and the
// per-donor ask limit, then draw each campaign's random holdout. The database finds the
// eligible pairs (consent, rest period, erasure, scores) and stores the result.
//
// Method (docs/segments.md, "Matching"): greedy by expected value. Pairs are taken in order of
// falling expected value while the campaign has capacity and the donor has asks left. This is
// a b-matching on a bipartite graph; greedy reaches at least half of the optimum in the worst
// case and usually far more. The run also reports an upper bound on the optimum (the smaller
// of the campaigns' and the donors' best possible sums), so the gap of each run is known.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace gabe::segments {

struct Candidate {
  std::int64_t donor_id = 0;
  std::size_t campaign = 0;   // index into the campaigns
  double expected_value = 0;  // cents: score x expected gift - cost per contact, > 0
  std::size_t tag = 0;        // the caller's own reference (e.g. its row), carried along
};

struct Assignment {
  std::int64_t donor_id = 0;
  std::size_t campaign = 0;
  double expected_value = 0;
  std::size_t tag = 0;
  bool holdout = false;
};

struct MatchResult {
  std::vector<Assignment> assignments;  // by campaign, then donor id
  double value = 0;                     // sum of expected values of the assignments (cents)
  double upper_bound = 0;               // no assignment can reach more (cents)
};

// `candidates` need not be sorted; pairs with expected value <= 0 are never taken.
// capacities[c] is campaign c's capacity; every donor gets at most max_asks campaigns.
MatchResult greedy_match(std::vector<Candidate> candidates,
                         const std::vector<std::int64_t>& capacities, std::int64_t max_asks);

// Marks round(fraction x n) of each campaign's n assignments as holdout, chosen by a
// Fisher-Yates draw from a 64-bit Mersenne Twister seeded with `seed` and the campaign's ref,
// over the campaign's assignments in donor-id order: the same run parameters and data give the
// same holdout.
void draw_holdouts(MatchResult& result, const std::vector<std::string>& campaign_refs,
                   double fraction, std::uint64_t seed);

}  // namespace gabe::segments
