#include "adapters.hpp"

#include <gtest/gtest.h>

namespace gabe::ingest {
namespace {

constexpr const char* kTime = "2026-11-24T12:00:00Z";

TEST(Adapters, OneTableNamesEveryAdapterAndWhichOnesSourcesCanUse) {
  ASSERT_NE(find_adapter("generic"), nullptr);
  ASSERT_NE(find_adapter("civicrm"), nullptr);
  ASSERT_NE(find_adapter("import"), nullptr);
  EXPECT_EQ(find_adapter("salesforce"), nullptr);
  std::vector<std::string_view> all;
  for (const auto& a : adapters()) all.push_back(a.name);
  EXPECT_EQ(all, (std::vector<std::string_view>{"generic", "civicrm", "import"}));
  EXPECT_EQ(source_adapter_names(), (std::vector<std::string_view>{"generic", "civicrm"}));
}

TEST(Adapters, GenericReadsTheEnvelope) {
  auto e = map_received(
      "generic", "crm", "e1",
      R"({"type":"gift.created","timestamp":"2026-11-20T10:00:00Z","data":{"gift_ref":"g1",
          "donor_ref":"d1","amount":"5.00","received_on":"2026-11-20"}})",
      kTime);
  ASSERT_FALSE(e.reject) << *e.reject;
  EXPECT_EQ(e.type, "gift.created");
  EXPECT_EQ(e.adapter, "generic");
  EXPECT_EQ(e.source, "crm");
  EXPECT_EQ(e.occurred_at, "2026-11-20T10:00:00Z");
  EXPECT_NE(e.raw.find("g1"), std::string::npos);
}

TEST(Adapters, CivicrmMapsTheBodyAtTheFallbackTime) {
  auto e = map_received("civicrm", "civi", "c1",
                        R"({"entity":"Contact","action":"create","values":{"id":42}})", kTime);
  ASSERT_FALSE(e.reject) << *e.reject;
  EXPECT_EQ(e.type, "donor.upserted");
  EXPECT_EQ(e.adapter, "civicrm");
  EXPECT_EQ(e.occurred_at, kTime);
  EXPECT_EQ(e.donor_ref, "42");
}

TEST(Adapters, AStoredImportLineKeepsTheInboxRowsIdentity) {
  auto e = map_received(
      "import", "crm", "stored-id",
      R"({"id":"line-id","source":"other","type":"donor.upserted","data":{"donor_ref":"d9"}})",
      kTime);
  ASSERT_FALSE(e.reject) << *e.reject;
  EXPECT_EQ(e.type, "donor.upserted");
  EXPECT_EQ(e.adapter, "import");
  EXPECT_EQ(e.source, "crm");
  EXPECT_EQ(e.event_id, "stored-id");
}

TEST(Adapters, UnknownAdaptersAndBadBodiesAreProblems) {
  try {
    map_received("salesforce", "crm", "e1", "{}", kTime);
    FAIL() << "an unknown adapter was accepted";
  } catch (const Problem& p) {
    EXPECT_EQ(p.status(), 422);
  }
  try {
    map_received("civicrm", "civi", "e1", R"({"values":{}})", kTime);
    FAIL() << "a body without entity was accepted";
  } catch (const Problem& p) {
    EXPECT_EQ(p.status(), 400);
  }
  EXPECT_THROW(map_received("generic", "crm", "e1", "not json", kTime), Problem);
}

}  // namespace
}  // namespace gabe::ingest
