// Erasure against concurrent writes, through the real service: whatever order an erasure and a
// donor.upserted for the same person reach the database in, an erased donor keeps no personal
// data (no consent, consent history, contact, audit attributes, tags or raw events).
#include <gtest/gtest.h>

#include <latch>
#include <string>
#include <thread>
#include <vector>

#include "ingest_fixture.hpp"

namespace gabe::test {
namespace {

class ErasureRace : public IngestTest {
 protected:
  // Personal data left on erased donors, by kind ("" when there is none).
  std::string leftovers() {
    return scalar(R"sql(
      SELECT string_agg(k || ':' || n, ' ') FROM (
        SELECT 'consents' AS k, count(*) AS n FROM donor.consents c
          JOIN donor.donors d ON d.id = c.donor_id WHERE d.erased_at IS NOT NULL
        UNION ALL SELECT 'consent_history', count(*) FROM donor.consent_history c
          JOIN donor.donors d ON d.id = c.donor_id WHERE d.erased_at IS NOT NULL
        UNION ALL SELECT 'pii', count(*) FROM pii.donor_pii p
          JOIN donor.donors d ON d.id = p.donor_id WHERE d.erased_at IS NOT NULL
        UNION ALL SELECT 'audit_attributes', count(*) FROM donor.audit_attributes a
          JOIN donor.donors d ON d.id = a.donor_id WHERE d.erased_at IS NOT NULL
        UNION ALL SELECT 'tags', count(*) FROM donor.donors d
          WHERE d.erased_at IS NOT NULL AND (d.tags <> '{}' OR d.language IS NOT NULL)
        UNION ALL SELECT 'objection', count(*) FROM donor.donors d
          WHERE d.erased_at IS NOT NULL AND d.profiling_objection
        -- A raw event in the clear whose ref no longer resolves belongs to an erased person.
        UNION ALL SELECT 'raw', count(*) FROM ingest.inbox i
          WHERE i.raw IS NOT NULL AND i.donor_ref IS NOT NULL
            AND NOT EXISTS (SELECT 1 FROM ingest.donor_refs r
                            WHERE r.source = i.source AND r.ref = i.donor_ref)
      ) x WHERE n > 0)sql");
  }
};

// Pairs run in waves of kWave; half erase by DELETE /v1/donors/{id}, half by donor.erased.
TEST_F(ErasureRace, ConcurrentUpsertWithConsentLeavesNothingOnAnErasedDonor) {
  constexpr int kPairs = 160;
  constexpr int kWave = 8;
  std::string ndjson;
  for (int i = 0; i < kPairs; ++i) {
    const auto n = std::to_string(i);
    ndjson +=
        R"({"source":"crm","id":"seed-)" + n +
        R"(","type":"donor.upserted","timestamp":"2026-11-20T10:00:00Z","data":{"donor_ref":"r)" +
        n + R"(","first_name":"Seed)" + n +
        R"(","tags":["t"],"audit":{"gender":"f"},"consent":{"email":true},)" +
        R"("updated_at":"2026-11-20T10:00:00Z"}})" + "\n";
  }
  auto imported = import_ndjson(ndjson);
  ASSERT_EQ(imported.status, 200) << imported.body;
  ASSERT_EQ((*json(imported))["processed"].GetInt(), kPairs) << imported.body;
  ASSERT_EQ(scalar("SELECT count(*) FROM donor.consents"), std::to_string(kPairs));

  for (int wave = 0; wave < kPairs / kWave; ++wave) {
    std::vector<std::string> ids(kWave);
    for (int k = 0; k < kWave; ++k) {
      ids[k] = scalar("SELECT donor_id FROM ingest.donor_refs WHERE ref = 'r" +
                      std::to_string(wave * kWave + k) + "'");
      ASSERT_FALSE(ids[k].empty());
    }
    std::latch start(2 * kWave);
    std::vector<int> statuses(2 * kWave, 0);
    std::vector<std::thread> threads;
    for (int k = 0; k < kWave; ++k) {
      const int i = wave * kWave + k;
      const auto n = std::to_string(i);
      threads.emplace_back([&, i, k, n] {
        HttpClient c(service_->port());
        start.arrive_and_wait();
        if (i % 2 == 0) {
          statuses[2 * k] = c.request("DELETE", "/v1/donors/" + ids[k],
                                      {{"Authorization", "Bearer " + admin_token_}})
                                .status;
        } else {
          statuses[2 * k] =
              send_webhook(
                  c, secret_, "erase-" + n,
                  R"({"type":"donor.erased","timestamp":"2026-11-25T10:00:00Z","data":{"donor_ref":"r)" +
                      n + R"("}})")
                  .status;
        }
      });
      threads.emplace_back([&, k, n] {
        HttpClient c(service_->port());
        start.arrive_and_wait();
        statuses[2 * k + 1] =
            send_webhook(
                c, secret_, "again-" + n,
                R"({"type":"donor.upserted","timestamp":"2026-11-25T10:00:00Z","data":{"donor_ref":"r)" +
                    n + R"(","first_name":"Again)" + n +
                    R"(","tags":["u"],"audit":{"gender":"m"},"consent":{"email":true,"post":true},"updated_at":"2026-11-25T10:00:00Z"}})")
                .status;
      });
    }
    for (auto& t : threads) t.join();
    for (int s : statuses) ASSERT_EQ(s, 200);
  }

  EXPECT_EQ(leftovers(), "");
  // Every person is either erased (the ref does not resolve) or has a fresh profile that the
  // later upsert's consent started: never an erased donor that a ref still leads to.
  EXPECT_EQ(scalar("SELECT count(*) FROM ingest.donor_refs r JOIN donor.donors d ON d.id = "
                   "r.donor_id WHERE d.erased_at IS NOT NULL"),
            "0");
  EXPECT_EQ(scalar("SELECT count(*) FROM donor.donors WHERE erased_at IS NOT NULL"),
            std::to_string(kPairs));
  // Fresh profiles hold only what the later upsert said.
  EXPECT_EQ(scalar("SELECT count(*) FROM pii.donor_pii WHERE first_name LIKE 'Seed%'"), "0");
}

class ErasureEdges : public IngestTest {};

// A merged-away id and its survivor are the same person: DELETE on the old id erases nothing
// and answers 409 naming the survivor; the person goes by erasing the survivor, after which
// neither ref resolves and the old id answers 200 (erased with the survivor).
TEST_F(ErasureEdges, ErasingAMergedAwayIdIsRefusedNamingTheSurvivor) {
  ASSERT_EQ(
      event("donor.upserted", R"({"donor_ref":"keep","email":"ida@example.org"})", "1").status,
      200);
  ASSERT_EQ(event("donor.upserted", R"({"donor_ref":"dup","email":"ida@example.org"})", "2").status,
            200);
  const auto dup = scalar("SELECT id FROM donor.donors WHERE ref = 'dup'");
  const auto keep = scalar("SELECT id FROM donor.donors WHERE ref = 'keep'");
  ASSERT_EQ(event("donor.merged", R"({"donor_ref":"keep","merged_refs":["dup"]})", "3").status,
            200);

  auto refused = admin("DELETE", "/v1/donors/" + dup);
  EXPECT_EQ(refused.status, 409) << refused.body;
  EXPECT_NE(refused.body.find("merged into donor " + keep), std::string::npos) << refused.body;
  EXPECT_EQ(scalar("SELECT count(*) FROM donor.donors WHERE erased_at IS NOT NULL"), "0");
  EXPECT_EQ(scalar("SELECT count(*) FROM gabe.audit_log WHERE action = 'donor.erase'"), "0");
  auto by_ref = get("/v1/donors?source=crm&ref=dup");
  ASSERT_EQ(by_ref.status, 200);
  EXPECT_FALSE((*json(by_ref))["erased"].GetBool());
  EXPECT_STREQ((*json(by_ref))["contact"]["email"].GetString(), "ida@example.org");

  ASSERT_EQ(admin("DELETE", "/v1/donors/" + keep).status, 200);
  EXPECT_EQ(get("/v1/donors?source=crm&ref=dup").status, 404);
  EXPECT_EQ(get("/v1/donors?source=crm&ref=keep").status, 404);
  EXPECT_EQ(admin("DELETE", "/v1/donors/" + dup).status, 200);
  EXPECT_TRUE((*json(get("/v1/donors/" + dup)))["erased"].GetBool());
}

// The CRM erases a person Gabe knows only from rejected events, or not at all: a tombstone
// each, no raw text left, and a later gift does not bring a profile back.
TEST_F(ErasureEdges, CrmErasureOfARefWithoutAProfileLeavesATombstoneAndNoRawText) {
  ASSERT_EQ(event("gift.created",
                  R"({"gift_ref":"g1","donor_ref":"r1","amount":"x","memo":"Hanna"})", "1")
                .status,
            422);
  ASSERT_EQ(event("donor.erased", R"({"donor_ref":"r1"})", "2").status, 200);
  ASSERT_EQ(event("donor.erased", R"({"donor_ref":"r2"})", "3").status, 200);
  EXPECT_EQ(scalar("SELECT count(*) FROM ingest.inbox WHERE raw IS NOT NULL"), "0");
  EXPECT_EQ(scalar("SELECT count(*) FROM ingest.tombstones WHERE ref_hash IN "
                   "(ingest.ref_hash('crm', 'r1'), ingest.ref_hash('crm', 'r2'))"),
            "2");
  ASSERT_EQ(
      event("gift.created",
            R"({"gift_ref":"g2","donor_ref":"r2","amount":"5","received_on":"2026-11-20"})", "4")
          .status,
      200);
  ASSERT_EQ(event("donor.upserted", R"({"donor_ref":"r1","first_name":"Hanna"})", "5").status, 200);
  EXPECT_EQ(get("/v1/donors?source=crm&ref=r1").status, 404);
  EXPECT_EQ(get("/v1/donors?source=crm&ref=r2").status, 404);
  EXPECT_EQ(scalar("SELECT count(*) FROM ingest.inbox WHERE raw IS NOT NULL"), "0");
  EXPECT_EQ(scalar("SELECT count(*) FROM pii.donor_pii"), "0");
  // The replay of the rejected event is refused: its content went with the person.
  const auto rejected = scalar("SELECT id FROM ingest.inbox WHERE event_id = '1'");
  EXPECT_EQ(admin("POST", "/v1/events/" + rejected + "/replay").status, 409);
}

}  // namespace
}  // namespace gabe::test
