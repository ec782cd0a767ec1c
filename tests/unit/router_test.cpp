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
  }
}

TEST(Router, LanguageFromAcceptLanguage) {
  Request req;
  EXPECT_EQ(req.language(), Language::de);
  req.headers.emplace_back("accept-language", "en-US,en;q=0.9");
  EXPECT_EQ(req.language(), Language::en);
}

}  // namespace
}  // namespace gabe::http
