#include "status.hpp"

#include <algorithm>
#include <map>

namespace gabe::grants {

const std::vector<std::string_view>& grant_statuses() {
  static const std::vector<std::string_view> kAll = {
      "prospect", "loi", "drafting", "submitted", "awarded", "rejected", "reporting", "closed"};
  return kAll;
}

const std::vector<std::string_view>& allowed_moves(std::string_view from) {
  static const std::map<std::string_view, std::vector<std::string_view>> kMoves = {
      {"prospect", {"loi", "drafting", "closed"}}, {"loi", {"drafting", "rejected", "closed"}},
      {"drafting", {"submitted", "closed"}},       {"submitted", {"awarded", "rejected"}},
      {"awarded", {"reporting", "closed"}},        {"reporting", {"closed"}},
      {"rejected", {"prospect", "closed"}},        {"closed", {}},
  };
  static const std::vector<std::string_view> kNone;
  auto it = kMoves.find(from);
  return it == kMoves.end() ? kNone : it->second;
}

bool is_allowed_move(std::string_view from, std::string_view to) {
  const auto& moves = allowed_moves(from);
  return std::find(moves.begin(), moves.end(), to) != moves.end();
}

const std::vector<std::string_view>& deadline_kinds() {
  static const std::vector<std::string_view> kAll = {
      "loi", "application", "interim_report", "final_report", "financial_report", "other"};
  return kAll;
}

const std::vector<std::string_view>& funder_kinds() {
  static const std::vector<std::string_view> kAll = {"foundation", "public", "lottery",
                                                     "corporate",  "eu",     "other"};
  return kAll;
}

}  // namespace gabe::grants
