#include "ndjson.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace gabe::ingest {
namespace {

struct Line {
  std::string text;
  std::size_t number;
  bool too_long;
  bool operator==(const Line&) const = default;
};

std::vector<Line> split(const std::vector<std::string>& chunks, std::size_t max = 100) {
  std::vector<Line> out;
  LineSplitter s(max, [&](std::string_view l, std::size_t n, bool t) {
    out.push_back({std::string(l), n, t});
  });
  for (const auto& c : chunks) s.feed(c);
  s.finish();
  return out;
}

TEST(LineSplitter, SplitsAcrossChunkBoundaries) {
  auto lines = split({"{\"a\":1}\n{\"b\"", ":2}\r\n\n{\"c\":3}"});
  EXPECT_EQ(lines, (std::vector<Line>{
                       {"{\"a\":1}", 1, false}, {"{\"b\":2}", 2, false}, {"{\"c\":3}", 4, false}}));
}

TEST(LineSplitter, SkipsLinesOfOnlyWhiteSpaceLikeEmptyOnes) {
  auto lines = split({"{\"a\":1}\n   \n\t\r\n\n{\"b\":2}\n \t"});
  EXPECT_EQ(lines, (std::vector<Line>{{"{\"a\":1}", 1, false}, {"{\"b\":2}", 5, false}}));
}

TEST(LineSplitter, ReportsOverlongLinesWithoutKeepingThem) {
  auto lines = split({std::string(60, 'x'), std::string(60, 'y') + "\nok\n"}, 100);
  EXPECT_EQ(lines, (std::vector<Line>{{"", 1, true}, {"ok", 2, false}}));
}

}  // namespace
}  // namespace gabe::ingest
