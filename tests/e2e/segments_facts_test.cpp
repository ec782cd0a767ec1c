// The donor rollups kept fresh by changed donor (migration 0009,
// segments.ensure_donor_facts): after new gifts, refunds, deleted gifts, recurring changes,
// erasures, merges and days passing, the incrementally kept segments.donor_facts must equal a
// full rebuild for the same day, row for row (next_change_on included), with the same RFM
// counts, quintile boundaries and mean gift; only the changed donors are recomputed; and a rule
// on days since the last gift follows the day.
#include <gtest/gtest.h>

#include <string>
#include <utility>

#include "segments_fixture.hpp"

namespace gabe::test {
namespace {

class SegmentFacts : public SegmentsTest {
 protected:
  struct Ensured {
    bool rebuilt = false;
    std::int64_t recomputed = 0;
  };

  // Brings the rollups up to date as of `day` (YYYY-MM-DD).
  Ensured ensure(const std::string& day) {
    pqxx::connection c(owner_url_);
    pqxx::nontransaction tx(c);
    auto r = tx.exec("SELECT rebuilt, recomputed FROM segments.ensure_donor_facts(0, false, " +
                     tx.quote(day) + "::date)")[0];
    return {r[0].as<bool>(), r[1].as<std::int64_t>()};
  }

  // The rollups as they are, against a full rebuild for the same day (rolled back): every row
  // that differs, at most 20, as text; "" when they are the same.
  std::string differences_from_full(const std::string& day) {
    pqxx::connection c(owner_url_);
    pqxx::work tx(c);
    tx.exec("CREATE TEMP TABLE kept AS SELECT * FROM segments.donor_facts");
    const auto kept = tx.exec("SELECT count(*) FROM kept")[0][0].as<std::int64_t>();
    EXPECT_GT(kept, 0);
    const auto state = [&] {
      return std::string(
          tx.exec(
                "SELECT as_of || ' ' || donors || ' ' || rfm_bounds::text || ' ' || "
                "mean_gift_cents || ' ' || (SELECT md5(string_agg(metric::text || ':' || value || "
                "':' || n, ',' ORDER BY metric, value)) FROM segments.rfm_counts WHERE n > 0) "
                "FROM segments.facts_state")[0][0]
              .c_str());
    };
    const auto kept_state = state();
    auto full = tx.exec("SELECT rebuilt FROM segments.ensure_donor_facts(0, true, " +
                        tx.quote(day) + "::date)")[0];
    EXPECT_TRUE(full[0].as<bool>());
    auto diff = tx.exec(
        "(SELECT 'kept' AS side, k.* FROM kept k EXCEPT SELECT 'kept', f.* FROM "
        "segments.donor_facts f) UNION ALL (SELECT 'full', f.* FROM segments.donor_facts f "
        "EXCEPT SELECT 'full', k.* FROM kept k) ORDER BY 2, 1 LIMIT 20");
    std::string out;
    if (state() != kept_state)
      out += "facts_state: kept " + kept_state + ", full " + state() + "\n";
    for (const auto& row : diff) {
      for (const auto& field : row) out += std::string(field.is_null() ? "-" : field.c_str()) + " ";
      out += "\n";
    }
    tx.abort();
    return out;
  }

  std::int64_t count(const std::string& statement) { return std::stoll(sql(statement)); }
};

TEST_F(SegmentFacts, IncrementalUpkeepEqualsAFullRebuildAfterEveryKindOfChange) {
  seed_donors(400);
  const auto today = date_ago(0);
  {
    const auto first = ensure(today);
    EXPECT_TRUE(first.rebuilt);  // the first build is a full one
  }
  EXPECT_EQ(differences_from_full(today), "");
  const auto rows = count("SELECT count(*) FROM segments.donor_facts");
  ASSERT_GT(rows, 100);

  // Nothing changed: nothing recomputed. An upsert that repeats a gift records nothing.
  sql("UPDATE donor.gifts SET updated_at = now() WHERE donor_id BETWEEN 1 AND 50");
  EXPECT_EQ(count("SELECT count(*) FROM segments.changed_donors"), 0);
  {
    const auto same = ensure(today);
    EXPECT_FALSE(same.rebuilt);
    EXPECT_EQ(same.recomputed, 0);
  }

  // New gifts (one for a donor without any, one dated in five days), refunds, a deleted gift,
  // a paused and a new recurring gift, an erasure and a merge (gifts moved to the survivor).
  sql("INSERT INTO donor.gifts (source, ref, donor_id, amount_cents, currency, received_on, "
      "status, updated_at) SELECT 'crm', 'new-' || i, i, 1234 * i, 'EUR', " +
      std::string("(now() AT TIME ZONE 'Europe/Berlin')::date - i % 3, 'completed', now() ") +
      "FROM generate_series(2, 20) i");
  sql("INSERT INTO donor.gifts (source, ref, donor_id, amount_cents, currency, received_on, "
      "status, updated_at) VALUES ('crm', 'future-7', 7, 99900, 'EUR', "
      "(now() AT TIME ZONE 'Europe/Berlin')::date + 5, 'completed', now())");
  sql("UPDATE donor.gifts SET status = 'refunded' WHERE id IN "
      "(SELECT id FROM donor.gifts WHERE status = 'completed' AND donor_id BETWEEN 30 AND 60 "
      "ORDER BY id LIMIT 12)");
  sql("DELETE FROM donor.gifts WHERE id = (SELECT min(id) FROM donor.gifts WHERE donor_id > 70 "
      "AND status = 'completed')");
  sql("UPDATE donor.recurring SET status = 'paused' WHERE id = (SELECT min(id) FROM "
      "donor.recurring)");
  sql("INSERT INTO donor.recurring (source, ref, donor_id, amount_cents, currency, interval, "
      "status, updated_at) VALUES ('crm', 'rc-new', 99, 3000, 'EUR', 'quarterly', 'active', "
      "now())");
  sql("UPDATE donor.donors SET erased_at = now() WHERE id = 101");
  sql("SELECT segments.erase_donor_data(105)");  // the erasure's own step, then the flag
  sql("UPDATE donor.donors SET erased_at = now() WHERE id = 105");
  sql("UPDATE donor.gifts SET donor_id = 103 WHERE donor_id = 102");
  sql("UPDATE donor.recurring SET donor_id = 103 WHERE donor_id = 102");
  sql("UPDATE donor.donors SET merged_into = 103 WHERE id = 102");
  {
    const auto touched = count("SELECT count(DISTINCT donor_id) FROM segments.changed_donors");
    EXPECT_GT(touched, 20);
    const auto step = ensure(today);
    EXPECT_FALSE(step.rebuilt);
    EXPECT_EQ(step.recomputed, touched);
    EXPECT_LT(step.recomputed, rows / 2);
  }
  EXPECT_EQ(count("SELECT count(*) FROM segments.donor_facts WHERE donor_id IN (101, 102, 105)"),
            0);
  EXPECT_EQ(differences_from_full(today), "");

  // Days pass without a write: the 365-day windows move, the future gift starts to count.
  for (const int days : {1, 5, 6, 40, 364, 365, 366, 800}) {
    SCOPED_TRACE(days);
    const auto day = date_ago(-days);
    const auto step = ensure(day);
    EXPECT_FALSE(step.rebuilt);
    EXPECT_LT(step.recomputed, rows / 2);
    EXPECT_EQ(differences_from_full(day), "");
  }
  // And a write after the day changed, on that day.
  sql("UPDATE donor.gifts SET amount_cents = amount_cents + 1 WHERE donor_id BETWEEN 200 AND 230");
  const auto later = date_ago(-800);
  EXPECT_FALSE(ensure(later).rebuilt);
  EXPECT_EQ(differences_from_full(later), "");
  // Backwards in time is a full rebuild.
  EXPECT_TRUE(ensure(today).rebuilt);
  EXPECT_EQ(differences_from_full(today), "");
}

TEST_F(SegmentFacts, RulesOnDaysFollowTheDayOfTheRollups) {
  DonorSpec d;
  d.id = 1;
  d.gifts.push_back({1000, 10, "completed", ""});
  write_donors({d});
  const auto id =
      create_segment(R"({"field": "days_since_last_gift", "op": "=", "value": 10})", "ten days");
  auto r = refresh(id);
  EXPECT_EQ((*r)["members"].GetInt64(), 1);
  // The rollups as of tomorrow (as a new day would make them): 11 days, no member.
  ensure(date_ago(-1));
  EXPECT_EQ(count("SELECT count(*) FROM segments.donor_facts f, segments.facts_state s WHERE "
                  "s.as_of - f.last_gift_on = 11"),
            1);
  // The service brings them back to today (a day backwards: a full rebuild) and finds it again.
  r = refresh(id);
  EXPECT_EQ((*r)["members"].GetInt64(), 1);
  EXPECT_EQ(count("SELECT count(*) FROM segments.memberships WHERE removed_in IS NULL"), 1);
}

TEST_F(SegmentFacts, ATruncateOrAForcedRebuildRebuildsEverything) {
  seed_donors(60);
  const auto today = date_ago(0);
  EXPECT_TRUE(ensure(today).rebuilt);
  EXPECT_FALSE(ensure(today).rebuilt);
  sql("TRUNCATE donor.recurring");
  EXPECT_TRUE(ensure(today).rebuilt);
  EXPECT_EQ(count("SELECT count(*) FROM segments.donor_facts WHERE recurring_active"), 0);
  EXPECT_EQ(sql("SELECT rebuilt::text FROM segments.ensure_donor_facts(0, true)"), "true");
}

}  // namespace
}  // namespace gabe::test
