#include "settings.hpp"

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

namespace {

// The CiviCRM pull sync's (civicrm_sync.hpp, SyncSettings).
config::SettingsTable sync_settings() {
  using namespace config;
  return {
      integer_setting("GABE_CIVICRM_SYNC_SECONDS", 300, 1, 86400,
                      "seconds between incremental syncs of each CiviCRM pull source"),
      integer_setting("GABE_CIVICRM_FULL_SYNC_HOURS", 24, 1, 24,
                      "hours between full reconciliations of each CiviCRM pull source"),
      integer_setting("GABE_CIVICRM_PAGE_SIZE", 1000, 10, 5000,
                      "records per CiviCRM APIv4 request of the pull sync"),
      integer_setting("GABE_CIVICRM_FULL_PAGE_SIZE", 2000, 10, 5000,
                      "records per request of the contacts and contributions read by a full "
                      "sync (the larger of this and GABE_CIVICRM_PAGE_SIZE)"),
      integer_setting("GABE_CIVICRM_TIMEOUT_SECONDS", 60, 1, 600,
                      "seconds one CiviCRM APIv4 request may take"),
      integer_setting("GABE_CIVICRM_REREAD_DAYS", 7, 0, 366,
                      "contributions received in this many days are read again by every "
                      "incremental sync (status changes, refunds)"),
      integer_setting("GABE_CIVICRM_MAX_ERASE_PERCENT", 10, 0, 100,
                      "a full sync that finds more than this percentage of contacts (or "
                      "contributions) deleted in CiviCRM removes none and reports it"),
      integer_setting("GABE_CIVICRM_VERIFY_TLS", 1, 0, 1,
                      "1: check the CiviCRM site's TLS certificate and host name; 0: do not"),
  };
}

}  // namespace

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
