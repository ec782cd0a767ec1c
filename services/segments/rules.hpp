// The segment rule language (spec/api.md, gabe-segments): parsing, validation against the
// feature catalogue and the segment attributes, and compiling to one parameterised SQL
// statement. Pure code: no database, so that unit tests and the fuzz target call it directly.
//
// A rule is {"all": [...]}, {"any": [...]}, {"not": <rule>}, {"consent": "<channel>"} or a
// condition {"field", "op", "value"}. Every condition is two-valued: a comparison with a
// missing value (no gift yet, no language, no score) is false, and "not" is its complement.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "gabe/features.hpp"
#include "gabe/json.hpp"
#include "gabe/problem.hpp"

namespace gabe::segments {

// A field a rule may name that is not a shared catalogue entry: the segments service's own
// rollups (for the built-in RFM and lifecycle segments). Scores come as score.<target> and
// decile.<target>.
struct RuleField {
  std::string_view name;
  FeatureType type;
  // The value as SQL over donor.donors d and segments.donor_facts f (LEFT JOINed: a donor
  // without gifts has no facts row, so counts and sums default to 0 here).
  std::string_view sql;
  std::string_view description_en;
};

// Every field a rule may name apart from scores: the catalogue's rule fields and the
// segment attributes. Looked up by name; nullptr when unknown.
const RuleField* find_rule_field(std::string_view name);
// The segment attributes (not in the shared catalogue).
std::span<const RuleField> segment_attributes();
// Whether the compiler has SQL for this catalogue name (a unit test asserts it for every
// rule_field entry of gabe::kRequiredFeatures, so that a new entry fails loudly).
bool is_computable(std::string_view catalogue_name);

struct RuleLimits {
  std::size_t max_depth = 8;         // nesting of all/any/not
  std::size_t max_conditions = 100;  // conditions and consents in one rule
  std::size_t max_list = 1000;       // values of one `in`
  std::size_t max_text = 256;        // bytes of one text value
};

// A rule compiled to SQL. `predicate` is a boolean SQL expression over d, f and one score
// alias per distinct target (s1, s2, …); every value is an element of the text array bound as
// `values_param` (e.g. ($1::text[])[3]::bigint), so nothing from the rule is spliced into SQL
// but the fixed catalogue's expressions. `score_targets` are bound likewise.
struct CompiledRule {
  std::string predicate;
  std::vector<std::string> values;  // the array's elements, in order
  std::vector<std::string> score_targets;
  // What to bind as the text array: the values, then the score targets (member_query joins
  // each target's scores by its element).
  std::vector<std::string> bound_values() const {
    auto all = values;
    all.insert(all.end(), score_targets.begin(), score_targets.end());
    return all;
  }
};

// Parses and validates a rule; throws a 422 Problem whose errors name every bad part by its
// path in the rule (e.g. "rule.all[2].field").
CompiledRule compile_rule(const JsonValue& rule, RuleLimits limits = {},
                          std::string_view values_param = "$1");

// The statement that selects the donor ids of a rule's members: not erased, not merged away,
// not a placeholder, and the predicate true. The values array is `values_param`.
std::string member_query(const CompiledRule& rule, std::string_view values_param = "$1");

}  // namespace gabe::segments
