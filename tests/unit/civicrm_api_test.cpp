// The pure half of the CiviCRM APIv4 client: URLs, request bodies, answers, page queries.
#include <gtest/gtest.h>

#include "civicrm_api.hpp"

namespace civi = gabe::ingest::civicrm;

TEST(CivicrmApi, ParsesTheRestBase) {
  auto https = civi::parse_api_base("https://crm.example.org/civicrm/ajax/api4/");
  ASSERT_TRUE(https);
  EXPECT_TRUE(https->https);
  EXPECT_EQ(https->host, "crm.example.org");
  EXPECT_EQ(https->port, 443);
  EXPECT_EQ(https->base_path, "/civicrm/ajax/api4");
  auto http = civi::parse_api_base("http://127.0.0.1:8123/civicrm/ajax/api4");
  ASSERT_TRUE(http);
  EXPECT_FALSE(http->https);
  EXPECT_EQ(http->port, 8123);
  EXPECT_EQ(*civi::api_target(*http, "Contact", "get"), "/civicrm/ajax/api4/Contact/get");
  for (const char* bad : {"ftp://crm.example.org/x", "crm.example.org", "https://",
                          "https://user:pw@crm.example.org/", "https://crm.example.org/?q=1",
                          "https://crm.example.org:0/", "https://crm.example.org:70000/",
                          "https://crm.example.org:12x/", "https://cr m.example.org/"}) {
    EXPECT_FALSE(civi::parse_api_base(bad)) << bad;
  }
  EXPECT_FALSE(civi::api_target(*http, "../Contact", "get"));
  EXPECT_FALSE(civi::api_target(*http, "Contact", ""));
}

TEST(CivicrmApi, BuildsParamsAsApiv4ReadsThem) {
  civi::ApiQuery query;
  query.select = {"id", "email_primary.email"};
  query.where = {{"id", ">", std::int64_t{42}},
                 {"modified_date", ">=", std::string("2026-11-01 10:00:00")},
                 {"is_test", "=", false}};
  query.order_by = {{"id", true}};
  query.limit = 500;
  query.offset = 1000;
  query.joins = {R"(["Email AS email","LEFT",["email.contact_id","=","id"]])"};
  EXPECT_EQ(civi::params_json(query),
            R"({"select":["id","email_primary.email"],"where":[["id",">",42],)"
            R"(["modified_date",">=","2026-11-01 10:00:00"],["is_test","=",false]],)"
            R"("orderBy":{"id":"ASC"},"limit":500,"offset":1000,)"
            R"("join":[["Email AS email","LEFT",["email.contact_id","=","id"]]]})");
  EXPECT_EQ(civi::params_json({}), "{}");
  std::string body = civi::request_body(query);
  ASSERT_EQ(body.rfind("params=", 0), 0U);
  EXPECT_EQ(body.find_first_of(" &\"{[", 7), std::string::npos);
  EXPECT_EQ(civi::form_field(body, "params"), civi::params_json(query));
}

TEST(CivicrmApi, FormEncodingRoundTrips) {
  EXPECT_EQ(civi::form_encode("a b&=/ü~"), "a%20b%26%3D%2F%C3%BC~");
  EXPECT_EQ(civi::form_decode("a+b%26%3d"), "a b&=");
  EXPECT_FALSE(civi::form_decode("%4"));
  EXPECT_FALSE(civi::form_decode("%zz"));
  EXPECT_FALSE(civi::form_decode("abc%"));
  EXPECT_EQ(civi::form_field("index=1&params=%7B%7D", "params"), "{}");
  EXPECT_FALSE(civi::form_field("index=1", "params"));
}

TEST(CivicrmApi, InterpretsAnswers) {
  auto ok = civi::interpret_answer(
      200, R"({"entity":"Contact","action":"get","version":4,"values":[{"id":1},{"id":2}],)"
           R"("count":2,"countFetched":2})");
  ASSERT_TRUE(ok.ok()) << ok.message;
  EXPECT_EQ(ok.count, 2);
  EXPECT_EQ(ok.values().Size(), 2U);

  auto expect = [](int status, std::string_view body, civi::ApiError error) {
    auto result = civi::interpret_answer(status, body);
    EXPECT_EQ(result.error, error) << status << " " << body;
    EXPECT_EQ(result.http_status, status);
    EXPECT_EQ(result.values().Size(), 0U);
    EXPECT_EQ(result.retry(), error == civi::ApiError::unavailable);
    EXPECT_NE(result.message.find(std::to_string(status)), std::string::npos);
  };
  expect(401, R"({"error_message":"Invalid credential"})", civi::ApiError::bad_key);
  expect(403, "{}", civi::ApiError::bad_key);
  expect(500, R"({"error_code":"1","status":500})", civi::ApiError::unavailable);
  expect(503, "", civi::ApiError::unavailable);
  expect(400, "{}", civi::ApiError::rejected);
  expect(404, "<html>", civi::ApiError::rejected);
  expect(200, "", civi::ApiError::malformed);
  expect(200, R"({"values":[{"id":1}],"count":1)", civi::ApiError::malformed);
  expect(200, "<html>Login</html>", civi::ApiError::malformed);
  expect(200, "[]", civi::ApiError::malformed);
  expect(200, R"({"values":{},"count":0})", civi::ApiError::malformed);
  expect(200, R"({"values":[1],"count":1})", civi::ApiError::malformed);
  expect(200, R"({"values":[]})", civi::ApiError::malformed);
  expect(200, R"({"values":[],"count":"0"})", civi::ApiError::malformed);
  expect(200, R"({"values":[],"count":-1})", civi::ApiError::malformed);
}

TEST(CivicrmApi, PageQueryIsKeysetPagingById) {
  civi::ApiQuery base;
  base.select = {"id", "total_amount"};
  base.where = {{"is_test", "=", false}};
  base.offset = 7;
  auto page = civi::page_query(base, 300, 100,
                               civi::ModifiedSince{"last_modified_date", "2026-11-27 18:00:00"});
  EXPECT_EQ(civi::params_json(page),
            R"({"select":["id","total_amount"],"where":[["is_test","=",false],)"
            R"(["last_modified_date",">=","2026-11-27 18:00:00"],["id",">",300]],)"
            R"("orderBy":{"id":"ASC"},"limit":100})");
  EXPECT_EQ(civi::params_json(civi::page_query({}, 0, 50)),
            R"({"where":[["id",">",0]],"orderBy":{"id":"ASC"},"limit":50})");
}

TEST(CivicrmApi, PagerRefusesIdsThatDoNotIncrease) {
  int calls = 0;
  auto fetch = [&calls](const civi::ApiQuery&) {
    ++calls;
    return civi::interpret_answer(200, R"({"values":[{"id":5},{"id":4}],"count":2})");
  };
  int pages = 0;
  auto paging = civi::read_pages(fetch, {}, 10, 0, [&pages](const gabe::JsonValue&) {
    ++pages;
    return true;
  });
  EXPECT_EQ(paging.last.error, civi::ApiError::malformed);
  EXPECT_EQ(pages, 0);
  EXPECT_EQ(paging.last_id, 0);
  EXPECT_EQ(calls, 1);
  auto no_id = civi::read_pages(
      [](const civi::ApiQuery&) {
        return civi::interpret_answer(200, R"({"values":[{"id":"7"}],"count":1})");
      },
      {}, 10, 0, [](const gabe::JsonValue&) { return true; });
  EXPECT_EQ(no_id.last.error, civi::ApiError::malformed);
}

TEST(CivicrmApi, PagerStopsWhenAskedAndResumesAfterTheLastId) {
  std::vector<std::string> queries;
  auto fetch = [&queries](const civi::ApiQuery& query) {
    queries.push_back(civi::params_json(query));
    return civi::interpret_answer(200, R"({"values":[{"id":11},{"id":12}],"count":2})");
  };
  auto paging = civi::read_pages(fetch, {}, 2, 10, [](const gabe::JsonValue&) { return false; });
  EXPECT_TRUE(paging.last.ok());
  EXPECT_EQ(paging.last_id, 12);
  EXPECT_EQ(paging.records, 2);
  ASSERT_EQ(queries.size(), 1U);
  EXPECT_NE(queries[0].find(R"(["id",">",10])"), std::string::npos);
}
