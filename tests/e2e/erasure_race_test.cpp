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

}  // namespace
}  // namespace gabe::test
