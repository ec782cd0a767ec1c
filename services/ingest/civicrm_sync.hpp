// The CiviCRM pull connector (spec/api.md "CiviCRM connector (pull)", docs/ingest.md
// "Connecting CiviCRM"): a background thread in gabe-ingest that reads every pull source's
// CiviCRM through APIv4 (civicrm_api.hpp) and applies what it reads as the same canonical
// events as webhooks (the civicrm adapter, ingest.apply_events).
//
// A source's sync is a sequence of passes. A *full* pass (the first backfill, then at least
// daily, and on POST /v1/sources/{name}/sync {"full": true}) reads every record and every id;
// at its end, contacts and contributions that CiviCRM no longer returns were deleted there and
// are erased (contacts) or refunded (contributions) here. An *incremental* pass (every
// GABE_CIVICRM_SYNC_SECONDS) reads what changed since the last pass, with an overlap. Each
// pass is a fixed list of steps (reads), each read in pages by id; after every page its events
// and the position (step, last id) commit in one transaction, so a sync killed half-way
// resumes after the last page applied, and a failing CiviCRM changes nothing stored.
//
// Event ids are derived from the entity, the id and a hash of the record as read: reading an
// unchanged record again is a duplicate, a changed one a new event.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "adapters.hpp"
#include "civicrm_api.hpp"
#include "gabe/config.hpp"
#include "gabe/db.hpp"
#include "gabe/metrics.hpp"

namespace gabe::ingest {

struct SyncSettings {
  long interval_seconds = 0;   // GABE_CIVICRM_SYNC_SECONDS: between incremental passes
  long full_hours = 0;         // GABE_CIVICRM_FULL_SYNC_HOURS: between full reconciliations
  long page_size = 0;          // GABE_CIVICRM_PAGE_SIZE: records per APIv4 request
  long full_page_size = 0;     // GABE_CIVICRM_FULL_PAGE_SIZE: the same for the contacts and
                               // contributions of a full pass (at least page_size)
  long timeout_seconds = 0;    // GABE_CIVICRM_TIMEOUT_SECONDS: per request
  long reread_days = 0;        // GABE_CIVICRM_REREAD_DAYS: contributions received since then
                               // are read again by every incremental pass
  long max_erase_percent = 0;  // GABE_CIVICRM_MAX_ERASE_PERCENT: more missing contacts than
                               // this stop the erasure and report instead
  bool verify_tls = true;      // GABE_CIVICRM_VERIFY_TLS

  // From ingest's settings (settings.cpp, which holds their defaults and ranges).
  static SyncSettings from(const config::Settings& settings);
};

// One read of a pass.
enum class SyncRead {
  campaigns,                // Campaign (full: all; incremental: last_modified_date since)
  contacts,                 // Contact incl. trashed (incremental: modified_date since)
  contacts_by_history,      // Contacts whose opt-in group membership changed
                            // (SubscriptionHistory date since)
  recurring,                // ContributionRecur (incremental: modified_date since)
  contributions,            // Contribution, all (full pass only)
  contributions_new,        // Contribution with id above the highest read so far
  contributions_window,     // Contribution received in the last reread_days days
  contributions_cancelled,  // Contribution with cancel_date since
  merges,                   // ActivityContact of "Contact Deleted by Merge" activities
};
std::string_view to_string(SyncRead read);
// The reads of a full or an incremental pass, in order. A full pass ends with the check of ids
// (step index == size()).
const std::vector<SyncRead>& pass_steps(bool full);

// CiviCRM local time "YYYY-MM-DD HH:MM:SS" minus `seconds` (no zone: CiviCRM's wall clock;
// the overlap covers the repeated hour of the autumn change). nullopt when malformed.
std::optional<std::string> civicrm_time_minus(std::string_view civicrm_time, long seconds);

// The id of the event for one record read from CiviCRM: entity, id and a hash of the record.
std::string pull_event_id(std::string_view entity, std::int64_t id, std::string_view record_json);

// The persisted state of one pull source (ingest.sync_state) with its connection.
struct PullSource {
  std::string name;
  std::string url;
  std::string api_key;
  SourceConfig config;
  std::optional<std::string> pass;  // running: "full" or "incremental"
  std::size_t step = 0;
  std::int64_t after_id = 0;
  std::map<std::string, std::string> cursors;       // of the last completed pass
  std::map<std::string, std::string> pass_cursors;  // reached by the running pass
  std::map<std::string, std::int64_t> pass_records;
  std::optional<std::string> requested;
  std::optional<double> seconds_since_full;  // nullopt: never
  std::optional<double> seconds_since_sync;
};

// Which pass is due for `source` now: a running one resumes; otherwise what was requested, a
// full pass when none has completed or the last is older than full_hours, an incremental one
// when the last pass is older than interval_seconds; nullopt when nothing is due.
std::optional<std::string> due_pass(const PullSource& source, const SyncSettings& settings);

class CivicrmSync {
 public:
  CivicrmSync(db::Pool& pool, Metrics& metrics, SyncSettings settings);
  ~CivicrmSync();
  CivicrmSync(const CivicrmSync&) = delete;
  CivicrmSync& operator=(const CivicrmSync&) = delete;

  // Looks for due work now (after POST /v1/sources/{name}/sync has stored its request).
  void wake();

 private:
  void run();
  bool stopping();
  // Waits up to `seconds` or until woken; returns true when stopping.
  bool pause(double seconds);
  void sync_source(PullSource& source, const std::string& pass);

  db::Pool& pool_;
  SyncSettings settings_;
  Counter records_;
  Counter failures_;
  Gauge last_success_;
  Gauge running_;
  std::map<std::string, int> failures_in_row_;
  std::map<std::string, std::chrono::steady_clock::time_point> retry_at_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  bool woken_ = false;
  bool asked_ = false;  // by wake(): retry at once
  std::thread thread_;
};

}  // namespace gabe::ingest
