// The segments API around the rules: CRUD and roles, the built-in RFM and lifecycle segments,
// and the consented exports (columns per channel, RFC 4180 CSV, audit entries).
#include <gtest/gtest.h>

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
    for (const auto& [letter, value_of] :
         std::vector<std::pair<std::string, std::function<std::int64_t(const Facts&)>>>{
             {"R", recency}, {"F", frequency}, {"M", monetary}}) {
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

}  // namespace
}  // namespace gabe::test
