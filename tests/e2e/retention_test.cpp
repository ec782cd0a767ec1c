// Retention of the raw-event inbox through the real binaries: `gabectl purge` and the purge
// loop inside gabe-ingest delete what is older than the period (back-dated here by SQL), in
// batches, count it in metrics and the audit log, and lose nothing of concurrent webhooks.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "ingest_fixture.hpp"

namespace gabe::test {
namespace {

class Retention : public IngestTest {
 protected:
  std::string gift(int i, const std::string& ref = "d1") {
    return R"({"type":"gift.created","timestamp":"2026-11-24T10:00:00Z","data":{"gift_ref":"g)" +
           std::to_string(i) + R"(","donor_ref":")" + ref +
           R"(","amount":"5.00","received_on":"2026-11-20"}})";
  }

  // `processed` gifts and one rejected event, all received `days` ago; their ids start with
  // `prefix`.
  void old_events(const std::string& prefix, int processed, int days) {
    for (int i = 0; i < processed; ++i)
      ASSERT_EQ(webhook(gift(i, prefix + "donor"), prefix + std::to_string(i)).status, 200);
    ASSERT_EQ(event("gift.created", R"({"gift_ref":"bad","donor_ref":"x","amount":"-1"})",
                    prefix + "rejected")
                  .status,
              422);
    scalar("UPDATE ingest.inbox SET received_at = now() - make_interval(days => " +
           std::to_string(days) + ") WHERE event_id LIKE '" + prefix + "%' RETURNING 1");
  }

  int purge(const std::vector<std::string>& args, std::string* out,
            std::map<std::string, std::string> env = {}) {
    env["GABE_DATABASE_URL"] = url_;
    std::vector<std::string> all{"purge"};
    all.insert(all.end(), args.begin(), args.end());
    std::string err;
    int rc = run_command(bin_dir() + "/gabectl", all, env, out, &err);
    if (rc != 0) *out += err;
    return rc;
  }
};

TEST_F(Retention, GabectlPurgeDeletesOldEventsInBatchesAndAuditsTheRun) {
  old_events("old-", 7, 100);
  old_events("mid-", 2, 40);
  ASSERT_EQ(webhook(gift(100), "new-1").status, 200);
  const auto gifts = scalar("SELECT count(*) FROM donor.gifts");

  std::string out;
  ASSERT_EQ(purge({}, &out, {{"GABE_RETENTION_BATCH", "3"}}), 0) << out;
  auto r = parse_json(out);
  EXPECT_EQ((*r)["processed"].GetInt(), 7) << out;
  EXPECT_EQ((*r)["rejected"].GetInt(), 1);
  EXPECT_EQ((*r)["batches"].GetInt(), 3);  // 3 + 3 + 2 rows
  EXPECT_EQ((*r)["older_than_days"].GetInt(), 90);
  EXPECT_EQ(scalar("SELECT count(*) FROM ingest.inbox WHERE event_id LIKE 'old-%'"), "0");
  EXPECT_EQ(scalar("SELECT count(*) FROM ingest.inbox"), "4");
  // Only raw events go; what they were applied to stays.
  EXPECT_EQ(scalar("SELECT count(*) FROM donor.gifts"), gifts);

  // One audit entry per run, with counts and nothing personal.
  EXPECT_EQ(scalar("SELECT count(*) FROM gabe.audit_log WHERE action = 'inbox.purge'"), "1");
  EXPECT_EQ(scalar("SELECT actor LIKE 'gabectl:%' AND entity = 'inbox' AND service = 'ingest' "
                   "FROM gabe.audit_log WHERE action = 'inbox.purge'"),
            "t");
  EXPECT_EQ(scalar("SELECT string_agg(k, ',' ORDER BY k) FROM gabe.audit_log, "
                   "jsonb_object_keys(details) k WHERE action = 'inbox.purge'"),
            "batches,before,older_than_days,processed,rejected");
  EXPECT_EQ(scalar("SELECT details ->> 'processed' FROM gabe.audit_log WHERE action = "
                   "'inbox.purge'"),
            "7");
  auto audit = json(get("/v1/audit?action=inbox.purge"));
  EXPECT_EQ((*audit)["items"].Size(), 1u);

  // A shorter period, given on the command line, takes the younger ones; nothing left to
  // delete leaves no audit entry.
  ASSERT_EQ(purge({"--older-than-days", "30"}, &out), 0) << out;
  r = parse_json(out);
  EXPECT_EQ((*r)["processed"].GetInt(), 2);
  EXPECT_EQ((*r)["rejected"].GetInt(), 1);
  ASSERT_EQ(purge({"--older-than-days", "30"}, &out), 0) << out;
  EXPECT_EQ((*parse_json(out))["processed"].GetInt(), 0);
  EXPECT_EQ(scalar("SELECT count(*) FROM gabe.audit_log WHERE action = 'inbox.purge'"), "2");
  EXPECT_EQ(scalar("SELECT count(*) FROM ingest.inbox"), "1");

  EXPECT_EQ(purge({"--older-than-days", "0"}, &out), 2);
  EXPECT_EQ(purge({}, &out, {{"GABE_RETENTION_DAYS", "often"}}), 2);
  EXPECT_NE(out.find("GABE_RETENTION_DAYS"), std::string::npos) << out;
}

TEST_F(Retention, APurgeSkipsRowsAnotherTransactionHoldsInsteadOfWaiting) {
  old_events("old-", 3, 100);
  pqxx::connection holder(url_);
  pqxx::work held(holder);
  held.exec("SELECT 1 FROM ingest.inbox WHERE event_id = 'old-1' FOR UPDATE");
  // A purge that waited for the lock would run into the lock timeout and fail.
  std::string out;
  ASSERT_EQ(purge({}, &out, {{"PGOPTIONS", "-c lock_timeout=2000"}}), 0) << out;
  EXPECT_EQ((*parse_json(out))["processed"].GetInt(), 2) << out;
  EXPECT_EQ(scalar("SELECT string_agg(event_id, ',') FROM ingest.inbox"), "old-1");
  held.commit();
  ASSERT_EQ(purge({}, &out), 0) << out;
  EXPECT_EQ(scalar("SELECT count(*) FROM ingest.inbox"), "0");
}

TEST_F(Retention, TheServicePurgesOnItsIntervalAndCountsItInMetrics) {
  old_events("old-", 4, 40);
  Service svc("gabe-ingest", url_,
              {{"GABE_RETENTION_DAYS", "30"}, {"GABE_RETENTION_INTERVAL_SECONDS", "1"}});
  HttpClient c(svc.port());
  ASSERT_TRUE(wait_until(
      [&] {
        return scalar("SELECT count(*) FROM ingest.inbox WHERE event_id LIKE 'old-%'") == "0";
      },
      std::chrono::seconds(10)));
  // Events that age later are taken by a later run of the loop.
  ASSERT_EQ(send_webhook(c, secret_, "later-1", gift(50)).status, 200);
  scalar(
      "UPDATE ingest.inbox SET received_at = now() - interval '31 days' WHERE event_id = "
      "'later-1' RETURNING 1");
  ASSERT_TRUE(wait_until(
      [&] { return scalar("SELECT count(*) FROM ingest.inbox WHERE event_id = 'later-1'") == "0"; },
      std::chrono::seconds(10)));
  std::string metrics;
  ASSERT_TRUE(wait_until(
      [&] {
        metrics = c.get("/metrics").body;
        return metrics.find(R"(gabe_inbox_purged_events_total{state="processed"} 5)") !=
               std::string::npos;
      },
      std::chrono::seconds(5)))
      << metrics;
  EXPECT_NE(metrics.find(R"(gabe_inbox_purged_events_total{state="rejected"} 1)"),
            std::string::npos);
  EXPECT_NE(metrics.find("gabe_inbox_purge_last_success_timestamp_seconds"), std::string::npos);
  // A run counts each batch as it commits and writes its audit entry after its last batch:
  // the second entry may follow the metric by a moment.
  EXPECT_TRUE(wait_until(
      [&] {
        return scalar(
                   "SELECT count(*) FROM gabe.audit_log WHERE action = 'inbox.purge' AND "
                   "actor = 'gabe-ingest:retention'") == "2";
      },
      std::chrono::seconds(5)));
  EXPECT_EQ(scalar("SELECT sum((details ->> 'processed')::int) FROM gabe.audit_log WHERE action "
                   "= 'inbox.purge'"),
            "5");
  // The fixture's own service (default settings) purged nothing younger than 90 days.
  EXPECT_EQ(scalar("SELECT count(*) FROM ingest.inbox"), "0");
}

TEST_F(Retention, APurgeDuringWebhookTrafficLosesNothing) {
  // A large old inbox, written directly, and the index the purge walks (the query of
  // ingest.purge_inbox_batch): no scan of the whole inbox per batch.
  scalar(
      "INSERT INTO ingest.inbox (source, event_id, type, raw, status, received_at) "
      "SELECT 'crm', 'old-' || g, 'gift.created', repeat('x', 200), "
      "CASE WHEN g % 10 = 0 THEN 'rejected' ELSE 'processed' END, "
      "now() - interval '100 days' - make_interval(secs => g) "
      "FROM generate_series(1, 30000) g RETURNING 1");
  scalar("ANALYZE ingest.inbox");
  std::string plan;
  {
    pqxx::connection conn(url_);
    pqxx::nontransaction tx(conn);
    // The batch's query as the function runs it: planned without knowing the cutoff.
    tx.exec("SET plan_cache_mode = force_generic_plan");
    tx.exec(
        "PREPARE victims(timestamptz, integer) AS SELECT i.id FROM ingest.inbox i "
        "WHERE i.received_at < $1 ORDER BY i.received_at LIMIT $2 FOR UPDATE SKIP LOCKED");
    for (const auto& row : tx.exec("EXPLAIN EXECUTE victims(now() - interval '90 days', 5000)"))
      plan += std::string(row[0].c_str()) + "\n";
  }
  EXPECT_NE(plan.find("inbox_received_idx"), std::string::npos) << plan;

  // Senders keep sending until the purge has finished (and at least 50 each), so every
  // moment of the purge has webhooks beside it.
  constexpr int kSenders = 4, kAtLeast = 50, kStride = 1000000;
  std::atomic<bool> purged{false};
  std::atomic<int> sent{0}, acknowledged{0};
  std::vector<std::thread> senders;
  for (int s = 0; s < kSenders; ++s) {
    senders.emplace_back([&, s] {
      HttpClient c(service_->port());
      for (int i = 0; i < kAtLeast || !purged.load(); ++i) {
        const int n = s * kStride + i;
        ++sent;
        if (send_webhook(c, secret_, "new-" + std::to_string(n), gift(n, "d" + std::to_string(n)))
                .status == 200)
          ++acknowledged;
      }
    });
  }
  std::string out;
  const int rc = purge({}, &out, {{"GABE_RETENTION_BATCH", "500"}});
  const int before_end = sent.load();
  purged = true;
  for (auto& t : senders) t.join();
  ASSERT_EQ(rc, 0) << out;
  auto r = parse_json(out);
  EXPECT_EQ((*r)["processed"].GetInt() + (*r)["rejected"].GetInt(), 30000) << out;
  EXPECT_EQ((*r)["rejected"].GetInt(), 3000);
  EXPECT_GT(before_end, 0);
  EXPECT_EQ(acknowledged.load(), sent.load());
  EXPECT_EQ(scalar("SELECT count(*) FROM ingest.inbox WHERE event_id LIKE 'old-%'"), "0");
  EXPECT_EQ(scalar("SELECT count(*) FROM ingest.inbox WHERE event_id LIKE 'new-%' AND status = "
                   "'processed'"),
            std::to_string(sent.load()));
  EXPECT_EQ(scalar("SELECT count(*) FROM donor.gifts"), std::to_string(sent.load()));
}

}  // namespace
}  // namespace gabe::test
