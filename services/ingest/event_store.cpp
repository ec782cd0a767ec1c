#include "event_store.hpp"

#include <array>
#include <iterator>

#include "gabe/db.hpp"

namespace gabe::ingest {

namespace {

// The typed columns of a valid gift, or nullptr (then they are NULL).
const GiftColumns* gift_of(const CanonicalEvent& e) {
  return e.gift && !e.reject ? &*e.gift : nullptr;
}

template <auto Field>
void add_gift(db::ArrayLiteral& c, const CanonicalEvent& e) {
  if (const GiftColumns* g = gift_of(e)) {
    c.add(g->*Field);
  } else {
    c.add_null();
  }
}

constexpr BatchColumn kBatchColumns[] = {
    {"source", "text", [](db::ArrayLiteral& c, const CanonicalEvent& e) { c.add(e.source); }},
    {"event_id", "text", [](db::ArrayLiteral& c, const CanonicalEvent& e) { c.add(e.event_id); }},
    {"type", "text", [](db::ArrayLiteral& c, const CanonicalEvent& e) { c.add(e.type); }},
    {"occurred_at", "timestamptz",
     [](db::ArrayLiteral& c, const CanonicalEvent& e) { c.add(e.occurred_at); }},
    {"raw", "text", [](db::ArrayLiteral& c, const CanonicalEvent& e) { c.add(e.raw); }},
    {"adapter", "text", [](db::ArrayLiteral& c, const CanonicalEvent& e) { c.add(e.adapter); }},
    {"donor_ref", "text",
     [](db::ArrayLiteral& c, const CanonicalEvent& e) { c.add_or_null(e.donor_ref); }},
    {"reject", "text", [](db::ArrayLiteral& c, const CanonicalEvent& e) { c.add(e.reject); }},
    {"data", "jsonb",
     [](db::ArrayLiteral& c, const CanonicalEvent& e) {
       if (e.reject || e.gift) {
         c.add_null();
       } else {
         c.add(e.data_json);
       }
     }},
    {"gift_ref", "text", add_gift<&GiftColumns::gift_ref>},
    {"amount_cents", "bigint", add_gift<&GiftColumns::amount_cents>},
    {"currency", "text", add_gift<&GiftColumns::currency>},
    {"received_on", "date", add_gift<&GiftColumns::received_on>},
    {"campaign_ref", "text", add_gift<&GiftColumns::campaign_ref>},
    {"channel", "text", add_gift<&GiftColumns::channel>},
    {"fund", "text", add_gift<&GiftColumns::fund>},
    {"recurring_ref", "text", add_gift<&GiftColumns::recurring_ref>},
    {"gift_status", "text", add_gift<&GiftColumns::status>},
};
constexpr std::size_t kBatchWidth = std::size(kBatchColumns);

}  // namespace

std::span<const BatchColumn> batch_columns() {
  return kBatchColumns;
}

std::string apply_events_statement() {
  std::string sql = "SELECT seq, status, error FROM ingest.apply_events(";
  for (std::size_t i = 0; i < kBatchWidth; ++i) {
    if (i > 0) sql += ", ";
    sql += "$" + std::to_string(i + 1) + "::" + kBatchColumns[i].sql_type + "[]";
  }
  return sql + ")";
}

void prepare_ingest_connection(pqxx::connection& conn) {
  {
    pqxx::nontransaction tx(conn);
    tx.exec("SET client_min_messages = warning");
    tx.exec("SELECT ingest.prepare_session()");
  }
  conn.prepare("apply_events", apply_events_statement());
}

std::vector<ApplyOutcome> apply_events(pqxx::connection& conn,
                                       const std::vector<CanonicalEvent>& events) {
  pqxx::nontransaction tx(conn);  // one statement, committed on its own
  return apply_events(tx, events);
}

std::vector<ApplyOutcome> apply_events(pqxx::transaction_base& tx,
                                       const std::vector<CanonicalEvent>& events) {
  std::array<db::ArrayLiteral, kBatchWidth> columns;
  for (const auto& e : events) {
    for (std::size_t i = 0; i < kBatchWidth; ++i) kBatchColumns[i].add(columns[i], e);
  }
  std::vector<std::string> params;
  params.reserve(kBatchWidth);
  for (auto& c : columns) params.push_back(c.take());
  auto rows = tx.exec_prepared("apply_events", pqxx::prepare::make_dynamic_params(params));
  // Only events that were not processed come back (seq from 1).
  std::vector<ApplyOutcome> out;
  out.reserve(events.size());
  for (const auto& e : events) out.push_back({e.event_id, "processed", ""});
  for (const auto& row : rows) {
    auto seq = row[0].as<std::size_t>();
    if (seq < 1 || seq > out.size()) continue;
    auto& o = out[seq - 1];
    o.status = row[1].c_str();
    o.error = row[2].is_null() ? "" : row[2].c_str();
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
  for (const auto& r :
       tx.exec("SELECT source, channel, group_id::text FROM ingest.source_optin_groups")) {
    auto it = out.find(r[0].c_str());
    if (it != out.end()) it->second.config.optin_groups[r[1].c_str()] = r[2].c_str();
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
