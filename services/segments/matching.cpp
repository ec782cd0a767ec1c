#include "matching.hpp"

#include <algorithm>
#include <cmath>
#include <random>
#include <unordered_map>

namespace gabe::segments {

namespace {

// Asks per donor: a plain array over the range of donor ids when that is dense enough (a
// database's ids usually are), else a hash map. Millions of lookups per run.
class AskCounter {
 public:
  explicit AskCounter(const std::vector<Candidate>& candidates) {
    if (candidates.empty()) return;
    auto [lo, hi] = std::minmax_element(
        candidates.begin(), candidates.end(),
        [](const Candidate& a, const Candidate& b) { return a.donor_id < b.donor_id; });
    const auto span =
        static_cast<std::uint64_t>(hi->donor_id) - static_cast<std::uint64_t>(lo->donor_id);
    if (span < 4 * candidates.size() + (1U << 20)) {
      base_ = lo->donor_id;
      dense_.assign(span + 1, 0);
    } else {
      sparse_.reserve(candidates.size());
    }
  }
  std::int64_t& operator[](std::int64_t donor) {
    if (!dense_.empty()) return dense_[static_cast<std::size_t>(donor - base_)];
    return sparse_[donor];
  }

 private:
  std::int64_t base_ = 0;
  std::vector<std::int64_t> dense_;
  std::unordered_map<std::int64_t, std::int64_t> sparse_;
};

}  // namespace

MatchResult greedy_match(std::vector<Candidate> candidates,
                         const std::vector<std::int64_t>& capacities, std::int64_t max_asks) {
  MatchResult out;
  std::erase_if(candidates, [&](const Candidate& c) {
    return !(c.expected_value > 0) || c.campaign >= capacities.size();
  });
  // Falling value; ties by donor, then campaign, so that a run is reproducible.
  std::sort(candidates.begin(), candidates.end(), [](const Candidate& a, const Candidate& b) {
    if (a.expected_value != b.expected_value) return a.expected_value > b.expected_value;
    if (a.donor_id != b.donor_id) return a.donor_id < b.donor_id;
    return a.campaign < b.campaign;
  });

  // Upper bound: each campaign's best `capacity` values, and each donor's best `max_asks`
  // values; the optimum is below both sums. Only each campaign's best `total capacity` pairs
  // count: no plan needs a pair further down (of the donors above it, at most total capacity
  // minus this campaign's can be busy elsewhere, so swapping one in is never worse), and
  // leaving the rest out keeps the donors' bound tight.
  {
    std::vector<std::int64_t> left(capacities);
    std::int64_t total_capacity = 0;
    for (const auto cap : capacities) total_capacity += cap;
    std::vector<std::int64_t> rank(capacities.size(), 0);
    double campaign_bound = 0;
    AskCounter asks(candidates);
    double donor_bound = 0;
    for (const auto& c : candidates) {
      if (rank[c.campaign]++ >= total_capacity) continue;
      if (left[c.campaign] > 0) {
        --left[c.campaign];
        campaign_bound += c.expected_value;
      }
      if (auto& n = asks[c.donor_id]; n < max_asks) {
        ++n;
        donor_bound += c.expected_value;
      }
    }
    out.upper_bound = std::min(campaign_bound, donor_bound);
  }

  std::vector<std::int64_t> left(capacities);
  AskCounter asks(candidates);
  for (const auto& c : candidates) {
    if (left[c.campaign] <= 0) continue;
    auto& n = asks[c.donor_id];
    if (n >= max_asks) continue;
    ++n;
    --left[c.campaign];
    out.assignments.push_back({c.donor_id, c.campaign, c.expected_value, c.tag, false});
    out.value += c.expected_value;
  }
  std::sort(out.assignments.begin(), out.assignments.end(),
            [](const Assignment& a, const Assignment& b) {
              if (a.campaign != b.campaign) return a.campaign < b.campaign;
              return a.donor_id < b.donor_id;
            });
  return out;
}

namespace {

// FNV-1a: a stable hash of the campaign ref (std::hash may differ between builds).
std::uint64_t fnv1a(const std::string& s) {
  std::uint64_t h = 14695981039346656037ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

}  // namespace

void draw_holdouts(MatchResult& result, const std::vector<std::string>& campaign_refs,
                   double fraction, std::uint64_t seed) {
  auto& a = result.assignments;
  std::size_t begin = 0;
  while (begin < a.size()) {
    std::size_t end = begin;
    while (end < a.size() && a[end].campaign == a[begin].campaign) ++end;
    const std::size_t n = end - begin;
    const auto k = static_cast<std::size_t>(std::llround(fraction * static_cast<double>(n)));
    const auto& ref = campaign_refs.at(a[begin].campaign);
    std::mt19937_64 rng(seed ^ fnv1a(ref));
    // Partial Fisher-Yates over positions: the first k drawn are the holdout. The modulo's
    // bias is below 2^-40 for any realistic n.
    std::vector<std::size_t> order(n);
    for (std::size_t i = 0; i < n; ++i) order[i] = i;
    for (std::size_t i = 0; i < k; ++i) {
      const std::size_t j = i + static_cast<std::size_t>(rng() % (n - i));
      std::swap(order[i], order[j]);
      a[begin + order[i]].holdout = true;
    }
    begin = end;
  }
}

}  // namespace gabe::segments
