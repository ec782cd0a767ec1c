// libFuzzer target: a webhook body through the generic envelope or the CiviCRM adapter, the
// way gabe-ingest reads it. Untrusted input must end as a mapped event, a rejection or a
// Problem (4xx) — never a crash, a sanitizer report or another exception.
#include <cstddef>
#include <cstdint>
#include <string>

#include "canonical_event.hpp"
#include "civicrm_adapter.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const bool civicrm = data[0] & 1;
  std::string body(reinterpret_cast<const char*>(data) + 1, size - 1);
  gabe::ingest::CanonicalEvent event;
  event.source = "fuzz";
  event.event_id = "e";
  event.occurred_at = "2026-11-24T10:00:00Z";
  try {
    auto doc = gabe::parse_json(body);
    if (civicrm) {
      gabe::ingest::map_civicrm_event(event, *doc);
    } else {
      gabe::ingest::map_generic_envelope(event, *doc, event.occurred_at);
    }
  } catch (const gabe::Problem& p) {
    if (p.status() < 400 || p.status() >= 500) __builtin_trap();
    return 0;
  }
  if (event.reject) return 0;
  if (event.data_json.empty()) __builtin_trap();  // mapped but empty
  try {
    gabe::parse_json(event.data_json);  // our output parses
  } catch (...) {
    __builtin_trap();
  }
  return 0;
}
