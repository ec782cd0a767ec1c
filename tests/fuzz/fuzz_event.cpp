// libFuzzer target: a webhook body through one of the adapters (the first byte chooses which,
// in the order of the adapter table), the way gabe-ingest reads it, also on replay. Untrusted
// input must end as a mapped event, a rejection or a Problem (4xx) — never a crash, a
// sanitizer report or another exception.
#include <cstddef>
#include <cstdint>
#include <string>

#include "adapters.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const auto all = gabe::ingest::adapters();
  const auto& adapter = all[data[0] % all.size()];
  std::string body(reinterpret_cast<const char*>(data) + 1, size - 1);
  // Opt-in groups as a civicrm source has them, so that GroupContact bodies reach their mapping.
  static const gabe::ingest::SourceConfig config{{{"email", "12"}, {"phone", "13"}, {"sms", "14"}}};
  gabe::ingest::CanonicalEvent event;
  try {
    event =
        gabe::ingest::map_received(adapter.name, "fuzz", "e", body, "2026-11-24T10:00:00Z", config);
  } catch (const gabe::Problem& p) {
    if (p.status() < 400 || p.status() >= 500) __builtin_trap();
    return 0;
  }
  if (event.reject || event.ignored) return 0;
  if (event.data_json.empty()) __builtin_trap();  // mapped but empty
  try {
    gabe::parse_json(event.data_json);  // our output parses
  } catch (...) {
    __builtin_trap();
  }
  return 0;
}
