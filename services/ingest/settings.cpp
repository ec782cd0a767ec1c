#include "settings.hpp"

#include "civicrm_sync.hpp"

namespace gabe::ingest {

config::SettingsTable retention_settings() {
  using namespace config;
  return {
      integer_setting("GABE_RETENTION_DAYS", 90, 1, 36500,
                      "raw inbox events received longer ago than this many days are deleted"),
      integer_setting("GABE_RETENTION_INTERVAL_SECONDS", 3600, 0, 7L * 86400,
                      "seconds between purge runs in gabe-ingest; 0 turns the purge off"),
      integer_setting("GABE_RETENTION_BATCH", 5000, 1, 100000,
                      "raw events deleted per transaction"),
  };
}

config::SettingsTable settings() {
  using namespace config;
  auto table = SettingsTable{
      integer_setting("GABE_INGEST_WRITERS", 1, 1, 64,
                      "webhook batches applied at once, each in one commit"),
      integer_setting("GABE_INGEST_LINGER_US", 2000, 0, 100000,
                      "with several writers: microseconds a batch waits to grow"),
      integer_setting("GABE_INGEST_BATCH_MAX", 256, 1, 5000, "most webhook events in one batch"),
  };
  for (auto& s : retention_settings()) table.push_back(std::move(s));
  for (auto& s : sync_settings()) table.push_back(std::move(s));
  return table;
}

}  // namespace gabe::ingest
