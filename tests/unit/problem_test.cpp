#include "gabe/problem.hpp"

#include <gtest/gtest.h>

#include "gabe/json.hpp"

namespace gabe {
namespace {

TEST(Problem, RendersRfc9457WithErrorsInTheRequestedLanguage) {
  auto p = unprocessable("Bad fields.", {{"data.amount", "must be greater than 0"}});
  auto doc = parse_json(p.to_json(Language::en));
  EXPECT_STREQ((*doc)["title"].GetString(), "Unprocessable Content");
  EXPECT_EQ((*doc)["status"].GetInt(), 422);
  EXPECT_STREQ((*doc)["detail"].GetString(), "Bad fields.");
  EXPECT_STREQ((*doc)["type"].GetString(), "urn:gabe:problem:validation");
  EXPECT_STREQ((*doc)["errors"][0]["field"].GetString(), "data.amount");
  auto de = parse_json(p.to_json(Language::de));
  EXPECT_STREQ((*de)["title"].GetString(), "Ungültige Daten");
}

TEST(Problem, ServiceUnavailableCarriesRetryAfter) {
  EXPECT_EQ(service_unavailable("down", 2).retry_after_seconds(), 2);
  EXPECT_EQ(service_unavailable("down", 2).status(), 503);
}

TEST(Problem, ListsAtMostFiftyErrorsAndCountsTheRest) {
  std::vector<FieldError> errors;
  for (int i = 0; i < 100000; ++i) errors.push_back({"k" + std::to_string(i), "is bad"});
  auto p = unprocessable("Bad fields.", std::move(errors));
  EXPECT_EQ(p.errors().size(), kMaxProblemErrors);
  EXPECT_EQ(p.omitted_errors(), 100000 - kMaxProblemErrors);
  auto doc = parse_json(p.to_json(Language::en));
  const auto& list = (*doc)["errors"];
  ASSERT_EQ(list.Size(), kMaxProblemErrors + 1);
  EXPECT_STREQ(list[0]["field"].GetString(), "k0");
  EXPECT_STREQ(list[49]["field"].GetString(), "k49");
  EXPECT_STREQ(list[50]["field"].GetString(), "");
  EXPECT_STREQ(list[50]["message"].GetString(), "99950 more errors left out");

  // Exactly fifty: all listed, nothing said about more.
  std::vector<FieldError> fifty(kMaxProblemErrors, FieldError{"f", "is bad"});
  auto q = unprocessable("Bad fields.", fifty);
  EXPECT_EQ(q.omitted_errors(), 0u);
  EXPECT_EQ((*parse_json(q.to_json(Language::en)))["errors"].Size(), kMaxProblemErrors);
}

TEST(Problem, StaysValidJsonWhateverItEchoes) {
  auto p = unprocessable("No source 'ab\xe2\x82'.", {{"x\xc3", "is not a field of this request"}});
  auto doc = parse_json(p.to_json(Language::de));
  EXPECT_STREQ((*doc)["detail"].GetString(), "No source 'ab\xef\xbf\xbd\xef\xbf\xbd'.");
  EXPECT_STREQ((*doc)["errors"][0]["field"].GetString(), "x\xef\xbf\xbd");
}

}  // namespace
}  // namespace gabe
