#include "event_store.hpp"

#include "gabe/json.hpp"

namespace gabe::ingest {

void prepare_ingest_connection(pqxx::connection& conn) {
  {
    pqxx::nontransaction tx(conn);
    tx.exec("SET client_min_messages = warning");
    tx.exec("SELECT ingest.prepare_session()");
  }
  conn.prepare("apply_events",
               "SELECT seq, event_id, status, error FROM ingest.apply_events($1::jsonb)");
}

std::vector<ApplyOutcome> apply_events(pqxx::connection& conn,
                                       const std::vector<CanonicalEvent>& events) {
  pqxx::nontransaction tx(conn);  // one statement, committed on its own
  return apply_events(tx, events);
}

std::vector<ApplyOutcome> apply_events(pqxx::transaction_base& tx,
                                       const std::vector<CanonicalEvent>& events) {
  JsonWriter w;
  w.begin_array();
  for (std::size_t i = 0; i < events.size(); ++i) {
    const auto& e = events[i];
    w.begin_object();
    w.field("seq", static_cast<std::int64_t>(i));
    w.field("source", e.source);
    w.field("event_id", e.event_id);
    w.field("type", e.type);
    w.field("occurred_at", e.occurred_at);
    w.field("raw", e.raw);
    w.field("adapter", e.adapter);
    if (e.reject) {
      w.field("reject", *e.reject);
      if (!e.donor_ref.empty()) w.field("donor_ref", e.donor_ref);
    } else {
      w.key("data").raw(e.data_json);
    }
    w.end_object();
  }
  w.end_array();
  auto rows = tx.exec_prepared("apply_events", w.take());
  std::vector<ApplyOutcome> out(events.size());
  for (const auto& row : rows) {
    auto seq = row[0].as<std::size_t>();
    if (seq >= out.size()) continue;
    out[seq] = {row[1].c_str(), row[2].c_str(), row[3].is_null() ? "" : row[3].c_str()};
  }
  return out;
}

std::unordered_map<std::string, SourceInfo> load_sources(pqxx::connection& conn) {
  pqxx::nontransaction tx(conn);
  auto rows = tx.exec(
      "SELECT s.name, s.adapter, k.secret FROM ingest.sources s "
      "LEFT JOIN ingest.source_secrets k ON k.source = s.name AND k.retired_at IS NULL "
      "ORDER BY s.name, k.id");
  std::unordered_map<std::string, SourceInfo> out;
  for (const auto& r : rows) {
    auto& info = out[r[0].c_str()];
    info.adapter = r[1].c_str();
    if (!r[2].is_null()) info.secrets.emplace_back(r[2].c_str());
  }
  return out;
}

SourceRegistry::SourceRegistry(db::Pool& pool, std::chrono::milliseconds ttl)
    : pool_(pool), ttl_(ttl) {}

std::optional<SourceInfo> SourceRegistry::find(const std::string& name) {
  const auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(mutex_);
    if (now - loaded_ < ttl_) {
      auto it = sources_.find(name);
      if (it != sources_.end()) return it->second;
      return std::nullopt;
    }
  }
  auto fresh = pool_.run([](pqxx::connection& c) { return load_sources(c); });
  std::lock_guard lock(mutex_);
  sources_ = std::move(fresh);
  loaded_ = now;
  auto it = sources_.find(name);
  if (it != sources_.end()) return it->second;
  return std::nullopt;
}

}  // namespace gabe::ingest
