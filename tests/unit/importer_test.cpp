#include "importer.hpp"

#include <gtest/gtest.h>

namespace gabe::ingest {
namespace {

// The importer's batching logic, with the database call replaced by a recorder: which events
// go together into one ingest.apply_events call.
struct Recorder {
  std::vector<std::vector<std::string>> batches;
  std::vector<ApplyOutcome> operator()(const std::vector<CanonicalEvent>& events) {
    batches.emplace_back();
    std::vector<ApplyOutcome> out;
    for (const auto& e : events) {
      batches.back().push_back(e.event_id);
      out.push_back({e.event_id,
                     e.reject ? "rejected" : (e.event_id == "dup" ? "duplicate" : "processed"),
                     e.reject.value_or("")});
    }
    return out;
  }
};

std::string gift(const std::string& id) {
  return R"({"id":")" + id +
         R"(","type":"gift.created","data":{"gift_ref":"g","donor_ref":"d","amount":"1.00","received_on":"2026-01-01"}})";
}

TEST(Importer, BatchesAndIsolatesMergesAndErasures) {
  auto rec = std::make_shared<Recorder>();
  Importer imp([rec](const auto& e) { return (*rec)(e); },
               [](const std::string& s) { return s == "crm"; }, "crm", "2026-11-24T00:00:00Z", 2);
  std::size_t n = 0;
  for (const auto& l :
       {gift("a"), gift("b"), gift("c"),
        std::string(
            R"({"id":"m","type":"donor.merged","data":{"donor_ref":"d","merged_refs":["x"]}})"),
        gift("dup")}) {
    imp.line(l, ++n, false);
  }
  const auto& s = imp.finish();
  EXPECT_EQ(rec->batches,
            (std::vector<std::vector<std::string>>{{"a", "b"}, {"c"}, {"m"}, {"dup"}}));
  EXPECT_EQ(s.received, 5u);
  EXPECT_EQ(s.processed, 4u);
  EXPECT_EQ(s.duplicates, 1u);
}

TEST(Importer, ReportsBadLinesWithTheirNumbers) {
  auto rec = std::make_shared<Recorder>();
  Importer imp([rec](const auto& e) { return (*rec)(e); },
               [](const std::string& s) { return s == "crm"; }, "crm", "2026-11-24T00:00:00Z");
  imp.line("not json", 1, false);
  imp.line(R"({"id":"x","source":"other","type":"gift.created","data":{}})", 2, false);
  imp.line(R"({"id":"y","type":"gift.created","data":{"gift_ref":"g"}})", 3, false);
  imp.line("", 4, true);
  imp.line(gift("ok"), 5, false);
  const auto& s = imp.finish();
  EXPECT_EQ(s.received, 5u);
  EXPECT_EQ(s.processed, 1u);
  EXPECT_EQ(s.rejected, 4u);
  ASSERT_EQ(s.errors.size(), 4u);
  EXPECT_EQ(s.errors[0].line, 1u);
  EXPECT_EQ(s.errors[1].line, 2u);
  EXPECT_NE(s.errors[1].message.find("unknown source"), std::string::npos);
  EXPECT_EQ(s.errors[2].line, 3u);  // invalid data: stored as rejected, reported
  EXPECT_EQ(s.errors[3].line, 4u);
}

}  // namespace
}  // namespace gabe::ingest
