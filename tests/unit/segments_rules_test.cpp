// The segments domain without a database: the rule compiler against the catalogue, matching,
// holdouts, the results arithmetic and CSV quoting.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>

#include "csv.hpp"
#include "gabe/features.hpp"
#include "gabe/json.hpp"
#include "gabe/text.hpp"
#include "matching.hpp"
#include "results.hpp"
#include "rules.hpp"
#include "settings.hpp"

namespace gabe::segments {
namespace {

CompiledRule compile(const std::string& text) {
  auto doc = parse_json(text);
  return compile_rule(*doc);
}

std::vector<FieldError> errors_of(const std::string& text) {
  try {
    compile(text);
  } catch (const Problem& p) {
    EXPECT_EQ(p.status(), 422);
    return p.errors();
  }
  ADD_FAILURE() << "compiled: " << text;
  return {};
}

bool has_error(const std::vector<FieldError>& errors, const std::string& field,
               const std::string& fragment) {
  return std::any_of(errors.begin(), errors.end(), [&](const FieldError& e) {
    return e.field == field && e.message.find(fragment) != std::string::npos;
  });
}

TEST(SegmentRules, EveryCatalogueRuleFieldIsComputable) {
  // A rule field the scoring engineer adds to the catalogue must get SQL here first.
  for (const auto& f : kRequiredFeatures) {
    if (!f.rule_field) continue;
    EXPECT_TRUE(is_computable(f.name)) << f.name << " has no SQL in services/segments/rules.cpp";
    ASSERT_NE(find_rule_field(f.name), nullptr) << f.name;
    EXPECT_EQ(find_rule_field(f.name)->type, f.type) << f.name;
  }
}

TEST(FeatureTypes, HaveTheNamesBothCataloguesAnswer) {
  // GET /v1/features of scoring and of segments write these; clients match on them.
  EXPECT_EQ(feature_type_name(FeatureType::number), "number");
  EXPECT_EQ(feature_type_name(FeatureType::money), "money");
  EXPECT_EQ(feature_type_name(FeatureType::date), "date");
  EXPECT_EQ(feature_type_name(FeatureType::days), "days");
  EXPECT_EQ(feature_type_name(FeatureType::boolean), "boolean");
  EXPECT_EQ(feature_type_name(FeatureType::text), "text");
  EXPECT_EQ(feature_type_name(FeatureType::text_list), "text_list");
}

TEST(SegmentRules, NoProtectedAttributeIsARuleField) {
  for (auto name : kNeverFeatures) EXPECT_EQ(find_rule_field(name), nullptr) << name;
  for (const auto& f : segment_attributes())
    for (auto never : kNeverFeatures) EXPECT_NE(f.name, never);
}

TEST(SegmentRules, ValuesAreBoundNeverSpliced) {
  auto r = compile(
      R"({"all": [{"field": "language", "op": "=", "value": "de'); DROP TABLE donor.donors; --"},
                  {"field": "gift_amount_365d", "op": ">=", "value": "100.00"},
                  {"consent": "post"}]})");
  ASSERT_EQ(r.values.size(), 3u);
  EXPECT_EQ(r.values[0], "de'); DROP TABLE donor.donors; --");
  EXPECT_EQ(r.values[1], "10000");  // cents
  EXPECT_EQ(r.values[2], "post");
  const auto sql = member_query(r);
  EXPECT_EQ(sql.find("DROP"), std::string::npos);
  EXPECT_EQ(sql.find('\''), std::string::npos);
  EXPECT_NE(sql.find("(($1::text[])[2])::bigint"), std::string::npos);
}

TEST(SegmentRules, ScoreTargetsAreBoundAfterTheValues) {
  auto r = compile(R"({"all": [{"field": "score.give_90d", "op": ">", "value": 0.5},
                               {"field": "decile.give_90d", "op": "<=", "value": 2},
                               {"field": "decile.lapse_180d", "op": "=", "value": 1}]})");
  ASSERT_EQ(r.score_targets, (std::vector<std::string>{"give_90d", "lapse_180d"}));
  const auto bound = r.bound_values();
  ASSERT_EQ(bound.size(), 5u);
  EXPECT_EQ(bound[3], "give_90d");
  const auto sql = member_query(r);
  EXPECT_NE(sql.find("s1.target = (($1::text[])[4])"), std::string::npos) << sql;
  EXPECT_NE(sql.find("s2.target = (($1::text[])[5])"), std::string::npos) << sql;
}

TEST(SegmentRules, EveryOperatorCompilesForItsKindOfField) {
  for (const char* rule : {
           R"({"field": "gift_count", "op": "=", "value": 3})",
           R"({"field": "gift_count", "op": "!=", "value": 3})",
           R"({"field": "gift_count", "op": "<", "value": 3})",
           R"({"field": "gift_count", "op": "<=", "value": 3})",
           R"({"field": "gift_count", "op": ">", "value": 3})",
           R"({"field": "gift_count", "op": ">=", "value": 3})",
           R"({"field": "gift_count", "op": "in", "value": [1, 2]})",
           R"({"field": "gift_count", "op": "between", "value": [1, 2]})",
           R"({"field": "largest_gift", "op": "exists"})",
           R"({"field": "largest_gift", "op": "exists", "value": false})",
           R"({"field": "tags", "op": "contains", "value": "major"})",
           R"({"field": "tags", "op": "in", "value": ["a", "b"]})",
           R"({"field": "language", "op": "in", "value": ["de"]})",
           R"({"field": "recurring_active", "op": "!=", "value": true})",
           R"({"field": "last_gift_on", "op": "between", "value": ["2025-01-01", "2025-12-31"]})",
           R"({"field": "gift_amount_total", "op": ">", "value": 99.5})",
           R"({"all": []})",
           R"({"any": []})",
       }) {
    EXPECT_NO_THROW(compile(rule)) << rule;
  }
}

TEST(SegmentRules, UnknownFieldsBadOperatorsAndWrongTypesAreNamed) {
  auto e = errors_of(R"({"all": [{"field": "gender", "op": "=", "value": "f"},
                                 {"field": "gift_count", "op": "~", "value": 1},
                                 {"field": "gift_count", "op": "=", "value": "many"},
                                 {"field": "tags", "op": ">", "value": "x"},
                                 {"field": "score.Give", "op": ">", "value": 0.5},
                                 {"field": "score.give_90d", "op": ">", "value": 1.5},
                                 {"field": "first_gift_on", "op": "=", "value": "2025-02-30"},
                                 {"consent": "fax"},
                                 {"field": "gift_count", "op": "between", "value": [5, 1]},
                                 {"field": "gift_count", "op": "in", "value": []},
                                 {"field": "gift_count", "op": "=", "value": 1, "extra": 1},
                                 {"any": [], "all": []},
                                 {"field": "gift_amount_total", "op": "=", "value": 1.999}]})");
  EXPECT_TRUE(has_error(e, "rule.all[0].field", "unknown field 'gender'"));
  EXPECT_TRUE(has_error(e, "rule.all[1].op", "'~' is not an operator"));
  EXPECT_TRUE(has_error(e, "rule.all[2].value", "whole number"));
  EXPECT_TRUE(has_error(e, "rule.all[3].op", "is not an operator for tags"));
  EXPECT_TRUE(has_error(e, "rule.all[4].field", "unknown field"));
  EXPECT_TRUE(has_error(e, "rule.all[5].value", "0 to 1"));
  EXPECT_TRUE(has_error(e, "rule.all[6].value", "date"));
  EXPECT_TRUE(has_error(e, "rule.all[7].consent", "email, post"));
  EXPECT_TRUE(has_error(e, "rule.all[8].value", "low must not be above high"));
  EXPECT_TRUE(has_error(e, "rule.all[9].value", "non-empty list"));
  EXPECT_TRUE(has_error(e, "rule.all[10].extra", "is not a field of this request"));
  EXPECT_TRUE(has_error(e, "rule.all[11]", "exactly one"));
  EXPECT_TRUE(has_error(e, "rule.all[12].value", "amount"));
  EXPECT_EQ(e.size(), 13u);
}

TEST(SegmentRules, DepthAndSizeAreLimited) {
  std::string deep = R"({"consent": "post"})";
  for (int i = 0; i < 8; ++i) deep.insert(0, R"({"not": )").append("}");
  auto e = errors_of(deep);
  ASSERT_FALSE(e.empty());
  EXPECT_NE(e[0].message.find("nests deeper"), std::string::npos);

  std::string many = R"({"any": [)";
  for (int i = 0; i < 101; ++i) many += std::string(i ? "," : "") + R"({"consent": "post"})";
  many += "]}";
  e = errors_of(many);
  EXPECT_TRUE(has_error(e, "rule.any[100]", "more than 100 conditions"));

  std::string long_text(300, 'x');
  e = errors_of(R"({"field": "language", "op": "=", "value": ")" + long_text + "\"}");
  EXPECT_TRUE(has_error(e, "rule.value", "longer than 256"));
  e = errors_of(R"({"field": "language", "op": "=", "value": "a\u0000b"})");
  EXPECT_TRUE(has_error(e, "rule.value", "NUL"));
  e = errors_of(R"(["not", "an", "object"])");
  EXPECT_TRUE(has_error(e, "rule", "must be an object"));
}

TEST(SegmentRules, EchoedNamesAreCutBetweenCharacters) {
  const auto e = errors_of(R"({"field": ")" + std::string(79, 'f') + R"(\u00e9", "op": "="})");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_TRUE(is_valid_utf8(e[0].message)) << e[0].message;
}

TEST(SegmentRules, ScoreFieldsNameTargetsAsScoringDoes) {
  // The name scoring writes its scores under (gabe/targets.hpp), with a fractional minimum.
  auto r = compile(R"({"all": [{"field": "score.give_90d_min12.50", "op": ">", "value": 0.5},
                               {"field": "decile.give_90d_min50", "op": "=", "value": 1}]})");
  EXPECT_EQ(r.score_targets, (std::vector<std::string>{"give_90d_min12.50", "give_90d_min50"}));
  for (const char* bad : {"score.give_90d_min12_50", "score.lapse_9999d", "score.foo_90d",
                          "decile.give_731d", "score.give_90d_min50.00", "score.lapse_90d_min5"}) {
    const auto e = errors_of(R"({"field": ")" + std::string(bad) + R"(", "op": ">", "value": 1})");
    EXPECT_TRUE(has_error(e, "rule.field", "unknown field")) << bad;
  }
}

// Brute force: the best value of any assignment, for small cases.
double optimum(const std::vector<Candidate>& cands, const std::vector<std::int64_t>& caps,
               std::int64_t max_asks) {
  double best = 0;
  const std::size_t n = cands.size();
  for (std::size_t mask = 0; mask < (1u << n); ++mask) {
    std::vector<std::int64_t> used(caps.size(), 0);
    std::map<std::int64_t, std::int64_t> asks;
    std::set<std::pair<std::int64_t, std::size_t>> pairs;
    double v = 0;
    bool ok = true;
    for (std::size_t i = 0; i < n && ok; ++i) {
      if (!(mask & (1u << i))) continue;
      const auto& c = cands[i];
      ok = ++used[c.campaign] <= caps[c.campaign] && ++asks[c.donor_id] <= max_asks &&
           pairs.insert({c.donor_id, c.campaign}).second && c.expected_value > 0;
      v += c.expected_value;
    }
    if (ok) best = std::max(best, v);
  }
  return best;
}

TEST(SegmentMatching, GreedyRespectsCapacityAndAsksAndStaysWithinItsBound) {
  std::vector<Candidate> cands{{1, 0, 10}, {1, 1, 9}, {2, 0, 8},  {2, 1, 1},
                               {3, 0, 7},  {3, 1, 6}, {4, 1, -2}, {5, 0, 0}};
  const std::vector<std::int64_t> caps{1, 2};
  auto r = greedy_match(cands, caps, 1);
  std::map<std::size_t, int> per_campaign;
  std::map<std::int64_t, int> per_donor;
  for (const auto& a : r.assignments) {
    ++per_campaign[a.campaign];
    ++per_donor[a.donor_id];
    EXPECT_GT(a.expected_value, 0);
  }
  EXPECT_EQ(per_campaign[0], 1);
  EXPECT_EQ(per_campaign[1], 2);
  for (const auto& [d, n] : per_donor) EXPECT_EQ(n, 1) << d;
  // Greedy: donor 1 -> campaign 0 (10), donor 3 -> 1 (6), donor 2 -> 1 (1) = 17.
  EXPECT_DOUBLE_EQ(r.value, 17);
  const double best = optimum(cands, caps, 1);
  EXPECT_DOUBLE_EQ(best, 23);  // 2 -> 0 (8), 1 -> 1 (9), 3 -> 1 (6)
  EXPECT_LE(r.value, best);
  EXPECT_GE(r.upper_bound, best);
  EXPECT_GE(r.value, best / 2);  // the greedy guarantee
}

TEST(SegmentMatching, MoreAsksPerDonorAreUsed) {
  std::vector<Candidate> cands{{1, 0, 5}, {1, 1, 4}, {1, 2, 3}, {2, 0, 1}};
  auto r = greedy_match(cands, {5, 5, 5}, 2);
  EXPECT_EQ(r.assignments.size(), 3u);  // donor 1 twice, donor 2 once
  EXPECT_DOUBLE_EQ(r.value, 10);
  EXPECT_DOUBLE_EQ(r.upper_bound, optimum(cands, {5, 5, 5}, 2));
}

TEST(SegmentMatching, RandomCasesNeverBreakTheConstraintsOrTheBound) {
  std::mt19937 rng(7);
  for (int round = 0; round < 200; ++round) {
    std::vector<Candidate> cands;
    std::set<std::pair<std::int64_t, std::size_t>> seen;
    const std::size_t campaigns = 1 + rng() % 3;
    while (cands.size() < 10) {
      Candidate c{static_cast<std::int64_t>(1 + rng() % 5), rng() % campaigns,
                  static_cast<double>(rng() % 100) - 10};
      if (seen.insert({c.donor_id, c.campaign}).second) cands.push_back(c);
      if (seen.size() >= 5 * campaigns) break;
    }
    std::vector<std::int64_t> caps;
    for (std::size_t k = 0; k < campaigns; ++k)
      caps.push_back(static_cast<std::int64_t>(1 + rng() % 3));
    const auto asks = static_cast<std::int64_t>(1 + rng() % 2);
    auto r = greedy_match(cands, caps, asks);
    const double best = optimum(cands, caps, asks);
    EXPECT_LE(r.value, best + 1e-9);
    EXPECT_GE(r.upper_bound + 1e-9, best);
    EXPECT_GE(r.value + 1e-9, best / 2);
  }
}

TEST(SegmentMatching, SparseDonorIdsGiveTheSameChoice) {
  // Dense ids count asks in an array, ids spread far apart in a hash map: the same choice.
  std::mt19937 rng(11);
  std::vector<Candidate> dense, sparse;
  for (std::int64_t d = 1; d <= 300; ++d) {
    for (std::size_t k = 0; k < 3; ++k) {
      const auto v = static_cast<double>(rng() % 1000) - 100;
      dense.push_back({d, k, v});
      sparse.push_back({d * 1000000007LL, k, v});
    }
  }
  const auto a = greedy_match(dense, {50, 80, 120}, 2);
  const auto b = greedy_match(sparse, {50, 80, 120}, 2);
  ASSERT_EQ(a.assignments.size(), b.assignments.size());
  ASSERT_GT(a.assignments.size(), 100u);
  for (std::size_t i = 0; i < a.assignments.size(); ++i) {
    EXPECT_EQ(a.assignments[i].donor_id * 1000000007LL, b.assignments[i].donor_id);
    EXPECT_EQ(a.assignments[i].campaign, b.assignments[i].campaign);
  }
  EXPECT_DOUBLE_EQ(a.value, b.value);
  EXPECT_DOUBLE_EQ(a.upper_bound, b.upper_bound);
}

TEST(SegmentMatching, HoldoutsHaveTheirSizeAndFollowTheSeed) {
  std::vector<Candidate> cands;
  for (std::int64_t d = 1; d <= 200; ++d) cands.push_back({d, static_cast<std::size_t>(d % 2), 10});
  auto a = greedy_match(cands, {100, 100}, 1);
  auto b = a;
  auto c = a;
  draw_holdouts(a, {"spring", "autumn"}, 0.25, 42);
  draw_holdouts(b, {"spring", "autumn"}, 0.25, 42);
  draw_holdouts(c, {"spring", "autumn"}, 0.25, 43);
  std::map<std::size_t, int> held;
  for (const auto& x : a.assignments) held[x.campaign] += x.holdout ? 1 : 0;
  EXPECT_EQ(held[0], 25);
  EXPECT_EQ(held[1], 25);
  bool same = true, differs = false;
  for (std::size_t i = 0; i < a.assignments.size(); ++i) {
    same = same && a.assignments[i].holdout == b.assignments[i].holdout;
    differs = differs || a.assignments[i].holdout != c.assignments[i].holdout;
  }
  EXPECT_TRUE(same);
  EXPECT_TRUE(differs);
}

TEST(SegmentResults, UpliftConfidenceIntervalAndRoi) {
  const GroupOutcome t{1000, 80, 400000};  // 8 %, 4,000.00 EUR
  const GroupOutcome h{250, 10, 50000};    // 4 %, 500.00 EUR
  const auto u = uplift(t, h);
  EXPECT_DOUBLE_EQ(u.response_rate, 0.04);
  const double se = std::sqrt(0.08 * 0.92 / 1000 + 0.04 * 0.96 / 250);
  EXPECT_NEAR(u.ci95.first, 0.04 - 1.959964 * se, 1e-6);
  EXPECT_NEAR(u.ci95.second, 0.04 + 1.959964 * se, 1e-6);
  EXPECT_DOUBLE_EQ(u.revenue_per_donor_cents, 400 - 200);
  // incremental 200 cents x 1000 = 2,000.00 EUR against 1,000.00 EUR cost: ROI 1.
  EXPECT_DOUBLE_EQ(*roi(t, h, 100000), 1.0);
  EXPECT_EQ(roi(t, h, 0), std::nullopt);
  auto doc = parse_json(results_json("spring", 7, t, h, 100000));
  EXPECT_STREQ((*doc)["treatment"]["revenue"].GetString(), "4000.00");
  EXPECT_STREQ((*doc)["holdout"]["revenue_per_donor"].GetString(), "2.00");
  EXPECT_STREQ((*doc)["uplift"]["revenue_per_donor"].GetString(), "2.00");
  EXPECT_STREQ((*doc)["cost"].GetString(), "1000.00");
  EXPECT_DOUBLE_EQ((*doc)["roi"].GetDouble(), 1.0);
  auto empty = parse_json(results_json("x", 1, {}, {}, 0));
  EXPECT_TRUE((*empty)["roi"].IsNull());
  EXPECT_DOUBLE_EQ((*empty)["treatment"]["response_rate"].GetDouble(), 0);
}

TEST(SegmentCsv, QuotesOnlyWhatNeedsIt) {
  std::string out;
  append_csv_field(out, "plain");
  out += ',';
  append_csv_field(out, "Müller, Anna");
  out += ',';
  append_csv_field(out, "say \"hi\"");
  out += ',';
  append_csv_field(out, "line\r\nbreak");
  EXPECT_EQ(out, "plain,\"Müller, Anna\",\"say \"\"hi\"\"\",\"line\r\nbreak\"");
}

TEST(SegmentSettings, ArchitectureAndSegmentsDocsListEverySettingWithDefaultAndRange) {
  for (const char* doc_name : {"architecture.md", "segments.md"}) {
    std::ifstream in(std::string(GABE_SOURCE_DIR) + "/docs/" + doc_name);
    ASSERT_TRUE(in) << doc_name;
    std::stringstream doc;
    doc << in.rdbuf();
    const auto text = doc.str();
    for (const auto& s : settings()) {
      const auto row = text.find("| `" + s.name + "` | " + s.default_value + " |");
      ASSERT_NE(row, std::string::npos)
          << s.name << " with its default is missing from " << doc_name;
      if (std::string(doc_name) == "architecture.md") {
        const auto line = text.substr(row, text.find('\n', row) - row);
        EXPECT_NE(line.find(std::to_string(s.min) + "–" + std::to_string(s.max)), std::string::npos)
            << s.name << ": the range is not " << s.allowed();
      }
    }
  }
}

}  // namespace
}  // namespace gabe::segments
