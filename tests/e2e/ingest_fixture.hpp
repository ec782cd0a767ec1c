// End-to-end fixture: one PostgreSQL cluster per test binary, a fresh migrated database and a
// real gabe-ingest process per test, a webhook source and tokens made with the real gabectl.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <pqxx/pqxx>
#include <string>

#include "gabe/json.hpp"

#include "http_client.hpp"
#include "postgres.hpp"
#include "process.hpp"

namespace gabe::test {

// The cluster shared by all tests of the binary (started by the first test that needs it).
PostgresCluster& cluster();
void shutdown_cluster();

// Sends one Standard-Webhooks-signed request over `client` (tests with their own connections).
HttpResponse send_webhook(HttpClient& client, const std::string& secret, const std::string& id,
                          const std::string& body, const std::string& source = "crm",
                          long timestamp_offset = 0);

// Polls `done` every 5 ms until it holds or `timeout` has passed; returns whether it held.
bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds timeout);

// A response body parsed as JSON.
std::unique_ptr<rapidjson::Document> json(const HttpResponse& r);

class IngestTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Runs gabectl with GABE_DATABASE_URL of this test's database; returns exit code.
  int gabectl(const std::vector<std::string>& args, std::string* out = nullptr,
              std::string* err = nullptr, const std::string& stdin_file = "");
  std::string last_line(const std::string& text);

  // Sends one signed webhook to /v1/webhooks/{source}.
  HttpResponse webhook(const std::string& body, const std::string& id,
                       const std::string& source = "crm", const std::string& secret = "",
                       long timestamp_offset = 0);
  HttpResponse event(const std::string& type, const std::string& data_json, const std::string& id,
                     const std::string& timestamp = "2026-11-24T10:00:00Z");
  HttpResponse get(const std::string& target, const std::string& token = "");
  HttpResponse admin(const std::string& method, const std::string& target,
                     const std::string& body = "");
  // POST /v1/import of an NDJSON body as admin.
  HttpResponse import_ndjson(const std::string& body);

  // One value from the database, as text ("" for NULL).
  std::string scalar(const std::string& sql);

  std::string db_name_;
  std::string url_;
  std::string secret_;
  std::string admin_token_;
  std::string viewer_token_;
  std::unique_ptr<Service> service_;
  std::unique_ptr<HttpClient> client_;
};

}  // namespace gabe::test
