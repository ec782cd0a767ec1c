#include "segments_fixture.hpp"

#include <algorithm>
#include <random>

namespace gabe::test {

Facts facts_of(const DonorSpec& d) {
  Facts f;
  int last_seen = -1;
  for (const auto& g : d.gifts) {
    if (g.status != "completed" || g.days_ago < 0) continue;
    ++f.gift_count;
    f.total += g.cents;
    if (g.days_ago <= 364) {
      ++f.gift_count_365d;
      f.total_365d += g.cents;
    }
    f.largest = std::max(f.largest.value_or(0), g.cents);
    if (!f.first_days_ago || g.days_ago > *f.first_days_ago) f.first_days_ago = g.days_ago;
    if (!f.last_days_ago || g.days_ago < last_seen) {
      f.last_days_ago = g.days_ago;
      last_seen = g.days_ago;
      f.last_amount = g.cents;
    }
  }
  if (d.recurring_cents > 0) {
    f.recurring_active = true;
    const double div = d.recurring_interval == "monthly"       ? 1
                       : d.recurring_interval == "quarterly"   ? 3
                       : d.recurring_interval == "half_yearly" ? 6
                                                               : 12;
    f.recurring_monthly =
        static_cast<std::int64_t>(std::llround(static_cast<double>(d.recurring_cents) / div));
  }
  return f;
}

bool eligible(const DonorSpec& d) {
  return !d.erased && !d.merged && !d.placeholder;
}

void SegmentsTest::prepare_database() {
  owner_url_ = url_;
  login_role("gabe_segments");  // safe beside parallel tests (no catalog write when it may)
  url_ =
      "postgresql://gabe_segments@127.0.0.1:" + std::to_string(cluster_->port()) + "/" + db_name_;
}

std::string SegmentsTest::sql(const std::string& statement) {
  pqxx::connection c(owner_url_);
  pqxx::nontransaction tx(c);
  auto r = tx.exec(statement);
  if (r.empty() || r.columns() == 0 || r[0][0].is_null()) return "";
  return r[0][0].c_str();
}

std::string SegmentsTest::date_ago(int days_ago) {
  return sql("SELECT ((now() AT TIME ZONE 'Europe/Berlin')::date - " + std::to_string(days_ago) +
             ")::text");
}

void SegmentsTest::seed_donors(int n, unsigned seed) {
  std::mt19937 rng(seed);
  auto pick = [&](int k) { return static_cast<int>(rng() % static_cast<unsigned>(k)); };
  const std::vector<std::string> languages{"de", "en", "fr", ""};
  const std::vector<std::string> countries{"DE", "AT", "CH", ""};
  const std::vector<std::string> tag_pool{"major", "newsletter", "volunteer", "board"};
  const std::vector<std::int64_t> amounts{500, 1000, 2500, 5000, 10000, 19999, 50000};
  const std::vector<std::string> intervals{"monthly", "quarterly", "half_yearly", "yearly"};
  std::vector<DonorSpec> donors;
  for (int i = 1; i <= n; ++i) {
    DonorSpec d;
    d.id = i;
    d.language = languages[pick(4)];
    d.country = countries[pick(4)];
    for (const auto& t : tag_pool)
      if (pick(3) == 0) d.tags.push_back(t);
    d.erased = i % 37 == 0;
    d.merged = i % 41 == 0;
    d.placeholder = i % 43 == 0;
    std::set<int> days;
    const int gifts = pick(7);
    for (int k = 0; k < gifts; ++k) {
      int day = pick(1500);
      if (pick(25) == 0) day = -3;  // a gift dated in the future does not count yet
      if (!days.insert(day).second) continue;
      GiftSpec g{amounts[pick(static_cast<int>(amounts.size()))], day, "completed", ""};
      if (pick(8) == 0) g.status = pick(2) ? "refunded" : "pending";
      d.gifts.push_back(g);
    }
    if (pick(5) == 0) {
      d.recurring_cents = amounts[pick(4)];
      d.recurring_interval = intervals[pick(4)];
    }
    for (const char* ch : {"email", "post", "phone", "sms"}) {
      const int c = pick(3);
      if (c < 2) d.consent[ch] = c == 0;
    }
    if (pick(10) < 7) {
      d.score = pick(1000) / 1000.0;
      d.decile = 1 + pick(10);
    }
    d.first_name = "Vorname" + std::to_string(i);
    d.last_name = i % 5 == 0 ? "Müller, \"Mü\"" : "Name" + std::to_string(i);
    d.organization_name = i % 7 == 0 ? "Verein\r\nZeile 2" : "";
    d.email = "d" + std::to_string(i) + "@example.org";
    d.phone = "+49301234" + std::to_string(i);
    d.street = "Straße " + std::to_string(i);
    d.postal_code = "1011" + std::to_string(i % 10);
    d.city = "Berlin";
    donors.push_back(d);
  }
  write_donors(donors);
}

void SegmentsTest::write_donors(const std::vector<DonorSpec>& donors) {
  pqxx::connection c(owner_url_);
  pqxx::work tx(c);
  auto q = [&](const std::string& s) { return s.empty() ? std::string("NULL") : tx.quote(s); };
  for (const auto& d : donors) {
    std::string tags = "ARRAY[";
    for (std::size_t i = 0; i < d.tags.size(); ++i) tags += (i ? "," : "") + tx.quote(d.tags[i]);
    tags += "]::text[]";
    const auto id = std::to_string(d.id);
    tx.exec(
        "INSERT INTO donor.donors (id, source, ref, language, country, tags, is_placeholder, "
        "erased_at) VALUES (" +
        id + ", 'crm', " + (d.erased ? "NULL" : tx.quote("r" + id)) + ", " + q(d.language) + ", " +
        q(d.country) + ", " + tags + ", " + (d.placeholder ? "true" : "false") + ", " +
        (d.erased ? "now()" : "NULL") + ")");
    if (!d.placeholder && !d.erased) {
      tx.exec("INSERT INTO pii.donor_pii VALUES (" + id + ", " + q(d.first_name) + ", " +
              q(d.last_name) + ", " + q(d.organization_name) + ", " + q(d.email) + ", " +
              q(d.phone) + ", " + q(d.street) + ", " + q(d.postal_code) + ", " + q(d.city) + ")");
    }
    int n = 0;
    for (const auto& g : d.gifts) {
      tx.exec(
          "INSERT INTO donor.gifts (source, ref, donor_id, amount_cents, currency, received_on, "
          "campaign_ref, status, updated_at) VALUES ('crm', " +
          tx.quote("g" + id + "-" + std::to_string(n++) + "-" + std::to_string(g.days_ago)) + ", " +
          id + ", " + std::to_string(g.cents) +
          ", 'EUR', (now() AT TIME ZONE 'Europe/Berlin')::date - " + std::to_string(g.days_ago) +
          ", " + q(g.campaign_ref) + ", " + tx.quote(g.status) + ", now())");
    }
    if (d.recurring_cents > 0) {
      tx.exec(
          "INSERT INTO donor.recurring (source, ref, donor_id, amount_cents, currency, "
          "interval, status, updated_at) VALUES ('crm', " +
          tx.quote("rc" + id) + ", " + id + ", " + std::to_string(d.recurring_cents) + ", 'EUR', " +
          tx.quote(d.recurring_interval) + ", 'active', now())");
    }
    for (const auto& [channel, granted] : d.consent) {
      tx.exec("INSERT INTO donor.consents VALUES (" + id + ", " + tx.quote(channel) + ", " +
              (granted ? "true" : "false") + ", now(), 'test')");
    }
    if (d.score) {
      tx.exec("INSERT INTO scoring.current_scores VALUES ('give_90d', " + id + ", " +
              std::to_string(*d.score) + ", " + std::to_string(d.decile) + ", 1, 1, now())");
    }
    if (d.last_ask_days_ago) {
      tx.exec(
          "INSERT INTO donor.appeals (source, campaign_ref, donor_id, sent_on) VALUES ('crm', "
          "'earlier', " +
          id + ", (now() AT TIME ZONE 'Europe/Berlin')::date - " +
          std::to_string(*d.last_ask_days_ago) + ")");
    }
  }
  // Merged-away records point at a survivor that exists.
  for (const auto& d : donors) {
    if (d.merged)
      tx.exec("UPDATE donor.donors SET merged_into = " + std::to_string(donors.front().id) +
              " WHERE id = " + std::to_string(d.id));
  }
  tx.exec("SELECT setval('donor.donors_id_seq', 1000000)");
  tx.commit();
  donors_.insert(donors_.end(), donors.begin(), donors.end());
}

HttpResponse SegmentsTest::call(const std::string& method, const std::string& target,
                                const std::string& body, const std::string& token) {
  std::vector<std::pair<std::string, std::string>> headers{
      {"Authorization", "Bearer " + (token.empty() ? fundraiser_token_ : token)}};
  if (!body.empty()) headers.emplace_back("Content-Type", "application/json");
  return client_->request(method, target, headers, body);
}

std::int64_t SegmentsTest::create_segment(const std::string& rule, const std::string& name) {
  const std::string n = name.empty() ? "segment " + std::to_string(++segment_counter_) : name;
  auto r = call("POST", "/v1/segments", R"({"name": ")" + n + R"(", "rule": )" + rule + "}");
  EXPECT_EQ(r.status, 201) << r.body;
  if (r.status != 201) return 0;
  return (*json(r))["id"].GetInt64();
}

std::unique_ptr<rapidjson::Document> SegmentsTest::refresh(std::int64_t id) {
  auto r = call("POST", "/v1/segments/" + std::to_string(id) + "/refresh");
  EXPECT_EQ(r.status, 200) << r.body;
  return json(r);
}

std::set<std::int64_t> SegmentsTest::members(std::int64_t id, const std::string& channel) {
  std::set<std::int64_t> out;
  std::string after;
  for (int page = 0; page < 1000; ++page) {
    std::string target = "/v1/segments/" + std::to_string(id) + "/members?format=json&limit=100";
    if (!channel.empty()) target += "&channel=" + channel;
    if (!after.empty()) target += "&after=" + after;
    auto r = call("GET", target);
    EXPECT_EQ(r.status, 200) << r.body;
    if (r.status != 200) break;
    auto doc = json(r);
    for (const auto& item : (*doc)["items"].GetArray()) out.insert(item["donor_id"].GetInt64());
    if ((*doc)["next"].IsNull()) break;
    after = (*doc)["next"].GetString();
  }
  return out;
}

std::set<std::int64_t> SegmentsTest::expected(
    const std::function<bool(const DonorSpec&, const Facts&)>& pred) {
  std::set<std::int64_t> out;
  for (const auto& d : donors_)
    if (eligible(d) && pred(d, facts_of(d))) out.insert(d.id);
  return out;
}

}  // namespace gabe::test
