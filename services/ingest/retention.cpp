#include "retention.hpp"

#include <chrono>

#include "gabe/config.hpp"
#include "gabe/json.hpp"
#include "gabe/log.hpp"
#include "gabe/service.hpp"
#include "gabe/values.hpp"

namespace gabe::ingest {

namespace {

constexpr const char* kCutoff =
    "SELECT to_char((now() - make_interval(days => $1)) AT TIME ZONE 'UTC', "
    "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')";
constexpr const char* kPurgeBatch =
    "SELECT status, purged FROM ingest.purge_inbox_batch($1::timestamptz, $2)";

}  // namespace

RetentionSettings RetentionSettings::from(const config::Settings& settings) {
  RetentionSettings s;
  s.days = settings.integer("GABE_RETENTION_DAYS");
  s.interval_seconds = settings.integer("GABE_RETENTION_INTERVAL_SECONDS");
  s.batch = settings.integer("GABE_RETENTION_BATCH");
  return s;
}

std::string PurgeResult::to_json(long days) const {
  JsonWriter w;
  w.begin_object()
      .field("older_than_days", static_cast<std::int64_t>(days))
      .field("before", before)
      .field("processed", processed)
      .field("rejected", rejected)
      .field("batches", batches)
      .end_object();
  return w.take();
}

PurgeResult purge_inbox(const WithConnection& with, long days, long batch, const std::string& actor,
                        const PurgeHooks& hooks) {
  PurgeResult result;
  // One cutoff for the whole run, so that it ends even while events keep ageing past it.
  with([&](pqxx::connection& c) {
    pqxx::nontransaction tx(c);
    result.before = tx.exec_params(kCutoff, static_cast<int>(days))[0][0].c_str();
  });
  for (;;) {
    PurgeResult one;
    with([&](pqxx::connection& c) {
      one = PurgeResult{};
      pqxx::work tx(c);
      for (const auto& row : tx.exec_params(kPurgeBatch, result.before, batch)) {
        const auto n = row[1].as<std::int64_t>();
        (std::string_view(row[0].c_str()) == "rejected" ? one.rejected : one.processed) += n;
      }
      tx.commit();
    });
    // Counted only once committed: a batch the pool retried is not counted twice.
    one.batches = 1;
    one.before = result.before;
    result.processed += one.processed;
    result.rejected += one.rejected;
    ++result.batches;
    if (hooks.batch) hooks.batch(one);
    if (one.total() < batch || (hooks.stop && hooks.stop())) break;
  }
  if (result.total() > 0) {
    with([&](pqxx::connection& c) {
      pqxx::work tx(c);
      record_audit(tx, "ingest", actor, "inbox.purge", "inbox", result.to_json(days));
      tx.commit();
    });
  }
  return result;
}

RetentionLoop::RetentionLoop(db::Pool& pool, Metrics& metrics, RetentionSettings settings)
    : pool_(pool),
      settings_(settings),
      purged_(metrics.counter("gabe_inbox_purged_events_total",
                              "Raw inbox events deleted by the retention purge, by their state",
                              {"state"})),
      last_success_(metrics.gauge("gabe_inbox_purge_last_success_timestamp_seconds",
                                  "When the last retention purge of the inbox finished", {})) {
  // Both states are exported from the start, so a rate() has a zero to start from.
  purged_.add({"processed"}, 0);
  purged_.add({"rejected"}, 0);
  if (settings_.interval_seconds > 0)
    worker_.start(std::chrono::seconds(settings_.interval_seconds), "inbox purge failed", [this] {
      round();
      return false;
    });
}

void RetentionLoop::round() {
  const WithConnection with_pool = [this](const std::function<void(pqxx::connection&)>& work) {
    pool_.run([&](pqxx::connection& c) { work(c); });
  };
  PurgeHooks hooks;
  hooks.stop = [this] { return worker_.stopping(); };
  hooks.batch = [this](const PurgeResult& one) {
    purged_.add({"processed"}, static_cast<double>(one.processed));
    purged_.add({"rejected"}, static_cast<double>(one.rejected));
  };
  auto r = purge_inbox(with_pool, settings_.days, settings_.batch, "gabe-ingest:retention", hooks);
  last_success_.set({}, static_cast<double>(now_epoch_seconds()));
  if (r.total() > 0) {
    log::info("inbox purged",
              {{"processed", r.processed}, {"rejected", r.rejected}, {"batches", r.batches}});
  }
}

}  // namespace gabe::ingest
