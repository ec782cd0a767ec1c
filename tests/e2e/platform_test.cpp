// The platform parts every service relies on: migrations, roles and grants, the audit log,
// health, readiness, metrics and configuration errors.
#include <gtest/gtest.h>

#include "ingest_fixture.hpp"
#include "webhook_signature.hpp"

#include <ctime>
#include <thread>

namespace gabe::test {
namespace {

class Platform : public IngestTest {};

TEST_F(Platform, MigrateIsIdempotentAndDetectsEditedMigrations) {
  std::string out;
  ASSERT_EQ(gabectl({"migrate"}, &out), 0);
  EXPECT_NE(out.find("up to date"), std::string::npos);
  ASSERT_EQ(gabectl({"migrate", "--status"}, &out), 0);
  EXPECT_NE(out.find("2_ingest\tapplied"), std::string::npos);
  scalar(
      "UPDATE gabe_meta.schema_migrations SET checksum = 'edited' WHERE version = 2 RETURNING 1");
  std::string err;
  EXPECT_NE(gabectl({"migrate"}, &out, &err), 0);
  EXPECT_NE(err.find("2_ingest"), std::string::npos);
}

TEST_F(Platform, ReadinessFollowsTheSchemaVersion) {
  HttpClient c(service_->port());
  EXPECT_EQ(c.get("/readyz").status, 200);
  scalar(
      "DELETE FROM gabe_meta.schema_migrations WHERE version = "
      "(SELECT max(version) FROM gabe_meta.schema_migrations) RETURNING 1");
  EXPECT_EQ(c.get("/readyz").status, 503);
  EXPECT_EQ(c.get("/healthz").status, 200);
}

TEST_F(Platform, MetricsAreServedInTextFormatLabelledByRoute) {
  ASSERT_EQ(get("/v1/donors/5").status, 404);
  auto m = client_->get("/metrics");
  ASSERT_EQ(m.status, 200);
  EXPECT_EQ(m.header("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(m.body.find(R"(route="/v1/donors/{id}",status="404")"), std::string::npos);
  EXPECT_EQ(m.body.find("/v1/donors/5"), std::string::npos);  // never an id in a label
}

// Least privilege: each service role reads only what it needs; the scoring role sees no PII;
// no role can change the audit log.
TEST_F(Platform, ServiceRolesHaveLeastPrivilege) {
  login_role("gabe_scoring");
  login_role("gabe_ingest");
  ASSERT_EQ(event("donor.upserted", R"({"donor_ref":"d1","first_name":"Anna"})", "1").status, 200);
  EXPECT_EQ(as_role("gabe_scoring", "SELECT count(*) FROM donor.gifts"), "ok");
  EXPECT_EQ(as_role("gabe_scoring", "SELECT first_name FROM pii.donor_pii"), "42501");
  EXPECT_EQ(as_role("gabe_scoring", "SELECT secret FROM ingest.source_secrets"), "42501");
  EXPECT_EQ(as_role("gabe_scoring", "SELECT raw FROM ingest.inbox"), "42501");
  EXPECT_EQ(as_role("gabe_scoring", "INSERT INTO donor.donors (source, ref) VALUES ('x', 'y')"),
            "42501");
  EXPECT_EQ(as_role("gabe_ingest", "SELECT count(*) FROM pii.donor_pii"), "ok");
  EXPECT_EQ(as_role("gabe_ingest", "UPDATE gabe.audit_log SET actor = 'x'"), "42501");
  EXPECT_EQ(as_role("gabe_ingest", "DELETE FROM gabe.audit_log"), "42501");
  // Not even the owner can change it.
  EXPECT_THROW(scalar("DELETE FROM gabe.audit_log RETURNING 1"), pqxx::sql_error);
  EXPECT_THROW(scalar("TRUNCATE gabe.audit_log"), pqxx::sql_error);
  // Donor rows are never deleted (gifts point at them without a foreign key).
  scalar("INSERT INTO donor.donors (source, ref) VALUES ('crm', 'kept') RETURNING 1");
  EXPECT_THROW(scalar("DELETE FROM donor.donors WHERE ref = 'kept' RETURNING 1"), pqxx::sql_error);
  EXPECT_THROW(scalar("TRUNCATE donor.donors CASCADE"), pqxx::sql_error);
  EXPECT_EQ(scalar("SELECT count(*) FROM donor.donors WHERE ref = 'kept'"), "1");
}

TEST_F(Platform, TheIngestServiceRunsAsItsOwnRole) {
  login_role("gabe_ingest");
  Service own("gabe-ingest", "postgresql://gabe_ingest@127.0.0.1:" +
                                 std::to_string(cluster().port()) + "/" + db_name_);
  HttpClient c(own.port());
  EXPECT_EQ(c.get("/readyz").status, 200);
  const std::string body =
      R"({"type":"gift.created","data":{"gift_ref":"g","donor_ref":"d","amount":"1.00","received_on":"2026-11-20"}})";
  auto r = send_webhook(c, secret_, "own-1", body);
  EXPECT_EQ(r.status, 200) << r.body;
  auto erase = c.request("DELETE", "/v1/donors/" + scalar("SELECT id FROM donor.donors"),
                         {{"Authorization", "Bearer " + admin_token_}});
  EXPECT_EQ(erase.status, 200) << erase.body;
}

TEST_F(Platform, BadConfigurationStopsTheServiceWithAMessageNamingIt) {
  std::string out, err;
  EXPECT_EQ(run_command(bin_dir() + "/gabe-ingest", {}, {{"GABE_DATABASE_URL", ""}}, &out, &err),
            2);
  EXPECT_NE(err.find("GABE_DATABASE_URL"), std::string::npos);
  EXPECT_EQ(run_command(bin_dir() + "/gabe-ingest", {},
                        {{"GABE_DATABASE_URL", url_}, {"GABE_LISTEN", "nohost"}}, &out, &err),
            2);
  EXPECT_NE(err.find("GABE_LISTEN"), std::string::npos);
  EXPECT_EQ(run_command(bin_dir() + "/gabe-ingest", {},
                        {{"GABE_DATABASE_URL", url_}, {"GABE_LOG_LEVEL", "loud"}}, &out, &err),
            2);
  EXPECT_NE(err.find("GABE_LOG_LEVEL"), std::string::npos);
  EXPECT_EQ(run_command(bin_dir() + "/gabe-ingest", {},
                        {{"GABE_DATABASE_URL", url_}, {"GABE_HTTP_WORKERS", "0"}}, &out, &err),
            2);
  EXPECT_NE(err.find("GABE_HTTP_WORKERS=0 is not a whole number from 1 to 512"), std::string::npos)
      << err;
  EXPECT_EQ(
      run_command(bin_dir() + "/gabe-ingest", {},
                  {{"GABE_DATABASE_URL", url_}, {"GABE_INGEST_BATCH_MAX", "many"}}, &out, &err),
      2);
  EXPECT_NE(err.find("GABE_INGEST_BATCH_MAX=many"), std::string::npos) << err;
  // --help is written from the settings tables: the common ones and the service's own.
  EXPECT_EQ(run_command(bin_dir() + "/gabe-ingest", {"--help"}, {}, &out, &err), 0);
  EXPECT_NE(out.find("GABE_DATABASE_URL"), std::string::npos);
  EXPECT_NE(out.find("(1-512; default 64)"), std::string::npos) << out;
  EXPECT_NE(out.find("GABE_INGEST_BATCH_MAX"), std::string::npos) << out;
  EXPECT_EQ(
      run_command(bin_dir() + "/gabectl", {"token", "create", "--role", "king", "--name", "x"},
                  {{"GABE_DATABASE_URL", url_}}, &out, &err),
      2);
}

TEST_F(Platform, LogsCarryNoPersonalData) {
  // At debug level, through every path that logs: webhooks, a rejection, an authenticated
  // import with a rejected line, and a request that is not HTTP.
  Service verbose("gabe-ingest", url_, {{"GABE_LOG_LEVEL", "debug"}});
  HttpClient c(verbose.port());
  auto body = [](const std::string& type, const std::string& data) {
    return R"({"type":")" + type + R"(","timestamp":"2026-11-24T10:00:00Z","data":)" + data + "}";
  };
  ASSERT_EQ(send_webhook(c, secret_, "1",
                         body("donor.upserted", R"({"donor_ref":"d1","first_name":"Zebulon",)"
                                                R"("email":"zebulon@example.org"})"))
                .status,
            200);
  ASSERT_EQ(send_webhook(c, secret_, "2",
                         body("gift.created", R"({"gift_ref":"g","donor_ref":"d1","amount":"-1",)"
                                              R"("received_on":"2026-11-20","fund":"Zebulon"})"))
                .status,
            422);
  ASSERT_EQ(c.request("POST", "/v1/import",
                      {{"Authorization", "Bearer " + admin_token_},
                       {"Content-Type", "application/x-ndjson"}},
                      R"({"id":"3","source":"crm","type":"donor.upserted","data":)"
                      R"({"donor_ref":"zebulon@example.org","email":"zebulon"}})"
                      "\n")
                .status,
            200);
  HttpClient raw(verbose.port());
  EXPECT_EQ(raw.raw("Zebulon zebulon@example.org\r\n\r\n").status, 400);
  std::string log;
  shell("cat " + verbose.log_file(), &log);
  EXPECT_NE(log.find("import finished"), std::string::npos);
  EXPECT_NE(log.find("unparseable request"), std::string::npos);
  EXPECT_NE(log.find("listening"), std::string::npos);
  EXPECT_EQ(log.find("Zebulon"), std::string::npos);
  EXPECT_EQ(log.find("zebulon@example.org"), std::string::npos);
  EXPECT_EQ(log.find(admin_token_), std::string::npos);
}

}  // namespace
}  // namespace gabe::test

namespace gabe::test {
namespace {

class PlatformTokens : public IngestTest {};

// Only the SHA-256 of a token is stored; revoking one takes effect within the cache time.
TEST_F(PlatformTokens, AreStoredHashedAndCanBeRevoked) {
  EXPECT_EQ(scalar("SELECT count(*) FROM gabe.api_tokens WHERE token_hash = sha256(convert_to('" +
                   admin_token_ + "', 'UTF8'))"),
            "1");
  EXPECT_EQ(scalar("SELECT count(*) FROM gabe.api_tokens t WHERE t::text LIKE '%" +
                   admin_token_.substr(5, 20) + "%'"),
            "0");
  EXPECT_EQ(get("/v1/stats", viewer_token_).status, 200);
  ASSERT_EQ(gabectl({"token", "revoke", "--name", "reader"}), 0);
  EXPECT_NE(gabectl({"token", "revoke", "--name", "reader"}), 0);  // nothing left to revoke
  std::this_thread::sleep_for(std::chrono::milliseconds(5100));
  EXPECT_EQ(get("/v1/stats", viewer_token_).status, 401);
}

}  // namespace
}  // namespace gabe::test
