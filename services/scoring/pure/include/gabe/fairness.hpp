// The fairness report of a model card: how the model's selection (its top deciles) falls on
// the groups of the optional audit attributes (gender f/m/d/u, age_band, ...), which are never
// features. Pure arithmetic; scoring gathers the inputs on the validation window.
//
// Per attribute and group: count, positives (label 1), selected (decile <= selected_deciles),
// selection rate = selected / count, true positive rate = selected positives / positives.
// Over the groups with at least min_group_size donors (smaller ones are reported as too small
// and not judged): four-fifths ratio = min selection rate / max selection rate, and
// equal-opportunity difference = max TPR - min TPR (groups without positives have no TPR).
// An attribute passes the four-fifths rule when its ratio is at least `threshold` or when
// fewer than two groups can be judged (then `judged` is false); the report passes when every
// attribute does.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <rapidjson/document.h>

namespace gabe {

// One audit attribute: a group per donor (same order as the scores), nullopt where unknown.
// Donors without a group are counted as `missing`, not as a group.
struct AuditAttribute {
  std::string name;  // "gender", "age_band"
  std::vector<std::optional<std::string>> groups;
};

struct FairnessInput {
  std::vector<double> scores;        // one per donor
  std::vector<std::uint8_t> labels;  // 0/1, same length
  // Deciles 1 (highest scores) .. 10, same length; empty = computed from `scores` with
  // score_deciles().
  std::vector<int> deciles;
  std::vector<AuditAttribute> attributes;
};

struct FairnessOptions {
  int selected_deciles = 2;         // selected = decile <= this (1..10)
  std::size_t min_group_size = 30;  // smaller groups are reported, not judged
  double threshold = 0.8;           // the four-fifths rule
};

struct GroupFairness {
  std::string group;
  std::size_t count = 0;
  std::size_t positives = 0;
  std::size_t selected = 0;
  std::size_t selected_positives = 0;
  bool too_small = false;
  double selection_rate = 0.0;               // selected / count (count > 0 always)
  std::optional<double> true_positive_rate;  // none without positives
};

struct AttributeFairness {
  std::string attribute;
  std::vector<GroupFairness> groups;                   // sorted by group name
  std::size_t missing = 0;                             // donors without a group for this attribute
  bool judged = false;                                 // at least two groups of min_group_size
  std::optional<double> four_fifths_ratio;             // when judged (1.0 if nobody is selected)
  std::optional<double> equal_opportunity_difference;  // when two judged groups have a TPR
  bool passes_four_fifths = true;
};

struct FairnessReport {
  FairnessOptions options;
  std::size_t donors = 0;
  std::vector<AttributeFairness> attributes;
  bool passes_four_fifths = true;
};

// Deciles as PostgreSQL's ntile(10) OVER (ORDER BY score DESC) assigns them, ties broken by
// position (earlier first): decile 1 holds the highest scores; with n % 10 = r the first r
// deciles hold one donor more.
std::vector<int> score_deciles(const std::vector<double>& scores);

// Throws std::invalid_argument when the lengths differ, a label is not 0/1, a decile is
// outside 1..10 or the options are out of range.
FairnessReport fairness_report(const FairnessInput& input, const FairnessOptions& options = {});

// {"selected_deciles", "min_group_size", "threshold", "donors", "passes_four_fifths",
//  "attributes": [{"attribute", "missing", "judged", "four_fifths_ratio" (or null),
//    "equal_opportunity_difference" (or null), "passes_four_fifths",
//    "groups": [{"group", "count", "positives", "selected", "selected_positives",
//                "selection_rate",
//                "true_positive_rate" (or null), "too_small"}]}]}
rapidjson::Value to_json(const FairnessReport& report,
                         rapidjson::Document::AllocatorType& allocator);

}  // namespace gabe
