// The CiviCRM APIv4 client against the stand-in (tests/support/civicrm_standin.hpp): a real
// HTTP exchange on 127.0.0.1, paging across pages, resuming, and every kind of failure.
#include <gtest/gtest.h>

#include <chrono>

#include "civicrm_api.hpp"
#include "civicrm_standin.hpp"

namespace civi = gabe::ingest::civicrm;
using gabe::test::CivicrmStandin;

namespace {

class CivicrmClient : public ::testing::Test {
 protected:
  void SetUp() override {
    for (std::int64_t id = 1; id <= 7; ++id) {
      standin_.put("Contact", gabe::test::civicrm::contact(
                                  id, "Individual", "Vorname" + std::to_string(id), "Nachname",
                                  "p" + std::to_string(id) + "@example.org",
                                  id <= 4 ? "2026-11-01 09:00:00" : "2026-11-20 12:30:00"));
    }
  }

  civi::ApiClient client(std::string key = "standin-key", civi::ClientOptions options = {}) const {
    auto endpoint = civi::parse_api_base(standin_.base_url());
    EXPECT_TRUE(endpoint);
    return civi::ApiClient(*endpoint, std::move(key), options);
  }

  // Reads all contacts in pages of `page_size`; returns the ids seen, in order.
  static civi::PagingResult read_ids(const civi::ApiClient& c, std::int64_t page_size,
                                     std::int64_t after_id, std::vector<std::int64_t>& ids,
                                     const std::optional<civi::ModifiedSince>& since = {}) {
    civi::ApiQuery base;
    base.select = {"id", "first_name", "email_primary.email"};
    return civi::read_pages(
        c, "Contact", base, page_size, after_id,
        [&ids](const gabe::JsonValue& values) {
          for (const auto& v : values.GetArray()) ids.push_back(v["id"].GetInt64());
          return true;
        },
        since);
  }

  CivicrmStandin standin_;
};

TEST_F(CivicrmClient, ReadsAWholeEntityInPagesById) {
  std::vector<std::int64_t> ids;
  auto paging = read_ids(client(), 3, 0, ids);
  ASSERT_TRUE(paging.last.ok()) << paging.last.message;
  EXPECT_EQ(ids, (std::vector<std::int64_t>{1, 2, 3, 4, 5, 6, 7}));
  EXPECT_EQ(paging.records, 7);
  EXPECT_EQ(paging.pages, 3);
  EXPECT_EQ(paging.last_id, 7);
  auto requests = standin_.requests();
  ASSERT_EQ(requests.size(), 3U);
  EXPECT_EQ(requests[0].first, "Contact/get");
  EXPECT_EQ(requests[1].second,
            R"({"select":["id","first_name","email_primary.email"],"where":[["id",">",3]],)"
            R"("orderBy":{"id":"ASC"},"limit":3})");
}

TEST_F(CivicrmClient, AnExactMultipleOfThePageSizeEndsWithAnEmptyPage) {
  std::vector<std::int64_t> ids;
  standin_.erase("Contact", 7);
  auto paging = read_ids(client(), 3, 0, ids);
  ASSERT_TRUE(paging.last.ok()) << paging.last.message;
  EXPECT_EQ(ids.size(), 6U);
  EXPECT_EQ(paging.pages, 2);
  EXPECT_EQ(standin_.requests().size(), 3U);
}

TEST_F(CivicrmClient, ReadsOnlyWhatWasModifiedSince) {
  std::vector<std::int64_t> ids;
  auto paging =
      read_ids(client(), 2, 0, ids, civi::ModifiedSince{"modified_date", "2026-11-20 12:30:00"});
  ASSERT_TRUE(paging.last.ok()) << paging.last.message;
  EXPECT_EQ(ids, (std::vector<std::int64_t>{5, 6, 7}));
}

TEST_F(CivicrmClient, AnswersCarryTheSelectedFieldsAndTheStandinPagesByLimitAndOffset) {
  civi::ApiQuery query;
  query.select = {"email_primary.email"};
  query.order_by = {{"id", false}};
  query.limit = 2;
  query.offset = 1;
  auto result = client().call("Contact", "get", query);
  ASSERT_TRUE(result.ok()) << result.message;
  EXPECT_EQ(result.http_status, 200);
  EXPECT_EQ(result.count, 2);
  const auto& values = result.values();
  ASSERT_EQ(values.Size(), 2U);
  EXPECT_EQ(values[0]["id"].GetInt64(), 6);
  EXPECT_STREQ(values[0]["email_primary.email"].GetString(), "p6@example.org");
  EXPECT_FALSE(values[0].HasMember("first_name"));
  EXPECT_EQ(values[1]["id"].GetInt64(), 5);
}

TEST_F(CivicrmClient, ReadsContributionsWithMoneyAsNumbers) {
  standin_.put("Contribution", gabe::test::civicrm::contribution(
                                   10, 1, "25.5", "2026-11-02 10:00:00", "Completed"));
  standin_.put("Contribution", gabe::test::civicrm::contribution(11, 1, "10", "2026-11-03 10:00:00",
                                                                 "Pending", "RCUR", true));
  civi::ApiQuery query;
  query.where = {{"is_test", "=", false}};
  auto result = client().call("Contribution", "get", query);
  ASSERT_TRUE(result.ok()) << result.message;
  ASSERT_EQ(result.values().Size(), 1U);
  EXPECT_DOUBLE_EQ(result.values()[0]["total_amount"].GetDouble(), 25.5);
  EXPECT_STREQ(result.values()[0]["contribution_status_id:name"].GetString(), "Completed");
}

TEST_F(CivicrmClient, AWrongKeyIsBadKey) {
  auto result = client("wrong-key").call("Contact", "get", {});
  EXPECT_EQ(result.error, civi::ApiError::bad_key);
  EXPECT_EQ(result.http_status, 401);
  EXPECT_FALSE(result.retry());
  EXPECT_EQ(result.message.find("wrong-key"), std::string::npos);
  standin_.set_reject_key(true);
  EXPECT_EQ(client().call("Contact", "get", {}).error, civi::ApiError::bad_key);
}

TEST_F(CivicrmClient, AnUnknownEntityIsAServerErrorAsInCivicrm) {
  auto result = client().call("Nonsense", "get", {});
  EXPECT_EQ(result.error, civi::ApiError::unavailable);
  EXPECT_EQ(result.http_status, 500);
}

TEST_F(CivicrmClient, ASiteThatIsDownIsUnavailableAndRetried) {
  standin_.set_down(true);
  auto result = client().call("Contact", "get", {});
  EXPECT_EQ(result.error, civi::ApiError::unavailable);
  EXPECT_EQ(result.http_status, 503);
  EXPECT_TRUE(result.retry());
}

TEST_F(CivicrmClient, ARefusedConnectionIsUnavailable) {
  auto c = client();
  standin_.stop();
  auto result = c.call("Contact", "get", {});
  EXPECT_EQ(result.error, civi::ApiError::unavailable);
  EXPECT_EQ(result.http_status, 0);
  EXPECT_TRUE(result.retry());
  EXPECT_NE(result.message.find("connect"), std::string::npos) << result.message;
}

TEST_F(CivicrmClient, ASlowSiteTimesOut) {
  standin_.set_delay(std::chrono::milliseconds(2000));
  civi::ClientOptions options;
  options.request_timeout = std::chrono::milliseconds(300);
  auto started = std::chrono::steady_clock::now();
  auto result = client("standin-key", options).call("Contact", "get", {});
  auto elapsed = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(result.error, civi::ApiError::unavailable);
  EXPECT_NE(result.message.find("timed out"), std::string::npos) << result.message;
  EXPECT_LT(elapsed, std::chrono::milliseconds(1500));
}

TEST_F(CivicrmClient, AMalformedAnswerIsMalformed) {
  standin_.set_malformed(true);
  auto result = client().call("Contact", "get", {});
  EXPECT_EQ(result.error, civi::ApiError::malformed);
  EXPECT_EQ(result.http_status, 200);
  EXPECT_FALSE(result.retry());
}

TEST_F(CivicrmClient, AnAnswerAboveTheLimitIsMalformed) {
  civi::ClientOptions options;
  options.max_answer_bytes = 100;
  auto result = client("standin-key", options).call("Contact", "get", {});
  EXPECT_EQ(result.error, civi::ApiError::malformed);
  EXPECT_FALSE(result.retry());
}

TEST_F(CivicrmClient, AReadThatFailsHalfWayResumesWhereItStopped) {
  auto c = client();
  std::vector<std::int64_t> ids;
  civi::ApiQuery base;
  auto first = civi::read_pages(c, "Contact", base, 3, 0, [&](const gabe::JsonValue& values) {
    for (const auto& v : values.GetArray()) ids.push_back(v["id"].GetInt64());
    standin_.set_down(true);  // CiviCRM goes down after the first page
    return true;
  });
  EXPECT_EQ(first.last.error, civi::ApiError::unavailable);
  EXPECT_EQ(first.last_id, 3);
  EXPECT_EQ(first.records, 3);
  standin_.set_down(false);
  auto rest = read_ids(c, 3, first.last_id, ids);
  ASSERT_TRUE(rest.last.ok()) << rest.last.message;
  EXPECT_EQ(ids, (std::vector<std::int64_t>{1, 2, 3, 4, 5, 6, 7}));
}

TEST_F(CivicrmClient, HttpsToAPlainServerFailsTheHandshake) {
  auto endpoint = civi::parse_api_base("https://127.0.0.1:" + std::to_string(standin_.port()) +
                                       "/civicrm/ajax/api4");
  ASSERT_TRUE(endpoint);
  civi::ClientOptions options;
  options.connect_timeout = std::chrono::milliseconds(2000);
  auto result = civi::ApiClient(*endpoint, "standin-key", options).call("Contact", "get", {});
  EXPECT_EQ(result.error, civi::ApiError::unavailable);
  EXPECT_NE(result.message.find("TLS"), std::string::npos) << result.message;
}

}  // namespace
