// The segments API around the rules: CRUD and roles, the built-in RFM and lifecycle segments,
// the consented exports (columns per channel, RFC 4180 CSV, audit entries), and hostile input
// on every route (no or a wrong role, invalid UTF-8, oversized values, a stalled database).
#include <gtest/gtest.h>

#include <chrono>
#include <thread>
#include <tuple>

#include "gabe/text.hpp"
#include "segments_fixture.hpp"

namespace gabe::test {
namespace {

// RFC 4180: CRLF-separated records, fields quoted when they hold , " CR or LF.
std::vector<std::vector<std::string>> parse_csv(const std::string& text) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> row;
  std::string field;
  bool quoted = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        field += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        field += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      row.push_back(field);
      field.clear();
    } else if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') {
      row.push_back(field);
      field.clear();
      rows.push_back(row);
      row.clear();
      ++i;
    } else {
      field += c;
    }
  }
  EXPECT_TRUE(field.empty() && row.empty()) << "the last record must end with CRLF";
  return rows;
}

class SegmentsApi : public SegmentsTest {};

TEST_F(SegmentsApi, CrudWithRolesAndConflicts) {
  auto created = call("POST", "/v1/segments",
                      R"({"name": "Große Spender", "description": "ab 500 €",
                          "rule": {"field": "gift_amount_total", "op": ">=", "value": "500.00"}})");
  ASSERT_EQ(created.status, 201) << created.body;
  auto doc = json(created);
  const auto id = std::to_string((*doc)["id"].GetInt64());
  EXPECT_STREQ((*doc)["name"].GetString(), "Große Spender");
  EXPECT_FALSE((*doc)["builtin"].GetBool());
  EXPECT_STREQ((*doc)["created_by"].GetString(), "fundraiser");
  EXPECT_TRUE((*doc)["members"].IsNull());

  EXPECT_EQ(
      call("POST", "/v1/segments", R"({"name": "große spender", "rule": {"all": []}})").status,
      409);
  auto got = call("GET", "/v1/segments/" + id, "", viewer_token_);
  ASSERT_EQ(got.status, 200);
  EXPECT_STREQ((*json(got))["rule"]["op"].GetString(), ">=");

  auto put = call("PUT", "/v1/segments/" + id,
                  R"({"name": "Große Spender 2", "rule": {"consent": "post"}})");
  ASSERT_EQ(put.status, 200) << put.body;
  EXPECT_STREQ((*json(put))["rule"]["consent"].GetString(), "post");
  EXPECT_EQ(
      call("PUT", "/v1/segments/" + id, R"({"name": "x", "rule": {"consent": "fax"}})").status,
      422);

  // The list holds the 21 built-in segments and this one.
  auto list = call("GET", "/v1/segments?limit=1000", "", viewer_token_);
  ASSERT_EQ(list.status, 200);
  EXPECT_EQ((*json(list))["items"].Size(), 22u);

  // The fields a rule may name, for rule editors.
  auto fields = call("GET", "/v1/segments/fields", "", viewer_token_);
  ASSERT_EQ(fields.status, 200) << fields.body;
  std::set<std::string> names;
  const auto fields_doc =
      json(fields);  // alive for the loop: a temporary in the range would not be
  for (const auto& f : (*fields_doc)["items"].GetArray()) names.insert(f["name"].GetString());
  for (const char* name :
       {"gift_count", "tags", "rfm_r", "days_since_first_gift", "score.<target>"})
    EXPECT_EQ(names.count(name), 1u) << name;
  EXPECT_EQ(names.count("gender"), 0u);

  // Roles: viewers read, fundraisers write; no token, no answer.
  EXPECT_EQ(
      call("POST", "/v1/segments", R"({"name": "v", "rule": {"all": []}})", viewer_token_).status,
      403);
  EXPECT_EQ(call("POST", "/v1/segments/" + id + "/refresh", "", viewer_token_).status, 403);
  EXPECT_EQ(client_->get("/v1/segments").status, 401);

  // Deleting a segment deletes its memberships in the same statement (they have no foreign
  // key): none are left behind.
  seed_donors(20);
  const auto everyone = create_segment(R"({"all": []})", "everyone");
  const auto everyone_members = (*refresh(everyone))["members"].GetInt64();
  ASSERT_GT(everyone_members, 0);
  const auto everyone_rows =
      "SELECT count(*) FROM segments.memberships WHERE segment_id = " + std::to_string(everyone);
  EXPECT_EQ(sql(everyone_rows), std::to_string(everyone_members));
  EXPECT_EQ(call("DELETE", "/v1/segments/" + std::to_string(everyone)).status, 200);
  EXPECT_EQ(sql(everyone_rows), "0");

  EXPECT_EQ(call("DELETE", "/v1/segments/" + id).status, 200);
  EXPECT_EQ(call("GET", "/v1/segments/" + id).status, 404);
  EXPECT_EQ(call("POST", "/v1/segments/999999/refresh").status, 404);
  EXPECT_EQ(call("GET", "/v1/segments/abc").status, 404);
  EXPECT_EQ(sql("SELECT string_agg(action, ',' ORDER BY id) FROM gabe.audit_log WHERE entity = "
                "'segment:" +
                id + "'"),
            "segment.create,segment.update,segment.delete");
}

TEST_F(SegmentsApi, BuiltinSegmentsAreReadOnlyAndMatchTheirDefinitions) {
  seed_donors(300, 99);
  auto id_of = [&](const std::string& name) {
    return std::stoll(
        sql("SELECT id FROM segments.segments WHERE builtin AND name = '" + name + "'"));
  };
  EXPECT_EQ(sql("SELECT count(*) FROM segments.segments WHERE builtin"), "21");
  const auto lapsed = id_of("lapsed");
  EXPECT_EQ(call("PUT", "/v1/segments/" + std::to_string(lapsed),
                 R"({"name": "lapsed", "rule": {"all": []}})")
                .status,
            409);
  EXPECT_EQ(call("DELETE", "/v1/segments/" + std::to_string(lapsed)).status, 409);

  auto days = [](const Facts& f, int lo, int hi) {
    return f.last_days_ago && *f.last_days_ago >= lo && *f.last_days_ago <= hi;
  };
  struct Case {
    std::string name;
    std::function<bool(const DonorSpec&, const Facts&)> pred;
  };
  const std::vector<Case> cases{
      {"new", [](auto&, auto& f) { return f.first_days_ago && *f.first_days_ago <= 364; }},
      {"active", [&](auto&, auto& f) { return days(f, 0, 364) && *f.first_days_ago >= 365; }},
      {"loyal",
       [&](auto&, auto& f) {
         return days(f, 0, 364) && *f.first_days_ago >= 365 &&
                (f.recurring_active || f.gift_count >= 5);
       }},
      {"at-risk", [&](auto&, auto& f) { return days(f, 181, 364) && !f.recurring_active; }},
      {"lapsed", [&](auto&, auto& f) { return days(f, 365, 729); }},
      {"deep-lapsed", [&](auto&, auto& f) { return days(f, 730, 100000); }},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const auto id = id_of(c.name);
    refresh(id);
    EXPECT_EQ(members(id), expected(c.pred));
  }
  // RFM: quintile q = ceil(5 k / N) among the N donors with completed gifts (not erased or
  // merged), k the number of them at or below the donor's value.
  std::vector<std::pair<std::int64_t, Facts>> ranked;
  for (const auto& d : donors_) {
    auto f = facts_of(d);
    if (!d.erased && !d.merged && f.gift_count > 0) ranked.emplace_back(d.id, f);
  }
  const auto n = static_cast<std::int64_t>(ranked.size());
  auto quintile = [&](auto value_of, const Facts& mine) {
    std::int64_t k = 0;
    for (const auto& [id, f] : ranked) k += value_of(f) <= value_of(mine) ? 1 : 0;
    return (5 * k + n - 1) / n;
  };
  auto recency = [](const Facts& f) { return -static_cast<std::int64_t>(*f.last_days_ago); };
  auto frequency = [](const Facts& f) { return f.gift_count; };
  auto monetary = [](const Facts& f) { return f.total; };
  for (int q : {1, 3, 5}) {
    for (const auto& quintile_of :
         std::vector<std::pair<std::string, std::function<std::int64_t(const Facts&)>>>{
             {"R", recency}, {"F", frequency}, {"M", monetary}}) {
      // Not a structured binding: clang before 16 cannot capture one in the lambda below.
      const auto& letter = quintile_of.first;
      const auto& value_of = quintile_of.second;
      SCOPED_TRACE(letter + std::to_string(q));
      const auto id = id_of("RFM " + letter + std::to_string(q));
      refresh(id);
      EXPECT_EQ(members(id), expected([&](auto&, auto& f) {
                  return f.gift_count > 0 && quintile(value_of, f) == q;
                }));
    }
  }
}

TEST_F(SegmentsApi, ExportsListOnlyConsentedMembersWithTheirChannelsColumns) {
  seed_donors(160, 21);
  const auto id = create_segment(R"({"field": "gift_count", "op": ">=", "value": 1})");
  refresh(id);
  const auto sid = std::to_string(id);
  const auto all = expected([](auto&, auto& f) { return f.gift_count >= 1; });
  auto consented = [&](const std::string& ch) {
    return expected([&](auto& d, auto& f) {
      return f.gift_count >= 1 && d.consent.count(ch) && d.consent.at(ch);
    });
  };

  // Post, as CSV: exactly the consented members, the post columns, RFC 4180.
  auto r = call("GET", "/v1/segments/" + sid + "/members?format=csv&channel=post");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.header("content-type").value_or(""), "text/csv; charset=utf-8");
  auto rows = parse_csv(r.body);
  ASSERT_FALSE(rows.empty());
  EXPECT_EQ(rows[0], (std::vector<std::string>{"donor_id", "source", "ref", "first_name",
                                               "last_name", "organization_name", "street",
                                               "postal_code", "city", "country"}));
  std::set<std::int64_t> listed;
  for (std::size_t i = 1; i < rows.size(); ++i) {
    ASSERT_EQ(rows[i].size(), 10u);
    const auto donor = std::stoll(rows[i][0]);
    listed.insert(donor);
    const auto& d = donors_.at(static_cast<std::size_t>(donor - 1));
    EXPECT_EQ(rows[i][2], "r" + rows[i][0]);
    EXPECT_EQ(rows[i][4], d.last_name);          // commas and quotes survive
    EXPECT_EQ(rows[i][5], d.organization_name);  // so do line breaks
    EXPECT_EQ(rows[i][6], d.street);
    EXPECT_EQ(rows[i][9], d.country);
  }
  EXPECT_EQ(listed, consented("post"));
  EXPECT_NE(r.body.find("\"Müller, \"\"Mü\"\"\""), std::string::npos);
  EXPECT_EQ(r.body.find("@example.org"), std::string::npos);  // no e-mail in a post list

  // E-mail, as JSON: names and e-mail only.
  auto e = call("GET", "/v1/segments/" + sid + "/members?channel=email&limit=1000");
  ASSERT_EQ(e.status, 200);
  auto doc = json(e);
  std::set<std::int64_t> emailed;
  for (const auto& item : (*doc)["items"].GetArray()) {
    emailed.insert(item["donor_id"].GetInt64());
    EXPECT_TRUE(item.HasMember("email"));
    EXPECT_TRUE(item.HasMember("last_name"));
    EXPECT_FALSE(item.HasMember("street"));
    EXPECT_FALSE(item.HasMember("phone"));
  }
  EXPECT_EQ(emailed, consented("email"));
  EXPECT_EQ(members(id, "phone"), consented("phone"));

  // Without a channel: every member, no personal data at all.
  auto plain = call("GET", "/v1/segments/" + sid + "/members?format=csv");
  ASSERT_EQ(plain.status, 200);
  auto plain_rows = parse_csv(plain.body);
  EXPECT_EQ(plain_rows[0], (std::vector<std::string>{"donor_id", "source", "ref"}));
  EXPECT_EQ(plain_rows.size(), all.size() + 1);
  for (const char* pii : {"Vorname", "Straße", "@example.org", "+4930"})
    EXPECT_EQ(plain.body.find(pii), std::string::npos) << pii;

  // Every export is audited: who, which segment, channel, format, rows (four so far: post
  // CSV, e-mail JSON, phone JSON in one page, plain CSV).
  EXPECT_EQ(sql("SELECT count(*) FROM gabe.audit_log WHERE action = 'segment.export' AND "
                "entity = 'segment:" +
                sid + "'"),
            "4");
  EXPECT_EQ(sql("SELECT details::text FROM gabe.audit_log WHERE action = 'segment.export' "
                "ORDER BY id LIMIT 1"),
            R"({"rows": )" + std::to_string(consented("post").size()) +
                R"(, "format": "csv", "channel": "post"})");
  EXPECT_EQ(sql("SELECT actor FROM gabe.audit_log WHERE action = 'segment.export' LIMIT 1"),
            "fundraiser");

  // A consent withdrawn after the refresh takes effect in the next export at once.
  const auto first = *consented("post").begin();
  sql("UPDATE donor.consents SET granted = false WHERE channel = 'post' AND donor_id = " +
      std::to_string(first));
  EXPECT_EQ(members(id, "post").count(first), 0u);

  // Viewers may not export; unknown channels and formats are 422.
  EXPECT_EQ(call("GET", "/v1/segments/" + sid + "/members", "", viewer_token_).status, 403);
  EXPECT_EQ(call("GET", "/v1/segments/" + sid + "/members?channel=fax").status, 422);
  EXPECT_EQ(call("GET", "/v1/segments/" + sid + "/members?format=xml").status, 422);
  EXPECT_EQ(call("GET", "/v1/segments/999999/members").status, 404);
}

TEST_F(SegmentsApi, ErasureAndAccessExportIncludeSegments) {
  seed_donors(40, 4);
  const auto id = create_segment(R"({"all": []})");
  refresh(id);
  const auto donor = *members(id).begin();
  const auto export_doc =
      sql("SELECT gabe.export_donor(" + std::to_string(donor) + ")->'segment_memberships'");
  EXPECT_NE(export_doc.find("\"segment_id\": " + std::to_string(id)), std::string::npos)
      << export_doc;
  sql("SELECT gabe.erase_donor(" + std::to_string(donor) + ", 'ingest', 'ops')");
  EXPECT_EQ(
      sql("SELECT count(*) FROM segments.memberships WHERE donor_id = " + std::to_string(donor)),
      "0");
  EXPECT_EQ(sql("SELECT gabe.export_donor(" + std::to_string(donor) + ")->>'segment_memberships'"),
            "[]");
}

TEST_F(SegmentsApi, TheServiceRoleHasOnlyWhatItNeeds) {
  url_ = owner_url_;  // as_role() works as the owner; the service keeps running as gabe_segments
  EXPECT_EQ(as_role("gabe_segments", "SELECT first_name FROM pii.donor_pii LIMIT 1"), "ok");
  EXPECT_EQ(as_role("gabe_segments", "UPDATE pii.donor_pii SET city = 'x'"), "42501");
  EXPECT_EQ(as_role("gabe_segments", "DELETE FROM donor.gifts"), "42501");
  EXPECT_EQ(as_role("gabe_segments", "UPDATE donor.consents SET granted = true"), "42501");
  EXPECT_EQ(as_role("gabe_segments", "DELETE FROM donor.appeals"), "42501");
  EXPECT_EQ(as_role("gabe_segments", "UPDATE scoring.current_scores SET score = 1"), "42501");
  EXPECT_EQ(as_role("gabe_segments", "SELECT 1 FROM ingest.inbox LIMIT 1"), "42501");
  EXPECT_EQ(as_role("gabe_segments", "DELETE FROM gabe.audit_log"), "42501");
  // What a recorded mailing writes.
  EXPECT_EQ(as_role("gabe_segments",
                    "INSERT INTO donor.appeals (source, campaign_ref, donor_id, sent_on) "
                    "SELECT 'crm', 'c', id, current_date FROM donor.donors LIMIT 0"),
            "ok");
  EXPECT_EQ(as_role("gabe_scoring", "SELECT 1 FROM segments.memberships"), "42501");
}

class SegmentsScheduler : public SegmentsTest {
 protected:
  SegmentsScheduler() { settings_["GABE_SEGMENTS_REFRESH_INTERVAL"] = "1"; }
  void prepare_database() override {
    SegmentsTest::prepare_database();
    seed_donors(60, 8);  // before the service starts, so that its first refresh sees them
  }
};

TEST_F(SegmentsScheduler, KeepsTheBuiltinSegmentsFresh) {
  ASSERT_TRUE(wait_until(
      [&] {
        return sql("SELECT count(*) FROM segments.segments WHERE builtin AND refreshed_at IS NOT "
                   "NULL") == "21";
      },
      std::chrono::seconds(30)));
  EXPECT_EQ(sql("SELECT DISTINCT actor FROM segments.refreshes"), "scheduler");
  const auto lapsed = std::stoll(sql("SELECT id FROM segments.segments WHERE name = 'lapsed'"));
  EXPECT_EQ(members(lapsed), expected([](auto&, auto& f) {
              return f.last_days_ago && *f.last_days_ago >= 365 && *f.last_days_ago <= 729;
            }));
}

// A valid matching request (one campaign).
const std::string kRunBody =
    R"({"campaigns": [{"campaign_ref": "c1", "target": "give_90d", "capacity": 5,
        "cost_per_contact": "1.00", "channel": "post"}]})";

// Every route asks for its role before anything else: no token or an unknown one is 401, a
// viewer on a fundraiser route is 403 and changes nothing, an admin passes everywhere.
TEST_F(SegmentsApi, EveryRouteAsksForItsRole) {
  const auto id = std::to_string(create_segment(R"({"all": []})"));
  const std::string segment = R"({"name": "viewer's", "rule": {"all": []}})";
  const std::string appeals = R"({"campaign_ref": "c1", "sent_on": "2026-11-20"})";
  // (method, target, body, fundraiser only)
  const std::vector<std::tuple<std::string, std::string, std::string, bool>> routes{
      {"GET", "/v1/segments", "", false},
      {"GET", "/v1/segments/fields", "", false},
      {"GET", "/v1/segments/" + id, "", false},
      {"GET", "/v1/segments/" + id + "/refreshes", "", false},
      {"GET", "/v1/matching/runs", "", false},
      {"GET", "/v1/matching/runs/1", "", false},
      {"GET", "/v1/campaigns/c1/results", "", false},
      {"POST", "/v1/segments", segment, true},
      {"PUT", "/v1/segments/" + id, segment, true},
      {"DELETE", "/v1/segments/" + id, "", true},
      {"POST", "/v1/segments/" + id + "/refresh", "", true},
      {"GET", "/v1/segments/" + id + "/members", "", true},
      {"GET", "/v1/segments/" + id + "/members?format=csv&channel=post", "", true},
      {"POST", "/v1/matching/runs", kRunBody, true},
      {"GET", "/v1/matching/runs/1/assignments?format=csv", "", true},
      {"POST", "/v1/matching/runs/1/record-appeals", appeals, true},
  };
  for (const auto& [method, target, body, fundraiser_only] : routes) {
    SCOPED_TRACE(std::string(method).append(" ").append(target));
    std::vector<std::pair<std::string, std::string>> json_type;
    if (!body.empty()) json_type.emplace_back("Content-Type", "application/json");
    EXPECT_EQ(client_->request(method, target, json_type, body).status, 401);
    auto bad = json_type;
    bad.emplace_back("Authorization", "Bearer gabe_not_a_token");
    EXPECT_EQ(client_->request(method, target, bad, body).status, 401);
    const auto as_viewer = call(method, target, body, viewer_token_).status;
    if (fundraiser_only) {
      EXPECT_EQ(as_viewer, 403);
    } else {
      EXPECT_TRUE(as_viewer == 200 || as_viewer == 404) << as_viewer;
    }
    if (method == "GET") {
      const auto as_admin = call(method, target, "", admin_token_).status;
      EXPECT_TRUE(as_admin == 200 || as_admin == 404) << as_admin;
    }
  }
  // Nothing a refused request asked for happened.
  EXPECT_EQ(sql("SELECT name FROM segments.segments WHERE id = " + id), "segment 1");
  EXPECT_EQ(sql("SELECT count(*) FROM segments.segments WHERE name = 'viewer''s'"), "0");
  EXPECT_EQ(sql("SELECT count(*) FROM segments.refreshes"), "0");
  EXPECT_EQ(sql("SELECT count(*) FROM segments.matching_runs"), "0");
  EXPECT_EQ(sql("SELECT count(*) FROM gabe.audit_log WHERE action LIKE '%.export'"), "2");
}

// Text that is not valid UTF-8 (raw bytes, a lone surrogate escape) is a 400 wherever it comes
// in: a body, a query parameter, a path parameter; NUL is a 422. Nothing is written.
TEST_F(SegmentsApi, InvalidUtf8AndNulAreRefusedOnEveryRoute) {
  const auto id = std::to_string(create_segment(R"({"all": []})"));
  const std::string before = sql("SELECT count(*) FROM segments.segments");
  for (const std::string& bad : {std::string("\xff"), std::string("\xc3") + "(",
                                 std::string("\xed\xa0\x80"), std::string("\\udc00")}) {
    SCOPED_TRACE(bad);
    EXPECT_EQ(
        call("POST", "/v1/segments", R"({"name": "n)" + bad + R"(", "rule": {"all": []}})").status,
        400);
    EXPECT_EQ(call("POST", "/v1/segments",
                   R"({"name": "n", "rule": {"field": "language", "op": "=", "value": ")" + bad +
                       R"("}})")
                  .status,
              400);
    EXPECT_EQ(call("PUT", "/v1/segments/" + id,
                   R"({"name": "n", "description": ")" + bad + R"(", "rule": {"all": []}})")
                  .status,
              400);
    EXPECT_EQ(call("POST", "/v1/matching/runs",
                   R"({"campaigns": [{"campaign_ref": ")" + bad +
                       R"(", "target": "give_90d", "capacity": 5, "cost_per_contact": "1.00",
                       "channel": "post"}]})")
                  .status,
              400);
    EXPECT_EQ(call("POST", "/v1/matching/runs/1/record-appeals",
                   R"({"campaign_ref": ")" + bad + R"(", "sent_on": "2026-11-20"})")
                  .status,
              400);
  }
  EXPECT_EQ(call("GET", "/v1/campaigns/%FF/results", "", viewer_token_).status, 400);
  EXPECT_EQ(call("GET", "/v1/campaigns/%C3%28/results", "", viewer_token_).status, 400);
  EXPECT_EQ(call("GET", "/v1/matching/runs/1/assignments?campaign_ref=%ED%A0%80").status, 400);
  EXPECT_EQ(call("GET", "/v1/segments/" + id + "/members?channel=%FF").status, 400);
  // NUL is valid UTF-8 but no PostgreSQL text: a 422 naming the field.
  auto nul = call("POST", "/v1/segments", R"({"name": "a\u0000b", "rule": {"all": []}})");
  EXPECT_EQ(nul.status, 422) << nul.body;
  EXPECT_NE(nul.body.find("\"name\""), std::string::npos) << nul.body;
  EXPECT_EQ(call("POST", "/v1/matching/runs",
                 R"({"campaigns": [{"campaign_ref": "a\u0000", "target": "give_90d",
                     "capacity": 5, "cost_per_contact": "1.00", "channel": "post"}]})")
                .status,
            422);
  EXPECT_EQ(call("GET", "/v1/campaigns/a%00b/results", "", viewer_token_).status, 400);
  // Long names that errors echo are shortened whole characters at a time: the 422 stays valid
  // UTF-8 (an unknown key of the body, of a campaign and of a rule; an unknown field and
  // operator).
  const std::string long_name = std::string(63, 'k') + "\u00e9\u00e9";
  for (const std::string& body : {
           R"({"name": "n", "rule": {"all": []}, ")" + long_name + R"(": 1})",
           R"({"campaigns": [{"campaign_ref": "a", "target": "give_90d", "capacity": 5,
               "cost_per_contact": "1.00", "channel": "post", ")" +
               long_name + R"(": 1}]})",
           R"({"name": "n", "rule": {"all": [], ")" + long_name + R"(": 1}})",
           R"({"name": "n", "rule": {"field": ")" + std::string(79, 'f') +
               R"(\u00e9", "op": "=", "value": 1}})",
           R"({"name": "n", "rule": {"field": "gift_count", "op": ")" + std::string(19, 'o') +
               R"(\u00e9", "value": 1}})",
       }) {
    const auto target =
        body.find("campaigns") != std::string::npos ? "/v1/matching/runs" : "/v1/segments";
    auto r = call("POST", target, body);
    EXPECT_EQ(r.status, 422) << body;
    EXPECT_TRUE(is_valid_utf8(r.body)) << r.body;
  }
  EXPECT_EQ(sql("SELECT count(*) FROM segments.segments"), before);
  EXPECT_EQ(sql("SELECT name FROM segments.segments WHERE id = " + id), "segment 1");
  EXPECT_EQ(sql("SELECT count(*) FROM segments.matching_runs"), "0");
}

// Oversized values: a body over GABE_HTTP_BODY_LIMIT is a 413, a field over its limit a 422
// (name, description, campaign_ref, the number of campaigns, a rule's conditions and `in`
// list); a rule at its limits is accepted.
TEST_F(SegmentsApi, OversizedBodiesAndValuesAreRefused) {
  const std::string before = sql("SELECT count(*) FROM segments.segments");
  auto segment = [](const std::string& name, const std::string& rule,
                    const std::string& description = "") {
    return R"({"name": ")" + name + R"(", "description": ")" + description + R"(", "rule": )" +
           rule + "}";
  };
  EXPECT_EQ(
      call("POST", "/v1/segments", segment("big", R"({"all": []})", std::string(2 << 20, 'x')))
          .status,
      413);
  EXPECT_EQ(call("POST", "/v1/segments", segment(std::string(201, 'n'), R"({"all": []})")).status,
            422);
  EXPECT_EQ(
      call("POST", "/v1/segments", segment("n", R"({"all": []})", std::string(2001, 'd'))).status,
      422);
  // 101 conditions; an `in` of 1001 values; 9 levels of nesting.
  std::string conditions;
  for (int i = 0; i < 101; ++i)
    conditions += std::string(i > 0 ? ", " : "") +
                  R"({"field": "gift_count", "op": "=", "value": )" + std::to_string(i) + "}";
  auto r = call("POST", "/v1/segments", segment("many", R"({"any": [)" + conditions + "]}"));
  EXPECT_EQ(r.status, 422);
  EXPECT_NE(r.body.find("more than 100 conditions"), std::string::npos) << r.body.substr(0, 500);
  std::string values;
  for (int i = 0; i < 1001; ++i) values += std::string(i > 0 ? "," : "") + std::to_string(i);
  r = call("POST", "/v1/segments",
           segment("long", R"({"field": "gift_count", "op": "in", "value": [)" + values + "]}"));
  EXPECT_EQ(r.status, 422);
  EXPECT_NE(r.body.find("more than 1000 values"), std::string::npos) << r.body.substr(0, 500);
  // A consent condition inside `levels` nots.
  auto nots = [](int levels) {
    std::string rule = R"({"consent": "post"})";
    for (int i = 0; i < levels; ++i) rule.insert(0, R"({"not": )").append("}");
    return rule;
  };
  r = call("POST", "/v1/segments", segment("deep", nots(8)));
  EXPECT_EQ(r.status, 422);
  EXPECT_NE(r.body.find("nests deeper than 8"), std::string::npos) << r.body;
  EXPECT_EQ(sql("SELECT count(*) FROM segments.segments"), before);
  // At the limits: 100 conditions, 1000 values, 8 levels.
  conditions = conditions.substr(0, conditions.rfind(", {"));
  EXPECT_EQ(
      call("POST", "/v1/segments", segment("many", R"({"any": [)" + conditions + "]}")).status,
      201);
  values = values.substr(0, values.rfind(','));
  EXPECT_EQ(
      call("POST", "/v1/segments",
           segment("long", R"({"field": "gift_count", "op": "in", "value": [)" + values + "]}"))
          .status,
      201);
  EXPECT_EQ(call("POST", "/v1/segments", segment("deep", nots(7))).status, 201);

  // Matching: 21 campaigns, a campaign_ref of 257 bytes.
  std::string campaigns;
  for (int i = 0; i < 21; ++i)
    campaigns += std::string(i > 0 ? ", " : "") + R"({"campaign_ref": "c)" + std::to_string(i) +
                 R"(", "target": "give_90d", "capacity": 5, "cost_per_contact": "1.00",
                   "channel": "post"})";
  EXPECT_EQ(call("POST", "/v1/matching/runs", R"({"campaigns": [)" + campaigns + "]}").status, 422);
  EXPECT_EQ(call("POST", "/v1/matching/runs",
                 R"({"campaigns": [{"campaign_ref": ")" + std::string(257, 'c') +
                     R"(", "target": "give_90d", "capacity": 5, "cost_per_contact": "1.00",
                     "channel": "post"}]})")
                .status,
            422);
  EXPECT_EQ(sql("SELECT count(*) FROM segments.matching_runs"), "0");
}

// A stalled database (tables locked by another session) never hangs a request: ordinary
// requests get a 503 with Retry-After after the lock limit (3 s), refreshes, matching runs and
// CSV exports after GABE_SEGMENTS_JOB_SECONDS; nothing is half-written, and the service works
// again once the lock is gone.
class SegmentsStall : public SegmentsTest {
 protected:
  SegmentsStall() { settings_["GABE_SEGMENTS_JOB_SECONDS"] = "10"; }  // the smallest allowed
};

TEST_F(SegmentsStall, LockedTablesGive503WithRetryAfterAndTheServiceRecovers) {
  seed_donors(20, 6);
  const auto id = std::to_string(create_segment(R"({"all": []})"));
  const std::string segments_before = sql("SELECT count(*) FROM segments.segments");
  const std::string audit_before = sql("SELECT count(*) FROM gabe.audit_log");
  pqxx::connection locker(owner_url_);
  pqxx::work lock(locker);
  lock.exec("LOCK TABLE segments.segments, segments.matching_runs IN ACCESS EXCLUSIVE MODE");

  const std::vector<std::tuple<std::string, std::string, std::string>> requests{
      {"POST", "/v1/segments", R"({"name": "while locked", "rule": {"all": []}})"},
      {"GET", "/v1/segments/" + id, ""},
      {"PUT", "/v1/segments/" + id, R"({"name": "renamed", "rule": {"all": []}})"},
      {"POST", "/v1/segments/" + id + "/refresh", ""},
      {"GET", "/v1/segments/" + id + "/members?format=csv", ""},
      {"POST", "/v1/matching/runs", kRunBody},
      {"GET", "/v1/matching/runs", ""},
      {"GET", "/v1/campaigns/c1/results", ""},
  };
  std::vector<HttpResponse> answers(requests.size());
  std::vector<double> seconds(requests.size(), 0);
  std::vector<std::thread> senders;
  for (std::size_t i = 0; i < requests.size(); ++i) {
    senders.emplace_back([&, i] {
      const auto& [method, target, body] = requests[i];
      std::vector<std::pair<std::string, std::string>> headers{
          {"Authorization", "Bearer " + fundraiser_token_}};
      if (!body.empty()) headers.emplace_back("Content-Type", "application/json");
      const auto start = std::chrono::steady_clock::now();
      try {
        HttpClient c(service_->port(), 60000);
        answers[i] = c.request(method, target, headers, body);
      } catch (const std::exception&) {
        // status stays 0: no answer
      }
      seconds[i] = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    });
  }
  for (auto& t : senders) t.join();
  lock.abort();
  for (std::size_t i = 0; i < requests.size(); ++i) {
    SCOPED_TRACE(std::get<0>(requests[i]) + " " + std::get<1>(requests[i]));
    EXPECT_EQ(answers[i].status, 503) << answers[i].body;
    EXPECT_TRUE(answers[i].header("retry-after").has_value());
    // The job limit (10 s) plus the wait for a connection and a loaded machine's slack.
    EXPECT_LT(seconds[i], 20.0);
  }
  EXPECT_EQ(sql("SELECT count(*) FROM segments.segments"), segments_before);
  EXPECT_EQ(sql("SELECT name FROM segments.segments WHERE id = " + id), "segment 1");
  EXPECT_EQ(sql("SELECT count(*) FROM segments.refreshes"), "0");
  EXPECT_EQ(sql("SELECT count(*) FROM segments.matching_runs"), "0");
  EXPECT_EQ(sql("SELECT count(*) FROM gabe.audit_log"), audit_before);

  // The lock gone, the same requests work.
  EXPECT_EQ((*refresh(std::stoll(id)))["members"].GetInt64(),
            static_cast<std::int64_t>(expected([](auto&, auto&) { return true; }).size()));
  EXPECT_EQ(call("GET", "/v1/segments/" + id + "/members?format=csv").status, 200);
  EXPECT_EQ(call("POST", "/v1/matching/runs", kRunBody).status, 201);
}

}  // namespace
}  // namespace gabe::test
