// A database that stalls (a held lock, a paused server) must not hang a request: it gets a 503
// with Retry-After within 10 s, nothing is half-written, and the service carries on once the
// database moves again.
#include <gtest/gtest.h>

#include <signal.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "ingest_fixture.hpp"

namespace gabe::test {
namespace {

using Clock = std::chrono::steady_clock;

std::string gift_body(const std::string& ref) {
  return R"({"type":"gift.created","timestamp":"2026-11-24T10:00:00Z","data":{"gift_ref":")" + ref +
         R"(","donor_ref":"stall-donor","amount":"10.00","received_on":"2026-11-20"}})";
}

// The pids of the PostgreSQL server behind `superuser` (the postmaster and its children).
std::vector<pid_t> server_pids(pqxx::connection& superuser) {
  pqxx::nontransaction tx(superuser);
  const auto backend = tx.exec("SELECT pg_backend_pid()")[0][0].as<pid_t>();
  std::ifstream stat("/proc/" + std::to_string(backend) + "/stat");
  std::string line;
  std::getline(stat, line);
  // Field 4 (ppid) follows the command name in parentheses.
  std::istringstream rest(line.substr(line.rfind(')') + 2));
  char state = 0;
  pid_t postmaster = 0;
  rest >> state >> postmaster;
  std::vector<pid_t> pids{postmaster};
  std::ifstream children("/proc/" + std::to_string(postmaster) + "/task/" +
                         std::to_string(postmaster) + "/children");
  for (pid_t child = 0; children >> child;) pids.push_back(child);
  return pids;
}

class DatabaseStall : public IngestTest {
 protected:
  // A first gift, so that the donor exists and the service holds its connections before the
  // database stalls; returns its status.
  int warm_up() {
    return event("gift.created",
                 R"({"gift_ref":"warm","donor_ref":"stall-donor","amount":"1.00",)"
                 R"("received_on":"2026-11-20"})",
                 "warm")
        .status;
  }
};

// Pausing a server stops every test that shares it: this one gets a cluster of its own.
class DatabasePause : public DatabaseStall {
 protected:
  DatabasePause() { own_cluster_ = true; }
};

TEST_F(DatabaseStall, AHeldLockGives503WithRetryAfterThenTheRetryIsApplied) {
  ASSERT_EQ(warm_up(), 200);
  pqxx::connection locker(cluster_->url(db_name_));
  pqxx::work lock(locker);
  lock.exec("LOCK TABLE donor.gifts IN ACCESS EXCLUSIVE MODE");

  const auto start = Clock::now();
  auto r = webhook(gift_body("g-locked"), "locked-1");
  const auto waited = Clock::now() - start;
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_TRUE(r.header("retry-after").has_value());
  EXPECT_LT(waited, std::chrono::seconds(10))
      << std::chrono::duration_cast<std::chrono::milliseconds>(waited).count() << " ms";
  // Health does not wait behind the database.
  HttpClient probe(service_->port(), 2000);
  const auto health_start = Clock::now();
  EXPECT_EQ(probe.get("/healthz").status, 200);
  EXPECT_LT(Clock::now() - health_start, std::chrono::seconds(1));

  lock.abort();
  // The CRM retries what was not acknowledged: applied once.
  auto retried = webhook(gift_body("g-locked"), "locked-1");
  EXPECT_EQ(retried.status, 200) << retried.body;
  EXPECT_EQ(scalar("SELECT count(*) FROM donor.gifts WHERE ref = 'g-locked'"), "1");
}

TEST_F(DatabasePause, APausedServerGives503WithinTenSecondsAndRecovers) {
  ASSERT_EQ(warm_up(), 200);
  pqxx::connection superuser(cluster_->url(db_name_));
  const auto pids = server_pids(superuser);
  ASSERT_GE(pids.size(), 2u);
  for (pid_t pid : pids) ::kill(pid, SIGSTOP);

  const auto start = Clock::now();
  HttpResponse r;
  try {
    HttpClient client(service_->port(), 15000);
    r = send_webhook(client, secret_, "paused-1", gift_body("g-paused"));
  } catch (const std::exception& e) {
    ADD_FAILURE() << "no answer while the database was paused: " << e.what();
  }
  const auto waited = Clock::now() - start;
  HttpClient probe(service_->port(), 2000);
  const auto health_start = Clock::now();
  const int health = probe.get("/healthz").status;
  const auto health_waited = Clock::now() - health_start;
  for (pid_t pid : pids) ::kill(pid, SIGCONT);

  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_TRUE(r.header("retry-after").has_value());
  EXPECT_LT(waited, std::chrono::seconds(10))
      << std::chrono::duration_cast<std::chrono::milliseconds>(waited).count() << " ms";
  EXPECT_EQ(health, 200);
  EXPECT_LT(health_waited, std::chrono::seconds(1));

  // Once the server moves again, the retry is applied exactly once.
  bool applied =
      wait_until([&] { return webhook(gift_body("g-paused"), "paused-1").status == 200; },
                 std::chrono::seconds(10));
  EXPECT_TRUE(applied);
  EXPECT_EQ(scalar("SELECT count(*) FROM donor.gifts WHERE ref = 'g-paused'"), "1");
}

}  // namespace
}  // namespace gabe::test
