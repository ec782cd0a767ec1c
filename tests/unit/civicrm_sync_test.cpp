// The pure parts of the CiviCRM pull sync (services/ingest/civicrm_sync.hpp): which pass is
// due, the order of reads, the overlap of CiviCRM's local times and the event ids.
#include <gtest/gtest.h>

#include <algorithm>

#include "civicrm_sync.hpp"

namespace gabe::ingest {
namespace {

TEST(CivicrmSync, TheFirstPassIsFullThenIncrementalOnTheInterval) {
  SyncSettings settings;
  settings.interval_seconds = 300;
  settings.full_hours = 24;
  PullSource s;
  EXPECT_EQ(due_pass(s, settings), "full");  // never synced: the backfill
  s.requested = "incremental";
  EXPECT_EQ(due_pass(s, settings), "full");  // a backfill comes before anything else
  s.requested.reset();
  s.seconds_since_full = 100;
  s.seconds_since_sync = 100;
  EXPECT_EQ(due_pass(s, settings), std::nullopt);
  s.seconds_since_sync = 300;
  EXPECT_EQ(due_pass(s, settings), "incremental");
  s.seconds_since_sync = 10;
  s.requested = "full";
  EXPECT_EQ(due_pass(s, settings), "full");
  s.requested = "incremental";
  EXPECT_EQ(due_pass(s, settings), "incremental");
  s.requested.reset();
  s.seconds_since_full = 24 * 3600;
  EXPECT_EQ(due_pass(s, settings), "full");  // at least daily
  s.pass = "incremental";
  EXPECT_EQ(due_pass(s, settings), "incremental");  // a pass cut short resumes first
}

TEST(CivicrmSync, MergesAreReadBeforeContactsAndContactsBeforeContributions) {
  for (bool full : {true, false}) {
    const auto& steps = pass_steps(full);
    auto at = [&](SyncRead r) { return std::find(steps.begin(), steps.end(), r) - steps.begin(); };
    EXPECT_LT(at(SyncRead::merges), at(SyncRead::contacts));
    EXPECT_LT(at(SyncRead::contacts), at(SyncRead::recurring));
  }
  EXPECT_EQ(pass_steps(true).back(), SyncRead::contributions);
  EXPECT_EQ(to_string(pass_steps(false).back()), "contributions_cancelled");
}

TEST(CivicrmSync, OverlapCountsBackOnCiviCrmsWallClock) {
  EXPECT_EQ(civicrm_time_minus("2026-11-01 10:00:00", 65 * 60), "2026-11-01 08:55:00");
  EXPECT_EQ(civicrm_time_minus("2026-01-01 00:30:00", 3600), "2025-12-31 23:30:00");
  EXPECT_EQ(civicrm_time_minus("2026-03-01 00:00:00", 1), "2026-02-28 23:59:59");
  EXPECT_EQ(civicrm_time_minus("2026-11-01", 60), std::nullopt);
  EXPECT_EQ(civicrm_time_minus("not a time at all!!", 60), std::nullopt);
}

TEST(CivicrmSync, EventIdsChangeWithTheRecordOnly) {
  const auto a = pull_event_id("Contribution", 7, R"({"id":7,"status":"Completed"})");
  EXPECT_EQ(a, pull_event_id("Contribution", 7, R"({"id":7,"status":"Completed"})"));
  EXPECT_NE(a, pull_event_id("Contribution", 7, R"({"id":7,"status":"Refunded"})"));
  EXPECT_NE(a, pull_event_id("Contact", 7, R"({"id":7,"status":"Completed"})"));
  EXPECT_EQ(a.rfind("civicrm:Contribution:7:", 0), 0U);
  EXPECT_LE(a.size(), 200U);  // webhook ids are at most 200 bytes; these stay far below
}

}  // namespace
}  // namespace gabe::ingest
