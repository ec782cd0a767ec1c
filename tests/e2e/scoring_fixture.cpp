#include "scoring_fixture.hpp"

#include <cmath>
#include <random>

#include <pqxx/stream_to>

namespace gabe::test {

namespace {

std::int64_t day_number(const std::string& date) {
  const int y = std::stoi(date.substr(0, 4));
  const unsigned m = static_cast<unsigned>(std::stoi(date.substr(5, 2)));
  const unsigned d = static_cast<unsigned>(std::stoi(date.substr(8, 2)));
  // days_from_civil (Howard Hinnant)
  const int yy = y - (m <= 2);
  const int era = (yy >= 0 ? yy : yy - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(yy - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

std::string date_text(std::int64_t z) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t y = static_cast<std::int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  char buf[48];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", static_cast<int>(y + (m <= 2)), m, d);
  return buf;
}

}  // namespace

std::unique_ptr<rapidjson::Document> ScoringTest::json(const HttpResponse& r) {
  auto doc = std::make_unique<rapidjson::Document>();
  doc->Parse<rapidjson::kParseFullPrecisionFlag>(r.body.c_str(), r.body.size());
  if (doc->HasParseError()) throw std::runtime_error("not JSON: " + r.body.substr(0, 200));
  return doc;
}

void ScoringTest::insert_donors(std::int64_t n) {
  pqxx::connection c(url_);
  pqxx::work tx(c);
  tx.exec_params(
      "INSERT INTO donor.donors (id, source, ref, is_placeholder, updated_at) "
      "SELECT i, 'crm', 'd' || i, false, now() FROM generate_series(1, $1::bigint) i",
      n);
  tx.exec("SELECT setval('donor.donors_id_seq', (SELECT max(id) FROM donor.donors))");
  tx.commit();
}

void ScoringTest::insert_donors_after(std::int64_t id) {
  pqxx::connection c(url_);
  pqxx::work tx(c);
  tx.exec_params(
      "INSERT INTO donor.donors (id, source, ref, is_placeholder, updated_at) "
      "VALUES ($1, 'crm', $2, false, now())",
      id, "d" + std::to_string(id));
  tx.commit();
}

void ScoringTest::insert_gifts(const std::vector<SyntheticGift>& gifts) {
  pqxx::connection c(url_);
  pqxx::work tx(c);
  const auto first =
      std::stoll(tx.exec("SELECT coalesce(max(id), 0) FROM donor.gifts")[0][0].c_str());
  {
    pqxx::stream_to copy(
        tx, "donor.gifts",
        std::vector<std::string>{"source", "ref", "donor_id", "amount_cents", "currency",
                                 "received_on", "status", "updated_at", "channel", "campaign_ref"});
    std::int64_t i = first;
    for (const auto& g : gifts) {
      ++i;
      copy << std::make_tuple(
          std::string("crm"), "g" + std::to_string(i), g.donor_id, g.cents, std::string("EUR"),
          g.received_on, std::string("completed"), g.received_on + "T12:00:00Z", g.channel,
          g.campaign ? std::optional<std::string>("c1") : std::optional<std::string>());
    }
    copy.complete();
  }
  tx.commit();
}

std::vector<SyntheticGift> ScoringTest::synthetic_gifts(std::int64_t n, const std::string& from,
                                                        const std::string& until, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0, 1);
  const auto start = day_number(from), end = day_number(until);
  std::vector<SyntheticGift> out;
  for (std::int64_t d = 1; d <= n; ++d) {
    // Hidden rate: gifts per year, skewed; a third of the donors stop at a random day.
    const double rate = std::exp(u(rng) * 3.0) * 0.8;  // 0.8 .. 16 per year
    const std::int64_t joined =
        start + static_cast<std::int64_t>(u(rng) * static_cast<double>(end - start) * 0.6);
    const std::int64_t stops =
        u(rng) < 0.35
            ? joined + static_cast<std::int64_t>(u(rng) * static_cast<double>(end - joined))
            : end + 1;
    const bool online = u(rng) < 0.4;
    const double typical = 10 + std::exp(u(rng) * 4);
    std::int64_t day = joined;
    while (day <= end && day < stops) {
      SyntheticGift g{d, date_text(day),
                      static_cast<std::int64_t>(typical * (0.5 + u(rng))) * 100 + 100,
                      online ? "online" : "transfer", u(rng) < 0.3};
      out.push_back(g);
      // December is busier.
      const double boost = date_text(day).substr(5, 2) == "11" ? 2.0 : 1.0;
      day += 1 + static_cast<std::int64_t>(-std::log(1 - u(rng)) * 365.0 / (rate * boost));
    }
  }
  return out;
}

std::unique_ptr<rapidjson::Document> ScoringTest::train(const std::string& target,
                                                        const std::string& as_of,
                                                        const std::string& params) {
  auto r = admin(
      "POST", "/v1/models",
      R"({"target": ")" + target + R"(", "as_of": ")" + as_of + R"(", "params": )" + params + "}");
  EXPECT_EQ(r.status, 202) << r.body;
  auto created = json(r);
  const auto id = (*created)["model_id"].GetInt64();
  std::unique_ptr<rapidjson::Document> card;
  EXPECT_TRUE(wait_until(
      [&] {
        card = json(get("/v1/models/" + std::to_string(id)));
        return std::string((*card)["status"].GetString()) != "training";
      },
      std::chrono::seconds(120)));
  return card;
}

void ScoringTest::activate(std::int64_t model_id, const std::string& reason) {
  auto r = admin("POST", "/v1/models/" + std::to_string(model_id) + "/activate",
                 R"({"reason": ")" + reason + R"("})");
  ASSERT_EQ(r.status, 200) << r.body;
}

std::unique_ptr<rapidjson::Document> ScoringTest::run(const std::string& target,
                                                      const std::string& as_of) {
  auto r =
      admin("POST", "/v1/runs", R"({"target": ")" + target + R"(", "as_of": ")" + as_of + R"("})");
  EXPECT_EQ(r.status, 202) << r.body;
  auto created = json(r);
  const auto id = (*created)["run_id"].GetInt64();
  std::unique_ptr<rapidjson::Document> run;
  EXPECT_TRUE(wait_until(
      [&] {
        run = json(get("/v1/runs/" + std::to_string(id)));
        const std::string status = (*run)["status"].GetString();
        return status == "succeeded" || status == "failed";
      },
      std::chrono::seconds(120)));
  return run;
}

int ScoringTest::command(const std::vector<std::string>& args, std::string* out, std::string* err) {
  return run_command(bin_dir() + "/gabe-scoring", args,
                     {{"GABE_DATABASE_URL", url_}, {"GABE_SCORING_THREADS", "2"}}, out, err);
}

}  // namespace gabe::test
