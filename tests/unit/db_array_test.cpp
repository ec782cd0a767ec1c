#include <gtest/gtest.h>

#include "gabe/db.hpp"

namespace gabe::db {
namespace {

TEST(ArrayLiteral, QuotesEveryElementAndEscapesQuotesAndBackslashes) {
  ArrayLiteral a;
  a.add(std::string_view("plain"));
  a.add(std::string_view(R"(say "hi")"));
  a.add(std::string_view(R"(C:\path)"));
  a.add(std::string_view("{,} NULL"));
  a.add(std::string_view(""));
  a.add(std::string_view("Grüße"));
  EXPECT_EQ(a.take(), R"({"plain","say \"hi\"","C:\\path","{,} NULL","","Grüße"})");
}

TEST(ArrayLiteral, NullsNumbersAndOptionals) {
  ArrayLiteral a;
  a.add(std::int64_t{-42});
  a.add_null();
  a.add(std::optional<std::string>{});
  a.add(std::optional<std::string>{"x"});
  a.add_or_null("");
  a.add_or_null("y");
  EXPECT_EQ(a.take(), R"({-42,NULL,NULL,"x",NULL,"y"})");
}

TEST(ArrayLiteral, IsEmptyAndReusableAfterTake) {
  ArrayLiteral a;
  EXPECT_EQ(a.take(), "{}");
  a.add(std::string_view("a"));
  EXPECT_EQ(a.take(), R"({"a"})");
}

}  // namespace
}  // namespace gabe::db
