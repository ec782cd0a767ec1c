// Retention of the raw-event inbox: events (processed, and rejected ones not replayed) are
// deleted once older than the retention period, in short batches that skip rows a webhook holds.
// Run by gabe-ingest on an interval and by `gabectl purge` (a Kubernetes CronJob).
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include <pqxx/pqxx>

#include "gabe/config.hpp"
#include "gabe/db.hpp"
#include "gabe/metrics.hpp"
#include "gabe/periodic.hpp"

namespace gabe::ingest {

struct RetentionSettings {
  long days = 0;              // GABE_RETENTION_DAYS: events older than this go
  long interval_seconds = 0;  // GABE_RETENTION_INTERVAL_SECONDS: 0 turns the loop off
  long batch = 0;             // GABE_RETENTION_BATCH: rows per transaction

  // From settings read with retention_settings() (settings.hpp).
  static RetentionSettings from(const config::Settings& settings);
};

struct PurgeResult {
  std::int64_t processed = 0;
  std::int64_t rejected = 0;
  std::int64_t batches = 0;
  std::string before;  // the cutoff, RFC 3339: rows received earlier were deleted

  std::int64_t total() const { return processed + rejected; }
  std::string to_json(long days) const;
};

// Gives `work` a connection: from a pool, or one a command line tool holds.
using WithConnection = std::function<void(const std::function<void(pqxx::connection&)>& work)>;

struct PurgeHooks {
  std::function<bool()> stop;                     // asked between batches
  std::function<void(const PurgeResult&)> batch;  // each committed batch's own counts
};

// One purge run: batches of `batch` rows, each in its own transaction, until a batch finds
// fewer (or hooks.stop says so). A run that deleted anything leaves one audit entry
// `inbox.purge` with the counts, written by `actor`.
PurgeResult purge_inbox(const WithConnection& with, long days, long batch, const std::string& actor,
                        const PurgeHooks& hooks = {});

// gabe-ingest's background purge: one run at start, then one every interval; counted in
// gabe_inbox_purged_events_total{state}. Stopped and joined by the destructor.
class RetentionLoop {
 public:
  RetentionLoop(db::Pool& pool, Metrics& metrics, RetentionSettings settings);
  RetentionLoop(const RetentionLoop&) = delete;
  RetentionLoop& operator=(const RetentionLoop&) = delete;

 private:
  void round();

  db::Pool& pool_;
  RetentionSettings settings_;
  Counter purged_;
  Gauge last_success_;
  PeriodicWorker worker_;  // last: stopped before anything a round uses is destroyed
};

}  // namespace gabe::ingest
