#include "ingest_fixture.hpp"

#include <chrono>
#include <mutex>
#include <thread>

#include "webhook_signature.hpp"

namespace gabe::test {

namespace {

std::unique_ptr<PostgresCluster> g_cluster;
std::once_flag g_template_once;

void make_template() {
  pqxx::connection c(cluster().url());
  pqxx::nontransaction tx(c);
  tx.exec("CREATE DATABASE gabe_template");
  std::string out, err;
  int rc = run_command(bin_dir() + "/gabectl", {"migrate"},
                       {{"GABE_DATABASE_URL", cluster().url("gabe_template")}}, &out, &err);
  if (rc != 0) throw std::runtime_error("gabectl migrate failed: " + err);
}

}  // namespace

PostgresCluster& cluster() {
  if (!g_cluster) g_cluster = std::make_unique<PostgresCluster>();
  return *g_cluster;
}

void shutdown_cluster() {
  g_cluster.reset();
}

void IngestTest::SetUp() {
  std::call_once(g_template_once, make_template);
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  db_name_ = std::string("t_") + info->test_suite_name() + "_" + info->name();
  for (auto& c : db_name_)
    c = static_cast<char>(std::isalnum(static_cast<unsigned char>(c)) ? std::tolower(c) : '_');
  db_name_ = db_name_.substr(0, 60);
  {
    pqxx::connection c(cluster().url());
    pqxx::nontransaction tx(c);
    tx.exec("DROP DATABASE IF EXISTS " + tx.quote_name(db_name_) + " WITH (FORCE)");
    tx.exec("CREATE DATABASE " + tx.quote_name(db_name_) + " TEMPLATE gabe_template");
  }
  url_ = cluster().url(db_name_);
  std::string out;
  ASSERT_EQ(gabectl({"source", "add", "crm", "--adapter", "generic"}, &out), 0);
  secret_ = last_line(out);
  ASSERT_EQ(secret_.substr(0, 6), "whsec_");
  ASSERT_EQ(gabectl({"token", "create", "--role", "admin", "--name", "ops"}, &out), 0);
  admin_token_ = last_line(out);
  ASSERT_EQ(gabectl({"token", "create", "--role", "viewer", "--name", "reader"}, &out), 0);
  viewer_token_ = last_line(out);
  service_ = std::make_unique<Service>(
      "gabe-ingest", url_, std::map<std::string, std::string>{{"GABE_HTTP_WORKERS", "8"}});
  client_ = std::make_unique<HttpClient>(service_->port());
}

void IngestTest::TearDown() {
  client_.reset();
  service_.reset();
}

int IngestTest::gabectl(const std::vector<std::string>& args, std::string* out, std::string* err,
                        const std::string& stdin_file) {
  return run_command(bin_dir() + "/gabectl", args, {{"GABE_DATABASE_URL", url_}}, out, err,
                     stdin_file);
}

std::string IngestTest::last_line(const std::string& text) {
  auto end = text.find_last_not_of('\n');
  if (end == std::string::npos) return "";
  auto start = text.rfind('\n', end);
  return text.substr(start == std::string::npos ? 0 : start + 1,
                     end - (start == std::string::npos ? 0 : start + 1) + 1);
}

bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

std::unique_ptr<rapidjson::Document> json(const HttpResponse& r) {
  return parse_json(r.body);
}

HttpResponse send_webhook(HttpClient& client, const std::string& secret, const std::string& id,
                          const std::string& body, const std::string& source,
                          long timestamp_offset) {
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count() +
                   timestamp_offset;
  return client.request("POST", "/v1/webhooks/" + source,
                        {{"webhook-id", id},
                         {"webhook-timestamp", std::to_string(now)},
                         {"webhook-signature", ingest::sign_webhook(secret, id, now, body)}},
                        body);
}

HttpResponse IngestTest::webhook(const std::string& body, const std::string& id,
                                 const std::string& source, const std::string& secret,
                                 long timestamp_offset) {
  return send_webhook(*client_, secret.empty() ? secret_ : secret, id, body, source,
                      timestamp_offset);
}

HttpResponse IngestTest::event(const std::string& type, const std::string& data_json,
                               const std::string& id, const std::string& timestamp) {
  return webhook(
      R"({"type":")" + type + R"(","timestamp":")" + timestamp + R"(","data":)" + data_json + "}",
      id);
}

HttpResponse IngestTest::get(const std::string& target, const std::string& token) {
  return client_->get(target, token.empty() ? admin_token_ : token);
}

HttpResponse IngestTest::admin(const std::string& method, const std::string& target,
                               const std::string& body) {
  return client_->request(method, target, {{"Authorization", "Bearer " + admin_token_}}, body);
}

HttpResponse IngestTest::import_ndjson(const std::string& body) {
  return client_->request(
      "POST", "/v1/import",
      {{"Authorization", "Bearer " + admin_token_}, {"Content-Type", "application/x-ndjson"}},
      body);
}

std::string IngestTest::scalar(const std::string& sql) {
  pqxx::connection c(url_);
  pqxx::nontransaction tx(c);
  auto r = tx.exec(sql);
  if (r.empty() || r[0][0].is_null()) return "";
  return r[0][0].c_str();
}

}  // namespace gabe::test

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  int rc = RUN_ALL_TESTS();
  gabe::test::shutdown_cluster();
  return rc;
}
