#include "grants_fixture.hpp"

#include <sstream>

#include "gabe/values.hpp"

namespace gabe::test {

namespace {

std::map<std::string, std::string> with_defaults(std::map<std::string, std::string> extra) {
  std::map<std::string, std::string> s = {
      {"GABE_HTTP_WORKERS", "8"},
      {"GABE_GRANTS_SCHEDULER_SECONDS", "1"},
      {"GABE_WEBHOOK_RETRY_BASE_MS", "200"},
      {"GABE_WEBHOOK_TIMEOUT_SECONDS", "2"},
      // The local receiver listens on 127.0.0.1, an internal address refused by default.
      {"GABE_WEBHOOK_ALLOW_PRIVATE", "1"},
  };
  for (auto& [k, v] : extra) s[k] = v;
  return s;
}

}  // namespace

GrantsTest::GrantsTest(std::map<std::string, std::string> extra)
    : ServiceTest("grants", with_defaults(std::move(extra))) {}

HttpResponse GrantsTest::call(const std::string& method, const std::string& target,
                              const std::string& body, const std::string& token) {
  std::vector<std::pair<std::string, std::string>> headers = {
      {"Authorization", "Bearer " + (token.empty() ? admin_token_ : token)}};
  if (!body.empty()) headers.emplace_back("Content-Type", "application/json");
  return client_->request(method, target, headers, body);
}

std::int64_t id_of(const HttpResponse& r) {
  std::unique_ptr<rapidjson::Document> doc;
  try {
    doc = json(r);
  } catch (const std::exception& e) {
    ADD_FAILURE() << e.what() << " in " << r.status << " " << r.body;
    return 0;
  }
  if (!doc->IsObject() || !doc->HasMember("id") || !(*doc)["id"].IsInt64()) {
    ADD_FAILURE() << "no id in " << r.status << " " << r.body;
    return 0;
  }
  return (*doc)["id"].GetInt64();
}

std::int64_t GrantsTest::make_grant(const std::string& title) {
  auto f = call("POST", "/v1/funders", R"({"name": "Aktion Mensch", "kind": "lottery"})",
                fundraiser_token_);
  EXPECT_EQ(f.status, 201) << f.body;
  JsonWriter w;
  w.begin_object().field("funder_id", id_of(f)).field("title", title).end_object();
  auto g = call("POST", "/v1/grants", w.take(), fundraiser_token_);
  EXPECT_EQ(g.status, 201) << g.body;
  return id_of(g);
}

std::int64_t GrantsTest::make_deadline(std::int64_t grant, const std::string& fields) {
  auto r = call("POST", "/v1/grants/" + std::to_string(grant) + "/deadlines", "{" + fields + "}",
                fundraiser_token_);
  EXPECT_EQ(r.status, 201) << r.body;
  return id_of(r);
}

std::string GrantsTest::instant_from_now(long seconds) {
  return format_instant({now_epoch_seconds() + seconds, 0});
}

double GrantsTest::metric(const std::string& sample) {
  auto r = client_->get("/metrics");
  std::istringstream in(r.body);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(sample + " ", 0) == 0) return std::stod(line.substr(sample.size() + 1));
  }
  return -1;
}

}  // namespace gabe::test
