// gabectl against a real database: what its token and source commands write (through the auth
// library and ingest's sources code) and what they refuse.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "ingest_fixture.hpp"

namespace gabe::test {
namespace {

class Gabectl : public IngestTest {
 protected:
  // "service|actor prefix|details" of the newest audit entry with this action and entity.
  std::string audit(const std::string& action, const std::string& entity) {
    return scalar(
        "SELECT service || '|' || split_part(actor, ':', 1) || '|' || details::text "
        "FROM gabe.audit_log WHERE action = '" +
        action + "' AND entity = '" + entity + "' ORDER BY id DESC LIMIT 1");
  }
};

TEST_F(Gabectl, TokenAndSourceCommandsWriteTheirAuditEntries) {
  std::string out;
  ASSERT_EQ(gabectl({"token", "create", "--role", "viewer", "--name", "auditor"}, &out), 0);
  EXPECT_EQ(last_line(out).rfind("gabe_", 0), 0u) << out;
  EXPECT_EQ(audit("token.create", "token:auditor"),
            R"(gabectl|gabectl|{"name": "auditor", "role": "viewer"})");
  ASSERT_EQ(gabectl({"token", "revoke", "--name", "auditor"}, &out), 0);
  EXPECT_EQ(audit("token.revoke", "token:auditor"), R"(gabectl|gabectl|{"revoked": 1})");

  ASSERT_EQ(gabectl({"source", "add", "shop", "--adapter", "civicrm"}, &out), 0);
  EXPECT_EQ(last_line(out).rfind("whsec_", 0), 0u) << out;
  EXPECT_EQ(scalar("SELECT adapter FROM ingest.sources WHERE name = 'shop'"), "civicrm");
  EXPECT_EQ(audit("source.add", "source:shop"),
            R"(ingest|gabectl|{"adapter": "civicrm", "optin_groups": {}})");
  ASSERT_EQ(gabectl({"source", "rotate", "shop"}, &out), 0);
  EXPECT_EQ(audit("source.rotate", "source:shop"), "ingest|gabectl|{}");
  ASSERT_EQ(gabectl({"source", "rotate", "shop", "--retire-old"}, &out), 0);
  EXPECT_EQ(audit("source.retire_old", "source:shop"), R"(ingest|gabectl|{"retired": 1})");
  EXPECT_EQ(scalar("SELECT count(*) FROM ingest.source_secrets WHERE source = 'shop' AND "
                   "retired_at IS NULL"),
            "1");
}

TEST_F(Gabectl, RefusalsExitTwoAndChangeNothing) {
  const auto entries = scalar("SELECT count(*) FROM gabe.audit_log");
  const auto secrets = scalar("SELECT count(*) FROM ingest.source_secrets");
  std::string out, err;
  EXPECT_EQ(gabectl({"source", "add", "crm"}, &out, &err), 2);
  EXPECT_NE(err.find("exists already"), std::string::npos) << err;
  EXPECT_EQ(gabectl({"source", "add", "shop", "--adapter", "salesforce"}, &out, &err), 2);
  EXPECT_NE(err.find("generic, civicrm"), std::string::npos) << err;
  EXPECT_EQ(gabectl({"source", "add", "import", "--adapter", "import"}, &out, &err), 2);
  EXPECT_EQ(gabectl({"source", "add", "Shop!"}, &out, &err), 2);
  EXPECT_EQ(gabectl({"source", "rotate", "nosuch"}, &out, &err), 2);
  EXPECT_NE(err.find("nosuch"), std::string::npos) << err;
  EXPECT_EQ(gabectl({"token", "revoke", "--name", "nobody"}, &out, &err), 2);
  EXPECT_EQ(gabectl({"token", "create", "--role", "viewer", "--name", "x", "--colour", "red"}, &out,
                    &err),
            2);
  EXPECT_NE(err.find("unknown option --colour"), std::string::npos) << err;
  EXPECT_EQ(scalar("SELECT count(*) FROM gabe.api_tokens WHERE name = 'x'"), "0");
  EXPECT_EQ(scalar("SELECT count(*) FROM ingest.sources WHERE name <> 'crm'"), "0");
  EXPECT_EQ(scalar("SELECT count(*) FROM ingest.source_secrets"), secrets);
  EXPECT_EQ(scalar("SELECT count(*) FROM gabe.audit_log"), entries);

  // --help names the adapters of the one table.
  ASSERT_EQ(gabectl({"--help"}, &out, &err), 0);
  EXPECT_NE(out.find("source add NAME --adapter generic|civicrm [--pull URL] "
                     "[--email-optin-group G] [--phone-optin-group G] [--sms-optin-group G]"),
            std::string::npos)
      << out;
}

// Progress goes to stderr only when that is a terminal: script(1) gives gabectl one.
TEST_F(Gabectl, ImportShowsProgressOnATerminalAndNothingInAPipe) {
  if (access("/usr/bin/script", X_OK) != 0) GTEST_SKIP() << "needs script(1) for a terminal";
  // Unique per process: another checkout's tests may run the same test at the same time.
  const std::string file =
      "/tmp/gabe-progress-" + std::to_string(::getpid()) + "-" + db_name_ + ".ndjson";
  std::string out, err;
  ASSERT_EQ(run_command(bin_dir() + "/gabectl",
                        {"demo-data", "--donors", "3000", "--seed", "5", "--source", "crm"}, {},
                        &out, &err),
            0);
  EXPECT_EQ(err.find('\r'), std::string::npos) << "progress drawn into a pipe";
  {
    std::ofstream f(file);
    f << out;
  }
  ASSERT_EQ(
      run_command("/usr/bin/script",
                  {"-qec", bin_dir() + "/gabectl import " + file + " --source crm", "/dev/null"},
                  {{"GABE_DATABASE_URL", url_}}, &out, &err),
      0)
      << out << err;
  EXPECT_NE(out.find("lines/s"), std::string::npos) << out;
  EXPECT_NE(out.find("100%"), std::string::npos) << out;
  EXPECT_NE(out.find("\"processed\":"), std::string::npos) << out;
  // The same file again through a pipe: only the answer.
  ASSERT_EQ(gabectl({"import", file, "--source", "crm"}, &out, &err), 0) << err;
  EXPECT_EQ(err, "");
  EXPECT_NE(out.find("\"duplicates\":"), std::string::npos) << out;
  std::remove(file.c_str());
}

}  // namespace
}  // namespace gabe::test
