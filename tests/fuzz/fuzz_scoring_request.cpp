// The scoring service's request parsers: a JSON body's target (name or object) and training
// parameters, and a target name from a query string or --target. Each must end in a value
// whose name parses back to itself, or a 4xx Problem; never a crash.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "gabe/json.hpp"
#include "gabe/targets.hpp"
#include "train_params.hpp"

namespace {

void check_target(const gabe::Target& t) {
  // A parsed target names itself, and that name parses to the same target.
  const auto again = gabe::parse_target_name(t.name());
  if (again.name() != t.name() || again.kind != t.kind || again.horizon_days != t.horizon_days ||
      again.min_amount_cents != t.min_amount_cents)
    std::abort();
}

void expect_client_error(const gabe::Problem& p) {
  if (p.status() < 400 || p.status() >= 500) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    check_target(gabe::parse_target_name(text));
  } catch (const gabe::Problem& p) {
    expect_client_error(p);
  }
  try {
    auto doc = gabe::parse_json(text);
    if (const auto* t = doc->IsObject() ? gabe::member(*doc, "target") : nullptr) {
      try {
        check_target(gabe::parse_target(*t));
      } catch (const gabe::Problem& p) {
        expect_client_error(p);
      }
    }
    const auto params = gabe::scoring::TrainParams::from_json(
        doc->IsObject() ? gabe::member(*doc, "params") : doc.get());
    // What was accepted is within its ranges and serialises to JSON that reads back the same.
    if (params.max_depth < 1 || params.max_depth > 10 || params.windows < 1 || params.windows > 24)
      std::abort();
    auto back = gabe::parse_json(params.to_json());
    if (gabe::scoring::TrainParams::from_json(back.get()).to_json() != params.to_json())
      std::abort();
  } catch (const gabe::Problem& p) {
    expect_client_error(p);
  }
  return 0;
}
