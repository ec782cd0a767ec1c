// Query-string and content-type helpers of http::Request.
#include <gtest/gtest.h>

#include "gabe/http.hpp"

namespace gabe::http {
namespace {

Request with_query(std::vector<std::pair<std::string, std::string>> query) {
  Request r;
  r.query = std::move(query);
  return r;
}

Request with_content_type(std::string type) {
  Request r;
  r.headers.emplace_back("content-type", std::move(type));
  return r;
}

// The field error of the 422 that fn throws, as "field: message".
std::string field_error(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Problem& p) {
    EXPECT_EQ(p.status(), 422);
    if (p.errors().size() != 1) return "errors: " + std::to_string(p.errors().size());
    return p.errors()[0].field + ": " + p.errors()[0].message;
  }
  return "no problem";
}

TEST(RequestQuery, TextIsOptionalOrRequiredAndBounded) {
  auto r = with_query({{"source", "crm"}, {"empty", ""}});
  EXPECT_EQ(r.query_text("source"), "crm");
  EXPECT_EQ(r.query_text("empty"), "");
  EXPECT_EQ(r.query_text("missing"), std::nullopt);
  EXPECT_EQ(r.required_query_text("source"), "crm");
  EXPECT_EQ(field_error([&] { r.required_query_text("missing"); }), "missing: is required");
  EXPECT_EQ(field_error([&] { r.query_text("source", 2); }), "source: must be at most 2 bytes");
}

TEST(RequestQuery, IntegersHaveARange) {
  auto r = with_query({{"n", "42"},
                       {"neg", "-3"},
                       {"junk", "4x"},
                       {"empty", ""},
                       {"huge", "99999999999999999999"}});
  EXPECT_EQ(r.query_int("n", 1, 100), 42);
  EXPECT_EQ(r.query_int("neg", -5, 5), -3);
  EXPECT_EQ(r.query_int("missing", 1, 100), std::nullopt);
  EXPECT_EQ(field_error([&] { r.query_int("n", 1, 10); }),
            "n: must be a whole number from 1 to 10");
  EXPECT_EQ(field_error([&] { r.query_int("junk", 1, 10); }),
            "junk: must be a whole number from 1 to 10");
  EXPECT_EQ(field_error([&] { r.query_int("empty", 1, 10); }),
            "empty: must be a whole number from 1 to 10");
  EXPECT_NE(field_error([&] { r.query_int("huge", 1, 10); }), "no problem");
}

TEST(RequestQuery, EnumsAndBooleans) {
  auto r = with_query({{"status", "rejected"},
                       {"bad", "Rejected"},
                       {"yes", "true"},
                       {"no", "0"},
                       {"maybe", "perhaps"}});
  EXPECT_EQ(r.query_enum("status", {"processed", "rejected"}), "rejected");
  EXPECT_EQ(r.query_enum("missing", {"processed", "rejected"}), std::nullopt);
  EXPECT_EQ(field_error([&] {
              r.query_enum("bad", {"processed", "rejected"});
            }),
            "bad: must be processed or rejected");
  EXPECT_EQ(field_error([&] { r.query_enum("bad", {"a", "b", "c"}); }), "bad: must be a, b or c");
  EXPECT_EQ(r.query_bool("yes"), true);
  EXPECT_EQ(r.query_bool("no"), false);
  EXPECT_EQ(r.query_bool("missing"), std::nullopt);
  EXPECT_EQ(field_error([&] { r.query_bool("maybe"); }), "maybe: must be true or false");
}

TEST(RequestMediaType, ParsesTheMediaTypeNotAPrefix) {
  EXPECT_TRUE(with_content_type("application/json").has_media_type("application/json"));
  EXPECT_TRUE(
      with_content_type("application/json; charset=utf-8").has_media_type("application/json"));
  EXPECT_TRUE(
      with_content_type("Application/JSON;charset=UTF-8").has_media_type("application/json"));
  EXPECT_TRUE(
      with_content_type("application/json ; charset=utf-8").has_media_type("application/json"));
  EXPECT_FALSE(with_content_type("application/jsonx").has_media_type("application/json"));
  EXPECT_FALSE(with_content_type("application/json-seq").has_media_type("application/json"));
  EXPECT_FALSE(with_content_type("application/json x").has_media_type("application/json"));
  EXPECT_FALSE(with_content_type("text/plain").has_media_type("application/json"));
  EXPECT_FALSE(Request().has_media_type("application/json"));
  EXPECT_TRUE(with_content_type("application/x-ndjson").has_media_type("application/x-ndjson"));
  EXPECT_FALSE(with_content_type("application/x-ndjsonl").has_media_type("application/x-ndjson"));
}

TEST(RequestMediaType, RequireJsonAnswers415) {
  try {
    with_content_type("application/json-seq").require_json();
    FAIL() << "no problem";
  } catch (const Problem& p) {
    EXPECT_EQ(p.status(), 415);
  }
  EXPECT_NO_THROW(with_content_type("application/json; charset=utf-8").require_json());
}

}  // namespace
}  // namespace gabe::http
