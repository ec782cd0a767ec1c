// Segment rules end to end: every operator on every kind of field, consent per channel,
// erased, merged and placeholder donors, injection attempts, invalid rules, and the refresh
// diffs, each checked against memberships computed in C++ from the generated donor base.
#include <gtest/gtest.h>

#include <algorithm>

#include "segments_fixture.hpp"

namespace gabe::test {
namespace {

using Pred = std::function<bool(const DonorSpec&, const Facts&)>;

bool has_tag(const DonorSpec& d, const std::string& t) {
  return std::find(d.tags.begin(), d.tags.end(), t) != d.tags.end();
}

class SegmentRules : public SegmentsTest {
 protected:
  void check(const std::string& rule, const Pred& pred) {
    SCOPED_TRACE(rule);
    const auto id = create_segment(rule);
    ASSERT_NE(id, 0);
    auto r = refresh(id);
    const auto want = expected(pred);
    EXPECT_EQ((*r)["members"].GetInt64(), static_cast<std::int64_t>(want.size()));
    EXPECT_EQ(members(id), want);
  }
};

TEST_F(SegmentRules, EveryOperatorMatchesTheIndependentComputation) {
  seed_donors(260);
  // Numbers and money (money values in euros; facts in cents).
  check(R"({"field": "gift_count", "op": "=", "value": 2})",
        [](auto&, auto& f) { return f.gift_count == 2; });
  check(R"({"field": "gift_count", "op": "!=", "value": 0})",
        [](auto&, auto& f) { return f.gift_count != 0; });
  check(R"({"field": "gift_count_365d", "op": ">", "value": 1})",
        [](auto&, auto& f) { return f.gift_count_365d > 1; });
  check(R"({"field": "gift_amount_365d", "op": ">=", "value": "100.00"})",
        [](auto&, auto& f) { return f.total_365d >= 10000; });
  check(R"({"field": "gift_amount_total", "op": "<", "value": 150})",
        [](auto&, auto& f) { return f.total < 15000; });
  check(R"({"field": "largest_gift", "op": "<=", "value": "199.99"})",
        [](auto&, auto& f) { return f.largest && *f.largest <= 19999; });
  check(R"({"field": "last_gift_amount", "op": "in", "value": ["25.00", 500]})",
        [](auto&, auto& f) {
          return f.last_amount && (*f.last_amount == 2500 || *f.last_amount == 50000);
        });
  check(R"({"field": "recurring_monthly_amount", "op": "between", "value": ["1.00", "20.00"]})",
        [](auto&, auto& f) { return f.recurring_monthly >= 100 && f.recurring_monthly <= 2000; });
  // Days and dates.
  check(R"({"field": "days_since_last_gift", "op": "between", "value": [365, 729]})",
        [](auto&, auto& f) {
          return f.last_days_ago && *f.last_days_ago >= 365 && *f.last_days_ago <= 729;
        });
  check(R"({"field": "first_gift_on", "op": ">", "value": ")" + date_ago(400) + "\"}",
        [](auto&, auto& f) { return f.first_days_ago && *f.first_days_ago < 400; });
  check(R"({"field": "last_gift_on", "op": "between", "value": [")" + date_ago(900) + R"(", ")" +
            date_ago(100) + "\"]}",
        [](auto&, auto& f) {
          return f.last_days_ago && *f.last_days_ago >= 100 && *f.last_days_ago <= 900;
        });
  check(R"({"field": "last_gift_on", "op": "exists"})",
        [](auto&, auto& f) { return f.last_days_ago.has_value(); });
  check(R"({"field": "largest_gift", "op": "exists", "value": false})",
        [](auto&, auto& f) { return !f.largest.has_value(); });
  // Booleans, texts and tags.
  check(R"({"field": "recurring_active", "op": "=", "value": true})",
        [](auto&, auto& f) { return f.recurring_active; });
  check(R"({"field": "recurring_active", "op": "!=", "value": true})",
        [](auto&, auto& f) { return !f.recurring_active; });
  check(R"({"field": "language", "op": "=", "value": "de"})",
        [](auto& d, auto&) { return d.language == "de"; });
  // A comparison with a missing value is false: no language is not "!= de".
  check(R"({"field": "language", "op": "!=", "value": "de"})",
        [](auto& d, auto&) { return !d.language.empty() && d.language != "de"; });
  check(R"({"not": {"field": "language", "op": "=", "value": "de"}})",
        [](auto& d, auto&) { return d.language != "de"; });
  check(R"({"field": "country", "op": "in", "value": ["AT", "CH"]})",
        [](auto& d, auto&) { return d.country == "AT" || d.country == "CH"; });
  check(R"({"field": "country", "op": "exists", "value": false})",
        [](auto& d, auto&) { return d.country.empty(); });
  check(R"({"field": "tags", "op": "contains", "value": "major"})",
        [](auto& d, auto&) { return has_tag(d, "major"); });
  check(R"({"field": "tags", "op": "in", "value": ["board", "volunteer"]})",
        [](auto& d, auto&) { return has_tag(d, "board") || has_tag(d, "volunteer"); });
  check(R"({"field": "tags", "op": "exists"})", [](auto& d, auto&) { return !d.tags.empty(); });
  // Scores.
  check(R"({"field": "score.give_90d", "op": ">=", "value": 0.5})",
        [](auto& d, auto&) { return d.score && *d.score >= 0.5; });
  check(R"({"field": "decile.give_90d", "op": "<=", "value": 3})",
        [](auto& d, auto&) { return d.score && d.decile <= 3; });
  check(R"({"field": "score.give_90d", "op": "exists", "value": false})",
        [](auto& d, auto&) { return !d.score; });
  check(R"({"field": "score.lapse_180d", "op": ">", "value": 0})",
        [](auto&, auto&) { return false; });  // no scores for that target yet
  // Combinations.
  check(R"({"all": [{"field": "gift_amount_365d", "op": ">=", "value": "100.00"},
                    {"consent": "post"}]})",
        [](auto& d, auto& f) {
          return f.total_365d >= 10000 && d.consent.count("post") && d.consent.at("post");
        });
  check(R"({"any": [{"field": "tags", "op": "contains", "value": "board"},
                    {"all": [{"field": "gift_count", "op": ">=", "value": 4},
                             {"not": {"consent": "email"}}]}]})",
        [](auto& d, auto& f) {
          const bool email = d.consent.count("email") && d.consent.at("email");
          return has_tag(d, "board") || (f.gift_count >= 4 && !email);
        });
  check(R"({"all": []})", [](auto&, auto&) { return true; });
  check(R"({"any": []})", [](auto&, auto&) { return false; });
}

TEST_F(SegmentRules, ConsentIsPerChannel) {
  seed_donors(120, 7);
  for (const std::string ch : {"email", "post", "phone", "sms"}) {
    check(R"({"consent": ")" + ch + "\"}",
          [ch](auto& d, auto&) { return d.consent.count(ch) && d.consent.at(ch); });
  }
}

TEST_F(SegmentRules, ErasedMergedAndPlaceholderDonorsAreNeverMembers) {
  seed_donors(200, 11);
  const auto id = create_segment(R"({"all": []})");
  refresh(id);
  const auto got = members(id);
  int excluded = 0;
  for (const auto& d : donors_) {
    if (eligible(d)) continue;
    ++excluded;
    EXPECT_EQ(got.count(d.id), 0u) << d.id;
  }
  EXPECT_GT(excluded, 8);
  // Erasing a member (the platform's erasure, as ingest runs it) removes the membership at
  // once, before any refresh, and the next refresh counts it as removed.
  const std::int64_t victim = *got.begin();
  sql("SELECT gabe.erase_donor(" + std::to_string(victim) + ", 'ingest', 'ops')");
  EXPECT_EQ(members(id).count(victim), 0u);
  EXPECT_EQ(
      sql("SELECT count(*) FROM segments.memberships WHERE donor_id = " + std::to_string(victim)),
      "0");
  auto r = refresh(id);
  EXPECT_EQ((*r)["members"].GetInt64(), static_cast<std::int64_t>(got.size()) - 1);
}

TEST_F(SegmentRules, InjectionAttemptsAreJustValuesOrUnknownFields) {
  seed_donors(50, 3);
  const std::string before = sql("SELECT count(*) FROM donor.donors");
  for (const char* value : {"de'); DROP TABLE donor.donors; --", "' OR '1'='1", "de\\\" OR true --",
                            "$1", "]::text); SELECT pg_sleep(5); --"}) {
    const auto id = create_segment(std::string(R"({"field": "language", "op": "=", "value": ")") +
                                   value + "\"}");
    auto r = refresh(id);
    EXPECT_EQ((*r)["members"].GetInt64(), 0) << value;
  }
  // Field names and operators are never SQL: anything outside the catalogue is a 422.
  for (const char* field :
       {"language; DROP TABLE donor.donors", "d.id", "score.x'--", "f.gift_count) OR (true"}) {
    auto r = call("POST", "/v1/segments",
                  std::string(R"({"name": "x", "rule": {"field": ")") + field +
                      R"(", "op": "=", "value": 1}})");
    EXPECT_EQ(r.status, 422) << field;
    EXPECT_NE(r.body.find("unknown field"), std::string::npos) << r.body;
  }
  auto r =
      call("POST", "/v1/segments",
           R"({"name": "x", "rule": {"field": "gift_count", "op": "= 1 OR 1 =", "value": 1}})");
  EXPECT_EQ(r.status, 422);
  EXPECT_EQ(sql("SELECT count(*) FROM donor.donors"), before);
  EXPECT_EQ(sql("SELECT count(*) FROM segments.segments WHERE name = 'x'"), "0");
}

TEST_F(SegmentRules, InvalidRulesAre422NamingEveryBadPartAndWriteNothing) {
  const std::string before = sql("SELECT count(*) FROM segments.segments");
  auto r = call("POST", "/v1/segments", R"({"name": "bad", "rule": {"all": [
      {"field": "no_such_field", "op": "=", "value": 1},
      {"field": "gift_count", "op": "like", "value": 1},
      {"field": "gift_count", "op": "=", "value": "one"},
      {"consent": "pigeon"}]}})");
  ASSERT_EQ(r.status, 422);
  EXPECT_EQ(r.header("content-type").value_or(""), "application/problem+json");
  auto doc = json(r);
  std::set<std::string> fields;
  for (const auto& e : (*doc)["errors"].GetArray()) fields.insert(e["field"].GetString());
  EXPECT_EQ(fields, (std::set<std::string>{"rule.all[0].field", "rule.all[1].op",
                                           "rule.all[2].value", "rule.all[3].consent"}));
  EXPECT_NE(r.body.find("no_such_field"), std::string::npos);
  EXPECT_NE(r.body.find("'like' is not an operator"), std::string::npos);

  // Missing and misspelt top-level fields, bad JSON, deep nesting, wrong media type.
  EXPECT_EQ(call("POST", "/v1/segments", R"({"name": "n"})").status, 422);
  EXPECT_EQ(call("POST", "/v1/segments", R"({"name": "n", "rul": {"all": []}})").status, 422);
  EXPECT_EQ(call("POST", "/v1/segments", R"({"name": "n", "rule": )").status, 400);
  std::string deep(10000, '[');
  EXPECT_EQ(call("POST", "/v1/segments", R"({"name": "n", "rule": )" + deep).status, 400);
  std::string nested = R"({"consent": "post"})";
  for (int i = 0; i < 20; ++i) nested = R"({"not": )" + nested + "}";
  EXPECT_EQ(call("POST", "/v1/segments", R"({"name": "n", "rule": )" + nested + "}").status, 422);
  EXPECT_EQ(client_
                ->request("POST", "/v1/segments",
                          {{"Authorization", "Bearer " + fundraiser_token_},
                           {"Content-Type", "text/plain"}},
                          R"({"name": "n", "rule": {"all": []}})")
                .status,
            415);
  EXPECT_EQ(sql("SELECT count(*) FROM segments.segments"), before);
}

TEST_F(SegmentRules, RefreshCountsAddedAndRemovedAndKeepsHistory) {
  seed_donors(150, 5);
  const auto id =
      create_segment(R"({"field": "gift_amount_total", "op": ">=", "value": "300.00"})");
  auto first = refresh(id);
  const auto want = expected([](auto&, auto& f) { return f.total >= 30000; });
  ASSERT_GT(want.size(), 3u);
  EXPECT_EQ((*first)["added"].GetInt64(), static_cast<std::int64_t>(want.size()));
  EXPECT_EQ((*first)["removed"].GetInt64(), 0);

  // Nothing changed: nothing added or removed.
  auto again = refresh(id);
  EXPECT_EQ((*again)["added"].GetInt64(), 0);
  EXPECT_EQ((*again)["removed"].GetInt64(), 0);

  // Two members drop out (their gifts refunded), one outsider joins (a new large gift): the
  // gift writes mark the rollups stale, so the next refresh sees them at once.
  auto it = want.begin();
  const auto out1 = *it++;
  const auto out2 = *it;
  std::int64_t joiner = 0;
  for (const auto& d : donors_)
    if (eligible(d) && !want.count(d.id)) joiner = d.id;
  ASSERT_NE(joiner, 0);
  sql("UPDATE donor.gifts SET status = 'refunded' WHERE donor_id IN (" + std::to_string(out1) +
      ", " + std::to_string(out2) + ")");
  sql("INSERT INTO donor.gifts (source, ref, donor_id, amount_cents, currency, received_on, "
      "status, updated_at) VALUES ('crm', 'big', " +
      std::to_string(joiner) + ", 100000, 'EUR', current_date - 1, 'completed', now())");
  auto third = refresh(id);
  EXPECT_EQ((*third)["added"].GetInt64(), 1);
  EXPECT_EQ((*third)["removed"].GetInt64(), 2);
  EXPECT_EQ((*third)["members"].GetInt64(), static_cast<std::int64_t>(want.size()) - 1);
  auto now = members(id);
  EXPECT_EQ(now.count(out1), 0u);
  EXPECT_EQ(now.count(joiner), 1u);

  // History, newest first, and the snapshot of the first refresh can be read back.
  auto h = call("GET", "/v1/segments/" + std::to_string(id) + "/refreshes", "", viewer_token_);
  ASSERT_EQ(h.status, 200) << h.body;
  auto hist = json(h);
  ASSERT_EQ((*hist)["items"].Size(), 3u);
  EXPECT_EQ((*hist)["items"][0]["added"].GetInt64(), 1);
  EXPECT_EQ((*hist)["items"][0]["removed"].GetInt64(), 2);
  EXPECT_EQ((*hist)["items"][2]["members"].GetInt64(), static_cast<std::int64_t>(want.size()));
  const auto first_refresh = std::to_string((*first)["refresh_id"].GetInt64());
  EXPECT_EQ(sql("SELECT count(*) FROM segments.memberships WHERE segment_id = " +
                std::to_string(id) + " AND added_in <= " + first_refresh +
                " AND (removed_in IS NULL OR removed_in > " + first_refresh + ")"),
            std::to_string(want.size()));
}

}  // namespace
}  // namespace gabe::test
