// Prediction targets (gabe/targets.hpp): the one definition that scoring writes scores under
// and segments reads them by.
#include <gtest/gtest.h>

#include <string>

#include "gabe/targets.hpp"

namespace gabe {
namespace {

Target from_json(const std::string& json) {
  auto doc = parse_json(json);
  return parse_target(*doc);
}

// The errors of the 422 that parsing `json` throws, as "field: message" lines.
std::string errors_of(const std::string& json) {
  try {
    from_json(json);
  } catch (const Problem& p) {
    EXPECT_EQ(p.status(), 422);
    std::string out;
    for (const auto& e : p.errors()) out += e.field + ": " + e.message + "\n";
    return out;
  }
  ADD_FAILURE() << json << " was accepted";
  return {};
}

TEST(Targets, NamesParse) {
  EXPECT_EQ(parse_target_name("give_90d").name(), "give_90d");
  EXPECT_EQ(parse_target_name("lapse_180d").kind, TargetKind::lapse);
  EXPECT_EQ(parse_target_name("lapse_180d").horizon_days, 180);
  const auto t = parse_target_name("give_90d_min50");
  EXPECT_EQ(t.kind, TargetKind::give);
  EXPECT_EQ(t.min_amount_cents, 5000);
  EXPECT_EQ(t.name(), "give_90d_min50");
  EXPECT_EQ(parse_target_name("give_90d_min12.50").min_amount_cents, 1250);
  EXPECT_EQ(parse_target_name("give_1d").horizon_days, 1);
  EXPECT_EQ(parse_target_name("give_730d").horizon_days, 730);
}

TEST(Targets, NameRoundTrips) {
  for (const char* name :
       {"give_1d", "give_90d", "give_730d", "lapse_1d", "lapse_365d", "give_90d_min50",
        "give_90d_min12.50", "give_90d_min0.01", "give_30d_min1000000000"}) {
    const auto t = parse_target_name(name);
    EXPECT_EQ(t.name(), name);
    EXPECT_EQ(parse_target_name(t.name()), t) << name;
    auto doc = parse_json(t.to_json());
    EXPECT_EQ(parse_target(*doc), t) << t.to_json();
  }
}

TEST(Targets, BadNamesAre422) {
  for (const char* bad : {"give",
                          "give_0d",
                          "give_731d",
                          "lapse_9999d",
                          "give_090d",
                          "give_-5d",
                          "give_90d_",
                          "lapse_90d_min5",
                          "give_90d_min0",
                          "give_90d_min-5",
                          "give_90d_min12.5",
                          "give_90d_min12_50",
                          "give_90d_min50.00",
                          "give_90d_min1000000000.01",
                          "give_90d_min",
                          "give_90d_minx",
                          "upgrade_90d",
                          "foo_90d",
                          "GIVE_90d",
                          "give_90x",
                          "give_9",
                          "lapse_",
                          "",
                          "give_90d\xc3"}) {
    try {
      parse_target_name(bad);
      ADD_FAILURE() << bad << " was accepted";
    } catch (const Problem& p) {
      EXPECT_EQ(p.status(), 422) << bad;
      ASSERT_EQ(p.errors().size(), 1U) << bad;
      EXPECT_EQ(p.errors()[0].field, "target") << bad;
    }
    EXPECT_FALSE(target_of_name(bad).has_value()) << bad;
  }
  EXPECT_EQ(target_of_name("give_90d_min12.50"), parse_target_name("give_90d_min12.50"));
}

TEST(Targets, ObjectsMeanTheSameAsNames) {
  EXPECT_EQ(from_json(R"({"kind": "give", "horizon_days": 90, "min_amount": "50.00"})").name(),
            "give_90d_min50");
  EXPECT_EQ(from_json(R"({"kind": "give", "horizon_days": 90, "min_amount": 12.5})").name(),
            "give_90d_min12.50");
  EXPECT_EQ(from_json(R"({"kind": "give", "horizon_days": 90, "min_amount": "0.00"})").name(),
            "give_90d");
  EXPECT_EQ(from_json(R"({"kind": "lapse", "horizon_days": 180})").name(), "lapse_180d");
  EXPECT_EQ(from_json(R"("give_90d_min12.50")").min_amount_cents, 1250);
  // What to_json writes (with its "name") reads back.
  EXPECT_EQ(from_json(R"({"name": "give_90d_min12.50", "kind": "give", "horizon_days": 90,
                          "min_amount": "12.50"})")
                .name(),
            "give_90d_min12.50");
}

TEST(Targets, BadObjectsAre422NamingTheField) {
  EXPECT_NE(errors_of(R"({"kind": "upgrade", "horizon_days": 90})").find("target.kind: "),
            std::string::npos);
  EXPECT_NE(errors_of(R"({"kind": "lapse", "horizon_days": 9999})").find("target.horizon_days"),
            std::string::npos);
  EXPECT_NE(errors_of(R"({"kind": "give", "horizon_days": 0})").find("target.horizon_days"),
            std::string::npos);
  EXPECT_NE(errors_of(R"({"kind": "give", "horizon_days": "90"})").find("target.horizon_days"),
            std::string::npos);
  EXPECT_NE(errors_of(R"({"kind": "give", "horizon_days": 90, "min_amount": "-1.00"})")
                .find("target.min_amount"),
            std::string::npos);
  EXPECT_NE(errors_of(R"({"kind": "give", "horizon_days": 90, "min_amount": "1.234"})")
                .find("target.min_amount"),
            std::string::npos);
  EXPECT_NE(errors_of(R"({"kind": "lapse", "horizon_days": 90, "min_amount": "5.00"})")
                .find("target.min_amount: applies only to give targets"),
            std::string::npos);
  EXPECT_EQ(errors_of(R"({"kind": "give", "horizon_days": 90, "horizon": 30})"),
            "target.horizon: is not a field of this request\n");
  EXPECT_NE(errors_of(R"({"name": "give_30d", "kind": "give", "horizon_days": 90})")
                .find("target.name: must be give_90d"),
            std::string::npos);
  EXPECT_EQ(errors_of("[]").rfind("target: must be a target name such as give_90d", 0), 0U);
  EXPECT_EQ(errors_of("17").rfind("target: must be a target name such as give_90d", 0), 0U);
}

TEST(Targets, ReadFromABodyCollectingErrors) {
  auto doc = parse_json(R"({"target": {"kind": "give", "horizon_days": 0}, "other": "give_30d"})");
  FieldReader r(*doc, "campaigns[0].");
  EXPECT_FALSE(read_target(r, *doc, "target", true));
  ASSERT_EQ(r.errors().size(), 1u);
  EXPECT_EQ(r.errors()[0].field, "campaigns[0].target.horizon_days");
  EXPECT_EQ(read_target(r, *doc, "other"), parse_target_name("give_30d"));
  EXPECT_FALSE(read_target(r, *doc, "missing"));
  EXPECT_EQ(r.errors().size(), 1u);  // absent and not required: no error
  EXPECT_FALSE(read_target(r, *doc, "missing", true));
  ASSERT_EQ(r.errors().size(), 2u);
  EXPECT_EQ(r.errors()[1].field, "campaigns[0].missing");
  EXPECT_EQ(r.errors()[1].message, "is required");
}

}  // namespace
}  // namespace gabe
