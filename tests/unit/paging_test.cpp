// Keyset-paged lists: ?limit=, ?after= and the page's next cursor.
#include <gtest/gtest.h>

#include "gabe/json.hpp"
#include "gabe/paging.hpp"

namespace gabe {
namespace {

http::Request with_query(std::vector<std::pair<std::string, std::string>> query) {
  http::Request r;
  r.query = std::move(query);
  return r;
}

std::string field_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Problem& p) {
    EXPECT_EQ(p.status(), 422);
    return p.errors().empty() ? "" : p.errors()[0].field + ": " + p.errors()[0].message;
  }
  return "no problem";
}

TEST(Paging, LimitAndCursorFromTheQuery) {
  auto first = Page::of(with_query({}));
  EXPECT_EQ(first.limit, 100);
  EXPECT_EQ(first.after, std::nullopt);
  auto next = Page::of(with_query({{"limit", "1000"}, {"after", "17"}}));
  EXPECT_EQ(next.limit, 1000);
  EXPECT_EQ(next.after, 17);
}

TEST(Paging, BadLimitOrCursorIs422NamingIt) {
  EXPECT_EQ(field_of([] {
              Page::of(with_query({{"limit", "0"}}));
            }),
            "limit: must be a whole number from 1 to 1000");
  EXPECT_EQ(field_of([] {
              Page::of(with_query({{"limit", "1001"}}));
            }),
            "limit: must be a whole number from 1 to 1000");
  EXPECT_EQ(field_of([] {
              Page::of(with_query({{"after", "abc"}}));
            }),
            "after: is not a cursor returned by this list");
  EXPECT_EQ(field_of([] {
              Page::of(with_query({{"after", "0"}}));
            }),
            "after: is not a cursor returned by this list");
  EXPECT_EQ(field_of([] {
              Page::of(with_query({{"after", ""}}));
            }),
            "after: is not a cursor returned by this list");
}

TEST(Paging, NextIsTheLastKeyShownWhenMoreFollow) {
  Page page;
  page.limit = 2;
  PageWriter full(page);
  EXPECT_TRUE(full.add("5", R"({"id":5})"));
  EXPECT_TRUE(full.add("9", R"({"id":9})"));
  EXPECT_FALSE(full.add("12", R"({"id":12})"));  // the extra row of LIMIT limit + 1
  EXPECT_EQ(full.finish(), R"({"items":[{"id":5},{"id":9}],"next":"9"})");

  PageWriter last(page);
  EXPECT_TRUE(last.add("5", R"({"id":5})"));
  EXPECT_TRUE(last.add("9", R"({"id":9})"));
  EXPECT_EQ(last.finish(), R"({"items":[{"id":5},{"id":9}],"next":null})");

  PageWriter empty(page);
  EXPECT_EQ(empty.finish(), R"({"items":[],"next":null})");
}

}  // namespace
}  // namespace gabe
