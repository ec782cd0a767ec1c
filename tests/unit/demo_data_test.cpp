#include "demo_data.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <map>
#include <sstream>

#include "canonical_event.hpp"

namespace gabe {
namespace {

std::string demo_ndjson(std::uint64_t donors, std::uint64_t seed,
                        const std::string& source = "demo") {
  char* buf = nullptr;
  std::size_t size = 0;
  std::FILE* f = open_memstream(&buf, &size);
  demo::Options o;
  o.donors = donors;
  o.seed = seed;
  o.source = source;
  demo::write_demo_data(o, f);
  std::fclose(f);
  std::string out(buf, size);
  std::free(buf);
  return out;
}

TEST(DemoData, IsDeterministicForASeed) {
  EXPECT_EQ(demo_ndjson(50, 7), demo_ndjson(50, 7));
  EXPECT_NE(demo_ndjson(50, 7), demo_ndjson(50, 8));
}

TEST(DemoData, EveryLineIsAValidCanonicalEventWithRealisticShape) {
  std::istringstream in(demo_ndjson(300, 1));
  std::string line;
  std::map<std::string, int> types;
  int december = 0, gifts = 0;
  while (std::getline(in, line)) {
    ingest::CanonicalEvent e;
    auto doc = parse_json(line);
    ingest::map_import_line(e, *doc, "demo", "2026-11-24T00:00:00Z");
    ASSERT_FALSE(e.reject) << line << ": " << *e.reject;
    ++types[e.type];
    if (e.type == "gift.created") {
      ++gifts;
      if (std::string((*doc)["data"]["received_on"].GetString()).substr(5, 2) == "12") ++december;
    }
  }
  EXPECT_EQ(types["donor.upserted"], 300);
  EXPECT_GT(types["gift.created"], 300);
  EXPECT_GT(types["recurring.upserted"], 0);
  EXPECT_GT(types["appeal.sent"], 0);
  EXPECT_GT(types["campaign.upserted"], 0);
  // December carries clearly more than a twelfth of the gifts.
  EXPECT_GT(december * 12, gifts * 3 / 2);
}

TEST(DemoData, TheSourceNameIsEscapedInTheJson) {
  const std::string source = R"(crm "main" \ backup)";
  std::istringstream in(demo_ndjson(3, 1, source));
  std::string line;
  int lines = 0;
  while (std::getline(in, line)) {
    ++lines;
    auto doc = parse_json(line);  // throws on the unescaped text
    EXPECT_EQ(std::string((*doc)["source"].GetString()), source);
  }
  EXPECT_GT(lines, 3);
}

}  // namespace
}  // namespace gabe
