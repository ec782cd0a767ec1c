#include <gtest/gtest.h>

#include "gabe/http.hpp"

namespace gabe::http {
namespace {

Router make_router() {
  Router r;
  auto ok = [](Request&) { return json_response(200, "{}"); };
  r.add(Method::get, "/v1/donors/{id}", Role::viewer, ok);
  r.add(Method::del, "/v1/donors/{id}", Role::admin, ok);
  r.add(Method::get, "/v1/donors/{id}/gifts", Role::viewer, ok);
  r.add(Method::post, "/v1/webhooks/{source}", std::nullopt, ok);
  return r;
}

TEST(Router, MatchesTemplatesAndExtractsParameters) {
  auto r = make_router();
  Request req;
  req.method = Method::get;
  req.target = "/v1/donors/42/gifts?limit=5&after=7&x=a%20b+c";
  const auto& route = r.match(req);
  EXPECT_EQ(route.pattern, "/v1/donors/{id}/gifts");
  EXPECT_EQ(req.route, "/v1/donors/{id}/gifts");
  EXPECT_EQ(req.param("id"), "42");
  EXPECT_EQ(req.query_param("limit"), "5");
  EXPECT_EQ(req.query_param("x"), "a b c");
}

TEST(Router, UnknownPathIs404AndWrongMethodIs405) {
  auto r = make_router();
  Request a;
  a.method = Method::get;
  a.target = "/v1/nothing";
  try {
    r.match(a);
    FAIL();
  } catch (const Problem& p) {
    EXPECT_EQ(p.status(), 404);
  }
  Request b;
  b.method = Method::put;
  b.target = "/v1/donors/1";
  try {
    r.match(b);
    FAIL();
  } catch (const Problem& p) {
    EXPECT_EQ(p.status(), 405);
    EXPECT_EQ(p.allow(), "GET, HEAD, DELETE");
    auto response = problem_response(p, Language::en);
    ASSERT_EQ(response.headers.size(), 1u);
    EXPECT_EQ(response.headers[0].first, "allow");
    EXPECT_EQ(response.headers[0].second, "GET, HEAD, DELETE");
  }
}

// Percent-decoded path parameters and query values are text, or 400 naming them.
TEST(Router, DecodedPathAndQueryMustBeText) {
  auto r = make_router();
  auto field_of = [&](const std::string& target) -> std::string {
    Request req;
    req.method = Method::get;
    req.target = target;
    try {
      r.match(req);
      return "";
    } catch (const Problem& p) {
      if (p.status() != 400 || p.errors().size() != 1)
        return "status " + std::to_string(p.status());
      return p.errors()[0].field;
    }
  };
  EXPECT_EQ(field_of("/v1/donors/1?ref=%ff%fe"), "ref");
  EXPECT_EQ(field_of("/v1/donors/1?ref=d1%00x"), "ref");
  EXPECT_EQ(field_of("/v1/donors/1?action=%ff"), "action");
  EXPECT_EQ(field_of("/v1/donors/1?%ff=1"), "query");
  EXPECT_EQ(field_of("/v1/donors/%ed%b0%80"), "id");
  EXPECT_EQ(field_of("/v1/donors/%e2%82%ac?ref=D%C3%BCsseldorf"), "");
  EXPECT_EQ(field_of("/v1/nothing/%ff"), "status 404");
}

TEST(Router, LanguageFromAcceptLanguage) {
  Request req;
  EXPECT_EQ(req.language(), Language::de);
  req.headers.emplace_back("accept-language", "en-US,en;q=0.9");
  EXPECT_EQ(req.language(), Language::en);
}

}  // namespace
}  // namespace gabe::http
