// The status pipeline of a grant: which moves are allowed. Pure, so tests call it directly.
//
//   prospect  -> loi, drafting, closed
//   loi       -> drafting, rejected, closed
//   drafting  -> submitted, closed
//   submitted -> awarded, rejected
//   awarded   -> reporting, closed
//   reporting -> closed
//   rejected  -> prospect (try again in a later round), closed
//   closed    -> (none)
//
// "closed" also ends a grant that was given up before submission. Staying in the same status
// is not a move.
#pragma once

#include <string_view>
#include <vector>

namespace gabe::grants {

const std::vector<std::string_view>& grant_statuses();
const std::vector<std::string_view>& allowed_moves(std::string_view from);
bool is_allowed_move(std::string_view from, std::string_view to);

// The kinds of deadline and of funder, as the API spells them.
const std::vector<std::string_view>& deadline_kinds();
const std::vector<std::string_view>& funder_kinds();

}  // namespace gabe::grants
