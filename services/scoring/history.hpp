// Reads the behavioural history of every donor out of PostgreSQL in one pass: gifts and appeals
// by COPY of a sequential scan, sorted by donor in memory (never one query per donor), recurring
// commitments beside them, all from one snapshot and only up to a date, so nothing after it can
// reach a feature.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>

#include <pqxx/pqxx>

#include "features.hpp"

namespace gabe::scoring {

// Donors split by a hash of their id: shard `index` of `count`.
struct Shard {
  int index = 0;
  int count = 1;
  bool contains(std::int64_t donor_id) const;
};

struct DonorState {
  bool erased = false;
  bool profiling_objection = false;
};

// Calls `visit` for each donor (merged records left out) with at least one completed gift on
// or before `until`, in id order, restricted to `shard`. Runs in `tx` (a repeatable-read
// snapshot gives one consistent view).
void for_each_donor(pqxx::transaction_base& tx, Day until, const Shard& shard,
                    const std::function<void(const DonorHistory&, const DonorState&)>& visit);

// The optional audit attributes (for the fairness report only; never features).
struct AuditGroups {
  std::optional<std::string> gender;
  std::optional<std::string> age_band;
};
std::unordered_map<std::int64_t, AuditGroups> load_audit_attributes(pqxx::transaction_base& tx);

}  // namespace gabe::scoring
