// The SQL functions called directly against a real PostgreSQL, as the role that calls them in
// production: ingest.apply_events (through the batch contract of event_store.cpp),
// ingest.merge_donors, ingest.erase_donor, gabe.record_audit, and the migration runner's
// handling of function files. No service process: each test gets a database copied from a
// template migrated once with the embedded migrations.
#include <gtest/gtest.h>

#include <memory>
#include <mutex>
#include <pqxx/pqxx>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "canonical_event.hpp"
#include "event_store.hpp"
#include "gabe/json.hpp"
#include "gabe/migrations.hpp"
#include "gabe/service.hpp"
#include "postgres.hpp"

namespace gabe::test {
namespace {

using ingest::ApplyOutcome;
using ingest::CanonicalEvent;

PostgresCluster& cluster() {
  static PostgresCluster c;
  return c;
}

void make_template() {
  pqxx::connection admin(cluster().url());
  {
    pqxx::nontransaction tx(admin);
    tx.exec("CREATE DATABASE sql_template");
  }
  pqxx::connection c(cluster().url("sql_template"));
  std::ostringstream out;
  migrations::apply(c, out);
}

// One canonical event, mapped by the real mapper from a generic envelope.
CanonicalEvent event(const std::string& type, const std::string& data, const std::string& id,
                     const std::string& timestamp = "2026-11-24T10:00:00Z") {
  CanonicalEvent e;
  e.source = "crm";
  e.event_id = id;
  e.raw = R"({"type":")" + type + R"(","timestamp":")" + timestamp + R"(","data":)" + data + "}";
  auto doc = parse_json(e.raw);
  map_generic_envelope(e, *doc, timestamp);
  return e;
}

class SqlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static std::once_flag once;
    std::call_once(once, make_template);
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = std::string("t_") + info->test_suite_name() + "_" + info->name();
    for (auto& ch : name)
      ch = static_cast<char>(std::isalnum(static_cast<unsigned char>(ch)) ? std::tolower(ch) : '_');
    name = name.substr(0, 60);
    {
      pqxx::connection admin(cluster().url());
      pqxx::nontransaction tx(admin);
      tx.exec("DROP DATABASE IF EXISTS " + tx.quote_name(name) + " WITH (FORCE)");
      tx.exec("CREATE DATABASE " + tx.quote_name(name) +
              " TEMPLATE sql_template STRATEGY FILE_COPY");
    }
    url_ = cluster().url(name);
    owner_ = std::make_unique<pqxx::connection>(url_);
    ingest_ = std::make_unique<pqxx::connection>(url_);
    {
      pqxx::nontransaction tx(*ingest_);
      tx.exec("SET ROLE gabe_ingest");
    }
    ingest::prepare_ingest_connection(*ingest_);
  }

  std::vector<ApplyOutcome> apply(const std::vector<CanonicalEvent>& events) {
    return ingest::apply_events(*ingest_, events);
  }

  // As gabe_ingest, one statement, its first value as text ("" for NULL or no row).
  std::string call(const std::string& sql) {
    pqxx::nontransaction tx(*ingest_);
    auto r = tx.exec(sql);
    return r.empty() || r[0][0].is_null() ? "" : r[0][0].c_str();
  }

  // As the owner, one value as text ("" for NULL or no row).
  std::string scalar(const std::string& sql) {
    pqxx::nontransaction tx(*owner_);
    auto r = tx.exec(sql);
    return r.empty() || r[0][0].is_null() ? "" : r[0][0].c_str();
  }

  // The message of a migration run that must fail ("" if it succeeded); what it printed.
  std::string migrate_error(std::string* printed = nullptr) {
    std::ostringstream out;
    std::string error;
    try {
      migrations::apply(*owner_, out);
    } catch (const std::runtime_error& e) {
      error = e.what();
    }
    if (printed) *printed = out.str();
    return error;
  }

  static std::string statuses(const std::vector<ApplyOutcome>& out) {
    std::string s;
    for (const auto& o : out) s += o.event_id + "=" + o.status + (o.error.empty() ? "" : "!") + " ";
    return s;
  }

  std::string url_;
  std::unique_ptr<pqxx::connection> owner_;
  std::unique_ptr<pqxx::connection> ingest_;
};

const char* kGift =
    R"({"gift_ref":"g1","donor_ref":"d1","amount":"19.99","received_on":"2026-11-20"})";

TEST_F(SqlTest, TheBatchContractIsTheArgumentListOfApplyEvents) {
  std::string expected_names = "{";
  std::string expected_types = "{";
  for (const auto& c : ingest::batch_columns()) {
    if (expected_names.size() > 1) {
      expected_names += ",";
      expected_types += ",";
    }
    expected_names += std::string("p_") + c.name;
    expected_types += std::string("\"") + c.sql_type + "[]\"";
  }
  expected_names += "}";
  expected_types += "}";
  pqxx::nontransaction tx(*owner_);
  auto r = tx.exec_params(
      "SELECT (p.proargnames[1:p.pronargs])::text, "
      "       ARRAY(SELECT format_type(t.oid, NULL) FROM unnest(p.proargtypes::oid[]) "
      "             WITH ORDINALITY AS t(oid, i) ORDER BY t.i)::text, "
      "       ARRAY(SELECT format_type(to_regtype(x.t), NULL) FROM unnest($1::text[]) "
      "             WITH ORDINALITY AS x(t, i) ORDER BY x.i)::text "
      "FROM pg_proc p WHERE p.oid = 'ingest.apply_events'::regproc",
      expected_types);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(std::string(r[0][0].c_str()), expected_names);
  EXPECT_EQ(std::string(r[0][1].c_str()), std::string(r[0][2].c_str()));
}

TEST_F(SqlTest, ApplyEventsStoresABatchOfEveryType) {
  auto out = apply({
      event("donor.upserted", R"({"donor_ref":"d1","first_name":"Erika","email":"e@example.org",
             "country":"DE","language":"de-DE","tags":["major"],"consent":{"email":true},
             "audit":{"gender":"f","age_band":"45-59"}})",
            "1"),
      event("consent.changed", R"({"donor_ref":"d1","channel":"profiling","granted":false})", "2"),
      event("campaign.upserted",
            R"({"campaign_ref":"xmas","name":"Weihnachten","goal_amount":"1000"})", "3"),
      event(
          "recurring.upserted",
          R"({"recurring_ref":"r1","donor_ref":"d1","amount":"5.00","interval":"monthly","status":"active"})",
          "4"),
      event("gift.created", kGift, "5"),
      event(
          "gift.updated",
          R"({"gift_ref":"g2","donor_ref":"d2","amount":"7","received_on":"2026-11-21","channel":"sepa"})",
          "6"),
      event("appeal.sent", R"({"campaign_ref":"xmas","donor_ref":"d1","sent_on":"2026-11-01"})",
            "7"),
      event("gift.created", R"({"gift_ref":"g3","donor_ref":"d1","amount":"-1"})", "8"),
      event("gift.refunded", R"({"gift_ref":"g1"})", "9", "2026-11-25T10:00:00Z"),
  });
  EXPECT_EQ(statuses(out),
            "1=processed 2=processed 3=processed 4=processed 5=processed 6=processed 7=processed "
            "8=rejected! 9=processed ");

  EXPECT_EQ(scalar("SELECT concat_ws(',', ref, language, country, tags::text, is_placeholder, "
                   "profiling_objection) FROM donor.donors WHERE ref = 'd1'"),
            "d1,de,DE,{major},f,t");
  EXPECT_EQ(scalar("SELECT first_name || ' ' || email FROM pii.donor_pii"), "Erika e@example.org");
  EXPECT_EQ(scalar("SELECT gender || age_band FROM donor.audit_attributes"), "f45-59");
  EXPECT_EQ(scalar("SELECT string_agg(channel || '=' || granted, ',' ORDER BY channel) "
                   "FROM donor.consents"),
            "email=true,profiling=false");
  EXPECT_EQ(scalar("SELECT count(*) FROM donor.consent_history"), "2");
  EXPECT_EQ(scalar("SELECT name || ' ' || goal_cents FROM donor.campaigns"), "Weihnachten 100000");
  EXPECT_EQ(scalar("SELECT amount_cents || ' ' || interval FROM donor.recurring"), "500 monthly");
  EXPECT_EQ(
      scalar("SELECT string_agg(ref || ':' || amount_cents || ':' || status, ',' ORDER BY ref) "
             "FROM donor.gifts"),
      "g1:1999:refunded,g2:700:completed");
  EXPECT_EQ(scalar("SELECT count(*) FROM donor.appeals"), "1");
  // d2 was unknown: a placeholder; the rejected gift is kept in the inbox with its reason.
  EXPECT_EQ(scalar("SELECT is_placeholder FROM donor.donors WHERE ref = 'd2'"), "t");
  EXPECT_EQ(scalar("SELECT string_agg(event_id || '=' || status, ',' ORDER BY event_id) "
                   "FROM ingest.inbox"),
            "1=processed,2=processed,3=processed,4=processed,5=processed,6=processed,"
            "7=processed,8=rejected,9=processed");
  EXPECT_NE(scalar("SELECT error FROM ingest.inbox WHERE event_id = '8'"), "");
}

TEST_F(SqlTest, ApplyEventsIsIdempotentAndTakesARejectedEventAgain) {
  std::vector<CanonicalEvent> batch = {
      event("gift.created", kGift, "1"),
      event("donor.upserted", R"({"donor_ref":"d1","first_name":"Erika"})", "2"),
      event("gift.created", R"({"gift_ref":"g2","donor_ref":"d1","amount":"x"})", "3"),
  };
  EXPECT_EQ(statuses(apply(batch)), "1=processed 2=processed 3=rejected! ");
  EXPECT_EQ(statuses(apply(batch)), "1=duplicate 2=duplicate 3=rejected! ");
  EXPECT_EQ(scalar("SELECT attempts FROM ingest.inbox WHERE event_id = '3'"), "2");
  EXPECT_EQ(scalar("SELECT count(*) FROM donor.gifts"), "1");
  EXPECT_EQ(scalar("SELECT count(*) FROM donor.consent_history"), "0");
  // Fixed and delivered again, the rejected event is processed.
  EXPECT_EQ(
      statuses(apply({event(
          "gift.created",
          R"({"gift_ref":"g2","donor_ref":"d1","amount":"3","received_on":"2026-11-20"})", "3")})),
      "3=processed ");
  EXPECT_EQ(scalar("SELECT count(*) FROM donor.gifts"), "2");
  // A copy within one batch counts once.
  EXPECT_EQ(statuses(apply({event("gift.created", kGift, "4"), event("gift.created", kGift, "4")})),
            "4=processed 4=duplicate ");
}

TEST_F(SqlTest, ApplyEventsKeepsTheNewestVersionWithinAndAcrossBatches) {
  // Within one batch the newer gift wins whatever its place.
  apply({
      event("gift.updated",
            R"({"gift_ref":"g","donor_ref":"d1","amount":"20","received_on":"2026-11-20"})", "1",
            "2026-11-24T12:00:00Z"),
      event("gift.created",
            R"({"gift_ref":"g","donor_ref":"d1","amount":"10","received_on":"2026-11-20"})", "2",
            "2026-11-24T09:00:00Z"),
  });
  EXPECT_EQ(scalar("SELECT amount_cents FROM donor.gifts WHERE ref = 'g'"), "2000");
  // An older one in a later batch changes nothing.
  apply({event("gift.updated",
               R"({"gift_ref":"g","donor_ref":"d1","amount":"30","received_on":"2026-11-20"})", "3",
               "2026-11-24T11:00:00Z")});
  EXPECT_EQ(scalar("SELECT amount_cents FROM donor.gifts WHERE ref = 'g'"), "2000");
  // Profiles compare their updated_at, consent its at.
  apply(
      {event("donor.upserted",
             R"({"donor_ref":"d1","first_name":"Neu","updated_at":"2026-11-24T12:00:00Z"})", "4")});
  apply(
      {event("donor.upserted",
             R"({"donor_ref":"d1","first_name":"Alt","updated_at":"2026-11-24T08:00:00Z"})", "5"),
       event("consent.changed",
             R"({"donor_ref":"d1","channel":"email","granted":false,"at":"2026-11-24T12:00:00Z"})",
             "6"),
       event("consent.changed",
             R"({"donor_ref":"d1","channel":"email","granted":true,"at":"2026-11-20T12:00:00Z"})",
             "7")});
  EXPECT_EQ(scalar("SELECT first_name FROM pii.donor_pii"), "Neu");
  EXPECT_EQ(scalar("SELECT granted FROM donor.consents WHERE channel = 'email'"), "f");
  EXPECT_EQ(scalar("SELECT count(*) FROM donor.consent_history"), "2");
}

TEST_F(SqlTest, ApplyEventsGivesUnknownRefsPlaceholdersButNotForRefundsOrErasures) {
  auto out = apply({
      event("gift.created", kGift, "1"),
      event("gift.refunded", R"({"gift_ref":"nope","donor_ref":"d9"})", "2"),
  });
  EXPECT_EQ(statuses(out), "1=processed 2=rejected! ");
  EXPECT_EQ(out[1].error, "unknown gift_ref");
  apply({event("donor.erased", R"({"donor_ref":"d8"})", "3")});
  EXPECT_EQ(scalar("SELECT string_agg(ref || ':' || is_placeholder, ',') FROM donor.donors"),
            "d1:true");
  EXPECT_EQ(scalar("SELECT string_agg(ref, ',') FROM ingest.donor_refs"), "d1");
  // A later profile fills the placeholder in.
  apply({event("donor.upserted", R"({"donor_ref":"d1","last_name":"Weber"})", "4")});
  EXPECT_EQ(scalar("SELECT is_placeholder FROM donor.donors WHERE ref = 'd1'"), "f");
}

TEST_F(SqlTest, MergeDonorsMovesEverythingToTheSurvivor) {
  apply({
      event("donor.upserted",
            R"({"donor_ref":"keep","first_name":"Greta","consent":{"post":true}})", "1"),
      event(
          "donor.upserted",
          R"({"donor_ref":"dup","first_name":"Greta","consent":{"email":true},"updated_at":"2026-11-24T11:00:00Z"})",
          "2"),
      event("gift.created",
            R"({"gift_ref":"g1","donor_ref":"dup","amount":"5","received_on":"2026-11-20"})", "3"),
      event(
          "recurring.upserted",
          R"({"recurring_ref":"r1","donor_ref":"dup","amount":"5","interval":"monthly","status":"active"})",
          "4"),
      event("appeal.sent", R"({"campaign_ref":"x","donor_ref":"dup","sent_on":"2026-11-01"})", "5"),
  });
  const std::string keep = scalar("SELECT id FROM donor.donors WHERE ref = 'keep'");
  const std::string dup = scalar("SELECT id FROM donor.donors WHERE ref = 'dup'");
  call("SELECT ingest.merge_donors(" + keep + ", 'crm', ARRAY['dup', 'new'])");

  EXPECT_EQ(scalar("SELECT merged_into FROM donor.donors WHERE id = " + dup), keep);
  EXPECT_EQ(scalar("SELECT string_agg(ref || '>' || (donor_id = " + keep +
                   "), ',' ORDER BY ref) "
                   "FROM ingest.donor_refs"),
            "dup>true,keep>true,new>true");
  EXPECT_EQ(scalar("SELECT donor_id FROM donor.gifts"), keep);
  EXPECT_EQ(scalar("SELECT donor_id FROM donor.recurring"), keep);
  EXPECT_EQ(scalar("SELECT donor_id FROM donor.appeals"), keep);
  EXPECT_EQ(scalar("SELECT string_agg(channel, ',' ORDER BY channel) FROM donor.consents "
                   "WHERE donor_id = " +
                   keep),
            "email,post");
  EXPECT_EQ(scalar("SELECT count(*) FROM donor.consent_history WHERE donor_id = " + keep), "2");
  EXPECT_EQ(scalar("SELECT count(*) FROM pii.donor_pii WHERE donor_id = " + dup), "0");
  // Merging again changes nothing.
  call("SELECT ingest.merge_donors(" + keep + ", 'crm', ARRAY['dup'])");
  EXPECT_EQ(scalar("SELECT count(*) FROM donor.donors WHERE merged_into IS NOT NULL"), "1");
}

TEST_F(SqlTest, EraseDonorPseudonymisesTombstonesAndRecordsWhy) {
  apply({
      event("donor.upserted",
            R"({"donor_ref":"d1","first_name":"Horst","consent":{"email":true},"tags":["x"]})",
            "1"),
      event("gift.created", kGift, "2"),
  });
  const std::string id = scalar("SELECT id FROM donor.donors WHERE ref = 'd1'");
  EXPECT_EQ(call("SELECT ingest.erase_donor(" + id + ", 'user:ops', 'Art. 17 request')"), "t");
  EXPECT_EQ(call("SELECT ingest.erase_donor(" + id + ", 'user:ops')"), "f");

  EXPECT_EQ(scalar("SELECT concat_ws(',', ref IS NULL, tags::text, erased_at IS NOT NULL) "
                   "FROM donor.donors WHERE id = " +
                   id),
            "t,{},t");
  EXPECT_EQ(scalar("SELECT count(*) FROM pii.donor_pii"), "0");
  EXPECT_EQ(scalar("SELECT count(*) FROM donor.consents"), "0");
  EXPECT_EQ(scalar("SELECT count(*) FROM donor.consent_history"), "0");
  EXPECT_EQ(scalar("SELECT count(*) FROM ingest.donor_refs"), "0");
  EXPECT_EQ(
      scalar("SELECT count(*) FROM ingest.inbox WHERE raw IS NOT NULL OR donor_ref IS NOT NULL"),
      "0");
  EXPECT_EQ(
      scalar(
          "SELECT donor_id FROM ingest.tombstones WHERE ref_hash = ingest.ref_hash('crm', 'd1')"),
      id);
  // Gifts stay, pseudonymised; one audit entry, written through gabe.record_audit.
  EXPECT_EQ(scalar("SELECT donor_id FROM donor.gifts"), id);
  EXPECT_EQ(scalar("SELECT concat_ws(' ', service, actor, action, entity, details::text) "
                   "FROM gabe.audit_log"),
            "ingest user:ops donor.erase donor:" + id + R"( {"reason": "Art. 17 request"})");
  // A later gift for the erased ref lands on the erased record, its raw text not kept.
  apply({event("gift.created",
               R"({"gift_ref":"g2","donor_ref":"d1","amount":"1","received_on":"2026-11-22"})",
               "3")});
  EXPECT_EQ(scalar("SELECT donor_id FROM donor.gifts WHERE ref = 'g2'"), id);
  EXPECT_EQ(scalar("SELECT raw IS NULL FROM ingest.inbox WHERE event_id = '3'"), "t");
}

TEST_F(SqlTest, RecordAuditIsTheOneWriterAndEveryServiceRoleMayCallIt) {
  pqxx::nontransaction tx(*owner_);
  for (const char* role : {"gabe_ingest", "gabe_scoring", "gabe_segments", "gabe_grants"}) {
    tx.exec(std::string("SET ROLE ") + role);
    tx.exec_params("SELECT gabe.record_audit($1, 'test', 'thing.done', 'thing:1', '{\"n\": 1}')",
                   std::string(role));
    tx.exec("RESET ROLE");
  }
  EXPECT_EQ(
      tx.exec("SELECT count(*) FROM gabe.audit_log WHERE details = '{\"n\": 1}'")[0][0].as<int>(),
      4);
  tx.exec("SELECT gabe.record_audit('x', 'test', 'a', 'e', NULL)");
  EXPECT_EQ(
      std::string(tx.exec("SELECT details FROM gabe.audit_log WHERE service = 'x'")[0][0].c_str()),
      "{}");
  // Nobody else: PUBLIC has no EXECUTE.
  tx.exec("CREATE ROLE outsider NOLOGIN");
  tx.exec("GRANT USAGE ON SCHEMA gabe TO outsider");
  tx.exec("SET ROLE outsider");
  EXPECT_THROW(tx.exec("SELECT gabe.record_audit('x', 'o', 'a', 'e', '{}')"), pqxx::sql_error);
}

TEST_F(SqlTest, CxxAndSqlAuditEntriesBothGoThroughRecordAudit) {
  // A record_audit that marks its rows shows who writes through it.
  {
    pqxx::nontransaction tx(*owner_);
    tx.exec(R"sql(
      CREATE OR REPLACE FUNCTION gabe.record_audit(p_service text, p_actor text, p_action text,
                                                   p_entity text, p_details jsonb DEFAULT '{}')
      RETURNS void LANGUAGE sql AS $$
        INSERT INTO gabe.audit_log (service, actor, action, entity, details)
        VALUES (p_service, p_actor, p_action, p_entity, p_details || '{"via": "record_audit"}');
      $$)sql");
  }
  apply({event("donor.upserted", R"({"donor_ref":"d1"})", "1")});
  const std::string id = scalar("SELECT id FROM donor.donors WHERE ref = 'd1'");
  call("SELECT ingest.erase_donor(" + id + ", 'user:ops')");
  {
    pqxx::work tx(*ingest_);
    record_audit(tx, "ingest", "user:ops", "event.replay", "event:1", "{}");
    tx.commit();
  }
  EXPECT_EQ(scalar("SELECT string_agg(action || '=' || (details ->> 'via'), ',' ORDER BY id) "
                   "FROM gabe.audit_log"),
            "donor.erase=record_audit,event.replay=record_audit");
}

TEST_F(SqlTest, MigrateReappliesOnlyChangedFunctionFiles) {
  std::ostringstream out;
  EXPECT_EQ(migrations::apply(*owner_, out), 0);
  EXPECT_TRUE(migrations::is_current(*owner_));
  {
    pqxx::nontransaction tx(*owner_);
    tx.exec(
        "UPDATE gabe_meta.schema_functions SET checksum = 'old' WHERE name = 'ingest.ref_hash'");
    tx.exec("DELETE FROM gabe_meta.schema_functions WHERE name = 'ingest.retire_ref'");
  }
  std::string states;
  for (const auto& f : migrations::function_status(*owner_)) {
    if (f.state != "applied") states += f.name + "=" + f.state + " ";
  }
  EXPECT_EQ(states, "ingest.ref_hash=changed ingest.retire_ref=pending ");
  // Readiness needs every function applied, in any text.
  EXPECT_FALSE(migrations::is_current(*owner_));
  EXPECT_EQ(migrations::apply(*owner_, out), 2);
  EXPECT_EQ(out.str(), "applied function ingest.ref_hash\napplied function ingest.retire_ref\n");
  EXPECT_TRUE(migrations::is_current(*owner_));
  EXPECT_EQ(migrations::apply(*owner_, out), 0);
}

TEST_F(SqlTest, AnOlderBinaryLeavesTheFunctionsOfANewerDatabase) {
  {
    pqxx::nontransaction tx(*owner_);
    tx.exec_params(
        "INSERT INTO gabe_meta.schema_migrations (version, name, checksum) VALUES ($1, 'newer', "
        "'x')",
        migrations::latest_version() + 1);
    tx.exec(
        "UPDATE gabe_meta.schema_functions SET checksum = 'newer' WHERE name = 'ingest.ref_hash'");
  }
  std::ostringstream out;
  EXPECT_EQ(migrations::apply(*owner_, out), 0);
  EXPECT_NE(out.str().find("function files left as they are"), std::string::npos) << out.str();
  EXPECT_EQ(
      scalar("SELECT checksum FROM gabe_meta.schema_functions WHERE name = 'ingest.ref_hash'"),
      "newer");
  EXPECT_TRUE(migrations::is_current(*owner_));
}

TEST_F(SqlTest, AFailingFunctionFileIsNamedAndNothingIsApplied) {
  {
    pqxx::nontransaction tx(*owner_);
    // A function of the same signature but another return type: CREATE OR REPLACE fails.
    tx.exec("DROP FUNCTION ingest.retire_ref(text, text)");
    tx.exec(
        "CREATE FUNCTION ingest.retire_ref(text, text) RETURNS integer LANGUAGE sql AS 'SELECT 1'");
    tx.exec(
        "UPDATE gabe_meta.schema_functions SET checksum = 'old' "
        "WHERE name IN ('ingest.ref_hash', 'ingest.retire_ref')");
  }
  std::string printed;
  const std::string error = migrate_error(&printed);
  EXPECT_NE(error.find("function file migrations/functions/ingest/retire_ref.sql failed"),
            std::string::npos)
      << error;
  EXPECT_EQ(printed, "");
  // ref_hash, applied before it in the same transaction, was rolled back too.
  EXPECT_EQ(
      scalar("SELECT checksum FROM gabe_meta.schema_functions WHERE name = 'ingest.ref_hash'"),
      "old");
}

TEST_F(SqlTest, ADatabaseOfTheOldMigrations0002And0003IsRefusedWithAMessage) {
  {
    pqxx::nontransaction tx(*owner_);
    tx.exec("UPDATE gabe_meta.schema_migrations SET checksum = 'pre-squash' WHERE version = 2");
    tx.exec("DELETE FROM gabe_meta.schema_migrations WHERE version >= 3");
    tx.exec(
        "INSERT INTO gabe_meta.schema_migrations (version, name, checksum) "
        "VALUES (3, 'ingest_typed_batches', 'x')");
  }
  const std::string error = migrate_error();
  EXPECT_NE(error.find("squashed"), std::string::npos) << error;
  EXPECT_NE(error.find("delete .gabe/"), std::string::npos) << error;
}

TEST_F(SqlTest, EveryRegisteredPrivacyStepExistsWithItsShapeAndOnlyItsOwnerRunsIt) {
  // A registration is a catalogue row (function files come after the numbered migrations, so
  // nothing checks it when it is written): this is where a wrong name or shape is caught.
  auto bad = scalar(R"sql(
    SELECT string_agg(s.schema_name || '.' || f.fn, ', ')
    FROM gabe.privacy_steps s
    CROSS JOIN LATERAL (VALUES (s.erase_function, 'void'), (s.export_function, 'jsonb')) f(fn, rettype)
    WHERE f.fn IS NOT NULL AND NOT EXISTS (
      SELECT 1 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
      WHERE n.nspname = s.schema_name AND p.proname = f.fn
        AND p.proargtypes = '20'::oidvector AND p.prorettype = f.rettype::regtype
        AND NOT has_function_privilege('public', p.oid, 'EXECUTE')
        AND NOT has_function_privilege('gabe_ingest', p.oid, 'EXECUTE')))sql");
  EXPECT_EQ(bad, "")
      << "registered steps that are missing, of the wrong shape or runnable by others";
  EXPECT_EQ(scalar("SELECT string_agg(schema_name, ',' ORDER BY position) FROM gabe.privacy_steps"),
            "ingest,pii,donor,scoring,segments,gabe");
  // The central functions are the only way in, and only for gabe_privacy's members.
  EXPECT_EQ(scalar("SELECT has_function_privilege('gabe_ingest', "
                   "'gabe.erase_donor(bigint,text,text,text)', 'EXECUTE')"),
            "t");
  EXPECT_EQ(scalar("SELECT has_function_privilege('gabe_scoring', "
                   "'gabe.erase_donor(bigint,text,text,text)', 'EXECUTE')"),
            "f");
}

// An erasure holds the donor's row lock while a batch for the same donor runs: the batch waits,
// and once the erasure has committed it writes no personal data for the erased donor (it read
// the donor's ref before the erasure and would otherwise add consent, history and appeals).
TEST_F(SqlTest, ABatchThatWaitedForAnErasureWritesNothingPersonalForTheErasedDonor) {
  apply({event("donor.upserted",
               R"({"donor_ref":"d1","first_name":"Horst","consent":{"email":true}})", "1")});
  const std::string id = scalar("SELECT id FROM donor.donors WHERE ref = 'd1'");
  pqxx::connection eraser(url_);
  pqxx::work erasure(eraser);
  erasure.exec("SET LOCAL ROLE gabe_ingest");
  erasure.exec("SELECT ingest.erase_donor(" + id + ", 'user:ops')");

  std::vector<ApplyOutcome> out;
  std::thread batch([&] {
    out = apply({
        event(
            "donor.upserted",
            R"({"donor_ref":"d1","first_name":"Horst","tags":["x"],"consent":{"post":true},"updated_at":"2026-11-25T10:00:00Z"})",
            "2"),
        event(
            "consent.changed",
            R"({"donor_ref":"d1","channel":"profiling","granted":false,"at":"2026-11-25T10:00:00Z"})",
            "3"),
        event("appeal.sent", R"({"campaign_ref":"x","donor_ref":"d1","sent_on":"2026-11-01"})",
              "4"),
    });
  });
  bool waiting = false;
  for (int i = 0; i < 2000 && !waiting; ++i) {
    waiting = scalar(
                  "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                  "AND datname = current_database()") != "0";
    if (!waiting) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  erasure.commit();
  batch.join();
  EXPECT_TRUE(waiting) << "the batch never waited for the erasure";
  EXPECT_EQ(statuses(out), "2=processed 3=processed 4=processed ");
  EXPECT_EQ(scalar("SELECT count(*) FROM donor.consents"), "0");
  EXPECT_EQ(scalar("SELECT count(*) FROM donor.consent_history"), "0");
  EXPECT_EQ(scalar("SELECT count(*) FROM donor.appeals"), "0");
  EXPECT_EQ(scalar("SELECT count(*) FROM pii.donor_pii"), "0");
  EXPECT_EQ(scalar("SELECT concat_ws(',', tags::text, profiling_objection) FROM donor.donors"),
            "{},f");
  EXPECT_EQ(scalar("SELECT count(*) FROM ingest.inbox WHERE raw IS NOT NULL"), "0");
}

// The CRM erases a person Gabe holds no profile of: only rejected events, or nothing at all.
// Either way the ref gets a tombstone (on an erased record of its own) in the same transaction
// as the raw text of every inbox row naming the ref is removed.
TEST_F(SqlTest, ErasingARefWithoutAProfileTombstonesItAndScrubsItsRejectedEvents) {
  EXPECT_EQ(statuses(apply(
                {event("gift.created",
                       R"({"gift_ref":"g1","donor_ref":"r1","amount":"x","memo":"Hanna"})", "1")})),
            "1=rejected! ");
  EXPECT_EQ(statuses(apply({event("donor.erased", R"({"donor_ref":"r1"})", "2")})), "2=processed ");
  EXPECT_EQ(statuses(apply({event("donor.erased", R"({"donor_ref":"never-seen"})", "3")})),
            "3=processed ");
  EXPECT_EQ(scalar("SELECT count(*) FROM ingest.inbox WHERE raw IS NOT NULL OR donor_ref IS NOT "
                   "NULL"),
            "0");
  EXPECT_EQ(scalar("SELECT count(*) FROM ingest.tombstones t JOIN donor.donors d ON d.id = "
                   "t.donor_id WHERE d.erased_at IS NOT NULL AND d.ref IS NULL AND t.ref_hash IN "
                   "(ingest.ref_hash('crm', 'r1'), ingest.ref_hash('crm', 'never-seen'))"),
            "2");
  EXPECT_EQ(scalar("SELECT count(*) FROM ingest.donor_refs"), "0");
  EXPECT_EQ(scalar("SELECT count(*) FROM gabe.audit_log WHERE action = 'donor.erase' AND actor = "
                   "'crm:crm'"),
            "2");
  // A later gift for the ref lands on the erased record, without raw text; a profile without
  // consent is ignored; erasing again changes nothing.
  EXPECT_EQ(
      statuses(apply({
          event("gift.created",
                R"({"gift_ref":"g1","donor_ref":"r1","amount":"3","received_on":"2026-11-20"})",
                "1"),
          event("donor.upserted", R"({"donor_ref":"never-seen","first_name":"Ina"})", "4"),
      })),
      "1=processed 4=processed ");
  EXPECT_EQ(scalar("SELECT d.erased_at IS NOT NULL FROM donor.gifts g JOIN donor.donors d ON d.id "
                   "= g.donor_id WHERE g.ref = 'g1'"),
            "t");
  EXPECT_EQ(scalar("SELECT count(*) FROM pii.donor_pii"), "0");
  EXPECT_EQ(scalar("SELECT count(*) FROM ingest.inbox WHERE raw IS NOT NULL"), "0");
  apply({event("donor.erased", R"({"donor_ref":"r1"})", "5")});
  EXPECT_EQ(scalar("SELECT count(*) FROM donor.donors"), "2");
}

// Migration 0005: gabectl (the migrating owner) adds pull sources and their sync_state rows;
// gabe_ingest reads the key and the state and moves the position, nothing more.
TEST_F(SqlTest, GabeIngestReadsAndUpdatesThePullStateButCannotAddOrRemoveIt) {
  scalar("INSERT INTO ingest.sources (name, adapter) VALUES ('crm', 'civicrm')");
  scalar("INSERT INTO ingest.source_pull (source, url, api_key) VALUES ('crm', 'https://c', 'k')");
  scalar("INSERT INTO ingest.sync_state (source) VALUES ('crm')");
  scalar("INSERT INTO ingest.sources (name, adapter) VALUES ('other', 'civicrm')");
  scalar(
      "INSERT INTO ingest.source_pull (source, url, api_key) VALUES ('other', 'https://o', 'k')");

  // What the sync does.
  EXPECT_EQ(call("SELECT api_key FROM ingest.source_pull WHERE source = 'crm'"), "k");
  EXPECT_EQ(call("UPDATE ingest.sync_state SET pass = 'full', pass_started_at = now(), step = 1 "
                 "WHERE source = 'crm' RETURNING step"),
            "1");
  EXPECT_EQ(call("INSERT INTO ingest.sync_seen (source, entity, id) VALUES ('crm', 'Contact', 7) "
                 "RETURNING id"),
            "7");
  EXPECT_EQ(call("DELETE FROM ingest.sync_seen WHERE source = 'crm' RETURNING id"), "7");

  // What it must not do: only `gabectl source add|set` creates a state row or touches the key.
  EXPECT_THROW(call("INSERT INTO ingest.sync_state (source) VALUES ('other')"),
               pqxx::insufficient_privilege);
  EXPECT_THROW(call("DELETE FROM ingest.sync_state WHERE source = 'crm'"),
               pqxx::insufficient_privilege);
  EXPECT_THROW(call("INSERT INTO ingest.source_pull (source, url, api_key) "
                    "VALUES ('crm2', 'https://x', 'k')"),
               pqxx::insufficient_privilege);
  EXPECT_THROW(call("UPDATE ingest.source_pull SET api_key = 'stolen' WHERE source = 'crm'"),
               pqxx::insufficient_privilege);
  EXPECT_THROW(call("DELETE FROM ingest.source_pull WHERE source = 'crm'"),
               pqxx::insufficient_privilege);
  EXPECT_THROW(call("UPDATE ingest.sync_seen SET id = 8"), pqxx::insufficient_privilege);
  EXPECT_EQ(scalar("SELECT count(*) FROM ingest.sync_state"), "1");
  EXPECT_EQ(scalar("SELECT api_key FROM ingest.source_pull WHERE source = 'crm'"), "k");
}

}  // namespace
}  // namespace gabe::test
