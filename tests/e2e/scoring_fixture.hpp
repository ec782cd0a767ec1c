// Scoring's end-to-end fixture: the generic service fixture with a donor history written
// straight into the donor schema (as gabe-ingest would have stored it), and helpers to train,
// activate and run.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "service_fixture.hpp"

namespace gabe::test {

struct SyntheticGift {
  std::int64_t donor_id;
  std::string received_on;  // YYYY-MM-DD
  std::int64_t cents;
  std::string channel;
  bool campaign = false;
};

class ScoringTest : public ServiceTest {
 protected:
  ScoringTest()
      : ServiceTest("scoring", {{"GABE_HTTP_WORKERS", "8"}, {"GABE_SCORING_SCHEDULE", "off"}}) {}
  explicit ScoringTest(std::map<std::string, std::string> settings)
      : ServiceTest("scoring", std::move(settings)) {}

  // A response body as JSON. Scores and metrics are doubles with 17 digits, which the platform's
  // request parser (made for money) refuses, so this parses with RapidJSON's full precision.
  static std::unique_ptr<rapidjson::Document> json(const HttpResponse& r);

  // Donors 1..n (source "crm", ref "d<id>") and their completed gifts.
  void insert_donors(std::int64_t n);
  // One more donor with this id (after the others).
  void insert_donors_after(std::int64_t id);
  void insert_gifts(const std::vector<SyntheticGift>& gifts);
  // A history with a planted signal: n donors from `from` to `until`, each with a hidden
  // giving rate and some who stop giving; deterministic for a seed.
  static std::vector<SyntheticGift> synthetic_gifts(std::int64_t n, const std::string& from,
                                                    const std::string& until, unsigned seed);

  // POST /v1/models and wait until it is no longer training; returns the model card.
  std::unique_ptr<rapidjson::Document> train(const std::string& target, const std::string& as_of,
                                             const std::string& params = "{}");
  void activate(std::int64_t model_id, const std::string& reason = "Checked the card");
  // POST /v1/runs and wait until it finished; returns GET /v1/runs/{id}.
  std::unique_ptr<rapidjson::Document> run(const std::string& target, const std::string& as_of);
  // Runs gabe-scoring with arguments (one-shot commands); returns its exit code.
  int command(const std::vector<std::string>& args, std::string* out = nullptr,
              std::string* err = nullptr);
};

}  // namespace gabe::test
