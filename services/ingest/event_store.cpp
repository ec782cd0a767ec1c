#include "event_store.hpp"

#include <array>

#include "gabe/db.hpp"

namespace gabe::ingest {

void prepare_ingest_connection(pqxx::connection& conn) {
  {
    pqxx::nontransaction tx(conn);
    tx.exec("SET client_min_messages = warning");
    tx.exec("SELECT ingest.prepare_session()");
  }
  conn.prepare("apply_events",
               "SELECT seq, status, error FROM ingest.apply_events("
               "$1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::text[], $6::text[], "
               "$7::text[], $8::text[], $9::jsonb[], $10::text[], $11::bigint[], $12::text[], "
               "$13::date[], $14::text[], $15::text[], $16::text[], $17::text[], $18::text[])");
}

std::vector<ApplyOutcome> apply_events(pqxx::connection& conn,
                                       const std::vector<CanonicalEvent>& events) {
  pqxx::nontransaction tx(conn);  // one statement, committed on its own
  return apply_events(tx, events);
}

std::vector<ApplyOutcome> apply_events(pqxx::transaction_base& tx,
                                       const std::vector<CanonicalEvent>& events) {
  // One array per column (see migrations/functions/ingest/apply_events.sql): gifts travel typed,
  // every other type as its normalised jsonb.
  enum Column {
    kSource,
    kEventId,
    kType,
    kOccurredAt,
    kRaw,
    kAdapter,
    kDonorRef,
    kReject,
    kData,
    kGiftRef,
    kAmount,
    kCurrency,
    kReceivedOn,
    kCampaignRef,
    kChannel,
    kFund,
    kRecurringRef,
    kGiftStatus,
    kColumns
  };
  std::array<db::ArrayLiteral, kColumns> c;
  for (const auto& e : events) {
    c[kSource].add(e.source);
    c[kEventId].add(e.event_id);
    c[kType].add(e.type);
    c[kOccurredAt].add(e.occurred_at);
    c[kRaw].add(e.raw);
    c[kAdapter].add(e.adapter);
    c[kDonorRef].add_or_null(e.donor_ref);
    c[kReject].add(e.reject);
    if (e.gift && !e.reject) {
      const GiftColumns& g = *e.gift;
      c[kData].add_null();
      c[kGiftRef].add(g.gift_ref);
      c[kAmount].add(g.amount_cents);
      c[kCurrency].add(g.currency);
      c[kReceivedOn].add(g.received_on);
      c[kCampaignRef].add(g.campaign_ref);
      c[kChannel].add(g.channel);
      c[kFund].add(g.fund);
      c[kRecurringRef].add(g.recurring_ref);
      c[kGiftStatus].add(g.status);
    } else {
      if (e.reject) {
        c[kData].add_null();
      } else {
        c[kData].add(e.data_json);
      }
      for (int i = kGiftRef; i < kColumns; ++i) c[i].add_null();
    }
  }
  auto rows = tx.exec_prepared(
      "apply_events", c[kSource].take(), c[kEventId].take(), c[kType].take(), c[kOccurredAt].take(),
      c[kRaw].take(), c[kAdapter].take(), c[kDonorRef].take(), c[kReject].take(), c[kData].take(),
      c[kGiftRef].take(), c[kAmount].take(), c[kCurrency].take(), c[kReceivedOn].take(),
      c[kCampaignRef].take(), c[kChannel].take(), c[kFund].take(), c[kRecurringRef].take(),
      c[kGiftStatus].take());
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
