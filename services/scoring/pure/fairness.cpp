#include "gabe/fairness.hpp"

#include <algorithm>
#include <map>
#include <numeric>
#include <stdexcept>

namespace gabe {

std::vector<int> score_deciles(const std::vector<double>& scores) {
  const std::size_t n = scores.size();
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return scores[a] > scores[b]; });
  // ntile(10): the first n % 10 buckets hold n / 10 + 1 rows, the others n / 10.
  std::vector<int> deciles(n);
  const std::size_t base = n / 10;
  const std::size_t larger = n % 10;
  std::size_t rank = 0;
  for (int decile = 1; decile <= 10; ++decile) {
    const std::size_t size = base + (static_cast<std::size_t>(decile) <= larger ? 1 : 0);
    for (std::size_t i = 0; i < size; ++i) deciles[order[rank++]] = decile;
  }
  return deciles;
}

FairnessReport fairness_report(const FairnessInput& input, const FairnessOptions& options) {
  const std::size_t n = input.scores.size();
  if (input.labels.size() != n)
    throw std::invalid_argument("fairness: labels and scores differ in length");
  if (!input.deciles.empty() && input.deciles.size() != n)
    throw std::invalid_argument("fairness: deciles and scores differ in length");
  if (options.selected_deciles < 1 || options.selected_deciles > 10)
    throw std::invalid_argument("fairness: selected_deciles must be 1..10");
  if (options.min_group_size < 1) throw std::invalid_argument("fairness: min_group_size < 1");
  if (!(options.threshold > 0.0 && options.threshold <= 1.0))
    throw std::invalid_argument("fairness: threshold must be in (0, 1]");
  for (std::uint8_t label : input.labels)
    if (label > 1) throw std::invalid_argument("fairness: a label is neither 0 nor 1");
  for (int decile : input.deciles)
    if (decile < 1 || decile > 10) throw std::invalid_argument("fairness: a decile outside 1..10");
  const std::vector<int> deciles =
      input.deciles.empty() ? score_deciles(input.scores) : input.deciles;

  FairnessReport report;
  report.options = options;
  report.donors = n;
  for (const AuditAttribute& attribute : input.attributes) {
    if (attribute.groups.size() != n)
      throw std::invalid_argument("fairness: the groups of " + attribute.name +
                                  " and the scores differ in length");
    AttributeFairness result;
    result.attribute = attribute.name;
    std::map<std::string, GroupFairness> groups;
    for (std::size_t i = 0; i < n; ++i) {
      if (!attribute.groups[i]) {
        ++result.missing;
        continue;
      }
      GroupFairness& group = groups[*attribute.groups[i]];
      const bool selected = deciles[i] <= options.selected_deciles;
      ++group.count;
      group.positives += input.labels[i];
      group.selected += selected ? 1 : 0;
      group.selected_positives += (selected && input.labels[i] == 1) ? 1 : 0;
    }
    std::optional<double> min_rate, max_rate, min_tpr, max_tpr;
    std::size_t judged_groups = 0, groups_with_tpr = 0;
    for (auto& [name, group] : groups) {
      group.group = name;
      group.selection_rate = static_cast<double>(group.selected) / static_cast<double>(group.count);
      if (group.positives > 0)
        group.true_positive_rate =
            static_cast<double>(group.selected_positives) / static_cast<double>(group.positives);
      group.too_small = group.count < options.min_group_size;
      if (!group.too_small) {
        ++judged_groups;
        min_rate = std::min(min_rate.value_or(group.selection_rate), group.selection_rate);
        max_rate = std::max(max_rate.value_or(group.selection_rate), group.selection_rate);
        if (group.true_positive_rate) {
          ++groups_with_tpr;
          min_tpr =
              std::min(min_tpr.value_or(*group.true_positive_rate), *group.true_positive_rate);
          max_tpr =
              std::max(max_tpr.value_or(*group.true_positive_rate), *group.true_positive_rate);
        }
      }
      result.groups.push_back(group);
    }
    result.judged = judged_groups >= 2;
    if (result.judged) {
      // Nobody selected in any judged group treats every group alike.
      result.four_fifths_ratio = *max_rate > 0.0 ? *min_rate / *max_rate : 1.0;
      result.passes_four_fifths = *result.four_fifths_ratio >= options.threshold;
    }
    if (groups_with_tpr >= 2) result.equal_opportunity_difference = *max_tpr - *min_tpr;
    report.passes_four_fifths = report.passes_four_fifths && result.passes_four_fifths;
    report.attributes.push_back(std::move(result));
  }
  return report;
}

namespace {

rapidjson::Value optional_number(const std::optional<double>& value) {
  return value ? rapidjson::Value(*value) : rapidjson::Value(rapidjson::kNullType);
}

rapidjson::Value string_value(const std::string& s, rapidjson::Document::AllocatorType& a) {
  return rapidjson::Value(s.c_str(), static_cast<rapidjson::SizeType>(s.size()), a);
}

}  // namespace

rapidjson::Value to_json(const FairnessReport& report,
                         rapidjson::Document::AllocatorType& allocator) {
  using rapidjson::Value;
  Value out(rapidjson::kObjectType);
  out.AddMember("selected_deciles", report.options.selected_deciles, allocator);
  out.AddMember("min_group_size", static_cast<std::uint64_t>(report.options.min_group_size),
                allocator);
  out.AddMember("threshold", report.options.threshold, allocator);
  out.AddMember("donors", static_cast<std::uint64_t>(report.donors), allocator);
  out.AddMember("passes_four_fifths", report.passes_four_fifths, allocator);
  Value attributes(rapidjson::kArrayType);
  for (const AttributeFairness& attribute : report.attributes) {
    Value a(rapidjson::kObjectType);
    a.AddMember("attribute", string_value(attribute.attribute, allocator), allocator);
    a.AddMember("missing", static_cast<std::uint64_t>(attribute.missing), allocator);
    a.AddMember("judged", attribute.judged, allocator);
    a.AddMember("four_fifths_ratio", optional_number(attribute.four_fifths_ratio), allocator);
    a.AddMember("equal_opportunity_difference",
                optional_number(attribute.equal_opportunity_difference), allocator);
    a.AddMember("passes_four_fifths", attribute.passes_four_fifths, allocator);
    Value groups(rapidjson::kArrayType);
    for (const GroupFairness& group : attribute.groups) {
      Value g(rapidjson::kObjectType);
      g.AddMember("group", string_value(group.group, allocator), allocator);
      g.AddMember("count", static_cast<std::uint64_t>(group.count), allocator);
      g.AddMember("positives", static_cast<std::uint64_t>(group.positives), allocator);
      g.AddMember("selected", static_cast<std::uint64_t>(group.selected), allocator);
      g.AddMember("selected_positives", static_cast<std::uint64_t>(group.selected_positives),
                  allocator);
      g.AddMember("selection_rate", group.selection_rate, allocator);
      g.AddMember("true_positive_rate", optional_number(group.true_positive_rate), allocator);
      g.AddMember("too_small", group.too_small, allocator);
      groups.PushBack(g, allocator);
    }
    a.AddMember("groups", groups, allocator);
    attributes.PushBack(a, allocator);
  }
  out.AddMember("attributes", attributes, allocator);
  return out;
}

}  // namespace gabe
