// The ingest service's SQL: applying canonical events (one statement per batch, which calls
// ingest.apply_events), webhook sources, and the reads behind the API.
#pragma once

#include <chrono>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include <pqxx/pqxx>

#include "adapters.hpp"
#include "canonical_event.hpp"
#include "gabe/db.hpp"

namespace gabe::ingest {

struct ApplyOutcome {
  std::string event_id;
  std::string status;  // processed, duplicate or rejected
  std::string error;
};

// The batch contract of ingest.apply_events (migrations/functions/ingest/apply_events.sql):
// one array parameter per column, named p_<name>, in this order. The prepared statement and
// the parameter arrays are both built from this table, and tests/sql checks the function's
// argument list against it. gift.created and gift.updated carry their data in the gift
// columns and a NULL data; every other type its normalised jsonb in data.
struct BatchColumn {
  const char* name;
  const char* sql_type;  // of one element
  void (*add)(db::ArrayLiteral& column, const CanonicalEvent& event);
};
std::span<const BatchColumn> batch_columns();
// "SELECT seq, status, error FROM ingest.apply_events($1::text[], ...)".
std::string apply_events_statement();

// Per connection: the batch work table and the prepared statements.
void prepare_ingest_connection(pqxx::connection& conn);

// Applies events in one autocommitted statement: when this returns, their effects are
// committed. Outcomes are in input order.
std::vector<ApplyOutcome> apply_events(pqxx::connection& conn,
                                       const std::vector<CanonicalEvent>& events);
// The same inside the caller's transaction (committed with it).
std::vector<ApplyOutcome> apply_events(pqxx::transaction_base& tx,
                                       const std::vector<CanonicalEvent>& events);

struct SourceInfo {
  std::string adapter;
  std::vector<std::string> secrets;  // current (not retired)
  SourceConfig config;
};

// Webhook sources with their current secrets and configuration, reloaded at most every `ttl`
// (rotation and configuration changes take effect within that time).
class SourceRegistry {
 public:
  SourceRegistry(db::Pool& pool, std::chrono::milliseconds ttl = std::chrono::milliseconds(2000));
  std::optional<SourceInfo> find(const std::string& name);

 private:
  db::Pool& pool_;
  std::chrono::milliseconds ttl_;
  std::mutex mutex_;
  std::unordered_map<std::string, SourceInfo> sources_;
  std::chrono::steady_clock::time_point loaded_{};
};

std::unordered_map<std::string, SourceInfo> load_sources(pqxx::connection& conn);

}  // namespace gabe::ingest
