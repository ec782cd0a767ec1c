// Durability: kill -9 under load, PostgreSQL restarted under load, graceful SIGTERM.
#include <gtest/gtest.h>

#include <signal.h>

#include <atomic>
#include <latch>
#include <mutex>
#include <set>
#include <thread>

#include "gabe/json.hpp"
#include "ingest_fixture.hpp"
#include "webhook_signature.hpp"

namespace gabe::test {
namespace {

class IngestReliability : public IngestTest {
 protected:
  // Sends gifts i in [from, to) with amount (i % 97 + 1) euros and 1..99 cents; retries every
  // gift until it is acknowledged (200), as a CRM would. Records what was acknowledged.
  void send_until_acknowledged(int from, int to, std::atomic<bool>& stop) {
    std::unique_ptr<HttpClient> c;
    for (int i = from; i < to && !stop.load(); ++i) {
      const std::string id = "gift-" + std::to_string(i);
      const std::string body =
          R"({"type":"gift.created","timestamp":"2026-11-24T10:00:00Z","data":{"gift_ref":")" + id +
          R"(","donor_ref":"d)" + std::to_string(i % 50) + R"(","amount":")" +
          std::to_string(i % 97 + 1) + "." + std::to_string(10 + i % 90) +
          R"(","received_on":"2026-11-20"}})";
      for (int attempt = 0; attempt < 2000 && !stop.load(); ++attempt) {
        try {
          if (!c) c = std::make_unique<HttpClient>(port_.load(), 5000);
          auto r = send_webhook(*c, secret_, id, body);
          if (r.status == 200) {
            std::lock_guard lock(mutex_);
            acknowledged_.insert(i);
            break;
          }
          if (r.status == 503) {
            std::lock_guard lock(mutex_);
            ++unavailable_;
            if (r.header("retry-after")) ++with_retry_after_;
          } else {
            std::lock_guard lock(mutex_);
            unexpected_.push_back(r.status);
          }
        } catch (const std::exception&) {
          c.reset();  // connection refused or cut: the service is down; try again
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    }
  }

  // Waits (at most a minute) until at least n gifts are acknowledged.
  bool wait_for_acknowledged(std::size_t n) {
    return wait_until(
        [&] {
          std::lock_guard lock(mutex_);
          return acknowledged_.size() >= n;
        },
        std::chrono::minutes(1));
  }

  std::int64_t expected_cents(int n) {
    std::int64_t total = 0;
    for (int i = 0; i < n; ++i) total += (i % 97 + 1) * 100 + (10 + i % 90);
    return total;
  }

  std::atomic<std::uint16_t> port_{0};
  std::mutex mutex_;
  std::set<int> acknowledged_;
  int unavailable_ = 0;
  int with_retry_after_ = 0;
  std::vector<int> unexpected_;
};

TEST_F(IngestReliability, KillNineUnderLoadLosesNothingAcknowledged) {
  constexpr int kGifts = 1600;
  constexpr int kSenders = 8;
  port_ = service_->port();
  std::atomic<bool> stop{false};
  std::vector<std::thread> senders;
  for (int t = 0; t < kSenders; ++t) {
    senders.emplace_back([&, t] {
      send_until_acknowledged(t * kGifts / kSenders, (t + 1) * kGifts / kSenders, stop);
    });
  }
  // Kill the service twice in the middle of the load, restarting it each time.
  bool stalled = false;
  for (int round = 0; round < 2 && !stalled; ++round) {
    stalled = !wait_for_acknowledged(static_cast<std::size_t>(kGifts * (round + 1) / 3));
    if (stalled) break;
    service_->kill9();
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    service_->restart();
  }
  stop = stalled;
  for (auto& s : senders) s.join();
  ASSERT_FALSE(stalled) << "the load stalled before the kill";
  EXPECT_TRUE(unexpected_.empty());
  ASSERT_EQ(acknowledged_.size(), static_cast<std::size_t>(kGifts));
  EXPECT_EQ(scalar("SELECT count(*) FROM donor.gifts"), std::to_string(kGifts));
  EXPECT_EQ(scalar("SELECT count(DISTINCT ref) FROM donor.gifts"), std::to_string(kGifts));
  EXPECT_EQ(scalar("SELECT sum(amount_cents) FROM donor.gifts"),
            std::to_string(expected_cents(kGifts)));
  EXPECT_EQ(scalar("SELECT count(*) FROM ingest.inbox"), std::to_string(kGifts));
  EXPECT_EQ(scalar("SELECT count(*) FROM donor.donors"), "50");
}

// Stops PostgreSQL: on a cluster of its own, not the one the other tests share.
class IngestDatabaseRestart : public IngestReliability {
 protected:
  IngestDatabaseRestart() { own_cluster_ = true; }
};

TEST_F(IngestDatabaseRestart, UnderLoadGives503ThenRecovers) {
  constexpr int kGifts = 1200;
  port_ = service_->port();
  std::atomic<bool> stop{false};
  std::vector<std::thread> senders;
  for (int t = 0; t < 4; ++t) {
    senders.emplace_back(
        [&, t] { send_until_acknowledged(t * kGifts / 4, (t + 1) * kGifts / 4, stop); });
  }
  if (!wait_for_acknowledged(kGifts / 4)) {
    stop = true;
    for (auto& s : senders) s.join();
    FAIL() << "the load stalled before the database was stopped";
  }
  cluster_->stop();
  HttpClient probe(service_->port());
  // While the database is down: /readyz is 503, webhooks get 503 with Retry-After.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  auto ready = probe.get("/readyz");
  EXPECT_EQ(ready.status, 503);
  EXPECT_TRUE(ready.header("retry-after").has_value());
  EXPECT_EQ(probe.get("/healthz").status, 200);
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  cluster_->start();
  const auto back = std::chrono::steady_clock::now();
  bool recovered = false;
  while (std::chrono::steady_clock::now() - back < std::chrono::seconds(5)) {
    try {
      if (probe.get("/readyz").status == 200) {
        recovered = true;
        break;
      }
    } catch (const std::exception&) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(recovered) << "not ready within 5 s of the database being back";
  for (auto& s : senders) s.join();
  EXPECT_TRUE(service_->process().running()) << "the service must not crash";
  EXPECT_GT(unavailable_, 0);
  EXPECT_EQ(unavailable_, with_retry_after_);
  EXPECT_TRUE(unexpected_.empty())
      << "first unexpected status: " << (unexpected_.empty() ? 0 : unexpected_[0]);
  ASSERT_EQ(acknowledged_.size(), static_cast<std::size_t>(kGifts));
  EXPECT_EQ(scalar("SELECT count(*) FROM donor.gifts"), std::to_string(kGifts));
  EXPECT_EQ(scalar("SELECT sum(amount_cents) FROM donor.gifts"),
            std::to_string(expected_cents(kGifts)));
}

// SIGTERM while an import is half sent: the service stops accepting connections but finishes
// the import, answers it in full, and exits 0.
TEST_F(IngestReliability, SigtermDrainsAndExitsZero) {
  auto line = [](const std::string& id, const std::string& type, const std::string& data) {
    return R"({"id":")" + id + R"(","source":"crm","type":")" + type + R"(","data":)" + data +
           "}\n";
  };
  auto gift = [&](const std::string& id) {
    return line(id, "gift.created",
                R"({"gift_ref":")" + id +
                    R"(","donor_ref":"keep","amount":"1.00","received_on":"2026-11-20"})");
  };
  // The service reads the body in chunks of 256 KiB; the merge in the first is applied as soon
  // as its line is read (with the gift before it), so the inbox shows the import under way.
  std::string first =
      gift("g1") + line("m", "donor.merged", R"({"donor_ref":"keep","merged_refs":["dup"]})");
  constexpr int kPadding = 2500;
  for (int i = 0; i < kPadding; ++i) first += gift("p" + std::to_string(i));
  ASSERT_GT(first.size(), 256u << 10);
  const std::string rest = gift("last1") + gift("last2");
  HttpClient importer(service_->port());
  importer.send("POST /v1/import HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + admin_token_ +
                "\r\nContent-Type: application/x-ndjson\r\nContent-Length: " +
                std::to_string(first.size() + rest.size()) + "\r\n\r\n" + first);
  ASSERT_TRUE(wait_until([&] { return scalar("SELECT count(*) >= 2 FROM ingest.inbox") == "t"; },
                         std::chrono::seconds(20)))
      << "the import did not start";
  service_->process().signal(SIGTERM);
  // Draining: new connections are refused ...
  EXPECT_TRUE(wait_until(
      [&] {
        try {
          HttpClient probe(service_->port(), 1000);
          probe.get("/healthz");
          return false;
        } catch (const std::runtime_error&) {
          return true;
        }
      },
      std::chrono::seconds(5)));
  EXPECT_TRUE(service_->process().running());
  // ... while the import in flight is finished and answered.
  importer.send(rest);
  auto r = importer.receive();
  EXPECT_EQ(r.status, 200) << r.body;
  auto summary = json(r);
  ASSERT_TRUE(summary && summary->IsObject()) << r.body;
  EXPECT_EQ((*summary)["received"].GetInt(), kPadding + 4);
  EXPECT_EQ((*summary)["processed"].GetInt(), kPadding + 4);
  EXPECT_EQ(service_->process().wait(std::chrono::seconds(12)), 0);
  EXPECT_EQ(scalar("SELECT count(*) FROM donor.gifts"), std::to_string(kPadding + 3));
}

// A service whose read timeout is 1 s.
class IngestReadTimeout : public IngestReliability {
 protected:
  IngestReadTimeout() { settings_["GABE_HTTP_READ_TIMEOUT"] = "1"; }
};

TEST_F(IngestReadTimeout, SlowAndOversizedRequestsAreCutOff) {
  // A client that sends its webhook one byte every 100 ms is cut off after the read timeout,
  // and the service answers others meanwhile.
  const std::string body =
      R"({"type":"gift.created","timestamp":"2026-11-24T10:00:00Z","data":{"gift_ref":"slow","donor_ref":"d","amount":"1.00","received_on":"2026-11-20"}})";
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  const std::string head =
      "POST /v1/webhooks/crm HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "webhook-id: slow\r\nwebhook-timestamp: " +
      std::to_string(now) +
      "\r\nwebhook-signature: " + ingest::sign_webhook(secret_, "slow", now, body) +
      "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n";
  std::atomic<bool> slow_started{false}, slow_answered{false};
  std::chrono::steady_clock::duration slow_took{};
  std::thread slow([&] {
    HttpClient c(service_->port(), 5000);
    const auto started = std::chrono::steady_clock::now();
    try {
      c.send(head);
      for (char byte : body) {
        c.send(std::string(1, byte));
        slow_started = true;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      slow_answered = c.receive().status != 0;
    } catch (const std::runtime_error&) {
      // cut off: the send failed or the connection closed without an answer
    }
    slow_took = std::chrono::steady_clock::now() - started;
  });
  ASSERT_TRUE(wait_until([&] { return slow_started.load(); }, std::chrono::seconds(5)));
  int served = 0;
  for (int i = 0; i < 5; ++i) {
    served += event("gift.created",
                    R"({"gift_ref":"fast)" + std::to_string(i) +
                        R"(","donor_ref":"d","amount":"1.00","received_on":"2026-11-20"})",
                    "fast-" + std::to_string(i))
                  .status == 200;
  }
  const bool slow_still_sending = slow_started && !slow_answered;
  slow.join();
  EXPECT_EQ(served, 5);
  EXPECT_TRUE(slow_still_sending) << "the others were not served while the slow client sent";
  EXPECT_FALSE(slow_answered) << "a request slower than the read timeout was answered";
  EXPECT_GE(slow_took, std::chrono::milliseconds(900));
  EXPECT_LT(slow_took, std::chrono::seconds(4)) << "the slow client was not cut off";
  EXPECT_EQ(scalar("SELECT count(*) FROM donor.gifts WHERE ref = 'slow'"), "0");

  // Headers over the limit: 431, not a crash.
  HttpClient c(service_->port());
  auto big =
      c.raw("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(20000, 'a') + "\r\n\r\n");
  EXPECT_EQ(big.status, 431);
  // Garbage instead of HTTP: 400.
  HttpClient g(service_->port());
  EXPECT_EQ(g.raw("\x01\x02 nonsense\r\n\r\n").status, 400);
  // SQL-looking strings are data, nothing else.
  ASSERT_EQ(
      event(
          "donor.upserted",
          R"({"donor_ref":"x'); DROP TABLE donor.gifts; --","last_name":"Robert'); DROP TABLE x;--"})",
          "1")
          .status,
      200);
  EXPECT_EQ(scalar("SELECT last_name FROM pii.donor_pii WHERE last_name LIKE 'Robert%'"),
            "Robert'); DROP TABLE x;--");
  EXPECT_EQ(scalar("SELECT count(*) FROM donor.gifts"), "5");
  EXPECT_EQ(client_->get("/healthz").status, 200);
}

}  // namespace
}  // namespace gabe::test

namespace gabe::test {
namespace {

class IngestHttp : public IngestTest {};

// curl and other clients send "Expect: 100-continue" before large bodies and wait for it.
TEST_F(IngestHttp, ExpectContinueIsAnswered) {
  const std::string body =
      R"({"id":"x1","source":"crm","type":"gift.created","data":{"gift_ref":"g","donor_ref":"d","amount":"1.00","received_on":"2026-11-20"}})"
      "\n";
  HttpClient c(service_->port());
  auto interim =
      c.raw("POST /v1/import HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + admin_token_ +
            "\r\nContent-Type: application/x-ndjson\r\nExpect: 100-continue\r\nContent-Length: " +
            std::to_string(body.size()) + "\r\n\r\n");
  EXPECT_EQ(interim.status, 100);
  auto final = c.raw(body);
  EXPECT_EQ(final.status, 200) << final.body;
  EXPECT_EQ(scalar("SELECT count(*) FROM donor.gifts"), "1");
}

}  // namespace
}  // namespace gabe::test

namespace gabe::test {
namespace {

class IngestSlowClients : public IngestTest {};

// A client that never finishes its request is cut off after GABE_HTTP_READ_TIMEOUT, and the
// service keeps answering everyone else meanwhile.
TEST_F(IngestSlowClients, AreCutOffAfterTheReadTimeout) {
  Service quick("gabe-ingest", url_, {{"GABE_HTTP_READ_TIMEOUT", "1"}});
  HttpClient slow(quick.port(), 5000);
  const auto started = std::chrono::steady_clock::now();
  EXPECT_THROW(
      slow.raw(
          "POST /v1/webhooks/crm HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"partial"),
      std::runtime_error);  // closed without an answer
  const auto waited = std::chrono::steady_clock::now() - started;
  EXPECT_LT(waited, std::chrono::seconds(4));
  HttpClient other(quick.port());
  EXPECT_EQ(other.get("/healthz").status, 200);
}

}  // namespace
}  // namespace gabe::test

namespace gabe::test {
namespace {

class IngestConcurrency : public IngestTest {};

// A CRM that retries before the first answer arrives: the same webhook-id on many
// connections at once is applied exactly once (the copies meet in one batch or in the inbox).
TEST_F(IngestConcurrency, SameWebhookConcurrentlyIsAppliedOnce) {
  const std::string body =
      R"({"type":"gift.created","timestamp":"2026-11-24T10:00:00Z","data":{"gift_ref":"g","donor_ref":"d","amount":"7.00","received_on":"2026-11-20"}})";
  std::atomic<int> processed{0}, duplicate{0}, other{0};
  constexpr int kCopies = 12;
  // Every sender connects first and then all send at once, so the copies really overlap.
  std::latch connected(kCopies);
  std::vector<std::thread> senders;
  for (int t = 0; t < kCopies; ++t) {
    senders.emplace_back([&] {
      HttpClient c(service_->port());
      c.get("/healthz");  // the connection is open and kept alive
      connected.arrive_and_wait();
      auto r = send_webhook(c, secret_, "same", body);
      if (r.status == 200 && r.body.find("\"processed\"") != std::string::npos) {
        ++processed;
      } else if (r.status == 200 && r.body.find("\"duplicate\"") != std::string::npos) {
        ++duplicate;
      } else {
        ++other;
      }
    });
  }
  for (auto& s : senders) s.join();
  EXPECT_EQ(processed.load(), 1);
  EXPECT_EQ(duplicate.load(), kCopies - 1);
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(scalar("SELECT count(*) || ':' || sum(amount_cents) FROM donor.gifts"), "1:700");
}

}  // namespace
}  // namespace gabe::test

namespace gabe::test {
namespace {

class IngestMergeUnderLoad : public IngestTest {};

// A merge is applied alone, after every batch before it and before every batch after it:
// gifts that arrive for the merged-away ref while the merge happens all end on the survivor.
TEST_F(IngestMergeUnderLoad, NoGiftIsLeftOnTheMergedAwayDonor) {
  ASSERT_EQ(event("donor.upserted", R"({"donor_ref":"keep"})", "k").status, 200);
  ASSERT_EQ(event("donor.upserted", R"({"donor_ref":"dup"})", "d").status, 200);
  std::atomic<int> sent{0};
  std::vector<std::thread> senders;
  for (int t = 0; t < 8; ++t) {
    senders.emplace_back([&, t] {
      HttpClient c(service_->port());
      for (int i = 0; i < 60; ++i) {
        const std::string id = "g" + std::to_string(t) + "-" + std::to_string(i);
        const std::string body =
            R"({"type":"gift.created","timestamp":"2026-11-24T10:00:00Z","data":{"gift_ref":")" +
            id + R"(","donor_ref":"dup","amount":"1.00","received_on":"2026-11-20"}})";
        auto r = send_webhook(c, secret_, id, body);
        if (r.status == 200) ++sent;
      }
    });
  }
  if (!wait_until([&] { return sent.load() >= 150; }, std::chrono::minutes(1))) {
    for (auto& s : senders) s.join();
    FAIL() << "the gifts stalled before the merge";
  }
  ASSERT_EQ(event("donor.merged", R"({"donor_ref":"keep","merged_refs":["dup"]})", "merge").status,
            200);
  for (auto& s : senders) s.join();
  ASSERT_EQ(sent.load(), 480);
  EXPECT_EQ(scalar("SELECT count(*) FROM donor.gifts g JOIN donor.donors d ON d.id = g.donor_id "
                   "WHERE d.merged_into IS NOT NULL"),
            "0");
  EXPECT_EQ(scalar("SELECT count(*) FROM donor.gifts g JOIN donor.donors d ON d.id = g.donor_id "
                   "WHERE d.ref = 'keep'"),
            "480");
}

}  // namespace
}  // namespace gabe::test
