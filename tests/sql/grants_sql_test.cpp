// gabe-grants' SQL functions and the shared outbox.enqueue called directly against a real
// PostgreSQL as gabe_grants, the role that calls them in production: grants.count_occurrences,
// grants.deadline_occurrences (month-end clamping, Berlin time across DST, states, cancelled
// occurrences), grants.enqueue_reminders (only the latest due level, once) and outbox.enqueue.
// Deadlines are written as the owner, with due times relative to now() where the decision
// depends on it.
#include <gtest/gtest.h>

#include <memory>
#include <mutex>
#include <pqxx/pqxx>
#include <sstream>
#include <string>

#include "gabe/migrations.hpp"
#include "postgres.hpp"

namespace gabe::test {
namespace {

PostgresCluster& cluster() {
  static PostgresCluster c;
  return c;
}

class GrantsSql : public ::testing::Test {
 protected:
  void SetUp() override {
    static std::once_flag once;
    std::call_once(once, [] {
      pqxx::connection admin(cluster().url());
      pqxx::nontransaction(admin).exec("CREATE DATABASE grants_sql_template");
      pqxx::connection c(cluster().url("grants_sql_template"));
      std::ostringstream out;
      migrations::apply(c, out);
    });
    std::string name =
        std::string("g_") + ::testing::UnitTest::GetInstance()->current_test_info()->name();
    name = name.substr(0, 60);
    for (auto& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    {
      pqxx::connection admin(cluster().url());
      pqxx::nontransaction tx(admin);
      tx.exec("DROP DATABASE IF EXISTS " + tx.quote_name(name) + " WITH (FORCE)");
      tx.exec("CREATE DATABASE " + tx.quote_name(name) + " TEMPLATE grants_sql_template");
    }
    owner_ = std::make_unique<pqxx::connection>(cluster().url(name));
    grants_ = std::make_unique<pqxx::connection>(cluster().url(name));
    pqxx::nontransaction(*grants_).exec("SET ROLE gabe_grants");
  }

  // One statement on `c`, its first value as text ("" for NULL or no row).
  static std::string value(pqxx::connection& c, const std::string& sql) {
    pqxx::nontransaction tx(c);
    auto r = tx.exec(sql);
    return r.empty() || r[0][0].is_null() ? "" : r[0][0].c_str();
  }
  std::string as_owner(const std::string& sql) { return value(*owner_, sql); }
  std::string as_grants(const std::string& sql) { return value(*grants_, sql); }

  // A deadline whose first occurrence is at Berlin wall-clock time `local` (an SQL timestamp
  // expression); returns its id.
  std::string deadline(const std::string& local, const std::string& every = "NULL",
                       const std::string& until = "NULL", const std::string& internal = "NULL") {
    return as_owner(
        "INSERT INTO grants.deadlines (kind, first_due_at, local_due, internal_due_on, "
        "every_months, until_on) SELECT 'interim_report', l AT TIME ZONE 'Europe/Berlin', l, " +
        internal + ", " + every + ", " + until + " FROM (SELECT (" + local +
        ")::timestamp AS l) x RETURNING id");
  }

  // "occurrence=due_at(UTC) state internal" of a deadline's occurrences, by occurrence.
  std::string occurrences(const std::string& id) {
    return as_grants(
        "SELECT string_agg(occurrence || '=' || to_char(due_at AT TIME ZONE 'UTC', "
        "'YYYY-MM-DD HH24:MI') || ' ' || state || CASE WHEN cancelled THEN ' cancelled' ELSE '' "
        "END || COALESCE(' ' || internal_due_on, ''), ', ' ORDER BY occurrence) "
        "FROM grants.deadline_occurrences() WHERE deadline_id = " +
        id);
  }

  void subscribe(const std::string& events, const std::string& service = "grants") {
    as_owner(
        "INSERT INTO outbox.subscriptions (service, url, events, secret, created_by) VALUES ('" +
        service + "', 'https://hooks.example.org/', '" + events + "', 'whsec_c2VjcmV0', 'test')");
  }

  std::string enqueue_reminders(int overdue_days = 7) {
    return as_grants(
        "SELECT decided || '/' || messages FROM grants.enqueue_reminders("
        "'{30,14,7,1}', " +
        std::to_string(overdue_days) + ")");
  }

  std::unique_ptr<pqxx::connection> owner_;
  std::unique_ptr<pqxx::connection> grants_;
};

TEST_F(GrantsSql, CountOccurrencesStepsByMonthsFromTheFirstAndClampsMonthEnds) {
  auto count = [&](const std::string& args) {
    return as_grants("SELECT grants.count_occurrences(" + args + ")");
  };
  EXPECT_EQ(count("'2027-01-31 23:59', NULL, NULL"), "1");
  // 31 Jan monthly: 28 Feb, 31 Mar, 30 Apr, 31 May, 30 Jun all count (each day ≤ until).
  EXPECT_EQ(count("'2027-01-31 23:59', 1, '2027-06-30'"), "6");
  EXPECT_EQ(count("'2027-01-31 23:59', 1, '2027-02-27'"), "1");  // 28 Feb is after until
  EXPECT_EQ(count("'2027-01-31 23:59', 1, '2027-02-28'"), "2");
  EXPECT_EQ(count("'2027-06-30 23:59', 6, '2028-06-30'"), "3");
  EXPECT_EQ(count("'2027-06-30 23:59', 6, '2028-06-29'"), "2");
  EXPECT_EQ(count("'2027-05-01 12:00', 1, '2027-04-01'"), "1");   // until before the first
  EXPECT_EQ(count("'2027-02-28 23:59', 12, '2032-02-29'"), "6");  // 28 Feb each year
}

TEST_F(GrantsSql, OccurrencesAreBerlinWallClockAcrossDstWithClampedMonthEnds) {
  const auto id = deadline("'2027-01-31 23:59'", "1", "'2027-04-30'", "'2027-01-31'");
  // 23:59 Berlin: 22:59Z in winter, 21:59Z from 28 March 2027 (last Sunday of March).
  EXPECT_EQ(occurrences(id),
            "1=2027-01-31 22:59 open 2027-01-31, 2=2027-02-28 22:59 open 2027-02-28, "
            "3=2027-03-31 21:59 open 2027-03-31, 4=2027-04-30 21:59 open 2027-04-30");
  // Around the October change (31 Oct 2027): the 30th is summer, 1 Nov winter.
  const auto oct = deadline("'2027-09-30 23:59'", "1", "'2027-11-30'");
  EXPECT_EQ(occurrences(oct),
            "1=2027-09-30 21:59 open, 2=2027-10-30 21:59 open, 3=2027-11-30 22:59 open");
}

TEST_F(GrantsSql, OccurrenceStatesAndCancelledOnes) {
  const auto past = deadline("now() AT TIME ZONE 'Europe/Berlin' - interval '2 days'");
  EXPECT_EQ(
      as_grants("SELECT state FROM grants.deadline_occurrences() WHERE deadline_id = " + past),
      "overdue");
  const auto id = deadline("'2099-01-31 12:00'", "1", "'2099-03-31'");
  as_owner("INSERT INTO grants.completions (deadline_id, occurrence, actor) VALUES (" + id +
           ", 2, 'test')");
  EXPECT_EQ(occurrences(id),
            "1=2099-01-31 11:00 open, 2=2099-02-28 11:00 done, 3=2099-03-31 10:00 open");
  // A shortened recurrence keeps its former occurrences as cancelled (up to the peak).
  as_owner("UPDATE grants.deadlines SET until_on = '2099-01-31', peak_occurrences = 3 WHERE id = " +
           id);
  EXPECT_EQ(occurrences(id),
            "1=2099-01-31 11:00 open, 2=2099-02-28 11:00 done cancelled, "
            "3=2099-03-31 10:00 open cancelled");
  as_owner("UPDATE grants.deadlines SET deleted_at = now() WHERE id = " + id);
  EXPECT_EQ(as_grants("SELECT bool_and(cancelled) FROM grants.deadline_occurrences() "
                      "WHERE deadline_id = " +
                      id),
            "t");
}

TEST_F(GrantsSql, EnqueueRemindersSendsOnlyTheLatestDueLevelOnce) {
  subscribe("{deadline.reminder,deadline.overdue}");
  subscribe("{deadline.overdue}");
  const std::string berlin_now = "now() AT TIME ZONE 'Europe/Berlin'";
  // Due in 5 days: 30, 14 and 7 have come; only 7 is decided.
  const auto five = deadline(berlin_now + " + interval '5 days'");
  // Due 2 hours ago: overdue (level 0), to both subscribers.
  const auto late = deadline(berlin_now + " - interval '2 hours'");
  // Out of the window: overdue for 10 days (more than 7), or due in 40 days.
  deadline(berlin_now + " - interval '10 days'");
  deadline(berlin_now + " + interval '40 days'");
  // Done: never reminded.
  const auto done = deadline(berlin_now + " + interval '3 days'");
  as_owner("INSERT INTO grants.completions (deadline_id, occurrence, actor) VALUES (" + done +
           ", 1, 'test')");
  // Decided at 1 day before already (a later level): nothing more before the due time.
  const auto ahead = deadline(berlin_now + " + interval '12 hours'");
  as_owner(
      "INSERT INTO grants.reminders (deadline_id, occurrence, due_at, offset_days) "
      "SELECT id, 1, first_due_at, 1 FROM grants.deadlines WHERE id = " +
      ahead);
  // Decided at 14 days before (an earlier level): the 7-day level still goes out.
  const auto earlier = deadline(berlin_now + " + interval '6 days'");
  as_owner(
      "INSERT INTO grants.reminders (deadline_id, occurrence, due_at, offset_days) "
      "SELECT id, 1, first_due_at, 14 FROM grants.deadlines WHERE id = " +
      earlier);

  EXPECT_EQ(enqueue_reminders(), "3/4");
  EXPECT_EQ(as_owner("SELECT string_agg(deadline_id || ':' || offset_days, ',' ORDER BY "
                     "deadline_id, offset_days) FROM grants.reminders"),
            five + ":7," + late + ":0," + ahead + ":1," + earlier + ":7," + earlier + ":14");
  EXPECT_EQ(as_owner("SELECT string_agg(event_type || ' ' || (body::jsonb->'data'->>'offset_days'),"
                     " ',' ORDER BY id) FROM outbox.messages WHERE body::jsonb->'data'->"
                     "'deadline'->>'id' = '" +
                     late + "'"),
            "deadline.overdue 0,deadline.overdue 0");
  // Run again (another replica, the next tick): nothing new.
  EXPECT_EQ(enqueue_reminders(), "0/0");
  EXPECT_EQ(as_owner("SELECT count(*) FROM outbox.messages"), "4");
  // A moved due time starts over: the deadline moved to 20 days ahead gets its 30-day level.
  as_owner(
      "UPDATE grants.deadlines SET first_due_at = now() + interval '20 days', local_due = "
      "(now() + interval '20 days') AT TIME ZONE 'Europe/Berlin' WHERE id = " +
      five);
  EXPECT_EQ(enqueue_reminders(), "1/1");
  EXPECT_EQ(as_owner("SELECT offset_days FROM grants.reminders WHERE deadline_id = " + five +
                     " ORDER BY decided_at DESC, offset_days LIMIT 1"),
            "30");
}

TEST_F(GrantsSql, EnqueueRemindersFollowsRecurrenceToTheClampedOccurrence) {
  subscribe("{deadline.reminder}");
  // Monthly from about a month ago: the second occurrence is due in a few days.
  const auto id = deadline(
      "date_trunc('minute', now() AT TIME ZONE 'Europe/Berlin') - interval '1 month' + "
      "interval '3 days'",
      "1", "'2099-12-31'");
  EXPECT_EQ(enqueue_reminders(0), "1/1");
  EXPECT_EQ(as_owner("SELECT r.occurrence || ' ' || r.offset_days || ' ' || (r.due_at = o.due_at)"
                     " FROM grants.reminders r JOIN grants.deadline_occurrences() o ON "
                     "o.deadline_id = r.deadline_id AND o.occurrence = r.occurrence "
                     "WHERE r.deadline_id = " +
                     id),
            "2 7 true");
}

TEST_F(GrantsSql, OutboxEnqueueWritesOneEnvelopePerMatchingLiveSubscriptionOnce) {
  subscribe("{deadline.reminder}");
  subscribe("{deadline.reminder,deadline.overdue}");
  subscribe("{deadline.overdue}");
  subscribe("{deadline.reminder}", "scoring");  // another service's
  subscribe("{deadline.reminder}");
  as_owner("UPDATE outbox.subscriptions SET deleted_at = now() WHERE id = 5");
  const std::string call =
      "SELECT outbox.enqueue('grants', '{deadline.reminder,deadline.overdue}', '{k1,k2}', "
      "ARRAY['{\"n\": 1}'::jsonb, '{\"n\": 2}'::jsonb])";
  EXPECT_EQ(as_grants(call), "4");  // k1 to 1 and 2, k2 to 2 and 3
  EXPECT_EQ(as_grants(call), "0");  // the same keys again
  EXPECT_EQ(as_owner("SELECT string_agg(webhook_id || ' ' || state, ',' ORDER BY webhook_id) "
                     "FROM outbox.messages"),
            "msg_grants_k1_1 pending,msg_grants_k1_2 pending,msg_grants_k2_2 pending,"
            "msg_grants_k2_3 pending");
  EXPECT_EQ(as_owner("SELECT (b->>'type') || ' ' || (b->'data')::text || ' ' || "
                     "(b->>'timestamp' ~ '^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ$') "
                     "FROM (SELECT body::jsonb AS b FROM outbox.messages "
                     "WHERE webhook_id = 'msg_grants_k2_3') x"),
            "deadline.overdue {\"n\": 2} true");
  EXPECT_EQ(as_grants("SELECT outbox.enqueue('grants', '{}', '{}', '{}')"), "0");
}

}  // namespace
}  // namespace gabe::test
