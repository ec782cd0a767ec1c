#include "status.hpp"

#include <algorithm>
#include <map>

namespace gabe::grants {

const std::vector<std::string_view>& grant_statuses() {
  static const std::vector<std::string_view> all = {
      "prospect", "loi", "drafting", "submitted", "awarded", "rejected", "reporting", "closed"};
  return all;
}

const std::vector<std::string_view>& allowed_moves(std::string_view from) {
  static const std::map<std::string_view, std::vector<std::string_view>> moves = {
      {"prospect", {"loi", "drafting", "closed"}}, {"loi", {"drafting", "rejected", "closed"}},
      {"drafting", {"submitted", "closed"}},       {"submitted", {"awarded", "rejected"}},
      {"awarded", {"reporting", "closed"}},        {"reporting", {"closed"}},
      {"rejected", {"prospect", "closed"}},        {"closed", {}},
  };
  static const std::vector<std::string_view> none;
  auto it = moves.find(from);
  return it == moves.end() ? none : it->second;
}

bool is_allowed_move(std::string_view from, std::string_view to) {
  const auto& moves = allowed_moves(from);
  return std::find(moves.begin(), moves.end(), to) != moves.end();
}

const std::vector<std::string_view>& deadline_kinds() {
  static const std::vector<std::string_view> all = {
      "loi", "application", "interim_report", "final_report", "financial_report", "other"};
  return all;
}

const std::vector<std::string_view>& funder_kinds() {
  static const std::vector<std::string_view> all = {"foundation", "public", "lottery",
                                                    "corporate",  "eu",     "other"};
  return all;
}

}  // namespace gabe::grants
