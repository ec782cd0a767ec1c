// The end-to-end fixture of gabe-segments: the real binary running as the role gabe_segments
// (so that every test also checks its grants), a generated donor base written straight into
// the database as its owner, and a model of that base in C++ from which the tests compute the
// expected members independently of the service's SQL.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "service_fixture.hpp"

namespace gabe::test {

struct GiftSpec {
  std::int64_t cents = 0;
  int days_ago = 0;  // received on today - days_ago (Europe/Berlin)
  std::string status = "completed";
  std::string campaign_ref;
};

struct DonorSpec {
  std::int64_t id = 0;
  std::string language;  // "" = NULL
  std::string country;   // "" = NULL
  std::vector<std::string> tags;
  bool erased = false;
  bool merged = false;
  bool placeholder = false;
  std::vector<GiftSpec> gifts;
  std::int64_t recurring_cents = 0;  // an active recurring gift when > 0
  std::string recurring_interval = "monthly";
  std::map<std::string, bool> consent;  // channel -> granted
  std::optional<double> score;          // give_90d
  int decile = 0;
  std::optional<int> last_ask_days_ago;
  std::string first_name, last_name, organization_name, email, phone, street, postal_code, city;
};

// A donor's rollups as the spec defines them, computed from the spec, not from the SQL.
struct Facts {
  std::int64_t gift_count = 0, gift_count_365d = 0, total = 0, total_365d = 0;
  std::optional<std::int64_t> largest, last_amount;
  std::optional<int> first_days_ago, last_days_ago;  // days since the first / last gift
  bool recurring_active = false;
  std::int64_t recurring_monthly = 0;
};

Facts facts_of(const DonorSpec& d);
// Neither erased, merged away nor a placeholder: the donors a segment may hold.
bool eligible(const DonorSpec& d);

class SegmentsTest : public ServiceTest {
 protected:
  SegmentsTest() : ServiceTest("segments", {{"GABE_HTTP_WORKERS", "8"}}) {}

  // Runs the service as gabe_segments; the test itself works as the owner (owner_url_).
  void prepare_database() override;

  // SQL as the database owner: one value ("" for NULL or no row), or just run it.
  std::string sql(const std::string& statement);

  // A generated donor base: `n` donors with gifts, tags, consents, scores; written to the
  // database and kept in donors_.
  void seed_donors(int n, unsigned seed = 2026);
  void write_donors(const std::vector<DonorSpec>& donors);
  // A date `days_ago` days before today in Europe/Berlin, as YYYY-MM-DD.
  std::string date_ago(int days_ago);

  HttpResponse call(const std::string& method, const std::string& target,
                    const std::string& body = "", const std::string& token = "");
  // Creates a segment (fundraiser) and returns its id; fails the test on anything but 201.
  std::int64_t create_segment(const std::string& rule, const std::string& name = "");
  std::unique_ptr<rapidjson::Document> refresh(std::int64_t id);
  // The current members by the JSON export (all pages).
  std::set<std::int64_t> members(std::int64_t id, const std::string& channel = "");
  // The donors of donors_ for which `pred` holds, among the eligible ones.
  std::set<std::int64_t> expected(const std::function<bool(const DonorSpec&, const Facts&)>& pred);

  std::string owner_url_;
  std::vector<DonorSpec> donors_;
  int segment_counter_ = 0;
};

}  // namespace gabe::test
