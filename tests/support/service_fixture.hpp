// The end-to-end fixture of every service: a PostgreSQL cluster, a template database migrated
// once, a database per test copied from it (with a token of every role), the real
// gabe-<name> binary started on it, and helpers to talk to both.
//
// A service's tests need only
//
//   class ScoringTest : public ServiceTest {
//    protected:
//     ScoringTest() : ServiceTest("scoring") {}
//   };
//
// and override prepare_database() for what must exist before the service starts.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "gabe/json.hpp"

#include "http_client.hpp"
#include "postgres.hpp"
#include "process.hpp"

namespace gabe::test {

// Bearer tokens of every role, made once in the template database and so valid in every
// test database.
struct RoleTokens {
  std::string admin;       // named "ops"
  std::string fundraiser;  // named "fundraiser"
  std::string viewer;      // named "reader"
};

// The template every test database is copied from.
inline constexpr const char* kTemplateDatabase = "gabe_template";

// Creates the template database in `cluster`: every migration applied with the real gabectl,
// one token per role.
RoleTokens make_template(PostgresCluster& cluster);

// The cluster shared by the tests of this process: the one CTest started for the whole run
// when GABE_TEST_CLUSTER names its state file (tests/support/test_cluster.cpp), otherwise one
// started (with its template) by the first test that needs it and stopped by main().
PostgresCluster& cluster();
const RoleTokens& template_tokens();
void shutdown_cluster();

// The state file of a cluster shared across test processes.
void write_cluster_state(const std::string& file, const PostgresCluster& cluster,
                         const RoleTokens& tokens);
std::map<std::string, std::string> read_cluster_state(const std::string& file);

// Polls `done` every 5 ms until it holds or `timeout` has passed; returns whether it held.
bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds timeout);

// The last line of a command's output (what gabectl prints a new secret or token on).
std::string last_line(const std::string& text);

// A response body parsed as JSON.
std::unique_ptr<rapidjson::Document> json(const HttpResponse& r);

// A Standard-Webhooks-signed POST of `body` to `target` (the timestamp is now, plus
// `timestamp_offset` seconds).
HttpResponse signed_post(HttpClient& client, const std::string& target, const std::string& secret,
                         const std::string& id, const std::string& body, long timestamp_offset = 0);
// The same to /v1/webhooks/{source}.
HttpResponse send_webhook(HttpClient& client, const std::string& secret, const std::string& id,
                          const std::string& body, const std::string& source = "crm",
                          long timestamp_offset = 0);

class ServiceTest : public ::testing::Test {
 protected:
  // `name`: the service, started as bin/gabe-<name>; `settings`: its environment besides
  // GABE_DATABASE_URL and GABE_LISTEN.
  explicit ServiceTest(std::string name, std::map<std::string, std::string> settings = {});

  void SetUp() override;
  void TearDown() override;
  // Runs with the test's database in place (migrated, tokens made), before the service starts.
  virtual void prepare_database() {}

  // Runs gabectl with GABE_DATABASE_URL of this test's database; returns its exit code.
  int gabectl(const std::vector<std::string>& args, std::string* out = nullptr,
              std::string* err = nullptr, const std::string& stdin_file = "");
  static std::string last_line(const std::string& text) { return test::last_line(text); }

  HttpResponse get(const std::string& target, const std::string& token = "");  // admin if ""
  HttpResponse admin(const std::string& method, const std::string& target,
                     const std::string& body = "");
  // One value from the test's database, as text ("" for NULL or no row).
  std::string scalar(const std::string& sql);
  // Lets `role` (a role of the cluster, e.g. gabe_ingest) log in, safely while other tests run
  // in parallel. Never `ALTER ROLE` (or `CREATE ROLE`, `GRANT role`) in a test on the shared
  // cluster: roles belong to the whole cluster, and two tests changing one at the same moment
  // fail with "tuple concurrently updated". The template already lets every gabe_* role in.
  void login_role(const std::string& role);
  // Runs one statement as `role` (a gabe_* role: the template lets them log in) on the test's
  // database: "ok", "42501"
  // when the role lacks the privilege, or the error message. For least-privilege tests.
  std::string as_role(const std::string& role, const std::string& sql);

  std::string service_name_;
  std::map<std::string, std::string> settings_;
  // Set in a constructor when the test stops or starts PostgreSQL: it gets a cluster of its own
  // rather than the shared one.
  bool own_cluster_ = false;
  PostgresCluster* cluster_ = nullptr;  // the cluster of this test
  std::string db_name_;
  std::string url_;
  std::string admin_token_;
  std::string fundraiser_token_;
  std::string viewer_token_;
  std::unique_ptr<Service> service_;
  std::unique_ptr<HttpClient> client_;

 private:
  std::unique_ptr<PostgresCluster> private_cluster_;
};

}  // namespace gabe::test
