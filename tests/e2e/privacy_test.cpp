// Privacy rights through the step registry: a schema that registers its own erase and export
// steps is erased and exported by the real service, with no change to ingest; a step that
// raises rolls the whole erasure back; the export lists the raw events still held.
#include <gtest/gtest.h>

#include "ingest_fixture.hpp"

namespace gabe::test {
namespace {

class Privacy : public IngestTest {
 protected:
  // A service's own data about donors, and its steps, as its own migration would add them
  // (created here as the owner, i.e. the test's superuser). `erase_extra` runs after the
  // step's delete.
  void create_testsvc(const std::string& erase_extra = "") {
    scalar("CREATE SCHEMA IF NOT EXISTS testsvc");
    scalar(
        "CREATE TABLE IF NOT EXISTS testsvc.notes (donor_id bigint NOT NULL, note text NOT NULL)");
    scalar(R"sql(
CREATE OR REPLACE FUNCTION testsvc.erase_donor_data(p_donor bigint) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM testsvc.notes WHERE donor_id = p_donor;
  )sql" + erase_extra +
           R"sql(
END
$$)sql");
    scalar(R"sql(
CREATE OR REPLACE FUNCTION testsvc.export_donor_data(p_donor bigint) RETURNS jsonb
LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object('testsvc_notes', COALESCE(
    (SELECT jsonb_agg(n.note ORDER BY n.note) FROM testsvc.notes n WHERE n.donor_id = p_donor),
    '[]'::jsonb))
$$)sql");
    // What the service's numbered migration does: one row in the catalogue.
    scalar(
        "INSERT INTO gabe.privacy_steps (schema_name, position, erase_function, "
        "export_function) VALUES ('testsvc', 500, 'erase_donor_data', 'export_donor_data') "
        "ON CONFLICT (schema_name) DO NOTHING");
  }

  std::string make_donor(const std::string& ref) {
    EXPECT_EQ(event("donor.upserted", R"({"donor_ref":")" + ref + R"(","first_name":"Petra"})",
                    "up-" + ref)
                  .status,
              200);
    return scalar("SELECT id FROM donor.donors WHERE ref = '" + ref + "'");
  }

  void give(const std::string& ref) {
    ASSERT_EQ(event("gift.created",
                    R"({"gift_ref":"g-)" + ref + R"(","donor_ref":")" + ref +
                        R"(","amount":"5.00","received_on":"2026-11-20"})",
                    "gift-" + ref)
                  .status,
              200);
  }

  // The service as it runs in production: as the role gabe_ingest, which has no privilege on
  // testsvc at all.
  std::unique_ptr<Service> as_ingest_role() {
    login_role("gabe_ingest");
    return std::make_unique<Service>(
        "gabe-ingest",
        "postgresql://gabe_ingest@127.0.0.1:" + std::to_string(cluster().port()) + "/" + db_name_);
  }
};

TEST_F(Privacy, ARegisteredSchemaIsExportedAndErasedWithoutChangingIngest) {
  create_testsvc();
  const auto id = make_donor("d1");
  const auto other = make_donor("d2");
  scalar("INSERT INTO testsvc.notes VALUES (" + id + ", 'likes owls'), (" + id +
         ", 'called twice'), (" + other + ", 'someone else') RETURNING 1");
  auto svc = as_ingest_role();
  HttpClient c(svc->port());
  const std::vector<std::pair<std::string, std::string>> auth{
      {"Authorization", "Bearer " + admin_token_}};

  auto r = c.request("GET", "/v1/donors/" + id + "/export", auth);
  ASSERT_EQ(r.status, 200) << r.body;
  auto e = json(r);
  ASSERT_TRUE(e->HasMember("testsvc_notes")) << r.body;
  ASSERT_EQ((*e)["testsvc_notes"].Size(), 2u);
  EXPECT_STREQ((*e)["testsvc_notes"][0].GetString(), "called twice");
  EXPECT_STREQ((*e)["contact"]["first_name"].GetString(), "Petra");  // ingest's own steps too

  r = c.request("DELETE", "/v1/donors/" + id, auth);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(scalar("SELECT count(*) FROM testsvc.notes WHERE donor_id = " + id), "0");
  EXPECT_EQ(scalar("SELECT count(*) FROM testsvc.notes WHERE donor_id = " + other), "1");
  EXPECT_EQ(scalar("SELECT count(*) FROM pii.donor_pii WHERE donor_id = " + id), "0");
  EXPECT_EQ(scalar("SELECT count(*) FROM gabe.audit_log WHERE action = 'donor.erase' AND entity "
                   "= 'donor:" +
                   id + "'"),
            "1");
  e = json(c.request("GET", "/v1/donors/" + id + "/export", auth));
  EXPECT_EQ((*e)["testsvc_notes"].Size(), 0u);
  EXPECT_TRUE((*e)["donor"]["erased"].GetBool());

  // The service role reaches testsvc only through the central functions: it can neither read
  // the table nor run a step alone (an erasure without tombstones and audit entry).
  EXPECT_EQ(as_role("gabe_ingest", "SELECT count(*) FROM testsvc.notes"), "42501");
  EXPECT_EQ(as_role("gabe_ingest", "SELECT testsvc.erase_donor_data(" + other + ")"), "42501");
  EXPECT_EQ(as_role("gabe_ingest", "SELECT ingest.erase_donor_data(" + other + ")"), "42501");
  EXPECT_EQ(as_role("gabe_scoring", "SELECT gabe.erase_donor(" + other + ", 'scoring', 'x')"),
            "42501");
  EXPECT_EQ(scalar("SELECT count(*) FROM testsvc.notes WHERE donor_id = " + other), "1");
}

TEST_F(Privacy, AStepThatRaisesRollsTheWholeErasureBack) {
  create_testsvc("RAISE EXCEPTION 'testsvc cannot erase now';");
  const auto id = make_donor("d1");
  give("d1");
  scalar("INSERT INTO testsvc.notes VALUES (" + id + ", 'likes owls') RETURNING 1");

  auto r = admin("DELETE", "/v1/donors/" + id);
  EXPECT_EQ(r.status, 500) << r.body;
  // Nothing of the erasure stayed: not ingest's, pii's or donor's steps (which ran before the
  // failing one), nor the audit entry.
  EXPECT_EQ(scalar("SELECT erased_at IS NULL FROM donor.donors WHERE id = " + id), "t");
  EXPECT_EQ(scalar("SELECT count(*) FROM pii.donor_pii WHERE donor_id = " + id), "1");
  EXPECT_EQ(scalar("SELECT count(*) FROM ingest.donor_refs WHERE donor_id = " + id), "1");
  EXPECT_EQ(scalar("SELECT count(*) FROM ingest.tombstones"), "0");
  EXPECT_EQ(scalar("SELECT count(*) FROM ingest.inbox WHERE raw IS NULL"), "0");
  EXPECT_EQ(scalar("SELECT count(*) FROM testsvc.notes"), "1");
  EXPECT_EQ(scalar("SELECT count(*) FROM gabe.audit_log WHERE action = 'donor.erase'"), "0");

  // A CRM's erasure goes through the same steps and rolls back the same way: the event is not
  // acknowledged, so the CRM delivers it again.
  EXPECT_NE(event("donor.erased", R"({"donor_ref":"d1"})", "erase-1").status, 200);
  EXPECT_EQ(scalar("SELECT erased_at IS NULL FROM donor.donors WHERE id = " + id), "t");

  create_testsvc();  // the step is fixed
  ASSERT_EQ(admin("DELETE", "/v1/donors/" + id).status, 200);
  EXPECT_EQ(scalar("SELECT erased_at IS NOT NULL FROM donor.donors WHERE id = " + id), "t");
  EXPECT_EQ(scalar("SELECT count(*) FROM testsvc.notes"), "0");
}

TEST_F(Privacy, BrokenStepsFailLoudly) {
  create_testsvc();
  scalar(R"sql(
CREATE OR REPLACE FUNCTION testsvc.export_donor_data(p_donor bigint) RETURNS jsonb
LANGUAGE sql STABLE AS $$ SELECT jsonb_build_object('gifts', '[]'::jsonb) $$)sql");
  const auto id = make_donor("d1");
  EXPECT_EQ(get("/v1/donors/" + id + "/export").status, 500);
  // A registered step that is gone fails the erasure instead of being skipped.
  scalar("DROP FUNCTION testsvc.erase_donor_data(bigint)");
  EXPECT_EQ(admin("DELETE", "/v1/donors/" + id).status, 500);
  EXPECT_EQ(scalar("SELECT erased_at IS NULL FROM donor.donors WHERE id = " + id), "t");
  create_testsvc();
  EXPECT_EQ(admin("DELETE", "/v1/donors/" + id).status, 200);  // dropped and created again
  EXPECT_EQ(scalar("SELECT erased_at IS NULL FROM donor.donors WHERE id = " + id), "f");
  // A registered schema that does not exist at all fails the export too.
  scalar(
      "INSERT INTO gabe.privacy_steps (schema_name, position, export_function) "
      "VALUES ('nosuchschema', 600, 'export_donor_data')");
  EXPECT_EQ(get("/v1/donors/" + id + "/export").status, 500);
}

TEST_F(Privacy, TheExportListsTheRawEventsStillHeld) {
  const auto id = make_donor("d1");
  give("d1");
  // Rejected, but it names d1: the person's data too.
  ASSERT_EQ(
      event("gift.created", R"({"gift_ref":"g2","donor_ref":"d1","amount":"-1"})", "gift-2").status,
      422);
  ASSERT_EQ(event("donor.upserted", R"({"donor_ref":"d9","first_name":"Other"})", "up-d9").status,
            200);
  auto e = json(get("/v1/donors/" + id + "/export"));
  ASSERT_TRUE((*e)["inbox_events"].IsArray());
  const auto& events = (*e)["inbox_events"];
  ASSERT_EQ(events.Size(), 3u);
  EXPECT_STREQ(events[0]["event_id"].GetString(), "up-d1");
  EXPECT_STREQ(events[0]["type"].GetString(), "donor.upserted");
  EXPECT_STREQ(events[0]["source"].GetString(), "crm");
  EXPECT_STREQ(events[0]["status"].GetString(), "processed");
  EXPECT_TRUE(events[0]["id"].IsInt64());
  EXPECT_TRUE(events[0]["received_at"].IsString());
  EXPECT_NE(std::string(events[0]["raw"].GetString()).find("Petra"), std::string::npos);
  EXPECT_STREQ(events[2]["event_id"].GetString(), "gift-2");
  EXPECT_STREQ(events[2]["status"].GetString(), "rejected");
  // Sections come from registered steps only: scoring's and segments' steps add theirs (empty
  // for a donor never scored or in no segment).
  ASSERT_TRUE(e->HasMember("scores"));
  EXPECT_TRUE((*e)["scores"].IsArray() && (*e)["scores"].Empty());
  EXPECT_TRUE(e->HasMember("segment_memberships"));

  ASSERT_EQ(admin("DELETE", "/v1/donors/" + id).status, 200);
  e = json(get("/v1/donors/" + id + "/export"));
  EXPECT_EQ((*e)["inbox_events"].Size(), 0u);
}

}  // namespace
}  // namespace gabe::test
